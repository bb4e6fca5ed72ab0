"""Ordering elements along a dimension: sort, argsort, topk, kthvalue, median.

Each finds *where* its values are (int64 indices, no gradient) and then reads the values
at those positions with a gather. So the gradient of the values is the gather's: each
incoming gradient goes back to the element it came from, zeros everywhere else.

Sorting is stable: equal elements keep their order, also in a descending sort (as
PyTorch's ``stable=True``). NaN counts as larger than every number, as in PyTorch.
"""
from collections import namedtuple

from ... import dtypes
from ..tape import own_result, record
from ..tensor import wrap
from .indexing import gather_along
from .declare import operation
from .gate import gate

# PyTorch's torch.return_types: tuples whose parts are also named.
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])


def _stable_argsort(xp, a, axis, descending):
    """The order that sorts ``a`` along ``axis``, equal elements keeping their order."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable").astype(dtypes.int64.numpy, copy=False)
    # Sort the reversed array ascending, then reverse the result: the values come out
    # descending, and equal ones (met last-first in the reversed array) come out first-first.
    n = a.shape[axis]
    # The subtraction writes a fresh, contiguous array: the flipped view's negative strides
    # must not reach the result, which a later view() would refuse (PyTorch's is contiguous).
    order = xp.argsort(xp.flip(a, axis=axis), axis=axis, kind="stable")
    return ((n - 1) - xp.flip(order, axis=axis)).astype(dtypes.int64.numpy, copy=False)


def _leading(a, axis, stop, start=0):
    """``a`` cut to positions start..stop-1 along ``axis``."""
    return a[(slice(None),) * axis + (slice(start, stop),)]


@operation(function=True, method=True)
def sort(input, dim=-1, descending=False, stable=False):
    """values = x in increasing (or decreasing) order along dim, indices = where each came
    from;  ∂L/∂x = ∂L/∂values put back at the positions the values came from"""
    x = input
    if x.ndim == 0:
        x._axis(dim, "sort")   # a 0-d tensor takes dim 0 or -1 only
        values, indices = sort(x.reshape(1), 0, descending, stable)
        return SortResult(values.reshape(()), indices.reshape(()))
    axis = x._axis(dim, "sort")
    indices = wrap(_stable_argsort(x.device.xp, x.array, axis, descending), x.device)
    return SortResult(gather_along("sort", x, axis, indices.array, (indices,)), indices)


@operation(function=True, method=True, differentiable=False)
def argsort(input, dim=-1, descending=False, stable=False):
    """The int64 indices that sort x along dim (stable: equal elements keep their order)"""
    x = input
    if x.ndim == 0:
        x._axis(dim, "argsort")
        return wrap(x.device.xp.zeros((), dtype=dtypes.int64.numpy), x.device)
    axis = x._axis(dim, "argsort")
    return wrap(_stable_argsort(x.device.xp, x.array, axis, descending), x.device)


@operation(function=True, method=True)
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim and their indices (always in order:
    PyTorch leaves the order open for sorted=False);  ∂L/∂x = ∂L/∂values put back where
    they came from (zero for the others)"""
    x = input
    if x.ndim == 0:
        x._axis(dim, "topk")
        _check_k("topk", k, 0, 1, x, dim)
        values, indices = topk(x.reshape(1), k, 0, largest, sorted)
        return TopkResult(values.reshape(()), indices.reshape(())) if k else \
            TopkResult(values, indices)
    axis = x._axis(dim, "topk")
    n = x.shape[axis]
    _check_k("topk", k, 0, n, x, dim)
    xp = x.device.xp
    a = x.array
    if k in (0, n):
        order = _leading(_stable_argsort(xp, a, axis, largest), axis, k)
    else:
        # argpartition puts the k wanted elements (in no order) at one end in O(n); only
        # those k are then sorted.
        kth = n - k if largest else k - 1
        part = xp.argpartition(a, kth, axis=axis)
        candidates = _leading(part, axis, n, n - k) if largest else _leading(part, axis, k)
        their_order = _stable_argsort(xp, xp.take_along_axis(a, candidates, axis=axis), axis,
                                      largest)
        order = xp.take_along_axis(candidates, their_order, axis=axis)
    indices = wrap(order.astype(dtypes.int64.numpy, copy=False), x.device)
    return TopkResult(gather_along("topk", x, axis, indices.array, (indices,)), indices)


def _check_k(op, k, low, high, x, dim):
    if not isinstance(k, int) or not low <= k <= high:
        raise RuntimeError(f"{op}: k ({k}) is out of range: it must be in [{low}, {high}], the "
                           f"size of dimension {dim} of the input of shape {tuple(x.shape)}")


def _reduced(op, result_type, x, axis, kept_index, keepdim):
    """(values, indices) from one index per row (``kept_index`` has size 1 along axis)."""
    kept_shape = tuple(kept_index.shape)
    shape = kept_shape if keepdim else kept_shape[:axis] + kept_shape[axis + 1:]
    indices = wrap(kept_index.reshape(shape), x.device)
    values = gather_along(op, x, axis, kept_index, (indices,))
    return result_type(values if keepdim else own_result(values.reshape(shape)), indices)


def _kth_smallest(xp, a, kth, axis):
    """For each row along ``axis``: the position of its (kth+1)-th smallest element."""
    part = xp.argpartition(a, kth, axis=axis)
    return _leading(part, axis, kth + 1, kth).astype(dtypes.int64.numpy, copy=False)


@operation(function=True, method=True)
def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element along dim (k counts from 1) and its index;
    ∂L/∂x = ∂L/∂value at that element, 0 elsewhere"""
    x = input
    if x.ndim == 0:
        x._axis(dim, "kthvalue")
        _check_k("kthvalue", k, 1, 1, x, dim)
        values, indices = kthvalue(x.reshape(1), k, 0)
        return KthvalueResult(values, indices)
    axis = x._axis(dim, "kthvalue")
    _check_k("kthvalue", k, 1, x.shape[axis], x, dim)
    index = _kth_smallest(x.device.xp, x.array, k - 1, axis)
    return _reduced("kthvalue", KthvalueResult, x, axis, index, keepdim)


def _evenly_shared(op, x, value):
    """``value`` (0-d, one of x's elements) recorded as ``op`` of x, its gradient shared
    evenly by the elements equal to it, or by the NaNs when it is NaN (as PyTorch's
    median() of all elements); 0 elsewhere, whatever arrives. The backward compares with
    its own copy of the value (one element): the result may be written over in place later,
    as in median(x).relu_()"""
    kept = value.copy()

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        xp = x.device.xp
        hits = xp.isnan(x.array) if bool(xp.isnan(kept)) else x.array == kept
        share = wrap(xp.divide(hits, hits.sum(), dtype=x.array.dtype), x.device)
        return gate(grad, share)
    return record(op, value, (x,), backward, save=(x,))


@operation(function=True, method=True)
def median(input, dim=None, keepdim=False):
    """The middle element along dim (the lower of the two middle ones for an even count;
    NaN if the row holds a NaN) and its index;  ∂L/∂x = ∂L/∂value at that element.
    Without dim: the median of all elements, as a 0-d tensor (values only)."""
    x = input
    xp = x.device.xp
    if dim is None:
        if x.numel() == 0:
            if not x.dtype.is_floating_point:
                raise RuntimeError(f"median: an empty tensor of dtype {x.dtype} has no median")
            return x.sum() * float("nan")   # NaN, recorded: it requires grad when x does
        m = median(x.reshape(-1), 0).values
        if not x.dtype.is_floating_point:
            return m
        return _evenly_shared("median", x, m.array)
    if x.ndim == 0:
        x._axis(dim, "median")
        values, indices = median(x.reshape(1), 0)
        return MedianResult(values, indices)
    axis = x._axis(dim, "median")
    n = x.shape[axis]
    if n == 0:
        raise RuntimeError(f"median: dimension {dim} of the input of shape {tuple(x.shape)} is "
                           f"empty, so it has no median")
    a = x.array
    index = _kth_smallest(xp, a, (n - 1) // 2, axis)
    if a.dtype.kind == "f":
        is_nan = xp.isnan(a)
        row_has_nan = is_nan.any(axis=axis, keepdims=True)
        if row_has_nan.any():  # such a row's median is NaN: point at its first NaN
            first_nan = xp.argmax(is_nan, axis=axis, keepdims=True)
            index = xp.where(row_has_nan, first_nan, index).astype(dtypes.int64.numpy)
    return _reduced("median", MedianResult, x, axis, index, keepdim)
