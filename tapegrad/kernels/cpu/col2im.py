"""col2im: add every column back onto the image positions its window read (numba).

This is the adjoint of im2col: im2col copies each input value into every column whose
window covers it, so the gradient of an input value is the sum of the gradients of
all those copies. It is the input gradient of a convolution (after the matmul
``weightᵀ @ grad_columns``), the backward of ``unfold`` and the forward of ``fold``.

numpy has no vectorised "add these values at these overlapping positions" that is not
a Python loop over the kh·kw window taps, so this is a compiled loop:

* ``col2im_into`` (the convolution's input gradient): columns laid out as im2col.py's
  (C, kh, kw, n, Ho, Wo), C-contiguous. It runs image by image and channel by channel,
  so the (H, W) plane being summed into stays in the cache: the plane is zeroed, then
  each tap adds its output rows at their place, skipping the positions that fall in
  the padding (their range is computed, not tested per element). When rows of the
  plane and of the columns have the same length (stride 1, "same" padding) a tap is
  one long run, as in im2col. It writes every value of dx, so dx needs no zeroing;
* ``col2im_rows`` (any strided view of the columns, used by ``fold``): one output row
  at a time, added into the image.
"""
from numba import njit, uint64

from .im2col import compiled, threads_for, valid_range_compiled, zero_columns, zero_run
from .threads import split


@njit(cache=True, nogil=True, inline="always")
def add_run(target, start, source, source_start, length, step):
    """target[start + k·step] += source[source_start + k] for k < length (unsigned indices:
    see im2col.py)."""
    t, s, step = uint64(start), uint64(source_start), uint64(step)
    if step == 1:
        for k in range(uint64(length)):
            target[t + k] += source[s + k]
    else:
        for k in range(uint64(length)):
            target[t + k * step] += source[s + k]


@njit(cache=True, nogil=True, inline="always")
def _add_tap_as_one_run(columns, image, plane, source, row_shift, shift, start, stop, height, ho,
                        wo):
    """The adjoint of im2col's _fill_tap_as_one_run: the values at q outside [start, stop) of
    each valid row are set to zero in ``columns`` (they belong to no position of x), then
    the valid rows are added onto the plane as one run."""
    first = min(ho, max(0, -row_shift))
    last = max(first, min(ho, height - row_shift))
    if stop <= start:
        return
    zero_columns(columns, source, first, last, wo, start, stop)
    begin = first * wo + start
    add_run(image, plane + begin + row_shift * wo + shift, columns, source + begin,
            (last - first - 1) * wo + stop - start, 1)


@njit(cache=True, nogil=True, inline="always")
def _sum_plane(columns, image, shape, c, n, stride_h, stride_w, dilation_h, dilation_w, top, left):
    """image[n, c] = the sum, over the taps (i, j) and outputs (p, q) whose window reads each
    position, of columns[c, i, j, n, p, q]: the plane is zeroed, then each output row of each
    tap is added at its place, the padding left out. Flat arrays (see im2col.py); ``shape``
    is (B, C, H, W, kh, kw, Ho, Wo, merged)."""
    batch, channels, height, width, kh, kw, ho, wo, merged = shape
    plane = (n * channels + c) * height * width
    zero_run(image, plane, height * width)
    runs = stride_h == 1 and stride_w == 1 and wo == width
    for i in range(kh):
        for j in range(kw):
            shift = j * dilation_w - left
            start, stop = valid_range_compiled(shift, stride_w, width, wo)
            source = ((((c * kh + i) * kw + j) * batch + n) if merged
                      else (((n * channels + c) * kh + i) * kw + j)) * ho * wo
            if runs:
                _add_tap_as_one_run(columns, image, plane, source, i * dilation_h - top, shift,
                                    start, stop, height, ho, wo)
                continue
            for p in range(ho):
                row = p * stride_h + i * dilation_h - top
                if 0 <= row < height:
                    add_run(image, plane + row * width + start * stride_w + shift, columns,
                            source + start, stop - start, stride_w)
                source += wo


@njit(cache=True, nogil=True)
def _sum_serial(columns, image, shape, sh, sw, dh, dw, top, left):
    for n in range(shape[0]):
        for c in range(shape[1]):
            _sum_plane(columns, image, shape, c, n, sh, sw, dh, dw, top, left)


@njit(cache=True, nogil=True)
def _sum_planes(first, stop, columns, image, shape, sh, sw, dh, dw, top, left):
    channels = shape[1]
    for index in range(first, stop):   # plane index = image·channels + channel
        _sum_plane(columns, image, shape, index % channels, index // channels, sh, sw, dh, dw,
                   top, left)


def col2im_into(xp, columns, out, window, layout="merged"):
    """out = col2im(columns): ``columns`` C-contiguous in im2col's ``layout``, (C, kh, kw, B,
    Ho, Wo) or (B, C, kh, kw, Ho, Wo), and used as scratch (some of its values are zeroed);
    every value of ``out`` (B, C, H, W) is written (its old contents do not matter)."""
    if compiled(xp, columns):
        (sh, sw), (dh, dw) = window.stride, window.dilation
        shape = (tuple(out.shape) + tuple(window.kernel) + tuple(window.out_size)
                 + (int(layout == "merged"),))
        arguments = (columns.reshape(-1), out.reshape(-1), shape, sh, sw, dh, dw,
                     window.padding[0], window.padding[2])
        parts = threads_for(columns.nbytes)
        if parts > 1:
            split(_sum_planes, shape[0] * shape[1], parts, *arguments)
        else:
            _sum_serial(*arguments)
        return out
    out[...] = 0
    if layout == "batched":
        columns = columns.transpose(1, 2, 3, 0, 4, 5)
    return col2im(xp, columns, out, window)


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
    if not compiled(xp, columns):
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
