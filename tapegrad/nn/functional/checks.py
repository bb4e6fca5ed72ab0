"""The argument checks the layers share, so each error is worded once.

A layer checks its inputs before computing, and names itself and the values involved.
"""
from ...autograd import Tensor


def shape_of(tensor):
    """A tensor's shape as a plain tuple, for error messages: (32, 100), not Size([32, 100])."""
    return tuple(tensor.shape)


def require_tensor(op, name, value):
    """``value`` itself, or a TypeError naming the op and the argument when it is no Tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    return value


def require_float(op, input):
    """``input`` itself, or a TypeError naming the op and the dtype where it is no
    floating-point Tensor: smooth functions have no integer form, as in PyTorch."""
    require_tensor(op, "input", input)
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype.name} "
                        f"(PyTorch has no integer {op} either); convert it with .float()")
    return input
