"""Why a value that differs is not tapegrad's fault: the reasons the driver checks before it
reports a value finding.

Casts of NaN or inf to an integer, norms of groups of equal values (a residue of rounding),
Cholesky factors PyTorch computes in float64, sums of terms that cancel, means of huge
terms.
"""
import math
import warnings

import numpy as np

import tapegrad as tg

from .generate import DType, LeafRef
from .libraries import Run, TAPEGRAD, TORCH, _bound_arguments, first_tensor, torch
from .compare import TOLERANCE, _singular_up_to_rounding, compare_arrays, compare_results
from .reruns import _gelu_and_slope_by_math
from .value_reruns import _fmod_one_element_at_a_time_call


CASTS = ("int", "long", "to", "type_as")
UNREPRESENTABLE = " [float to integer of NaN, ±inf or a value beyond the integer's range]"


def _cast_of_unrepresentable(step, x, result, t_result):
    """UNREPRESENTABLE where a cast of floats to an integer dtype differs only at elements
    whose float is NaN, ±inf or beyond the integer's range (undefined in C: each library
    gives its own garbage), else "". Everywhere else the integer must be the float's, truncated
    toward 0, in both."""
    if step.entry.name not in CASTS or x is None or x.dtype.kind != "f" or \
            not isinstance(result, tg.Tensor) or torch is None or \
            not isinstance(t_result, torch.Tensor):
        return ""
    a, b = TAPEGRAD.to_numpy(result), TORCH.to_numpy(t_result)
    if a.dtype.kind not in "iu" or a.shape != x.shape or b.shape != x.shape:
        return ""
    info = np.iinfo(a.dtype)
    with np.errstate(invalid="ignore"):
        whole = np.trunc(x.astype(np.float64))
        representable = (whole >= info.min) & (whole < float(info.max) + 1)   # (NaN: False)
    return UNREPRESENTABLE if np.array_equal(a[representable], b[representable]) else ""


def _lone_value_groups(step, shape):
    """group_norm whose groups hold one value each (C/G channels × the spatial size = 1):
    x - μ is 0 by definition, and PyTorch's kernel returns its rounding residue times
    1/√ε (≈316): its values and the gradients through x̂ carry no digit to compare"""
    if step.entry.name != "group_norm" or len(shape) < 2:
        return False
    groups = step.kwargs.get("num_groups", step.args[1] if len(step.args) > 1 else None)
    if not isinstance(groups, int) or groups <= 0 or shape[1] % groups:
        return False
    return shape[1] // groups * math.prod(shape[2:]) == 1


def _lone_groups_differ_by_a_residue(program, step, x, result, t_result):
    """group_norm of groups of one value (``_lone_value_groups``) where tapegrad's result is
    the bias exactly (x̂ = 0: y = 0·γ + β), and PyTorch's differs from it by no more than its
    residue can make: |x̂| ≤ 8 ulps of x/√ε, and below 1 (a residue over √(residue² + ε)),
    times |γ|. Where x or γ is not finite, both results must be NaN or ±inf."""
    if x is None or not isinstance(result, tg.Tensor) or torch is None or \
            not isinstance(t_result, torch.Tensor) or tuple(result.shape) != x.shape or \
            x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        return False

    def per_channel(name, place, default):
        value = step.kwargs.get(name, step.args[place] if len(step.args) > place else None)
        if value is None:
            return np.full(x.shape[1], default)
        if not isinstance(value, LeafRef):
            return None
        value = np.asarray(program.leaves[value.index].values, np.float64).reshape(-1)
        return np.broadcast_to(value, (x.shape[1],)) if value.size in (1, x.shape[1]) else None

    gamma, beta = per_channel("weight", 2, 1.0), per_channel("bias", 3, 0.0)
    eps = step.kwargs.get("eps", step.args[4] if len(step.args) > 4 else 1e-5)
    if gamma is None or beta is None or not isinstance(eps, (int, float)) or eps <= 0:
        return False
    along_channels = (1, -1) + (1,) * (x.ndim - 2)
    gamma, beta = gamma.reshape(along_channels), beta.reshape(along_channels)
    a = TAPEGRAD.to_numpy(result).astype(np.float64)
    b = t_result.detach().double().numpy()
    smooth = np.isfinite(x) & np.isfinite(gamma) & np.isfinite(beta)
    bias = np.broadcast_to(beta.astype(x.dtype).astype(np.float64), a.shape)
    with np.errstate(invalid="ignore"):
        spacing = np.spacing(np.abs(x)).astype(np.float64)
    residue = np.minimum(8 * spacing / math.sqrt(eps),
                         1.0) * np.abs(gamma)
    floor = 1e-2 * TOLERANCE.get(str(x.dtype), 2e-4)
    with np.errstate(invalid="ignore"):
        bias_here = np.array_equal(a[smooth], bias[smooth])
        near = bool((np.abs(a - b) <= residue + floor)[smooth].all())
    elsewhere = ~smooth & ~(np.isclose(a, b, equal_nan=True) |
                            (~np.isfinite(a) & ~np.isfinite(b)))
    return bias_here and near and not elsewhere.any()


def _equal_channels_alone_differ(program, step, x, result, t_result):
    """batch_norm in training whose values differ only in channels of equal values (an
    expanded leaf), and there by no more than such a residue can make: x - μ is 0 by
    definition, a rounding residue of the mean in both libraries (a few ulps of x), times
    |γ|/√ε (γ = -3837, ε = 1e-5: 1.2e6), so those channels carry no digit to compare"""
    training = step.kwargs.get("training", step.args[5] if len(step.args) > 5 else False)
    if step.entry.name != "batch_norm" or training is not True:
        return False
    if x is None or not isinstance(result, tg.Tensor) or torch is None or \
            not isinstance(t_result, torch.Tensor) or x.ndim < 2 or x.size == 0 or \
            tuple(result.shape) != x.shape or not np.issubdtype(x.dtype, np.floating):
        return False
    channels = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
    with np.errstate(invalid="ignore"):
        equal = (channels.max(axis=1) == channels.min(axis=1)) & np.isfinite(channels).all(axis=1)
    a = np.moveaxis(TAPEGRAD.to_numpy(result).astype(np.float64), 1, 0).reshape(len(equal), -1)
    b = np.moveaxis(t_result.detach().double().numpy(), 1, 0).reshape(len(equal), -1)
    # (exactly: a residue of 1e-6 both sides of 0 is a difference to the comparison)
    differ = ~((a == b) | (np.isnan(a) & np.isnan(b)) | _few_ulps_apart(
        a, b, TAPEGRAD.to_numpy(result).dtype, ~equal)).all(axis=1)
    if not (differ.any() and equal[differ].all()):
        return False
    weight = step.kwargs.get("weight", step.args[3] if len(step.args) > 3 else None)
    gamma = (np.abs(np.asarray(program.leaves[weight.index].values, np.float64)).reshape(-1)
             if isinstance(weight, LeafRef) else np.ones(1))
    gamma = np.broadcast_to(gamma, (len(equal),)) if gamma.size in (1, len(equal)) else None
    eps = step.kwargs.get("eps", step.args[7] if len(step.args) > 7 else 1e-5)
    if gamma is None or not isinstance(eps, (int, float)) or eps <= 0:
        return False
    residue = 8 * np.spacing(np.abs(channels[:, 0]).astype(x.dtype)).astype(np.float64)
    bound = gamma * residue / math.sqrt(eps)
    return bool((np.abs(a - b)[differ] <= bound[differ, None]).all())


def _few_ulps_apart(a, b, dtype, rows):
    """Per element of the rows ``rows`` (the channels of different values, whose x̂ carries
    its digits) of two float64 copies of results in ``dtype``: within 4 of its ulps, a
    rounding (5.984 against 5.98 in float16); False elsewhere."""
    with np.errstate(invalid="ignore", over="ignore"):
        ulp = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(dtype)).astype(np.float64)
        return rows[:, None] & np.isfinite(a) & (np.abs(a - b) <= 4 * ulp)


SPREADS = ("std", "var")


def _spread_of_equal_values(step, chain, result, t_result, diffs):
    """``diffs`` with its value findings made float noise ("equal values: ") where a std or
    var differs only over groups of equal finite values, where tapegrad's spread is exactly
    0 (its definition) and PyTorch's no more than a float mean's residue can make: 8 ulps of
    the value, times √(N/(N - correction)), for the std; its square for the var (PyTorch's
    std of three float32 25132.184s is 0.00239)."""
    if step.entry.name not in SPREADS or not any(k == "value" for k, _ in diffs) or \
            torch is None or not TAPEGRAD.is_tensor(chain):
        return diffs
    x = np.array(TAPEGRAD.to_numpy(chain))   # (the step's input: std and var change nothing)
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        return diffs
    if not (TAPEGRAD.is_tensor(result) and TORCH.is_tensor(t_result)):
        return diffs
    dim = step.kwargs.get("dim", step.args[1] if len(step.args) > 1 else None)
    dim = None if isinstance(dim, bool) or x.ndim == 0 else dim
    axes = (tuple(range(x.ndim)) if dim is None else
            tuple(d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim)))
    unbiased = step.kwargs.get("unbiased", step.args[1] if len(step.args) > 1 and isinstance(
        step.args[1], bool) else step.args[2] if len(step.args) > 2 else None)
    correction = step.kwargs.get("correction", None)
    correction = (correction if correction is not None else
                  1 if unbiased is None else int(bool(unbiased)))
    count = math.prod(x.shape[d] for d in axes)
    with np.errstate(invalid="ignore"):
        equal = (x.max(axis=axes, keepdims=True) == x.min(axis=axes, keepdims=True)) & \
            np.isfinite(x).all(axis=axes, keepdims=True)
        first = x[tuple(slice(0, 1) if d in axes else slice(None) for d in range(x.ndim))]
        bound = 8 * np.spacing(np.abs(first)).astype(np.float64) * math.sqrt(
            count / (count - correction) if count > correction else 1.0)
    bound = bound ** 2 if step.entry.name.startswith("var") else bound
    a = TAPEGRAD.to_numpy(result).astype(np.float64)
    b = TORCH.to_numpy(t_result).astype(np.float64)
    if a.size != equal.size:
        return diffs
    a, b = a.reshape(equal.shape), b.reshape(equal.shape)
    differ = ~np.isclose(a, b, rtol=1e-3, atol=0, equal_nan=True)
    if not (differ.any() and equal[differ].all() and (a[differ] == 0).all()
            and (np.abs(b[differ]) <= bound[differ]).all()):
        return diffs
    return [("float-noise", "equal values: " + d) if k == "value" else (k, d) for k, d in diffs]


def _equal_value_groups(step, chain):
    """layer_norm or group_norm of an input holding a normalised group of equal values (an
    expanded leaf): x - μ is exactly 0 here and a rounding residue in PyTorch (x·r - μ·r),
    which the later steps' gradients through x̂ magnify (a slope of 1e12 makes it 0.01);
    or groups of two values with ε = 0, whose gradient is a cancellation of the same kind.
    Which of the two (TWO_VALUES or "equal values"), or "": the gradients are then judged by
    PyTorch's rerun with the norms by their formula in float64, at the norm too, and the
    input's part of the gradient of two values with ε = 0 is no digit to compare. batch_norm
    by ``_batch_of_two_values``."""
    if step.entry.name == "batch_norm":
        return _batch_of_two_values(step, chain)
    if step.entry.name not in ("layer_norm", "group_norm") or not TAPEGRAD.is_tensor(chain) \
            or not chain.dtype.is_floating_point or chain.numel() == 0:
        return ""
    values = TAPEGRAD.to_numpy(chain)
    size = step.kwargs.get("normalized_shape" if step.entry.name == "layer_norm" else
                           "num_groups", step.args[1] if len(step.args) > 1 else None)
    try:
        if step.entry.name == "layer_norm":
            k = 1 if isinstance(size, int) else len(size)
            rows = values.reshape(-1, math.prod(values.shape[values.ndim - k:]))
        else:
            rows = values.reshape(values.shape[0] * size, -1)
    except Exception:  # noqa: BLE001 - arguments the step itself refuses: no groups to judge
        return ""
    if rows.size == 0:
        return ""
    if rows.shape[1] == 2 and step.kwargs.get("eps", step.args[4] if len(step.args) > 4
                                              else 1e-5) == 0:
        return TWO_VALUES   # x̂ = ±1 whatever x: ∂y/∂x = 0 by a cancellation
    if rows.shape[1] == 2:   # ∂x̂/∂x ∝ ε/(σ² + ε): a cancellation of 1 - x̂², float32's
        return "two values"   # rounding of x̂ (PyTorch's) magnified by σ²/ε
    with np.errstate(invalid="ignore"):
        equal = (rows.max(axis=1) == rows.min(axis=1)) & np.isfinite(rows).all(axis=1)
    return "equal values" if equal.any() else ""


TWO_VALUES = "groups of two values with ε = 0: "


def _batch_of_two_values(step, chain):
    """The mark "two values" for batch_norm in training over two values per channel (a batch
    of two, no spatial dims), else "": x̂ = ±√(σ²/(σ² + ε)) whatever x, so ∂x̂/∂x ∝ 1 - x̂² =
    ε/(σ² + ε), a cancellation that PyTorch's float32 μ, r and x̂ leave 30% off (ε > 0 in
    training: never TWO_VALUES's ∂y/∂x = 0). The gradients are then judged by PyTorch's
    rerun with the batch_norm by its formula in float64, as a layer_norm's of two values."""
    training = step.kwargs.get("training", step.args[5] if len(step.args) > 5 else False)
    if training is not True or not TAPEGRAD.is_tensor(chain) or \
            not chain.dtype.is_floating_point or chain.ndim < 2 or chain.shape[1] == 0:
        return ""
    return "two values" if chain.numel() == 2 * chain.shape[1] else ""


def _through_the_norms_input_alone(step, finding):
    """A gradient finding of a leaf that is not the norm ``step``'s weight or bias (its
    gradient reaches the leaves through the norm's input, where it is 0 by a cancellation
    for groups of two values with ε = 0: a residue in both libraries)."""
    affine = {a.index for a in list(step.args[2:]) + [step.kwargs.get("weight"),
                                                      step.kwargs.get("bias")]
              if isinstance(a, LeafRef)}
    leaf = finding.detail.split(" ", 1)[0]
    return leaf.startswith("leaf") and leaf[4:].isdigit() and int(leaf[4:]) not in affine


def _torch_normalised_an_overflow(program, step, chain_before, result, t_result):
    """batch_norm/layer_norm/group_norm of float32 values whose squares overflow (|x| ≥ 2e19),
    or of float64 ones (|x| ≥ 1e153, as nan_to_num's -1.8e308 for -inf): PyTorch's σ² is inf,
    so its x̂ is 0. The marker for the finding's detail, or "":
    " [squares overflow]" where PyTorch's whole result is that of an input of zeros (β,
    where a bias is given); " [squares overflow, tapegrad as PyTorch in float64]" where
    only some channels (groups, rows) overflowed. Either only where PyTorch's own float64
    result, whose squares do not overflow (float64 input rescaled), agrees with tapegrad's"""
    if step.entry.name not in ("batch_norm", "layer_norm", "group_norm") or torch is None:
        return ""
    x = (np.asarray(program.leaves[0].values) if chain_before is None else chain_before)
    # (float64 squares overflow beyond 1e154: -1.8e308, nan_to_num's -inf, among small values)
    huge = {np.dtype(np.float32): 2e19, np.dtype(np.float64): 1e153}.get(x.dtype)
    if huge is None or not (np.isfinite(x) & (np.abs(x) >= huge)).any():
        return ""
    if not isinstance(t_result, torch.Tensor) or not isinstance(result, tg.Tensor):
        return ""
    run = Run(TORCH)
    run.chain = torch.zeros(tuple(t_result.shape) if chain_before is None else x.shape,
                            dtype=getattr(torch, str(x.dtype)))
    status, zeros_result = run.call(step, program.leaves)
    zeroed = status == "ok" and torch.allclose(zeros_result.detach(), t_result.detach(), rtol=0,
                                               atol=0, equal_nan=True)
    if not zeroed and step.entry.name == "batch_norm" and not step.kwargs.get(
            "training", len(step.args) > 5 and step.args[5]):
        return ""   # (in evaluation the running statistics normalise: no squares to overflow)
    wide_result = _norm_in_float64_rescaled(program, step, chain_before, x)
    if wide_result is None or compare_arrays(
            TAPEGRAD.to_numpy(result), TORCH.to_numpy(wide_result).astype(x.dtype),
            str(x.dtype)) is not None:
        return ""   # (tapegrad's values must be the normalised ones, zeroed or not)
    return " [squares overflow]" if zeroed else " [squares overflow, tapegrad as PyTorch in float64]"


_EPS_POSITION = {"layer_norm": 4, "group_norm": 4, "batch_norm": 7}


def _norm_in_float64_rescaled(program, step, chain_before, x):
    """PyTorch's result of the norm ``step`` in float64, its input x scaled by a power of two
    (exact) so that its squares fit (float64 values beyond 1e150 brought to 2⁵⁰⁰) and ε by
    its square: the same normalised values (x̂ does not change). None where it fails."""
    wide = Run(TORCH, "float64")
    chain = (wide.materialize(LeafRef(0), program.leaves) if chain_before is None
             else torch.from_numpy(x.astype(np.float64)))
    finite = np.abs(x[np.isfinite(x)]).astype(np.float64)
    exponent = int(np.frexp(finite.max())[1]) if finite.size else 0
    scale = 2.0 ** (500 - exponent) if exponent > 500 else 1.0
    wide.chain = chain * scale
    if scale != 1.0:
        position = _EPS_POSITION[step.entry.name]
        eps = step.kwargs.get("eps", step.args[position] if len(step.args) > position else 1e-5)
        if not isinstance(eps, (int, float)):
            return None
        step = step._replace(args=step.args[:position],
                             kwargs={**step.kwargs, "eps": eps * scale * scale})
    status, wide_result = wide.call(step, program.leaves)
    return wide_result if status == "ok" and isinstance(wide_result, torch.Tensor) else None


CHOLESKY_IN_FLOAT64 = " [PyTorch's float64 cholesky factors it: tapegrad's factor]"


def _torch_factors_in_float64(program, step, chain_before, result):
    """cholesky of a float32 matrix that tapegrad factors and PyTorch's float32 kernel
    refuses as not positive-definite: CHOLESKY_IN_FLOAT64 where PyTorch's float64 kernel
    factors the same matrix and its factor, rounded to float32, is tapegrad's (else "")."""
    if step.entry.name != "cholesky" or not TAPEGRAD.is_tensor(result):
        return ""
    x = np.asarray(program.leaves[0].values) if chain_before is None else chain_before
    if x.dtype != np.float32:
        return ""
    run = Run(TORCH, "float64")
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else torch.from_numpy(x.astype(np.float64)))
    status, wide = run.call(step, program.leaves)
    if status != "ok" or not TORCH.is_tensor(wide):
        return ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factor = TORCH.to_numpy(wide).astype(np.float32)
    if compare_arrays(TAPEGRAD.to_numpy(result), factor, "float32") is None:
        return CHOLESKY_IN_FLOAT64
    return ""


SINGULAR_FACTORS = (" [a matrix singular up to rounding: both factors reproduce it to "
                    "rounding, its last pivots √(rounding residue)]")


def _factors_of_a_singular_matrix(step, chain_before, result, t_result):
    """cholesky of a matrix singular up to rounding (an eigenvalue within 4n·ε·‖A‖ of 0,
    compare._singular_up_to_rounding): its pivot at that eigenvalue is √ of a rounding
    residue, anything from 0 to √(n·ε·‖A‖), so two kernels' factors differ there by far
    more than ε. SINGULAR_FACTORS where both factors F (L, or U read as Uᵀ) give
    ‖F Fᵀ − A‖ ≤ 8n·ε·‖A‖₂ element by element, a factorization of A to rounding; else ""."""
    if step.entry.name != "cholesky" or chain_before is None or \
            not TAPEGRAD.is_tensor(result) or torch is None or not TORCH.is_tensor(t_result):
        return ""
    a = np.asarray(chain_before)
    upper = bool(step.kwargs.get("upper", False))
    if not _singular_up_to_rounding(a, upper):   # (also "" for a non-finite or non-square one)
        return ""
    read = np.swapaxes(a, -1, -2) if upper else a            # the triangle cholesky reads
    lower = np.tril(read.astype(np.float64))
    symmetric = lower + np.swapaxes(np.tril(lower, -1), -1, -2)
    n, eps = a.shape[-1], float(np.finfo(a.dtype).eps)
    size = np.abs(np.linalg.eigvalsh(symmetric)).max(axis=-1)[..., None, None]
    for factor in (TAPEGRAD.to_numpy(result), TORCH.to_numpy(t_result.detach())):
        f = np.asarray(factor, dtype=np.float64)
        f = np.swapaxes(f, -1, -2) if upper else f
        if f.shape != a.shape or not np.isfinite(f).all() or \
                not (np.abs(f @ np.swapaxes(f, -1, -2) - symmetric) <= 8 * n * eps * size).all():
            return ""
    return SINGULAR_FACTORS


PRODUCTS = ("linear", "matmul", "mm", "bmm", "mv", "addmm")
CONVOLUTIONS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d")
EXACT_SUM_ROUNDED = (" [tapegrad's is the exact sum rounded (PyTorch in float64, rounded back): "
                     "products beyond float32 of both signs]")


def _products_round_their_exact_sum(program, step, chain_before, result, t_result):
    """A matrix product whose terms overflow float32 both ways (3.4e38·-1.4e4 and
    3.4e38·1.3e4 in one sum): rounding each product first gives inf - inf = NaN, a fused
    multiply-add keeps the running ±inf, and each library's kernels do both. The math is
    the exact sum, here beyond float32: EXACT_SUM_ROUNDED where, at every element whose NaN
    the two disagree on, tapegrad's value is PyTorch's product of the same inputs in float64
    rounded to the result's dtype (±inf of the exact sum's sign); else "". A convolution is
    such a sum too: tapegrad's float16 one sums in float32 and rounds once, PyTorch's CPU
    kernel rounds float16 products (1.7e4·1e4 to ±inf) before they meet; its mark names the
    result's dtype."""
    if step.entry.name not in PRODUCTS + CONVOLUTIONS or chain_before is None or torch is None or \
            not TAPEGRAD.is_tensor(result) or not TORCH.is_tensor(t_result) or \
            chain_before.dtype.kind != "f":
        return ""
    ours, theirs = TAPEGRAD.to_numpy(result), TORCH.to_numpy(t_result.detach())
    if ours.shape != theirs.shape or ours.dtype.kind != "f":
        return ""
    disputed = np.isnan(ours) != np.isnan(theirs)
    if not disputed.any():
        return ""
    run = Run(TORCH, "float64")
    run.chain = torch.from_numpy(chain_before.astype(np.float64))
    status, wide = run.call(step, program.leaves)
    if status != "ok" or not TORCH.is_tensor(wide) or tuple(wide.shape) != ours.shape:
        return ""
    with np.errstate(over="ignore"):
        rounded = TORCH.to_numpy(wide.detach()).astype(ours.dtype)
    if not np.array_equal(ours[disputed], rounded[disputed], equal_nan=True):
        return ""
    return EXACT_SUM_ROUNDED.replace("float32", str(ours.dtype))



LOSSES = ("nll_loss", "cross_entropy", "kl_div")
OVERFLOWS_BOTH_WAYS = (" [a sum of losses beyond float32 of both signs: NaN or ±inf by the order of "
                       "summation, the per-element losses (reduction='none') the same]")


def _losses_overflow_both_ways(program, step, chain_before, result, t_result):
    """nll_loss, cross_entropy or kl_div summed or averaged over float32 losses of ±3.4e38
    (nan_to_num's largest, or kl_div's y·(log y - x) of such an x) of both signs: a partial
    sum of the positive ones passes float32's largest value to +inf, one of the negative ones
    to -inf, and where the two meet the sum is NaN. So the sum is +inf, -inf or NaN by the
    order each kernel adds them in, whatever the exact sum. OVERFLOWS_BOTH_WAYS where both
    results are NaN or ±inf, the same step with reduction='none' gives the same finite
    losses in both libraries (to the dtype's tolerance), and the losses of each sign alone
    sum (in float64, rounded back) past the largest value; else ""."""
    if step.entry.name not in LOSSES or torch is None or not TAPEGRAD.is_tensor(result) or \
            not TORCH.is_tensor(t_result):
        return ""
    ours, theirs = TAPEGRAD.to_numpy(result), TORCH.to_numpy(t_result.detach())
    if ours.shape != () or theirs.shape != () or ours.dtype.kind != "f" or \
            np.isfinite(ours) or np.isfinite(theirs):
        return ""
    try:
        given = step.entry.signature.bind(*step.args, **step.kwargs)
    except TypeError:
        return ""
    given.apply_defaults()
    options = given.arguments
    if options.get("reduction") not in ("sum", "mean") or options.get("size_average") is not None \
            or options.get("reduce") is not None or options.get("label_smoothing", 0.0) != 0.0:
        return ""   # (label smoothing adds a second sum, over every class, to the losses')
    options["reduction"] = "none"
    each = step._replace(args=tuple(given.args), kwargs=dict(given.kwargs))
    losses = []
    for library in (TAPEGRAD, TORCH):
        run = Run(library)
        run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                     else library.module.from_numpy(np.array(chain_before)))
        status, terms = run.call(each, program.leaves)
        if status != "ok" or not library.is_tensor(terms):
            return ""
        losses.append(library.to_numpy(terms))
    if losses[0].dtype != ours.dtype or not np.isfinite(losses[0]).all() or \
            compare_arrays(losses[0], losses[1], str(ours.dtype)) is not None:
        return ""   # (within the dtype's tolerance: kl_div's y·log y may differ by an ulp)
    terms = losses[0].astype(np.float64)
    with np.errstate(over="ignore"):
        each_sign_overflows = [np.isinf(ours.dtype.type(terms[side].sum()))
                               for side in (terms > 0, terms < 0)]
    return OVERFLOWS_BOTH_WAYS if all(each_sign_overflows) else ""

SUMS = {"sum", "mean", "nansum", "nanmean", "einsum", "matmul", "mm", "bmm", "dot", "inner",
        "tensordot", "linear", "cumsum", "trace",
        # (the mean of a window: ±1e30 in one window cancel in either order)
        "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
        # (the mean of the picked -x[target]: ±1e30 among them cancel in either order)
        "nll_loss"}


def _sums_cancelling_terms(program, step, chain_before, result, t_result):
    """A sum (einsum, mean…) whose terms reach 1e20 and more (the fuzzer's 1e30) and whose
    results differ by less than the tolerance of the terms each was summed from: 1e30 - 1e30
    + x keeps x or not by the order of summation, so no digit below the terms' rounding is
    meaningful. The terms' size at each result is the same step on the inputs' magnitudes in
    float64 (Σ|x|, |A|·|B|…), so a result that never met the 1e30 is compared as any other."""
    if step.entry.name not in SUMS:
        return False
    inputs = [chain_before if chain_before is not None else program.leaves[0].values]
    inputs += [program.leaves[a.index].values for a in list(step.args) + list(step.kwargs.values())
               if isinstance(a, LeafRef)]
    sizes = [np.abs(np.asarray(v, dtype=np.float64)) for v in inputs
             if np.asarray(v).dtype.kind == "f" and np.asarray(v).size]
    largest = max((float(v[np.isfinite(v)].max(initial=0)) for v in sizes), default=0.0)
    a, b = first_tensor(TAPEGRAD, result), first_tensor(TORCH, t_result)
    if largest < 1e20 or a is None or b is None:
        return False
    tol = TOLERANCE.get(TAPEGRAD.dtype_name(a), 2e-4)
    a = TAPEGRAD.to_numpy(a).astype(np.float64)
    b = TORCH.to_numpy(b).astype(np.float64)
    terms = _term_sizes(program, step, chain_before)
    if a.shape != b.shape or terms is None or terms.shape != a.shape:
        return False
    finite = np.isfinite(a) & np.isfinite(b)   # (an inf or NaN elsewhere must be the same)
    with np.errstate(invalid="ignore"):
        return np.array_equal(a[~finite], b[~finite], equal_nan=True) and \
            bool(np.all(np.abs(a - b)[finite] <= tol * terms[finite]))


def _sum_is_a_rounding_residue(program, step, chain_before, result, t_result):
    """A sum or mean whose terms cancel to 0 up to rounding (Σ of a group_norm's output,
    w·Σx̂ = 0): n terms of sizes Σ|x| leave a residue up to (1 + log₂ n)·ε·Σ|x| (ε of the
    result's dtype: a pairwise sum's rounding, and the rounding of each library's own
    terms), whose sign and size depend on the order of summation. True where, at every
    result, the same step in float64 on tapegrad's input is within that bound of 0 and both
    libraries' results are within it of that (only where the bound is at most 1% of Σ|x|).
    A sum that does not cancel, or one 0.5 off among terms of 1e4, is compared as any other."""
    if step.entry.name not in ("sum", "mean", "nansum", "nanmean") or chain_before is None:
        return False
    a, b = first_tensor(TAPEGRAD, result), first_tensor(TORCH, t_result)
    if a is None or b is None or chain_before.dtype.kind != "f" or not chain_before.size:
        return False
    a = TAPEGRAD.to_numpy(a)
    eps = float(np.finfo(a.dtype).eps) if a.dtype.kind == "f" else 0.0
    n = chain_before.size // max(a.size, 1)
    scale = (1 + math.log2(max(n, 1))) * eps
    if not 0 < scale <= 0.01:
        return False
    terms = _term_sizes(program, step, chain_before)
    run = Run(TAPEGRAD)
    run.chain = tg.from_numpy(chain_before.astype(np.float64))
    status, exact = run.call(_sizes_in_float64(step), program.leaves)
    exact = first_tensor(TAPEGRAD, exact) if status == "ok" else None
    if terms is None or exact is None:
        return False
    exact = TAPEGRAD.to_numpy(exact).astype(np.float64)
    a, b = a.astype(np.float64), TORCH.to_numpy(b).astype(np.float64)
    if not a.shape == b.shape == exact.shape == terms.shape:
        return False
    bound = scale * terms
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(exact) <= bound) and np.all(np.abs(a - exact) <= bound)
                    and np.all(np.abs(b - exact) <= bound))


ATTENTION_OF_ROUNDED_SCORES = (" [scaled_dot_product_attention whose scores cancel terms of 1e20 "
                               "and more: tapegrad's scores are within their rounding, and its "
                               "values the softmax of its scores times the value]")


def _attention_of_rounded_scores(program, step, chain_before, result):
    """ATTENTION_OF_ROUNDED_SCORES where tapegrad's attention (no mask, dropout, causal mask
    or grouped heads; float32 or float64) differs from PyTorch's only through scores that
    cancel terms of 1e20 and more, else "": a score q·k of [-1, -1, -1]·[1e30, 0, -1e30]
    is 0 in the math, but a fused multiply-add keeps the rounding of one product, 3.5e22,
    and softmax turns any such residue into weights of 0 and 1, whichever library keeps
    it. Checked, on tapegrad's inputs: its scores (q·scale)·kᵀ, computed as its attention
    does, are within (E + 2) roundings of the dtype of their terms' size scale·|q|·|k|ᵀ of
    the scores in float64, some of those terms reach 1e20, and its values are the softmax
    of those scores times the value, written out in float64 (a row of -inf scores has
    weights 0, as in both libraries)."""
    if step.entry.name != "scaled_dot_product_attention" or not TAPEGRAD.is_tensor(result) \
            or TAPEGRAD.dtype_name(result) not in ("float32", "float64"):
        return ""
    run = Run(TAPEGRAD)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else tg.from_numpy(np.array(chain_before)))
    given = _bound_arguments(run, step, program.leaves)
    if given is None:
        return ""
    options = given.arguments
    q, k, v = (options[name] for name in ("query", "key", "value"))
    if options.get("attn_mask") is not None or options.get("dropout_p", 0.0) != 0 or \
            options.get("is_causal", False) or options.get("enable_gqa", False) or \
            not all(TAPEGRAD.is_tensor(t) and t.dtype == result.dtype for t in (q, k, v)) or \
            q.ndim < 2 or not q.shape[-1]:
        return ""
    scale = options.get("scale") or 1 / math.sqrt(q.shape[-1])
    q64, k64, v64 = (np.asarray(TAPEGRAD.to_numpy(t.detach()), dtype=np.float64) for t in (q, k, v))
    try:
        with np.errstate(all="ignore"):
            ours = TAPEGRAD.to_numpy((q.detach() * scale) @ k.detach().mT).astype(np.float64)
            exact = scale * (q64 @ np.swapaxes(k64, -1, -2))
            terms = abs(scale) * (np.abs(q64) @ np.swapaxes(np.abs(k64), -1, -2))
            dead = np.isneginf(ours).all(axis=-1, keepdims=True)
            shifted = np.where(dead, 0.0, ours)
            e = np.exp(shifted - shifted.max(axis=-1, keepdims=True))
            weights = np.where(dead, 0.0, e / e.sum(axis=-1, keepdims=True))
            values = weights @ v64
    except ValueError:   # (shapes that do not broadcast: the step itself raised)
        return ""
    if ours.shape != exact.shape or values.shape != tuple(result.shape):
        return ""
    rounding = (q.shape[-1] + 2) * float(np.finfo(TAPEGRAD.dtype_name(result)).eps)
    finite = np.isfinite(exact) & np.isfinite(terms)
    with np.errstate(invalid="ignore"):
        scores_rounded = np.array_equal(ours[~finite], exact[~finite], equal_nan=True) and \
            bool(np.all(np.abs(ours - exact)[finite] <= rounding * terms[finite]))
    if not scores_rounded or not (terms[finite] >= 1e20).any():
        return ""
    ours_values = TAPEGRAD.to_numpy(result)
    with np.errstate(over="ignore", invalid="ignore"):
        theirs = values.astype(ours_values.dtype)
    return ATTENTION_OF_ROUNDED_SCORES if compare_arrays(
        ours_values, theirs, TAPEGRAD.dtype_name(result)) is None else ""


MEANS = SUMS | {"var", "std", "var_mean", "std_mean"}


def _mean_of_huge_terms(program, chain_inputs, found):
    """Whether a gradient finding is blamed on a sum or mean (var's μ…) of an input holding
    finite terms of 1e20 and more: its backward subtracts or adds that sum (var's
    2(x - μ)/n), in which 1e30 - 1e30 + x keeps x or not by the order of summation."""
    names = {f.op for f in found if f.kind == "gradient"}
    for k, step in enumerate(program.steps):
        if step.entry.name not in MEANS or step.entry.name not in names:
            continue
        x = (np.asarray(program.leaves[0].values) if k == 0 or chain_inputs[k] is None
             else chain_inputs[k][0])
        if x.dtype.kind == "f" and (np.isfinite(x) & (np.abs(x) >= 1e20)).any():
            return True
    return False


def _term_sizes(program, step, chain_before):
    """The step again in tapegrad, in float64, on the magnitudes of its float inputs: at each
    result, the sum of the sizes of the terms it was summed from (None where it fails)."""
    def magnitudes(values):
        values = np.asarray(values)   # (np.abs of a 0-d array is a scalar: kept an array)
        return np.asarray(np.abs(values.astype(np.float64))) if values.dtype.kind == "f" \
            else values

    leaves = [leaf._replace(values=magnitudes(leaf.values), requires_grad=False)
              for leaf in program.leaves]
    run = Run(TAPEGRAD)
    run.chain = (tg.from_numpy(magnitudes(chain_before)) if chain_before is not None
                 else run.materialize(LeafRef(0), leaves))
    status, terms = run.call(_sizes_in_float64(step), leaves)
    terms = first_tensor(TAPEGRAD, terms) if status == "ok" else None
    if terms is None:
        return None
    terms = TAPEGRAD.to_numpy(terms).astype(np.float64)
    # where a term is infinite the result is too, or NaN: nothing finite to excuse there
    # (a size, whatever the sign: nll_loss of magnitudes is -Σ|x|/n)
    return np.where(np.isfinite(terms), np.abs(terms),
                    _overflowed_sizes(program, step, chain_before, terms))


def _overflowed_sizes(program, step, chain_before, terms):
    """Where the sizes of finite terms sum past float64's range (nan_to_num's ±1.8e308 twice):
    float64's largest value, a lower bound of that sum (1.8e308 - 1.8e308 + x keeps x or
    not by the order of summation); 0 where an input is itself infinite or NaN."""
    inputs = [chain_before if chain_before is not None else program.leaves[0].values]
    inputs += [program.leaves[a.index].values for a in list(step.args) + list(step.kwargs.values())
               if isinstance(a, LeafRef)]
    finite = all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in inputs
                 if np.asarray(v).dtype.kind == "f")
    return np.where(np.isinf(terms), float(np.finfo(np.float64).max), 0.0) if finite else 0.0


def _sizes_in_float64(step):
    """``step`` with a float16 or float32 ``dtype`` it reduces in (mean(x, dtype=float16))
    made float64: a size is only measured, and 1e30 in float16 is inf, which would hide
    the size of terms the reduction itself sums in float32."""
    kwargs = dict(step.kwargs)
    if isinstance(kwargs.get("dtype"), DType) and kwargs["dtype"].name in ("float16", "float32"):
        kwargs["dtype"] = DType("float64")
    return step._replace(kwargs=kwargs)


VALUE_SHAPED = ("nonzero", "argwhere", "masked_select", "unique", "unique_consecutive")


def _inherited_shape(program, step, chain_before, result, diffs):
    """``diffs`` with a shape finding of a step whose result's shape its input's values
    decide (nonzero) made float noise, "inherited: …", where PyTorch's same step on the
    values tapegrad's chain held before it gives tapegrad's result, shape and values: the
    chains differed within the tolerance (a sum of cancelling terms exactly 0 in one, a
    residue of 1e-17 in the other), which nonzero turns into another count."""
    if step.entry.name not in VALUE_SHAPED or chain_before is None or torch is None or \
            not any(k == "shape" for k, _ in diffs):
        return diffs
    if not _agrees_on_tapegrad_input(program, step, chain_before, result,
                                     kinds=("shape", "value", "dtype")):
        return diffs
    return [("float-noise", "inherited: " + d) if k in ("shape", "value") else (k, d)
            for k, d in diffs]


def _agrees_on_tapegrad_input(program, step, chain_before, result, kinds=("value",)):
    """The step run again in PyTorch, on the values tapegrad's chain held before it: True
    when the two then agree (no difference of ``kinds``). The disagreement was inherited:
    the chain already differed within the tolerance, and this step magnified it (a cast to
    int, remainder of a large dividend, sin of 1e9, signbit of a zero whose sign the
    rounding decided). fmod is rerun one element at a time: PyTorch's vectorised kernel
    gives NaN where x/y overflows (``_fmod_one_element_at_a_time_call``)."""
    rerun = Run(TORCH)
    rerun.chain = torch.from_numpy(chain_before.copy())
    status, t_result = _fmod_one_element_at_a_time_call(rerun, step, program.leaves)
    if status != "ok":
        return False
    try:
        return not any(k in kinds for k, _ in compare_results(result, t_result))
    except Exception:  # noqa: BLE001 - a result of another structure: not the same step
        return False


def _float64_gelus_before_are_exact(program, step):
    """False where a float64 gelu before ``step`` gives in tapegrad other values than gelu
    from math.erfc (``_gelu_and_slope_by_math``), to the tolerance of each value's own size
    with no floor, else True. Far in gelu's negative tail its values (-5e-15 at -8) sit
    below the floor of the comparison, so a later step that magnifies them (log) would be
    judged inherited whatever they are: there tapegrad's gelu must be the exact one, against
    PyTorch's 1 + erf(x/√2), which cancels."""
    if not any(s.entry.name == "gelu" for s in program.steps):
        return True
    run = Run(TAPEGRAD)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        if each is step:
            return True
        x = run.materialize(each.args[0], program.leaves) if each.args else None
        status, result = run.call(each, program.leaves)
        run.chain = first_tensor(TAPEGRAD, result) if status == "ok" else None
        if run.chain is None:
            return True
        approximate = each.kwargs.get("approximate", each.args[1] if len(each.args) > 1 else "none")
        if each.entry.name == "gelu" and TAPEGRAD.is_tensor(x) and \
                TAPEGRAD.dtype_name(x) == "float64" and approximate in ("none", "tanh"):
            ours = np.asarray(TAPEGRAD.to_numpy(run.chain.detach()), dtype=np.float64)
            exact, _ = _gelu_and_slope_by_math(TAPEGRAD.to_numpy(x.detach()), approximate)
            with np.errstate(invalid="ignore"):
                close = (ours == exact) | (np.isnan(ours) & np.isnan(exact)) | (
                    np.abs(ours - exact) <= TOLERANCE["float64"] * np.abs(exact) + 1e-300)
            if not close.all():
                return False
    return True
