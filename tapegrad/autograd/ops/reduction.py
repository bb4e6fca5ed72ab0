"""Reductions over dimensions: sum, mean, var, prod, max, softmax and friends.

``dim`` is an int, a tuple of ints or None (all dimensions); ``keepdim=True`` keeps the
reduced dimensions with size 1. A reduction's backward spreads the gradient back over
the elements that were reduced, which is a broadcast: the gradient is reshaped to the
kept shape (``kept_shape``), and broadcasting against the input does the rest.

As in PyTorch, an empty ``dim=()`` reduces every dimension (numpy reduces none).
"""
import builtins
import operator
from collections import namedtuple

from ... import kernels
from ...dtypes import promote_pair
from .. import grad_mode
from ..quiet import quiet
from ..tape import OUTPUT, record
from ..tensor import Tensor, wrap
from .arithmetic import maximum, minimum, where
from .declare import operation
from .gate import gate

# A reduction that returns values and where they were: ``values, indices = x.max(dim=1)``
# (PyTorch's torch.return_types.max); ``result.values`` and ``result.indices`` work too.
ReturnTypes = namedtuple("ReturnTypes", ["values", "indices"])


def normalize_dims(x, dim, op):
    """``dim`` as a sorted tuple of non-negative axes of ``x`` (None or () means all of them).

    A 0-d tensor accepts dim 0 and -1 (as PyTorch does) and has no axes to reduce: ().
    """
    ndim = x.ndim
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:
        return tuple(range(ndim))
    span = builtins.max(ndim, 1)
    axes = []
    for d in dims:
        try:
            d = operator.index(d)
        except TypeError:
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}") from None
        if not -span <= d < span:
            raise IndexError(f"{op}: dimension {d} is out of range for a tensor of shape "
                             f"{tuple(x.shape)} (expected a dim in [{-span}, {span - 1}])")
        axes.append(d % span)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {dim} names the same dimension twice (tensor of shape "
                           f"{tuple(x.shape)})")
    return tuple(sorted(a for a in axes if a < ndim))


def single_dim(x, dim, op):
    """For ops that reduce exactly one dimension (softmax, cumsum, max(dim)…): ``(axis,)``,
    or () for a 0-d tensor."""
    if isinstance(dim, (tuple, list)) or dim is None:
        raise TypeError(f"{op}: dim must be a single int, got {dim!r}")
    return normalize_dims(x, dim, op)


def kept_shape(shape, axes):
    """The shape after reducing ``axes`` with keepdim=True."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _kept(grad, shape, axes, keepdim):
    """A reduction's result (or its gradient) with the reduced dims back as size 1, so that it
    broadcasts against the input."""
    if keepdim or grad.ndim == 0:   # a 0-d value broadcasts against anything as it is
        return grad
    return grad.reshape(kept_shape(shape, axes))


def _count(shape, axes):
    """How many elements each reduced slice has."""
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _require_float(op, x, hint="convert it first with .float()"):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: needs a floating point tensor, got {x.dtype}; {hint}")
    return x


def _require_nonempty(op, x, axes, dim):
    """max, min, argmax… of nothing is undefined: an error naming the empty dimension."""
    for a in axes:
        if x.shape[a] == 0:
            if dim is None:
                raise RuntimeError(f"{op}: the tensor of shape {tuple(x.shape)} is empty; the "
                                   f"{op} of no elements is undefined (pass a dim to reduce only "
                                   f"non-empty dimensions)")
            raise IndexError(f"{op}: cannot reduce dimension {a} of size 0 (tensor of shape "
                             f"{tuple(x.shape)}): the {op} of no elements is undefined")


# -- sums and averages ------------------------------------------------------------------------
@operation(function=True, method=True, out=True)
def sum(input, dim=None, keepdim=False, dtype=None):
    """y = Σᵢ xᵢ over ``dim``;  ∂y/∂xᵢ = 1, so the gradient is broadcast back"""
    x = input if dtype is None else input.to(dtype)
    axes = normalize_dims(x, dim, "sum")
    if x.array.dtype == x.device.xp.float16:   # accumulated in float32 and rounded once, as
        # PyTorch (numpy's float16 sum along a strided axis overflows at partial sums > 65504)
        result = x.array.sum(axis=axes, keepdims=keepdim, dtype=x.device.xp.float32)
        result = result.astype(x.array.dtype)
    else:
        result = x.array.sum(axis=axes, keepdims=keepdim)
    if dtype is not None:   # the dtype asked for (a bool sum is True where any is nonzero)
        result = result.astype(x.array.dtype, copy=False)
    elif x.array.dtype.kind in "bui":   # integer and bool sums are int64, as in PyTorch
        result = result.astype("int64", copy=False)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        return _kept(grad, shape, axes, keepdim).expand(shape)
    out = record("sum", x.device.xp.asarray(result), (x,), backward,
                 attrs={"dims": axes, "keepdim": keepdim})
    if dim is not None and out.grad_fn is not None:
        out.grad_fn.pytorch_name = "SumBackward1"   # PyTorch's overload with a dim
    return out


@operation(function=True, method=True, out=True)
def mean(input, dim=None, keepdim=False, dtype=None):
    """y = (1/n) Σᵢ xᵢ over ``dim``;  ∂y/∂xᵢ = 1/n"""
    x = input if dtype is None else input.to(dtype)
    _require_float("mean", x, "convert it first with .float(), or pass dtype=")
    axes = normalize_dims(x, dim, "mean")
    shape = tuple(x.shape)
    count = _count(shape, axes)
    # a float16 mean is taken in float32 from the input itself and rounded once, as
    # PyTorch does: mean(x32, dtype=float16) of [70000, -70000, 1] is 0.3333, not inf - inf
    xp = x.device.xp
    source = (input.array.astype(xp.float32, copy=False)
              if dtype is not None and x.array.dtype == xp.float16 else x.array)
    # the mean of nothing is nan; numpy's mean would also warn, which PyTorch does not
    result = (source.mean(axis=axes, keepdims=keepdim, dtype=xp.float32 if source is not
                          x.array else None) if count
              else x.array.sum(axis=axes, keepdims=keepdim) + float("nan"))
    result = xp.asarray(result).astype(x.array.dtype, copy=False)
    def backward(ctx, grad):
        # 1/n as a Python float: n itself may not fit the dtype (float16 tops at 65504)
        scale = 1.0 / count if count else float("nan")
        return _kept(grad * scale, shape, axes, keepdim).expand(shape)
    return record("mean", result, (x,), backward, attrs={"dims": axes, "keepdim": keepdim})


def _correction(op, dim, unbiased, correction):
    """PyTorch's spellings of var/std: var(x, dim, correction=c), the older var(x, dim,
    unbiased) and var(x, unbiased). unbiased=True is correction=1, False is 0."""
    if isinstance(dim, bool):   # var(x, True): the var(input, unbiased) form
        if unbiased is not None:
            raise TypeError(f"{op}: got unbiased twice ({dim} as dim and {unbiased})")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: pass either unbiased={unbiased} or correction={correction}, "
                        f"not both (unbiased=True means correction=1, False means 0)")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return dim, 1 if correction is None else correction


def _rescaled(xp, a, axes, keepdim, result, statistic, redo=None, power=1):
    """``result`` where it is finite (or outside ``redo``); elsewhere mᵖ·statistic(a/m),
    m = max |a| over ``axes``: a std, variance (p = 2) or norm whose squares overflow the
    dtype although it does not (the std of float32 values near 1e30; PyTorch accumulates
    float32 in float64, float16 in float32), or a norm whose squares underflow to 0."""
    m = xp.abs(a).max(axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m) & (m > 0), m, xp.ones((), dtype=m.dtype))
    scaled = statistic(a / m)
    with quiet(xp):
        for _ in range(power):   # (m·m alone could overflow where m·m·var(a/m) does not)
            scaled = scaled * m.reshape(result.shape)
    redo = result == xp.inf if redo is None else redo
    return xp.where(redo, scaled, result).astype(result.dtype, copy=False)


def _spread(xp, a, axes, correction, keepdim, statistic):
    """``a.var`` or ``a.std`` (``statistic``) over ``axes``, of ``a`` less its first element
    along them: the same value, and exactly 0 for equal values, where the rounding of a
    two-pass mean leaves a residue (five float16 7836s have the mean 7832; PyTorch's
    running update is exact there). float16 is computed in float32 and rounded once (its
    squares overflow beyond 256, as PyTorch's float32 accumulation does not)."""
    wide = a.astype(xp.float32) if a.dtype.itemsize == 2 else a
    first = tuple(slice(0, 1) if i in axes else slice(None) for i in range(a.ndim))
    with quiet(xp):   # (inf - inf is NaN, as the unshifted variance of an inf is)
        shifted = wide - wide[first]
        result = getattr(shifted, statistic)(axis=axes, ddof=correction, keepdims=keepdim)
    return xp.asarray(result).astype(a.dtype, copy=False)


def _underflowed(xp, a, result, power=1):
    """Where a float32 std (``power`` 1) or variance (2) is so small that the squares of its
    deviations fell below float32's normal range, and lost digits or all of it (the std of
    [1e-30, 0] is 7.1e-31, but (5e-31)² is 0 in float32): PyTorch accumulates float32 in
    float64, where they do not. None where nothing did (float64 underflows in PyTorch too)."""
    if a.dtype != xp.float32:
        return None
    info = xp.finfo(xp.float32)
    redo = result < (info.tiny / info.eps) ** (power / 2)
    return redo if redo.any() else None


def _past_the_range(xp, a, axes, keepdim, result):
    """Where a variance or std over ``axes`` is ∞, or NaN though every value is finite: its
    squares, or the shift x - x₀, passed the dtype's range (float32 values of ±3.4e38:
    3.4e38 - (-3.4e38) = ∞, and ∞ - ∞ = NaN in the sum), where the statistic may fit. Only
    called where the result is not finite, so the common case costs no pass over ``a``."""
    finite = xp.isfinite(a).all(axis=axes, keepdims=keepdim)
    return (result == xp.inf) | (xp.isnan(result) & finite)


def _var_backward(grad_kept, x, axes, dof, every_dim):
    """∂var/∂xᵢ = 2(xᵢ - mean)/(N - correction), times the incoming gradient.

    With no degree of freedom left (N ≤ correction) it follows PyTorch: over every dim,
    ∞ (NaN where xᵢ is the mean); along given dims, 2/(N - correction) as it falls (∞ at
    0, negative below it)."""
    if dof <= 0 and every_dim:
        return grad_kept * where(x == x.mean(axes, keepdim=True), float("nan"), float("inf"))
    # 2/(N - correction) first, as PyTorch: g·(xᵢ - mean) may overflow where the product
    # with 2/(N - correction) < 1 fits
    return grad_kept * (2 / dof if dof != 0 else float("inf")) * _deviation(x, axes)


def _deviation(x, axes):
    """x - x̄ over ``axes``, as (x - x₀) - mean(x - x₀), x₀ the first value along them (as the
    forward's ``_spread``): the same in the math, and exactly 0 for equal values, where a
    two-pass mean rounds off them (x̄ of five float32 1e30s is 1e30 + 6e22), so the gradient
    is 0 where the forward's variance is. Where either is not finite (the shift passes the
    dtype's range, ±3.4e38 in float32; x̄ of four float32 -3.4e38s overflows to -∞; an ∞ or
    NaN), x - x̄ itself, as PyTorch's backward takes it. float16 is computed in float32 and
    rounded once, as the forward: x - x₀ in float16 rounds 65504 - 5.77 by up to 16, so that
    the mean of such shifts can put x̄ on the wrong side of a value near it."""
    if x.dtype.itemsize == 2 and x.dtype.is_floating_point:
        return _deviation(x.float(), axes).to(x.dtype)
    first = x[tuple(slice(0, 1) if i in axes else slice(None) for i in range(x.ndim))]
    shifted = x - first
    deviation = shifted - shifted.mean(axes, keepdim=True)
    plain = x - x.mean(axes, keepdim=True)
    xp = x.device.xp
    finite = xp.isfinite(deviation.array) & xp.isfinite(plain.array)
    if bool(finite.all()):
        return deviation
    return where(wrap(finite, x.device), deviation, plain)


@operation(function=True, method=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """y = Σᵢ (xᵢ - x̄)² / (N - correction);  ∂y/∂xᵢ = 2(xᵢ - x̄)/(N - correction)

    ``correction`` is 1 unless given (Bessel's correction, the unbiased estimate); the
    older spellings ``var(x, dim, unbiased, keepdim)`` and ``var(x, unbiased)`` work too,
    unbiased=False meaning correction=0.
    """
    dim, correction = _correction("var", dim, unbiased, correction)
    x = _require_float("var", input)
    axes = normalize_dims(x, dim, "var")
    shape = tuple(x.shape)
    dof, every_dim = _count(shape, axes) - correction, dim is None or x.ndim == 0
    xp = x.device.xp
    result = _spread(xp, x.array, axes, correction, keepdim, "var")
    if dof > 0 and not xp.isfinite(result).all():   # the squares overflowed, or an input is ∞
        redo = _past_the_range(xp, x.array, axes, keepdim, result)
        if redo.any():
            result = _rescaled(xp, x.array, axes, keepdim, result,
                               lambda a: a.var(axis=axes, ddof=correction, keepdims=keepdim),
                               redo, power=2)
    tiny = _underflowed(xp, x.array, result, power=2)
    if tiny is not None:
        result = _rescaled(xp, x.array, axes, keepdim, result,
                           lambda a: _spread(xp, a, axes, correction, keepdim, "var"), tiny, power=2)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return _var_backward(_kept(grad, shape, axes, keepdim), x, axes, dof, every_dim)
    return record("var", result, (x,), backward, save=(x,),
                  attrs={"dims": axes, "keepdim": keepdim, "correction": correction})


@operation(function=True, method=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """y = √var(x);  ∂y/∂xᵢ = ∂var/∂xᵢ / (2y) = (xᵢ - x̄) / ((N - correction)·y)"""
    dim, correction = _correction("std", dim, unbiased, correction)
    x = _require_float("std", input)
    axes = normalize_dims(x, dim, "std")
    shape = tuple(x.shape)
    dof, every_dim = _count(shape, axes) - correction, dim is None or x.ndim == 0
    xp = x.device.xp
    result = _spread(xp, x.array, axes, correction, keepdim, "std")
    if not xp.isfinite(result).all():   # the squares overflowed, or an input is infinite
        redo = (_past_the_range(xp, x.array, axes, keepdim, result) if dof > 0
                else result == xp.inf)
        if redo.any():
            result = _rescaled(xp, x.array, axes, keepdim, result,
                               lambda a: a.std(axis=axes, ddof=correction, keepdims=keepdim),
                               redo)
    tiny = _underflowed(xp, x.array, result)
    if tiny is not None:   # (a/m keeps x - x₀ exactly 0 for equal values, as _spread)
        result = _rescaled(xp, x.array, axes, keepdim, result,
                           lambda a: _spread(xp, a, axes, correction, keepdim, "std"), tiny)
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        # Where y = 0 (constant values) the gradient is 0, as in PyTorch, not 0/0; a y that
        # is NaN (one value with correction 1) keeps its NaN gradient.
        grad_var = _kept(where(y == 0, 0.0, grad / (y * 2)), shape, axes, keepdim)
        return _var_backward(grad_var, x, axes, dof, every_dim)
    return record("std", result, (x,), backward, save=(x, OUTPUT),
                  attrs={"dims": axes, "keepdim": keepdim, "correction": correction})


# -- products -------------------------------------------------------------------------------
@operation(function=True, method=True)
def prod(input, dim=None, keepdim=False, dtype=None):
    """y = Πᵢ xᵢ over ``dim`` (one dim, or all);  ∂y/∂xᵢ = Π_{k≠i} xₖ  (y/xᵢ when no xₖ is 0)"""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod: dim must be a single int or None (it reduces one dimension or "
                        f"all of them), got {dim!r}")
    x = input if dtype is None else input.to(dtype)
    return _prod(x, normalize_dims(x, dim, "prod"), keepdim, widen=dtype is None,
                 every_dim=dim is None)


def _prod(x, axes, keepdim, widen=True, pytorch_edges=True, every_dim=None):
    with quiet(x.device.xp):   # (overflow to inf, silently as in PyTorch)
        result = x.array.prod(axis=axes, keepdims=keepdim)
    if widen and x.array.dtype.kind in "bui":   # integer and bool products are int64 (PyTorch)
        result = result.astype("int64", copy=False)
    elif not widen:   # a dtype was asked for: the product stays in it
        result = result.astype(x.array.dtype, copy=False)
    shape = tuple(x.shape)
    every_dim = len(axes) != 1 or bool(every_dim)
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        if x.ndim == 0:   # y = x: the gradient itself (y/x would be NaN at 0, ∞ or NaN)
            return grad
        grad = _kept(grad, shape, axes, keepdim)
        zeros = x.array == 0
        if not zeros.any():   # (y/x first, as PyTorch: grad·y might overflow where y/x fits)
            return grad * (_kept(y, shape, axes, keepdim) / x)
        if pytorch_edges:
            return prod_backward(grad.reshape(kept_shape(shape, axes)), x,
                                 None if every_dim else axes[0])
        return grad * _product_of_the_others(x, axes, zeros)
    return record("prod", x.device.xp.asarray(result), (x,), backward, save=(x, OUTPUT),
                  attrs={"dims": axes, "keepdim": keepdim})


@operation()
def prod_backward(grad, input, dim):
    """∂y/∂xᵢ · grad for y = prod(x, dim) (all elements when ``dim`` is None) where x holds
    a 0, as PyTorch computes it: Π_{k<i} xₖ · Π_{k>i} xₖ from two exclusive cumulative
    products, for every slice of the tensor (so NaN where such a product meets both 0 and
    ∞), and zeros everywhere for two zeros among all elements (outside create_graph, where
    the cumulative products would give 0 but for those NaNs; even for an incoming NaN or ∞,
    which PyTorch does not multiply in there). Its own derivative is the
    composition's (``_product_of_the_others``)."""
    from .. import grad_mode
    from .twice import derivative_of_backward
    xp = input.device.xp
    a = input.array
    if dim is None and not grad_mode.is_grad_enabled() and (a == 0).sum() > 1:
        result = xp.zeros_like(a)   # zeros whatever the incoming gradient (NaN, ∞), as PyTorch
    else:
        flat = a.reshape(-1) if dim is None else a
        axis = 0 if dim is None else dim
        others = _exclusive_products(xp, flat, axis).reshape(a.shape)
        with quiet(xp):
            result = grad.array * others

    axes = tuple(range(input.ndim)) if dim is None else (dim,)

    def backward(ctx, grad_result):
        g, x = ctx.saved_tensors
        return derivative_of_backward(
            lambda x: _prod(x, axes, keepdim=True, widen=False, pytorch_edges=False),
            [g], [x], [grad_result], list(ctx.needs_input_grad))
    return record("prod_backward", result.astype(a.dtype, copy=False), (grad, input), backward,
                  save=(grad, input))


# The running sums and products of PyTorch's CPU cumsum and cumprod: float32 accumulates in
# float64 and float16 in float32, each partial result rounded to the dtype only when stored
# (a running product that passes float32's range before meeting a 0 ends at 0, not ∞·0 = NaN).
_ACCUMULATE_IN = {"e": "float32", "f": "float64"}


def _exclusive_products(xp, a, axis):
    """Π_{k<i} aₖ · Π_{k>i} aₖ along ``axis``: running products from each end, multiplied
    in PyTorch's order (a cumulative product of [1, a₀, …, a_{n-2}], and of [1, a_{n-1}, …,
    a₁] from the other end), each accumulated as PyTorch's CPU cumprod accumulates"""
    n = a.shape[axis]
    wide = a.astype(_ACCUMULATE_IN.get(a.dtype.char, a.dtype), copy=False)
    slices = [xp.take(wide, xp.asarray([i]), axis=axis) for i in range(n)]
    one = xp.ones(slices[0].shape, dtype=wide.dtype)
    before, after = [one], [one]   # the running products, in the wide dtype
    with quiet(xp):
        for i in range(n - 1):
            before.append(before[-1] * slices[i])
            after.append(after[-1] * slices[n - 1 - i])
        return (xp.concat(before, axis=axis).astype(a.dtype, copy=False)
                * xp.concat(after[::-1], axis=axis).astype(a.dtype, copy=False))


def _product_of_the_others(x, axes, zeros):
    """Π_{k≠i} xₖ over each reduced slice, correct where some xₖ are 0 (y/xᵢ would be 0/0).

    Split each slice into its non-zero elements (product P) and its zeros (product Z, which
    is 0 but still depends on them). For a non-zero xᵢ the answer is P/xᵢ · Z. For a zero
    xᵢ it is P times the product of the *other* zeros: 1 if xᵢ is the only zero, the other
    zero's value if there are two, and 0 if there are more. Written with tensor operations
    on x itself (not on constants), so that its derivative (prod's second derivative) is
    right at zeros too.
    """
    xp = x.device.xp
    is_zero = wrap(zeros, x.device)
    count = zeros.sum(axis=axes, keepdims=True)   # zeros in each slice (a constant)
    nonzero_part = where(is_zero, 1.0, x)          # the zeros replaced by 1
    zero_part = where(is_zero, x, 1.0)             # everything else replaced by 1
    p = _prod(nonzero_part, axes, keepdim=True, pytorch_edges=False)
    z = _prod(zero_part, axes, keepdim=True, pytorch_edges=False)
    both_zeros = sum(where(is_zero, x, 0.0), axes, keepdim=True)  # = the other zero, plus xᵢ
    other_zeros = where(wrap(xp.asarray(count == 1), x.device), 1.0,
                        where(wrap(xp.asarray(count == 2), x.device), both_zeros - x, 0.0))
    # gate: a factor of 0 wins over a P that overflowed to ∞ (0, not ∞·0 = NaN)
    return where(is_zero, gate(p, other_zeros), gate(p / nonzero_part, z))


# -- largest and smallest -------------------------------------------------------------------
def _extreme(op, input, dim, keepdim, largest):
    """amax/amin (and max()/min() without dim): ties share the gradient evenly.

    PyTorch has two rules, kept apart here. max()/min() fill the gradient into the
    extremes, the NaNs where the extreme is NaN, and 0 elsewhere whatever arrives.
    amax/amin multiply it by the share: an infinite or NaN gradient gives NaN at the other
    elements too (0·∞), and a NaN extreme, equal to no element, gives NaN to its whole
    group (0/0)."""
    x = input
    axes = normalize_dims(x, dim, op)
    _require_nonempty(op, x, axes, None if dim in (None, ()) else dim)
    a = x.array
    result = a.max(axis=axes, keepdims=keepdim) if largest else a.min(axis=axes, keepdims=keepdim)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        xp = x.device.xp
        y_kept = y.array if keepdim else y.array.reshape(kept_shape(shape, axes))
        hits = x.array == y_kept   # where the extremes are: a constant mask
        if x.array.dtype.kind == "f" and op in ("max", "min"):   # a NaN extreme: the NaNs
            hits |= xp.isnan(x.array) & xp.isnan(y_kept)           # share it
        with quiet(xp):   # (amax/amin of a NaN group: 0/0)
            share = xp.divide(hits, hits.sum(axis=axes, keepdims=True), dtype=x.array.dtype)
        share = wrap(share, x.device)
        if op in ("max", "min"):
            return gate(_kept(grad, shape, axes, keepdim), share)
        return _kept(grad, shape, axes, keepdim) * share
    return record(op, x.device.xp.asarray(result), (x,), backward, save=(x, OUTPUT),
                  attrs={"dims": axes, "keepdim": keepdim})


@operation(function=True, method=True)
def amax(input, dim=(), keepdim=False):
    """y = maxᵢ xᵢ over ``dim`` (all by default);  ∂y/∂xᵢ = 1/k at the k maxima, else 0"""
    return _extreme("amax", input, dim, keepdim, largest=True)


@operation(function=True, method=True)
def amin(input, dim=(), keepdim=False):
    """y = minᵢ xᵢ over ``dim`` (all by default);  ∂y/∂xᵢ = 1/k at the k minima, else 0"""
    return _extreme("amin", input, dim, keepdim, largest=False)


def _extreme_along(op, x, dim, keepdim, largest):
    """max(x, dim)/min(x, dim): (values, indices); the gradient goes to the returned index only."""
    axes = single_dim(x, dim, op)
    _require_nonempty(op, x, axes, dim)
    xp = x.device.xp
    shape = tuple(x.shape)
    if not axes:   # a 0-d tensor: its own max, at index 0
        values, indices = x.array.copy(), xp.zeros((), dtype="int64")
    else:
        axis = axes[0]
        find = xp.argmax if largest else xp.argmin   # first occurrence on ties, as PyTorch
        indices = find(x.array, axis=axis, keepdims=True).astype("int64", copy=False)
        values = xp.take_along_axis(x.array, indices, axis=axis)
        if not keepdim:
            values, indices = values.squeeze(axis), indices.squeeze(axis)
    device = x.device
    index_tensor = wrap(indices, device)
    def backward(ctx, grad):
        if not axes:
            return grad
        indices, = ctx.saved_tensors   # the returned indices: an in-place change of them is caught
        axis = axes[0]
        along = [1] * len(shape)
        along[axis] = shape[axis]
        positions = xp.arange(shape[axis]).reshape(along)   # 0, 1, 2… along the axis
        chosen = positions == (indices.array if keepdim else xp.expand_dims(indices.array, axis))
        return where(wrap(chosen, device), _kept(grad, shape, axes, keepdim), 0.0)
    return ReturnTypes(record(op, values, (x,), backward, save=(index_tensor,),
                              attrs={"dims": axes, "keepdim": keepdim}), index_tensor)


def _max_or_min(op, input, dim, keepdim, other, largest):
    if isinstance(dim, Tensor) or other is not None:   # max(x, y) is maximum(x, y)
        if other is not None and dim is not None:
            raise TypeError(f"{op}: give either dim or other, not both (got dim={dim!r} and "
                            f"other)")
        if keepdim:
            raise TypeError(f"{op}: keepdim has no meaning when comparing with another tensor")
        y = dim if other is None else other
        return maximum(input, y) if largest else minimum(input, y)
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}: keepdim=True needs a dim (use amax/amin to keep every dim)")
        out = _extreme(op, input, None, False, largest)
        if out.grad_fn is not None:   # PyTorch's overload without a dim
            out.grad_fn.pytorch_name = "MaxBackward1" if largest else "MinBackward1"
        return out
    return _extreme_along(op, input, dim, keepdim, largest)


@operation(function=True, method=True)
def max(input, dim=None, keepdim=False, *, other=None):
    """y = max x (ties share the gradient);  max(x, dim) = (values, indices), the gradient
    going to each returned index;  max(x, other) = maximum(x, other)"""
    return _max_or_min("max", input, dim, keepdim, other, largest=True)


@operation(function=True, method=True)
def min(input, dim=None, keepdim=False, *, other=None):
    """y = min x (ties share the gradient);  min(x, dim) = (values, indices), the gradient
    going to each returned index;  min(x, other) = minimum(x, other)"""
    return _max_or_min("min", input, dim, keepdim, other, largest=False)


def _arg_extreme(op, input, dim, keepdim, largest):
    x = input
    if x.dtype.name == "bool":
        raise TypeError(f"{op}: bool input is not supported, as in PyTorch; convert it with "
                        f".long() first")
    xp = x.device.xp
    axes = tuple(range(x.ndim)) if dim is None else single_dim(x, dim, op)
    _require_nonempty(op, x, axes, dim)
    find = xp.argmax if largest else xp.argmin   # first occurrence on ties
    if dim is None or not axes:   # over the flattened tensor (keepdim: every dim as 1)
        index = find(x.array.reshape(-1))
        shape = (1,) * x.ndim if keepdim else ()
        return wrap(xp.asarray(index, dtype="int64").reshape(shape), x.device)
    return wrap(find(x.array, axis=axes[0], keepdims=keepdim).astype("int64", copy=False),
                x.device)


@operation(function=True, method=True, differentiable=False)
def argmax(input, dim=None, keepdim=False):
    """The index of the largest element (over the flattened tensor when dim is None), int64;
    the first one on ties"""
    return _arg_extreme("argmax", input, dim, keepdim, largest=True)


@operation(function=True, method=True, differentiable=False)
def argmin(input, dim=None, keepdim=False):
    """The index of the smallest element (over the flattened tensor when dim is None), int64;
    the first one on ties"""
    return _arg_extreme("argmin", input, dim, keepdim, largest=False)


# -- exponentials, normalised -----------------------------------------------------------------
@operation(function=True, method=True)
def logsumexp(input, dim, keepdim=False):
    """y = log Σᵢ e^{xᵢ} = m + log Σᵢ e^{xᵢ - m}, m = max x;  ∂y/∂xᵢ = e^{xᵢ - y} = softmax(x)ᵢ"""
    x = input
    if not x.dtype.is_floating_point:   # integers are promoted, as in PyTorch
        from ...dtypes import get_default_dtype
        x = x.to(get_default_dtype())
    axes = normalize_dims(x, dim, "logsumexp")
    xp = x.device.xp
    a = x.array
    shape = tuple(x.shape)
    m = a.max(axis=axes, keepdims=True) if a.size else xp.zeros(kept_shape(shape, axes), a.dtype)
    # An infinite max is not subtracted: a row of -inf gives log 0 = -inf (not -inf - -inf = nan).
    m = xp.where(xp.isfinite(m), m, 0).astype(a.dtype, copy=False)
    with xp.errstate(divide="ignore", invalid="ignore"):
        result = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
    if not keepdim:
        result = result.reshape(tuple(s for i, s in enumerate(shape) if i not in axes))
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        # Where every xᵢ is -inf (y = -inf) the gradient is softmax of -infs, 0/0: NaN, as
        # in PyTorch (and as softmax itself gives there)
        y = _kept(y, shape, axes, keepdim)
        return _kept(grad, shape, axes, keepdim) * (x - y).exp()
    return record("logsumexp", result, (x,), backward, save=(x, OUTPUT),
                  attrs={"dims": axes, "keepdim": keepdim})


def _shifted(op, input, dim, dtype):
    """x - max x along ``dim`` (the largest becomes 0, so e^x cannot overflow), for softmax;
    float16 in float32, as PyTorch's kernels compute it, to be rounded once at the end."""
    x = input if dtype is None else input.to(dtype)
    _require_float(op, x, "pass dtype=tapegrad.float32 or convert it with .float()")
    axes = single_dim(x, dim, op)
    a = x.array
    xp = x.device.xp
    if a.dtype == xp.float16:
        a = a.astype(xp.float32)
    with xp.errstate(divide="ignore", invalid="ignore"):
        shifted = kernels.subtract_max(xp, a, axes) if a.size else a
    return x, axes, shifted


@operation(function=True, method=True)
def softmax(input, dim, dtype=None):
    """yᵢ = e^{xᵢ} / Σₖ e^{xₖ} along ``dim``;  ∂L/∂xᵢ = yᵢ (gᵢ - Σₖ gₖ yₖ)"""
    x, axes, shifted = _shifted("softmax", input, dim, dtype)
    xp = x.device.xp
    with xp.errstate(divide="ignore", invalid="ignore"):
        if shifted.ndim and shifted is not x.array:   # a fresh array: exp and divide in place
            y = xp.exp(shifted, out=shifted)
            y /= y.sum(axis=axes, keepdims=True)
        else:   # 0-d (numpy's a - m is then a scalar) or empty
            e = xp.exp(shifted)
            y = e / e.sum(axis=axes, keepdims=True)
    y = y.astype(x.array.dtype, copy=False)   # (float16: rounded once)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        half = grad.dtype.itemsize == 2   # float16: in float32, rounded once, as PyTorch
        if not grad_mode._enabled and y.ndim:   # a plain backward: on the arrays, one fresh array
            g, y = grad.array, y.array
            if half:
                g, y = g.astype(xp.float32), y.astype(xp.float32)
            out = g * y
            xp.subtract(g, out.sum(axis=axes, keepdims=True), out=out)
            out *= y
            return wrap(out.astype(grad.array.dtype, copy=False), grad.device)
        if half:
            return (y.float() * (grad.float() - (grad.float() * y.float()).sum(axes, keepdim=True))
                    ).to(grad.dtype)
        return y * (grad - (grad * y).sum(axes, keepdim=True))
    return record("softmax", y, (x,), backward, save=(OUTPUT,), attrs={"dims": axes})


@operation(function=True, method=True)
def log_softmax(input, dim, dtype=None):
    """yᵢ = xᵢ - log Σₖ e^{xₖ} along ``dim``;  ∂L/∂xᵢ = gᵢ - e^{yᵢ} Σₖ gₖ"""
    x, axes, shifted = _shifted("log_softmax", input, dim, dtype)
    xp = x.device.xp
    # (float16 is shifted in float32 and rounded once, as PyTorch: in float16 the largest
    # element's log(1 + 1.5e-4) is log(1) = 0, which an infinite gradient meets, as the
    # target's slope in cross_entropy, giving NaN)
    with xp.errstate(divide="ignore", invalid="ignore"):
        y = shifted - xp.log(xp.exp(shifted).sum(axis=axes, keepdims=True))
    y = y.astype(x.array.dtype, copy=False)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return log_softmax_backward(grad, y, axes)
    return record("log_softmax", y, (x,), backward, save=(OUTPUT,), attrs={"dims": axes})


@operation()
def log_softmax_backward(grad, output, axes):
    """z = g - e^y Σ g (sums along ``axes``), log_softmax's backward from its output y, as
    one operation (every classifier's loss runs it);
    ∂L/∂g = ∂L/∂z - Σ (∂L/∂z · e^y),  ∂L/∂y = -∂L/∂z · e^y · Σ g"""
    xp = grad.device.xp
    g, y = grad.array, output.array
    if g.dtype == xp.float16:   # in float32, rounded once, as PyTorch
        g, y = g.astype(xp.float32), y.astype(xp.float32)
    z = (g - xp.exp(y) * g.sum(axis=axes, keepdims=True)).astype(grad.array.dtype, copy=False)
    def backward(ctx, grad_z):
        g, y = ctx.saved_tensors
        e = y.exp()
        return (grad_z - (grad_z * e).sum(axes, keepdim=True) if ctx.needs_input_grad[0] else None,
                -(grad_z * e) * g.sum(axes, keepdim=True) if ctx.needs_input_grad[1] else None)
    return record("log_softmax_backward", z, (grad, output), backward, save=(grad, output))


# -- running sums ---------------------------------------------------------------------------
@operation(function=True, method=True)
def cumsum(input, dim, dtype=None):
    """yᵢ = Σ_{k≤i} xₖ along ``dim``;  ∂L/∂xₖ = Σ_{i≥k} gᵢ = Σ g - cumsum(g)ₖ + gₖ"""
    # (with dtype: the values in that dtype, the gradient recorded to the input itself, see
    # backward)
    x = input if dtype is None else input.detach().to(dtype)
    axes = single_dim(x, dim, "cumsum")
    xp = x.device.xp
    # integers and bools sum up in int64, as in PyTorch, unless a dtype was asked for
    out_dtype = "int64" if x.array.dtype.kind in "bui" and dtype is None else x.array.dtype
    running = None if xp.is_gpu else _ACCUMULATE_IN.get(x.array.dtype.char)
    if axes and running:   # PyTorch's CPU cumsum: the running sum wider, each output rounded
        with quiet(xp):    # (2048 + 1 - 2048 is 1 in float16, as 1e8 + 1 - 1e8 in float32)
            result = xp.cumulative_sum(x.array, axis=axes[0], dtype=running).astype(out_dtype)
    elif axes:
        result = xp.cumulative_sum(x.array, axis=axes[0], dtype=out_dtype)
    else:   # a 0-d tensor is its own running sum
        result = x.array.astype(out_dtype, copy=True)
    input_dtype = input.dtype

    def backward(ctx, grad):
        # The sums from each position to the end: a running sum of the reversed gradient
        # (not Σg - cumsum(g) + g, which is ∞ - ∞ = NaN where g holds an ∞).
        if dtype is not None:   # as PyTorch, in the input's dtype, but summed in the wider of
            # the two (the float16 gradient of a float32 input: -39808 twice is -79616, not inf)
            grad = grad.to(promote_pair(grad.dtype, input_dtype))
        if axes:
            grad = cumsum(grad.flip(axes), dim).flip(axes)
        return grad if dtype is None else grad.to(input_dtype)
    return record("cumsum", result, (x if dtype is None else input,), backward,
                  attrs={"dims": axes})


# -- logical reductions (no gradient) ---------------------------------------------------------
def _logical(op, input, dim, keepdim, function):
    x = input
    axes = normalize_dims(x, dim, op)
    result = x.device.xp.asarray(function(x.array, axis=axes, keepdims=keepdim))
    if not result.flags.c_contiguous:   # numpy's follows a strided input's order; PyTorch's
        result = result.copy(order="C")   # reductions are row-major, so .view() works
    if x.array.dtype.kind == "u" and x.array.dtype.itemsize == 1:
        result = result.astype(x.array.dtype)   # uint8 in, uint8 out, as in PyTorch
    return wrap(result, x.device)


@operation(function=True, method=True, differentiable=False)
def all(input, dim=None, keepdim=False):
    """True where every element over ``dim`` is non-zero (bool)"""
    return _logical("all", input, dim, keepdim, input.device.xp.all)


@operation(function=True, method=True, differentiable=False)
def any(input, dim=None, keepdim=False):
    """True where some element over ``dim`` is non-zero (bool)"""
    return _logical("any", input, dim, keepdim, input.device.xp.any)


@operation(function=True, method=True, differentiable=False)
def count_nonzero(input, dim=None):
    """How many elements over ``dim`` are non-zero (int64)"""
    x = input
    axes = normalize_dims(x, dim, "count_nonzero")
    counts = (x.array != 0).sum(axis=axes)
    return wrap(x.device.xp.asarray(counts, dtype="int64"), x.device)
