"""layer_norm and group_norm of groups of equal values, judged by their formula in float64.

A group of equal values has variance 0 in the math and a residue of rounding in either
library: the normalised values are then noise of that residue. PyTorch is rerun with the
norms by their formula in float64; where that agrees with tapegrad, the finding is marked
(``NORMS_IN_FLOAT64``, ``NORM_BY_ITS_FORMULA``).
"""
import math

import numpy as np

from .generate import LeafRef
from .libraries import (Run, TAPEGRAD, TORCH, _TapegradValues, _in_place, _unordered, first_tensor,
                        torch)
from .compare import compare_arrays, compare_results
from .gradients import _backwards_differ, _compare_gradients, _step_backward


NORM_BY_ITS_FORMULA = " [PyTorch agrees with the norm by its formula in float64]"


def _norm_agrees_by_its_formula(program, step, chain_before, result):
    """layer_norm or group_norm whose values differ (a group of equal values: x - μ is
    exactly 0 here, a rounding residue in PyTorch's x·r - μ·r, which a large weight
    magnifies): NORM_BY_ITS_FORMULA where PyTorch computing (x - μ)/√(σ² + ε)·w + b from
    its elementary operations in float64, rounded back, gives tapegrad's values (else "")."""
    if step.entry.name not in NORMS or torch is None or not TAPEGRAD.is_tensor(result):
        return ""
    run = Run(TORCH)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else torch.from_numpy(chain_before.copy()))
    status, formula = _norm_in_float64(run, step, program.leaves)
    if status != "ok" or not TORCH.is_tensor(formula) or formula.dtype != run.chain.dtype:
        return ""   # (the formula's rerun fell back to PyTorch's own kernel)
    try:   # (the formula's chain never requires grad: whether tapegrad's does is compared
        agrees = not [k for k, _ in compare_results(result, formula)   # with PyTorch's own)
                      if k != "requires-grad"]
    except Exception:  # noqa: BLE001 - a result of another structure
        return ""
    return NORM_BY_ITS_FORMULA if agrees else ""


NORMS_IN_FLOAT64 = (" [a norm of groups of equal values in the program: PyTorch agrees with "
                    "its norms by their formula in float64]")
NORMS = ("layer_norm", "group_norm")
# (blame's rerun of the norm alone: PyTorch's float32 backward forms b·x + c from x itself, not
# x - μ, so its rounding is of |μ|·r, not of the gradient: layer_norm of [79895.93]·2 gives
# x's gradient in units of 128 (256, -128 for 243.02, -243.02); in float64 it gives 243.02.
# Not for a float16 norm, whose roundings the float16 judge weighs: 1e-3 added to a gradient
# that cancels to 0 would pass there)
NORM_ALONE_IN_FLOAT64 = (" [layer_norm or group_norm: PyTorch's backward of it alone agrees with "
                         "it by its formula in float64]")


def _gradients_agree_with_norms_in_float64(program, runs, step, a, norm_values,
                                          through_float16, weighted_means):
    """For a program with a norm of groups of one value or of equal values before or at
    ``step``: x - μ is exactly 0 here and a rounding residue in PyTorch's x·r - μ·r, which
    r = 1/√(σ² + ε) and the later steps' slopes magnify (binary_cross_entropy's 1e12 at
    0), in its values and in its backward. The program run again in PyTorch with each
    layer_norm and group_norm step computed by its formula in float64 (its backward too)
    and its values replaced by tapegrad's (the gradient passing through unchanged): True
    when the leaves' gradients then agree. A wrong backward of any step, the norm's
    included, still differs."""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        if _unordered(each):
            return False   # (no order to follow)
        # (an in-place step writes into a copy, as the later steps' replays do: never into
        # the replaced values, nor into a leaf)
        status, result = _norm_in_float64(run, each, program.leaves, on_a_copy=_in_place(each))
        run.chain = first_tensor(TORCH, result) if status == "ok" else None
        if run.chain is None:
            return False
        if id(each) in norm_values:
            values = torch.from_numpy(norm_values[id(each)].copy())
            if values.shape != run.chain.shape or values.dtype != run.chain.dtype:
                return False
            run.chain = (_TapegradValues.apply(run.chain, values) if run.chain.requires_grad
                         else values)
        if each is step:
            break
    if tuple(run.chain.shape) != tuple(a.shape):
        return False
    found = _compare_gradients(program, {"tapegrad": runs["tapegrad"], "torch": run}, step, a,
                               run.chain, through_float16, weighted_means)
    return not any(f.kind == "gradient" or f.kind.startswith("backward") for f in found)


GROUP_NORM_BY_ITS_FORMULA = (" [group_norm at an infinite incoming gradient or weight, or of "
                             "squares past the range: PyTorch's backward of the norm by its "
                             "formula in float64 gives tapegrad's gradients]")


def _group_norm_by_its_formula(program, k, chain_input, grad, ours):
    """GROUP_NORM_BY_ITS_FORMULA for step ``k``, a group_norm whose incoming gradient or
    weight holds ±inf, where PyTorch's backward of (x - μ)/√(σ² + ε)·w + b by its elementary
    operations in float64 (``_norm_in_float64``, rounded back) gives tapegrad's gradients
    ``ours`` to the tolerance, else "". By the formula the weight's gradient is Σ g·x̂ term
    by term (±inf where one sign of ∞ meets x̂ ≠ 0), the input's r·(ĝ - mean ĝ - x̂·mean ĝx̂)
    with ĝ = g·w (NaN over a group whose ĝ holds +∞ and -∞). PyTorch's own kernel forms
    Σ g·x̂ as (Σ g·x - μ·Σ g)·r: ∞ - ∞ = NaN where the definition's sum is ±inf, ±inf where
    the input's is NaN, and its float16 sums drift by 1.5% (606 for 615)."""
    step = program.steps[k]
    if step.entry.name != "group_norm" or torch is None:
        return ""
    weight = dict(zip(NORM_PARAMETERS["group_norm"], step.args), **step.kwargs).get("weight")
    infinite_weight = isinstance(weight, LeafRef) and not np.isfinite(
        np.asarray(program.leaves[weight.index].values, dtype=np.float64)).all()
    if np.isfinite(grad).all() and not infinite_weight and \
            not _squares_past_the_range(program, chain_input):
        return ""
    wide = _step_backward(TORCH, program, k, chain_input, grad, call=_norm_in_float64)
    if wide is None or set(wide[1]) != set(ours[1]) or _backwards_differ(ours, wide,
                                                                         within_noise=True):
        return ""
    return GROUP_NORM_BY_ITS_FORMULA


SPREAD_WITHOUT_FREEDOM = (" [var or std with no degree of freedom left: PyTorch's backward of it "
                          "computed in float64 gives tapegrad's gradients]")


def _spread_without_freedom_in_float64(program, k, chain_input, grad, ours):
    """SPREAD_WITHOUT_FREEDOM for step ``k``, a float16 or float32 var or std along dims
    with no degree of freedom left (N ≤ correction: its gradient g·∞·(x - x̄)), where
    PyTorch's backward of the same step computed in float64 and rounded back gives
    tapegrad's gradients ``ours``, else "". Two values an ulp apart have x - x̄ = ±4.8e-7,
    so ±∞; PyTorch's float32 mean of them rounds to one of the two, x - x̄ = 0 there and
    ∞·0 = NaN (tapegrad's x - x̄ is (x - x₀) - mean(x - x₀), exact for them)."""
    step = program.steps[k]
    if step.entry.name not in ("var", "std") or torch is None or len(step.args) != 1 or \
            set(step.kwargs) - {"dim", "correction", "keepdim"}:
        return ""
    x = (TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
         if chain_input is None else chain_input[0])
    dim = step.kwargs.get("dim")
    dims = range(x.ndim) if dim is None else (dim,) if isinstance(dim, int) else dim
    if x.dtype not in (np.float16, np.float32) or not x.ndim or \
            math.prod(x.shape[d] for d in dims) > step.kwargs.get("correction", 1):
        return ""

    def in_float64(run, each, leaves, on_a_copy=False):
        if each is not step:
            return run.call(each, leaves, on_a_copy=on_a_copy)
        chain = run.materialize(each.args[0], leaves)
        op = torch.var if each.entry.name == "var" else torch.std
        try:
            return "ok", op(chain.to(torch.float64), **each.kwargs).to(chain.dtype)
        except Exception as error:  # noqa: BLE001 - as run.call
            return "error", error
    wide = _step_backward(TORCH, program, k, chain_input, grad, call=in_float64)
    if wide is None or set(wide[1]) != set(ours[1]) or _backwards_differ(ours, wide,
                                                                         within_noise=True):
        return ""
    return SPREAD_WITHOUT_FREEDOM


def _squares_past_the_range(program, chain_input):
    """Whether a float32 (float64) norm's input holds a finite value whose square passes the
    dtype's range (1e30 in float32): PyTorch's σ² = E[x²] - E[x]² is then ∞, its 1/σ 0 and
    x̂ 0 over the group (a weight of 1e-30 hides it in the values, not in the weight's
    gradient Σ g·x̂)."""
    x = (TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
         if chain_input is None else chain_input[0])
    if x.dtype not in (np.float32, np.float64):
        return False
    with np.errstate(invalid="ignore"):
        return bool((np.isfinite(x) & (np.abs(x) > math.sqrt(np.finfo(x.dtype).max))).any())


NORM_PARAMETERS = {"layer_norm": ("input", "normalized_shape", "weight", "bias", "eps"),
                   "group_norm": ("input", "num_groups", "weight", "bias", "eps")}


def _norm_in_float64(run, step, leaves, on_a_copy=False):
    """``run.call``, but a layer_norm or group_norm computed by its formula from PyTorch's
    elementary operations, in float64, and rounded back: (x - μ)/√(σ² + ε)·w + b, with
    μ of equal values exactly their value, so x - μ exactly 0 as here. batch_norm in
    training too (``_batch_norm_in_float64``)."""
    if step.entry.name == "batch_norm":
        return _batch_norm_in_float64(run, step, leaves)
    if step.entry.name not in NORMS:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        args = [run.materialize(a, leaves) for a in step.args]
        kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
        bound = dict(zip(NORM_PARAMETERS[step.entry.name], args), **kwargs)
        x, weight, bias = bound["input"], bound.get("weight"), bound.get("bias")
        eps = bound.get("eps", 1e-5)
        if not x.dtype.is_floating_point or any(
                t is not None and (not torch.is_tensor(t) or t.dtype != x.dtype)
                for t in (weight, bias)) or not isinstance(eps, (int, float)):
            return run.call(step, leaves)
        wide = x.to(torch.float64)
        if step.entry.name == "layer_norm":
            size = bound["normalized_shape"]
            size = (size,) if isinstance(size, int) else tuple(size)
            if tuple(x.shape[x.ndim - len(size):]) != size or not size:
                return run.call(step, leaves)
            dims = tuple(range(x.ndim - len(size), x.ndim))
            shape = x.shape
            affine = None
        else:
            groups = bound["num_groups"]
            if x.ndim < 2 or not isinstance(groups, int) or groups <= 0 or x.shape[1] % groups:
                return run.call(step, leaves)
            shape = x.shape
            wide = wide.reshape(x.shape[0], groups, -1)
            dims = (2,)
            affine = (x.shape[1],) + (1,) * (x.ndim - 2)
        mean = wide.mean(dims, keepdim=True)
        variance = ((wide - mean) ** 2).mean(dims, keepdim=True)
        y = ((wide - mean) / torch.sqrt(variance + eps)).reshape(shape)
        if weight is not None:
            y = y * weight.to(torch.float64).reshape(affine or weight.shape)
        if bias is not None:
            y = y + bias.to(torch.float64).reshape(affine or bias.shape)
        return "ok", y.to(x.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


BATCH_NORM_PARAMETERS = ("input", "running_mean", "running_var", "weight", "bias", "training",
                         "momentum", "eps")


def _batch_norm_in_float64(run, step, leaves):
    """``run.call``, but a batch_norm in training computed by its formula from PyTorch's
    elementary operations, in float64, and rounded back: (x - μ)/√(σ² + ε)·γ + β, μ and σ²
    (biased) per channel over the batch and the spatial dims; the running statistics
    updated as PyTorch does, r ← (1 - m)·r + m·s, with the unbiased σ² (PyTorch's float16
    kernel gives 0.0429 where the formula gives 0.0572, for channels of values near 1632
    spread by 1). Evaluation, and any argument the formula does not cover, runs PyTorch's
    own kernel."""
    try:
        args = [run.materialize(a, leaves) for a in step.args]
        kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
        bound = dict(zip(BATCH_NORM_PARAMETERS, args), **kwargs)
        x, weight, bias = bound["input"], bound.get("weight"), bound.get("bias")
        means, variances = bound.get("running_mean"), bound.get("running_var")
        eps, momentum = bound.get("eps", 1e-5), bound.get("momentum", 0.1)
        if bound.get("training") is not True or not torch.is_tensor(x) or \
                not x.dtype.is_floating_point or x.ndim < 2 or x.numel() == 0 or \
                x.numel() == x.shape[1] or any(
                    t is not None and (not torch.is_tensor(t) or t.dtype != x.dtype or
                                       tuple(t.shape) != (x.shape[1],))
                    for t in (weight, bias, means, variances)) or \
                not isinstance(eps, (int, float)) or not isinstance(momentum, (int, float)):
            return run.call(step, leaves)
        dims = (0,) + tuple(range(2, x.ndim))
        along = (1, -1) + (1,) * (x.ndim - 2)
        wide = x.to(torch.float64)
        mean = wide.mean(dims, keepdim=True)
        variance = ((wide - mean) ** 2).mean(dims, keepdim=True)
        y = (wide - mean) / torch.sqrt(variance + eps)
        if weight is not None:
            y = y * weight.to(torch.float64).reshape(along)
        if bias is not None:
            y = y + bias.to(torch.float64).reshape(along)
        count = x.numel() // x.shape[1]
        with torch.no_grad():
            if means is not None:
                means.copy_((1 - momentum) * means.double() + momentum * mean.reshape(-1))
            if variances is not None:
                variances.copy_((1 - momentum) * variances.double()
                                + momentum * variance.reshape(-1) * count / (count - 1))
        return "ok", y.to(x.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


BATCH_NORM_BY_ITS_FORMULA = (" [batch_norm by its formula in float64 gives tapegrad's values, "
                             "its channels of equal values within their residue]")


def _batch_norm_agrees_by_its_formula(program, step, x, result):
    """batch_norm in training whose values differ: BATCH_NORM_BY_ITS_FORMULA where PyTorch
    computing it by its formula in float64 (``_batch_norm_in_float64``) on tapegrad's input
    ``x``, rounded back, gives tapegrad's values, except in channels of equal values, where
    x - μ is 0 in the math and tapegrad's x·(rγ) + (β - μ·rγ) leaves a residue of its
    rounding: there within 8 ulps of x times |γ|/√ε of β (else "")."""
    training = step.kwargs.get("training", step.args[5] if len(step.args) > 5 else False)
    if step.entry.name != "batch_norm" or training is not True or torch is None or \
            x is None or x.ndim < 2 or x.dtype.kind != "f" or not TAPEGRAD.is_tensor(result) \
            or tuple(result.shape) != x.shape:
        return ""
    run = Run(TORCH)
    run.chain = torch.from_numpy(x.copy())
    status, formula = _batch_norm_in_float64(run, step, program.leaves)
    if status != "ok" or not TORCH.is_tensor(formula) or formula.dtype != run.chain.dtype:
        return ""
    a = np.moveaxis(TAPEGRAD.to_numpy(result), 1, 0).reshape(x.shape[1], -1)
    b = np.moveaxis(TORCH.to_numpy(formula), 1, 0).reshape(x.shape[1], -1)
    channels = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
    with np.errstate(invalid="ignore"):
        equal = (channels.max(axis=1) == channels.min(axis=1)) & \
            np.isfinite(channels).all(axis=1)
    if compare_arrays(a[~equal], b[~equal], str(x.dtype)) is not None:
        return ""
    if not equal.any():
        return BATCH_NORM_BY_ITS_FORMULA
    weight = step.kwargs.get("weight", step.args[3] if len(step.args) > 3 else None)
    gamma = (np.abs(np.asarray(program.leaves[weight.index].values, np.float64)).reshape(-1)
             if isinstance(weight, LeafRef) else np.ones(1) if weight is None else None)
    eps = step.kwargs.get("eps", step.args[7] if len(step.args) > 7 else 1e-5)
    if gamma is None or gamma.size not in (1, x.shape[1]) or \
            not isinstance(eps, (int, float)) or eps <= 0:
        return ""
    gamma = np.broadcast_to(gamma, (x.shape[1],))
    residue = 8 * np.spacing(np.abs(channels[:, 0])).astype(np.float64) * gamma / math.sqrt(eps)
    with np.errstate(invalid="ignore"):
        near = np.abs(a[equal].astype(np.float64) - b[equal]) <= residue[equal, None] + \
            np.spacing(np.abs(b[equal])).astype(np.float64)
    return BATCH_NORM_BY_ITS_FORMULA if bool(near.all()) else ""
