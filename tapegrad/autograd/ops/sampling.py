"""Random draws from a tensor's values, and tensors refilled with random numbers in place.

``multinomial(probs, n)`` draws category indices with probabilities proportional to the
weights of each row; ``x.normal_()``, ``x.uniform_(a, b)``, ``x.bernoulli_(p)``,
``x.exponential_(λ)`` and ``x.random_(low, high)`` overwrite x with fresh samples. All
draw from tapegrad's generators (``tapegrad.manual_seed`` repeats them, ``generator=``
takes a ``tapegrad.Generator``). The samples are constants: no gradient flows through
them (an in-place refill gives the old values a zero gradient, as PyTorch does).
"""
import math

from ... import dtypes
from ...random import rng_for
from ..tape import record
from ..tensor import Tensor, wrap
from .declare import operation
from .inplace import _inplace


@operation(function=True, method=True, differentiable=False)
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of non-negative weights (int64): with
    replacement each draw is independent; without, a drawn category is not drawn again"""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: expected a 1-d or 2-d tensor of weights, got shape "
                           f"{tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial: expected floating-point weights, got {input.dtype}")
    xp = input.device.xp
    weights = input.array.reshape(-1, input.shape[-1]).astype("float64")
    categories = weights.shape[1]
    if not bool(xp.isfinite(weights).all()) or bool((weights < 0).any()):
        raise RuntimeError("multinomial: the weights must be finite and non-negative")
    totals = weights.sum(axis=1, keepdims=True)
    if bool((totals <= 0).any()):
        raise RuntimeError("multinomial: every row of weights must have a positive sum")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not replacement and num_samples > categories:
        raise RuntimeError(f"multinomial: cannot draw {num_samples} samples without "
                           f"replacement from {categories} categories")
    rng = rng_for(input.device, generator)
    uniform = rng.random((weights.shape[0], num_samples if replacement else categories))
    if replacement:   # invert the cumulative distribution of each row
        cumulative = xp.cumulative_sum(weights / totals, axis=1)
        cumulative[:, -1] = 1.0   # (no draw may fall past the last category by rounding)
        drawn = xp.stack([xp.searchsorted(row, u, side="right")
                          for row, u in zip(cumulative, uniform)])
    else:   # the largest u^(1/w) are a weighted draw without replacement, in order
        with_weight = xp.where(weights > 0, xp.log(uniform) / xp.where(weights > 0, weights, 1),
                               -math.inf)
        drawn = xp.argsort(-with_weight, axis=1)[:, :num_samples]
    drawn = drawn.astype(dtypes.int64.numpy)
    return wrap(drawn.reshape(input.shape[:-1] + (num_samples,)), input.device)


def _broadcasts_to(shape, target):
    """Whether an array of ``shape`` can be broadcast to ``target`` (without growing it)."""
    if len(shape) > len(target):
        return False
    return all(a in (1, b) for a, b in zip(reversed(shape), reversed(target)))


def _refill(target, op, draw):
    """Overwrite ``target`` with ``draw(rng-free shape, numpy dtype)``: checked as an in-place
    operation, the samples a constant of the graph."""
    def values(old):
        array = draw(old.array.shape, old.array.dtype)
        def backward(ctx, grad):
            return wrap(grad.device.xp.zeros_like(grad.array), grad.device)
        return record(op, array.astype(old.array.dtype, copy=False), (old,), backward)
    return _inplace(target, op + "_", values)


def _draw_dtype(dtype):
    """numpy draws float32 and float64 directly; float16 (and integers) via float64."""
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else "float64"


@operation(method=True, composite=True)
def normal_(input, mean=0.0, std=1.0, *, generator=None):
    """x ← samples of N(mean, std²)"""
    if not std >= 0:
        raise RuntimeError(f"normal_: std must be at least 0, got {std}")
    rng = rng_for(input.device, generator)
    return _refill(input, "normal", lambda shape, dtype: rng.standard_normal(
        shape, dtype=_draw_dtype(dtype)) * std + mean)


@operation(method=True, composite=True)
def uniform_(input, from_=0.0, to=1.0, *, generator=None):
    """x ← samples of U(from_, to)"""
    rng = rng_for(input.device, generator)
    return _refill(input, "uniform", lambda shape, dtype: rng.random(
        shape, dtype=_draw_dtype(dtype)) * (to - from_) + from_)


@operation(method=True, composite=True)
def exponential_(input, lambd=1.0, *, generator=None):
    """x ← samples of the exponential distribution with rate λ (mean 1/λ)"""
    if not lambd > 0:
        raise RuntimeError(f"exponential_: lambd must be greater than 0, got {lambd}")
    rng = rng_for(input.device, generator)
    return _refill(input, "exponential", lambda shape, dtype: rng.standard_exponential(
        shape, dtype=_draw_dtype(dtype)) / lambd)


@operation(method=True, composite=True)
def bernoulli_(input, p=0.5, *, generator=None):
    """x ← 1 with probability p, else 0 (p a number or a tensor broadcast to x)"""
    if isinstance(p, Tensor):
        if not _broadcasts_to(tuple(p.shape), tuple(input.shape)):
            raise RuntimeError(f"bernoulli_: p of shape {tuple(p.shape)} cannot be broadcast to "
                               f"the tensor's shape {tuple(input.shape)}")
        in_range = bool(((p.array >= 0) & (p.array <= 1)).all())
    else:
        in_range = 0 <= p <= 1
    if not in_range:
        raise RuntimeError(f"bernoulli_: p must be in [0, 1], got "
                           f"{'a tensor with values outside' if isinstance(p, Tensor) else p}")
    rng = rng_for(input.device, generator)
    probability = p.array if isinstance(p, Tensor) else p
    return _refill(input, "bernoulli", lambda shape, dtype: rng.random(shape) < probability)


@operation(method=True, composite=True)
def random_(input, from_=0, to=None, *, generator=None):
    """x ← integers drawn uniformly from [from_, to): ``random_(to)`` means [0, to), and
    ``random_()`` the integers a float's mantissa holds exactly (or the dtype's range)"""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        to = 2 ** (input.array.dtype.itemsize * 8 - 1) if not input.dtype.is_floating_point \
            else 2 ** {2: 11, 4: 24, 8: 53}[input.array.dtype.itemsize] + 1
    if to <= from_:
        raise RuntimeError(f"random_: expects from < to, got from={from_}, to={to}")
    rng = rng_for(input.device, generator)
    return _refill(input, "random", lambda shape, dtype: rng.integers(from_, to, size=shape))
