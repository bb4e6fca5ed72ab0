"""Hand-written kernels: the array work behind convolution and pooling, and the one-pass
optimizer updates (``y += a·x`` for SGD; whole Adam, RMSprop and Adagrad steps).

The differentiable operations (``tapegrad/autograd/ops/convolution.py`` and
``pooling.py``) compute nothing themselves: their forward and backward passes call the
functions below with the array namespace ``xp`` of their tensors' device and backend
arrays. Each function here asks that backend (``xp.is_gpu``, ``xp.numba_cpu``) which
implementation to take:

* numpy (cpu): ``kernels/cpu`` — im2col by stride tricks into reused workspaces, one
  GEMM per product, numba loops where numpy would need a Python loop, and Winograd's
  F(2×2, 3×3) for 3×3 convolutions (``cpu/winograd.py``);
* cupy (cuda): ``kernels/cuda`` (numba.cuda kernels) for convolution,
  unfold/fold and max pooling, with the same signatures; everything else (average
  pooling, index_add) runs the array code of ``kernels/cpu`` with ``kernels/generic.py``
  (loops over the window taps with array operations) in place of the numba loops.
  Without ``kernels/cuda`` all of it takes that array-only path: correct, not fast.

Window geometry (sizes, strides, padding) is a ``geometry.Window``.
"""
import math

from . import cpu as _cpu
from .cpu import avgpool as _avgpool
from .cpu import optimizer_steps as _steps, threads as _threads
from .cpu.axpy import axpy as _axpy, axpy_parallel as _axpy_parallel
from .cpu.relu import relu_split as _relu_split
from .cpu.relu_gradient import relu_gradient as _relu_gradient
from .cpu.relu_gradient import relu_gradient_split as _relu_gradient_split
from .cpu.row_max import subtract_row_max as _subtract_row_max
from .cpu.conv import Stamp
from .cpu.index_add import add_at as _add_at
from .geometry import Window
from . import generic as _generic

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
    (a fresh array); ``stamp`` marks what the forward keeps for ``conv_weight_grad`` (only
    the GPU's im2col keeps anything: its columns)."""
    return _kernels(xp).conv_forward(xp, x, weight, bias, window, stamp)


def conv_input_grad(xp, grad, weight, window):
    """The transposed convolution: dL/dx (B, C, H, W) from dL/dy (B, O, Ho, Wo)."""
    return _kernels(xp).conv_input_grad(xp, grad, weight, window)


def conv_weight_grad(xp, x, grad, window, stamp=None):
    """dL/dweight (O, C/groups, kh, kw) from x and dL/dy (``stamp``: the forward's)."""
    return _kernels(xp).conv_weight_grad(xp, x, grad, window, stamp)


def conv_backward(xp, x, grad, weight, window, stamp=None):
    """(dL/dx, dL/dweight) together: on the cpu by Winograd's F(2×2, 3×3) (3×3 kernels of
    enough channels) or in one pass over the batch (kernels/cpu/conv.py); on a GPU,
    im2col's backward reads one copy of dL/dy as a matrix (kernels/cuda/conv.py) and the
    implicit GEMM reads dL/dy where it lies."""
    return _kernels(xp).conv_backward(xp, x, grad, weight, window, stamp)


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


# -- softmax's shift ---------------------------------------------------------------------------
def subtract_max(xp, a, axes):
    """a - max a along ``axes`` (kept), a fresh array; a NaN makes its row's maximum NaN."""
    if (xp.numba_cpu and axes == (a.ndim - 1,) and a.size
            and a.dtype.char in "fd" and a.flags.c_contiguous):
        out = xp.empty(a.shape, dtype=a.dtype)
        _subtract_row_max(a.reshape(-1, a.shape[-1]), out.reshape(-1, a.shape[-1]))
        return out
    return a - a.max(axis=axes, keepdims=True)


# -- relu ----------------------------------------------------------------------------------
def relu(xp, a):
    """max(a, 0) as a fresh array, -0.0 kept and NaN passed on: numpy's ``maximum(0, a)``
    (float16's loop returns its first operand at a tie, so ``maximum(a, 0)`` there); split
    between numba's threads for large C-contiguous float32/float64 arrays (threads.py)."""
    # the size first: a small array (most calls) pays one call and comparison for this test
    if (a.size >= _threads.min_elements() and xp.numba_cpu and a.dtype.char in ("f", "d")
            and a.flags.c_contiguous):
        chunks = _threads.chunks(a.size)
        if chunks > 1:
            out = xp.empty(a.shape, a.dtype)
            _relu_split(chunks, a, out)
            return out
    return xp.maximum(a, 0) if a.dtype.itemsize == 2 else xp.maximum(0, a)


# -- relu's backward -------------------------------------------------------------------------
def relu_gradient(xp, grad, output):
    """grad where output > 0 (or NaN), else 0 — also where grad is ±inf (a fresh array)."""
    if (xp.numba_cpu and grad.shape == output.shape and grad.dtype.kind == "f"
            and grad.dtype.itemsize >= 4 and output.dtype.kind in "fiu"   # numba: no float16
            and output.dtype.itemsize >= 4 and grad.flags.c_contiguous
            and output.flags.c_contiguous):
        out = xp.empty(grad.shape, dtype=grad.dtype)
        chunks = _threads.chunks(out.size)
        if chunks > 1:
            _relu_gradient_split(chunks, grad, output, out)
        else:
            _relu_gradient(grad, output, out)
        return out
    positive = ~(output <= 0)
    z = grad * positive   # a bool factor keeps grad's dtype; ~7× faster than where()
    if bool(xp.any(xp.isnan(z))):   # 0·∞ is NaN where the gradient is 0: repair those
        z = xp.where(positive, grad, xp.zeros((), dtype=z.dtype))
    return z


# -- optimizer updates ------------------------------------------------------------------------
# Each update is one numba pass (cpu/optimizer_steps.py) when every array is a C-contiguous
# numpy array of one floating dtype and shape; otherwise (cupy arrays, a Fortran-ordered or
# float16 parameter, a gradient of another dtype) the same rule runs as array operations
# (generic.py). Arrays of at least threads.min_elements() are split between numba's
# threads.
def _fusable(xp, first, *others):
    # dtype.char, not dtype.name: numpy builds .name in Python (4 µs, per parameter per step)
    if not xp.numba_cpu or first.dtype.char not in ("f", "d"):
        return False
    return first.flags.c_contiguous and all(
        a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous
        for a in others)


def add_scaled(xp, y, x, alpha):
    """y += alpha·x in place (one numba pass for C-contiguous numpy arrays of one dtype)."""
    if _fusable(xp, y, x):
        chunks = _threads.chunks(y.size)
        if chunks > 1:
            _axpy_parallel(chunks, y.dtype.type(alpha), x, y)
        else:
            _axpy(y.dtype.type(alpha), x, y)
    else:
        y += alpha * x
    return y


def adam_step(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2,
              eps, weight_decay, decoupled_weight_decay, maximize):
    """One Adam (AdamW with ``decoupled_weight_decay``) step of ``param`` in place, updating the
    moments ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq`` when it is not None: amsgrad).
    ``step`` counts from 1; the update rule is written out in ``optim/adam.py``."""
    amsgrad = max_exp_avg_sq is not None
    decay_factor = 1 - lr * weight_decay if decoupled_weight_decay else 1.0
    gradient_decay = 0.0 if decoupled_weight_decay else weight_decay
    scalars = (gradient_decay, decay_factor, 1 - beta1, beta2, 1 - beta2,
               lr / (1 - beta1 ** step), math.sqrt(1 - beta2 ** step), eps)
    v_max = max_exp_avg_sq if amsgrad else exp_avg_sq
    if not _fusable(xp, param, grad, exp_avg, exp_avg_sq, v_max):
        _generic.adam_step(xp, param, grad, exp_avg, exp_avg_sq, v_max, amsgrad, maximize,
                           *scalars)
        return param
    scalars = tuple(param.dtype.type(s) for s in scalars)
    chunks = _threads.chunks(param.size)
    if chunks > 1:
        _steps.adam_parallel(chunks, param, grad, exp_avg, exp_avg_sq, v_max, amsgrad, maximize,
                             *scalars)
    else:
        _steps.adam(param, grad, exp_avg, exp_avg_sq, v_max, amsgrad, maximize, *scalars)
    return param


def rmsprop_step(xp, param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                 weight_decay, momentum, maximize):
    """One RMSprop step of ``param`` in place; ``grad_avg`` is None unless centered,
    ``momentum_buffer`` None without momentum (the rule: ``optim/rmsprop.py``)."""
    centered, use_momentum = grad_avg is not None, momentum_buffer is not None
    grad_avg = square_avg if grad_avg is None else grad_avg
    buffer = square_avg if momentum_buffer is None else momentum_buffer
    scalars = (weight_decay, alpha, 1 - alpha, eps, momentum, lr)
    if not _fusable(xp, param, grad, square_avg, grad_avg, buffer):
        _generic.rmsprop_step(xp, param, grad, square_avg, grad_avg, buffer, centered,
                              use_momentum, maximize, *scalars)
        return param
    scalars = tuple(param.dtype.type(s) for s in scalars)
    chunks = _threads.chunks(param.size)
    if chunks > 1:
        _steps.rmsprop_parallel(chunks, param, grad, square_avg, grad_avg, buffer, centered,
                                use_momentum, maximize, *scalars)
    else:
        _steps.rmsprop(param, grad, square_avg, grad_avg, buffer, centered, use_momentum,
                       maximize, *scalars)
    return param


def adagrad_step(xp, param, grad, state_sum, *, lr, weight_decay, eps, maximize):
    """One Adagrad step of ``param`` in place with this step's learning rate ``lr`` (already
    decayed), adding g² to ``state_sum`` (the rule: ``optim/adagrad.py``)."""
    scalars = (weight_decay, eps, lr)
    if not _fusable(xp, param, grad, state_sum):
        _generic.adagrad_step(xp, param, grad, state_sum, maximize, *scalars)
        return param
    scalars = tuple(param.dtype.type(s) for s in scalars)
    chunks = _threads.chunks(param.size)
    if chunks > 1:
        _steps.adagrad_parallel(chunks, param, grad, state_sum, maximize, *scalars)
    else:
        _steps.adagrad(param, grad, state_sum, maximize, *scalars)
    return param


__all__ = ["Stamp", "Window", "adagrad_step", "adam_step", "add_at", "add_scaled", "avg_pool",
           "avg_pool_adjoint", "conv_backward", "conv_forward", "conv_input_grad",
           "conv_weight_grad", "fold", "max_pool", "max_pool_values", "max_unpool_add",
           "rmsprop_step", "unfold"]
