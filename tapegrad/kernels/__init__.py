"""Hand-written kernels: the array work behind convolution and pooling (and the one-pass
``y += a·x`` that ends an optimizer step).

The differentiable operations (``tapegrad/autograd/ops/convolution.py`` and
``pooling.py``) compute nothing themselves: their forward and backward passes call the
functions below with the array module ``xp`` of their tensors' device and backend
arrays. Each function here picks the implementation for that backend:

* numpy (cpu): ``kernels/cpu`` — im2col by stride tricks into reused workspaces, one
  GEMM per product, numba loops where numpy would need a Python loop; 3×3 stride-1
  convolutions with enough channels by Winograd's F(2×2, 3×3) (``cpu/winograd.py``);
* cupy (cuda): ``kernels/cuda`` (numba.cuda kernels) for convolution,
  unfold/fold and max pooling, with the same signatures; everything else (average
  pooling, index_add) runs the array code of ``kernels/cpu`` with ``kernels/generic.py``
  (loops over the window taps with array operations) in place of the numba loops.
  Without ``kernels/cuda`` all of it takes that array-only path: correct, not fast.

Window geometry (sizes, strides, padding) is a ``geometry.Window``.
"""
from .cpu import avgpool as _avgpool, conv as _conv, im2col as _im2col, maxpool as _maxpool
from .cpu.col2im import col2im as _col2im
from .cpu.axpy import axpy as _axpy
from .cpu.index_add import add_at as _add_at
from .cpu.conv import Stamp
from .cpu import winograd as _winograd
from .geometry import Window

_SUPPORTED = ("numpy", "cupy")


def _check(xp, what):
    if xp.__name__ not in _SUPPORTED:
        raise NotImplementedError(f"{what}: no kernel for arrays of {xp.__name__}; tapegrad's "
                                  f"kernels work on numpy (cpu) and cupy (cuda) arrays")


_cuda = None


def _gpu(xp):
    """The CUDA kernels module for cupy arrays (imported on first use), or None: numpy arrays,
    or no ``kernels/cuda`` to import (then the array-only path runs)."""
    global _cuda
    if xp.__name__ != "cupy":
        return None
    if _cuda is None:
        try:
            from . import cuda as module
        except ImportError:
            module = False
        _cuda = module
    return _cuda or None


# -- convolution -----------------------------------------------------------------------------
def conv_forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias: x (B, C, H, W), weight (O, C/groups, kh, kw) -> y (B, O, Ho, Wo)
    (a fresh array); ``stamp`` marks the im2col columns for ``conv_weight_grad``."""
    _check(xp, "convolution")
    gpu = _gpu(xp)
    if gpu:
        return gpu.conv_forward(xp, x, weight, bias, window, stamp)
    if _winograd.chosen("forward", xp, x, window, x.shape[1], weight.shape[0]):
        return _winograd.forward(x, weight, bias, window, stamp)
    return _conv.forward(xp, x, weight, bias, window, stamp)


def conv_input_grad(xp, grad, weight, window, grad_stamp=None):
    """The transposed convolution: dL/dx (B, C, H, W) from dL/dy (B, O, Ho, Wo)."""
    _check(xp, "transposed convolution")
    gpu = _gpu(xp)
    if gpu:
        return gpu.conv_input_grad(xp, grad, weight, window, grad_stamp)
    if _winograd.chosen("input_grad", xp, grad, window, weight.shape[1], weight.shape[0]):
        return _winograd.input_grad(grad, weight, window)
    return _conv.input_grad(xp, grad, weight, window, grad_stamp)


def conv_weight_grad(xp, x, grad, window, stamp=None, grad_stamp=None):
    """dL/dweight (O, C/groups, kh, kw) from x and dL/dy."""
    _check(xp, "convolution weight gradient")
    gpu = _gpu(xp)
    if gpu:
        return gpu.conv_weight_grad(xp, x, grad, window, stamp, grad_stamp)
    if _winograd.chosen("weight_grad", xp, x, window, x.shape[1], grad.shape[1]):
        return _winograd.weight_grad(x, grad, window, stamp)
    return _conv.weight_grad(xp, x, grad, window, stamp, grad_stamp)


def unfold(xp, x, window):
    """im2col: (B, C, H, W) -> (B, C·kh·kw, Ho·Wo), a fresh array."""
    _check(xp, "unfold")
    gpu = _gpu(xp)
    if gpu:
        return gpu.unfold(xp, x, window)
    return _im2col.unfold(xp, x, window)


def fold(xp, columns, window):
    """col2im: (B, C·kh·kw, Ho·Wo) -> (B, C, H, W), summing overlapping values; fresh array."""
    _check(xp, "fold")
    gpu = _gpu(xp)
    if gpu:
        return gpu.fold(xp, columns, window)
    batch = columns.shape[0]
    channels = columns.shape[1] // window.taps
    ho, wo = window.out_size
    view = columns.reshape((batch, channels) + tuple(window.kernel) + (ho, wo))
    out = xp.zeros((batch, channels) + tuple(window.in_size), columns.dtype)
    return _col2im(xp, view.transpose(1, 2, 3, 0, 4, 5), out, window)


# -- pooling -----------------------------------------------------------------------------------
def max_pool(xp, x, window, index_dtype="int64"):
    """(values, indices): the max of each window of x (B, C, H, W) and its flat position h·W + w."""
    _check(xp, "max pooling")
    gpu = _gpu(xp)
    if gpu:
        return gpu.max_pool(xp, x, window, index_dtype)
    return _maxpool.max_pool(xp, x, window, index_dtype)


def max_pool_values(xp, x, window):
    """Only the max of each window (no positions): faster, for inference."""
    _check(xp, "max pooling")
    gpu = _gpu(xp)
    if gpu:
        return gpu.max_pool_values(xp, x, window)
    return _maxpool.max_values(xp, x, window)


def max_unpool_add(xp, grad, indices, in_size):
    """Zeros of (B, C, *in_size) with grad added at indices (the backward of max pooling)."""
    _check(xp, "max pooling backward")
    gpu = _gpu(xp)
    if gpu:
        return gpu.max_unpool_add(xp, grad, indices, in_size)
    return _maxpool.max_unpool_add(xp, grad, indices, in_size)


def avg_pool(xp, x, window, divisor):
    """The sum of each window of x divided by ``divisor`` (a number or an (Ho, Wo) array)."""
    _check(xp, "average pooling")
    return _avgpool.avg_pool(xp, x, window, divisor)


def avg_pool_adjoint(xp, grad, window, divisor):
    """The transpose of ``avg_pool``: each grad / divisor spread over its window."""
    _check(xp, "average pooling backward")
    return _avgpool.avg_pool_adjoint(xp, grad, window, divisor)


# -- gathering and scattering along one axis ---------------------------------------------------
def add_at(xp, out, axis, index, src):
    """out[..., index[o], ...] += src[..., o, ...] along ``axis`` (in place, repeats add up)."""
    _check(xp, "index_add")
    return _add_at(xp, out, axis, index, src)


# -- optimizer updates ------------------------------------------------------------------------
def add_scaled(xp, y, x, alpha):
    """y += alpha·x in place (one numba pass for C-contiguous numpy arrays of one dtype)."""
    if (xp.__name__ == "numpy" and y.dtype == x.dtype and y.shape == x.shape
            and y.flags.c_contiguous and x.flags.c_contiguous and y.dtype.kind == "f"):
        _axpy(y.dtype.type(alpha), x, y)
    else:
        y += alpha * x
    return y


__all__ = ["Stamp", "Window", "add_at", "add_scaled", "avg_pool", "avg_pool_adjoint", "conv_forward",
           "conv_input_grad", "conv_weight_grad", "fold", "max_pool", "max_pool_values",
           "max_unpool_add", "unfold"]
