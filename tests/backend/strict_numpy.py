"""A third backend, neither numpy nor cupy: numpy underneath, refusing all that the backend
contract (tapegrad/backend/contract.py) does not declare.

* ``NAMESPACE`` is a ``contract.Namespace`` whose functions are numpy's backend functions
  called on plain numpy views of their arguments, with every array result handed back as
  a ``StrictArray`` (and numpy scalars as 0-d ones, as cupy does);
* a ``StrictArray`` is an ndarray whose attribute lookups fail unless the contract lists
  the name (``ARRAY_STANDARD``, ``ARRAY_EXTENSIONS``; dunders are the standard's operators
  and protocols), and which refuses numpy functions (``__array_function__``) and ufuncs
  (``__array_ufunc__``) other than those behind Python's operators.

A refusal raises ``OutsideTheContract`` (an AttributeError for a missing attribute, so that
``hasattr`` still answers) and is recorded in ``REFUSED``: code that catches the error
cannot hide it from the test, which asserts that nothing was refused.

Its device type is "cpu" (the arrays are host memory) but it claims no numba loops
(``numba_cpu`` False), so the kernels take their array-only path, written with the
contract, as they do for cupy.
"""
import numpy

from tapegrad.backend import contract

REFUSED = []   # what tapegrad asked for outside the contract, in order


class OutsideTheContract(AttributeError):
    """Something outside the backend contract was used on a backend array."""


def _refuse(what):
    REFUSED.append(what)
    raise OutsideTheContract(f"{what} is not in tapegrad's backend contract "
                             f"(tapegrad/backend/contract.py)")


def _plain(value):
    """``value`` with StrictArrays as plain numpy views (in tuples and lists too)."""
    if isinstance(value, StrictArray):
        return numpy.ndarray.view(value, numpy.ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _strict(value):
    """numpy results as StrictArrays: arrays, numpy scalars (0-d), and tuples of them."""
    if type(value) is numpy.ndarray:
        return value.view(StrictArray)
    if isinstance(value, numpy.generic):
        return numpy.asarray(value).view(StrictArray)
    if isinstance(value, tuple):
        items = [_strict(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return value


def _results_of(function):
    """``function`` on plain arguments, its results as StrictArrays (an ``out=`` argument comes
    back as itself)."""
    def call(*args, **kwargs):
        result = function(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        out = kwargs.get("out")
        if isinstance(out, StrictArray):
            return out
        return _strict(result)
    call.__name__ = getattr(function, "__name__", "function")
    return call


_ATTRIBUTES = frozenset(contract.ARRAY_STANDARD) | frozenset(contract.ARRAY_EXTENSIONS)
# the ufuncs behind Python's operators on arrays (+, -, *, /, //, %, **, @, unary -, +, abs,
# ~, &, |, ^, <<, >>, comparisons): the standard's array object has them all
_OPERATORS = frozenset(numpy.__dict__[name] for name in (
    "add", "subtract", "multiply", "true_divide", "floor_divide", "remainder", "power", "matmul",
    "negative", "positive", "absolute", "invert", "bitwise_and", "bitwise_or", "bitwise_xor",
    "left_shift", "right_shift", "less", "less_equal", "equal", "not_equal", "greater",
    "greater_equal", "divmod"))


class StrictArray(numpy.ndarray):
    """An ndarray that answers only to the contract."""

    def __getattribute__(self, name):
        if name.startswith("__"):
            return super().__getattribute__(name)
        if name not in _ATTRIBUTES:
            _refuse(f"the array attribute '{name}'")
        value = super().__getattribute__(name)
        if not callable(value):
            return value   # (shape, dtype, T, base...: read from the array itself)
        # a method runs on a plain view, so that numpy's own machinery behind it is not refused
        return _results_of(getattr(numpy.ndarray.view(self, numpy.ndarray), name))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or ufunc not in _OPERATORS:
            _refuse(f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out is not None and len(out) == 1 and isinstance(out[0], StrictArray):
            return out[0]   # (a += b keeps a itself)
        return _strict(result)

    def __array_function__(self, function, types, args, kwargs):
        _refuse(f"numpy.{function.__name__}")

    def __repr__(self):
        return "Strict" + repr(numpy.ndarray.view(self, numpy.ndarray))

    __str__ = __repr__


class _Generator:
    """numpy's Generator, drawing StrictArrays."""

    def __init__(self, generator):
        self._generator = generator

    def __getattr__(self, name):
        value = getattr(self._generator, name)
        return _results_of(value) if callable(value) else value


def _namespace():
    host = contract.numpy_namespace(numpy)
    operations = {}
    for name in contract.declared_functions() | set(contract.STANDARD):
        value = getattr(host, name)
        if isinstance(value, contract.Namespace):   # linalg
            value = contract.Namespace("strict numpy linalg", None, None,
                                       {n: _results_of(getattr(value, n))
                                        for n in contract.STANDARD_LINALG})
        elif callable(value) and not isinstance(value, type):   # (dtypes and finfo are types)
            value = _results_of(value)
        operations[name] = value
    operations["default_rng"] = lambda seed=None: _Generator(numpy.random.default_rng(seed))
    return contract.Namespace("strict numpy", is_gpu=False, numba_cpu=False,
                              operations=operations)


NAMESPACE = _namespace()
