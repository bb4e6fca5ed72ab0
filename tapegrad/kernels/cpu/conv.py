"""Convolution as matrix products: one GEMM for the output, one for each gradient.

With the input's windows as columns (im2col, shape (C·kh·kw, B·Ho·Wo)) and the weight
as a matrix (O, C·kh·kw):

    forward           y       = W  @ columns                  (O, B·Ho·Wo)
    input gradient    dcolumns = Wᵀ @ dy,  then dx = col2im(dcolumns)
    weight gradient   dWᵀ     = columns @ dyᵀ                  (C·kh·kw, O), transposed
                                                              into the weight's (O, C, kh, kw)

With groups, channels split into ``groups`` independent convolutions: the matrices get
a leading group axis and each product is one batched ``matmul``.

Memory. The columns are kh·kw times the input (9× for a 3×3 kernel), so they are never
made for the whole batch at once: every pass walks the batch in chunks of images whose
columns fit in ``COLUMN_BYTES``, in one scratch buffer shared by all convolutions.
Nothing is kept from the forward pass to the backward: the backward runs im2col again
(a copy, cheap next to the GEMMs), so a layer holds its input only, as PyTorch's does.
A backward that needs both gradients (``backward``) does them chunk by chunk in one
pass: im2col of the chunk, dWᵀ += columns·dyᵀ, then Wᵀ·dy into the same buffer and
col2im straight into dx; the chunk's columns stay in the cache from the copy to the
GEMM that reads them.

Copies. Chunks of large images run one GEMM per image ("batched", see choose_layout):
the product W @ columns of an image is its (O, Ho·Wo) block of y, so the GEMM writes
into y and the bias is added in place, and its block of dy is the backward's matrix as
it is (a 32-channel 32×32 image's columns already take 1.2 MB, a chunk of its own).
Chunks of small images run one GEMM for the chunk, through a product buffer whose
(O, n, Ho·Wo) is transposed into y, and dy transposed into (O, n, Ho·Wo).

Measured (2-core Xeon, AVX-512, 1 thread, load average 5-9: CPU time of forward and
both gradients, against the same with one whole-batch column matrix kept from the
forward pass to the backward and numpy's strided copies): 32→64 channels on 32×32,
batch 32: 42.1 against 52.7 ms; CIFAR-style layers, batch 64, 3→32 on 32×32: 6.2
against 14.5, 32→64 on 16×16: 22.5 against 29.4, 64→128 on 8×8: 19.4 against 23.7.
The GEMMs run as fast on a chunk's columns as on the whole batch's.

Threads. With several, each pass of at least ``batch_split.SHARE_FROM`` multiply-adds
shares the batch between them (``batch_split.py``): every thread walks the chunks of its
own images, copies and products alike, with OpenBLAS on one thread and scratch buffers of
its own, and the weight gradient's per-thread sums are added at the end. A smaller pass
runs whole on one thread, products included. Where a large pass cannot share (fewer
images than threads), each product runs on OpenBLAS's threads instead
(``COLUMN_BYTES_THREADED``), unless tapegrad's pool owns the cores (``threads.py``).

Returned arrays are always fresh; float32 stays float32. Where each product runs on one
thread (one thread, or shares of the batch), the forward pass of a stride-1 "same"
convolution of at least 16 channels runs on row-shifted copies of the image instead
(``shifted_rows.py``: a 3-fold copy and three GEMMs per image rather than a 9-fold one).
3×3 stride-1 convolutions of at least ``winograd.min_channels()`` channels each way (16
with OpenBLAS's AVX-512 kernels, 64 with its AVX2 ones) run by Winograd's F(2×2, 3×3)
instead, all three passes (``winograd.py``: 2.25× fewer multiplications).
Everything here is written with the array module ``xp``; im2col and col2im are numba
loops on the cpu (with array-only stand-ins for cupy).
"""
import math

import numba

from . import batch_split, shifted_rows, winograd
from .col2im import col2im_into
from .im2col import columns_shape, im2col
from .threads import pool_owns_the_cores

# The most bytes of columns one chunk of the batch may have (at least one image per
# chunk): about what stays in a core's L2 cache between im2col and the GEMM (0.5, 2 and
# 8 MiB were within the noise of each other on the layers above, 1 thread). Where each
# product runs on several of OpenBLAS's threads, every GEMM ends by waiting for all of
# them, and on a machine shared with other processes a thread can wait milliseconds for
# a core (a 2-thread step of the 32→64 layer with one GEMM per image took 1.9 s against
# 0.55 s for PyTorch at load 9 on 2 cores): there, fewer and larger chunks, one GEMM each.
COLUMN_BYTES = 2 * 2**20
COLUMN_BYTES_THREADED = 16 * 2**20


class Stamp:
    """Marks who filled a workspace last (see workspace.py): the GPU's im2col forward stamps
    its columns for the weight gradient (kernels/cuda/conv.py)."""

    __slots__ = ("__weakref__",)


# From this many output positions per image on, a chunk's products are one GEMM per image
# ("batched" layout) rather than one for the chunk ("merged"); see choose_layout.
IMAGE_GEMM_MIN_POSITIONS = 512


def threaded():
    """True when the kernels run on several threads (numba's count stands for OpenBLAS's:
    both follow the number of cores unless told otherwise)."""
    return numba.get_num_threads() > 1


def choose_layout(out_size, out_channels, groups, threaded_products=None):
    """"batched" (one GEMM per image, written straight into y's (O, Ho·Wo) block) when an
    image has at least IMAGE_GEMM_MIN_POSITIONS output positions, else "merged" (one GEMM
    for the chunk: more columns than one small image gives, at the price of transposing
    the product and dy). Measured, 1 thread: LeNet's first layer (1→6, 28×28, K = 25) 3×
    faster per image as a GEMM per image, its second (6→16, 10×10) faster merged; a
    64→128 layer on 8×8 runs its GEMMs at 115-130 GFLOP/s merged.

    Products on several of OpenBLAS's threads (``threaded_products``; None: ``threaded()``):
    "merged" (see COLUMN_BYTES_THREADED), except for weights of fewer than 8 rows (LeNet's
    first layer: its GEMM per image is too small for OpenBLAS to split, and the merged one
    was slow with two threads, 6.3 ms against 0.75)."""
    if threaded() if threaded_products is None else threaded_products:
        return "batched" if groups == 1 and out_channels < 8 else "merged"
    return "batched" if out_size[0] * out_size[1] >= IMAGE_GEMM_MIN_POSITIONS else "merged"


def chunk_size(x_shape, window, itemsize, threaded_products=None):
    """Images per chunk: as many as keep one chunk's columns within COLUMN_BYTES (with the
    products on several threads, COLUMN_BYTES_THREADED; None: ``threaded()``)."""
    per_image = itemsize
    for n in columns_shape((1,) + tuple(x_shape[1:]), window):
        per_image *= n
    if threaded_products is None:
        threaded_products = threaded()
    budget = COLUMN_BYTES_THREADED if threaded_products else COLUMN_BYTES
    return max(1, min(x_shape[0], budget // per_image))


def _chunks(start, stop, size):
    """(first, last) of each chunk of the images [start, stop)."""
    return [(first, min(first + size, stop)) for first in range(start, stop, size)]


def _flat(xp, purpose, part, size, dtype):
    """A flat scratch buffer of ``size`` values for one share of the batch (batch_split.py),
    big enough for its largest chunk; ``_view`` gives each chunk its shape."""
    return batch_split.scratch(xp, purpose, part, (size,), dtype)


def _view(flat, shape):
    """The first values of a flat scratch buffer as an array of ``shape``."""
    return flat[:math.prod(shape)].reshape(shape)


def _plan(xp, x_or_grad, image_shape, window, out_channels, groups):
    """(parts, layout, images per chunk, one BLAS thread) of a pass: how many threads share
    the batch (see batch_split.py), the chunks' layout and size for products on one thread
    (with shares, one thread in all, a pass too small to share, or while tapegrad's pool
    owns the cores) or on all of OpenBLAS's, and whether a pass on several numba threads
    but no shares must hold OpenBLAS to one thread."""
    batch, channels = image_shape[:2]
    multiply_adds = (batch * window.out_size[0] * window.out_size[1] * out_channels
                     * (channels // groups) * window.taps)
    parts = batch_split.concurrent_parts(xp, x_or_grad, multiply_adds) if threaded() else 1
    threaded_products = (parts == 1 and threaded() and not pool_owns_the_cores()
                         and multiply_adds >= batch_split.SHARE_FROM)
    layout = choose_layout(window.out_size, out_channels, groups, threaded_products)
    size = chunk_size(image_shape, window, x_or_grad.dtype.itemsize, threaded_products)
    return parts, layout, size, parts == 1 and threaded() and not threaded_products


def forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias as a fresh (B, O, Ho, Wo) array.

    ``stamp`` (a Stamp, or None) is for kernels that keep something for the weight gradient;
    nothing here does.
    """
    if winograd.chosen("forward", xp, x, window, x.shape[1], weight.shape[0]):
        y = winograd.forward(xp, x, weight, bias, window, stamp)
        if y is not None:   # (None: a value not finite, computed again below)
            return y
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    groups = window.groups
    parts, layout, size, one_blas_thread = _plan(xp, x, x.shape, window, out_channels, groups)
    if ((parts > 1 or not threaded())
            and shifted_rows.suits(xp, x, window, channels, out_channels)):
        return shifted_rows.forward(xp, x, weight, bias, window, parts)
    og = out_channels // groups
    ho, wo = window.out_size
    k = channels // groups * window.taps
    w = weight.reshape(groups, og, k)
    y = xp.empty((batch, out_channels, ho, wo), x.dtype)
    columns_size = math.prod(columns_shape((size,) + tuple(x.shape[1:]), window))
    buffers = [(_flat(xp, "conv-columns", part, columns_size, x.dtype),
                _flat(xp, "conv-product", part, out_channels * size * ho * wo, x.dtype)
                if layout == "merged" else None) for part in range(parts)]

    def share(part, start, stop):
        _forward_images(xp, x, w, bias, window, y, start, stop, size, layout, *buffers[part])

    batch_split.run(parts, batch, share, one_blas_thread)
    return y


def _forward_images(xp, x, w, bias, window, y, start, stop, size, layout, columns_flat,
                    product_flat):
    """y[start:stop] of the forward pass, in chunks of ``size`` images: im2col, then the
    products (with the bias) into y."""
    groups, og, k = w.shape
    out_channels = groups * og
    ho, wo = window.out_size
    for first, last in _chunks(start, stop, size):
        n = last - first
        columns = _view(columns_flat, columns_shape((n,) + tuple(x.shape[1:]), window, layout))
        im2col(xp, x[first:last], window, columns, layout)
        if layout == "batched":   # each image's product is its (O, Ho·Wo) block of y
            target = y[first:last].reshape(n, groups, og, ho * wo)
            xp.matmul(w, columns.reshape(n, groups, k, ho * wo), out=target)
            if bias is not None:
                target += bias.reshape(groups, og, 1)
            continue
        product = _view(product_flat, (groups, og, n * ho * wo))
        xp.matmul(w, columns.reshape(groups, k, n * ho * wo), out=product)
        result = product.reshape(out_channels, n, ho, wo).transpose(1, 0, 2, 3)
        if bias is not None:
            xp.add(result, bias.reshape(1, out_channels, 1, 1), out=y[first:last])
        else:
            xp.copyto(y[first:last], result)


def _backward(xp, x, grad, weight, window):
    """(dx, dW) of the convolution for dy = ``grad``, in one pass over the batch: for each
    chunk, im2col, dWᵀ += columns·dyᵀ, then Wᵀ·dy into the columns' buffer and col2im.
    x None: dx only; weight None: dW only. With shares of the batch on several threads
    (batch_split.py), each sums its own dWᵀ, and the sums are added at the end."""
    batch, out_channels, ho, wo = grad.shape
    groups = window.groups
    og = out_channels // groups
    channels = x.shape[1] if x is not None else weight.shape[1] * groups
    k = channels // groups * window.taps
    image_shape = (batch, channels) + tuple(window.in_size)
    parts, layout, size, one_blas_thread = _plan(xp, grad, image_shape, window, out_channels,
                                                 groups)
    grad = xp.ascontiguousarray(grad)
    # dW is summed transposed, dWᵀ = columns·dyᵀ (k, og) per group, and transposed once at
    # the end: the same products as dy·columnsᵀ, but OpenBLAS runs them faster with the long
    # k as the rows of its output than with few rows (1 thread, k = 288 on 32×32 images,
    # batch 32: 5.8 against 9.6 ms with O = 32, 9.7 against 12.8 with O = 64)
    sums = [xp.zeros((groups, k, og), grad.dtype) if x is not None else None
            for _ in range(parts)]
    dx = xp.empty(image_shape, grad.dtype) if weight is not None else None
    w_t = weight.reshape(groups, og, k).transpose(0, 2, 1) if weight is not None else None
    columns_size = math.prod(columns_shape((size,) + image_shape[1:], window))
    partial_size = (size if layout == "batched" else 1) * groups * k * og
    buffers = [(_flat(xp, "conv-columns", part, columns_size, grad.dtype),
                _flat(xp, "conv-weight-partial", part, partial_size, grad.dtype)
                if x is not None else None,
                _flat(xp, "conv-grad", part, out_channels * size * ho * wo, grad.dtype)
                if layout == "merged" else None) for part in range(parts)]

    def share(part, start, stop):
        _backward_images(xp, x, grad, w_t, window, dx, sums[part], start, stop, size, layout,
                         *buffers[part])

    batch_split.run(parts, batch, share, one_blas_thread)
    dw = None
    if x is not None:   # into the weight's layout (O, C/groups, kh, kw), C order
        dw_t = sums[0]
        for other in sums[1:]:
            dw_t += other
        dw = xp.ascontiguousarray(dw_t.transpose(0, 2, 1)).reshape(
            (out_channels, channels // groups) + tuple(window.kernel))
    return dx, dw


def _backward_images(xp, x, grad, w_t, window, dx, dw_t, start, stop, size, layout, columns_flat,
                     partial_flat, grad_flat):
    """The images [start, stop) of the backward pass, in chunks of ``size`` images: dWᵀ summed
    into ``dw_t`` (x not None), dx[start:stop] written (w_t not None)."""
    batch, out_channels, ho, wo = grad.shape
    groups = window.groups
    og = out_channels // groups
    image_shape = (batch,) + (dx.shape[1:] if dx is not None else x.shape[1:])
    k = image_shape[1] // groups * window.taps
    for first, last in _chunks(start, stop, size):
        n = last - first
        columns = _view(columns_flat, columns_shape((n,) + image_shape[1:], window, layout))
        if x is not None:
            im2col(xp, x[first:last], window, columns, layout)
        if layout == "batched":   # each image's dy is its (O, Ho·Wo) block as it is
            dy = grad[first:last].reshape(n, groups, og, ho * wo)
            matrix = columns.reshape(n, groups, k, ho * wo)
            if x is not None:
                partial = _view(partial_flat, (n, groups, k, og))
                xp.matmul(matrix, dy.transpose(0, 1, 3, 2), out=partial)
                dw_t += partial[0] if n == 1 else partial.sum(axis=0)
        else:
            dy = _view(grad_flat, (out_channels, n, ho, wo))
            dy[...] = grad[first:last].transpose(1, 0, 2, 3)
            dy = dy.reshape(groups, og, n * ho * wo)
            matrix = columns.reshape(groups, k, n * ho * wo)
            if x is not None:
                partial = _view(partial_flat, (groups, k, og))
                xp.matmul(matrix, dy.transpose(0, 2, 1), out=partial)
                dw_t += partial
        if w_t is not None:
            xp.matmul(w_t, dy, out=matrix)
            col2im_into(xp, columns, dx[first:last], window, layout)


def backward(xp, x, grad, weight, window, stamp=None):
    """(dx, dW) from dy in one pass over the batch: for each chunk, im2col and
    dWᵀ += columns·dyᵀ, then Wᵀ·dy into the same buffer and col2im into dx (by Winograd:
    each in a pass of its own)."""
    if (winograd.chosen("input_grad", xp, grad, window, weight.shape[1], weight.shape[0])
            or winograd.chosen("weight_grad", xp, x, window, x.shape[1], grad.shape[1])):
        return input_grad(xp, grad, weight, window), weight_grad(xp, x, grad, window, stamp)
    return _backward(xp, x, grad, weight, window)


def input_grad(xp, grad, weight, window):
    """dx = col2im(Wᵀ @ dy) as a fresh (B, C, H, W) array: the transposed convolution."""
    if winograd.chosen("input_grad", xp, grad, window, weight.shape[1], weight.shape[0]):
        dx = winograd.input_grad(xp, grad, weight, window)
        if dx is not None:   # (None: a value not finite, computed again below)
            return dx
    return _backward(xp, None, grad, weight, window)[0]


def weight_grad(xp, x, grad, window, stamp=None):
    """dW = dy @ columnsᵀ as a fresh (O, C/groups, kh, kw) array."""
    if winograd.chosen("weight_grad", xp, x, window, x.shape[1], grad.shape[1]):
        dw = winograd.weight_grad(xp, x, grad, window, stamp)
        if dw is not None:   # (None: a value not finite, computed again below)
            return dw
    return _backward(xp, x, grad, None, window)[1]
