"""Every rank reports, then sleeps: the test stops the launcher with SIGTERM."""
import os
import sys
import time

import tapegrad.distributed as dist

dist.init_process_group("mpi")
sys.stdout.write(f"rank {dist.get_rank()} pid {os.getpid()} env {os.environ['RANK']} "
                 f"{os.environ['WORLD_SIZE']} {os.environ['LOCAL_RANK']}\n")   # one write:
sys.stdout.flush()                                                  # lines do not interleave
time.sleep(120)
