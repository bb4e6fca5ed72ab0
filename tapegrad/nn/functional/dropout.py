"""Dropout: ``dropout`` (single elements) and ``dropout2d`` (whole channels).

In training each element (or channel) is zeroed with probability p and the survivors are
multiplied by 1/(1 - p) ("inverted" dropout), so the expected value of every output equals
its input and evaluation needs no rescaling: outside training dropout is the identity.

The result is ``x · m`` with m a constant mask of 0 and 1/(1 - p), so the gradient is
``g · m``: the same elements are dropped in backward. Masks are drawn from tapegrad's
default generator on the input's device, so ``tapegrad.manual_seed`` repeats them.
"""
import numbers
import warnings

from ...autograd.tensor import Tensor, wrap
from ...random import rng_for


def _check_p(op, p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _mask(x, p, shape):
    """A constant of ``shape`` in x's dtype: 0 with probability p, else 1/(1 - p)."""
    xp = x.device.xp
    if p == 1:
        return xp.zeros(shape, dtype=x.array.dtype)
    keep = rng_for(x.device).random(shape, dtype="float32") >= p   # P(keep) = 1 - p
    return xp.multiply(keep, 1 / (1 - p), dtype=x.array.dtype)


def _apply(op, input, p, training, inplace, mask_shape):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    _check_p(op, p)
    if not training or p == 0:
        return input
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: needs a floating point input, got {input.dtype}")
    mask = wrap(_mask(input, p, mask_shape(input)), input.device)
    return input.mul_(mask) if inplace else input * mask


def dropout(input, p=0.5, training=True, inplace=False):
    """y = x · m / (1 - p), m ~ Bernoulli(1 - p) per element, in training (else y = x);
    ∂y/∂x = m / (1 - p)"""
    return _apply("dropout", input, p, training, inplace, lambda x: tuple(x.shape))


def _channel_mask_shape(x):
    """(N, C, 1, 1): one draw per channel of each sample, broadcast over the positions."""
    if x.ndim == 2:   # (N, C) has one element per channel: plain dropout, as PyTorch does
        warnings.warn("dropout2d: Received a 2-D input to dropout2d, which is deprecated and "
                      "will result in an error in a future release. To retain the behavior and "
                      "silence this warning, please use dropout instead.", stacklevel=4)
        return tuple(x.shape)
    if x.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.",
                      stacklevel=4)
    elif x.ndim != 4:
        raise RuntimeError(f"dropout2d: expected a 4-D input (N, C, H, W) (or 3-D, read as "
                           f"(N, C, L), or 2-D), got shape {tuple(x.shape)}")
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """y = x · m / (1 - p) with one m ~ Bernoulli(1 - p) per (sample, channel): whole
    feature maps are dropped, for input (N, C, H, W), in training (else y = x)"""
    return _apply("dropout2d", input, p, training, inplace, _channel_mask_shape)


__all__ = ["dropout", "dropout2d"]
