"""im2col: every window of an image laid out as a column, so a convolution is one matmul.

For a window of kh×kw taps over C channels, column (n, p, q) holds the C·kh·kw input
values that output position (p, q) of image n reads. With the weight as a matrix
(out_channels, C·kh·kw), the convolution is ``weight_matrix @ columns``.

The columns of n images come in two layouts, both with rows in the weight's (C, kh, kw)
order (so the weight is used as it is stored):

* "merged", (C, kh, kw, n, Ho, Wo): one matrix (C·kh·kw, n·Ho·Wo) for all n images, one
  GEMM for them (small images);
* "batched", (n, C, kh, kw, Ho, Wo): a matrix (C·kh·kw, Ho·Wo) per image, whose product
  with the weight is that image's (O, Ho·Wo) block of y, in y's own layout.

For one image the two are the same array.

Two ways to fill them, the same values:

* on the cpu, a numba loop (``_fill_plane``) that reads x directly: one output row of
  one tap at a time, a contiguous copy for stride 1, with the parts that fall into the
  padding written as zeros (so there is no padded copy of x); when the rows of x and of
  the columns have the same length (stride 1, "same" padding) a tap is one long run;
* elsewhere (cupy, and dtypes numba cannot compile such as float16), ``windows`` builds
  the columns as a *strided view* of the padded image (``as_strided``: the same memory
  read with a stride per index) and one ``copyto`` materialises it.

The loop can be split between threads over (channel, image) pairs (``PARALLEL_MIN_BYTES``,
threads.py).
"""
import numba
from numba import njit, uint64

from . import workspace
from .threads import split

# From this many bytes of columns on, im2col and col2im_into run split between threads
# (threads.split). The split loops scale (best of 45 calls at load 9, 36 MiB of columns:
# the fill 3.0 → 1.8 ms, the sum 3.1 → 1.6 ms). Run on numba's OpenMP threads they lost
# inside steps (a 32→32 layer's forward and backward on 32×32, batch 32, at load 11:
# 8.4× the one-thread time; the ResNet step, the elementwise passes split too, 2.39× at
# load 4), OpenMP's worker and OpenBLAS's spin-waiting on the core the other needed; on
# threads.py's sleeping pool the ResNet step took 0.85–0.87× the serial kernels' time on
# a busy machine (load 4.5–9), but on the quiet one (load 1.1–1.5, benchmarks/
# split_threads.py, 9 rounds) 1.07× ResNet's and 1.00× the CIFAR CNN's: the second core
# is OpenBLAS's during the products, and idle copies gain nothing there. So splitting is
# off by default; set this (1 << 20 is hundreds of µs of copying, far above the 8–13 µs a
# split call costs) where split_threads.py shows it pays.
PARALLEL_MIN_BYTES = 1 << 62


def compiled(xp, array):
    """True where the numba loops run: host numpy arrays of a dtype numba compiles (not
    float16)."""
    return xp.numba_cpu and array.dtype.char != "e"


def threads_for(columns_bytes):
    """How many of numba's threads a loop over columns of this size should use."""
    if columns_bytes < PARALLEL_MIN_BYTES:
        return 1
    return numba.get_num_threads()


def strided_view(xp, array, shape, strides):
    """``array``'s memory read with these shape and strides (``as_strided``), never written
    through (read-only where the backend can mark it so)."""
    return xp.as_strided(array, shape, strides)


def padded(xp, x, window, fill=0.0):
    """``x`` (B, C, H, W) with ``window.padding`` around it, in a reused workspace whose
    border keeps ``fill`` (only the interior is ever written). Without padding, x itself."""
    top, bottom, left, right = window.padding
    if not (top or bottom or left or right):
        return x
    batch, channels, height, width = x.shape
    hp, wp = window.padded_size
    out = workspace.get(xp, ("padded", window.padding, fill), (batch, channels, hp, wp),
                        x.dtype, fill=fill)
    out[:, :, top:top + height, left:left + width] = x
    return out


def windows(xp, image, window, layout="merged"):
    """The columns as a strided view of the padded image (B, C, Hp, Wp), no copy: (C, kh, kw,
    B, Ho, Wo) for the "merged" layout, (B, C, kh, kw, Ho, Wo) for "batched"."""
    batch, channels = image.shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    sn, sc, sy, sx = image.strides
    if layout == "merged":
        return strided_view(xp, image, (channels, kh, kw, batch, ho, wo),
                            (sc, dh * sy, dw * sx, sn, sh * sy, sw * sx))
    return strided_view(xp, image, (batch, channels, kh, kw, ho, wo),
                        (sn, sc, dh * sy, dw * sx, sh * sy, sw * sx))


def columns_shape(x_shape, window, layout="merged"):
    """The shape of the columns of images of ``x_shape``: (C, kh, kw, B, Ho, Wo) ("merged",
    one matrix for the whole batch) or (B, C, kh, kw, Ho, Wo) ("batched", one per image)."""
    batch, channels = x_shape[:2]
    if layout == "merged":
        return (channels,) + tuple(window.kernel) + (batch,) + tuple(window.out_size)
    return (batch, channels) + tuple(window.kernel) + tuple(window.out_size)


def valid_range(shift, stride, size, count):
    """The q in [0, count) with 0 <= q·stride + shift < size, as (start, stop)."""
    start = 0 if shift >= 0 else min(count, (stride - 1 - shift) // stride)
    stop = min(count, (size - 1 - shift) // stride + 1) if size - 1 - shift >= 0 else 0
    return start, max(start, stop)


valid_range_compiled = njit(cache=True, nogil=True, inline="always")(valid_range)


# The loops below index flat (1-d) views of C-contiguous arrays with offsets they compute
# themselves, and run their innermost loops on unsigned integers: numba wraps negative
# indices around (a test per element), which keeps the compiler from vectorising the
# loop; with unsigned indices there is nothing to test (measured: copies of 32-value rows
# 2.9× faster). A view per row (columns[c, i, j, n, p]) would cost more than copying it.

@njit(cache=True, nogil=True, inline="always")
def copy_run(target, start, source, source_start, length):
    """target[start:start + length] = source[source_start:…] (both starts >= 0)."""
    t, s = uint64(start), uint64(source_start)
    for k in range(uint64(length)):
        target[t + k] = source[s + k]


@njit(cache=True, nogil=True, inline="always")
def copy_strided(target, start, source, source_start, length, step):
    """target[start + k] = source[source_start + k·step] for k < length."""
    t, s, step = uint64(start), uint64(source_start), uint64(step)
    for k in range(uint64(length)):
        target[t + k] = source[s + k * step]


@njit(cache=True, nogil=True, inline="always")
def zero_run(target, start, length):
    t = uint64(start)
    for k in range(uint64(length)):
        target[t + k] = 0


@njit(cache=True, nogil=True, inline="always")
def zero_columns(target, start, first, last, wo, valid_start, valid_stop):
    """target[start + p·Wo + q] = 0 for the rows first <= p < last and the q outside
    [valid_start, valid_stop): a column at a time (at most a few), so that the compiler does
    not turn each row's one or two values into a call to memset."""
    for q in range(valid_start):
        for p in range(first, last):
            target[start + p * wo + q] = 0
    for q in range(valid_stop, wo):
        for p in range(first, last):
            target[start + p * wo + q] = 0


@njit(cache=True, nogil=True, inline="always")
def _fill_tap_as_one_run(x, columns, image, out, row_shift, shift, start, stop, height, ho, wo):
    """One tap's (Ho, Wo) plane when rows of x and of the plane have the same length (stride 1,
    Wo = W, as with "same" padding): output (p, q) reads x's value at plane position
    p·W + q + row_shift·W + shift, so the valid rows are one contiguous run of x copied at
    a shift; then the values that wrapped around a row's edge, q outside [start, stop),
    become the padding's zeros."""
    first = min(ho, max(0, -row_shift))            # the rows p whose row p + row_shift
    last = max(first, min(ho, height - row_shift))  # of x exists
    zero_run(columns, out, first * wo)
    zero_run(columns, out + last * wo, (ho - last) * wo)
    if stop <= start:
        zero_run(columns, out + first * wo, (last - first) * wo)
        return
    begin = first * wo + start
    copy_run(columns, out + begin, x, image + begin + row_shift * wo + shift,
             (last - first - 1) * wo + stop - start)
    zero_columns(columns, out, first, last, wo, start, stop)


@njit(cache=True, nogil=True, inline="always")
def _fill_plane(x, columns, shape, c, n, stride_h, stride_w, dilation_h, dilation_w, top, left):
    """columns[c, i, j, n, p, q] = x[n, c, p·sh + i·dh - top, q·sw + j·dw - left] for every
    tap (i, j), 0 where that falls into the padding; ``shape`` is (B, C, H, W, kh, kw, Ho, Wo,
    merged), merged 1 for the "merged" layout of the columns, 0 for "batched"."""
    batch, channels, height, width, kh, kw, ho, wo, merged = shape
    image = (n * channels + c) * height * width
    runs = stride_h == 1 and stride_w == 1 and wo == width
    for i in range(kh):
        for j in range(kw):
            shift = j * dilation_w - left
            start, stop = valid_range_compiled(shift, stride_w, width, wo)
            out = ((((c * kh + i) * kw + j) * batch + n) if merged
                   else (((n * channels + c) * kh + i) * kw + j)) * ho * wo
            if runs:
                _fill_tap_as_one_run(x, columns, image, out, i * dilation_h - top, shift,
                                     start, stop, height, ho, wo)
                continue
            for p in range(ho):
                row = p * stride_h + i * dilation_h - top
                if row < 0 or row >= height:
                    zero_run(columns, out, wo)
                else:
                    zero_run(columns, out, start)
                    line = image + row * width + shift
                    if stride_w == 1:
                        copy_run(columns, out + start, x, line + start, stop - start)
                    else:
                        copy_strided(columns, out + start, x, line + start * stride_w,
                                     stop - start, stride_w)
                    zero_run(columns, out + stop, wo - stop)
                out += wo


@njit(cache=True, nogil=True)
def _fill_serial(x, columns, shape, sh, sw, dh, dw, top, left):
    for c in range(shape[1]):
        for n in range(shape[0]):
            _fill_plane(x, columns, shape, c, n, sh, sw, dh, dw, top, left)


@njit(cache=True, nogil=True)
def _fill_planes(first, stop, x, columns, shape, sh, sw, dh, dw, top, left):
    batch = shape[0]
    for index in range(first, stop):   # plane index = channel·batch + image
        _fill_plane(x, columns, shape, index // batch, index % batch, sh, sw, dh, dw, top, left)


def im2col(xp, x, window, out, layout="merged"):
    """Fill ``out`` (of ``columns_shape(x.shape, window, layout)``, C-contiguous) with the
    windows of ``x`` (B, C, H, W); returns out."""
    if compiled(xp, x):
        (sh, sw), (dh, dw) = window.stride, window.dilation
        shape = (tuple(x.shape) + tuple(window.kernel) + tuple(window.out_size)
                 + (int(layout == "merged"),))
        arguments = (xp.ascontiguousarray(x).reshape(-1), out.reshape(-1), shape, sh, sw, dh, dw,
                     window.padding[0], window.padding[2])
        parts = threads_for(out.nbytes)
        if parts > 1:
            split(_fill_planes, shape[0] * shape[1], parts, *arguments)
        else:
            _fill_serial(*arguments)
        return out
    xp.copyto(out, windows(xp, padded(xp, x, window), window, layout))
    return out


def unfold(xp, x, window):
    """PyTorch's ``unfold``: a fresh (B, C·kh·kw, Ho·Wo) array of the windows of x."""
    image = padded(xp, x, window)
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    sn, sc, sy, sx = image.strides
    view = strided_view(xp, image, image.shape[:2] + (kh, kw, ho, wo),
                        (sn, sc, dh * sy, dw * sx, sh * sy, sw * sx))
    batch, channels = x.shape[:2]
    # A copy always: the view may share memory with x or with the padding workspace.
    return view.copy().reshape(batch, channels * kh * kw, ho * wo)
