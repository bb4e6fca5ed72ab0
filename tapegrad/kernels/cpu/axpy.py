"""y += a·x in one pass over memory (numba): the last line of every optimizer step.

numpy needs two passes and a temporary for it (``t = a * x; y += t``): for a weight of a
million elements that is 12 MB of memory traffic where 8 MB would do. PyTorch's
``param.add_(step, alpha=-lr)`` is this one pass too. ``axpy_parallel`` splits the array
into ranges run at once on several threads (threads.py), for arrays large enough to pay.
"""
from numba import njit, uint64

from .threads import split


@njit(cache=True, nogil=True)
def _axpy_range(start, stop, alpha, x, y):
    for i in range(uint64(start), uint64(stop)):   # unsigned: see optimizer_steps.py
        y[i] += alpha * x[i]


@njit(cache=True, nogil=True)
def axpy(alpha, x, y):
    """y += alpha * x, for C-contiguous x and y of one dtype (flattened), in place."""
    _axpy_range(0, y.size, alpha, x.reshape(-1), y.reshape(-1))


def axpy_parallel(chunks, alpha, x, y):
    """``axpy`` split into ``chunks`` ranges run at once (threads.split)."""
    split(_axpy_range, y.size, chunks, alpha, x.reshape(-1), y.reshape(-1))
