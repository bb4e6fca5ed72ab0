"""Operations that rearrange elements without changing them: reshape, transpose, cat, split, …

Their backward rearranges the gradient the opposite way: a transpose's gradient is
transposed back, a slice's gradient is put back in place among zeros, the gradient of a
concatenation is cut into the pieces that were joined.

Where numpy can, the result is a view sharing the input's memory (``_as_view_of``): it
then shares the input's version counter too, so an in-place change through either one
is seen by every backward that saved the other. ``view`` insists on a view and refuses
when one is impossible; ``reshape`` copies when it must.
"""
import math
import operator
import warnings

from ..operands import promote, sum_to_shape
from ..tape import is_view_of, mark_view, record, record_many
from ..tensor import Tensor, wrap
from .reduction import normalize_dims
from .declare import alias, operation


# -- arguments ------------------------------------------------------------------------------
def _size_args(shape):
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _int(value, what, op):
    """``value`` as a Python int (ints, numpy ints and one-element integer tensors qualify)."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an int, got {type(value).__name__} "
                        f"({value!r})") from None


def _ints(values, what, op):
    return tuple(_int(v, what, op) for v in values)


def _dim(x, dim, op):
    """A dim of ``x`` in [-ndim, ndim) as an index in [0, ndim) (a 0-d tensor takes 0 or -1)."""
    return x._axis(_int(dim, "dim", op), op)


def _dims(x, dims, op):
    """An int or a tuple of ints as sorted distinct axes of ``x``; None means all of them,
    and (unlike for reductions) an empty tuple none."""
    if isinstance(dims, (tuple, list)) and not dims:
        return ()
    return normalize_dims(x, dims, op)


def _new_dim(x, dim, op):
    """A position for a new dim, in [-ndim-1, ndim], as an index in [0, ndim]."""
    dim = _int(dim, "dim", op)
    ndim = x.ndim
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError(f"{op}: dimension {dim} is out of range for a new dimension of a tensor "
                         f"of shape {tuple(x.shape)} (expected a dim in [{-ndim - 1}, {ndim}])")
    return dim % (ndim + 1)


def _as_view_of(out, x):
    if is_view_of(out.device.xp, out.array, x.array):
        mark_view(out, x)
    return out


def _inverse(permutation):
    inverse = [0] * len(permutation)
    for i, p in enumerate(permutation):
        inverse[p] = i
    return tuple(inverse)


# -- new shapes, same elements in the same order ------------------------------------------
def _reshaped(x, shape, op, view_only=False):
    """``x``'s elements in ``shape`` (a view where the memory allows), recorded as ``op``;
    the gradient is reshaped back."""
    if shape and min(shape) < 0 and (min(shape) < -1 or shape.count(-1) > 1):
        raise RuntimeError(f"{op}: shape {shape} is invalid: sizes must be non-negative, and "
                           f"only one of them can be -1 (inferred)")
    try:
        result = x.array.reshape(shape)
    except ValueError:
        raise RuntimeError(f"{op}: shape {shape} is invalid for an input of shape "
                           f"{tuple(x.shape)} ({x.array.size} elements)") from None
    if view_only and result.size and not x.device.xp.may_share_memory(result, x.array):
        strides = tuple(s // x.array.itemsize for s in x.array.strides)
        raise RuntimeError(
            f"{op}: the input of shape {tuple(x.shape)} and strides {strides} cannot be viewed "
            f"as shape {shape} without copying: its elements are not laid out in memory in that "
            f"order (it was transposed, permuted or sliced). Use .reshape(...) instead, which "
            f"copies when it must, or call .contiguous() first.")
    old_shape = tuple(x.shape)
    def backward(ctx, grad):
        return grad.reshape(old_shape)
    return _as_view_of(record(op, result, (x,), backward), x)


def _other_tensor(op, other):
    """``other``'s shape or dtype is what the op reads: it must be a tensor."""
    if not hasattr(other, "shape"):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__} ({other!r})")
    return other


@operation(function=True, method=True)
def reshape(input, *shape):
    """y = x with a new shape (same elements in the same order);  the gradient is reshaped back"""
    return _reshaped(input, _ints(_size_args(shape), "size", "reshape"), "reshape")


@operation(function=True, method=True)
def view(input, *shape):
    """y = x with a new shape, sharing x's memory;  the gradient is reshaped back

    Unlike reshape, never copies: when the memory layout does not allow it, it raises.
    """
    return _reshaped(input, _ints(_size_args(shape), "size", "view"), "view", view_only=True)


@operation(function=True, method=True)
def view_as(input, other):
    """y = x viewed with other's shape;  the gradient is reshaped back"""
    return _reshaped(input, tuple(_other_tensor("view_as", other).shape), "view_as",
                     view_only=True)


@operation(function=True, method=True)
def flatten(input, start_dim=0, end_dim=-1):
    """y = x with dims start_dim … end_dim merged into one;  the gradient is reshaped back"""
    x = input
    start, end = _dim(x, start_dim, "flatten"), _dim(x, end_dim, "flatten")
    if x.ndim == 0:
        return _reshaped(x, (1,), "flatten")   # a 0-d tensor flattens to one element
    if start > end:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim}) "
                           f"for a tensor of shape {tuple(x.shape)}")
    if start == end:
        return x   # nothing to merge: PyTorch returns the input itself
    merged = 1
    for size in x.shape[start:end + 1]:
        merged *= size
    return _reshaped(x, tuple(x.shape[:start]) + (merged,) + tuple(x.shape[end + 1:]), "flatten")


@operation(function=True, method=True)
def unflatten(input, dim, sizes):
    """y = x with dim split into several dims of the given sizes;  the gradient is reshaped back"""
    x = input
    if x.ndim == 0:
        raise RuntimeError("unflatten: cannot be applied to a 0-d tensor")
    d = _dim(x, dim, "unflatten")
    sizes = _ints(sizes, "size", "unflatten")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n, known, inferred = x.shape[d], 1, sizes.count(-1)
    for s in sizes:
        known *= s if s != -1 else 1
    fits = known == n if not inferred else inferred == 1 and known > 0 and n % known == 0
    if not fits:
        raise RuntimeError(f"unflatten: sizes {sizes} don't multiply up to the size of dim {dim} "
                           f"({n}) of the input of shape {tuple(x.shape)}")
    # -1 is inferred from the dim's own size (not the element count: zeros(2, 0, 3)
    # unflattens its last dim into (3, -1) = (3, 1))
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return _reshaped(x, tuple(x.shape[:d]) + sizes + tuple(x.shape[d + 1:]), "unflatten")


@operation(function=True, method=True)
def squeeze(input, dim=None):
    """y = x without its size-1 dims (all of them, or those of ``dim``);  the gradient is
    reshaped back"""
    x = input
    axes = _dims(x, dim, "squeeze")
    shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return _reshaped(x, shape, "squeeze")


@operation(function=True, method=True)
def unsqueeze(input, dim):
    """y = x with a new dim of size 1 at ``dim``;  the gradient is reshaped back"""
    x = input
    d = _new_dim(x, dim, "unsqueeze")
    return _reshaped(x, tuple(x.shape[:d]) + (1,) + tuple(x.shape[d:]), "unsqueeze")


# -- the same elements, dims in another order (always views) ------------------------------
@operation(function=True, method=True)
def transpose(input, dim0, dim1):
    """y = x with dims dim0 and dim1 swapped;  the gradient is swapped back"""
    x = input
    d0, d1 = _dim(x, dim0, "transpose"), _dim(x, dim1, "transpose")
    result = x.device.xp.swapaxes(x.array, d0, d1) if x.ndim else x.array[...]
    def backward(ctx, grad):
        return transpose(grad, d0, d1)
    return _as_view_of(record("transpose", result, (x,), backward, attrs={"dims": (d0, d1)}), x)


swapaxes = alias(transpose, 'swapaxes')
swapdims = alias(transpose, 'swapdims')


@operation(function=True, method=True)
def t(input):
    """y = xᵀ for a matrix (x itself, as a view, for 0-d and 1-d);  the gradient is transposed
    back"""
    x = input
    if x.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with at most 2 dimensions, got one of shape "
                           f"{tuple(x.shape)}; use transpose(dim0, dim1) or .mT for batches")
    result = x.array.T if x.ndim == 2 else x.array[...]
    def backward(ctx, grad):
        return t(grad)
    return _as_view_of(record("t", result, (x,), backward), x)


@operation()
def matrix_transpose(input):
    """y = x with its last two dims swapped (``x.mT``);  the gradient is swapped back"""
    x = input
    if x.ndim < 2:
        raise RuntimeError(f"matrix_transpose (.mT): needs a matrix or a batch of matrices, got a "
                           f"tensor of shape {tuple(x.shape)}")
    def backward(ctx, grad):
        return matrix_transpose(grad)
    return mark_view(record("matrix_transpose", x.array.swapaxes(-1, -2), (x,), backward), x)


@operation()
def numpy_T(input):
    """y = x with all its dims reversed (``x.T``);  the gradient is reversed back"""
    x = input
    if x.ndim not in (0, 2):
        warnings.warn(f"x.T on a tensor of {x.ndim} dimensions reverses all of them; PyTorch "
                      f"deprecates it for tensors of other than 2 dimensions. Use x.mT to "
                      f"transpose a batch of matrices, or x.permute(...)", UserWarning,
                      stacklevel=2)
    reverse = tuple(range(x.ndim - 1, -1, -1))
    def backward(ctx, grad):
        return permute(grad, reverse)
    return _as_view_of(record("numpy_T", x.device.xp.permute_dims(x.array, reverse), (x,),
                              backward), x)


def _permuted(x, permutation, op):
    """``x`` with its dims in the order ``permutation``; the gradient is put back in order."""
    back = _inverse(permutation)
    def backward(ctx, grad):
        return permute(grad, back)
    result = x.device.xp.permute_dims(x.array, permutation) if x.ndim else x.array[...]
    return _as_view_of(record(op, result, (x,), backward, attrs={"perm": permutation}), x)


@operation(function=True, method=True)
def permute(input, *dims):
    """y = x with its dims reordered: y.shape[i] = x.shape[dims[i]];  the gradient is put
    back by the inverse permutation"""
    x = input
    dims = _ints(_size_args(dims), "dim", "permute")
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute: dims {dims} must name each of the {x.ndim} dimensions of "
                           f"the tensor of shape {tuple(x.shape)} exactly once")
    permutation = tuple(_dim(x, d, "permute") for d in dims)
    if len(set(permutation)) != len(permutation):
        raise RuntimeError(f"permute: dims {dims} is not a permutation: it names a dimension "
                           f"twice (tensor of shape {tuple(x.shape)})")
    return _permuted(x, permutation, "permute")


@operation(function=True, method=True)
def movedim(input, source, destination):
    """y = x with the dims ``source`` moved to the positions ``destination``, the others
    keeping their order;  the gradient is moved back"""
    x = input
    source = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    destination = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must name "
                           f"the same number of dims")
    src = [_dim(x, d, "movedim") for d in source]
    dst = [_dim(x, d, "movedim") for d in destination]
    for name, given, axes in (("source", source, src), ("destination", destination, dst)):
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"movedim: {name} {given} names a dimension twice")
    if x.ndim == 0:
        return _permuted(x, (), "movedim")
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(a for a in range(x.ndim) if a not in src)
    return _permuted(x, tuple(o if o is not None else next(rest) for o in order), "movedim")


moveaxis = alias(movedim, 'moveaxis')


# -- copies along broadcast or repeated dims ----------------------------------------------
def _expanded(x, sizes, op):
    """``x`` broadcast to ``sizes`` (-1 keeps a size) as a view; the gradient is summed back."""
    sizes = _ints(sizes, "size", op)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"{op}: the target size {sizes} has fewer dimensions than the "
                           f"input of shape {tuple(x.shape)}")
    lead = len(sizes) - x.ndim
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:   # (read-only on numpy: elements that share memory cannot be written)
        result = x.device.xp.broadcast_to(x.array, target)
    except ValueError:
        raise RuntimeError(f"{op}: the input of shape {tuple(x.shape)} cannot be expanded to "
                           f"{sizes}: only dimensions of size 1 can grow") from None
    if math.prod(target) == x.array.size:   # no dim grew: a plain view, writeable as x is
        result = x.array.reshape(target)
    old_shape = tuple(x.shape)
    def backward(ctx, grad):
        return sum_to_shape(grad, old_shape)
    return mark_view(record(op, result, (x,), backward), x)   # broadcast_to always gives a view


@operation(function=True, method=True)
def expand(input, *sizes):
    """y = x repeated along its size-1 dims (a view);  ∂L/∂x = ∂L/∂y summed over the copies"""
    return _expanded(input, _size_args(sizes), "expand")


@operation(function=True, method=True)
def expand_as(input, other):
    """y = x expanded to other's shape;  ∂L/∂x = ∂L/∂y summed over the copies"""
    return _expanded(input, tuple(_other_tensor("expand_as", other).shape), "expand_as")


@operation(function=True, method=True)
def broadcast_to(input, shape):
    """y = x broadcast to ``shape`` (a view);  ∂L/∂x = ∂L/∂y summed over the copies"""
    return _expanded(input, tuple(shape), "broadcast_to")


@operation(function=True, method=True)
def repeat(input, *sizes):
    """y = x tiled sizes[i] times along dim i (numpy's tile);  ∂L/∂x = ∂L/∂y summed over
    the tiles"""
    x = input
    sizes = _ints(_size_args(sizes), "size", "repeat")
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: {len(sizes)} repeat sizes {sizes} for a tensor of shape "
                           f"{tuple(x.shape)}: give at least one per dimension")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: the repeat sizes {sizes} must be non-negative")
    shape = tuple(x.shape)
    padded = (1,) * (len(sizes) - x.ndim) + shape
    # Tile k of dim i holds the elements [k·n, (k+1)·n): split each dim into (tiles, n)
    # and sum over the tiles.
    tiles_by_size = tuple(v for pair in zip(sizes, padded) for v in pair)
    tile_axes = tuple(range(0, 2 * len(sizes), 2))
    def backward(ctx, grad):
        if not sizes:
            return grad
        return grad.reshape(tiles_by_size).sum(dim=tile_axes).reshape(shape)
    return record("repeat", x.device.xp.tile(x.array, sizes), (x,), backward,
                  attrs={"sizes": sizes})


# -- reversing and selecting parts --------------------------------------------------------
@operation(function=True, method=True)
def flip(input, *args, dims=None):
    """y = x reversed along ``dims`` (a copy, as in PyTorch);  the gradient is reversed back

    ``flip(x, (0, 1))``, ``flip(x, dims=[0])`` and ``x.flip(0, 1)`` all work.
    """
    x = input
    if (dims is None) == (not args):
        raise TypeError(f"flip: expected dims once (an int or a tuple of ints), got "
                        f"{args} and dims={dims}")
    axes = _dims(x, _size_args(args) if args else dims, "flip")
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    def backward(ctx, grad):
        return flip(grad, axes)
    # A copy, not numpy's negative-stride view: changing the result in place must not
    # change the input, as in PyTorch.
    return record("flip", x.array[index + (Ellipsis,)].copy(), (x,), backward,
                  attrs={"dims": axes})


def _slice(input, dim, start, stop, op="slice"):
    """y = x[start:stop] along ``dim`` (a view);  ∂L/∂x is ∂L/∂y in that place, zero elsewhere

    ``dim`` is a non-negative axis and 0 ≤ start ≤ stop ≤ size (checked by the callers).
    """
    x = input
    index = (slice(None),) * dim + (slice(start, stop),)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        return _slice_backward(grad, shape, dim, start, stop)
    return _as_view_of(record(op, x.array[index], (x,), backward,
                              attrs={"dim": dim, "start": start, "stop": stop}), x)


def _slice_backward(input, shape, dim, start, stop):
    """y = zeros(shape) with x written into [start:stop] along ``dim``;  the gradient is
    sliced out again"""
    g = input
    result = g.device.xp.zeros(shape, dtype=g.array.dtype)
    result[(slice(None),) * dim + (slice(start, stop),)] = g.array
    def backward(ctx, grad):
        return _slice(grad, dim, start, stop)
    return record("slice_backward", result, (g,), backward)


def _select(input, dim, index, op="select"):
    """y = x[index] along ``dim``, which disappears (a view);  ∂L/∂x is ∂L/∂y at that index,
    zero elsewhere"""
    x = input
    shape = tuple(x.shape)
    def backward(ctx, grad):
        return _select_backward(grad, shape, dim, index)
    # The Ellipsis keeps a 0-d result an array (a view) rather than a numpy scalar.
    result = x.array[(slice(None),) * dim + (index, Ellipsis)]
    return _as_view_of(record(op, result, (x,), backward, attrs={"dim": dim, "index": index}), x)


def _select_backward(input, shape, dim, index):
    """y = zeros(shape) with x written at ``index`` along ``dim``;  the gradient is selected
    again"""
    g = input
    result = g.device.xp.zeros(shape, dtype=g.array.dtype)
    result[(slice(None),) * dim + (index, Ellipsis)] = g.array
    def backward(ctx, grad):
        return _select(grad, dim, index)
    return record("select_backward", result, (g,), backward)


@operation(function=True, method=True)
def narrow(input, dim, start, length):
    """y = x[start : start+length] along ``dim`` (a view);  the gradient is zero-padded back"""
    x = input
    if x.ndim == 0:
        raise RuntimeError("narrow: cannot be applied to a 0-d tensor")
    d = _dim(x, dim, "narrow")
    start, length = _int(start, "start", "narrow"), _int(length, "length", "narrow")
    size = x.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {size} "
                         f"(tensor of shape {tuple(x.shape)})")
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds the size "
                           f"{size} of dim {dim} (tensor of shape {tuple(x.shape)})")
    return _slice(x, d, start, start + length, "narrow")


@operation(function=True, method=True)
def tril(input, diagonal=0):
    """y = x with the elements above the ``diagonal``-th diagonal of the last two dims set
    to 0;  the gradient is masked the same way"""
    x = input
    if x.ndim < 2:
        raise RuntimeError(f"tril: needs a tensor with at least 2 dimensions, got shape "
                           f"{tuple(x.shape)}")
    diagonal = _int(diagonal, "diagonal", "tril")
    def backward(ctx, grad):
        return tril(grad, diagonal)
    return record("tril", x.device.xp.tril(x.array, diagonal), (x,), backward,
                  attrs={"diagonal": diagonal})


@operation(function=True, method=True)
def triu(input, diagonal=0):
    """y = x with the elements below the ``diagonal``-th diagonal of the last two dims set
    to 0;  the gradient is masked the same way"""
    x = input
    if x.ndim < 2:
        raise RuntimeError(f"triu: needs a tensor with at least 2 dimensions, got shape "
                           f"{tuple(x.shape)}")
    diagonal = _int(diagonal, "diagonal", "triu")
    def backward(ctx, grad):
        return triu(grad, diagonal)
    return record("triu", x.device.xp.triu(x.array, diagonal), (x,), backward,
                  attrs={"diagonal": diagonal})


# -- joining and cutting ------------------------------------------------------------------
def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got a single Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}: expected a non-empty list of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected a list of tensors, but element {i} is a "
                            f"{type(x).__name__}")
    return tensors


@operation(function=True, out=True)
def cat(tensors, dim=0):
    """y = x₁, x₂, … joined along ``dim``;  each ∂L/∂xᵢ is its own slice of ∂L/∂y

    The inputs are promoted to one dtype. As in PyTorch, 1-d tensors with no elements are
    skipped (whatever the other tensors' shape).
    """
    tensors = _tensor_list(tensors, "cat")
    for i, tensor in enumerate(tensors):
        if tensor.ndim == 0:
            raise RuntimeError(f"cat: the tensor at position {i} is 0-d and cannot be "
                               f"concatenated; use stack, or unsqueeze it first")
    tensors = list(promote("cat", *tensors))
    joined = [i for i, x in enumerate(tensors) if not (x.ndim == 1 and x.shape[0] == 0)]
    joined = joined or list(range(len(tensors)))
    first = tensors[joined[0]]
    d = _dim(first, dim, "cat")
    for i in joined[1:]:
        x = tensors[i]
        if x.ndim != first.ndim:
            raise RuntimeError(f"cat: tensors must have the same number of dimensions, but "
                               f"tensor {joined[0]} has shape {tuple(first.shape)} and tensor "
                               f"{i} has shape {tuple(x.shape)}")
        if any(a != b for k, (a, b) in enumerate(zip(first.shape, x.shape)) if k != d):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}, but "
                               f"tensor {joined[0]} has shape {tuple(first.shape)} and tensor "
                               f"{i} has shape {tuple(x.shape)}")
    result = first.device.xp.concat([tensors[i].array for i in joined], axis=d)
    spans, offset = {}, 0
    for i in joined:
        spans[i] = (offset, offset + tensors[i].shape[d])
        offset += tensors[i].shape[d]
    count = len(tensors)   # backward keeps the count and spans, not the inputs
    def backward(ctx, grad):
        grads = []
        for i in range(count):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
            elif i in spans:
                grads.append(_slice(grad, d, *spans[i]))
            else:  # a skipped empty tensor
                grads.append(wrap(grad.device.xp.zeros((0,), dtype=grad.array.dtype),
                                  grad.device))
        return tuple(grads)
    return record("cat", result, tuple(tensors), backward, attrs={"dim": d, "joined": joined})


concat = alias(cat, 'concat')
concatenate = alias(cat, 'concatenate')


@operation(function=True, out=True)
def stack(tensors, dim=0):
    """y = x₁, x₂, … (all of one shape) stacked along a new dim;  ∂L/∂xᵢ = ∂L/∂y at index i
    of that dim"""
    tensors = _tensor_list(tensors, "stack")
    shape = tuple(tensors[0].shape)
    for i, x in enumerate(tensors):
        if tuple(x.shape) != shape:
            raise RuntimeError(f"stack: expects tensors of one shape, but tensor 0 has shape "
                               f"{shape} and tensor {i} has shape {tuple(x.shape)}")
    first = tensors[0]
    if not all(x.array.dtype == first.array.dtype and x.device is first.device for x in tensors):
        tensors = list(promote("stack", *tensors))   # (an RNN stacks 32 alike: skip this)
    d = _new_dim(tensors[0], dim, "stack")
    result = tensors[0].device.xp.stack([x.array for x in tensors], axis=d)
    def backward(ctx, grad):
        # one unbind (a single node for all the slices) rather than one select per input
        return tuple(piece if needed else None
                     for piece, needed in zip(unbind(grad, d), ctx.needs_input_grad))
    return record("stack", result, tuple(tensors), backward, attrs={"dim": d})


def _pieces(x, d, sizes, op):
    """Consecutive slices of ``x`` along ``d`` with the given sizes (views), recorded as ONE
    node with one output per piece;  ∂L/∂x = the pieces' gradients concatenated back.

    One node rather than one per piece: each piece's backward would otherwise pad its
    gradient with zeros to x's full shape, which costs O(pieces × size of x).
    """
    results, start = [], 0
    for size in sizes:
        results.append(x.array[(slice(None),) * d + (slice(start, start + size),)])
        start += size
    def backward(ctx, *grads):
        return cat(grads, d)
    return tuple(_as_view_of(piece, x) for piece in record_many(op, results, (x,), backward,
                                                                attrs={"dim": d, "sizes": sizes}))


@operation(function=True, method=True)
def split(tensor, split_size_or_sections, dim=0):
    """x cut along ``dim`` into pieces of split_size (the last may be smaller), or of the
    sizes listed;  ∂L/∂x = the pieces' gradients concatenated back"""
    x = tensor
    if x.ndim == 0:
        raise RuntimeError("split: expects a tensor with at least 1 dimension, got a 0-d tensor")
    d = _dim(x, dim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = _ints(split_size_or_sections, "section size", "split")
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(f"split: the section sizes {list(sizes)} must be non-negative and "
                               f"sum to {n}, the size of dim {dim} of the tensor of shape "
                               f"{tuple(x.shape)}")
    else:
        size = _int(split_size_or_sections, "split_size", "split")
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(f"split: split_size must be positive (0 only for a dimension of "
                               f"size 0), got {size} for dim {dim} of size {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else []
        sizes = sizes or [0]
    return _pieces(x, d, sizes, "split")


@operation(function=True, method=True)
def chunk(input, chunks, dim=0):
    """x cut along ``dim`` into ``chunks`` pieces of ceil(n/chunks) (the last smaller; fewer
    pieces when they run out);  ∂L/∂x = the pieces' gradients concatenated back"""
    x = input
    chunks = _int(chunks, "chunks", "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk: expects chunks to be greater than 0, got {chunks}")
    if x.ndim == 0:
        raise RuntimeError("chunk: expects a tensor with at least 1 dimension, got a 0-d tensor")
    d = _dim(x, dim, "chunk")
    n = x.shape[d]
    if n == 0:
        return _pieces(x, d, [0] * chunks, "chunk")
    size = -(-n // chunks)
    return _pieces(x, d, [size] * (n // size) + ([n % size] if n % size else []), "chunk")


@operation(function=True, method=True)
def unbind(input, dim=0):
    """x cut along ``dim`` into its slices, that dim removed;  ∂L/∂x = the slices' gradients
    stacked back along ``dim``"""
    x = input
    if x.ndim == 0:
        raise IndexError("unbind: a 0-d tensor has no dimension to unbind")
    d = _dim(x, dim, "unbind")
    # One node for all slices (see _pieces); the Ellipsis keeps 0-d slices arrays (views).
    results = [x.array[(slice(None),) * d + (i, Ellipsis)] for i in range(x.shape[d])]
    def backward(ctx, *grads):
        return stack(grads, d)
    return tuple(mark_view(piece, x) for piece in record_many("unbind", results, (x,), backward,
                                                              attrs={"dim": d}))


# -- copies ---------------------------------------------------------------------------------
@operation(function=True, method=True)
def clone(input):
    """y = a copy of x (same values, same memory layout, its own memory);  dy/dx = 1"""
    x = input
    def backward(ctx, grad):
        return grad
    return record("clone", x.array.copy(order="K"), (x,), backward)


@operation(function=True, method=True)
def contiguous(input):
    """y = x with its elements in row-major (C) order: x itself when they already are, else a
    copy;  dy/dx = 1"""
    x = input
    if x.array.flags.c_contiguous:
        return x
    def backward(ctx, grad):
        return grad
    return record("contiguous", x.device.xp.ascontiguousarray(x.array), (x,), backward)
