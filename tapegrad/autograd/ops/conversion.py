"""Changing a tensor's dtype or device: recorded ops whose backward changes the gradient back.
"""
from ... import backend, dtypes
from ..tape import record
from ..tensor import Tensor, wrap
from .declare import operation


@operation()
def cast(input, dtype):
    """y = x as another dtype;  dy/dx = 1 (the gradient is cast back to x's dtype)"""
    dtype = dtypes.as_dtype(dtype)
    if input.array.dtype == dtype.numpy:
        return input
    result = _converted(input.array, dtype.numpy)
    if not (dtype.is_floating_point and input.dtype.is_floating_point):
        return wrap(result, input.device)  # integer results carry no gradient
    source_dtype = input.dtype
    def backward(ctx, grad):
        return cast(grad, source_dtype)
    return record("cast", result, (input,), backward)


def _converted(array, dtype):
    """``array`` as ``dtype``, laid out as PyTorch lays out such a copy: with the strides'
    order of the original, made dense (numpy's "K" puts an expanded dim innermost, where
    PyTorch keeps the row-major order among the dims it cannot rank)."""
    if array.flags.c_contiguous or array.flags.f_contiguous or 0 not in array.strides:
        return array.astype(dtype)   # (numpy's "K" is PyTorch's order here)
    order = _dense_order(array.shape, array.strides)
    result = array.transpose(order).astype(dtype, order="C")
    return result.transpose(sorted(range(array.ndim), key=order.__getitem__))


def _dense_order(shape, strides):
    """The dims from outermost to innermost, ranked by stride as PyTorch ranks them for a
    dense copy: an insertion sort from the innermost dim out, in which a stride of 0 ranks
    with no dim (the row-major order stays) and of equal strides the larger dim goes out."""
    def should_swap(inner, outer):   # 1: ``inner`` belongs outside ``outer``
        a, b = strides[inner], strides[outer]
        if a == 0 or b == 0:
            return 0
        if a != b:
            return 1 if a > b else -1
        return 1 if shape[inner] > shape[outer] else 0
    perm = list(range(len(shape) - 1, -1, -1))   # innermost first
    for i in range(1, len(perm)):
        moving = i
        for j in range(i - 1, -1, -1):
            swap = should_swap(perm[j], perm[moving])
            if swap > 0:
                perm[j], perm[moving] = perm[moving], perm[j]
                moving = j
            elif swap < 0:
                break
    return perm[::-1]


@operation()
def to_device(input, device):
    """y = x on another device;  dy/dx = 1 (the gradient is moved back to x's device)"""
    target = backend.as_device(device)
    if input.device == target:
        return input
    _ = target.xp  # raises a clear error now if cupy or a GPU is missing
    source = input.device
    moved = backend.to_device(input.array, target)
    def backward(ctx, grad):
        return to_device(grad, source)
    out = record("to_device", moved, (input,), backward)
    out.device = target
    return out


@operation(method=True, composite=True)
def to(input, *args, dtype=None, device=None, non_blocking=False, copy=False):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)``, as in PyTorch."""
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (str, backend.device)):
            device = arg
        else:
            dtype = arg
    result = input
    if device is not None:
        result = to_device(result, device)
    if dtype is not None:
        result = cast(result, dtype)
    if copy and result is input:
        from .shape import clone
        result = clone(input)
    return result


@operation(method=True, composite=True)
def cpu(input):
    return to_device(input, "cpu")


@operation(method=True, composite=True)
def cuda(input, device=None):
    return to_device(input, "cuda" if device is None else
                     device if isinstance(device, (str, backend.device)) else f"cuda:{device}")


@operation(method=True, composite=True)
def float(input):
    return cast(input, dtypes.float32)


@operation(method=True, composite=True)
def double(input):
    return cast(input, dtypes.float64)


@operation(method=True, composite=True)
def half(input):
    return cast(input, dtypes.float16)


@operation(method=True, composite=True)
def long(input):
    return cast(input, dtypes.int64)


@operation(method=True, composite=True)
def int(input):
    return cast(input, dtypes.int32)


@operation(method=True, composite=True)
def bool(input):
    return cast(input, dtypes.bool_)


@operation(method=True, composite=True)
def type_as(input, other):
    if not hasattr(other, "dtype"):
        raise TypeError(f"type_as: other must be a Tensor, got {type(other).__name__} ({other!r})")
    return cast(input, other.dtype)
