"""Adding slices of an array into another at given positions along one axis (numba).

``out[a, index[o], b] += src[a, o, b]``: the backward of picking slices by index
(``take``), used by padding (reflect, replicate, circular), nearest and bilinear
interpolation and adaptive pooling. An index may repeat (several outputs read the
same input), so the additions accumulate.
"""
from numba import njit


@njit(cache=True, nogil=True)
def index_add(out, index, src):
    """out (A, n_in, B) += src (A, n_out, B) scattered along the middle axis by index (n_out,)."""
    outer, length, inner = src.shape
    for a in range(outer):
        for o in range(length):
            target = index[o]
            for b in range(inner):
                out[a, target, b] += src[a, o, b]
    return out


def add_at(xp, out, axis, index, src):
    """``out[..., index[o], ...] += src[..., o, ...]`` along ``axis``, in place; returns out."""
    n_in, n_out = out.shape[axis], src.shape[axis]
    outer = 1
    for size in out.shape[:axis]:
        outer *= size
    inner = 1
    for size in out.shape[axis + 1:]:
        inner *= size
    out3 = out.reshape(outer, n_in, inner)
    src3 = src.reshape(outer, n_out, inner)
    if not xp.numba_cpu:
        from ..generic import index_add as portable
        portable(xp, out3, index, src3)
    else:
        index_add(out3, index, xp.ascontiguousarray(src3))
    return out
