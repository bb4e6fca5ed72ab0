"""layer_norm and group_norm of groups of equal values, judged by their formula in float64.

A group of equal values has variance 0 in the math and a residue of rounding in either
library: the normalised values are then noise of that residue. PyTorch is rerun with the
norms by their formula in float64; where that agrees with tapegrad, the finding is marked
(``NORMS_IN_FLOAT64``, ``NORM_BY_ITS_FORMULA``).
"""
from .generate import LeafRef
from .libraries import (Run, TAPEGRAD, TORCH, _TapegradValues, _in_place, _unordered, first_tensor,
                        torch)
from .compare import compare_results
from .gradients import _compare_gradients


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
        if _unordered(each) or _in_place(each):
            return False   # (no order to follow, or a write into the replaced values)
        status, result = _norm_in_float64(run, each, program.leaves)
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


NORM_PARAMETERS = {"layer_norm": ("input", "normalized_shape", "weight", "bias", "eps"),
                   "group_norm": ("input", "num_groups", "weight", "bias", "eps")}


def _norm_in_float64(run, step, leaves):
    """``run.call``, but a layer_norm or group_norm computed by its formula from PyTorch's
    elementary operations, in float64, and rounded back: (x - μ)/√(σ² + ε)·w + b, with
    μ of equal values exactly their value, so x - μ exactly 0 as here."""
    if step.entry.name not in NORMS:
        return run.call(step, leaves)
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
