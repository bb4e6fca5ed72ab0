"""Picking elements out of a tensor and putting them back: ``x[index]``, ``x[index] = v``,
gather, scatter, index_select, masked_fill, …

Every one of these reads (or writes) the elements of ``x`` at a set of positions, so
every backward is the same idea turned around: the gradient of a read is the incoming
gradient *put back* at the positions that were read, into zeros of x's shape. When an
index names the same position twice (``x[[0, 0]]``), both copies of that element
received a gradient, and both must be added in: that is ``xp.add_at``, which, unlike
``z[key] += g``, adds once per occurrence. The put-back is itself an operation whose
backward reads the positions again, so second derivatives work too.

Indexing follows PyTorch (which, for what is supported here, is numpy's rule): ints,
slices, None and Ellipsis give a *view* sharing x's memory; index tensors, lists and
bool masks ("advanced indexing") give a copy.
"""
import operator

from ... import backend, dtypes
from ..operands import check_same_device, sum_to_shape
from ..tape import is_view_of, mark_view, own_result, record
from ..tensor import Tensor, wrap
from ..version import VersionCounter
from .arithmetic import where
from .inplace import check_inplace_allowed, check_writable, writable
from .declare import operation


# -- turning a Python index into a key for the backend array ----------------------------------
def _index_key(op, x, index):
    """``index`` as a key for ``x.array``, checked against x's shape with clear errors.

    Also returns whether the key holds integer arrays (which may name a position twice,
    so a put-back must accumulate), and the index tensors it came from (saved by the
    op, so that an in-place change to them before backward is caught).
    """
    items = index if isinstance(index, tuple) else (index,)
    tensors = []
    key = [_key_item(op, x, item, tensors) for item in items]
    if not any(k is Ellipsis for k in key):
        # A trailing ``...`` changes nothing, except that numpy then returns a 0-d view
        # instead of a copied scalar for x[0] on a vector, as PyTorch does.
        key.append(Ellipsis)
    key = tuple(key)
    _check_key(op, x, key)
    repeats = any(backend.is_array(k) and k.dtype.kind != "b" for k in key)
    return _integers_first(key), repeats, tensors


class TwoStepKey:
    """``x[1, :, [0, 2]]`` as PyTorch reads it: the integers select first, then the rest
    indexes what is left, so the result is (3, 2) for x of shape (2, 3, 4). (numpy counts
    the 1 as an index array too, and would move the indexed dims to the front: (2, 3).)
    ``first`` holds only integers and slices, so ``array[first]`` is a view to write through."""

    __slots__ = ("first", "then")

    def __init__(self, first, then):
        self.first, self.then = first, then


def _is_integer(k):
    return (isinstance(k, int) and not isinstance(k, bool)) or (
        backend.is_array(k) and k.ndim == 0 and k.dtype.kind in "iu")


def _integers_first(key):
    """``key``, or a TwoStepKey when it mixes integers with index arrays (see TwoStepKey)."""
    has_arrays = any(backend.is_array(k) and k.ndim > 0 for k in key)
    if not has_arrays or not any(_is_integer(k) for k in key):
        return key
    first, then = [], []
    for k in key:
        if _is_integer(k):
            first.append(int(k))
        elif k is Ellipsis:
            first.append(k)
            then.append(k)
        else:
            first.extend([slice(None)] * _dims_used(k))
            then.append(k)
    return TwoStepKey(tuple(first), tuple(then))


def at(array, key):
    """(the array to index, the key to index it with): ``array[key]`` reads and writes
    through the returned pair, for plain keys and TwoStepKeys alike."""
    if type(key) is TwoStepKey:
        return array[key.first], key.then
    return array, key


def _key_item(op, x, item, tensors):
    if item is None or item is Ellipsis:
        return item
    if isinstance(item, slice):
        return _checked_slice(op, item)
    if isinstance(item, Tensor):
        if item.device != x.device and item.device.type != "cpu":
            # (An index on the cpu is moved to x's device, as PyTorch allows.)
            raise RuntimeError(f"{op}: the index tensor is on {item.device}, but the indexed "
                               f"tensor is on {x.device}; indices must be on the cpu or on "
                               f"{x.device}")
        tensors.append(item)
        return _index_array(op, backend.to_device(item.array, x.device))
    if backend.is_array(item):
        return _index_array(op, backend.to_device(item, x.device))
    if isinstance(item, (list, tuple, range)):   # x[range(3)] is x[[0, 1, 2]]
        try:
            array = backend.host_array(item)
        except (TypeError, ValueError):
            raise IndexError(f"{op}: a list used as an index must hold only integers or only "
                             f"bools, got {item!r}") from None
        if array.size == 0:
            array = array.astype(dtypes.int64.numpy)  # [] selects nothing (numpy says float64)
        return _index_array(op, backend.to_device(array, x.device))
    try:
        category = dtypes.scalar_category(item)
    except TypeError:
        category = None
    if category is None or category == 2:
        raise IndexError(f"{op}: only integers, slices (:), None, Ellipsis (...) and integer or "
                         f"bool tensors are valid indices, got {type(item).__name__} {item!r}")
    return bool(item) if category == 0 else operator.index(item)


def _checked_slice(op, s):
    try:
        start, stop, step = (None if v is None else operator.index(v)
                             for v in (s.start, s.stop, s.step))
    except TypeError:
        raise TypeError(f"{op}: slice bounds must be integers or None, got {s}") from None
    if step is not None and step <= 0:
        raise ValueError(f"{op}: slice step must be greater than zero, got {step} in {s} (as in "
                         f"PyTorch, negative steps are not supported: index with a reversed "
                         f"index tensor instead)")
    return slice(start, stop, step)


def _index_array(op, array):
    """An index array checked for its dtype: bool (or uint8, as PyTorch) masks, integers."""
    kind = array.dtype.kind
    if kind == "b":
        return array
    if kind == "u" and array.dtype.itemsize == 1:
        return array.astype(bool)  # a uint8 tensor is a mask in PyTorch, not a list of indices
    if kind in "iu":
        return int(array) if array.ndim == 0 else array
    raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool tensors, "
                     f"got one of dtype {dtypes.from_numpy(array.dtype)}")


def _dims_used(k):
    """How many of x's dimensions one key item consumes."""
    if k is None or k is Ellipsis or isinstance(k, bool):
        return 0
    if backend.is_array(k) and k.dtype.kind == "b":
        return k.ndim
    return 1


def _check_key(op, x, key):
    """Every index within range, every mask of the right shape: IndexErrors that name them."""
    shape = tuple(x.shape)
    ellipses = sum(k is Ellipsis for k in key)
    if ellipses > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis (...), got {ellipses}")
    used = sum(_dims_used(k) for k in key)
    if used > x.ndim:
        raise IndexError(f"{op}: too many indices for a tensor of dimension {x.ndim} (shape "
                         f"{shape}): the index addresses {used} dimensions")
    dim = 0
    for position, k in enumerate(key):
        if k is Ellipsis:
            dim += x.ndim - used
            continue
        if isinstance(k, int) and not isinstance(k, bool):
            _check_range(op, k, k, shape[dim], dim, allow_negative=True)
        elif backend.is_array(k) and k.dtype.kind == "b":
            if tuple(k.shape) != shape[dim:dim + k.ndim]:
                raise IndexError(f"{op}: the mask of shape {tuple(k.shape)} (index {position}) "
                                 f"does not match the shape {shape[dim:dim + k.ndim]} of the "
                                 f"indexed tensor's dimensions {dim}..{dim + k.ndim - 1} (tensor "
                                 f"of shape {shape})")
        elif backend.is_array(k) and k.size:
            _check_range(op, int(k.min()), int(k.max()), shape[dim], dim, allow_negative=True)
        dim += _dims_used(k)


def _check_range(op, low, high, size, dim, allow_negative=False):
    """IndexError naming the first index outside [-size, size) (or [0, size))."""
    smallest = -size if allow_negative else 0
    if low < smallest or high >= size:
        bad = low if low < smallest else high
        raise IndexError(f"{op}: index {bad} is out of range for dimension {dim} with size "
                         f"{size}")


def _read(op, x, key):
    """``x.array[key]``; what numpy still refuses (index arrays that do not broadcast
    together, …) becomes an IndexError that names the op."""
    try:
        target, key = at(x.array, key)
        return target[key]
    except (IndexError, ValueError) as error:
        raise IndexError(f"{op}: {error} (indexing a tensor of shape {tuple(x.shape)})") from None


def _number_as(op, value, x, check_floats=True):
    """A Python number as a 0-d array of x's dtype (a float written into ints truncates, as
    in PyTorch); an error naming both when it does not fit (300 into uint8)."""
    try:
        dtypes.scalar_category(value)
    except TypeError:
        raise RuntimeError(f"{op}: the value {value!r} cannot be stored in a tensor of dtype "
                           f"{x.dtype}") from None
    if check_floats or x.array.dtype.kind != "f":   # x[0] = 1e30 with float16 x stores inf
        value = dtypes.stored_scalar(op, value, x.array.dtype)   # -1 into uint8: 255
    try:
        return x.device.xp.asarray(value, dtype=x.array.dtype)
    except (TypeError, ValueError, OverflowError):
        raise RuntimeError(f"{op}: the value {value!r} cannot be stored in a tensor of dtype "
                           f"{x.dtype}") from None


# -- the two operations every read and write here is built from --------------------------------
def _add_at(xp, out, key, values):
    """out[key] += values, once per occurrence of a position (the backend's ``add_at``)."""
    out, key = at(out, key)
    xp.add_at(out, key, values)


def _index(op, x, key, repeats, saved=(), attrs=None):
    """y = x[key];  ∂L/∂x = zeros(x.shape) with ∂L/∂y added in at key"""
    xp = x.device.xp
    result = _read(op, x, key)
    view = is_view_of(xp, result, x.array)
    if not view:   # a gathered copy is laid out row-major, as PyTorch's (so .view() works)
        result = xp.ascontiguousarray(result)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        ctx.saved_tensors  # raises if an index tensor was changed in place since
        return _put_into_zeros(grad, shape, key, repeats)
    out = record(op, result, (x,), backward, save=tuple(saved), attrs=attrs)
    if view:   # ints, slices, None, ...: a view
        mark_view(out, x)
    return out


def _put_into_zeros(grad, shape, key, repeats):
    """z = zeros(shape), then z[key] += g (repeats add up);  ∂L/∂g = ∂L/∂z[key]"""
    xp = grad.device.xp
    z = xp.zeros(shape, dtype=grad.array.dtype)
    if repeats:
        _add_at(xp, z, key, grad.array)
    else:
        target, k = at(z, key)
        target[k] = grad.array  # no position twice: plain assignment is enough (and faster)
    def backward(ctx, grad_z):
        return _index("getitem", grad_z, key, repeats)
    return record("getitem_backward", z, (grad,), backward)


@operation(method="__getitem__")
def getitem(input, index):
    """y = x[index];  ∂L/∂x = zeros(x.shape) with ∂L/∂y added in at index (repeats add up)

    This is ``Tensor.__getitem__``.
    """
    key, repeats, tensors = _index_key("getitem", input, index)
    out = _index("getitem", input, key, repeats, tensors, attrs={"index": index})
    if out.grad_fn is not None:
        out.grad_fn.pytorch_name = _pytorch_name_of_reading(index)
    return out


def _pytorch_name_of_reading(index):
    """PyTorch records x[index] as its last step: x[1:, 0] is a select of a slice."""
    if isinstance(index, slice):   # x[:] too
        return "SliceBackward0"
    name = "AliasBackward0"
    for part in index if isinstance(index, tuple) else (index,):
        if part is Ellipsis or (isinstance(part, slice) and part == slice(None)):
            continue
        if part is None:
            name = "UnsqueezeBackward0"
        elif isinstance(part, slice):
            name = "SliceBackward0"
        elif isinstance(part, int) and not isinstance(part, bool):
            name = "SelectBackward0"
        else:   # index arrays, masks: one gather
            return "IndexBackward0"
    return name


@operation(method="__setitem__")
def setitem(input, index, value):
    """x[index] = v (in place);  ∂L/∂x_old = ∂L/∂x with the overwritten positions zeroed,
    ∂L/∂v = ∂L/∂x[index] summed over the copies v was broadcast to

    This is ``Tensor.__setitem__``: an in-place operation, so it follows inplace.py's
    rules (check, write into x's memory, bump x's version, move x onto the new Node).
    """
    x = input
    key, repeats, tensors = _index_key("setitem", x, index)
    part = _read("setitem", x, key)
    # Writing into a part of an expanded tensor is refused, as in PyTorch, only where the
    # part itself repeats an element (x[:] = v of x.expand(3); x[0] = v writes one place).
    # Index tensors (and x[True], a new dim) write into x itself: PyTorch's index_put_,
    # deprecated on expanded memory, is refused here.
    whole = any(isinstance(k, bool) or backend.is_array(k) and (k.ndim > 0 or k.dtype.kind == "b")
                for k in getattr(key, "then", key))
    if part.size:
        check_writable(x if whole else wrap(part, x.device), "setitem")
    check_inplace_allowed(x, "setitem", value, writes=False)
    selected = tuple(part.shape)
    v = _setitem_value(x, value, selected)
    if x.array.size:   # (an empty expanded view is read-only, and nothing to write)
        target, k = at(writable(x.array), key)
        target[k] = v.array if isinstance(v, Tensor) else v   # (a number is a 0-d array now)
    x._version_counter.bump("setitem")
    xp = x.device.xp
    shape = tuple(x.shape)
    v_shape = tuple(getattr(v, "shape", ()))   # backward keeps v's shape, not v
    def backward(ctx, grad):
        ctx.saved_tensors  # raises if an index tensor was changed in place since
        grad_x = grad_v = None
        if ctx.needs_input_grad[0]:
            keep = xp.ones(shape, dtype=bool)
            target, k = at(keep, key)
            target[k] = False
            zero = wrap(xp.zeros((), dtype=grad.array.dtype), grad.device)
            grad_x = where(wrap(keep, grad.device), grad, zero)
        if ctx.needs_input_grad[1]:
            grad_v = sum_to_shape(_index("getitem", grad, key, repeats), v_shape)
        return grad_x, grad_v
    # The new values take x's place on the tape; record wraps x's own array (no copy).
    recorded = record("setitem", x.array, (x, v if isinstance(v, Tensor) else None),
                         backward, save=tuple(tensors))
    if recorded.grad_fn is not None:
        x.grad_fn = recorded.grad_fn
        x._output_nr = 0
    return x


def _setitem_value(x, value, selected):
    """``value`` ready to be written into x[index] (of shape ``selected``): a number, or a
    tensor of x's dtype on x's device whose shape broadcasts to ``selected``."""
    if isinstance(value, Tensor) or backend.is_array(value):
        v = value if isinstance(value, Tensor) else wrap(backend.to_device(value, x.device),
                                                         x.device)
        if v.device != x.device:
            if v.ndim != 0:
                raise RuntimeError(f"setitem: the value is on {v.device}, but the tensor is on "
                                   f"{x.device}; move it with .to('{x.device}')")
            v = v.to(x.device)  # a 0-d value may come from another device, as in PyTorch
        if v.dtype is not x.dtype:
            v = v.to(x.dtype)   # as PyTorch: cast (a float written into an int tensor truncates)
        shape = tuple(v.shape)
        trimmed = shape
        while len(trimmed) > len(selected) and trimmed[0] == 1:
            trimmed = trimmed[1:]  # numpy and PyTorch ignore extra leading size-1 dimensions
        try:
            fits = x.device.xp.broadcast_shapes(trimmed, selected) == selected
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"setitem: shape mismatch: the value of shape {shape} cannot be "
                               f"broadcast to the indexed shape {selected}")
        return v.reshape(trimmed) if trimmed != shape else v
    try:
        dtypes.scalar_category(value)
    except TypeError:
        raise TypeError(f"setitem: can only assign a number, a tensor or a numpy array, got "
                        f"{type(value).__name__}; wrap a list with tapegrad.tensor()") from None
    return _number_as("setitem", value, x, check_floats=False)


# -- gather and scatter: one index per element, along one dimension ---------------------------
def _along(xp, index, dim):
    """The key that reads, for every position (i, j, k) of ``index``, the element at
    index[i, j, k] along ``dim`` and at i, j, k along the other dimensions."""
    ndim = index.ndim
    return tuple(index if d == dim else
                 xp.arange(n).reshape(tuple(n if e == d else 1 for e in range(ndim)))
                 for d, n in enumerate(index.shape))


def gather_along(op, x, dim, index, saved=()):
    """y[i][j] = x[index[i][j]][j] (dim 0, any ndim), recorded as ``op``; ``index`` is an
    already checked int64 array (sort, topk, … use this for their values)."""
    # One index per line along dim (cross entropy's targets) cannot name a position twice:
    # the backward may then assign instead of the slower add.at.
    repeats = index.ndim > 0 and index.shape[dim] > 1
    return _index(op, x, _along(x.device.xp, index, dim), repeats, saved)


def _block(shape):
    """The key of the leading block of a given shape (index may be smaller than src)."""
    return tuple(slice(0, n) for n in shape)


def _check_index(op, x, dim, index, src=None):
    """The rules of gather/scatter: an int64 index with the input's number of dimensions,
    no larger than the input except along ``dim`` (nor than src anywhere), in range."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be an int64 tensor, got {type(index).__name__}")
    if index.dtype is not dtypes.int64:
        raise RuntimeError(f"{op}: expected the index to have dtype int64, got {index.dtype}")
    others = (x, index) if src is None else (x, index, src)
    check_same_device(op, *others)
    if src is not None and src.dtype is not x.dtype:
        raise RuntimeError(f"{op}: expected src to have the input's dtype {x.dtype}, got "
                           f"{src.dtype}")
    axis = x._axis(dim, op)
    if index.numel() == 0:   # nothing is read or written: PyTorch checks no shapes then
        return axis
    for name, t in (("index", index), ("src", src)):
        if t is not None and max(t.ndim, 1) != max(x.ndim, 1):
            raise RuntimeError(f"{op}: {name} of shape {tuple(t.shape)} must have as many "
                               f"dimensions as the input of shape {tuple(x.shape)}")
    sizes = {name: tuple(t.shape) or (1,) for name, t in (("x", x), ("index", index), ("src", src))
             if t is not None}   # a 0-d tensor counts as one element along one dimension
    for d, n in enumerate(sizes["index"]):
        if d != axis and n > sizes["x"][d]:
            raise RuntimeError(f"{op}: index of shape {tuple(index.shape)} is larger than the "
                               f"input of shape {tuple(x.shape)} in dimension {d} (only "
                               f"dimension {axis}, the dim argument, may be larger)")
        if src is not None and n > sizes["src"][d]:
            raise RuntimeError(f"{op}: index of shape {tuple(index.shape)} is larger than src "
                               f"of shape {tuple(src.shape)} in dimension {d}")
    if index.numel():
        size = x.shape[axis] if x.ndim else 1
        _check_range(op, int(index.array.min()), int(index.array.max()), size, axis)
    return axis


def _gather(op, input, dim, index):
    x = input
    axis = _check_index(op, x, dim, index)
    if index.numel() == 0:
        # an empty result of the index's shape: a new tensor, as in PyTorch, with a version
        # counter of its own (an in-place change of it changes nothing x's history saved)
        empty = own_result(x.reshape(-1)[:0].reshape(tuple(index.shape)))
        empty._version_counter = VersionCounter()
        return empty
    if x.ndim == 0 or index.ndim == 0:  # PyTorch takes 0-d tensors here as 1-d of one element
        flat = index.reshape(-1)
        return own_result(_gather(op, x.reshape(-1), 0, flat).reshape(tuple(index.shape)))
    return gather_along(op, x, axis, index.array, (index,))


@operation(function=True, method=True)
def gather(input, dim, index):
    """y[i][j] = x[index[i][j]][j] (dim 0);  ∂L/∂x = zeros with ∂L/∂y added in at the same
    positions (scatter_add: an element read twice gets both gradients)"""
    return _gather("gather", input, dim, index)


@operation(function=True, method=True)
def take_along_dim(input, indices, dim=None):
    """gather with broadcasting (and, without dim, on the flattened tensor);  ∂ as gather"""
    x = input
    if not isinstance(indices, Tensor):
        raise TypeError(f"take_along_dim: indices must be an int64 tensor, got "
                        f"{type(indices).__name__}")
    if dim is None:
        return _gather("take_along_dim", x.reshape(-1), 0, indices.reshape(-1))
    if x.ndim == 0:   # PyTorch takes no dim of a 0-d input here (gather does)
        raise IndexError(f"take_along_dim: dim {dim} was given but the input is 0-d (it has no "
                         f"dimensions); leave dim out to take from the flattened input")
    if x.ndim != indices.ndim:
        raise RuntimeError(f"take_along_dim: input of shape {tuple(x.shape)} and indices of "
                           f"shape {tuple(indices.shape)} must have the same number of dimensions")
    axis = x._axis(dim, "take_along_dim")
    sizes = []
    for d, (a, b) in enumerate(zip(x.shape, indices.shape)):
        if d != axis and a != b and 1 not in (a, b):
            raise RuntimeError(f"take_along_dim: input of shape {tuple(x.shape)} and indices "
                               f"of shape {tuple(indices.shape)} cannot be broadcast together "
                               f"(dimension {d}: {a} against {b})")
        sizes.append(max(a, b))
    x_shape = tuple(x.shape[d] if d == axis else s for d, s in enumerate(sizes))
    i_shape = tuple(indices.shape[d] if d == axis else s for d, s in enumerate(sizes))
    if x_shape != tuple(x.shape):
        x = x.expand(x_shape)
    if i_shape != tuple(indices.shape):
        stretched = wrap(indices.device.xp.broadcast_to(indices.array, i_shape), indices.device)
        indices = mark_view(stretched, indices)  # shares the version counter: changes are seen
    return _gather("take_along_dim", x, axis, indices)


def _read_back(grad, key, block, src_shape):
    """∂L/∂src for scatter ops: grad read at the scattered positions, in src's shape."""
    taken = _index("gather", grad, key, True)
    if tuple(taken.shape) == src_shape:
        return taken
    return _put_into_zeros(taken, src_shape, block, False)  # the part of src that was unused


def _zero_dim_as_vectors(op, x, dim, index, src):
    """PyTorch takes 0-d tensors as 1-d of one element in scatter ops: ``op`` on vectors."""
    flat_src = src.reshape(-1) if isinstance(src, Tensor) else src
    return own_result(op(x.reshape(-1), dim, index.reshape(-1), flat_src).reshape(tuple(x.shape)))


@operation(function=True, method=True)
def scatter_add(input, dim, index, src):
    """y = x, then y[index[i][j]][j] += src[i][j] (dim 0; repeated positions add up);
    ∂L/∂x = ∂L/∂y,  ∂L/∂src = gather(∂L/∂y, dim, index)"""
    x = input
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    axis = _check_index("scatter_add", x, dim, index, src)
    if index.numel() == 0:   # nothing is added (src stays in the graph: an empty sum)
        return x.clone() + src.reshape(-1)[:0].sum() if src.requires_grad else x.clone()
    if 0 in (x.ndim, index.ndim, src.ndim):
        return _zero_dim_as_vectors(scatter_add, x, 0, index, src)
    xp = x.device.xp
    key = _along(xp, index.array, axis)
    block = _block(tuple(index.shape))
    result = x.array.copy()
    _add_at(xp, result, key, src.array[block])
    src_shape = tuple(src.shape)
    def backward(ctx, grad):
        ctx.saved_tensors  # raises if the index was changed in place since
        return (grad if ctx.needs_input_grad[0] else None,
                _read_back(grad, key, block, src_shape) if ctx.needs_input_grad[1] else None)
    return record("scatter_add", result, (x, src), backward, save=(index,))


@operation(function=True, method=True)
def scatter(input, dim, index, src=None, value=None):
    """y = x, then y[index[i][j]][j] = src[i][j] (dim 0; or = value);  ∂L/∂x = ∂L/∂y with
    the overwritten positions zeroed,  ∂L/∂src = gather(∂L/∂y, dim, index)"""
    x = input
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(x, dim, index, 2.0): the value form
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor) and value (a number)")
    if isinstance(value, Tensor) and value.ndim == 0:
        if value.requires_grad and x.dtype.is_floating_point:   # ∂L/∂value = Σ ∂L/∂y written
            return scatter(x, dim, index, value.to(x.dtype).expand(tuple(index.shape)))
        value = value.item()   # the number it holds, as in PyTorch
    fill = None if value is None else _number_as("scatter", value, x)
    axis = _check_index("scatter", x, dim, index, src)
    if index.numel() == 0:   # nothing is written (src stays in the graph: an empty sum)
        return x.clone() + src.reshape(-1)[:0].sum() if src is not None and \
            src.requires_grad else x.clone()
    if 0 in (x.ndim, index.ndim, 1 if src is None else src.ndim):
        return _zero_dim_as_vectors(scatter, x, 0, index, value if src is None else src)
    xp = x.device.xp
    key = _along(xp, index.array, axis)
    block = _block(tuple(index.shape))
    result = x.array.copy()
    result[key] = fill if src is None else src.array[block]
    shape, src_shape = tuple(x.shape), None if src is None else tuple(src.shape)
    def backward(ctx, grad):
        ctx.saved_tensors  # raises if the index was changed in place since
        grad_x = grad_src = None
        if ctx.needs_input_grad[0]:
            keep = xp.ones(shape, dtype=bool)
            keep[key] = False
            zero = wrap(xp.zeros((), dtype=grad.array.dtype), grad.device)
            grad_x = where(wrap(keep, grad.device), grad, zero)
        if ctx.needs_input_grad[1]:
            grad_src = _read_back(grad, key, block, src_shape)
        return grad_x, grad_src
    return record("scatter", result, (x, src), backward, save=(index,))


@operation(function=True, method=True)
def index_select(input, dim, index):
    """y = x with only the entries index[0], index[1], … along dim;  ∂L/∂x = zeros with
    ∂L/∂y added in at those entries (an entry selected twice gets both gradients)"""
    x = input
    if not isinstance(index, Tensor):
        raise TypeError(f"index_select: index must be an int64 tensor, got "
                        f"{type(index).__name__}")
    if index.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"index_select: expected the index to have dtype int64 or int32, "
                           f"got {index.dtype}")
    if index.ndim > 1:
        raise IndexError(f"index_select: the index must be a vector (0-d or 1-d), got shape "
                         f"{tuple(index.shape)}")
    check_same_device("index_select", x, index)
    axis = x._axis(dim, "index_select")
    if x.ndim == 0:
        if index.numel() != 1:
            raise IndexError(f"index_select: a 0-d input needs an index of one element, got "
                             f"{index.numel()}")
        return own_result(index_select(x.reshape(1), 0, index).reshape(()))
    if index.numel():
        _check_range("index_select", int(index.array.min()), int(index.array.max()),
                     x.shape[axis], axis)
    key = (slice(None),) * axis + (index.array.reshape(-1),)
    return _index("index_select", x, key, True, (index,))


def _check_mask(op, x, mask):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: mask must be a bool tensor, got {type(mask).__name__}")
    if mask.dtype is not dtypes.bool_:
        raise RuntimeError(f"{op}: only bool masks are supported, got a mask of dtype "
                           f"{mask.dtype}")
    check_same_device(op, x, mask)
    try:
        return tuple(x.device.xp.broadcast_shapes(tuple(x.shape), tuple(mask.shape)))
    except ValueError:
        raise RuntimeError(f"{op}: the mask of shape {tuple(mask.shape)} and the input of shape "
                           f"{tuple(x.shape)} cannot be broadcast together") from None


@operation(function=True, method=True)
def masked_fill(input, mask, value):
    """y = value where mask else x;  ∂L/∂x = ∂L/∂y where not mask (else 0),
    ∂L/∂value = Σ ∂L/∂y over the masked positions"""
    x = input
    _check_mask("masked_fill", x, mask)
    xp = x.device.xp
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill: only supports a 0-d value tensor, got one of shape "
                               f"{tuple(value.shape)}")
        if value.device != x.device:
            value = value.to(x.device)
        if value.dtype is not x.dtype:
            # the number must fit x's dtype, as a plain number must (-11.5 into uint8 is refused)
            dtypes.stored_scalar("masked_fill", value.item(), x.array.dtype)
            value = value.to(x.dtype)
        fill, v = value.array, value
    else:
        fill, v = _number_as("masked_fill", value, x), None
    # row-major, whatever x's layout, as PyTorch's result (so that .view() works on it)
    result = xp.where(mask.array, fill, x.array)
    if result.ndim > 1 and not result.flags.c_contiguous:
        result = xp.ascontiguousarray(result)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        mask, = ctx.saved_tensors
        zero = wrap(xp.zeros((), dtype=grad.array.dtype), grad.device)
        return (sum_to_shape(where(mask, zero, grad), shape) if ctx.needs_input_grad[0] else None,
                where(mask, grad, zero).sum() if ctx.needs_input_grad[1] else None)
    return record("masked_fill", result, (x, v), backward, save=(mask,),
                  attrs={"mask": mask, "value": value})


@operation(function=True, method=True)
def masked_select(input, mask):
    """y = the elements of x where mask is True, as a vector (x and mask broadcast);
    ∂L/∂x = zeros with ∂L/∂y put back where mask is True"""
    x = input
    shape = _check_mask("masked_select", x, mask)
    if shape != tuple(x.shape):
        x = x.expand(shape)
    key = (x.device.xp.broadcast_to(mask.array, shape),)
    return _index("masked_select", x, key, False, (mask,))


@operation(function=True, method=True, differentiable=False)
def nonzero(input, *, as_tuple=False):
    """The positions of the non-zero elements: an int64 tensor (count, ndim), or with
    ``as_tuple=True`` one int64 vector per dimension: the columns of that tensor, views of
    it as in PyTorch, so changing one in place while gradients are recorded (a fill with a
    value that requires grad) is refused as for the pieces of unbind."""
    xp = input.device.xp
    int64 = dtypes.int64.numpy
    if as_tuple:
        array = input.array.reshape(1) if input.ndim == 0 else input.array
        rows = xp.stack(xp.nonzero(array)).astype(int64, copy=False)   # (ndim, count)
        positions = wrap(rows.T, input.device)                          # (count, ndim)
        return tuple(mark_view(wrap(row, input.device), positions) for row in rows)
    return wrap(xp.argwhere(input.array).astype(int64, copy=False), input.device)


# getitem and setitem are Tensor.__getitem__ and Tensor.__setitem__ (not top-level names).
