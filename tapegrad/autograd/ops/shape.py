"""Operations that rearrange elements without changing them: reshape, expand, …

Their backward rearranges the gradient the opposite way. Where numpy can, the result
is a view sharing the input's memory (and its version counter).
"""
from ..operands import sum_to_shape
from ..tape import mark_view, record


def _size_args(shape):
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _as_view_of(out, x):
    if out.device.xp.may_share_memory(out.array, x.array):
        mark_view(out, x)
    return out


def reshape(input, *shape):
    """y = x with a new shape (same elements in the same order);  the gradient is reshaped back"""
    x = input
    new_shape = _size_args(shape)
    try:
        result = x.array.reshape(new_shape)
    except ValueError:
        raise RuntimeError(f"reshape: shape {new_shape} is invalid for an input of shape "
                           f"{tuple(x.shape)} ({x.array.size} elements)") from None
    old_shape = tuple(x.shape)
    def backward(ctx, grad):
        return grad.reshape(old_shape)
    return _as_view_of(record("reshape", result, (x,), backward), x)


def expand(input, *sizes):
    """y = x repeated along its size-1 dims (a view);  ∂L/∂x = ∂L/∂y summed over the copies"""
    x = input
    sizes = _size_args(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand: the target size {sizes} has fewer dimensions than the "
                           f"input of shape {tuple(x.shape)}")
    lead = len(sizes) - x.ndim
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        result = x.device.xp.broadcast_to(x.array, target)
    except ValueError:
        raise RuntimeError(f"expand: the input of shape {tuple(x.shape)} cannot be expanded to "
                           f"{sizes}: only dimensions of size 1 can grow") from None
    old_shape = tuple(x.shape)
    def backward(ctx, grad):
        return sum_to_shape(grad, old_shape)
    return _as_view_of(record("expand", result, (x,), backward), x)


__all__ = ["reshape", "expand"]
