"""Data types and PyTorch's type-promotion rules.

A tapegrad dtype names a numpy dtype (cupy uses the same ones). Promotion follows
PyTorch, not numpy: int64 + float32 is float32 (numpy says float64), and a Python
float never up-casts a float32 tensor.
"""
import numpy


class dtype:
    """A tensor element type, printed as ``tapegrad.float32``."""

    __slots__ = ("name", "numpy", "category", "is_floating_point", "itemsize")

    def __init__(self, name, numpy_dtype, category):
        self.name = name
        self.numpy = numpy.dtype(numpy_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating point: the promotion ladder
        self.is_floating_point = category == 2
        self.itemsize = self.numpy.itemsize

    def __repr__(self):
        return f"tapegrad.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))


bool_ = dtype("bool", numpy.bool_, 0)
uint8 = dtype("uint8", numpy.uint8, 1)
int8 = dtype("int8", numpy.int8, 1)
int16 = dtype("int16", numpy.int16, 1)
int32 = dtype("int32", numpy.int32, 1)
int64 = dtype("int64", numpy.int64, 1)
float16 = dtype("float16", numpy.float16, 2)
float32 = dtype("float32", numpy.float32, 2)
float64 = dtype("float64", numpy.float64, 2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "short": int16})

_default_float = float32

# PyTorch's legacy names of the tensor types ("torch.FloatTensor" is a float32 tensor)
LEGACY_TYPE_NAMES = {float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor",
                     int64: "LongTensor", int32: "IntTensor", int16: "ShortTensor",
                     int8: "CharTensor", uint8: "ByteTensor", bool_: "BoolTensor"}
_BY_LEGACY_NAME = {name: d for d, name in LEGACY_TYPE_NAMES.items()}


def from_legacy_type_name(name):
    """The dtype of 'torch.FloatTensor', 'tapegrad.FloatTensor', 'torch.cuda.FloatTensor'…"""
    short = name.rsplit(".", 1)[-1]
    if short not in _BY_LEGACY_NAME:
        raise TypeError(f"unknown tensor type {name!r}; known: "
                        f"{', '.join(sorted(_BY_LEGACY_NAME))}")
    return _BY_LEGACY_NAME[short]


def from_name(name):
    return _BY_NAME[name]


def from_numpy(numpy_dtype):
    """The tapegrad dtype of a numpy dtype; a clear error for types tapegrad lacks."""
    try:
        return _BY_NUMPY[numpy_dtype]
    except KeyError:
        pass
    try:
        return _BY_NUMPY[numpy.dtype(numpy_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"tapegrad has no dtype for numpy's {numpy_dtype}; "
            f"supported: {', '.join(d.name for d in ALL)}") from None


def as_dtype(spec):
    """A tapegrad dtype from a dtype, a numpy dtype, a Python type or a name."""
    if spec is None or isinstance(spec, dtype):
        return spec
    if spec is float:
        return float64  # the Python type float means float64, as in PyTorch and numpy
    if spec is int:
        return int64
    if spec is bool:
        return bool_
    if isinstance(spec, str):
        if spec in _BY_NAME:
            return _BY_NAME[spec]
        raise TypeError(f"unknown dtype name {spec!r}")
    return from_numpy(spec)


def set_default_dtype(d):
    """Make ``d`` (float32 or float64; float16 too) the dtype of new floating-point tensors."""
    global _default_float
    d = as_dtype(d)
    if d is None or not d.is_floating_point:
        raise TypeError(f"set_default_dtype() only accepts floating point dtypes, got {d}")
    _default_float = d


def get_default_dtype():
    return _default_float


def promote_pair(a, b):
    """The smallest dtype that holds both ``a`` and ``b`` within the higher category."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return from_numpy(numpy.promote_types(a.numpy, b.numpy))


def result_type(tensor_dtypes, zero_dim_dtypes=(), scalars=()):
    """PyTorch's promotion: dimensioned tensors, then 0-d tensors, then Python scalars.

    A lower tier only matters when it brings a higher category (float over int over bool):
    ``int_tensor + 2.5`` is the default float dtype, ``float32_tensor + 2.5`` stays float32.
    """
    result = None
    for d in tensor_dtypes:
        result = d if result is None else promote_pair(result, d)
    zero_dim = None
    for d in zero_dim_dtypes:
        zero_dim = d if zero_dim is None else promote_pair(zero_dim, d)
    if zero_dim is not None and (result is None or zero_dim.category > result.category):
        result = zero_dim
    for value in scalars:
        category = scalar_category(value)
        if result is None or category > result.category:
            result = (bool_, int64, _default_float)[category]
    return result


def scalar_category(value):
    if isinstance(value, (bool, numpy.bool_)):
        return 0
    if isinstance(value, (int, numpy.integer)):
        return 1
    if isinstance(value, (float, numpy.floating)):
        return 2
    raise TypeError(f"tapegrad cannot use a {type(value).__name__} ({value!r}) as a number")


def wrap_integer(value, numpy_dtype):
    """A Python int converted to an integer dtype as C and PyTorch convert it: modulo 2ⁿ
    (-1 into uint8 is 255, 200 into int8 is -56). Anything else is returned unchanged.
    Ops that store a number into a tensor check it first with ``stored_scalar``."""
    if type(value) is not int and not isinstance(value, numpy.integer):
        return value
    numpy_dtype = numpy.dtype(numpy_dtype)
    if numpy_dtype.kind not in "iu":
        return value
    value = int(value)
    bits = 8 * numpy_dtype.itemsize
    low, high = (-2 ** (bits - 1), 2 ** (bits - 1)) if numpy_dtype.kind == "i" else (0, 2 ** bits)
    if low <= value < high:
        return value
    if not -2 ** 63 <= value < 2 ** 64:
        raise RuntimeError(f"tapegrad: the value {value} cannot be converted to "
                           f"{numpy_dtype} without overflow")
    value %= 2 ** bits
    return value - 2 ** bits if value >= high else value


def stored_scalar(op, value, numpy_dtype, strict_unsigned=False):
    """A number about to be written into a tensor of ``numpy_dtype`` (fill_, full,
    masked_fill, pad, …), checked as PyTorch checks it: the value must lie in the dtype's
    range, else a RuntimeError naming the op, the value and the dtype.

    Into integers a float must be finite and within [min, max] (it then truncates: -1.5
    into int8 is -1, into uint8 it is refused); an int may also be negative down to -max
    for an unsigned dtype, wrapping around (-1 into uint8 is 255) unless ``strict_unsigned``.
    Into floats ±∞ and NaN fit, finite values beyond ±max do not (1e30 into float16).
    Into bool everything fits. Returns the value ready for the backend."""
    numpy_dtype = numpy.dtype(numpy_dtype)
    kind = numpy_dtype.kind
    if kind == "b":
        return bool(value)
    if isinstance(value, (bool, numpy.bool_)):
        return value
    if kind in "iu":
        info = numpy.iinfo(numpy_dtype)
        if isinstance(value, (int, numpy.integer)):
            value = int(value)
            low = -int(info.max) if kind == "u" and not strict_unsigned else int(info.min)
            if low <= value <= int(info.max):
                return wrap_integer(value, numpy_dtype)
        elif isinstance(value, (float, numpy.floating)) and float(info.min) <= value <= float(info.max):
            return int(value)   # truncates toward zero, as C and PyTorch do
    elif kind == "f":
        if not isinstance(value, (int, float, numpy.integer, numpy.floating)):
            return value
        limit = float(numpy.finfo(numpy_dtype).max)
        try:
            number = float(value)
        except OverflowError:   # an int beyond any float
            number = float("inf")
        if number != number or -limit <= number <= limit or (
                isinstance(value, (float, numpy.floating)) and abs(number) == float("inf")):
            return value
    else:
        return value
    raise RuntimeError(f"{op}: value cannot be converted to type {numpy_dtype} without "
                       f"overflow (the value {value!r})")


def check_stored_array(op, array, numpy_dtype, data):
    """``stored_scalar``'s check for the numbers of ``data`` (nested lists), held in the host
    ``array``, about to become a tensor of the integer ``numpy_dtype``
    (``tensor([1.0, -2.0], dtype=uint8)`` is refused, ``tensor([1.0, -1], dtype=uint8)`` is
    [1, 255]: each number is checked as what it is, an int or a float)."""
    if array.size == 0 or array.dtype.kind not in "iuf":
        return
    try:
        if array.dtype.kind == "f" and bool(numpy.isnan(array).any()):
            stored_scalar(op, float("nan"), numpy_dtype)
        for value in (array.min(), array.max()):
            stored_scalar(op, value.item(), numpy_dtype)
    except RuntimeError:   # the extremes do not fit as floats: check each number as given
        _check_each(op, data, numpy_dtype)
        return


def _check_each(op, data, numpy_dtype):
    if isinstance(data, (list, tuple)):
        for item in data:
            _check_each(op, item, numpy_dtype)
    elif isinstance(data, (int, float)):
        stored_scalar(op, data, numpy_dtype)
    elif hasattr(data, "tolist"):   # a numpy scalar or array (or a tensor) inside the list
        _check_each(op, data.tolist(), numpy_dtype)


class finfo:
    """The limits of a floating-point dtype (``finfo()``: the default dtype's), as numbers.

    ``eps`` is the gap between 1 and the next float, ``tiny`` (= ``smallest_normal``) the
    smallest positive normal number, ``resolution`` 10 to the minus the decimal digits held.
    """

    def __init__(self, type=None):
        d = get_default_dtype() if type is None else as_dtype(type)
        if not d.is_floating_point:
            raise TypeError(f"finfo() needs a floating point dtype, got {d}; use iinfo() for "
                            f"integers")
        info = numpy.finfo(d.numpy)
        self.dtype = d.name
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype: ``min``, ``max`` and ``bits``."""

    def __init__(self, type):
        d = as_dtype(type)
        if d is None or d.category != 1:
            raise TypeError(f"iinfo() needs an integer dtype, got {d}; use finfo() for floats")
        info = numpy.iinfo(d.numpy)
        self.dtype = d.name
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
