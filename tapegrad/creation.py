"""Making tensors: from data (``tensor``, ``from_numpy``), filled (``zeros``, ``full``,
``eye``, ``arange``…) and random (``rand``, ``randn``, ``randint``).

Floating-point tensors get the default dtype (float32) unless told otherwise; a numpy
array keeps its own dtype, so a float64 array becomes a float64 tensor, as in PyTorch.
"""
import operator

from . import backend, dtypes
from .autograd.ops.factories import shape_from_sizes
from .autograd.tensor import Tensor, array_from_data, legacy_array, wrap
from .random import rng_for


_default_device = None   # None: the cpu


def set_default_device(device):
    """Where creation functions put new tensors when given no ``device=`` (None: the cpu)."""
    global _default_device
    _default_device = None if device is None else backend.as_device(device)


def get_default_device():
    return _default_device or backend.CPU


def _target(device):
    return backend.as_device(_default_device if device is None else device)


def _finish(array, device, requires_grad):
    t = wrap(array, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype):
    return dtypes.as_dtype(dtype) or dtypes.get_default_dtype()


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors)."""
    dtype = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        target = _target(device) if device is not None else data.device
    else:
        target = _target(device)
    return _finish(array_from_data(data, dtype, target), target, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, without a copy when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if backend.is_array(data) and dtype is None and device is None:
        return wrap(data, backend.device_of_array(data))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with a numpy array (changes to one show in the other)."""
    if not backend.is_array(array):
        raise TypeError(f"from_numpy() expects a numpy array, got {type(array).__name__}")
    dtypes.from_numpy(array.dtype)  # raises for dtypes tapegrad lacks
    return wrap(array, backend.device_of_array(array))


def _filled(op, size, fill, dtype, device, requires_grad):
    shape = shape_from_sizes(op, size)
    device = _target(device)
    if dtype is None:
        dtype = dtypes.result_type((), (), (fill,)) if fill is not None else None
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    xp = device.xp
    if fill is not None:
        fill = dtypes.stored_scalar(op, fill, dtype.numpy)   # -1 into uint8: 255; 256 refused
    array = xp.empty(shape, dtype=dtype.numpy) if fill is None else xp.full(shape, fill, dtype=dtype.numpy)
    return _finish(array, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled("zeros", size, 0.0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled("ones", size, 1.0, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _filled("empty", size, None, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled("full", (size,) if not isinstance(size, (tuple, list)) else (tuple(size),),
                   fill_value, dtype, device, requires_grad)


def _like(input, dtype, device):
    return (tuple(input.shape), dtypes.as_dtype(dtype) or input.dtype,
            input.device if device is None else device)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return zeros(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return ones(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return empty(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return _filled("full_like", (tuple(shape),), fill_value, dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n × m identity matrix (m = n by default)."""
    for name, value in (("n", n), ("m", m)):
        if value is not None and operator.index(value) < 0:
            raise RuntimeError(f"eye: {name} must be non-negative, got {value}")
    device = _target(device)
    array = device.xp.eye(n, m, dtype=_float_dtype(dtype).numpy)
    return _finish(array, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values start, start + step, … below end; integer arguments give an int64 tensor."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: the bounds start={start} and end={end} are inconsistent "
                           f"with the sign of step={step}")
    if dtype is None:
        dtype = dtypes.result_type((), (), (start, end, step))
    dtype = dtypes.as_dtype(dtype)
    device = _target(device)
    array = device.xp.arange(start, end, step, dtype=dtype.numpy)
    return _finish(array, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end, both included."""
    if operator.index(steps) < 0:
        raise RuntimeError(f"linspace: the number of steps must be non-negative, got {steps}")
    device = _target(device)
    array = device.xp.linspace(start, end, int(steps), dtype=_float_dtype(dtype).numpy)
    return _finish(array, device, requires_grad)


def _random(op, size, dtype, device, requires_grad, generator, draw):
    shape = shape_from_sizes(op, size)
    dtype = _float_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"{op}: dtype must be floating point, got {dtype}")
    device = _target(device)
    rng = rng_for(device, generator)
    draw_dtype = dtype.numpy if dtype.itemsize >= 4 else dtypes.float32.numpy
    array = draw(rng, shape, draw_dtype)
    if array.dtype != dtype.numpy:
        array = array.astype(dtype.numpy)
    return _finish(array, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Samples of the standard normal distribution N(0, 1)."""
    return _random("randn", size, dtype, device, requires_grad, generator,
                   lambda rng, shape, d: rng.standard_normal(shape, dtype=d))


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Samples of the uniform distribution on [0, 1)."""
    return _random("rand", size, dtype, device, requires_grad, generator,
                   lambda rng, shape, d: rng.random(shape, dtype=d))


def randn_like(input, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None):
    """Integers drawn uniformly from [low, high); ``randint(high, size)`` means low = 0."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: size must be given as a tuple, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"randint: high ({high}) must be greater than low ({low})")
    shape = shape_from_sizes("randint", (size,) if isinstance(size, (tuple, list)) else (size,))
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    device = _target(device)
    array = rng_for(device, generator).integers(low, high, size=shape, dtype=dtypes.int64.numpy)
    return _finish(array.astype(dtype.numpy, copy=False), device, False)


def randperm(n, dtype=None, device=None, generator=None):
    """A random permutation of 0, 1, …, n - 1."""
    device = _target(device)
    rng = rng_for(device, generator)
    if device.type == "cpu":
        array = rng.permutation(int(n))
    else:   # cupy's Generator has no permutation: the order that sorts n uniform draws
        array = device.xp.argsort(rng.random(int(n)))
    return _finish(array.astype((dtypes.as_dtype(dtype) or dtypes.int64).numpy), device, False)


# -- PyTorch's legacy typed constructors: tapegrad.LongTensor([1, 2]), FloatTensor(2, 3) ------
class _LegacyTensorType(type):
    """A tensor type of one dtype, as PyTorch's legacy ``torch.FloatTensor``: calling it makes
    a tensor of data or of zeros in the given sizes (``Tensor()``'s rules), and
    ``isinstance(x, FloatTensor)`` is true for a float32 tensor on the cpu."""

    def __call__(cls, *data_or_size, device=None):
        device = backend.as_device(device)
        return wrap(legacy_array(cls.__name__, data_or_size, cls.dtype, device), device)

    def __instancecheck__(cls, value):
        return isinstance(value, Tensor) and value.dtype is cls.dtype and value.device.type == "cpu"


class FloatTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.float32


class DoubleTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.float64


class HalfTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.float16


class LongTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.int64


class IntTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.int32


class ShortTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.int16


class CharTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.int8


class ByteTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.uint8


class BoolTensor(metaclass=_LegacyTensorType):
    dtype = dtypes.bool_


def set_default_tensor_type(tensor_type):
    """PyTorch's older ``set_default_dtype``: ``set_default_tensor_type(tapegrad.DoubleTensor)``
    (or 'torch.DoubleTensor') makes float64 the default dtype. (A cuda type's device is not
    taken: ``set_default_device`` says where new tensors go.)"""
    dtype = (dtypes.from_legacy_type_name(tensor_type) if isinstance(tensor_type, str)
             else getattr(tensor_type, "dtype", None))
    if dtype is None or not dtype.is_floating_point:
        raise TypeError(f"set_default_tensor_type: expected a floating-point tensor type such as "
                        f"tapegrad.DoubleTensor or 'torch.FloatTensor', got {tensor_type!r}")
    dtypes.set_default_dtype(dtype)
