"""Reductions over dimensions: sum, mean and friends.

``dim`` is an int, a tuple of ints or None (all dimensions); ``keepdim=True`` keeps the
reduced dimensions with size 1. A reduction's backward spreads the gradient back over
the elements that were reduced, which is a broadcast: ``grad.reshape(kept).expand(shape)``.
"""
from ..tape import record


def normalize_dims(x, dim, op):
    """``dim`` as a sorted tuple of non-negative axes of ``x`` (None means all of them)."""
    ndim = x.ndim
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    span = max(ndim, 1)
    axes = []
    for d in dims:
        if not -span <= d < span:
            raise IndexError(f"{op}: dimension {d} is out of range for a tensor of shape "
                             f"{tuple(x.shape)} (expected a dim in [{-span}, {span - 1}])")
        axes.append(d % span)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dimension {dim} names the same dimension twice")
    return tuple(sorted(a for a in axes if a < ndim or ndim == 0))


def kept_shape(shape, axes):
    """The shape after reducing ``axes`` with keepdim=True."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def sum(input, dim=None, keepdim=False, dtype=None):
    """y = Σᵢ xᵢ over ``dim``;  ∂y/∂xᵢ = 1, so the gradient is broadcast back"""
    x = input if dtype is None else input.to(dtype)
    axes = normalize_dims(x, dim, "sum")
    result = x.array.sum(axis=axes, keepdims=keepdim)
    if x.array.dtype.kind in "bui":   # integer and bool sums are int64, as in PyTorch
        result = result.astype("int64", copy=False)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        return grad.reshape(kept_shape(shape, axes)).expand(shape)
    return record("sum", x.device.xp.asarray(result), (x,), backward)


def mean(input, dim=None, keepdim=False, dtype=None):
    """y = (1/n) Σᵢ xᵢ over ``dim``;  ∂y/∂xᵢ = 1/n"""
    x = input if dtype is None else input.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"mean: needs a floating point tensor, got {x.dtype}; "
                           f"convert it first with .float()")
    axes = normalize_dims(x, dim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    shape = tuple(x.shape)
    result = x.device.xp.asarray(x.array.mean(axis=axes, keepdims=keepdim))
    def backward(ctx, grad):
        return grad.reshape(kept_shape(shape, axes)).expand(shape) / count
    return record("mean", result, (x,), backward)


__all__ = ["sum", "mean"]
