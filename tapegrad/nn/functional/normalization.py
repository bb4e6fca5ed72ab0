"""Normalisation: ``batch_norm``, ``layer_norm``, ``group_norm``.

All three do the same thing over a different set of elements: subtract their mean μ,
divide by their standard deviation √(σ² + ε), then scale and shift per channel (or per
feature) with a learned weight γ and bias β:

    y = (x - μ) / √(σ² + ε) · γ + β       (σ² the biased variance: Σ(x - μ)² / n)

* batch_norm: μ, σ² per channel, over the batch and every spatial position (N, *);
* layer_norm: per sample, over its last dimensions (``normalized_shape``);
* group_norm: per sample and per group of channels, over the group's channels and
  positions.

batch_norm and layer_norm are one operation each (``autograd/ops/normalization.py``: one
kernel forwards, one backwards, the gradient through μ and σ² included); group_norm is
layer_norm of each group seen as a row, then γ and β per channel.
"""
import math

from ... import dtypes
from ...autograd import grad_mode, ops
from ...autograd.operands import check_same_device
from .checks import require_tensor, shape_of




def _require_float(op, x):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: needs a floating point input, got {x.dtype}; convert it "
                           f"first with .float()")


def _check_vector(op, name, value, size, what):
    """A per-channel (or per-feature) tensor must have exactly ``size`` elements."""
    if value is None:
        return
    require_tensor(op, name, value)
    if shape_of(value) != (size,):
        raise RuntimeError(f"{op}: {name} should have shape ({size},) (one value per {what}), "
                           f"got {shape_of(value)}")


def _per_channel(t, ndim):
    """A (C,) tensor reshaped to (C, 1, …, 1) so it broadcasts over (N, C, *rest)."""
    return t if ndim <= 2 else t.reshape((t.shape[0],) + (1,) * (ndim - 2))


def _scale_and_shift(d, rstd, weight, bias, reshape):
    """d · rstd · γ + β, with rstd · γ formed first (a small tensor) so the big one is
    multiplied once; ``reshape`` puts γ and β in broadcasting position."""
    scale = rstd if weight is None else rstd * reshape(weight)
    out = d * scale
    return out if bias is None else out + reshape(bias)


# -- batch normalisation ----------------------------------------------------------------------
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """y = (x - μ_c) / √(σ²_c + ε) · γ_c + β_c for input (N, C, *), per channel c;
    the gradient flows through μ and σ² too (they depend on x in training).

    In training μ and σ² are the batch's (σ² biased: divided by n = N·∏*), and the running
    statistics, when given, are updated in place without recording:
    running = (1 - momentum)·running + momentum·batch, with the batch's UNBIASED variance
    (divided by n - 1) for running_var. Not training, the running statistics are used.
    """
    require_tensor("batch_norm", "input", input)
    if training and not eps > 0:   # σ² = 0 (a constant channel) would divide by √0; checked
        # first, for an empty input too (as in PyTorch)
        raise ValueError(f"batch_norm: eps must be positive during training, got {eps}")
    if input.ndim < 2:
        raise RuntimeError(f"batch_norm: expected an input of at least 2 dimensions (N, C, *), "
                           f"got shape {shape_of(input)}")
    shape = shape_of(input)
    channels = shape[1]
    # a weight or bias of C elements in another shape ((C, 1), (1, C)) is taken, as in PyTorch
    weight, bias = (t.reshape(channels) if t is not None and hasattr(t, "shape") and t.ndim != 1
                    and t.numel() == channels else t for t in (weight, bias))
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        _check_vector("batch_norm", name, value, channels, "channel (dimension 1 of the input)")
    check_same_device("batch_norm", input, *(t for t in (running_mean, running_var, weight, bias)
                                             if t is not None))
    axes = (0,) + tuple(range(2, input.ndim))
    count = math.prod(shape[a] for a in axes)
    if training and count == 1:   # checked before an empty input returns (as in PyTorch)
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{shape}")
    if input.numel() == 0:
        # an empty input: an empty result and the statistics untouched, before any check of
        # the dtype or of the running statistics (as in PyTorch: a bool or integer input
        # keeps its dtype when there is no weight or bias to promote it)
        out = input.clone() if weight is None else input * _per_channel(weight, input.ndim)
        return out if bias is None else out + _per_channel(bias, input.ndim)
    if training and (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must either both be None or "
                         "neither be None (as in PyTorch)")
    _require_float("batch_norm", input)

    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given when "
                               "training=False (evaluation normalises with them)")
        if input.dtype.itemsize == 2:   # float16: in float32, rounded once, as PyTorch
            # (-μ·rγ alone can pass 65504 where the result fits)
            wide = [None if t is None else t.float()
                    for t in (input, weight, bias, running_mean, running_var)]
            return ops.normalization.batch_norm(*wide, False, eps)[0].to(input.dtype)
        return ops.normalization.batch_norm(input, weight, bias, running_mean, running_var,
                                            False, eps)[0]

    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must either both be None or "
                         "neither be None")
    update = running_mean is not None or running_var is not None
    if update and (not isinstance(momentum, (int, float)) or isinstance(momentum, bool)):
        raise TypeError(f"batch_norm: momentum must be a number, got {momentum!r} (a module "
                        f"with momentum=None passes 1/num_batches_tracked)")
    if input.dtype.itemsize == 2:   # float16: in float32, rounded once, as PyTorch
        out, mean, var = ops.normalization.batch_norm(
            *(None if t is None else t.float() for t in (input, weight, bias)), None, None,
            True, eps)
        out = out.to(input.dtype)
    else:
        out, mean, var = ops.normalization.batch_norm(input, weight, bias, None, None, True,
                                                      eps)
    if update:
        with grad_mode.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
            if running_var is not None:
                unbiased = var.to(running_var.dtype) * (count / (count - 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    return out


# -- layer normalisation ----------------------------------------------------------------------
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """y = (x - μ) / √(σ² + ε) · γ + β, μ and σ² (biased) over the last
    len(normalized_shape) dims of each sample; γ and β have shape ``normalized_shape``"""
    require_tensor("layer_norm", "input", input)
    _require_float("layer_norm", input)
    normalized = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
        normalized_shape)
    k = len(normalized)
    if k == 0 or input.ndim < k or shape_of(input)[input.ndim - k:] != normalized:
        raise RuntimeError(f"layer_norm: given normalized_shape={normalized}, expected an input "
                           f"of shape (*, {', '.join(map(str, normalized))}), got shape "
                           f"{shape_of(input)}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None:
            require_tensor("layer_norm", name, value)
            if shape_of(value) != normalized:
                raise RuntimeError(f"layer_norm: {name} should have shape {normalized} (the "
                                   f"normalized_shape), got {shape_of(value)}")
    check_same_device("layer_norm", input, *(t for t in (weight, bias) if t is not None))
    if input.numel() == 0:   # nothing to normalise: an empty result (as in PyTorch)
        return _scale_and_shift(input, 1, weight, bias, lambda t: t)
    return ops.normalization.layer_norm(input, weight, bias, k, eps)


# -- group normalisation ----------------------------------------------------------------------
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """y = (x - μ) / √(σ² + ε) · γ_c + β_c for input (N, C, *), μ and σ² (biased) per sample
    and per group of C/num_groups consecutive channels"""
    require_tensor("group_norm", "input", input)
    _require_float("group_norm", input)
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an input of at least 2 dimensions (N, C, *), "
                           f"got shape {shape_of(input)}")
    shape = shape_of(input)
    channels = shape[1]
    if not isinstance(num_groups, int) or num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"group_norm: the number of channels ({channels}, input of shape "
                           f"{shape}) must be divisible by num_groups ({num_groups})")
    for name, value in (("weight", weight), ("bias", bias)):
        _check_vector("group_norm", name, value, channels, "channel (dimension 1 of the input)")
    if input.dtype is dtypes.float16:
        # float32 inside, rounded once, as PyTorch: in float16 the slope of 1/√(σ² + ε)
        # overflows for σ² below about 1e-3
        wide = [None if t is None else t.float() for t in (input, weight, bias)]
        return group_norm(wide[0], num_groups, wide[1], wide[2], eps).half()
    per_group = channels // num_groups
    # PyTorch's own rule, borrowed from batch_norm: refused when N·C/G times the spatial
    # size is 1 (a lone sample and group of one value each)
    if shape[0] * per_group * math.prod(shape[2:]) == 1:
        raise ValueError(f"group_norm: expected more than 1 value per channel when training, "
                         f"got input size {list(shape)} with num_groups={num_groups}")
    # each group of each sample is a row of (N, G, C/G·positions), normalised as layer_norm
    # normalises its rows (its sums in float64: a group of equal values gives x - μ = 0);
    # then γ and β per channel, as (C, 1, …, 1)
    if input.numel() == 0:
        # an empty result; r of an empty group is 1/√(0/0) = NaN, and the weight's gradient
        # (Σ g·(x - μ))·r = 0·NaN = NaN, as PyTorch's (its statistics are NaN too)
        grouped = input.reshape(shape[0], num_groups, per_group, math.prod(shape[2:]))
        d = grouped - grouped.mean((2, 3), keepdim=True)
        rstd = (d.pow(2).mean((2, 3), keepdim=True) + eps).rsqrt()
        return _scale_and_shift(d, rstd, weight, bias,
                                lambda t: t.reshape(num_groups, per_group, 1)).reshape(shape)
    grouped = input.reshape(shape[0], num_groups, per_group * math.prod(shape[2:]))
    normalised = ops.normalization.layer_norm(grouped, None, None, 1, eps).reshape(shape)
    out = normalised if weight is None else normalised * _per_channel(weight, input.ndim)
    if bias is None and weight is not None and bool((weight.detach() <= 0).any()):
        # PyTorch shifts by its missing β of 0 (x·s + (0 - μ·s)): a zero is +0 there, where
        # x̂·γ is -0.0 for γ = 0 and x < μ, or γ < 0 and x = μ (log's slope there is -∞).
        # The pass only where a γ is 0 or negative (a look at C numbers decides)
        return out + 0.0
    return out if bias is None else out + _per_channel(bias, input.ndim)


__all__ = ["batch_norm", "layer_norm", "group_norm"]
