"""im2col on the GPU: every window of the input copied out as a column.

For a window of kh×kw taps over C channels, output position (p, q) of image n reads

    x[n, c, p·sh + i·dh - top, q·sw + j·dw - left]      (zero outside the image)

for every channel c and tap (i, j). im2col writes these values as a matrix

    columns[c·kh·kw + i·kw + j, n, p·Wo + q]            shape (C·kh·kw, B, Ho·Wo)

so that the convolution is one matrix product, weight (O, C·kh·kw) @ columns
(C·kh·kw, B·Ho·Wo) — cuBLAS's job (see conv.py). Row r = c·kh·kw + i·kw + j is the
order of the weight's (C, kh, kw) axes, so with groups the first C/groups·kh·kw rows
belong to group 0, the next to group 1, …: ``columns.reshape(groups, K, B·Ho·Wo)``
splits them without a copy.

Thread layout: one thread per (c, n, p, q), a grid-stride loop over the C·B·Ho·Wo of
them with q fastest. A thread copies the kh·kw values of its window for its channel.
Consecutive threads of a warp have consecutive q, so each of their writes to
``columns`` (row r, consecutive columns) is one coalesced store, and their reads of x
are consecutive too when the stride is 1 (sw apart otherwise).

``columns`` may be any strided 3-d view indexed (row, n, l): ``unfold`` passes the
transpose of its (B, C·kh·kw, L) result.
"""
from numba import cuda

from .launch import launch


@cuda.jit
def im2col_kernel(x, columns, kh, kw, sh, sw, dh, dw, top, left, wo):
    """columns[c·kh·kw + i·kw + j, n, p·Wo + q] = x[n, c, p·sh + i·dh - top, q·sw + j·dw - left]."""
    batch, channels, height, width = x.shape
    length = columns.shape[2]                       # Ho·Wo
    total = channels * batch * length
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        position = t % length                       # output position p·Wo + q
        n = (t // length) % batch
        c = t // (length * batch)
        p = position // wo
        q = position - p * wo
        row0 = p * sh - top
        col0 = q * sw - left
        r = c * kh * kw                             # first row of channel c
        for i in range(kh):
            row = row0 + i * dh
            inside_rows = row >= 0 and row < height
            for j in range(kw):
                col = col0 + j * dw
                if inside_rows and col >= 0 and col < width:
                    columns[r, n, position] = x[n, c, row, col]
                else:
                    columns[r, n, position] = 0            # padding
                r += 1


def im2col(xp, x, window, columns):
    """Fill ``columns`` (C·kh·kw, B, Ho·Wo) with the windows of x (B, C, H, W); returns it."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, left = window.padding[0], window.padding[2]
    launch(im2col_kernel, xp, columns.shape[0] // (kh * kw) * columns.shape[1] * columns.shape[2],
           x, columns, kh, kw, sh, sw, dh, dw, top, left, window.out_size[1])
    return columns
