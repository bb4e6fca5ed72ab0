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
    """(N, C, 1, …, 1): one draw per channel of each sample, broadcast over the positions.
    For a 2-D input (N, C) that is one draw per element, as in PyTorch."""
    if x.ndim < 2:
        raise RuntimeError(f"dropout2d: feature dropout requires at least 2 dimensions in the "
                           f"input, got shape {tuple(x.shape)}")
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def _warn_like_pytorch(ndim):
    """PyTorch 2.x accepts any input of 2 or more dimensions here, with a warning unless it is
    4-D (N, C, H, W); a 3-D input is read as (N, C, L), not as an unbatched (C, H, W)."""
    if ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that dropout2d "
                      "exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                      "or 4D inputs).", stacklevel=3)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.",
                      stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """y = x · m / (1 - p) with one m ~ Bernoulli(1 - p) per (sample, channel): whole
    feature maps are dropped, for input (N, C, H, W), in training (else y = x).
    Other inputs as PyTorch: (N, C, L) drops channels with a warning (it is not read as an
    unbatched (C, H, W)); 2-D (N, C) and 5-D or more warn and drop along (N, C) too."""
    if isinstance(input, Tensor):
        _check_p("dropout2d", p)
        _warn_like_pytorch(input.ndim)
        if p == 1 and input.ndim < 2 and training:   # PyTorch zeroes these without a mask
            return _apply("dropout2d", input, p, training, inplace, lambda x: tuple(x.shape))
    return _apply("dropout2d", input, p, training, inplace, _channel_mask_shape)


__all__ = ["dropout", "dropout2d"]
