"""``tapegrad.multiprocessing``: the standard library's ``multiprocessing``, tensor-aware.

As ``torch.multiprocessing`` does, this module gives the standard library's names
(``Process``, ``Queue``, ``set_start_method``, ``get_context`` …) and teaches its pickler to
send tensors: a tensor in shared memory (``tensor.share_memory_()``,
``module.share_memory()``) reaches another process as a handle to the same memory, so that
several processes can train one model at once ("hogwild"):

    model.share_memory()
    workers = [mp.Process(target=train, args=(model,)) for _ in range(4)]

``spawn(fn, args, nprocs)`` starts ``nprocs`` processes running ``fn(i, *args)`` and raises a
child's error in the parent.
"""
import multiprocessing as _multiprocessing
from multiprocessing import *  # noqa: F403  (the standard library's names, as in torch.multiprocessing)

from .reductions import init_reductions
from .spawn import (
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    spawn,
    start_processes,
)

init_reductions()

__all__ = list(_multiprocessing.__all__) + [
    "spawn", "start_processes", "ProcessContext", "ProcessException", "ProcessRaisedException",
    "ProcessExitedException", "get_all_sharing_strategies", "get_sharing_strategy",
    "set_sharing_strategy"]


def get_all_sharing_strategies():
    """The ways tensors can be shared; tapegrad has one: named shared-memory segments."""
    return {"file_system"}


def get_sharing_strategy():
    return "file_system"


def set_sharing_strategy(new_strategy):
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"set_sharing_strategy: unknown strategy {new_strategy!r}; tapegrad "
                         f"shares tensors through named shared-memory segments ('file_system')")
