"""PyTorch reruns that confirm the reason a gradient (or a value) differs: the step computed
in a wider dtype (float16's exponent, atan2, norms, sinc, the gamma functions), pow(x, False)
as pow(x, 0), logit(x) as logit(x + 0.0), mul of a 0-d tensor as computed.

A gradient finding is marked (its detail ends in one of ``MARKS``) only where PyTorch so rerun
gives tapegrad's gradients: PyTorch's own rounding inside the step explains it, not tapegrad.
"""
import math
import warnings

import numpy as np

import tapegrad as tg

from . import catalogue
from .generate import LeafRef
from .libraries import (Run, TAPEGRAD, TORCH, _TapegradValues, _in_place, _incoming_gradient,
                        _leaf_grads, _ordered_chains, _through_float16, _unordered, first_tensor,
                        torch)
from .compare import _agree_elementwise, _same_to_rounding, compare_arrays
from .operand_reruns import (ADDC_IN_RESULT_DTYPE, BATCH_NORM_CONTIGUOUS, CONV_IN_FLOAT64,
                             LDEXP_FLOAT_EXPONENT, _operand_reruns, _torch_call)


FLOAT16_EXPONENT = " [float16 exponent: PyTorch agrees with it widened]"
POW_OF_FALSE = " [pow(x, False) in the program: PyTorch agrees with pow(x, 0)]"
FLOAT16_ATAN2 = (" [atan2 or hypot in the program: PyTorch agrees with its backward in a "
                 "wider float]")
WIDENED_IN_TORCH = ("atan2", "arctan2", "hypot")
NORM_IN_FLOAT64 = (" [a float16 or float32 p-norm in the program: PyTorch agrees with its norms "
                   "computed in float64]")
# the same rerun where a norm computed in float64 passes the narrow float's range when rounded
# back: that norm is ±inf, and its slope (|x|/‖x‖)^(p-1) is held at 0 there, as tapegrad's
NORM_IN_FLOAT64_HELD = (" [a float16 or float32 p-norm in the program: PyTorch agrees with its "
                        "norms computed in float64, one past the range held at ±inf with slope 0]")
P_NORMS = ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
SINC_IN_FLOAT64 = " [sinc in the program: PyTorch agrees with its sinc computed in float64]"
NORMALIZE_WIDENED = (" [normalize, cosine_similarity or pairwise_distance in the program: "
                     "PyTorch agrees with their norms computed in a wider float]")
NORMALIZING = ("normalize", "cosine_similarity", "pairwise_distance")
LOGIT_OF_PLUS_ZERO = " [logit in the program: PyTorch agrees with logit(x + 0.0)]"
LOGITS = ("logit", "logit_")
SLOPES_WIDENED = (" [lgamma, digamma, polygamma, mvlgamma or gelu in the program: PyTorch agrees "
                  "with their slopes computed in float64]")
WIDENED_SLOPES = ("lgamma", "lgamma_", "digamma", "digamma_", "polygamma", "polygamma_",
                  "polygamma_method", "mvlgamma", "mvlgamma_", "gelu")
GELU_BY_MATH = (" [float64 gelu in the program: PyTorch agrees with gelu and its slope computed "
                "by math.erfc]")
DIGAMMA_BY_MATH = (" [float64 lgamma or mvlgamma in the program: PyTorch agrees with their slopes "
                   "ψ computed by mpmath]")
SLOPES_BY_DIGAMMA = ("lgamma", "mvlgamma")   # (not in place: the slope is of the input)
ATTENTION_GRADIENTS_BY_ITS_MATH = (" [scaled_dot_product_attention in the program: PyTorch's "
                                   "math backend gives tapegrad's gradients]")
MUL_AS_COMPUTED = (" [mul of a 0-d tensor of another dtype in the program: PyTorch agrees with "
                   "the operands given in the dtype its forward computes in]")
MULS = ("mul", "mul_", "multiply", "multiply_")
MARKS = (FLOAT16_EXPONENT, POW_OF_FALSE, FLOAT16_ATAN2, NORM_IN_FLOAT64, NORM_IN_FLOAT64_HELD,
         SINC_IN_FLOAT64,
         NORMALIZE_WIDENED, LOGIT_OF_PLUS_ZERO, SLOPES_WIDENED, MUL_AS_COMPUTED, GELU_BY_MATH,
         DIGAMMA_BY_MATH)
MARKS = MARKS + (LDEXP_FLOAT_EXPONENT, ADDC_IN_RESULT_DTYPE, BATCH_NORM_CONTIGUOUS,
                 CONV_IN_FLOAT64, ATTENTION_GRADIENTS_BY_ITS_MATH)   # (blame)


def _explained_in_torch(program, step, grad, ga, a, through_float16=False, on_copies=False):
    """A mark for a gradient finding that a rerun in PyTorch of the program so far, changed
    where PyTorch's backward is known to be wrong, explains: PyTorch's gradients are then
    tapegrad's. FLOAT16_EXPONENT: ``step`` is pow of a wider base to a float16 exponent leaf,
    rerun with that leaf in the result's dtype (the same values): PyTorch's backward takes
    y - 1 in float16 (12056 - 1 rounds to 12056, so an odd power's sign is lost).
    POW_OF_FALSE: a step is pow(x, False), rerun as pow(x, 0): PyTorch's backward computes
    0·x⁻¹ for the bool exponent, NaN at x = 0 or for an infinite incoming gradient.
    FLOAT16_ATAN2: a step is atan2 or hypot of two float16 (float32) tensors, rerun in
    float32 (float64) and rounded back (the same forward up to the last bit): PyTorch's
    backward computes r² = x² + y² and grad·y in the operands' dtype, where they overflow
    (∞·0 = NaN, ∞/z = ∞) though the slopes fit; tapegrad's do not (float16 in float32,
    grad/z or grad/r² first). The others (NORM_IN_FLOAT64, SINC_IN_FLOAT64,
    NORMALIZE_WIDENED, LOGIT_OF_PLUS_ZERO, SLOPES_WIDENED, MUL_AS_COMPUTED, GELU_BY_MATH) rerun
    the steps their calls name; each that applies is tried in turn, the first that agrees is the mark.
    ``on_copies``: the rerun with each in-place step on a copy of its target
    (``_compare_with_copies``)."""
    leaves, steps = list(program.leaves), list(program.steps)
    result_dtype = TAPEGRAD.dtype_name(a)
    names = {s.entry.name for s in steps}
    if step.entry.name in ("pow", "pow_") and len(step.args) >= 2 and isinstance(
            step.args[1], LeafRef) and result_dtype in ("float32", "float64") and \
            leaves[step.args[1].index].values.dtype == np.float16:
        leaf = leaves[step.args[1].index]
        leaves[step.args[1].index] = leaf._replace(values=leaf.values.astype(result_dtype))
        reruns = [(FLOAT16_EXPONENT, None)]
    else:
        steps = [s._replace(args=(s.args[0], 0) + tuple(s.args[2:]))
                 if s.entry.name in ("pow", "pow_") and len(s.args) >= 2
                 and s.args[1] is False else s for s in steps]
        reruns = [(POW_OF_FALSE, None)]
        if all(s is o for s, o in zip(steps, program.steps)):   # (0 == False: not ==)
            reruns = [(mark, call) for mark, call, present in (
                (FLOAT16_ATAN2, _widened_call, names & set(WIDENED_IN_TORCH)),
                (NORMALIZE_WIDENED, _norm_widened_call, names & set(NORMALIZING) and (
                    step.entry.name in NORMALIZING or not names & set(P_NORMS))),
                (NORM_IN_FLOAT64, _norm_widened_call, names & set(P_NORMS)),
                (NORM_IN_FLOAT64_HELD, _norm_widened_held_call, names & set(P_NORMS)),
                (SINC_IN_FLOAT64, _norm_widened_call, "sinc" in names),
                (LOGIT_OF_PLUS_ZERO, _logit_of_plus_zero_call, names & set(LOGITS)),
                (SLOPES_WIDENED, _slopes_widened_call, names & set(WIDENED_SLOPES)),
                (SLOPES_WIDENED, _slopes_and_values_widened_call, names & set(WIDENED_SLOPES)),
                (SLOPES_WIDENED, _ON_TAPEGRADS_VALUES, names & set(WIDENED_SLOPES)),
                (GELU_BY_MATH, _gelu_by_math_call, "gelu" in names),
                (DIGAMMA_BY_MATH, _digamma_by_math_call, names & set(SLOPES_BY_DIGAMMA)),
                (MUL_AS_COMPUTED, _mul_as_computed_call, names & set(MULS)),
                *_operand_reruns(names)) if present]
    own = None   # (PyTorch's own gradients, once: an element they give is explained too)
    for mark, call in reruns:
        if own is None and mark in OWN_ANSWERS_TOO:
            own = _rerun_gradients(program, step, grad, program.leaves, program.steps, None,
                                   on_copies) or {}
        if _rerun_agrees(program, step, grad, ga, leaves, steps, call, through_float16,
                         on_copies, own if mark in OWN_ANSWERS_TOO else None):
            return mark
    return ""


# Reruns where an element PyTorch's own program gives explains it too: the wider float
# computes a slope the program's float rounds (gelu's slope in float64; atan2's x/r² = 2e-60,
# 0 in float32, so that an infinite gradient gives ∞ in the rerun and ∞·0 = NaN in both
# libraries' float32), while the rerun explains the elements where PyTorch's own overflows
OWN_ANSWERS_TOO = (SLOPES_WIDENED, FLOAT16_ATAN2)


def _rerun_agrees(program, step, grad, ga, leaves, steps, call, through_float16, on_copies,
                  own=None):
    """Whether PyTorch, running ``steps`` (each through ``call``, ``run.call`` where None)
    on ``leaves`` up to ``step``, gives the leaves' gradients ``ga`` (tapegrad's); with
    ``own`` (PyTorch's own gradients of the program), each element of tapegrad's is that of
    the rerun or PyTorch's own (an element where the program's NaN or ∞ meets a slope PyTorch
    computes otherwise in float64 is explained by PyTorch's own answer)."""
    gb = _rerun_gradients(program, step, grad, leaves, steps, call, on_copies)
    if gb is None:
        return False
    for i, g in ga.items():   # (to float16's tolerance where the chain passed through it, as
        # the finding itself: a float32 leaf's gradient keeps float16's digits after it)
        if (g is None) != (gb.get(i) is None):
            return False
        if g is None:
            continue
        dtype_name = "float16" if _through_float16(through_float16, i) else _narrower(
            g.dtype, getattr(grad, "dtype", g.dtype))
        with np.errstate(over="ignore"):   # (a wider gradient rounds to ±inf as PyTorch's would)
            theirs = gb[i].astype(g.dtype)
        if own and own.get(i) is not None and own[i].shape == g.shape:
            if not np.all(_agree_elementwise(g, theirs, dtype_name)
                          | _agree_elementwise(g, own[i].astype(g.dtype), dtype_name)):
                return False
        elif not _same_to_rounding(g, theirs, dtype_name):
            return False
    return True


def _narrower(leaf_dtype, result_dtype):
    """The tolerance's dtype for a leaf's gradient in a rerun: the leaf's, or the result's
    where that is a narrower float (a float64 0-d divisor of float32 tensors: its gradient
    is summed from float32 terms, so two computations agree only to float32's digits)."""
    leaf_dtype, result_dtype = np.dtype(leaf_dtype), np.dtype(result_dtype)
    if result_dtype.kind == "f" and leaf_dtype.kind == "f" and result_dtype.itemsize < leaf_dtype.itemsize:
        return str(result_dtype)
    return str(leaf_dtype)


def _rerun_gradients(program, step, grad, leaves, steps, call, on_copies):
    """The leaves' gradients (numpy, by index) of PyTorch running ``steps`` (each through
    ``call``, ``run.call`` where None) on ``leaves`` up to ``step``, or None.
    ``_ON_TAPEGRADS_VALUES``: each step through ``_slopes_widened_call`` on tapegrad's values
    before it (the gradient passing each replacement unchanged): a chain of ψ⁽ⁿ⁾ whose
    float32 values are an ulp from PyTorch's, where the next slope follows the last bits."""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), leaves)
    ours = None
    if call is _ON_TAPEGRADS_VALUES:
        if on_copies or any(_unordered(s) or _in_place(s) for s in steps):
            return None   # (tapegrad's values in another order, or written into)
        ours, call = Run(TAPEGRAD), _slopes_widened_call
        ours.chain = ours.materialize(LeafRef(0), leaves)
    for each, original in zip(steps, program.steps):
        copy = on_copies and _in_place(each)
        if ours is not None:
            values = torch.from_numpy(np.array(TAPEGRAD.to_numpy(ours.chain.detach())))
            if tuple(values.shape) != tuple(run.chain.shape):
                return None
            run.chain = (_TapegradValues.apply(run.chain, values)
                         if run.chain.dtype.is_floating_point and run.chain.requires_grad
                         else values)
            status, ours.chain = ours.call(each, leaves)
            ours.chain = first_tensor(TAPEGRAD, ours.chain) if status == "ok" else None
            if ours.chain is None:
                return None
        status, result = (call or _plain_call)(run, each, leaves, copy)
        run.chain = _rerun_chain(each, status, result)
        if run.chain is None:
            return None
        if original is step:
            break
    try:
        return _leaf_grads(run, run.chain, torch.from_numpy(grad.copy()))
    except Exception:  # noqa: BLE001 - no mark without PyTorch's gradients
        return None


_ON_TAPEGRADS_VALUES = object()   # (a ``call`` of ``_rerun_agrees``: see there)


def _plain_call(run, step, leaves, on_a_copy=False):
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _widened_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but atan2 or hypot of tensors that promote to float16 (float32) computed
    in float32 (float64) and rounded back (FLOAT16_ATAN2)."""
    if step.entry.name in WIDENED_IN_TORCH and len(step.args) == 2 and not step.kwargs:
        args = [run.materialize(a, leaves) for a in step.args]
        wider = {torch.float16: torch.float32, torch.float32: torch.float64}
        # (the dtype the two promote to, not the operands' own: hypot of a float32 tensor
        # and an int32 number, atan2 of uint8 y and float16 x compute in float32, float16)
        dtype = (torch.result_type(*args) if all(torch.is_tensor(a) for a in args)
                 else None)
        # (a float16 operand beside a float64 one is squared in float16 by PyTorch's
        # backward too: both are given in the result's dtype)
        if dtype in wider or dtype is not None and any(a.dtype != dtype for a in args):
            function = torch.hypot if step.entry.name == "hypot" else torch.atan2
            target = wider.get(dtype, dtype)
            try:
                return "ok", function(args[0].to(target), args[1].to(target)).to(dtype)
            except Exception as error:  # noqa: BLE001 - as run.call
                return "error", error
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _norm_widened_call(run, step, leaves, on_a_copy=False, hold_past_the_range=False):
    """``run.call``, but a p-norm of a float16 or float32 tensor computed in float64, or sinc
    of a float16 (float32, float64) one in float32 (float64) by its series near 0, and
    rounded back to the dtype of its result (NORM_IN_FLOAT64, SINC_IN_FLOAT64): PyTorch's
    float16 and float32 backward of a p-norm forms |x|^(p-1) and ‖x‖^(p-1) apart, which underflow (0/0) or
    overflow where the slope fits; sinc's (πx·cos πx - sin πx)/(πx²) cancels to 0 near 0
    (in float16 π·x² also overflows beyond |x| ≈ 144). ``hold_past_the_range``: a p-norm
    whose float64 value rounds back to ±inf is held there (``_held_past_the_range``)."""
    if step.entry.name in NORMALIZING:
        return _normalizing_widened_call(run, step, leaves, on_a_copy)
    sinc = step.entry.name == "sinc"
    wider = ({torch.float16: torch.float32, torch.float32: torch.float64,
              torch.float64: torch.float64} if sinc else
             {torch.float16: torch.float64, torch.float32: torch.float64})
    if (step.entry.name in P_NORMS or sinc) and step.args:
        args = [run.materialize(a, leaves) for a in step.args]
        kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
        if torch.is_tensor(args[0]) and args[0].dtype in wider:
            status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
            if status != "ok" or not torch.is_tensor(narrow):
                return status, narrow
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    x = args[0]
                    wide = (_sinc_by_its_series_near_0(x.to(wider[x.dtype]), x.dtype) if sinc
                            else catalogue.caller("torch", step.entry)(   # (dtype=float32 too)
                                args[0].to(torch.float64), *map(_wide_dtype, args[1:]),
                                **{k: _wide_dtype(v) for k, v in kwargs.items()}))
                if hold_past_the_range and not sinc:
                    return "ok", _held_past_the_range(wide, narrow.dtype)
                return "ok", wide.to(narrow.dtype)
            except Exception as error:  # noqa: BLE001 - as run.call
                return "error", error
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _norm_widened_held_call(run, step, leaves, on_a_copy=False):
    """``_norm_widened_call`` with a p-norm past the narrow float's range held
    (NORM_IN_FLOAT64_HELD)."""
    return _norm_widened_call(run, step, leaves, on_a_copy, hold_past_the_range=True)


def _held_past_the_range(wide, dtype):
    """The float64 norms ``wide`` rounded to ``dtype``, those that fit float64 but not
    ``dtype`` (±inf once rounded) detached: their slope is 0, as tapegrad's (|x|/‖x‖)^(p-1)
    at ‖x‖ = inf for a finite x (and PyTorch's x/‖x‖ for p = 2), where the float64 norm's
    slope is that of a value the program never holds. A norm that is ±inf in float64 too
    (an inf among its x) keeps its float64 backward: NaN at the infinite x, 0 beside it."""
    rounded = wide.to(dtype)
    past_the_range = torch.isinf(rounded) & torch.isfinite(wide)
    return torch.where(past_the_range, rounded.detach(), rounded)


def _logit_of_plus_zero_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but logit (logit_, out of place) of x + 0.0, which is x with -0.0 made
    +0.0 (LOGIT_OF_PLUS_ZERO): the slope 1/(x(1 - x)) at -0.0 is +inf, the slope at 0, but
    PyTorch's vectorised loop divides by x(1 - x) = -0.0 and gives -inf."""
    if step.entry.name not in LOGITS or not step.args:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    args = [run.materialize(a, leaves) for a in step.args]
    kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
    if not torch.is_tensor(args[0]):
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        return "ok", torch.logit(args[0] + 0.0, *args[1:], **kwargs)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _slopes_and_values_widened_call(run, step, leaves, on_a_copy=False):
    """``_slopes_widened_call`` with the values computed in float64 too and rounded back (the
    correctly rounded values, which tapegrad's gelu gives where PyTorch's float32 one is an
    ulp off and a later atanh near 1 magnifies the ulp)."""
    return _slopes_widened_call(run, step, leaves, on_a_copy, own_values=False)


def _widened_slope_call(step, args, kwargs):
    """The step called in PyTorch on its float64 arguments; gelu's tanh form as x·σ(2u),
    u = √(2/π)(x + 0.044715x³), the same function: PyTorch's backward takes its slope from
    tanh(u), which float64 too rounds to ±1 beyond |u| ≈ 19 (x < -7 or so), so that its
    tail's slope, -9e-18 at x = -7.63, is 0 there, and an infinite gradient times it NaN;
    σ(2u) keeps it."""
    if step.entry.name == "gelu" and kwargs.get("approximate") == "tanh" and len(args) == 1 \
            and torch.is_tensor(args[0]):
        return _GeluTanhBySigmoid.apply(args[0])
    return catalogue.caller("torch", step.entry)(*args, **kwargs)


class _GeluTanhBySigmoid(torch.autograd.Function if torch is not None else object):
    """PyTorch's gelu (tanh form), its slope σ(2u) + 2x·σ(2u)(1 - σ(2u))·u' from σ(2u), not
    from tanh(u), and applied to the gradient at once (as one slope: an infinite gradient
    times the tail's tiny slope is ±inf, not the NaN of ∞ - ∞ that autograd of x·σ(2u)
    sums from its two terms)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.gelu(x, approximate="tanh")

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        k = math.sqrt(2 / math.pi)
        s = torch.sigmoid(2 * k * (x + 0.044715 * x ** 3))
        slope = s + 2 * x * s * (1 - s) * k * (1 + 3 * 0.044715 * x * x)
        return grad * slope


def _slopes_widened_call(run, step, leaves, on_a_copy=False, own_values=True):
    """``run.call``, but the backward of lgamma, digamma, polygamma, mvlgamma or gelu of
    float16 and float32 tensors computed in float64 (SLOPES_WIDENED; the values are PyTorch's
    own): PyTorch's float32 trigamma takes sin(πx) of the unreduced x, which
    between poles one apart follows x's last bits (ψ⁽¹⁾(-11260.926): 185.6, mpmath 184.9),
    and its float16 slopes of ψ⁽ⁿ⁾ and gelu round tiny slopes (-5.2e-8, 1e-16) to 0, which an
    infinite gradient later turns into NaN; tapegrad computes them in float64."""
    status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
    if step.entry.name not in WIDENED_SLOPES or status != "ok" or not torch.is_tensor(narrow) \
            or narrow.dtype not in (torch.float16, torch.float32):
        return status, narrow
    widen = (lambda v: v.to(torch.float64) if torch.is_tensor(v) and v.dtype in (
        torch.float16, torch.float32) else v)
    args = [widen(run.materialize(a, leaves)) for a in step.args]
    kwargs = {k: widen(run.materialize(v, leaves)) for k, v in step.kwargs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wide = _widened_slope_call(step, args, kwargs).to(narrow.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error
    if not own_values:
        return "ok", wide
    if not wide.requires_grad or wide.shape != narrow.shape:
        return status, narrow
    # (PyTorch's own values go on, so a later step sees what it saw in the program: a float32
    # mvlgamma an ulp from its float64 one moves trigamma's slope by 10% after it)
    return "ok", _TapegradValues.apply(wide, narrow.detach())


def _gelu_by_math_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but gelu of a float64 tensor given by ``_GeluByMath`` (GELU_BY_MATH):
    PyTorch's float64 gelu forms 1 + erf(x/√2) (or 1 + tanh u), which cancels in the far
    negative tail: gelu(-6.93353) is -1.42300877e-11 in PyTorch, -1.42299199e-11 exactly
    (mpmath, tapegrad, math.erfc), 1.2e-5 apart, and a later log's slope 1/y carries that."""
    status, own = run.call(step, leaves, on_a_copy=on_a_copy)
    if step.entry.name != "gelu" or status != "ok" or not torch.is_tensor(own) \
            or own.dtype != torch.float64 or not step.args:
        return status, own
    x = run.materialize(step.args[0], leaves)
    approximate = run.materialize(step.kwargs.get(
        "approximate", step.args[1] if len(step.args) > 1 else "none"), leaves)
    if not torch.is_tensor(x) or x.dtype != torch.float64 or approximate not in ("none", "tanh"):
        return status, own
    return "ok", _GeluByMath.apply(x, approximate)


def _gelu_and_slope_by_math(x, approximate):
    """gelu and its slope of float64 values, from forms that do not cancel: x·Φ(x) with
    Φ(x) = erfc(-x/√2)/2 (math.erfc, accurate in the tail) and slope Φ(x) + x·φ(x); the tanh
    form as x·σ(2u), slope σ(2u) + 2x·σ(2u)(1 - σ(2u))·u', u = √(2/π)(x + 0.044715x³)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        if approximate == "none":
            cdf = np.frompyfunc(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)), 1, 1)(x)
            cdf = np.asarray(cdf, dtype=np.float64)
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return x * cdf, cdf + x * pdf
        k, a = math.sqrt(2 / math.pi), 0.044715
        s = 1 / (1 + np.exp(-2 * k * (x + a * x ** 3)))
        return x * s, s + 2 * x * s * (1 - s) * k * (1 + 3 * a * x * x)


class _GeluByMath(torch.autograd.Function if torch is not None else object):
    """PyTorch's float64 gelu replaced by ``_gelu_and_slope_by_math``: its value and, in the
    backward, the gradient times its slope."""

    @staticmethod
    def forward(ctx, x, approximate):
        values, slopes = _gelu_and_slope_by_math(x.detach().numpy(), approximate)
        ctx.save_for_backward(torch.from_numpy(np.array(slopes, dtype=np.float64)))
        return torch.from_numpy(np.array(values, dtype=np.float64))

    @staticmethod
    def backward(ctx, grad):
        slopes, = ctx.saved_tensors
        return grad * slopes, None


def _attention_math_backend_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but attention by PyTorch's math backend (ATTENTION_GRADIENTS_BY_ITS_MATH),
    a composite of matrix products and softmax whose backward is theirs: its fused CPU kernel
    for 4-d inputs takes the softmax backward's row sum Σⱼ pⱼ·dPⱼ as dO·O (flash attention's
    form), which differs where the sum meets infinities: an incoming gradient of -inf and a
    value of inf make dO·O = -inf, Σⱼ pⱼ·dPⱼ = inf - inf = NaN (the loss is -inf whatever the
    key: no slope), so a key's gradient is inf in the kernel, NaN in its math backend and
    tapegrad."""
    if step.entry.name != "scaled_dot_product_attention":
        return run.call(step, leaves, on_a_copy=on_a_copy)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel([SDPBackend.MATH]):
        return run.call(step, leaves, on_a_copy=on_a_copy)


def _digamma_by_math_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but the backward of lgamma or mvlgamma of a float64 tensor with its slope
    ψ(x) (mvlgamma's Σⱼ ψ(x - j/2), of the same shifted x as PyTorch's) computed by mpmath
    and rounded once (DIGAMMA_BY_MATH): PyTorch's float64 ψ reflects a negative x by
    π/tan(πx), and πx rounded swamps a small distance to the pole, so ψ(-1 + 3.7e-14) is
    -2.66675e13 in PyTorch, -2.67276e13 exactly (mpmath; tapegrad reflects by x + k, exact),
    0.2% apart. Its values are PyTorch's own; where mpmath has none (a pole, NaN), the slope
    is PyTorch's."""
    status, own = run.call(step, leaves, on_a_copy=on_a_copy)
    if step.entry.name not in SLOPES_BY_DIGAMMA or status != "ok" or not torch.is_tensor(own) \
            or own.dtype != torch.float64 or not step.args:
        return status, own
    x = run.materialize(step.args[0], leaves)
    p = run.materialize(step.kwargs.get("p", step.args[1] if len(step.args) > 1 else 1), leaves) \
        if step.entry.name.startswith("mvlgamma") else 1
    if not torch.is_tensor(x) or x.dtype != torch.float64 or not x.requires_grad \
            or not isinstance(p, int) or tuple(x.shape) != tuple(own.shape):
        return status, own
    return "ok", _DigammaSlopeByMath.apply(x, own.detach(), p)


def _digamma_by_math(values):
    """ψ of float64 values by mpmath (30 digits), rounded once; NaN where it has none."""
    import mpmath

    def one(v):
        try:
            with mpmath.workdps(30):
                return float(mpmath.digamma(mpmath.mpf(float(v))))
        except (ValueError, ZeroDivisionError, OverflowError):
            return math.nan
    with np.errstate(invalid="ignore"):
        return np.vectorize(one, otypes=[np.float64])(values) if values.size else values.copy()


class _DigammaSlopeByMath(torch.autograd.Function if torch is not None else object):
    """lgamma or mvlgamma (p) with PyTorch's own values; backward: the gradient times
    Σⱼ ψ(x - j/2) (j = 0 … p-1, each x - j/2 formed as PyTorch does: x + (-j/2)) by mpmath,
    PyTorch's own ψ where mpmath has none."""

    @staticmethod
    def forward(ctx, x, values, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return values.clone()

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        slope = torch.zeros_like(x)
        for j in range(ctx.p):
            shifted = x + (-j / 2)   # (x + 0.0 for j = 0: -0.0 becomes +0.0, as PyTorch's)
            exact = torch.from_numpy(_digamma_by_math(shifted.detach().numpy()))
            slope = slope + torch.where(torch.isnan(exact), torch.digamma(shifted), exact)
        return grad * slope, None, None


def _mul_as_computed_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but mul of a tensor and a 0-d tensor of another float dtype with the
    operands given in the dtype PyTorch's forward computes in (MUL_AS_COMPUTED): a 0-d first
    operand is rounded to the result's dtype (1.1e5 to float16 is ∞), a 0-d second one is
    not and the product is formed in float32 (float16's opmath); PyTorch's backward instead
    multiplies the gradient by the unrounded operand, or forms Σ g·x in float16 (∞ beyond
    65504) for the 0-d one's float32 gradient."""
    status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
    if step.entry.name not in MULS or len(step.args) != 2 or step.kwargs or status != "ok" \
            or not torch.is_tensor(narrow) or not narrow.dtype.is_floating_point:
        return status, narrow
    x, y = (run.materialize(a, leaves) for a in step.args)
    if not (torch.is_tensor(x) and torch.is_tensor(y)) or x.dtype == y.dtype:
        return status, narrow
    dtype = narrow.dtype
    compute = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    if x.dim() == 0 and y.dim() > 0 and x.dtype != dtype:
        x = x.to(dtype)
    elif y.dim() == 0 and x.dim() > 0 and y.dtype != dtype:
        x, y = x.to(compute), y.to(compute)
    else:
        return status, narrow
    return "ok", (x * y).to(dtype)


def _normalizing_widened_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but normalize, cosine_similarity or pairwise_distance with its float16
    (float32) tensors computed in float32 (float64) and rounded back (NORMALIZE_WIDENED):
    PyTorch's norms inside them sum |x|ᵖ in the operands' dtype, which overflows (x/∞ = 0)
    or underflows (x/0 = ±∞, 0/0) where x/‖x‖ fits; tapegrad's norm rescales by the largest
    magnitude."""
    wider = {torch.float16: torch.float32, torch.float32: torch.float64}
    status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
    args = [run.materialize(a, leaves) for a in step.args]
    kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
    integer = status == "ok" and torch.is_tensor(narrow) and narrow.dtype in wider and \
        _integer_difference_widened(step, args, kwargs, wider[narrow.dtype])
    if integer:
        args, kwargs = integer
    elif status != "ok" or not torch.is_tensor(narrow) or not any(   # (a float32 operand's
            torch.is_tensor(v) and v.dtype in wider   # norm overflows in a float64 result too)
            for v in args + list(kwargs.values())):
        return status, narrow
    widen = (lambda v: v.to(wider[v.dtype]) if torch.is_tensor(v) and v.dtype in wider
             else v)
    status, wide = _torch_call(step, [widen(a) for a in args], {k: widen(v) for k, v in kwargs.items()})
    return status, wide.to(narrow.dtype) if status == "ok" else wide


def _integer_difference_widened(step, args, kwargs, wide):
    """pairwise_distance's integer operands given as their difference, taken as PyTorch takes
    it (in the integers, wrapping), in the float ``wide``, and 0: PyTorch adds ε to x₁ - x₂,
    which makes it a float of the default dtype (float32), whose |x|ᵖ overflows beyond 7e12
    for p = 3 (a long's 9.2e18). None for any other step or dtype."""
    if step.entry.name != "pairwise_distance":
        return None
    try:
        bound = step.entry.signature.bind(*args, **kwargs)
    except TypeError:
        return None
    x1, x2 = bound.arguments.get("x1"), bound.arguments.get("x2")
    if not (torch.is_tensor(x1) and torch.is_tensor(x2)) or x1.dtype.is_floating_point or \
            x2.dtype.is_floating_point or torch.bool in (x1.dtype, x2.dtype):
        return None
    bound.arguments["x1"] = (x1 - x2).to(wide)
    bound.arguments["x2"] = torch.zeros((), dtype=wide)
    return list(bound.args), dict(bound.kwargs)


def _normalizing_agrees_widened(program, step, result, through_float16=False):
    """NORMALIZE_WIDENED for a value finding of normalize, cosine_similarity or
    pairwise_distance where PyTorch, rerun from the program's start with those ops computed
    in the wider float (``_normalizing_widened_call``), gives tapegrad's values (else ""), to
    float16's tolerance where the chain or an operand of the step is float16."""
    if step.entry.name not in NORMALIZING:
        return ""
    return NORMALIZE_WIDENED if _widened_rerun_agrees(program, step, result, through_float16) \
        else ""


def _p_norm_agrees_widened(program, step, result, through_float16=False):
    """NORM_IN_FLOAT64 for a value finding of a float16 or float32 p-norm (norm,
    vector_norm…) where PyTorch, rerun from the program's start with its p-norms computed in
    float64 (``_norm_widened_call``) and rounded back, gives tapegrad's values (else ""):
    PyTorch's sum of |x|ᵖ overflows in the dtype (the 3-norm of three float32 1e15s is inf,
    1.44e15 fits), tapegrad's norm rescales by the largest magnitude."""
    if step.entry.name not in P_NORMS:
        return ""
    return NORM_IN_FLOAT64 if _widened_rerun_agrees(program, step, result, through_float16) \
        else ""


def _rerun_chain(step, status, result):
    """The chain a value rerun goes on with after ``step`` (PyTorch's ``status``, ``result``):
    its first tensor, None after an error, and topk(sorted=False)'s values in the order of
    their indices, as the driver goes on (``_ordered_chains``): PyTorch's own order, which
    no library documents, would permute the slices the later steps (a cosine_similarity
    along that dim) see, and the rerun would disagree with tapegrad's values for that alone."""
    if status != "ok":
        return None
    if _unordered(step):
        return _ordered_chains(step, {"torch": (status, result)})["torch"]
    return first_tensor(TORCH, result)


def _widened_rerun_agrees(program, step, result, through_float16):
    """Whether PyTorch, rerun from the program's start through ``_norm_widened_call`` up to
    ``step``, gives tapegrad's values ``result``, to float16's tolerance where the chain or an
    operand of the step is float16."""
    if torch is None or not TAPEGRAD.is_tensor(result):
        return False
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        status, wide = _norm_widened_call(run, each, program.leaves)
        run.chain = _rerun_chain(each, status, wide)
        if run.chain is None:
            return False
        if each is step:
            break
    ours = TAPEGRAD.to_numpy(result)
    theirs = TORCH.to_numpy(run.chain.detach())
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return False
    float16 = through_float16 or any(isinstance(a, LeafRef) and program.leaves[
        a.index].values.dtype == np.float16 for a in list(step.args) + list(step.kwargs.values()))
    return compare_arrays(ours, theirs, "float16" if float16 else str(ours.dtype)) is None


GAMMA_VALUES_WIDENED = (" [lgamma, digamma, polygamma or mvlgamma: PyTorch agrees with its "
                        "values computed in float64]")
GAMMAS = ("lgamma", "lgamma_", "digamma", "digamma_", "polygamma", "polygamma_",
          "polygamma_method", "mvlgamma", "mvlgamma_")


def _gammas_agree_widened(program, step, chain_before, result):
    """GAMMA_VALUES_WIDENED for a value finding of lgamma, digamma, polygamma or mvlgamma of a
    float16 or float32 tensor where PyTorch, rerun from the program's start with those ops
    computed in float64 and rounded back (``_slopes_and_values_widened_call``), gives
    tapegrad's values element by element (else ""): near a pole ψ⁽ⁿ⁾ follows the last bits
    of πx and x + k, which PyTorch rounds in float32 and tapegrad does not. Also with PyTorch's
    own steps before it, or the step alone on tapegrad's values before it (``chain_before``):
    a float32 lgamma an ulp apart before a trigamma at 1e5 moves it by 10%."""
    if step.entry.name not in GAMMAS or torch is None or not TAPEGRAD.is_tensor(result) or \
            TAPEGRAD.dtype_name(result) not in ("float16", "float32"):
        return ""
    ours = TAPEGRAD.to_numpy(result)
    for before in ("widened", "pytorch's", "tapegrad's"):
        run = Run(TORCH)
        if before == "tapegrad's":
            if chain_before is None:   # (the first step: no values before it but the leaf)
                continue
            run.chain = torch.from_numpy(np.array(chain_before))
            status, wide = _slopes_and_values_widened_call(run, step, program.leaves)
            run.chain = first_tensor(TORCH, wide) if status == "ok" else None
        else:
            run.chain = run.materialize(LeafRef(0), program.leaves)
            for each in program.steps:
                status, wide = (_slopes_and_values_widened_call(run, each, program.leaves)
                                if before == "widened" or each is step
                                else run.call(each, program.leaves))
                run.chain = _rerun_chain(each, status, wide)
                if run.chain is None or each is step:
                    break
        if run.chain is None:
            continue
        theirs = TORCH.to_numpy(run.chain.detach())
        if ours.shape == theirs.shape and ours.dtype == theirs.dtype and _same_to_rounding(
                ours, theirs, str(ours.dtype)):
            return GAMMA_VALUES_WIDENED
    return ""


def _sinc_by_its_series_near_0(x, dtype=None):
    """sinc(x), as 1 - (πx)²/6 where |x| < 1e-4 (its next term, (πx)⁴/120, is below float64's
    rounding there): PyTorch's own slope cancels to 0 near 0 in float64 too (x = 1e-15:
    0, the slope -π²x/3 is -3.3e-15), so its float64 sinc alone is no reference there. Where
    π·x² is 0 in the dtype both libraries' backward squares x in (the program's ``dtype`` of x,
    float16 in float32) sinc is the constant 1: both define the slope there as 0, even times an
    infinite gradient (the series' slope 0 at x = 0 would give NaN, float64's -π²x/3 at a
    float32 x of 1e-30 ±inf)."""
    own = x.detach().to(torch.promote_types(dtype or x.dtype, torch.float32))
    slope_0 = own * own * math.pi == 0
    near = (x.abs() < 1e-4) & ~slope_0   # (each branch fed values away from the other's edge:
    small = torch.where(near, x, 0)      # the unused one's slope, 0/0 or ∞, times 0 is NaN)
    far = torch.where(near | slope_0, 1, x)
    return torch.where(slope_0, 1, torch.where(near, 1 - (math.pi * small) ** 2 / 6, torch.sinc(far)))


def _wide_dtype(value):
    return (torch.float64 if isinstance(value, torch.dtype) and value in (torch.float16,
                                                                        torch.float32)
            else value)


# The steps whose gradient PyTorch gives as a zero tensor (a tensor with no memory): a
# backward later in the chain that reads it as if it held values (group_norm's) reads
# whatever memory lies there, other numbers each run
ZERO_TENSOR_GRADIENTS = ("sgn", "sgn_")
TORCH_CHANGES = "PyTorch's gradient changes between identical runs wherever it differs: "


def _torch_gradient_changes_between_runs(program, runs, chains, found):
    """``found`` with its gradient findings made ``gradient-nondeterministic`` (their detail
    prefixed by ``TORCH_CHANGES``) where the program holds a step of
    ``ZERO_TENSOR_GRADIENTS`` and PyTorch's gradients, taken three times with the same
    incoming gradient (backward again through the program's own graph, then the program
    run twice afresh, an in-place step on a copy where PyTorch's backward refuses it),
    differ beyond the tolerance among themselves at every element where tapegrad's differs
    from any of them, and are tapegrad's elsewhere: no reference there (group_norm after
    sgn: 45.5 one run, NaN or -2.7e286 the next, where sgn's gradient is 0). An element
    where PyTorch repeats itself and tapegrad does not stays a finding."""
    if torch is None or not any(f.kind == "gradient" for f in found) or not any(
            s.entry.name in ZERO_TENSOR_GRADIENTS for s in program.steps):
        return found
    a = chains["tapegrad"]
    grad = _incoming_gradient(program, a)
    try:
        ga = _leaf_grads(runs["tapegrad"], a, tg.from_numpy(grad.copy()))
        samples = [_leaf_grads(runs["torch"], chains["torch"], torch.from_numpy(grad.copy()))]
    except Exception:  # noqa: BLE001 - an in-place step PyTorch's backward refuses
        samples = []
    last = program.steps[-1]
    for _ in range(2):
        samples.append(_rerun_gradients(program, last, grad, program.leaves, program.steps,
                                        None, False)
                       or _rerun_gradients(program, last, grad, program.leaves, program.steps,
                                           None, True))
    if len(samples) < 2 or any(h is None or set(h) != set(ga) for h in samples):
        return found
    changed = False
    for i, g in ga.items():
        hs = [h[i] for h in samples]
        if g is None or any(h is None for h in hs):
            if not (g is None and all(h is None for h in hs)):
                return found
            continue
        if any(h.shape != g.shape for h in hs):
            return found
        dtype = str(g.dtype)
        moved = np.zeros(g.shape, dtype=bool)
        apart = np.zeros(g.shape, dtype=bool)
        for h in hs:
            moved |= ~_agree_elementwise(h, hs[0], dtype)
            apart |= ~_agree_elementwise(g, h, dtype)
        if np.any(apart & ~moved):
            return found
        changed = changed or bool(moved.any())
    if not changed:
        return found
    return [f._replace(kind="gradient-nondeterministic", detail=TORCH_CHANGES + f.detail)
            if f.kind == "gradient" else f for f in found]
