"""col2im on the GPU: the adjoint of im2col, written as a gather (no atomics).

im2col copies input value x[n, c, h, w] into every column whose window covers it;
col2im adds those copies back:

    out[n, c, h, w] = Σ over taps (i, j) with
                        h + top  - i·dh = p·sh  for some 0 ≤ p < Ho   (an exact multiple)
                        w + left - j·dw = q·sw  for some 0 ≤ q < Wo
                      of columns[c·kh·kw + i·kw + j, n, p·Wo + q]

It is the input gradient of a convolution (after the product weightᵀ @ dy, see
conv.py) and the forward of ``fold``.

Two ways to write it on a GPU: *scatter* (one thread per column entry, adding into the
image with atomic additions, since windows overlap) or *gather* (one thread per image
position, summing the entries that came from it). This is the gather: every output
is written once by one thread, with no atomics, and the sum is deterministic (the
same order every run), which a scatter with atomics is not.

Thread layout: one thread per (n, c, h, w), a grid-stride loop with w fastest, so a
warp writes 32 consecutive values of ``out`` (coalesced). A thread visits the kh·kw
taps; tap i reaches a row only when h + top - i·dh is a non-negative multiple of sh
below Ho·sh (once it is negative it stays negative for larger i: the loop stops).
The sum starts at ``zero``, a 0 of the array's dtype, so float32 sums stay float32.
Integer division is slow on a GPU (tens of instructions for 64-bit integers), so the
common stride 1 skips it: the branch is the same for every thread, so it costs nothing.
"""
from numba import cuda

from .launch import launch


@cuda.jit
def col2im_kernel(columns, out, kh, kw, sh, sw, dh, dw, top, left, ho, wo, zero):
    """out[n, c, h, w] = Σ_{i, j} columns[c·kh·kw + i·kw + j, n, p·Wo + q] over the windows
    (p, q) whose tap (i, j) reads (h, w)."""
    batch, channels, height, width = out.shape
    total = batch * channels * height * width
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        w = t % width
        h = (t // width) % height
        c = (t // (width * height)) % channels
        n = t // (width * height * channels)
        acc = zero
        for i in range(kh):
            hp = h + top - i * dh                   # = p·sh if tap i of row p reads h
            if hp < 0:
                break
            if sh == 1:                             # (no division: the common case)
                p = hp
            elif hp % sh == 0:
                p = hp // sh
            else:
                continue
            if p >= ho:
                continue
            for j in range(kw):
                wp = w + left - j * dw
                if wp < 0:
                    break
                if sw == 1:
                    q = wp
                elif wp % sw == 0:
                    q = wp // sw
                else:
                    continue
                if q >= wo:
                    continue
                acc += columns[c * kh * kw + i * kw + j, n, p * wo + q]
        out[n, c, h, w] = acc


def col2im(xp, columns, out, window):
    """Write into ``out`` (B, C, H, W) the sums of ``columns`` (C·kh·kw, B, Ho·Wo); returns out."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, left = window.padding[0], window.padding[2]
    ho, wo = window.out_size
    launch(col2im_kernel, xp, out.size, columns, out, kh, kw, sh, sw, dh, dw, top, left, ho, wo,
           out.dtype.type(0))
    return out
