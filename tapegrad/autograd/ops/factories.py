"""Tensors made like another one: ``x.new_zeros(3, 4)`` has x's dtype and device.

PyTorch's ``new_*`` methods let code make a tensor that matches an input without naming
its dtype or device (a model that runs on any device and in any precision). Each takes
``dtype=``, ``device=`` and ``requires_grad=`` to say otherwise. The result is new: no
gradient flows back to x.
"""
import numbers
import operator

from ... import backend, dtypes
from ..tensor import Size, Tensor, array_from_data, wrap
from .declare import operation


def shape_from_sizes(op, size):
    """``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])`` and ``zeros(Size)`` all mean the
    shape (2, 3): the sizes of every factory, here and in ``tapegrad.creation``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    try:
        shape = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"{op}: a size must be integers, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: negative dimension in size {shape}")
    return shape


def _like(input, dtype, device):
    """(dtype, device): the given ones, else input's."""
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor, got {type(input).__name__}")
    return (dtypes.as_dtype(dtype) or input.dtype,
            input.device if device is None else backend.as_device(device))


def _made(array, device, requires_grad):
    made = wrap(array, device)
    return made.requires_grad_() if requires_grad else made


@operation(method=True, differentiable=False)
def new_zeros(input, *size, dtype=None, device=None, requires_grad=False):
    """zeros of ``size``, with input's dtype and device unless given"""
    dtype, device = _like(input, dtype, device)
    return _made(device.xp.zeros(shape_from_sizes("new_zeros", size), dtype=dtype.numpy), device,
                 requires_grad)


@operation(method=True, differentiable=False)
def new_ones(input, *size, dtype=None, device=None, requires_grad=False):
    """ones of ``size``, with input's dtype and device unless given"""
    dtype, device = _like(input, dtype, device)
    return _made(device.xp.ones(shape_from_sizes("new_ones", size), dtype=dtype.numpy), device,
                 requires_grad)


@operation(method=True, differentiable=False)
def new_empty(input, *size, dtype=None, device=None, requires_grad=False):
    """an uninitialised tensor of ``size`` (here: zeros), with input's dtype and device"""
    dtype, device = _like(input, dtype, device)
    return _made(device.xp.zeros(shape_from_sizes("new_empty", size), dtype=dtype.numpy), device,
                 requires_grad)


@operation(method=True, differentiable=False)
def new_full(input, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere in ``size``, with input's dtype and device unless given"""
    if not isinstance(fill_value, numbers.Number) and not (isinstance(fill_value, Tensor)
                                                          and fill_value.ndim == 0):
        raise TypeError(f"new_full(): fill_value must be a number (or a 0-d tensor), got "
                        f"{type(fill_value).__name__} {fill_value!r}")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype, device = _like(input, dtype, device)
    fill_value = dtypes.stored_scalar("new_full", fill_value, dtype.numpy)
    return _made(device.xp.full(shape_from_sizes("new_full", (size,)), fill_value, dtype=dtype.numpy),
                 device, requires_grad)


@operation(method=True, differentiable=False)
def new_tensor(input, data, *, dtype=None, device=None, requires_grad=False):
    """a copy of ``data`` (never a view of it), with input's dtype and device unless given"""
    dtype, device = _like(input, dtype, device)
    return _made(array_from_data(data, dtype, device, "new_tensor"), device, requires_grad)
