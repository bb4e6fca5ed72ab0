"""Hand-written kernels: the array work behind convolution and pooling (and the one-pass
``y += a·x`` that ends an optimizer step).

The differentiable operations (``tapegrad/autograd/ops/convolution.py`` and
``pooling.py``) compute nothing themselves: their forward and backward passes call the
functions below with the array namespace ``xp`` of their tensors' device and backend
arrays. Each function here asks that backend (``xp.is_gpu``, ``xp.numba_cpu``) which
implementation to take:

* numpy (cpu): ``kernels/cpu`` — im2col by stride tricks into reused workspaces, one
  GEMM per product, numba loops where numpy would need a Python loop (and Winograd's
  F(2×2, 3×3), on request: ``cpu/winograd.py``);
* cupy (cuda): ``kernels/cuda`` (numba.cuda kernels) for convolution,
  unfold/fold and max pooling, with the same signatures; everything else (average
  pooling, index_add) runs the array code of ``kernels/cpu`` with ``kernels/generic.py``
  (loops over the window taps with array operations) in place of the numba loops.
  Without ``kernels/cuda`` all of it takes that array-only path: correct, not fast.

Window geometry (sizes, strides, padding) is a ``geometry.Window``.
"""
from . import cpu as _cpu
from .cpu import avgpool as _avgpool
from .cpu.axpy import axpy as _axpy
from .cpu.conv import Stamp
from .cpu.index_add import add_at as _add_at
from .geometry import Window

_cuda = None


def _kernels(xp):
    """Where the work for ``xp``'s arrays is done: ``kernels/cuda`` for a GPU backend (imported
    on first use), else ``kernels/cpu``, whose numba loops give way to ``kernels/generic.py``
    for arrays that are not host numpy arrays (and for a GPU without ``kernels/cuda``)."""
    global _cuda
    if not xp.is_gpu:
        return _cpu
    if _cuda is None:
        try:
            from . import cuda as module
        except ImportError:
            module = False
        _cuda = module
    return _cuda or _cpu


# -- convolution -----------------------------------------------------------------------------
def conv_forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias: x (B, C, H, W), weight (O, C/groups, kh, kw) -> y (B, O, Ho, Wo)
    (a fresh array); ``stamp`` marks the im2col columns for ``conv_weight_grad``."""
    return _kernels(xp).conv_forward(xp, x, weight, bias, window, stamp)


def conv_input_grad(xp, grad, weight, window, grad_stamp=None):
    """The transposed convolution: dL/dx (B, C, H, W) from dL/dy (B, O, Ho, Wo)."""
    return _kernels(xp).conv_input_grad(xp, grad, weight, window, grad_stamp)


def conv_weight_grad(xp, x, grad, window, stamp=None, grad_stamp=None):
    """dL/dweight (O, C/groups, kh, kw) from x and dL/dy."""
    return _kernels(xp).conv_weight_grad(xp, x, grad, window, stamp, grad_stamp)


def unfold(xp, x, window):
    """im2col: (B, C, H, W) -> (B, C·kh·kw, Ho·Wo), a fresh array."""
    return _kernels(xp).unfold(xp, x, window)


def fold(xp, columns, window):
    """col2im: (B, C·kh·kw, Ho·Wo) -> (B, C, H, W), summing overlapping values; fresh array."""
    return _kernels(xp).fold(xp, columns, window)


# -- pooling -----------------------------------------------------------------------------------
def max_pool(xp, x, window, index_dtype="int64"):
    """(values, indices): the max of each window of x (B, C, H, W) and its flat position h·W + w."""
    return _kernels(xp).max_pool(xp, x, window, index_dtype)


def max_pool_values(xp, x, window):
    """Only the max of each window (no positions): faster, for inference."""
    return _kernels(xp).max_pool_values(xp, x, window)


def max_unpool_add(xp, grad, indices, in_size):
    """Zeros of (B, C, *in_size) with grad added at indices (the backward of max pooling)."""
    return _kernels(xp).max_unpool_add(xp, grad, indices, in_size)


def avg_pool(xp, x, window, divisor):
    """The sum of each window of x divided by ``divisor`` (a number or an (Ho, Wo) array)."""
    return _avgpool.avg_pool(xp, x, window, divisor)


def avg_pool_adjoint(xp, grad, window, divisor):
    """The transpose of ``avg_pool``: each grad / divisor spread over its window."""
    return _avgpool.avg_pool_adjoint(xp, grad, window, divisor)


# -- gathering and scattering along one axis ---------------------------------------------------
def add_at(xp, out, axis, index, src):
    """out[..., index[o], ...] += src[..., o, ...] along ``axis`` (in place, repeats add up)."""
    return _add_at(xp, out, axis, index, src)


# -- optimizer updates ------------------------------------------------------------------------
def add_scaled(xp, y, x, alpha):
    """y += alpha·x in place (one numba pass for C-contiguous numpy arrays of one dtype)."""
    if (xp.numba_cpu and y.dtype == x.dtype and y.shape == x.shape
            and y.flags.c_contiguous and x.flags.c_contiguous and y.dtype.kind == "f"):
        _axpy(y.dtype.type(alpha), x, y)
    else:
        y += alpha * x
    return y


__all__ = ["Stamp", "Window", "add_at", "add_scaled", "avg_pool", "avg_pool_adjoint", "conv_forward",
           "conv_input_grad", "conv_weight_grad", "fold", "max_pool", "max_pool_values",
           "max_unpool_add", "unfold"]
