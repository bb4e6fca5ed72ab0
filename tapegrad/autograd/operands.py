"""Getting operands ready: numbers and numpy arrays become tensors, dtypes are promoted
as PyTorch does, devices must agree, and broadcast gradients are summed back to shape.
"""
from .. import backend, dtypes
from .tensor import Tensor, wrap


def as_tensor_like(value, like, dtype=None):
    """``value`` as a tensor on ``like``'s device (tensors pass through unchanged)."""
    if isinstance(value, Tensor):
        return value
    if backend.is_array(value):
        array = backend.to_device(value, like.device)
        return wrap(array, like.device)
    if dtype is None:
        dtype = dtypes.result_type((), (), (value,))
    if type(value) is int:   # -1 against uint8 wraps to 255, as in PyTorch
        value = dtypes.wrap_integer(value, dtype.numpy)
    return wrap(like.device.xp.asarray(value, dtype=dtype.numpy), like.device)


def check_same_device(op, *tensors):
    first = tensors[0]
    for t in tensors[1:]:
        if t.device != first.device:
            raise RuntimeError(
                f"{op}: expected all tensors on the same device, but found one on {first.device} "
                f"and one on {t.device}; move them with .to('{first.device}') (for a model: "
                f"model.to('{first.device}'))")


def promote(op, *values):
    """The tensor operands of a pointwise op, cast to their common dtype, on one device.

    Python numbers adopt the tensors' dtype unless they are of a higher kind (a float
    with an integer tensor gives the default float dtype); numpy arrays count as tensors.
    """
    if len(values) == 2:  # the common cases, kept fast
        x, y = values
        if isinstance(x, Tensor):   # (nn.Parameter is a Tensor subclass)
            if isinstance(y, Tensor):
                if x.array.dtype == y.array.dtype and (x.device is y.device or x.device == y.device):
                    return values
            elif type(y) in (float, int) and x.array.dtype.kind == "f":
                return x, wrap(x.device.xp.asarray(y, dtype=x.array.dtype), x.device)
        elif isinstance(y, Tensor) and type(x) in (float, int) and y.array.dtype.kind == "f":
            return wrap(y.device.xp.asarray(x, dtype=y.array.dtype), y.device), y
    anchor = next((v for v in values if isinstance(v, Tensor)), None)
    if anchor is None:
        raise TypeError(f"{op}: expected at least one tensor argument")
    dimensioned, zero_dim, scalars = [], [], []
    for v in values:
        if isinstance(v, Tensor) or backend.is_array(v):
            (dimensioned if v.ndim > 0 else zero_dim).append(
                v.dtype if isinstance(v, Tensor) else dtypes.from_numpy(v.dtype))
        elif v is not None:
            scalars.append(v)
    result = dtypes.result_type(dimensioned, zero_dim, scalars)
    tensors = [None if v is None else as_tensor_like(v, anchor, result) for v in values]
    check_same_device(op, *[t for t in tensors if t is not None])
    return [t if t is None or t.array.dtype == result.numpy else t.to(result) for t in tensors]


def sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` over the axes that were stretched to reach its shape.

    If y = broadcast(x), then dL/dx = sum of dL/dy over every copy of each element of x.
    """
    if tuple(grad.shape) == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1)
    from .ops.reduction import sum as reduce_sum
    if len(axes) == extra:   # only leading axes were added (a bias): one sum gives the shape
        return reduce_sum(grad, dim=axes)
    summed = reduce_sum(grad, dim=axes, keepdim=True) if axes else grad
    return summed.reshape(shape) if tuple(summed.shape) != tuple(shape) else summed
