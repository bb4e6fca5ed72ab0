"""``out=``: writing a function's result into a tensor the caller already has.

``tapegrad.add(x, y, out=z)`` computes ``x + y`` and writes it into z, as PyTorch does:
an empty z (no elements) takes the result's shape; otherwise the shapes must agree. The
result is cast to z's dtype when that loses no kind (a float result cannot go into an
integer tensor). Writing is an in-place change of z, so it bumps z's version, and it is
not differentiable: with gradients recorded, no input (and not z) may require grad.

Functions declare that they take ``out=`` (``@operation(function=True, out=True)``); the
tapegrad function is then this wrapper around the operation.
"""
import functools

from .. import grad_mode
from ..tensor import Tensor


@functools.cache   # one wrapper per operation, so aliases stay the same function
def with_out(function):
    """``function`` with an ``out=`` keyword argument."""
    @functools.wraps(function)
    def function_with_out(*args, out=None, **kwargs):
        if out is None:
            return function(*args, **kwargs)
        name = function.__name__
        _check_out(name, out, args, kwargs)
        return write_out(name, function(*args, **kwargs), out)
    return function_with_out


def _tensors_in(values):
    for value in values:
        if isinstance(value, Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from _tensors_in(value)


def _check_out(name, out, args, kwargs):
    """Refuse, before anything is computed, what PyTorch refuses."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): out must be a Tensor, got {type(out).__name__}")
    if grad_mode._enabled and (out.requires_grad or any(
            t.requires_grad for t in _tensors_in((*args, *kwargs.values())))):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad (compute "
                           f"without out=, or under tapegrad.no_grad())")


def write_out(name, result, out):
    """Write ``result`` into ``out`` (resized if it is empty) and return ``out``."""
    if result.device != out.device:
        raise RuntimeError(f"{name}(): the result is on {result.device}, but out is on "
                           f"{out.device}")
    if result.dtype.category > out.dtype.category:
        raise RuntimeError(f"{name}(): result type {result.dtype} can't be cast to the desired "
                           f"output type {out.dtype}")
    shape = tuple(result.shape)
    if tuple(out.shape) != shape:
        if out.numel() != 0:
            raise RuntimeError(f"{name}(): the result has shape {shape}, but out has shape "
                               f"{tuple(out.shape)}; pass an out of shape {shape}, or an empty "
                               f"one to be resized")
        out.array = out.device.xp.empty(shape, dtype=out.array.dtype)
    out.array[...] = result.array
    out._version_counter.bump(name)
    return out
