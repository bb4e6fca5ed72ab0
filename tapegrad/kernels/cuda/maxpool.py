"""Max pooling on the GPU: the max of each window and where it was, and the backward.

Forward, for output (n, c, p, q), over the taps (i, j) whose position

    row = p·sh + i·dh - top,   col = q·sw + j·dw - left

lies inside the image (padding never wins):

    out[n, c, p, q]     = max x[n, c, row, col]
    indices[n, c, p, q] = row·W + col of that maximum (the flat position in the plane)

Ties and NaN follow PyTorch (and ``kernels/cpu/maxpool.py``): a value replaces the
running maximum if it is strictly greater or is NaN, so the first of equal maxima wins
and a NaN wins (the last NaN, if there are several). The running maximum starts at the
window's first inside value (not -inf), so integer images work too.

Thread layout: one thread per output (n, c, p, q), a grid-stride loop with q fastest,
so a warp writes consecutive outputs. The taps inside the image are computed as
ranges (i_start ≤ i < i_stop), not tested one by one.

Backward: every output's gradient goes to the one input position it took. Windows
that overlap (stride < kernel) can take the same position, so the additions must not
overwrite each other: one thread per output gradient adds it with ``cuda.atomic.add``.
(The backward is only given the indices, not the window, so it cannot gather; and with
atomics, the order of the additions to one position, and so the last bits of a sum of
several, can differ from run to run.)
"""
import math

from numba import cuda

from .launch import launch


@cuda.jit
def max_pool_kernel(x, out, indices, store_index, kh, kw, sh, sw, dh, dw, top, left):
    """out[n, c, p, q] = max of the window at (p, q); indices[...] = its flat position."""
    batch, channels, height, width = x.shape
    ho, wo = out.shape[2], out.shape[3]
    total = batch * channels * ho * wo
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        q = t % wo
        p = (t // wo) % ho
        c = (t // (wo * ho)) % channels
        n = t // (wo * ho * channels)
        row0 = p * sh - top
        col0 = q * sw - left
        # the taps i with 0 <= row0 + i·dh < height (and the same for j)
        i_start = 0 if row0 >= 0 else (dh - 1 - row0) // dh
        i_stop = min(kh, (height - 1 - row0) // dh + 1)
        j_start = 0 if col0 >= 0 else (dw - 1 - col0) // dw
        j_stop = min(kw, (width - 1 - col0) // dw + 1)
        if i_start >= i_stop or j_start >= j_stop:   # padding alone: -inf, nowhere to go
            out[n, c, p, q] = -math.inf
            if store_index:
                indices[n, c, p, q] = -1
            continue
        row = row0 + i_start * dh
        col = col0 + j_start * dw
        best = x[n, c, row, col]
        where = row * width + col
        for i in range(i_start, i_stop):
            row = row0 + i * dh
            for j in range(j_start, j_stop):
                col = col0 + j * dw
                value = x[n, c, row, col]
                if value > best or value != value:   # greater, or NaN
                    best = value
                    where = row * width + col
        out[n, c, p, q] = best
        if store_index:
            indices[n, c, p, q] = where


@cuda.jit
def max_unpool_add_kernel(grad, indices, out):
    """out[n, c, indices[n, c, k]] += grad[n, c, k]; grad, indices (B, C, L), out (B, C, H·W)."""
    batch, channels, length = grad.shape
    total = batch * channels * length
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        k = t % length
        c = (t // length) % channels
        n = t // (length * channels)
        index = indices[n, c, k]
        if index >= 0:   # -1: a window of padding alone
            cuda.atomic.add(out, (n, c, index), grad[n, c, k])


def _pool(xp, x, window, out, indices, store_index):
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, left = window.padding[0], window.padding[2]
    launch(max_pool_kernel, xp, out.size, x, out, indices, store_index, kh, kw, sh, sw, dh, dw,
           top, left)


def max_pool(xp, x, window, index_dtype="int64"):
    """(values, indices) of the max over each window of x (B, C, H, W); fresh arrays."""
    shape = x.shape[:2] + tuple(window.out_size)
    out = xp.empty(shape, x.dtype)
    indices = xp.empty(shape, index_dtype)
    _pool(xp, x, window, out, indices, True)
    return out, indices


def max_values(xp, x, window):
    """Only the max of each window (the kernel skips storing positions)."""
    out = xp.empty(x.shape[:2] + tuple(window.out_size), x.dtype)
    unused = xp.empty((1, 1, 1, 1), "int32")
    _pool(xp, x, window, out, unused, False)
    return out


def max_unpool_add(xp, grad, indices, in_size):
    """A fresh (B, C, H, W) array of zeros with grad[n, c, p, q] added at indices[n, c, p, q]."""
    batch, channels = grad.shape[:2]
    out = xp.zeros((batch, channels, in_size[0] * in_size[1]), grad.dtype)
    length = grad.shape[2] * grad.shape[3]
    launch(max_unpool_add_kernel, xp, batch * channels * length,
           grad.reshape(batch, channels, length), indices.reshape(batch, channels, length), out)
    return out.reshape(batch, channels, in_size[0], in_size[1])
