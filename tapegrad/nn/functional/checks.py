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
