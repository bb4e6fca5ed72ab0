"""Layer and batch normalisation as single operations (``nn.functional`` builds on them).

    y = (x - μ)·r·γ + β,   r = 1/√(σ² + ε)   (σ² the biased variance)

over the last dims of each sample (``layer_norm``) or per channel over the batch and
every position (``batch_norm``). With x̂ = (x - μ)·r and h = g·γ, the backward is

    ∂L/∂x = r·(h - mean(h) - x̂·mean(h·x̂))   (mean over the normalised elements)
    ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g

(with fixed statistics, batch_norm in evaluation, ∂L/∂x = r·γ·g). The forward saves μ
and r; the kernels (``tapegrad/kernels/fused.py``) read x twice for the statistics and
once for y, and x and g twice backwards, where a composition of mean, sub, pow, rsqrt,
mul and add takes a pass per step forwards and more backwards. The backwards are
operations too; their own derivatives come from the composition (``twice.py``).
"""
import math

from ...kernels import fused
from ..tape import record, record_many
from ..tensor import wrap
from .declare import operation
from .twice import derivative_of_backward


def _array(t):
    return None if t is None else t.array


# -- layer normalisation ----------------------------------------------------------------------
def _composed_layer_norm(x, weight, bias, normalized_ndim, eps):
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    d = x - x.mean(axes, keepdim=True)
    y = d * (d.pow(2).mean(axes, keepdim=True) + eps).rsqrt()
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


@operation()
def layer_norm(input, weight, bias, normalized_ndim, eps):
    """y = (x - μ)·r·γ + β, μ and σ² over the last ``normalized_ndim`` dims of x;
    ∂L/∂x = r·(h - mean(h) - x̂·mean(h·x̂)), h = g·γ;  ∂L/∂γ = Σ g·x̂;  ∂L/∂β = Σ g"""
    xp = input.device.xp
    shape = input.shape
    features = math.prod(shape[input.ndim - normalized_ndim:])
    rows = input.array.reshape(-1, features)
    flat = lambda t: None if t is None else t.array.reshape(features)  # noqa: E731
    if rows.dtype.itemsize == 2:
        # float16: the statistics in float32, as PyTorch's (300² already overflows float16)
        wide = lambda a: None if a is None else a.astype("float32")  # noqa: E731
        y, mean, rstd = fused.layer_norm_forward(
            xp, rows.astype("float32"), wide(flat(weight)), wide(flat(bias)), eps)
        y = y.astype(rows.dtype)   # (μ and r stay float32, for the backward)
    else:
        y, mean, rstd = fused.layer_norm_forward(xp, rows, flat(weight), flat(bias), eps)

    def backward(ctx, grad):
        x, w, b = ctx.saved_tensors
        return layer_norm_backward(grad, x, w, b, mean, rstd, normalized_ndim, eps)
    return record("layer_norm", y.reshape(shape), (input, weight, bias), backward,
                  save=(input, weight, bias), attrs={"normalized_ndim": normalized_ndim, "eps": eps})


@operation()
def layer_norm_backward(grad, input, weight, bias, mean, rstd, normalized_ndim, eps):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β) of layer_norm from its saved μ and r, as one operation;
    its own derivative is the composition's second derivative"""
    xp = input.device.xp
    features = math.prod(input.shape[input.ndim - normalized_ndim:])
    g = grad.array.reshape(-1, features)
    w = None if weight is None else weight.array.reshape(features)
    x = input.array.reshape(-1, features)
    if x.dtype.itemsize == 2:
        # float16: in float32, rounded once, as the forward (Σ g·w of terms near 1e4 would
        # cancel to float16's rounding of them)
        dx, dw, db = (a.astype(x.dtype) for a in fused.layer_norm_backward(
            xp, g.astype("float32"), x.astype("float32"),
            None if w is None else w.astype("float32"), mean, rstd))
    else:
        dx, dw, db = fused.layer_norm_backward(xp, g, x, w, mean, rstd)
    results = [dx.reshape(input.shape)]
    if weight is not None:
        results.append(dw.reshape(weight.shape))
    if bias is not None:
        results.append(db.reshape(bias.shape))

    def backward(ctx, *cotangents):
        g, x, w = ctx.saved_tensors
        present = iter(cotangents)
        per_primal = [next(present), None if w is None else next(present),
                      None if bias is None else next(present)]
        return derivative_of_backward(
            lambda x, w, b: _composed_layer_norm(x, w, b, normalized_ndim, eps),
            [g], [x, w, bias.detach() if bias is not None else None], per_primal,
            list(ctx.needs_input_grad) + [False])[:3]
    outs = record_many("layer_norm_backward", results, (grad, input, weight), backward,
                       save=(grad, input, weight))
    outs = iter(outs)
    return (next(outs), None if weight is None else next(outs),
            None if bias is None else next(outs))


# -- batch normalisation ----------------------------------------------------------------------
def _per_channel(t, ndim):
    return None if t is None else t.reshape((t.shape[0],) + (1,) * (ndim - 2))


def _composed_batch_norm(x, weight, bias, mean, var, eps, training):
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        mean = x.mean(axes, keepdim=True)
        var = (x - mean).pow(2).mean(axes, keepdim=True)
    else:
        mean, var = _per_channel(mean, x.ndim), _per_channel(var, x.ndim)
    y = (x - mean) * (var + eps).rsqrt()
    y = y if weight is None else y * _per_channel(weight, x.ndim)
    return y if bias is None else y + _per_channel(bias, x.ndim)


@operation()
def batch_norm(input, weight, bias, running_mean, running_var, training, eps):
    """y = (x - μ_c)·r_c·γ_c + β_c for x (N, C, *): the batch's μ, σ² when ``training``
    (they depend on x), else the running ones (constants);
    ∂L/∂x = r·γ·(g - mean(g) - x̂·mean(g·x̂)) in training, r·γ·g otherwise;
    ∂L/∂γ = Σ g·x̂;  ∂L/∂β = Σ g.  Returns (y, batch mean, batch biased variance) in
    training (the statistics for the running averages, not recorded), else (y, None, None)."""
    xp = input.device.xp
    x = input.array.reshape(input.shape[0], input.shape[1], -1)
    if training:
        mean, var = fused.batch_norm_statistics(xp, x)   # (float64 on the numba path)
    else:
        mean, var = running_mean.array, running_var.array
    rstd = 1 / xp.sqrt(var + eps)
    if training and var.dtype.itemsize < 8 and (var == xp.inf).any():
        # the squares overflowed (values near 1e30 in float32, on the array path), not σ
        # itself: the statistics again in float64, as PyTorch accumulates them; r = 1/√(σ² + ε)
        # fits the dtype again
        mean, var64 = fused.batch_norm_statistics(xp, x.astype("float64"))
        rstd = (1 / xp.sqrt(var64 + eps)).astype(x.dtype)
        mean = mean.astype(x.dtype)
    scale = (rstd if weight is None else rstd * weight.array).astype(x.dtype, copy=False)
    # 0 - μ·s, not -(μ·s): a zero scale (γ = 0) gives y = x·0 + 0 = +0 everywhere, as
    # PyTorch's missing β of 0 does, not -0.0 where x < 0 (log's slope there is -∞). The
    # scale is rounded to x's dtype first: μ·s is then the product the kernel forms as x·s
    shift = 0 - mean * scale if bias is None else bias.array - mean * scale
    y = fused.scale_and_shift(xp, x, scale, shift.astype(x.dtype, copy=False)).reshape(input.shape)
    stats = (running_mean, running_var) if not training else (None, None)

    def backward(ctx, grad):
        x, w, b = ctx.saved_tensors
        return batch_norm_backward(grad, x, w, b, *stats, mean, rstd, training, eps)
    out = record("batch_norm", y, (input, weight, bias), backward, save=(input, weight, bias),
                 attrs={"training": training, "eps": eps, "running_mean": running_mean,
                        "running_var": running_var})
    if not training:
        return out, None, None
    with xp.errstate(over="ignore"):   # (σ² past the dtype's range is inf, as PyTorch's)
        batch_mean, batch_var = mean.astype(x.dtype, copy=False), var.astype(x.dtype, copy=False)
    return out, wrap(batch_mean, input.device), wrap(batch_var, input.device)


@operation()
def batch_norm_backward(grad, input, weight, bias, running_mean, running_var, mean, rstd,
                        training, eps):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β) of batch_norm from its μ and r, as one operation;
    its own derivative is the composition's second derivative"""
    xp = input.device.xp
    shape3 = (input.shape[0], input.shape[1], -1)
    dx, dw, db = fused.batch_norm_backward(xp, grad.array.reshape(shape3),
                                           input.array.reshape(shape3), mean, rstd,
                                           _array(weight), training)
    results = [dx.reshape(input.shape)]
    if weight is not None:
        results.append(dw)
    if bias is not None:
        results.append(db)

    def backward(ctx, *cotangents):
        g, x, w = ctx.saved_tensors
        present = iter(cotangents)
        per_primal = [next(present), None if w is None else next(present),
                      None if bias is None else next(present)]
        return derivative_of_backward(
            lambda x, w, b: _composed_batch_norm(x, w, b, running_mean, running_var, eps,
                                                 training),
            [g], [x, w, bias.detach() if bias is not None else None], per_primal,
            list(ctx.needs_input_grad) + [False])[:3]
    outs = iter(record_many("batch_norm_backward", results, (grad, input, weight), backward,
                            save=(grad, input, weight)))
    return (next(outs), None if weight is None else next(outs),
            None if bias is None else next(outs))


__all__ = ["batch_norm", "batch_norm_backward", "layer_norm", "layer_norm_backward"]
