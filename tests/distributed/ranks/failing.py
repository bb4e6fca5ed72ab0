"""Rank 1 raises while the others wait in a collective: the launcher must end them all."""
import tapegrad.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == 1:
    raise ValueError("rank 1 found a broken batch")
dist.barrier()   # the others would wait here forever
print("the barrier returned, which it must not", flush=True)
