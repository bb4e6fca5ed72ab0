"""The GPU kernels of convolution and max pooling, written with ``numba.cuda``.

Each kernel is a Python function compiled for the GPU by ``@cuda.jit`` and launched on
cupy arrays (read without a copy through ``__cuda_array_interface__``) on cupy's
current stream, so it is ordered with cupy's own work without any synchronisation
(launch.py). float32 and float64 (and the integer types) each get their own compiled
version on first use.

* ``launch.py``: device views of cupy arrays, cupy's stream, the grid-stride loop;
* ``im2col.py``: every window of the input as a column (one thread per channel and
  output position);
* ``col2im.py``: the columns added back onto the image, as a gather (no atomics);
* ``conv.py``: convolution and its two gradients, im2col/col2im around one cuBLAS
  GEMM each (``xp.matmul``): the main path;
* ``implicit_gemm.py``: the same three products as one tiled shared-memory kernel that
  reads the windows straight from the image (no column matrix): the teaching version;
* ``maxpool.py``: max pooling with the positions of the maxima, and its backward
  (atomic additions).

The functions below have the signatures and results of the ones in
``tapegrad/kernels/__init__.py`` (the cpu kernels), so the dispatch there can send
cupy arrays here.

Which design is faster — im2col + cuBLAS, or the implicit GEMM — was *not* measured:
these kernels were written and tested in numba's CUDA simulator, on a machine without
a GPU. The issue asks to measure both on a GPU (``python benchmarks/gpu.py``) and keep
the faster one as the readable main path. The expectation, still to be confirmed: cuBLAS's
GEMM (tensor cores, register tiling) is far faster than a plain 16×16-tile kernel, and the
extra memory traffic of im2col (kh·kw times the input) costs less than that difference,
so im2col + cuBLAS is the main path, and ``ALGORITHM`` switches the convolution to the
implicit GEMM for comparison.
"""
from ..cpu.conv import Stamp
from . import conv as _conv, implicit_gemm as _implicit, maxpool as _maxpool

ALGORITHM = "im2col"   # or "implicit_gemm" (the teaching kernel; see the docstring above)


def _algorithm():
    if ALGORITHM == "im2col":
        return _conv
    if ALGORITHM == "implicit_gemm":
        return _implicit
    raise ValueError(f"tapegrad.kernels.cuda.ALGORITHM must be 'im2col' or 'implicit_gemm', "
                     f"got {ALGORITHM!r}")


# -- convolution --------------------------------------------------------------------------------
def conv_forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias: x (B, C, H, W), weight (O, C/groups, kh, kw) -> y (B, O, Ho, Wo)
    (a fresh array); ``stamp`` marks the im2col columns for ``conv_weight_grad``."""
    return _algorithm().forward(xp, x, weight, bias, window, stamp)


def conv_input_grad(xp, grad, weight, window):
    """The transposed convolution: dL/dx (B, C, H, W) from dL/dy (B, O, Ho, Wo)."""
    return _algorithm().input_grad(xp, grad, weight, window)


def conv_weight_grad(xp, x, grad, window, stamp=None):
    """dL/dweight (O, C/groups, kh, kw) from x and dL/dy."""
    return _algorithm().weight_grad(xp, x, grad, window, stamp)


def conv_backward(xp, x, grad, weight, window, stamp=None):
    """(dL/dx, dL/dweight) of one backward pass."""
    return _algorithm().backward(xp, x, grad, weight, window, stamp)


def unfold(xp, x, window):
    """im2col: (B, C, H, W) -> (B, C·kh·kw, Ho·Wo), a fresh array."""
    return _conv.unfold(xp, x, window)


def fold(xp, columns, window):
    """col2im: (B, C·kh·kw, Ho·Wo) -> (B, C, H, W), summing overlapping values; fresh array."""
    return _conv.fold(xp, columns, window)


# -- max pooling ----------------------------------------------------------------------------------
def max_pool(xp, x, window, index_dtype="int64"):
    """(values, indices): the max of each window of x (B, C, H, W) and its flat position h·W + w."""
    return _maxpool.max_pool(xp, x, window, index_dtype)


def max_pool_values(xp, x, window):
    """Only the max of each window (no positions)."""
    return _maxpool.max_values(xp, x, window)


def max_unpool_add(xp, grad, indices, in_size):
    """Zeros of (B, C, *in_size) with grad added at indices (the backward of max pooling)."""
    return _maxpool.max_unpool_add(xp, grad, indices, in_size)


__all__ = ["ALGORITHM", "Stamp", "conv_backward", "conv_forward", "conv_input_grad",
           "conv_weight_grad", "fold", "max_pool", "max_pool_values", "max_unpool_add", "unfold"]
