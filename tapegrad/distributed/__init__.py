"""``tapegrad.distributed``: several processes training one model, with PyTorch's
``torch.distributed`` names, on the engines clusters already run: MPI for cpu tensors
(through mpi4py) and NVIDIA's NCCL for cuda tensors (through cupy).

    # python -m tapegrad.distributed.run --nproc-per-node 2 train.py
    import tapegrad.distributed as dist
    dist.init_process_group("mpi")             # "gloo" works too; "nccl" for cuda tensors
    x = tg.tensor([float(dist.get_rank())])
    dist.all_reduce(x)                          # now 0 + 1 on both processes

Where to read: ``process_group.py`` (who takes part, the backend), ``collectives.py`` (the
calls and their checks), ``mpi_backend.py`` and ``nccl_backend.py`` (how each engine does
them), ``work.py`` (async handles), ``run.py`` (the launcher) and ``nn.py`` (a
differentiable all_reduce, for SyncBatchNorm). ``tapegrad.nn.parallel`` has
DistributedDataParallel and ``tapegrad.data.distributed`` the DistributedSampler.
Importing this package loads neither mpi4py nor cupy; ``init_process_group`` does.
"""
from . import nn
from .collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce,
                          barrier, broadcast, broadcast_object_list, gather, reduce,
                          reduce_scatter, reduce_scatter_tensor, scatter)
from .process_group import (Backend, GroupMember, destroy_process_group, get_backend, get_rank,
                            get_world_size, init_process_group, is_available, is_gloo_available,
                            is_initialized, is_mpi_available, is_nccl_available,
                            is_torchelastic_launched)
from .reduce_op import ReduceOp
from .work import Work

group = GroupMember

__all__ = ["Backend", "GroupMember", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
           "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "get_backend", "get_rank", "get_world_size",
           "group", "init_process_group", "is_available", "is_gloo_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "is_torchelastic_launched", "nn", "reduce",
           "reduce_scatter", "reduce_scatter_tensor", "scatter"]
