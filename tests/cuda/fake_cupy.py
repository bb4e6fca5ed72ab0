"""A stand-in for cupy, so tapegrad's cuda path runs in tests on machines without a GPU.

``cupy`` below is a module named "cupy" whose arrays are numpy arrays underneath, kept
behind a type of their own (``ndarray``) that follows cupy's rules where they differ from
numpy's, so that code written only for numpy fails here as it would on a GPU:

* no implicit mixing with the host: ``numpy.asarray(a)`` (and anything that calls
  ``__array__``: numpy functions given a list of them, numba's cpu kernels, ...) raises
  cupy's TypeError; so do ``a + numpy_array``, ``cupy.where(c, a, numpy_array)``,
  ``a[...] = numpy_array`` and a numpy array handed to any function here. Python and
  numpy *scalars* mix freely, as in cupy; ``cupy.array``/``cupy.asarray`` copy host
  data in, and ``a.get()``/``cupy.asnumpy(a)`` copy it out, explicitly;
* reductions and indexing with integers give 0-d arrays, never numpy scalars, and a
  random draw without a size is a 0-d array too;
* each array lives on a device (``a.device.id``); arrays of two devices do not mix;
  ``Device(i)`` as a context makes device i current, new arrays are made on the current
  device, ``a.copy()`` copies onto it (as cupy's does), and ``cupy.asarray(a)`` returns
  ``a`` itself wherever it lives;
* only cupy's API: ``lib.stride_tricks.as_strided`` without ``writeable``, reductions
  without ``initial``/``where``, sorting only with ``kind`` None or "stable", ``ufunc.at``
  only for add/maximum/minimum and, with an index array, only the dtypes CUDA's atomics
  support (not int64), ``cupy.random.Generator`` with cupy's methods (no
  ``permutation``, no ``normal``, no ``bit_generator.state``), none of numpy 2's new
  array-API names that cupy 13 lacks, no ``errstate``.

What it proves: tapegrad's *plumbing* on the cuda path. Every operation takes its array
module from the tensor's device, never hands a device array to numpy or to a cpu numba
kernel, never mixes a host constant into device arithmetic, uses no numpy-only API
listed above, and returns results (and gradients) on the right device.

What it does not prove: anything about cupy's numerics (every value is computed by numpy,
so dtypes of mixed operations and rounding follow numpy), its kernels, streams, memory
pool or speed, nor tapegrad's numba.cuda kernels (``tapegrad/kernels/cuda``: they need a
GPU, and are checked in numba's CUDA simulator by tests/kernels/test_cuda_simulator.py).
Where a real GPU and cupy exist, tests/cuda runs on them instead of on this module.
"""
import types
import weakref

import numpy

from tapegrad.kernels.cpu import gamma_functions as gamma_kernels
from tapegrad.kernels.cpu import special as special_kernels

DEVICE_COUNT = 2


# -- devices, streams ------------------------------------------------------------------------------
class _State:
    current = 0          # the current device, as cupy.cuda.Device().id
    device_count = DEVICE_COUNT


def reset(device_count=DEVICE_COUNT):
    """Device 0 current again, and ``device_count`` devices."""
    _State.current = 0
    _State.device_count = device_count


class Device:
    """``cupy.cuda.Device``: ``Device()`` is the current one; ``with Device(1):`` makes 1
    current."""

    def __init__(self, device=None):
        self.id = _State.current if device is None else int(device)
        if not 0 <= self.id < _State.device_count:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id}")
        self._previous = []

    def __enter__(self):
        self._previous.append(_State.current)
        _State.current = self.id
        return self

    def __exit__(self, *exc):
        _State.current = self._previous.pop()

    def use(self):
        _State.current = self.id

    def synchronize(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Stream:
    """``cupy.cuda.Stream``: a context that makes itself current (nothing here is asynchronous)."""

    _current = None

    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.ptr = 0 if null else id(self)
        self._previous = []

    def __enter__(self):
        self._previous.append(Stream._current)
        Stream._current = self
        return self

    def __exit__(self, *exc):
        Stream._current = self._previous.pop()

    def synchronize(self):
        pass


_NULL_STREAM = Stream(null=True)


def _get_current_stream():
    return Stream._current or _NULL_STREAM


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return _State.device_count

    @staticmethod
    def getDevice():
        return _State.current


cuda = types.SimpleNamespace(Device=Device, Stream=Stream, runtime=_Runtime,
                             get_current_stream=_get_current_stream,
                             is_available=lambda: _State.device_count > 0)


# -- moving values in and out, and the mixing rules ----------------------------------------------
class MixingError(TypeError):
    """A numpy array met a device array (cupy raises TypeError there too)."""


def _refuse_host_array(value):
    raise MixingError(f"Unsupported type {type(value)} (fake cupy: a numpy array of shape "
                      f"{value.shape} met a device array; copy it to the device first)")


def _device_of(arrays, fallback=None, kernel=True):
    """The one device of the fake arrays in ``arrays`` (the current one if there are none).

    A ``kernel`` (anything that computes, rather than makes a view) runs on the current
    device, as cupy's do: arrays of another device are refused with cupy's message (cupy
    lets them through only with peer access between the two GPUs, and even then allocates
    the result on the current one, the wrong device for the tensor).
    """
    ids = {a._device_id for a in arrays}
    if len(ids) > 1:
        raise ValueError(f"fake cupy: arrays on devices {sorted(ids)} used in one operation")
    if ids:
        device_id = ids.pop()
        if kernel and device_id != _State.current:
            raise ValueError(f"Array device must be same as the current device: array device "
                             f"= {device_id} while current = {_State.current}")
        return device_id
    return _State.current if fallback is None else fallback


def _unwrap(value, seen, allow_host=False):
    """``value`` with each fake array replaced by its numpy array (recorded in ``seen``);
    a numpy array is refused unless ``allow_host``."""
    if isinstance(value, ndarray):
        seen.append(value)
        return value._a
    if isinstance(value, numpy.ndarray):
        if allow_host:
            return value
        _refuse_host_array(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, seen, allow_host) for v in value)
    if isinstance(value, _Ufunc):
        return value._ufunc
    return value


def _wrap(value, device_id):
    """numpy results as fake arrays on ``device_id``: arrays, and numpy scalars as 0-d arrays."""
    if isinstance(value, numpy.ndarray):
        return ndarray._from(value, device_id)
    if isinstance(value, numpy.generic):
        return ndarray._from(numpy.asarray(value), device_id)
    if isinstance(value, tuple):
        return tuple(_wrap(v, device_id) for v in value)
    if isinstance(value, list):
        return [_wrap(v, device_id) for v in value]
    return value


_NOT_IN_REDUCTIONS = ("initial", "where")
_REDUCTIONS = {"sum", "prod", "max", "min", "amax", "amin", "mean", "var", "std", "any", "all",
               "nansum", "nanprod", "nanmax", "nanmin", "nanmean", "count_nonzero"}
_SORTS = {"sort", "argsort"}


def _check_kwargs(name, kwargs):
    if name in _REDUCTIONS:
        for key in _NOT_IN_REDUCTIONS:
            if key in kwargs:
                raise TypeError(f"fake cupy: cupy.{name} has no '{key}' argument")
    if name in _SORTS and kwargs.get("kind") not in (None, "stable"):
        raise NotImplementedError(f"fake cupy: cupy.{name} supports kind None or 'stable' only, "
                                  f"got {kwargs['kind']!r}")


def _call(function, name, args, kwargs, allow_host=False):
    """``function`` (numpy's) on the numpy arrays behind the fake ones; results wrapped on the
    arguments' device; an ``out=`` argument comes back as itself."""
    _check_kwargs(name, kwargs)
    seen = []
    args_u = _unwrap(args, seen, allow_host)
    kwargs_u = {k: _unwrap(v, seen, allow_host) for k, v in kwargs.items()}
    device_id = _device_of(seen)
    result = function(*args_u, **kwargs_u)
    out = kwargs.get("out")
    if isinstance(out, ndarray) and result is out._a:
        return out
    if isinstance(out, tuple) and isinstance(result, tuple) and len(out) == len(result):
        return tuple(o if isinstance(o, ndarray) and r is o._a else _wrap(r, device_id)
                     for o, r in zip(out, result))
    return _wrap(result, device_id)


# -- the array -------------------------------------------------------------------------------------
_OWNERS = weakref.WeakValueDictionary()   # id(numpy array) -> the fake array around it


class ndarray:
    """A device array: a numpy array that only cupy's operations may touch."""

    __slots__ = ("_a", "_device_id", "__weakref__")
    __array_priority__ = 100   # as cupy's

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = numpy.empty(shape, dtype, order=order)
        self._device_id = _State.current
        _OWNERS[id(self._a)] = self

    @classmethod
    def _from(cls, array, device_id):
        known = _OWNERS.get(id(array))
        if known is not None and known._a is array and known._device_id == device_id:
            return known
        made = cls.__new__(cls)
        made._a = array
        made._device_id = device_id
        _OWNERS[id(array)] = made
        return made

    # -- what an array is
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray._from(self._a.T, self._device_id))
    mT = property(lambda self: ndarray._from(self._a.mT, self._device_id))
    real = property(lambda self: ndarray._from(self._a.real, self._device_id))
    imag = property(lambda self: ndarray._from(self._a.imag, self._device_id))

    @property
    def base(self):
        base = self._a.base
        if not isinstance(base, numpy.ndarray):
            return None
        return ndarray._from(base, self._device_id)

    @property
    def device(self):
        return Device(self._device_id)

    @property
    def __cuda_array_interface__(self):
        # Present so that tapegrad recognises a GPU array; the pointer is no GPU memory, and
        # nothing here may hand it to a real CUDA kernel.
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "strides": self._a.strides,
                "data": (0, False), "version": 3}

    # -- leaving the device, explicitly
    def get(self, stream=None, order="C", out=None, blocking=True):
        if out is not None:
            numpy.copyto(out, self._a)
            return out
        return numpy.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        numpy.copyto(self._a, arr)

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def tobytes(self, order="C"):
        return self._a.tobytes(order)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # numpy calls this for ``numpy_scalar * a`` or numpy.exp(a): cupy computes them on the
        # device, and refuses any numpy array among the operands.
        fake = getattr(cupy, ufunc.__name__)
        if method == "__call__":
            return fake(*inputs, **kwargs)
        return getattr(fake, method)(*inputs, **kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        return getattr(cupy, func.__name__)(*args, **kwargs)

    def __reduce__(self):
        return (_rebuild, (self.get(), self._device_id))

    # -- copies
    def copy(self, order="C"):
        """A copy on the *current* device (cupy's rule: this is how an array moves between GPUs)."""
        return ndarray._from(self._a.copy(order=order), _State.current)

    def __copy__(self):
        return ndarray._from(self._a.copy(), self._device_id)

    def __deepcopy__(self, memo):
        return ndarray._from(self._a.copy(), self._device_id)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        result = self._a.astype(dtype, order=order, copy=copy)
        return self if result is self._a else ndarray._from(result, self._device_id)

    # -- every other method: numpy's, on the array behind, by cupy's rules
    def __getattr__(self, name):
        if name.startswith("__"):   # never numpy's __array_interface__ & co.: no way to the host
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        method = getattr(self._a, name)   # AttributeError for names numpy lacks too
        if not callable(method):
            return _wrap(method, self._device_id)

        def bound(*args, **kwargs):
            _check_kwargs(name, kwargs)
            seen = [self]
            args_u = _unwrap(args, seen)
            kwargs_u = {k: _unwrap(v, seen) for k, v in kwargs.items()}
            device_id = _device_of(seen, kernel=name not in _VIEWS)
            result = method(*args_u, **kwargs_u)
            if result is self._a:
                return self
            return _wrap(result, device_id)
        return bound

    # -- Python protocols
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (self[i] for i in range(len(self._a)))

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        return self._a.__index__()

    def __format__(self, spec):
        return format(self._a.item(), spec) if self._a.ndim == 0 else format(str(self), spec)

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    __hash__ = None

    # -- indexing
    def _key(self, key):
        seen = [self]
        if isinstance(key, tuple):
            key_u = tuple(_unwrap(k, seen, allow_host=True) for k in key)
        else:
            key_u = _unwrap(key, seen, allow_host=True)   # cupy copies host index arrays in
        _device_of(seen, kernel=False)   # a view needs no kernel; a gathering key's copy does,
        return key_u                     # but reading stays lenient here

    def __getitem__(self, key):
        return _wrap(self._a[self._key(key)], self._device_id)

    def __setitem__(self, key, value):
        seen = [self]
        value_u = _unwrap(value, seen)
        _device_of(seen)
        self._a[self._key(key)] = value_u


# methods that give views (no kernel, so no current-device rule in cupy)
_VIEWS = {"reshape", "view", "swapaxes", "transpose", "squeeze", "ravel", "flatten_view",
          "diagonal", "get", "item", "tolist"}


def _rebuild(array, device_id):
    return ndarray._from(array, device_id)


def _operand(self, other):
    """``other`` ready for arithmetic with ``self``, or NotImplemented (for a Tensor, which
    must get its reflected operator)."""
    if isinstance(other, ndarray):
        _device_of([self, other])
        return other._a
    if isinstance(other, numpy.ndarray):
        _refuse_host_array(other)
    if isinstance(other, (bool, int, float, complex, numpy.generic)):
        return other
    if (getattr(other, "__array_ufunc__", False) is None
            or getattr(other, "__array_priority__", 0) > ndarray.__array_priority__):
        return NotImplemented
    raise TypeError(f"Unsupported type {type(other)}")


def _binary(name):
    operator = getattr(numpy.ndarray, name)

    def method(self, other):
        other_u = _operand(self, other)
        if other_u is NotImplemented:
            return NotImplemented
        result = operator(self._a, other_u)
        if result is NotImplemented:
            return NotImplemented
        return _wrap(result, self._device_id)
    method.__name__ = name
    return method


def _inplace(name):
    operator = getattr(numpy.ndarray, name)

    def method(self, other):
        other_u = _operand(self, other)
        if other_u is NotImplemented:
            return NotImplemented
        operator(self._a, other_u)
        return self
    method.__name__ = name
    return method


def _unary(name):
    operator = getattr(numpy.ndarray, name)

    def method(self):
        return _wrap(operator(self._a), self._device_id)
    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _binary(f"__r{_name}__"))
    setattr(ndarray, f"__i{_name}__", _inplace(f"__i{_name}__"))
for _name in ("lt", "le", "eq", "ne", "gt", "ge", "divmod"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", _unary(f"__{_name}__"))


# -- ufuncs ----------------------------------------------------------------------------------------
# cupy's scatter kernels (``ufunc.at`` with an index array) use CUDA's atomics, which exist
# for these dtypes only (cupy/_core/_routines_indexing.pyx, _scatter_op_single).
_ATOMIC_DTYPES = {"add": {"int32", "float16", "float32", "float64", "uint32", "uint64"},
                  "maximum": {"int32", "float32", "float64", "uint32", "uint64"},
                  "minimum": {"int32", "float32", "float64", "uint32", "uint64"}}


class _Ufunc:
    """A numpy ufunc by cupy's rules; ``at`` only where cupy has it."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout, self.nargs = ufunc.nin, ufunc.nout, ufunc.nargs
        self.types, self.identity = ufunc.types, ufunc.identity

    def __call__(self, *args, **kwargs):
        return _call(self._ufunc, self.__name__, args, kwargs)

    def outer(self, a, b, **kwargs):
        return _call(self._ufunc.outer, self.__name__, (a, b), kwargs)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        if self.__name__ not in ("add", "multiply"):
            raise NotImplementedError(f"`{self.__name__}.reduce` is not supported yet")
        return _call(self._ufunc.reduce, "reduce", (array,),
                     dict(axis=axis, dtype=dtype, out=out, keepdims=keepdims))

    def accumulate(self, array, axis=0, dtype=None, out=None):
        if self.__name__ not in ("add", "multiply"):
            raise NotImplementedError(f"`{self.__name__}.accumulate` is not supported yet")
        return _call(self._ufunc.accumulate, "accumulate", (array,),
                     dict(axis=axis, dtype=dtype, out=out))

    def at(self, a, indices, b=None):
        if self.__name__ not in _ATOMIC_DTYPES:
            raise NotImplementedError(f"`{self.__name__}.at` is not supported yet")
        if not isinstance(a, ndarray):
            raise TypeError(f"fake cupy: {self.__name__}.at needs a cupy array, got {type(a)}")
        key = a._key(indices)
        parts = key if isinstance(key, tuple) else (key,)
        advanced = any(isinstance(k, (numpy.ndarray, list)) for k in parts)
        if advanced and a.dtype.name not in _ATOMIC_DTYPES[self.__name__]:
            raise TypeError(f"scatter_{self.__name__.replace('imum', '')} only supports "
                            f"{', '.join(sorted(_ATOMIC_DTYPES[self.__name__]))} as data type "
                            f"(fake cupy: got {a.dtype})")
        seen = [a]
        b_u = _unwrap(b, seen)
        _device_of(seen)
        self._ufunc.at(a._a, key, b_u)


# -- the module ------------------------------------------------------------------------------------
def _creation(function, name):
    """``cupy.array``/``asarray``/``asanyarray``: host data is copied onto the current device."""
    def create(obj, dtype=None, *args, **kwargs):
        if isinstance(obj, ndarray):
            if name == "array" and kwargs.get("copy", True):
                return ndarray._from(numpy.array(obj._a, dtype=dtype, *args, **kwargs),
                                     _State.current)
            return obj.astype(dtype or obj.dtype, copy=False)
        seen = []
        obj_u = _unwrap(obj, seen, allow_host=True)
        if seen:   # a list of device arrays: cupy refuses it (no implicit transfer)
            raise TypeError("fake cupy: cupy.array of a list holding cupy arrays; use cupy.stack")
        return ndarray._from(numpy.array(obj_u, dtype=dtype, *args, **kwargs), _State.current)
    create.__name__ = name
    return create


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return numpy.asarray(a, order=order)


def get_array_module(*args):
    return cupy if any(isinstance(a, ndarray) for a in args) else numpy


def _as_strided(x, shape=None, strides=None):
    """cupy.lib.stride_tricks.as_strided: no ``writeable`` argument (cupy arrays always are)."""
    view = numpy.lib.stride_tricks.as_strided(x._a, shape=shape, strides=strides)
    return ndarray._from(view, x._device_id)


# numpy names that cupy (13, the version tapegrad's cuda extra asks for) does not have: numpy
# 2's new array-API spellings, and numpy's host-only machinery.
NOT_IN_CUPY = {
    "errstate", "seterr", "geterr", "nditer", "ndenumerate", "ndindex", "frompyfunc",
    "fromfunction", "memmap", "set_printoptions", "printoptions", "ma", "char", "rec", "matrix",
    "asmatrix", "object_", "str_", "bytes_", "void", "concat", "permute_dims",
    "matrix_transpose", "vecdot", "matvec", "vecmat", "cumulative_sum", "cumulative_prod",
    "unique_all", "unique_counts", "unique_inverse", "unique_values", "bitwise_count", "isdtype",
    "astype", "pow", "acos", "asin", "atan", "atan2", "acosh", "asinh", "atanh",
    "bitwise_left_shift", "bitwise_right_shift", "bitwise_invert",
}
NOT_IN_CUPY_LINALG = {"eig", "eigvals", "multi_dot", "cond", "matrix_norm", "vector_norm",
                      "vecdot", "matrix_transpose", "outer", "cross", "diagonal", "trace",
                      "svdvals"}


class _Module(types.ModuleType):
    """A module whose missing attributes are numpy's, by cupy's rules (see NOT_IN_CUPY)."""

    def __init__(self, name, source, missing):
        super().__init__(name)
        self._source, self._missing = source, missing

    def __getattr__(self, name):
        if name.startswith("__") or name in self._missing or not hasattr(self._source, name):
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}' "
                                 f"(fake cupy, following cupy's API)")
        value = getattr(self._source, name)
        if isinstance(value, types.ModuleType):   # numpy.fft, numpy.testing, ...: not faked
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}' (the fake "
                                 f"cupy does not provide numpy's submodule {value.__name__})")
        if isinstance(value, numpy.ufunc):
            made = _Ufunc(value)
        elif callable(value) and not isinstance(value, type):
            def made(*args, _f=value, _n=name, **kwargs):
                return _call(_f, _n, args, kwargs)
            made.__name__ = name
        else:
            made = value   # dtypes, constants, numpy.finfo and other host-side helpers
        setattr(self, name, made)
        return made


cupy = _Module("cupy", numpy, NOT_IN_CUPY)
cupy.ndarray = ndarray
cupy.ufunc = _Ufunc
cupy.cuda = cuda
cupy.asnumpy = asnumpy
cupy.get_array_module = get_array_module
for _name in ("array", "asarray", "asanyarray"):
    setattr(cupy, _name, _creation(getattr(numpy, _name), _name))
for _name in ("dtype", "finfo", "iinfo", "promote_types", "can_cast", "issubdtype", "isscalar",
              "broadcast_shapes", "ndim", "shape"):
    setattr(cupy, _name, getattr(numpy, _name))


def _unravel_index(indices, shape, order="C"):
    """cupy.unravel_index: the indices must be a cupy array (cupy asks numpy's can_cast
    about them, and numpy 2 refuses a Python int there)."""
    if not isinstance(indices, ndarray):
        raise TypeError(f"fake cupy: unravel_index needs a cupy array of indices, got "
                        f"{type(indices).__name__} (cupy passes it to numpy's can_cast)")
    return _call(numpy.unravel_index, "unravel_index", (indices, shape), {"order": order})


cupy.unravel_index = _unravel_index


def _result_type(*arrays_and_dtypes):
    return numpy.result_type(*(a.dtype if isinstance(a, ndarray) else a
                               for a in arrays_and_dtypes))


cupy.result_type = _result_type
cupy.linalg = _Module("cupy.linalg", numpy.linalg, NOT_IN_CUPY_LINALG)
cupy.linalg.LinAlgError = numpy.linalg.LinAlgError
cupy.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(as_strided=_as_strided))


# -- random ----------------------------------------------------------------------------------------
class _BitGenerator:
    """cupy's bit generators have a ``state()`` method (a device pointer), not numpy's dict."""

    def __init__(self, seed):
        self._seed = seed

    def state(self):
        return 0


class Generator:
    """``cupy.random.Generator``, with cupy's methods and signatures (numpy's stream of values)."""

    def __init__(self, seed=None):
        self._rng = numpy.random.default_rng(seed)
        self.bit_generator = _BitGenerator(seed)

    @staticmethod
    def _made(values, dtype=None):
        values = numpy.asarray(values)
        return ndarray._from(values if dtype is None else values.astype(dtype, copy=False),
                             _State.current)

    def random(self, size=None, dtype=numpy.float64, out=None):
        if numpy.dtype(dtype).char not in "fd":
            raise TypeError(f"Unsupported dtype {numpy.dtype(dtype).name} for random")
        return self._made(self._rng.random(size, dtype=numpy.dtype(dtype)))

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        if numpy.dtype(dtype).char not in "fd":
            raise TypeError(f"Unsupported dtype {numpy.dtype(dtype).name} for standard_normal")
        return self._made(self._rng.standard_normal(size, dtype=numpy.dtype(dtype)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        return self._made(self._rng.uniform(low, high, size), dtype)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        return self._made(self._rng.integers(low, high, size, dtype=dtype, endpoint=endpoint))

    def standard_exponential(self, size=None, dtype=numpy.float64, method="inv", out=None):
        return self._made(self._rng.standard_exponential(size), dtype)

    def exponential(self, scale=1.0, size=None):
        return self._made(self._rng.exponential(scale, size))

    def poisson(self, lam=1.0, size=None):
        return self._made(self._rng.poisson(lam, size))

    def binomial(self, n, p, size=None):
        return self._made(self._rng.binomial(n, p, size))

    def beta(self, a, b, size=None, dtype=numpy.float64):
        return self._made(self._rng.beta(a, b, size), dtype)

    def gamma(self, shape, scale=1.0, size=None):
        return self._made(self._rng.gamma(shape, scale, size))

    def standard_gamma(self, shape, size=None, dtype=numpy.float64, out=None):
        return self._made(self._rng.standard_gamma(shape, size), dtype)


cupy.random = types.SimpleNamespace(Generator=Generator,
                                    default_rng=lambda seed=None: Generator(seed))


# -- cupyx: the functions of it that tapegrad may use -----------------------------------------
def _erf(x):
    """cupyx.scipy.special.erf, elementwise (numpy has no erf: Python's math.erf per value)."""
    if not isinstance(x, ndarray):
        raise TypeError(f"fake cupyx: erf needs a cupy array, got {type(x)}")
    import math
    values = numpy.vectorize(math.erf, otypes=[numpy.float64])(x._a).astype(x.dtype)
    return ndarray._from(numpy.asarray(values), x._device_id)


def _special(cpu_function):
    """cupyx.scipy.special's gammaln, digamma, polygamma: elementwise, computed on the host
    by tapegrad's own CPU kernels (numpy has none of them)."""
    def special(*args):
        *leading, x = args
        if not isinstance(x, ndarray):
            raise TypeError(f"fake cupyx: {cpu_function.__name__} needs a cupy array, got "
                            f"{type(x)}")
        if not all(isinstance(n, ndarray) for n in leading):   # cupy's polygamma calls n.astype
            raise AttributeError(f"fake cupyx: {cpu_function.__name__} needs its integer "
                                 f"arguments as cupy arrays, got {[type(n) for n in leading]}")
        values = cpu_function(*(n._a for n in leading), x._a)
        return ndarray._from(numpy.asarray(values, dtype=x.dtype), x._device_id)
    return special


def _compiled_when_called(name):
    """tapegrad's CPU ufunc ``name`` (kernels/cpu/special.py), compiled on its first call."""
    def kernel(x):
        return special_kernels.ufunc(name)(x)
    kernel.__name__ = name
    return kernel


def _scatter_add(a, slices, value):
    """cupyx.scatter_add: ``cupy.add.at`` (the same kernel, the same dtype rule)."""
    cupy.add.at(a, slices, value)


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter_add
cupyx.scipy = types.ModuleType("cupyx.scipy")
cupyx.scipy.special = types.ModuleType("cupyx.scipy.special")
cupyx.scipy.special.erf = _erf
cupyx.scipy.special.gammaln = _special(gamma_kernels.lgamma)
cupyx.scipy.special.digamma = _special(gamma_kernels.digamma)
cupyx.scipy.special.polygamma = _special(gamma_kernels.polygamma)
cupyx.scipy.special.erfc = _special(_compiled_when_called("erfc"))
cupyx.scipy.special.erfinv = _special(_compiled_when_called("erfinv"))
MODULES = {"cupyx": cupyx, "cupyx.scipy": cupyx.scipy, "cupyx.scipy.special": cupyx.scipy.special}
