"""col2im: add every column back onto the image positions its window read (numba).

This is the adjoint of im2col: im2col copies each input value into every column whose
window covers it, so the gradient of an input value is the sum of the gradients of
all those copies. It is the input gradient of a convolution (after the matmul
``weightᵀ @ grad_columns``), the backward of ``unfold`` and the forward of ``fold``.

numpy has no vectorised "add these values at these overlapping positions" that is not
a Python loop over the kh·kw window taps, so this is a compiled loop. It runs image by
image and channel by channel, so the image plane being added to stays in the cache,
and its innermost loop walks a contiguous run of the columns:

* ``col2im_flat`` (stride 1, the "flat" layout of im2col.py): each (c, i, j, n) plane
  of the columns is one run of (Ho - 1)·Wp + Wo values added to the padded image at a
  shift of i·dh·Wp + j·dw; the junk positions hold zeros, so they add nothing;
* ``col2im_rows`` (any stride): one output row at a time, skipping the positions that
  fall in the padding (their range is computed, not tested per element).
"""
from numba import njit


@njit(cache=True, nogil=True)
def col2im_flat(columns, image, merged, length, width, dilation_h, dilation_w):
    """image[n, c, t + i·dh·Wp + j·dw] += columns[c, i, j, n, t] (merged) or [n, c, i, j, t]
    for t < length.

    ``columns`` is C-contiguous (…, Ho·Wp); ``image`` is the padded image (B, C, Hp·Wp),
    flattened per plane; ``width`` is Wp.
    """
    if merged:
        channels, kh, kw, batch = columns.shape[:4]
    else:
        batch, channels, kh, kw = columns.shape[:4]
    for n in range(batch):
        for c in range(channels):
            plane = image[n, c]
            for i in range(kh):
                for j in range(kw):
                    source = columns[c, i, j, n] if merged else columns[n, c, i, j]
                    shift = i * dilation_h * width + j * dilation_w
                    target = plane[shift:shift + length]
                    for t in range(length):   # (written so, the compiler vectorises it: 2x)
                        target[t] = target[t] + source[t]
    return image


@njit(cache=True, nogil=True)
def col2im_rows(columns, out, stride_h, stride_w, dilation_h, dilation_w, top, left):
    """out[n, c, p·sh + i·dh - top, q·sw + j·dw - left] += columns[c, i, j, n, p, q].

    ``columns`` is any (strided) view indexed (c, i, j, n, p, q); ``out`` is (B, C, H, W).
    """
    channels, kh, kw, batch, ho, wo = columns.shape
    height, width = out.shape[2], out.shape[3]
    for n in range(batch):
        for c in range(channels):
            for i in range(kh):
                for p in range(ho):
                    row = p * stride_h + i * dilation_h - top
                    if row < 0 or row >= height:
                        continue
                    line = out[n, c, row]
                    for j in range(kw):
                        source = columns[c, i, j, n, p]
                        shift = j * dilation_w - left
                        # the q with 0 <= q·sw + shift < width
                        q_start = 0 if shift >= 0 else (stride_w - 1 - shift) // stride_w
                        q_stop = min(wo, (width - 1 - shift) // stride_w + 1)
                        if q_stop <= q_start:
                            continue
                        target = line[q_start * stride_w + shift:
                                      (q_stop - 1) * stride_w + shift + 1:stride_w]
                        for t in range(q_stop - q_start):
                            target[t] = target[t] + source[q_start + t]
    return out


def col2im(xp, columns, out, window):
    """Add ``columns`` (indexed c, i, j, n, p, q) into ``out`` (B, C, H, W) for ``window``."""
    (sh, sw), (dh, dw) = window.stride, window.dilation
    top, left = window.padding[0], window.padding[2]
    if not xp.numba_cpu:
        from ..generic import col2im_add as portable
        return portable(xp, columns, out, window)
    return col2im_rows(columns, out, sh, sw, dh, dw, top, left)


def fold(xp, columns, window):
    """col2im of unfold's layout: (B, C·kh·kw, Ho·Wo) -> a fresh (B, C, H, W)."""
    batch = columns.shape[0]
    channels = columns.shape[1] // window.taps
    ho, wo = window.out_size
    view = columns.reshape((batch, channels) + tuple(window.kernel) + (ho, wo))
    out = xp.zeros((batch, channels) + tuple(window.in_size), columns.dtype)
    return col2im(xp, view.transpose(1, 2, 3, 0, 4, 5), out, window)
