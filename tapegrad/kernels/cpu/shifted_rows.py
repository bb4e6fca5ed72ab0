"""Convolution by row-shifted copies of the image: kw GEMMs per image on a kh-fold copy,
where im2col makes a kh·kw-fold one.

For a stride-1 convolution whose output has the input's size ("same" padding:
top + bottom = kh - 1, left + right = kw - 1), lay the zero-padded image of each channel
out flat, rows of Wp = W + left + right values one after the other. Output (p, q) then
reads, for tap (i, j), the flat position (p + i)·Wp + q + j: with the output laid out
flat too, L = H·Wp positions (the Wp - W last of each row are junk, computed and
dropped), tap (i, j) reads the flat padded image shifted by i·Wp + j. So with

    rows[c, i, :] = the flat padded image of channel c from position i·Wp on   (kh copies)

the columns of tap column j are ``rows[:, :, j:j + L]``, a (C·kh, L) matrix that is
a view (row stride, unit column stride), and

    y_flat = Σ_j W[:, :, :, j] @ rows[:, :, j:j + L]         (O, C·kh) @ (C·kh, L)

kw GEMMs with K = C·kh, summed (with the bias) while y's valid columns are copied out.
The copy is kh-fold (3× for a 3×3 kernel), not im2col's kh·kw-fold (9×), and the GEMMs
read it where it lies.

Only the forward pass runs here. The input gradient of a stride-1 "same" convolution
is the same computation on dy (kernel turned by 180°, channel axes swapped, padding
(kh - 1 - top, …)), and the weight gradient is dW[:, :, :, j]ᵀ = Σ rows[:, :, j:j + L] @
dy_flatᵀ; both were measured slower than im2col's backward (dx 0.96-1.35×, dW
1.09-1.26× the time: K = C·kh is thin for the first, and im2col's backward shares one
copy between both gradients), so the backward stays in conv.py.

Measured (2-core Xeon, AVX-512, numpy's OpenBLAS, 1 thread, CPU time, load 4-5, against
im2col + GEMM): batch 32 on 32×32, 32→32 channels 7.9 against 9.2 ms, 32→64 11.9
against 12.5, 64→32 15.1 against 19.5; batch 64 on 16×16, 32→64, 7.2 against 7.6; on
8×8 and with 3 input channels it lost (1.05×, 1.7×), hence ``suits``.

Work is per image: the copy (C·kh rows of about L values) stays in the cache from the
copy to the GEMMs; the buffers come from ``workspace``. float32 stays float32.
"""
from numba import njit, uint64

from . import batch_split, workspace
from .im2col import compiled

# Below this many channels (in or out) or output positions per image, im2col + GEMM: the
# GEMMs here have K = C·kh and L = H·Wp columns, too thin for small layers.
MIN_CHANNELS = 16
MIN_POSITIONS = 256


def suits(xp, x, window, in_channels, out_channels):
    """True for the convolutions this file computes: numpy float32/float64 arrays, stride 1,
    dilation 1, one group, "same" padding (output size = input size), at least
    MIN_CHANNELS channels each way and MIN_POSITIONS positions per image."""
    (kh, kw), (top, bottom, left, right) = window.kernel, window.padding
    height, width = window.in_size
    return (compiled(xp, x) and x.dtype.kind == "f" and x.dtype.itemsize >= 4
            and window.stride == (1, 1) and window.dilation == (1, 1) and window.groups == 1
            and top + bottom == kh - 1 and left + right == kw - 1
            and min(top, bottom, left, right) >= 0
            and min(in_channels, out_channels) >= MIN_CHANNELS
            and height * width >= MIN_POSITIONS)


def fill_rows(x, n, rows, padded, top, left):
    """rows[c, i, t] = the zero-padded plane x[n, c] read flat from position i·Wp + t: x[n]
    into the interior of ``padded`` (C, Hp + 1, Wp), whose border (and an extra row, for the
    last tap columns' junk) stays 0, then kh contiguous copies of its flat planes."""
    height, width = x.shape[2], x.shape[3]
    padded[:, top:top + height, left:left + width] = x[n]
    kh, length = rows.shape[1], rows.shape[2]
    flat = padded.reshape(padded.shape[0], -1)
    padded_width = padded.shape[2]
    for i in range(kh):
        rows[:, i, :] = flat[:, i * padded_width:i * padded_width + length]


@njit(cache=True, nogil=True)
def sum_taps(products, bias, y, n, padded_width):
    """y[n, o, p, q] = Σ_j products[j, o, p·Wp + q] + bias[o] for the valid q < W: the sum
    and the copy in one pass (numpy's adds and a strided copy took 1.5× as long).
    C-contiguous arrays, read through flat views with unsigned offsets (see im2col.py)."""
    taps, channels, flat = products.shape
    height, width = y.shape[2], y.shape[3]
    source, target = products.reshape(-1), y.reshape(-1)
    step = uint64(channels * flat)   # from one tap's product to the next
    for o in range(channels):
        b = bias[o]
        for p in range(height):
            start = uint64(o * flat + p * padded_width)
            out = uint64(((n * channels + o) * height + p) * width)
            if taps == 3:   # the 3×3 kernel's, written out so that it vectorises
                for q in range(uint64(width)):
                    target[out + q] = (source[start + q] + source[start + step + q]
                                       + source[start + 2 * step + q] + b)
                continue
            for q in range(uint64(width)):
                total = source[start + q]
                for j in range(1, taps):
                    total += source[start + uint64(j) * step + q]
                target[out + q] = total + b


def _padded(xp, channels, window, top, left, dtype, part=0):
    """The reused zero-bordered buffer (C, Hp + 1, Wp) for one image (one per share of the
    batch, ``part``): only its interior is ever written, and that region (its corner and
    size) is part of the workspace key, so the border stays 0."""
    kh = window.kernel[0]
    height, width = window.in_size
    shape = (channels, height + kh, width + window.kernel[1] - 1)
    purpose = ("shifted-rows-padded", top, left, height, width) + ((part,) if part else ())
    return workspace.get(xp, purpose, shape, dtype, fill=0)


def _geometry(window):
    """(Wp, L, length of a row copy): the padded width, the flat output length H·Wp and the
    length each of the kh copies needs (L + kw - 1, so that every tap column is in it)."""
    kw = window.kernel[1]
    padded_width = window.in_size[1] + window.padding[2] + window.padding[3]
    flat = window.in_size[0] * padded_width
    return padded_width, flat, flat + kw - 1


def _tap_columns(xp, rows, kw, flat):
    """The kw matrices rows[:, :, j:j + L] as one (kw, C·kh, L) strided view."""
    matrix = rows.reshape(-1, rows.shape[-1])
    step = matrix.strides[1]
    return xp.as_strided(matrix, (kw, matrix.shape[0], flat), (step,) + matrix.strides)


def forward(xp, x, weight, bias, window, parts=1):
    """y = conv(x, weight) + bias as a fresh (B, O, H, W) array (``suits`` must hold), the
    batch shared between ``parts`` threads (batch_split.py)."""
    padded_width, flat, length = _geometry(window)
    top, left = window.padding[0], window.padding[2]
    taps = _taps(weight)
    batch, channels, height, width = x.shape
    kh, kw = window.kernel
    out_channels = taps.shape[1]
    y = xp.empty((batch, out_channels, height, width), x.dtype)
    buffers = [(batch_split.scratch(xp, "shifted-rows", part, (channels, kh, length), x.dtype),
                _padded(xp, channels, window, top, left, x.dtype, part),
                batch_split.scratch(xp, "shifted-rows-products", part, (kw, out_channels, flat), x.dtype))
               for part in range(parts)]
    bias = xp.zeros(out_channels, x.dtype) if bias is None else xp.ascontiguousarray(bias)

    def share(part, start, stop):
        rows, padded, products = buffers[part]
        columns = _tap_columns(xp, rows, kw, flat)
        for n in range(start, stop):
            fill_rows(x, n, rows, padded, top, left)
            xp.matmul(taps, columns, out=products)
            sum_taps(products, bias, y, n, padded_width)

    batch_split.run(parts, batch, share)
    return y


def _taps(weight):
    """The weight (O, C, kh, kw) as its kw tap columns (kw, O, C·kh), C-contiguous."""
    out_channels = weight.shape[0]
    return weight.transpose(3, 0, 1, 2).reshape(weight.shape[3], out_channels, -1).copy()
