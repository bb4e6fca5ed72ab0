"""relu's forward split between numba's threads, for arrays large enough to pay for it.

On one thread numpy's ``maximum(0, x)`` is the forward (one vectorised pass). This loop is
the same rule, out = 0 where x < 0, else x, so -0.0 stays -0.0 and a NaN passes, as in
numpy and PyTorch, run on every thread (see threads.py for the sizes that pay).
"""
from numba import njit, uint64

from .threads import split


@njit(cache=True, nogil=True)
def _relu_range(start, stop, x, out):
    for i in range(uint64(start), uint64(stop)):   # unsigned: see optimizer_steps.py
        out[i] = 0 if x[i] < 0 else x[i]


def relu_split(chunks, x, out):
    """out = max(x, 0) for C-contiguous x and out of one shape, in ``chunks`` ranges run at
    once (threads.split)."""
    split(_relu_range, out.size, chunks, x.reshape(-1), out.reshape(-1))
