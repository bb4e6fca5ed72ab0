"""Arguments of the image operations (convolution, pooling, resampling), checked and normalised.

``stride=2`` means (2, 2) for a 2-d window, as in PyTorch; an unbatched image (C, H, W)
is computed as a batch of one.
"""
import operator

from ..tensor import Tensor


def n_ints(value, n, name, op):
    """An int or a sequence of n ints (or of one int) as a tuple of n ints."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) == 1 and n > 1:
        items = items * n
    if len(items) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    try:
        return tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                        f"{value!r}") from None


def as_batch(op, input, spatial):
    """(input as (B, C, *spatial), whether it had a batch dim)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim == spatial + 2:
        return input, True
    if input.ndim == spatial + 1:
        return input.unsqueeze(0), False
    raise RuntimeError(f"{op}: expected a {spatial + 1}-d (unbatched) or {spatial + 2}-d "
                       f"(batched) input, but got an input of shape {tuple(input.shape)}")
