"""The backend contract: every array operation tapegrad computes with, in one list.

A device's ``xp`` (``tensor.device.xp``) is a ``Namespace``: the operations below, and no
others, as attributes. Names and meanings follow the Python array API standard (2023.12)
wherever it has the operation, so a backend is any library that implements the standard,
plus the ``EXTENSIONS`` (each with the reason the standard does not cover it). numpy (cpu)
and cupy (cuda) are the two backends; ``numpy_namespace`` and ``cupy_namespace`` build
theirs, filling in the few names that numpy 1.x or cupy 13 spell the old way.

Beside the functions, a namespace answers the questions tapegrad would otherwise ask of a
module's name: ``is_gpu`` (the arrays live on a CUDA device: the cuda kernels and atomic
scatter-adds apply) and ``numba_cpu`` (the arrays are host numpy arrays, so the numba
loops of ``kernels/cpu`` may run on them).

Arrays themselves are used through the standard's array object (operators, indexing,
``shape``, ``dtype``, ``ndim``, ``size``, ``T``, ``mT``) and the methods of
``ARRAY_EXTENSIONS``, which numpy and cupy arrays share.

tests/backend/test_contract.py runs every gradcheck case on a backend that refuses anything
not listed here, so the lists are complete: an operation that uses more fails a test.
"""
import contextlib
import functools
import types

# -- the standard's names that tapegrad uses (array API 2023.12) ---------------------------------
STANDARD = (
    # creation
    "arange", "asarray", "empty", "eye", "full", "linspace", "ones", "tril", "triu", "zeros",
    "zeros_like",
    # data types
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32",
    "float64", "finfo", "iinfo", "inf",
    # elementwise
    "abs", "add", "bitwise_and", "bitwise_invert", "bitwise_or", "bitwise_xor", "ceil", "clip",
    "cos", "divide", "equal", "exp", "expm1", "floor", "floor_divide", "greater",
    "greater_equal", "isfinite", "isnan", "less", "less_equal", "log", "log1p", "logical_and",
    "logical_not", "logical_or", "maximum", "minimum", "multiply", "negative", "not_equal",
    "pow", "remainder", "round", "sign", "sin", "sqrt", "square", "subtract", "tanh", "trunc",
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_left_shift",
    "bitwise_right_shift", "copysign", "cosh", "hypot", "log10", "log2", "logaddexp",
    "logical_xor", "nextafter", "signbit", "sinh", "tan",
    # indexing, searching, sorting
    "argmax", "argmin", "argsort", "nonzero", "searchsorted", "take", "where",
    # manipulation
    "broadcast_to", "concat", "expand_dims", "flip", "permute_dims", "stack", "tile",
    # statistics and utilities
    "all", "any", "cumulative_sum", "sum",
    # linear algebra
    "matmul",
)
# the standard's linalg extension: xp.linalg.*
STANDARD_LINALG = ("cholesky", "eigvalsh", "outer", "qr", "solve", "vector_norm")

# -- what the standard lacks, and why tapegrad needs it -------------------------------------------
EXTENSIONS = {
    "add_at": "scatter-add where positions repeat (index backward, max-unpool): numpy's add.at, "
              "cupy's atomic add.at",
    "argpartition": "top-k and k-th value in linear time; the standard only sorts fully",
    "argwhere": "the positions of nonzero values as one (n, ndim) array (torch.nonzero)",
    "as_strided": "strided views of one buffer: im2col's windows without a copy",
    "ascontiguousarray": "a C-ordered array, copied only when it is not one (GEMMs and numba "
                         "loops need C order)",
    "bincount": "a one-pass scatter-sum on the host (numpy's faster add.at)",
    "broadcast_shapes": "the broadcast of shapes without arrays (standard only from 2025.12)",
    "copyto": "write into an existing array with broadcasting, no temporary (reused buffers)",
    "default_rng": "a seeded random generator on the device (the standard has no random)",
    "diagonal": "a diagonal with numpy's axis arguments (the standard's linalg.diagonal is "
                "missing from cupy 13)",
    "einsum": "tensor contractions by subscripts (torch.einsum)",
    "erf": "the error function (exact GELU): a numba ufunc on the cpu, cupy's own on a GPU",
    "errstate": "silence floating-point warnings where inf and nan are the intended answer "
                "(cupy never warns: a no-op there)",
    "float16": "half precision, which PyTorch has and the standard does not require",
    "fmod": "the remainder with the dividend's sign, as C's fmod (torch.fmod); the standard's "
            "remainder has the divisor's",
    "isclose": "elementwise closeness with rtol and atol (torch.isclose)",
    "isneginf": "-inf tests for attention masks in one call",
    "may_share_memory": "whether a result is a view of an input (autograd tracks views)",
    "pad": "edge, reflect and constant padding of images (data transforms, explain metrics)",
    "scipy_special": "scipy.special's function of a name where the backend has one (cupy's "
                     "lgamma and co.; None on numpy: tapegrad's numba ufuncs compute those)",
    "reciprocal": "1/x in one pass, in place with out= (standard only from 2024.12)",
    "swapaxes": "torch.transpose's swap of two axes, without building a permutation",
    "take_along_axis": "gathers along an axis (standard only from 2024.12)",
    "unique": "values, inverse and counts in one call (the standard splits it into unique_* "
              "functions that cupy 13 lacks)",
    "unravel_index": "a flat position as coordinates (gradcheck's finite differences)",
    # device plumbing, for the kernels of kernels/cuda and their scratch buffers
    "current_device": "the index of the GPU new arrays go to (None on the host)",
    "current_stream": "the stream kernels are queued on (cupy's current stream; None on the "
                      "host)",
}
EXTENSION_NOTES = (
    ("elementwise functions and matmul accept numpy's out= (and casting=) keywords: in-place "
     "updates and reused buffers without a temporary"),
    "dtypes may be given by name ('float32') as well as by object",
)

# -- the array object: the standard's attributes and the methods numpy and cupy share ------------
ARRAY_STANDARD = ("T", "mT", "device", "dtype", "ndim", "shape", "size")   # + operators, indexing
ARRAY_EXTENSIONS = {
    # reductions and elementwise work spelled as methods (their functions are standard)
    "sum": "reduction method", "mean": "reduction method", "max": "reduction method",
    "min": "reduction method", "prod": "reduction method", "var": "reduction method",
    "std": "reduction method", "any": "reduction method", "all": "reduction method",
    "argmax": "reduction method", "argmin": "reduction method", "clip": "elementwise method",
    "round": "elementwise method",
    # shape and layout
    "reshape": "the method form of reshape (keeps a view where it can)",
    "transpose": "permute_dims as a method", "swapaxes": "swapaxes as a method",
    "ravel": "a flat view where possible", "squeeze": "drop size-1 axes",
    "view": "reinterpret the bytes in another dtype (int64 scatter-adds as uint64 on a GPU)",
    "strides": "byte strides (as_strided windows, layout checks)",
    "flags": "contiguity tests before a numba loop or a reused buffer",
    "base": "the array a view was taken from",
    "nbytes": "buffer sizes for the workspace cache",
    "itemsize": "element size in bytes (strides of as_strided views)",
    # values and copies
    "astype": "dtype conversion with copy=False (the standard's astype function as a method)",
    "copy": "an independent copy", "fill": "fill in place",
    "item": "one value as a Python number", "tolist": "values as Python lists (repr, tolist())",
}


class Namespace(types.ModuleType):
    """One backend's array operations, as attributes.

    A module object, so that looking an operation up costs exactly a module attribute
    lookup (the ops call several per step, and a step takes microseconds); a name that
    is missing gets an error naming the contract (the module-level ``__getattr__`` hook,
    only reached on a miss).
    """

    def __init__(self, name, is_gpu, numba_cpu, operations):
        super().__init__(f"tapegrad backend {name}")
        self.__dict__.update({k: v for k, v in operations.items() if not k.startswith("__")})
        self.name = name
        self.is_gpu = is_gpu
        self.numba_cpu = numba_cpu
        self.__getattr__ = functools.partial(_missing, name)

    def __repr__(self):
        return f"<tapegrad backend namespace: {self.name}>"


def _missing(backend, name):
    raise AttributeError(f"the {backend} backend has no '{name}': it is not in tapegrad's "
                         f"backend contract (tapegrad/backend/contract.py)")


# numpy 1.x and cupy 13 predate some of the standard's names: their older spelling
OLDER_SPELLINGS = {"concat": "concatenate", "permute_dims": "transpose", "pow": "power",
                   "cumulative_sum": "cumsum", "bitwise_invert": "invert", "bool": "bool_",
                   "round": "around", "acos": "arccos", "acosh": "arccosh", "asin": "arcsin",
                   "asinh": "arcsinh", "atan": "arctan", "atan2": "arctan2", "atanh": "arctanh",
                   "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift"}


def _standard_functions(module):
    """The standard's names from ``module``, in its own spelling where it has one."""
    found = {}
    for name in STANDARD:
        value = getattr(module, name, None)
        if value is None:
            value = getattr(module, OLDER_SPELLINGS.get(name, name), None)
        found[name] = value if value is not None else _not_provided(module.__name__, name)
    found["asarray"] = _asarray_with_copy(module)
    return found


def _asarray_with_copy(module):
    """``asarray(obj, dtype=None, copy=None)`` as the standard has it; numpy 2 has it already,
    numpy 1.x and cupy 13 copy with ``array(..., copy=True)`` instead."""
    try:
        module.asarray(0, copy=True)
        return module.asarray
    except TypeError:
        pass

    def asarray(obj, dtype=None, copy=None, **kwargs):
        if copy:
            return module.array(obj, dtype=dtype, copy=True, **kwargs)
        return module.asarray(obj, dtype=dtype, **kwargs)
    return asarray


def _linalg(module):
    linalg = module.linalg
    vector_norm = getattr(linalg, "vector_norm", None)
    if vector_norm is None:
        def vector_norm(x, axis=None, keepdims=False, ord=2):
            """The norm of x as a flat vector (or along ``axis``), as the standard's."""
            if axis is None:
                x = x.ravel()
            return linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    outer = getattr(linalg, "outer", None) or module.outer
    return Namespace(f"{module.__name__}.linalg", None, None,
                     {"cholesky": linalg.cholesky, "eigvalsh": linalg.eigvalsh, "outer": outer,
                      "qr": linalg.qr, "solve": linalg.solve, "vector_norm": vector_norm})


_SHARED_EXTENSIONS = ("argpartition", "argwhere", "ascontiguousarray", "bincount",
                      "broadcast_shapes", "copyto", "diagonal", "einsum", "float16", "fmod",
                      "isclose",
                      "isneginf", "may_share_memory", "pad", "reciprocal", "swapaxes",
                      "take_along_axis", "unique", "unravel_index")


def _operations(module):
    operations = _standard_functions(module)
    operations["linalg"] = _linalg(module)
    for name in _SHARED_EXTENSIONS:
        operations[name] = getattr(module, name, None) or _not_provided(module.__name__, name)
    return operations


def _not_provided(library, name):
    """A stand-in for an extension ``library`` lacks: the backend still loads, and only the
    operation that needs it fails, saying why."""
    def missing(*args, **kwargs):
        raise NotImplementedError(f"{library} has no '{name}', which tapegrad's backend "
                                  f"contract needs for this operation")
    return missing


# -- numpy: the cpu backend --------------------------------------------------------------------
@functools.cache
def _numba_erf():
    """erf as a numpy ufunc (float32 and float64 loops), built by numba the first time."""
    import math

    from numba import vectorize

    @vectorize(["float32(float32)", "float64(float64)"], cache=True)
    def erf_ufunc(x):
        return math.erf(x)

    return erf_ufunc


def numpy_namespace(numpy):
    """The contract on numpy arrays (the cpu)."""
    def as_strided(x, shape, strides):
        # read-only: a window view overlaps itself, and a write through it would smear
        return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides,
                                                  writeable=False)

    def erf(x):
        if x.dtype.itemsize < 4:   # float16: computed in float32, given back in float16
            return numpy.asarray(_numba_erf()(x.astype("float32"))).astype(x.dtype)
        return numpy.asarray(_numba_erf()(x))   # (a 0-d input gives a scalar: made an array)

    operations = _operations(numpy)
    operations.update(
        add_at=numpy.add.at, as_strided=as_strided, default_rng=numpy.random.default_rng,
        erf=erf, errstate=numpy.errstate, scipy_special=lambda name: None,
        current_device=lambda: None, current_stream=lambda: None)
    return Namespace("numpy", is_gpu=False, numba_cpu=True, operations=operations)


# -- cupy: the cuda backend --------------------------------------------------------------------
# CUDA has atomic additions for these dtypes only; cupy's add.at refuses the others
_ATOMIC_ADD_DTYPES = ("float16", "float32", "float64", "int32", "uint32", "uint64")


@contextlib.contextmanager
def _no_warnings_to_silence(**_):
    yield


def cupy_namespace(cupy):
    """The contract on cupy arrays (a CUDA GPU): cupy's functions, with the standard's names."""
    def add_at(out, key, values):
        """out[key] += values, once per occurrence of a position (atomic additions). Integers
        without CUDA atomics (int64 above all) are added as uint64 (two's complement addition
        gives the same bits, overflow wrapping as in PyTorch), then cast back."""
        if out.dtype.name in _ATOMIC_ADD_DTYPES:
            cupy.add.at(out, key, values)
            return
        wide = out.astype("int64").view("uint64")
        cupy.add.at(wide, key, cupy.asarray(values).astype("int64").view("uint64"))
        out[...] = wide.view("int64").astype(out.dtype)

    def as_strided(x, shape, strides):
        # cupy's as_strided has no writeable flag (its arrays are always writeable)
        return cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)

    def scipy_special(name):
        import cupyx.scipy.special  # part of cupy

        return getattr(cupyx.scipy.special, name)

    def erf(x):
        return scipy_special("erf")(x)

    def isneginf(x):
        return cupy.isinf(x) & (x < 0)

    operations = _operations(cupy)
    if not hasattr(cupy, "isneginf"):
        operations["isneginf"] = isneginf
    if not hasattr(cupy, "broadcast_shapes"):   # shapes only: the host computes them
        import numpy
        operations["broadcast_shapes"] = numpy.broadcast_shapes
    operations.update(
        add_at=add_at, as_strided=as_strided, default_rng=cupy.random.default_rng, erf=erf,
        scipy_special=scipy_special,
        errstate=_no_warnings_to_silence,
        current_device=cupy.cuda.runtime.getDevice, current_stream=cupy.cuda.get_current_stream)
    return Namespace("cupy", is_gpu=True, numba_cpu=False, operations=operations)


_cupy_namespaces = {}   # id(cupy module) -> (module, its namespace)


def cupy_namespace_of(cupy):
    """``cupy_namespace(cupy)``, built once per cupy module."""
    known = _cupy_namespaces.get(id(cupy))
    if known is None or known[0] is not cupy:
        known = _cupy_namespaces[id(cupy)] = (cupy, cupy_namespace(cupy))
    return known[1]


def declared_functions():
    """Every name a namespace carries: the standard's and the extensions."""
    return set(STANDARD) | set(EXTENSIONS) | {"linalg"}
