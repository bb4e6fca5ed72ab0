"""PyTorch reruns for value findings: scaled_dot_product_attention by its math backend,
normalize or cosine_similarity with each slice scaled by a power of two, fmod one element
at a time, and cross_entropy reduced from its own per-sample losses in float64.

Where PyTorch, so rerun, gives tapegrad's values, the finding is marked with the rerun that
agrees (``ATTENTION_BY_ITS_MATH``, ``SCALED_PER_SLICE``…); otherwise it stays as it is.
"""
import warnings

import numpy as np

from . import catalogue
from .generate import LeafRef
from .libraries import Run, TAPEGRAD, TORCH, _arguments, _bound_arguments, torch
from .compare import TOLERANCE, compare_arrays
from .operand_reruns import _torch_call
from .reruns import NORMALIZE_WIDENED, _norm_widened_call, _rerun_chain


ATTENTION_BY_ITS_MATH = (" [scaled_dot_product_attention in the program: PyTorch's math "
                         "backend agrees]")
ATTENTION_BY_ITS_MATH_WITHIN_TERMS = (" [scaled_dot_product_attention in the program: PyTorch's "
                                      "math backend agrees, to the size of the terms Σⱼ wⱼ·|vⱼ| "
                                      "where they reach 1e20]")
SCALED_PER_SLICE = (" [normalize or cosine_similarity in the program: PyTorch agrees with each "
                    "slice scaled by a power of two near its largest magnitude]")
SCALE_INVARIANT = {"normalize": ("input",), "cosine_similarity": ("x1", "x2")}
SPREAD_SCALED_PER_SLICE = (" [std, var or norm: PyTorch agrees with each slice scaled by a power "
                           "of two near its largest magnitude, and its result scaled back]")
LOSSES_SUMMED_IN_FLOAT64 = (" [a loss of class indices: PyTorch's own per-sample losses "
                            "(reduction='none') summed in float64 and rounded back agree]")
CROSS_ENTROPY_IN_FLOAT64 = (" [cross_entropy: PyTorch agrees with it computed in float64 and "
                            "rounded back]")


def _marked_by_a_rerun(program, step, result, through_float16=False):
    """The mark for a value finding at ``step`` that PyTorch, rerun from the program's start
    in a way that avoids a known fault of its own, gives tapegrad's ``result`` for (else ""):
    ATTENTION_BY_ITS_MATH: attention with PyTorch's math backend, which its 3-d inputs take
    (its fused CPU kernel for 4-d inputs gives 0 for a query row whose scores are NaN, where
    softmax of NaN, the math and its 3-d inputs give NaN), or
    ATTENTION_BY_ITS_MATH_WITHIN_TERMS where it agrees only up to outputs whose terms reach
    1e20 (``_attention_by_its_math_within_its_terms``); SCALED_PER_SLICE: normalize or
    cosine_similarity with each slice scaled by a power of two (exact) to a largest
    magnitude in [0.5, 1), where the ops are scale-invariant (PyTorch's norm sums x² in
    the operand's dtype, which overflows to ∞, x/∞ = 0, even in float64 beyond 1e154, where
    x/‖x‖ fits); NORMALIZE_WIDENED, the rerun in the wider float (``_norm_widened_call``)
    as ``_normalizing_agrees_widened``'s, but to the narrowest operand's tolerance, which
    a step of mixed dtypes needs (float32 x₁, float64 x₂: each operand is scaled in its own
    dtype, x₁/‖x₁‖ rounded to float32 in tapegrad and PyTorch alike, exactly in the rerun,
    so the slices that agree differ by float32's rounding, beyond float64's tolerance);
    LOSSES_SUMMED_IN_FLOAT64: cross_entropy's sum or mean from PyTorch's own per-sample
    losses (``_losses_summed_in_float64_call``); CROSS_ENTROPY_IN_FLOAT64: cross_entropy
    of float16 or float32 operands computed in float64 (``_cross_entropy_in_float64_call``)."""
    if torch is None or not TAPEGRAD.is_tensor(result):
        return ""
    if step.entry.name == "scaled_dot_product_attention":
        reruns = ((_attention_by_its_math_call, ATTENTION_BY_ITS_MATH),)
    elif step.entry.name in SCALE_INVARIANT:
        reruns = ((_norm_widened_call, NORMALIZE_WIDENED),
                  (_scaled_per_slice_call, SCALED_PER_SLICE))
    elif step.entry.name in ("std", "var", "norm"):
        reruns = ((_spread_scaled_per_slice_call, SPREAD_SCALED_PER_SLICE),)
    elif step.entry.name == "cross_entropy":
        reruns = ((_losses_summed_in_float64_call, LOSSES_SUMMED_IN_FLOAT64),
                  (_cross_entropy_in_float64_call, CROSS_ENTROPY_IN_FLOAT64))
    elif step.entry.name == "nll_loss":
        reruns = ((_losses_summed_in_float64_call, LOSSES_SUMMED_IN_FLOAT64),)
    else:
        return ""
    return next((mark for call, mark in reruns
                 if _value_rerun_agrees(program, step, result, call, through_float16)), "") \
        or _attention_by_its_math_within_its_terms(program, step, result, through_float16)


def _value_rerun_agrees(program, step, result, call, through_float16=False):
    """True where PyTorch, rerun from the program's start with each step made by ``call``
    (as ``run.call``), gives tapegrad's ``result`` at ``step``: to the tolerance of the
    narrowest float among the result, the step's tensors and a float16 chain before it."""
    rerun = _value_rerun(program, step, result, call, through_float16)
    return rerun is not None and compare_arrays(*rerun) is None


def _value_rerun(program, step, result, call, through_float16=False):
    """(tapegrad's ``result``, PyTorch's at ``step`` rerun from the program's start with each
    step made by ``call``, the narrowest float among the result, the step's tensors and a
    float16 chain before it), or None where the rerun fails or its result is of another
    shape or dtype."""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    dtypes_seen = {TAPEGRAD.dtype_name(result)} | ({"float16"} if through_float16 else set())
    for each in program.steps:
        if each is step:
            dtypes_seen |= {str(v.dtype).removeprefix("torch.") for v in (
                run.materialize(a, program.leaves) for a in _arguments(each))
                if torch.is_tensor(v)}
        status, value = call(run, each, program.leaves)
        run.chain = _rerun_chain(each, status, value)
        if run.chain is None:
            return None
        if each is step:
            break
    ours, theirs = TAPEGRAD.to_numpy(result), TORCH.to_numpy(run.chain.detach())
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return None
    narrowest = next((d for d in ("float16", "float32") if d in dtypes_seen),
                     str(ours.dtype))
    return ours, theirs, narrowest


def _attention_by_its_math_call(run, step, leaves, on_a_copy=False):
    """``run.call``, attention computed by PyTorch's math backend (ATTENTION_BY_ITS_MATH)."""
    if step.entry.name != "scaled_dot_product_attention":
        return run.call(step, leaves, on_a_copy=on_a_copy)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel([SDPBackend.MATH]):
        return run.call(step, leaves, on_a_copy=on_a_copy)


def _attention_by_its_math_within_its_terms(program, step, result, through_float16=False):
    """ATTENTION_BY_ITS_MATH_WITHIN_TERMS where PyTorch's math backend, rerun as for
    ATTENTION_BY_ITS_MATH, gives tapegrad's attention up to outputs whose weighted sums
    Σⱼ wⱼ·vⱼ add terms reaching 1e20 (the fuzzer's ±1e30 in a value's column), there within
    the tolerance of those terms' size Σⱼ wⱼ·|vⱼ| (``_attention_terms_call``); else "".
    w·1e30 - w·1e30 + x keeps x or not by how each library's matrix product rounds: a fused
    multiply-add subtracts the exact second product from the rounded first and keeps that
    rounding (weights of 0.2 over 1e30 and -1e30 leave 2.97e12 where -0.22 is exact, 1e-17
    of the terms). Every other output, NaN and ±inf included, is compared as for
    ATTENTION_BY_ITS_MATH."""
    if step.entry.name != "scaled_dot_product_attention" or torch is None \
            or not TAPEGRAD.is_tensor(result):
        return ""
    rerun = _value_rerun(program, step, result, _attention_by_its_math_call, through_float16)
    sized = _value_rerun(program, step, result, _attention_terms_call, through_float16)
    if rerun is None or sized is None:
        return ""
    ours, theirs, narrowest = rerun
    terms = np.asarray(sized[1], dtype=np.float64)
    if ours.dtype.kind != "f" or terms.shape != ours.shape:
        return ""
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
        excused = np.isfinite(ours) & np.isfinite(theirs) & np.isfinite(terms) & \
            (terms >= 1e20) & (gap <= TOLERANCE[narrowest] * terms)
    if not excused.any():
        return ""
    return ATTENTION_BY_ITS_MATH_WITHIN_TERMS if compare_arrays(
        np.where(excused, theirs, ours), theirs, narrowest) is None else ""


def _attention_terms_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but attention by PyTorch's math backend in float64 of the value's
    magnitudes |v|: at each output the size Σⱼ wⱼ·|vⱼ| of the terms its weighted sum adds
    (the weights are ≥ 0), in the result's dtype; an error where dropout makes the
    weights random."""
    if step.entry.name != "scaled_dot_product_attention":
        return _attention_by_its_math_call(run, step, leaves, on_a_copy=on_a_copy)
    given = _bound_arguments(run, step, leaves)
    if given is None:   # (the call itself then raises as it should)
        return run.call(step, leaves, on_a_copy=on_a_copy)
    options = given.arguments
    tensors = [options[name] for name in ("query", "key", "value")]
    if options.get("dropout_p", 0.0) != 0 or not all(torch.is_tensor(t) and t.is_floating_point()
                                                     for t in tensors):
        return "error", ValueError("no sizes of terms: dropout, or an operand not a float tensor")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    try:
        wide = [t.detach().to(torch.float64) for t in tensors]
        options["query"], options["key"], options["value"] = wide[0], wide[1], wide[2].abs()
        mask = options.get("attn_mask")
        if torch.is_tensor(mask) and mask.is_floating_point():
            options["attn_mask"] = mask.detach().to(torch.float64)
        with sdpa_kernel([SDPBackend.MATH]), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sizes = catalogue.caller("torch", step.entry)(*given.args, **given.kwargs)
        return "ok", sizes.to(tensors[0].dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _scaled_per_slice_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but normalize or cosine_similarity with each floating operand's slices
    along ``dim`` scaled (``_scaled_slices``; cosine_similarity's operands broadcast first),
    where the op is scale-invariant: p > 0 (the p-norm is then of degree 1, and at least the
    largest magnitude) and ε ≤ 1/2 (a scaled slice's norm is at least 1/2, and a slice is
    scaled only where its largest magnitude, so its norm, is at least ε: max(‖x‖, ε) is
    ‖x‖ before and after)."""
    names = SCALE_INVARIANT.get(step.entry.name)
    if names is None:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    given = _bound_arguments(run, step, leaves)
    if given is None:   # (the call itself then raises as it should)
        return run.call(step, leaves, on_a_copy=on_a_copy)
    given.apply_defaults()
    options = given.arguments
    p, eps = options.get("p", 2.0), options["eps"]
    tensors = [options[name] for name in names]
    if (options.get("out") is not None or isinstance(p, bool) or not isinstance(p, (int, float))
            or not p > 0 or isinstance(eps, bool) or not isinstance(eps, (int, float))
            or not 0 <= eps <= 0.5 or not all(torch.is_tensor(t) for t in tensors)
            or not any(t.is_floating_point() for t in tensors)):
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        if len(tensors) == 2:   # (an integer operand takes the other's dtype, as in both ops)
            x1, x2 = tensors
            tensors = torch.broadcast_tensors(x1 if x1.is_floating_point() else x1.to(x2.dtype),
                                              x2 if x2.is_floating_point() else x2.to(x1.dtype))
        for name, tensor in zip(names, tensors):
            options[name] = _scaled_slices(tensor, options["dim"], eps, p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", catalogue.caller("torch", step.entry)(*given.args, **given.kwargs)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _scaled_slices(x, dim, eps, p=2.0):
    """x with each slice along ``dim`` (every dim for None) times 2⁻ᵉ, where 2ᵉ⁻¹ ≤ max|x| <
    2ᵉ (frexp), in two exact halves (2¹⁰⁷⁴ alone is past float64's range); a slice whose
    largest magnitude is 0, below ε, ∞ or NaN is left as it is. Multiplying by a power of
    two rounds nothing, so PyTorch's op sees the same digits, its norm's squares in range.
    So is a slice whose p-norm itself is past the dtype's range (float32 [3.4e38, 3.4e38]):
    its ‖x‖ is ∞ in both libraries and x/‖x‖ 0, which the rerun must keep."""
    dims = tuple(range(x.ndim)) if dim is None else dim
    largest = x.detach().abs().amax(dim=dims, keepdim=True).to(torch.float64).numpy()
    _, exponent = np.frexp(largest)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        relative = np.abs(x.detach().to(torch.float64).numpy()) / largest
        norm = largest * np.sum(relative ** p, axis=dims, keepdims=True) ** (1 / p)
        exponent = np.where(np.isfinite(largest) & (largest > 0) & (largest >= eps)
                            & ~(norm > torch.finfo(x.dtype).max), exponent, 0)
    half = exponent // 2
    for power in (-half, half - exponent):
        x = x * torch.as_tensor(np.ldexp(1.0, power), dtype=x.dtype)
    return x


def _spread_scaled_per_slice_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but std, var or a p-norm, p > 0 (SPREAD_SCALED_PER_SLICE), of its input with each slice
    over the reduced dims scaled by 2⁻ᵉ (``_scaled_slices``, exact) and the result by 2ᵉ
    (std, norm) or 2²ᵉ (var) after: std(c·x) = c·std(x), so where PyTorch's sum of squares
    (cubes: float32 3.6e17³) or of x - x̄ passes the dtype's range (float64 values of
    ±1.8e308: ∞ - ∞ = NaN) the scaled slice stays in it. Its only roundings are PyTorch's
    own on the scaled values."""
    if step.entry.name not in ("std", "var", "norm") or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    given = _bound_arguments(run, step, leaves)
    if given is None:   # (the call itself then raises as it should)
        return run.call(step, leaves)
    options = given.arguments   # (no defaults filled in: PyTorch's var takes no unbiased=None)
    x, dim, keepdim = options["input"], options.get("dim"), options.get("keepdim", False)
    p = options.get("p", "fro")   # (norm: of degree 1 for p > 0, as std)
    if not torch.is_tensor(x) or not x.is_floating_point() or \
            x.numel() == 0 or isinstance(dim, bool) or not isinstance(keepdim, bool) or \
            options.get("dtype") is not None or not (p == "fro" or isinstance(p, (int, float))
                                                     and not isinstance(p, bool) and p > 0):
        return run.call(step, leaves)
    try:
        dims = tuple(range(x.ndim)) if dim is None or x.ndim == 0 else tuple(
            d % x.ndim for d in (dim if isinstance(dim, (tuple, list)) else (dim,)))
        largest = (x.detach().abs().amax(dim=dims, keepdim=True) if dims else
                   x.detach().abs()).to(torch.float64).numpy()
        with np.errstate(invalid="ignore"):
            exponent = np.where(np.isfinite(largest) & (largest > 0),
                                np.frexp(largest)[1], 0)
        options["input"] = _times_power_of_two(x, -exponent)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = catalogue.caller("torch", step.entry)(*given.args, **given.kwargs)
        back = exponent * (2 if step.entry.name == "var" else 1)
        if not keepdim:
            back = back.reshape(tuple(result.shape))
        return "ok", _times_power_of_two(result, back)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _times_power_of_two(x, exponent):
    """x·2^exponent (an integer array broadcasting to x), in factors each within the dtype's
    range (2¹²⁸ alone is past float32's): exact but where the product leaves the range."""
    limit = np.finfo(str(x.dtype).removeprefix("torch.")).maxexp - 1
    exponent = np.asarray(exponent, dtype=np.int64)
    while exponent.any():
        part = np.clip(exponent, -limit, limit)
        x = x * torch.as_tensor(np.ldexp(1.0, part), dtype=x.dtype)
        exponent = exponent - part
    return x


FMODS = ("fmod", "fmod_")


def _fmod_one_element_at_a_time_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but a floating fmod computed by PyTorch one element at a time, its
    operands first given in the result's dtype (as PyTorch's own call rounds a float64 0-d
    divisor of float32 x). PyTorch's vectorised CPU kernel (16 elements and more) gives NaN
    where x/y passes the dtype's range (float32 2.1e38 by 0.185: x/y = 1.1e39); on fewer
    elements it takes its scalar loop, C's fmod, which is exact (0.0767). For the values
    only: an in-place step's result is a new tensor, its target left as it was."""
    if step.entry.name not in FMODS or on_a_copy or not step.args:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    args = [run.materialize(a, leaves) for a in step.args]
    kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
    x = args[0]
    y = args[1] if len(args) == 2 and not kwargs else kwargs.get("other") if len(args) == 1 \
        and set(kwargs) == {"other"} else None
    if not torch.is_tensor(x) or y is None or isinstance(y, bool) or \
            not (torch.is_tensor(y) or isinstance(y, (int, float))):
        return run.call(step, leaves)
    dtype = torch.result_type(x, y)   # (fmod_ too computes in it, then rounds to its target's)
    if not dtype.is_floating_point or not x.dtype.is_floating_point and step.entry.name == "fmod_":
        return run.call(step, leaves)
    x, y = torch.broadcast_tensors(x.to(dtype), torch.as_tensor(y).to(dtype))
    if step.entry.name == "fmod_" and x.shape != args[0].shape:
        return run.call(step, leaves)   # (PyTorch refuses to broadcast its target: its error)
    pieces = [torch.fmod(a, b) for a, b in zip(x.reshape(-1, 1), y.reshape(-1, 1))]
    result = (torch.cat(pieces) if pieces else torch.empty(0, dtype=dtype)).reshape(x.shape)
    return "ok", result.to(args[0].dtype) if step.entry.name == "fmod_" else result


def _losses_summed_in_float64_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but cross_entropy or nll_loss of class indices (int64) with reduction
    'sum' or 'mean' reduced from PyTorch's own per-sample losses: the same call with
    reduction='none', its losses summed in float64 (exact for float16's) and, for the mean,
    divided by Σ w_y over the targets kept, then rounded back to the losses' dtype
    (LOSSES_SUMMED_IN_FLOAT64). PyTorch's CPU kernel sums the losses in their own dtype,
    in a cascade of partial sums: in float16 a partial sum of positive losses (17744 +
    50240) passes 65504 to +inf, and where a loss has itself overflowed to -inf
    (-w_y·log p_y = -19424·3.68) it meets it as inf - inf = NaN. The losses' sum is -inf
    in every order that keeps their partial sums in range (PyTorch's own gives -inf for
    the same rows in another order), so that rerun is the reference; its per-sample
    losses are PyTorch's, each rounded to the dtype as tapegrad's are. A float16 mean
    (20593.5) of losses whose float16 sum passes 65504 is inf in PyTorch for the same
    reason, where the mean itself fits."""
    if step.entry.name not in ("cross_entropy", "nll_loss") or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    given = _bound_arguments(run, step, leaves)
    if given is None:   # (the call itself then raises as it should)
        return run.call(step, leaves)
    given.apply_defaults()
    options = given.arguments
    x, target, weight = options["input"], options["target"], options["weight"]
    reduction = options["reduction"]
    if reduction not in ("sum", "mean") or options["size_average"] is not None or \
            options["reduce"] is not None or not torch.is_tensor(x) or \
            not x.is_floating_point() or x.ndim == 0 or not torch.is_tensor(target) or \
            target.dtype != torch.int64 or not (weight is None or torch.is_tensor(weight)):
        # (not PyTorch's own call: that agrees with PyTorch, and would mark any finding)
        return "error", ValueError("no sum or mean of class indices to rerun")
    try:
        options["reduction"] = "none"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            losses = catalogue.caller("torch", step.entry)(*given.args, **given.kwargs).detach()
        total = losses.to(torch.float64).sum()
        if reduction == "mean":
            classes = x.shape[1] if x.ndim > 1 else x.shape[0]
            weights = (torch.ones(classes, dtype=torch.float64) if weight is None
                       else weight.detach().to(torch.float64))
            total = total / weights[target[target != options["ignore_index"]]].sum()
        return "ok", total.to(losses.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _cross_entropy_in_float64_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but cross_entropy of float16 or float32 operands computed in float64
    and rounded back to the dtype of its result (CROSS_ENTROPY_IN_FLOAT64): PyTorch's
    log_softmax in float32 rounds lse - x_y to 0 where it is below float32's resolution at
    lse (log(1 + 4e-12) at logits [0.23, -26, -inf]: 0.23 + 4e-12 is 0.23), and a class
    weight of 1e30 makes that rounding a loss of -0 where the loss is 4.03e18."""
    if step.entry.name != "cross_entropy" or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    status, narrow = run.call(step, leaves)
    if status != "ok" or not torch.is_tensor(narrow) or \
            narrow.dtype not in (torch.float16, torch.float32):
        return "error", ValueError("no float16 or float32 loss to widen")   # (nor here)

    def wide(value):
        return value.to(torch.float64) if torch.is_tensor(value) and \
            value.dtype in (torch.float16, torch.float32) else value
    status, result = _torch_call(step, [wide(run.materialize(a, leaves)) for a in step.args],
                                 {k: wide(run.materialize(v, leaves)) for k, v in step.kwargs.items()})
    return status, result.to(narrow.dtype) if status == "ok" else result
