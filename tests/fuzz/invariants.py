"""tapegrad's own invariants, checked without PyTorch.

float-dtypes: a step raises in float32 but not in float64, or the other way; promotion: a
binary result whose dtype is not ``tapegrad.dtypes.result_type`` of its inputs; gradcheck:
float64 finite differences disagree with backward at an element where the program is smooth
(not at a kink, a pole or a domain edge, not where a write names one place twice).
"""
import functools
import math
import warnings

import numpy as np

import tapegrad as tg
from tapegrad import dtypes
from tapegrad.autograd.gradcheck import GradcheckError, gradcheck

from .compare import compare_arrays
from .generate import CHAIN, LeafRef
from .libraries import (Finding, Run, TAPEGRAD, _arguments, _in_place, _names_a_float_dtype,
                        first_tensor)
from .terms import _terms_of_each_output
from .value_marks import CASTS, VALUE_SHAPED


# Operations that read one triangle of a matrix taken as symmetric, and whose gradient is the
# symmetric one (PyTorch's, as its docs say): on a non-symmetric input finite differences see
# the triangle's elements alone, so PyTorch's own gradcheck fails there as well.
ONE_TRIANGLE = {"cholesky"}


def _replay(program, float_dtype, leaves_requiring_grad=None, steps=None):
    """Run the program's steps in tapegrad with every float leaf in ``float_dtype``."""
    run = Run(TAPEGRAD, float_dtype)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    run.largest = 0.0   # the largest magnitude (or NaN) any step's result held
    run.zeros = False   # whether any step's result held an exact 0
    run.asymmetric = False   # whether a ONE_TRIANGLE step met a non-symmetric matrix
    run.norm_below_eps = False   # whether a cosine_similarity met a norm below its eps
    run.nextafter_tie = False   # whether a nextafter met x = y (_nextafter_at_a_tie)
    run.subnormal = False   # whether a step's result held a subnormal (_holds_subnormals)
    outcomes = []
    for step in program.steps if steps is None else steps:
        run.norm_below_eps = (run.norm_below_eps or _cosine_norm_below_eps(run, step, program)
                              or _normalize_norm_below_tiny_eps(run, step, program))
        run.nextafter_tie = run.nextafter_tie or _nextafter_at_a_tie(run, step, program)
        if step.entry.name in ONE_TRIANGLE and run.chain is not None:
            values = TAPEGRAD.to_numpy(run.chain)
            run.asymmetric = run.asymmetric or (
                values.ndim >= 2 and not np.array_equal(values, np.swapaxes(values, -1, -2),
                                                        equal_nan=True))
        status, result = run.call(step, program.leaves)
        outcomes.append((step, status, result))
        if status == "error" or first_tensor(TAPEGRAD, result) is None:
            break
        run.chain = first_tensor(TAPEGRAD, result)
        # (read now: a later in-place step may overwrite these values)
        values = TAPEGRAD.to_numpy(run.chain)
        if values.dtype.kind == "f":
            # (np.max, not max(): Python's max(0.0, nan) is 0.0 and would lose the NaN)
            run.largest = float(np.max([run.largest, np.abs(values).max(initial=0)]))
            run.zeros = run.zeros or bool((values == 0).any())
            run.subnormal = run.subnormal or _holds_subnormals(values)
    return run, outcomes


def _nextafter_at_a_tie(run, step, program):
    """nextafter(x, y) where an element of x equals its y: the result is y there, and its
    slope in x is 0 by PyTorch's definition (tapegrad's too), while finite differences see
    nextafter(x ± h, y) = x ± h, a slope of 1. (y may be a Python number: tapegrad takes
    one, as its other binary ops do.)"""
    if step.entry.name not in ("nextafter", "nextafter_") or len(step.args) < 2:
        return False
    try:
        x, y = (run.materialize(a, program.leaves) for a in step.args[:2])
        x, y = (np.asarray(TAPEGRAD.to_numpy(v) if TAPEGRAD.is_tensor(v) else v)
                for v in (x, y))
        return bool(np.any(np.broadcast_arrays(x, y)[0] == np.broadcast_arrays(x, y)[1]))
    except Exception:  # noqa: BLE001 - a call that fails as the step itself will
        return False


def _holds_subnormals(values):
    """A result holding a nonzero value below float64's smallest normal number (erfc(26.6)
    = 5e-310): a backward through it divides by it (log's g/x: 1/5e-310 overflows to inf,
    times erfc's slope of 1e-308 stays inf, in PyTorch too) where the slope of the whole
    is finite (-2x), so finite differences cannot judge the backward's chain rule."""
    tiny = np.finfo(np.float64).tiny
    with np.errstate(invalid="ignore"):
        return bool(((values != 0) & (np.abs(values) < tiny)).any())


def _cosine_norm_below_eps(run, step, program):
    """cosine_similarity(x1, x2, dim, eps) where an operand's 2-norm along ``dim`` is below
    ``eps``: its value divides by eps there, but PyTorch's gradient (which tapegrad matches)
    is not the slope of that value, so finite differences cannot judge it."""
    if step.entry.name != "cosine_similarity":
        return False
    names = ("x1", "x2", "dim", "eps")
    given = dict(zip(names, step.args)) | step.kwargs
    try:
        operands = [TAPEGRAD.to_numpy(run.materialize(given[name], program.leaves))
                    for name in ("x1", "x2")]
        operands = np.broadcast_arrays(*[np.asarray(o, dtype=np.float64) for o in operands])
        dim = int(given.get("dim", 1))
        eps = float(given.get("eps", 1e-8))
        with np.errstate(all="ignore"):
            return any(bool((np.sqrt((o * o).sum(axis=dim)) < eps).any()) for o in operands)
    except Exception:  # noqa: BLE001 - a call that fails as the step itself will
        return False


def _normalize_norm_below_tiny_eps(run, step, program):
    """normalize(x, p, dim, eps) of the chain where a slice's p-norm is below an eps of 1e-8
    or less: x/eps there, a slope of 1e12 for the default eps, which makes float64's
    rounding residue of earlier terms that cancel in the math (a layer_norm of an expanded
    leaf's equal values: exactly flat, its backward a residue of terms of 1e2) a gradient of
    0.1, where finite differences see the flat 0; they cannot judge it."""
    if step.entry.name != "normalize" or not step.args or step.args[0] is not CHAIN:
        return False
    given = dict(zip(("input", "p", "dim", "eps"), step.args)) | step.kwargs
    try:
        p, dim, eps = float(given.get("p", 2.0)), int(given.get("dim", 1)), float(
            given.get("eps", 1e-12))
        if eps > 1e-8 or not 0 < p < math.inf:
            return False
        x = np.abs(np.asarray(TAPEGRAD.to_numpy(run.chain), dtype=np.float64))
        with np.errstate(all="ignore"):
            return bool(((x ** p).sum(axis=dim) ** (1 / p) < eps).any())
    except Exception:  # noqa: BLE001 - a call that fails as the step itself will
        return False


def _float_dtypes(program):
    if program.leaves[0].values.dtype.kind != "f" or not program.steps:
        return []
    _, in32 = _replay(program, "float32")
    _, in64 = _replay(program, "float64")
    for k, ((step, s32, r32), (_, s64, r64)) in enumerate(zip(in32, in64)):
        if _names_a_float_dtype(step):
            break   # norm(x, dtype=float32) of float64 leaves is refused, as in PyTorch
        if s32 != s64:
            error = r32 if s32 == "error" else r64
            which = "float32" if s32 == "error" else "float64"
            return [Finding("float-dtypes", step.entry.name,
                            f"raises in {which} only: {type(error).__name__}: {error}"[:200]
                            + (_past_float32s_range(program, k) if s32 == "error" else ""),
                            program.seed)]
        if s32 == "error" or _left_float_dtype(r32, "float32") or _left_float_dtype(r64, "float64"):
            break   # (an explicit cast, or integers turned into the default float dtype:
                    # from here the two replays no longer differ in the leaves' dtype alone)
        if _count_from_float32s_rounding(program, k, r32, r64):
            break   # (nonzero of exp(-440): from here the chains' shapes differ too)
        if _whole_numbers_from_float32s_rounding(program, k):
            break   # (long of elu(-17.45): -1 against 0, from here the chains' values differ)
    return []


FLOAT32_RANGE = " [past float32's range before this step: float64 held {:.3g}]"


def _past_float32s_range(program, k):
    """FLOAT32_RANGE, with the largest magnitude, where the program's float64 replay of its
    first ``k`` steps (those before the one that raises in float32 only), or a leaf, held a
    finite value past float32's largest, 3.4e38 (1e30² of mse_loss): float32 made it ±inf,
    and what the step then refuses (inf/inf = NaN) comes from the dtype's range, not from
    the op; else "" (a float32-only refusal within range, or a NaN that hides the size).
    A leaf counts only where it reaches the chain before that step (leaf 0, or one those
    steps use): the refused step's own weight of 1e39 is not what made its input NaN."""
    run, _ = _replay(program, "float64", steps=program.steps[:k])
    used = {0} | {a.index for s in program.steps[:k] for a in _arguments(s)
                  if isinstance(a, LeafRef)}
    leaves = [np.abs(leaf.values[np.isfinite(leaf.values)]).max(initial=0)
              for i, leaf in enumerate(program.leaves)
              if leaf.values.dtype.kind == "f" and i in used]
    largest = float(np.max([run.largest, *leaves]))
    return FLOAT32_RANGE.format(largest) if largest > float(np.finfo(np.float32).max) else ""


def _count_from_float32s_rounding(program, k, r32, r64):
    """True where step ``k`` makes a result whose shape its input's values decide
    (nonzero, masked_select, unique: ``VALUE_SHAPED``) of another shape in float32 than in
    float64, and the step on the float64 replay's chain rounded to float32 gives float32's
    result, run in float32 and in float64 alike: float32's range or spacing made values of
    float64 into zeros or equal values (logsigmoid(440) is -7e-192 in float64, -0.0 in
    float32), and a later step may then rightly refuse one shape and not the other. A
    float32 chain that is otherwise wrong (0 where the float64 value rounds to -947), or a
    step that counts otherwise in one dtype, gives another result, and the replays go on
    being compared."""
    step = program.steps[k]
    if step.entry.name not in VALUE_SHAPED:
        return False
    shaped32, shaped64 = first_tensor(TAPEGRAD, r32), first_tensor(TAPEGRAD, r64)
    if shaped32 is None or shaped64 is None or tuple(shaped32.shape) == tuple(shaped64.shape):
        return False   # (a later in-place step keeps a shape: the values need a fresh replay)
    ours32, ours64 = _fresh_result(program, k, "float32"), _fresh_result(program, k, "float64")
    if ours32 is None or ours64 is None or tuple(ours32.shape) == tuple(ours64.shape):
        return False
    return all(again is not None and compare_arrays(TAPEGRAD.to_numpy(again),
                                                    TAPEGRAD.to_numpy(ours32), "float32") is None
               for again in _rerun_on_float64s_chain_rounded(program, k))


# Steps that make whole numbers (or booleans) of the chain's floats: a cast to an integer
# dtype (CASTS) and the rounding functions (round without decimals).
TO_WHOLE_NUMBERS = CASTS + ("trunc", "trunc_", "fix", "floor", "floor_", "ceil", "ceil_",
                            "round", "round_")


def _whole_numbers_from_float32s_rounding(program, k):
    """True where step ``k`` makes whole numbers of floats (``TO_WHOLE_NUMBERS``) that differ
    between float32 and float64, and the step on the float64 replay's chain rounded to
    float32 gives float32's result exactly, run in float32 and in float64 alike: float32's
    spacing moved a value onto or across a whole number (elu(-17.45) = e⁻¹⁷·⁴⁵ - 1 is
    -0.99999997 in float64 and -1.0 in float32, so long gives 0 against -1), and a later
    step may then rightly refuse one dtype's integers (one_hot of a class -1). A float32
    chain that is otherwise wrong (-1.0 where the float64 value rounds to -0.9933), or a
    step that rounds otherwise in one dtype, gives another result, and the replays go on
    being compared."""
    step = program.steps[k]
    decimals = step.kwargs.get("decimals", step.args[1] if len(step.args) > 1 else 0)
    if step.entry.name not in TO_WHOLE_NUMBERS or (step.entry.name.startswith("round")
                                                   and decimals != 0):
        return False   # (round to 2 decimals: 0.01 is another number in each dtype)
    ours32, ours64 = _fresh_result(program, k, "float32"), _fresh_result(program, k, "float64")
    if ours32 is None or ours64 is None or _exactly_equal(ours32, ours64):
        return False
    if step.entry.name in CASTS and TAPEGRAD.to_numpy(ours32).dtype.kind not in "iub":
        return False
    return all(again is not None and _exactly_equal(again, ours32)
               for again in _rerun_on_float64s_chain_rounded(program, k))


def _fresh_result(program, k, float_dtype):
    """Step ``k``'s result, replayed in ``float_dtype`` up to that step only: the whole
    replay's result of the step may since have been changed by a later in-place step
    (sign_ of nonzero's indices), and a judge must see what the step made."""
    _, outcomes = _replay(program, float_dtype, steps=program.steps[:k + 1])
    if len(outcomes) <= k or outcomes[k][1] != "ok":
        return None
    return first_tensor(TAPEGRAD, outcomes[k][2])


def _exactly_equal(a, b):
    """Tensors of the same shape and numbers (NaN equal to NaN), whatever their dtypes."""
    a, b = TAPEGRAD.to_numpy(a), TAPEGRAD.to_numpy(b)
    floats = a.dtype.kind == "f" and b.dtype.kind == "f"
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=floats))


def _rerun_on_float64s_chain_rounded(program, k):
    """Step ``k``'s result on the float64 replay's chain before it rounded to float32, run
    in float32 and in float64 (its leaves too): two tensors, None for one that raised or
    made none, or no result where the float64 chain is not a float64 tensor."""
    run64, _ = _replay(program, "float64", steps=program.steps[:k])
    if run64.chain is None or TAPEGRAD.dtype_name(run64.chain) != "float64":
        return [None]
    rounded = run64.chain.detach().to(tg.float32)
    results = []
    for float_dtype in ("float32", "float64"):
        rerun = Run(TAPEGRAD, float_dtype)
        rerun.chain = rounded.to(getattr(tg, float_dtype))
        status, result = rerun.call(program.steps[k], program.leaves)
        results.append(first_tensor(TAPEGRAD, result) if status == "ok" else None)
    return results


def _left_float_dtype(result, name):
    """True when the chain is now a floating tensor of another dtype than the replay's."""
    chain = first_tensor(TAPEGRAD, result)
    return chain is not None and chain.dtype.is_floating_point and chain.dtype.name != name


def _promotion(program, step, run, result):
    """A binary arithmetic op's result dtype equals the same op on promoted inputs."""
    if not step.entry.signature.parameters.get("other") or not TAPEGRAD.is_tensor(result):
        return []
    module = getattr(getattr(tg, step.entry.call_name, None), "__module__", "")
    if not module.endswith("ops.arithmetic") or len(step.args) < 2:
        return []
    a = run.materialize(step.args[0], program.leaves)
    b = run.materialize(step.args[1], program.leaves)
    if not (TAPEGRAD.is_tensor(a) and TAPEGRAD.is_tensor(b)):
        return []
    tiers = ([x.dtype for x in (a, b) if x.ndim], [x.dtype for x in (a, b) if not x.ndim])
    promoted = dtypes.result_type(*tiers)
    rest = [run.materialize(x, program.leaves) for x in step.args[2:]]
    kwargs = {k: run.materialize(v, program.leaves) for k, v in step.kwargs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = getattr(tg, step.entry.call_name)(a.detach().to(promoted),
                                                        b.detach().to(promoted), *rest, **kwargs)
    except Exception:  # noqa: BLE001 - raising on promoted inputs is not this check's concern
        return []
    if expected.dtype is not result.dtype:
        return [Finding("promotion", step.entry.name,
                        f"{a.dtype.name}, {b.dtype.name} -> {result.dtype.name}; on "
                        f"{promoted.name} inputs {expected.dtype.name}", program.seed)]
    return []


def _gradcheck(program):
    """float64 finite differences vs backward, on programs of ordinary values only."""
    if program.special_values or not program.steps or program.rng.random() > 0.3:
        return []
    float_leaves = [i for i, leaf in enumerate(program.leaves)
                    if leaf.values.dtype.kind == "f" and leaf.requires_grad]
    if not float_leaves or any(program.leaves[i].values.size > 40 for i in float_leaves):
        return []
    if any(np.abs(leaf.values).max(initial=0) > 100 for leaf in program.leaves
           if leaf.values.dtype.kind == "f"):
        return []
    run, outcomes = _replay(program, "float64")
    if not outcomes or outcomes[-1][1] == "error" or len(outcomes) != len(program.steps):
        return []
    if any(getattr(first_tensor(TAPEGRAD, r), "dtype", None) is not tg.float64
           for _, _, r in outcomes):
        return []   # a float16 or integer step in between: finite differences cannot see it
    if not run.largest <= 1e4:
        # a NaN or inf in between (zero_ of NaNs: backward's 0·NaN is NaN), or values so
        # large that a step of 1e-6 in the leaves moves them by more than their slope shows
        # (sin of cosh(20) = 2e8)
        return []
    if _writes_at_repeated_indices(program, _chain_sizes(program, outcomes)):
        return []   # which write wins is unspecified: finite differences see one, backward all
    if _probability_at_0_or_1(program, run, outcomes):
        return []
    if run.asymmetric:
        return []   # cholesky of a non-symmetric matrix: the gradient is the symmetric one
    if run.norm_below_eps:
        return []   # cosine_similarity's gradient where a norm is below eps: PyTorch's, no slope
    if run.nextafter_tie or run.subnormal:
        return []   # nextafter's slope 0 at x = y; a chain rule through 1/5e-310 = inf
    out = first_tensor(TAPEGRAD, outcomes[-1][2])
    if out is None or not out.requires_grad or not out.dtype.is_floating_point:
        return []
    if not bool(np.isfinite(TAPEGRAD.to_numpy(out)).all()) or out.numel() > 64:
        return []
    bases = [run.leaves[i][0] for i in float_leaves if i in run.leaves]

    def function(*leaves):
        replay_run = Run(TAPEGRAD, "float64")
        for i, leaf_tensor in zip(float_leaves, leaves):
            replay_run.leaves[i] = (leaf_tensor, _view_of(program.leaves[i], leaf_tensor))
        replay_run.chain = replay_run.materialize(LeafRef(0), program.leaves)
        result = None
        for step in program.steps:
            status, result = replay_run.call(step, program.leaves)
            if status == "error":
                raise result
            replay_run.chain = first_tensor(TAPEGRAD, result)
        return replay_run.chain

    failure = None
    for eps in (1e-6, 1e-8):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gradcheck(function, tuple(bases), eps=eps, atol=1e-4, rtol=1e-3)
            # passing with either step: a kink or jump (remainder, trunc, pad of rounded
            # values) lay within the first step of a leaf, not a wrong backward
            return []
        except GradcheckError as error:
            failure = failure or error
        except Exception:  # noqa: BLE001 - e.g. a program that cannot be replayed leaf by leaf
            return []
    if not _wrong_where_smooth(function, bases, run.zeros, _flat_slopes_terms(
            program, outcomes, [i for i in float_leaves if i in run.leaves], out),
            functools.cache(lambda: _within_ulps_of_a_pole(program, out.numel()))):
        return []
    return [Finding("gradcheck", program.steps[-1].entry.name, str(failure)[:300],
                    program.seed)]


# A slope that is 0 from cancelling terms, in float64 roundings of their size: its backward's
# residue (0.0156 of terms of 3.1e14 is a quarter of one), where a wrong slope of that size
# is beyond what float64 can tell from 0
FLAT_ROUNDINGS = 16


def _flat_slopes_terms(program, outcomes, leaves, out):
    """A function of a leaf's position among the gradcheck's bases (``leaves``: their leaf
    indices) giving, per Jacobian entry, the most a backward may give where finite
    differences see the function exactly flat: ``FLAT_ROUNDINGS`` float64 roundings of the
    terms backward sums into that entry (``_terms_of_each_output``, computed once, on first
    call); None (no excuse) where the terms cannot be found (a step that does not run alone,
    an in-place step)."""
    cache = {}

    def bound(position):
        if "terms" not in cache:
            cache["terms"] = None
            if not any(_in_place(s) for s in program.steps):
                chain_inputs = [None] + [
                    (np.array(TAPEGRAD.to_numpy(first_tensor(TAPEGRAD, r).detach())),
                     bool(first_tensor(TAPEGRAD, r).requires_grad)) for _, _, r in outcomes[:-1]]
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        cache["terms"] = _terms_of_each_output(program, chain_inputs,
                                                               tuple(out.shape), leaves)
                except Exception:  # noqa: BLE001 - no terms, no excuse
                    cache["terms"] = None
        terms = cache["terms"]
        if terms is None or position >= len(leaves) or terms[leaves[position]] is None:
            return None
        return FLAT_ROUNDINGS * float(np.finfo(np.float64).eps) * terms[leaves[position]]
    return bound


# How near, in float64 spacings, a step's result may sit to a later step's pole or domain
# edge and still be rounding's doing: tanh(18.37) is 1 - 2.2e-16, two spacings below 1
POLE_ULPS = 4


def _within_ulps_of_a_pole(program, size):
    """Per output element (flat, ``size`` of them): whether moving some step's result by
    ``POLE_ULPS`` float64 spacings, all its elements up or all down, makes that output
    ±inf or NaN in the steps after it. There a step rounded its result into a later step's
    pole or domain edge, and float64 holds the function flat at every step while backward
    holds the true slope: atanh(tanh(18.37)), whose tanh is 1 - 2.2e-16 and stays so at steps
    of up to 0.1, so finite differences see 0 where backward's (1 - y²)/(1 - y²) is the
    exact 1. None where a step cannot be rerun so (it raises, or its result is not float64).
    Each rerun replays the steps before from the leaves, so an in-place step overwrites
    nothing another rerun reads."""
    near = np.zeros(size, bool)
    for k in range(1, len(program.steps)):
        for direction in (np.inf, -np.inf):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run, _ = _replay(program, "float64", steps=program.steps[:k])
                    values = TAPEGRAD.to_numpy(run.chain)
                    if values.dtype != np.float64:
                        return None
                    for _ in range(POLE_ULPS):
                        values = np.nextafter(values, direction)
                    run.chain = tg.tensor(values, dtype=tg.float64)
                    for step in program.steps[k:]:
                        status, result = run.call(step, program.leaves)
                        if status == "error" or first_tensor(TAPEGRAD, result) is None:
                            return None
                        run.chain = first_tensor(TAPEGRAD, result)
                    moved = np.asarray(TAPEGRAD.to_numpy(run.chain)).reshape(-1)
            except Exception:  # noqa: BLE001 - no rerun, no excuse
                return None
            if moved.size != size:
                return None
            near |= ~np.isfinite(moved)
    return near


def _probability_at_0_or_1(program, run, outcomes):
    """binary_cross_entropy of an input (the chain) holding exactly 0 or 1: the loss clamps
    each log at -100, as PyTorch, while ∂ℓ/∂y is the unclamped -logit(x), ±inf there, also
    as PyTorch; finite differences see the clamp (a slope of ±100·w), backward the ±inf"""
    chain = TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves))
    for step, status, result in outcomes:
        if step.entry.name == "binary_cross_entropy" and step.args and step.args[0] is CHAIN \
                and ((chain == 0) | (chain == 1)).any():
            return True
        if status == "ok" and first_tensor(TAPEGRAD, result) is not None:
            chain = TAPEGRAD.to_numpy(first_tensor(TAPEGRAD, result))
    return False


def _wrong_where_smooth(function, bases, zeros, flat_bound=None, near_a_pole=None):
    """True when backward disagrees with finite differences at an entry (output k, leaf
    element j) of a Jacobian where output k is finite and smooth in x_j at this scale: the
    central differences at steps 1e-6 and 1e-8 agree, and so do the one-sided ones
    (f(x + h) - f(x))/h and (f(x) - f(x - h))/h. At the other entries neither can judge:
    the function is too curved there (digamma of digamma near a pole), or not
    differentiable, its two sides' slopes differing (relu of an exact 0 that floor made:
    the central difference is their mean, 0.5, backward's 0), or one side outside the
    domain (sqrt or log of an exact 0: NaN), or the output is not finite at x or at a
    probe. A wrong backward at an entry where the function is smooth is still found,
    whatever the other entries, of the same element or of the same output. Nor can they
    judge a slope that float64 rounds away at small steps (``_rounded_away``), a NaN
    backward where a step's result held an exact 0 and finite differences are finite
    (sqrt at exactly 0, then flat: backward's 0·inf is NaN), or a NaN or ±inf backward at
    an element where another output cannot be judged (sqrt at exactly 0: the other
    outputs' 0·∞). Nor, with ``flat_bound`` (``_flat_slopes_terms``), a finite backward
    where the function is exactly flat that is within float64's roundings of the terms it
    sums (a residue of terms of 1e14 that cancel), nor, with ``near_a_pole``
    (``_within_ulps_of_a_pole``), a finite backward where the function is exactly flat at
    an output that a step rounded to within a few spacings of a later step's pole."""
    from tapegrad.autograd.gradcheck import _analytical_jacobians, _numerical_jacobians
    indices = list(range(len(bases)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coarse = _numerical_jacobians(function, bases, indices, 1e-6)
            fine = _numerical_jacobians(function, bases, indices, 1e-8)
            analytical = _analytical_jacobians(function, bases, indices)
            sides = _one_sided_jacobians(function, bases, 1e-6)
    except Exception:  # noqa: BLE001
        return False
    analytical, coarse, fine = ([np.asarray(j) for j in js] for js in (analytical, coarse, fine))
    if zeros and any(not np.isfinite(a).all() and np.isfinite(n).all()
                     for a, n in zip(analytical, coarse)):
        return False
    for leaf, (a, c, f, (forward, backward)) in enumerate(zip(analytical, coarse, fine, sides)):
        # judged per Jacobian entry (output k, input j): a kink of one output at x_j, or an
        # output that is not finite at x or at a probe (a finite difference of ±inf says
        # nothing), leaves the other outputs' slopes at x_j to be judged
        with np.errstate(invalid="ignore"):
            smooth = (np.isfinite(c) & np.isfinite(f) & np.isfinite(forward)
                      & np.isfinite(backward)
                      & np.isclose(c, f, rtol=1e-2, atol=1e-3)
                      & np.isclose(forward, backward, rtol=1e-2, atol=1e-3))
            wrong = smooth & ~(np.abs(a - c) <= 1e-4 + 1e-3 * np.abs(c))   # (gradcheck's)
        # but a NaN or ±inf backward at x_j where another output cannot be judged is that
        # output's infinite slope times a zero (sqrt at exactly 0: 0·∞ for the other outputs)
        wrong &= np.isfinite(a) | smooth.all(axis=0)
        flat = wrong & (forward == 0) & (backward == 0) & (c == 0) & (f == 0)
        if flat.any():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    wrong &= ~(flat & _rounded_away(function, bases, leaf, a))
            except Exception:  # noqa: BLE001
                pass
        if (flat & np.isfinite(a)).any() and flat_bound is not None:
            wrong &= ~(flat & _within_bound(a, flat_bound(leaf)))
        if (wrong & flat & np.isfinite(a)).any() and near_a_pole is not None:
            wrong &= ~(flat & np.isfinite(a) & _at_rows(near_a_pole(), a.shape))
        edge = flat & ~np.isfinite(a)
        if edge.any():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    wrong &= ~(edge & _flat_at_every_step(function, bases, leaf))
            except Exception:  # noqa: BLE001
                pass
        if wrong.any():
            wrong &= ~_agrees_at_a_wider_step(function, bases, leaf, a)
        if wrong.any():
            wrong &= ~_agrees_at_two_wide_steps(function, bases, leaf, a)
        if wrong.any():
            return True
    return False


def _at_rows(rows, shape):
    """A per-output mask (None: nowhere) as a mask of Jacobian entries of ``shape``."""
    if rows is None or np.shape(rows) != shape[:1]:
        return np.zeros(shape, bool)
    return np.broadcast_to(np.asarray(rows)[:, None], shape)


def _within_bound(analytical, bound):
    """Per Jacobian entry: whether a finite backward is within ``bound`` (None: nowhere)."""
    if bound is None or np.shape(bound) != analytical.shape:
        return np.zeros(analytical.shape, bool)
    return np.isfinite(analytical) & (np.abs(analytical) <= bound)


def _flat_at_every_step(function, bases, leaf):
    """Per Jacobian entry of leaf ``leaf``: whether steps of 1e-4 to 1e-1 on both sides move
    the output by exactly nothing, as those of 1e-6 and 1e-8 did. Where backward is then ±∞
    (or NaN, ∞·0 of a later step), an earlier step rounded its result onto the pole of a
    later step's slope, and float64 holds no slope to compare it with: asin(erf(9.1)), whose
    erf is exactly 1 in float64 (1 - 1e-37), asin's slope 1/√(1 - y²) there ∞, times erf's
    1e-36; the true slope, erf'(x)/√(1 - erf(x)²), is 1e-18 (PyTorch's backward is ∞ too).
    A finite backward where the function is flat is still judged."""
    flat = None
    for eps in (1e-4, 1e-3, 1e-2, 1e-1):
        forward, backward = _one_sided_jacobians(function, bases, eps)[leaf]
        here = (forward == 0) & (backward == 0)
        flat = here if flat is None else flat & here
    return flat


def _rounded_away(function, bases, leaf, analytical):
    """Per Jacobian entry of leaf ``leaf``: whether steps of 1e-4 to 1e-1 show, on both
    sides, a slope of backward's sign within a factor 2 of it, where steps of 1e-6 and 1e-8
    moved nothing. Then an intermediate value rounded the small steps away, not a flat
    function: logit(erf(5.76)), whose erf is 1 - 3.3e-16 in float64 and moves by 4e-21 at a
    step of 1e-6, below its spacing there; backward has the slope, 12.5."""
    shown = np.zeros(analytical.shape, bool)
    for eps in (1e-4, 1e-3, 1e-2, 1e-1):
        forward, backward = _one_sided_jacobians(function, bases, eps)[leaf]
        with np.errstate(invalid="ignore", over="ignore"):
            forward_shows = (forward * analytical > 0) & (np.abs(forward) <= 2 * np.abs(analytical)) \
                & (np.abs(forward) >= 0.5 * np.abs(analytical))
            backward_shows = (backward * analytical > 0) \
                & (np.abs(backward) <= 2 * np.abs(analytical)) \
                & (np.abs(backward) >= 0.5 * np.abs(analytical))
            shown |= forward_shows & backward_shows
            shown |= _one_side_at_a_pole(forward, backward, forward_shows, backward_shows,
                                         analytical)
    return shown


def _agrees_at_a_wider_step(function, bases, leaf, analytical):
    """Per Jacobian entry of leaf ``leaf``: whether backward agrees, to gradcheck's
    tolerance, with the central difference at a step of 1e-4, where those at 1e-6 and 1e-8
    carry the rounding of an intermediate value: erfinv(cos(x)) with cos 1 - 2.7e-10 has
    spacings of 4e-7 of its distance to 1, so steps of 1e-6 see slopes 0.1% off
    (15.964 for 15.947, which the step of 1e-4 gives to 5 digits). Only where the function
    is smooth at that step too, its two one-sided differences agreeing as the small steps'
    do: a step of 1e-4 may reach a kink the small ones do not (|x| at 5e-5: sides 1 and 0,
    their mean 0.5, which a slope x/max(|x|, 1e-4) would pass)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            forward, backward = _one_sided_jacobians(function, bases, 1e-4)[leaf]
    except Exception:  # noqa: BLE001
        return np.zeros(analytical.shape, bool)
    central = (forward + backward) / 2
    with np.errstate(invalid="ignore"):
        return np.isfinite(central) & np.isclose(forward, backward, rtol=1e-2, atol=1e-3) & (
            np.abs(analytical - central) <= 1e-4 + 1e-3 * np.abs(central))


def _agrees_at_two_wide_steps(function, bases, leaf, analytical):
    """Per Jacobian entry of leaf ``leaf``: whether backward agrees, to gradcheck's
    tolerance, with the central differences at steps of both 1e-2 and 1e-1, the function
    smooth at each (its one-sided differences within 1%). Small steps miss a slope that
    an intermediate value rounds away while another term's slope shows: mvlgamma(silu(x), 3)
    at x = -29.45, whose silu y = -4.8e-12 puts poles of both lgamma(y) and lgamma(y - 1)
    next to it; a step of 1e-6 moves y by 4.6e-18, which y - 1 = -1 - 4.8e-12 (spacing
    2.2e-16) rounds away, so steps of 1e-6 and 1e-8 see lgamma(y)'s half of the slope alone
    (-0.966, smooth on both sides) where backward (PyTorch's too) has both (-1.932), which
    the wide steps give (-1.9312, -1.9321). A wrong slope at a smooth point is wrong at
    every step and still found."""
    agree = np.ones(analytical.shape, bool)
    for eps in (1e-2, 1e-1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                forward, backward = _one_sided_jacobians(function, bases, eps)[leaf]
        except Exception:  # noqa: BLE001
            return np.zeros(analytical.shape, bool)
        central = (forward + backward) / 2
        with np.errstate(invalid="ignore"):
            agree &= np.isfinite(central) & np.isclose(forward, backward, rtol=1e-2, atol=1e-3) & (
                np.abs(analytical - central) <= 1e-4 + 1e-3 * np.abs(central))
    return agree


def _one_side_at_a_pole(forward, backward, forward_shows, backward_shows, analytical):
    """Where one side shows backward's slope (within a factor 2) and the other side's step
    reached a pole in that slope's direction (±inf of its sign): erfinv(cos(x³/3)) at
    x = 0.0035, whose cos is 1 - 1.1e-16 (one spacing below 1) and is 1 at x - 1e-3, where
    erfinv is inf; the slope, -137, shows at x + 1e-3 (-118) only."""
    toward_the_pole = np.isinf(forward) | np.isinf(backward)
    with np.errstate(invalid="ignore"):
        same_sign_forward = np.isinf(forward) & (forward * analytical > 0)
        same_sign_backward = np.isinf(backward) & (backward * analytical > 0)
    return toward_the_pole & ((forward_shows & same_sign_backward)
                              | (backward_shows & same_sign_forward))


def _one_sided_jacobians(function, bases, eps):
    """For each leaf: (forward, backward) differences, arrays (output size, leaf size)."""
    def flat():
        return np.asarray(TAPEGRAD.to_numpy(function(*bases)), dtype=np.float64).reshape(-1)
    at_x = flat()
    out = []
    for base in bases:
        array = base.array
        forward = np.zeros((at_x.size, array.size))
        backward = np.zeros((at_x.size, array.size))
        for j in range(array.size):
            position = np.unravel_index(j, array.shape) if array.ndim else ()
            original = array[position].copy()
            array[position] = original + eps
            forward[:, j] = (flat() - at_x) / eps
            array[position] = original - eps
            backward[:, j] = (at_x - flat()) / eps
            array[position] = original
        out.append((forward, backward))
    return out


WRITES_AT_INDICES = {"setitem", "index_put", "index_put_", "index_copy", "index_copy_",
                     "scatter", "scatter_", "masked_scatter", "masked_scatter_"}


def _writes_at_repeated_indices(program, sizes=()):
    """A write through an integer index tensor that names one position twice (-2 and 1 are
    one place of a dimension of 3: ``sizes``, the chain's dimension sizes)."""
    for step in program.steps:
        if step.entry.name not in WRITES_AT_INDICES:
            continue
        for arg in list(step.args) + list(step.kwargs.values()):
            if isinstance(arg, LeafRef) and _repeats(program.leaves[arg.index].values, sizes):
                return True
    return False


def _chain_sizes(program, outcomes):
    """Every dimension size the chain had, before and after each step."""
    shapes = [program.leaves[0].view_shape] + [
        tuple(getattr(first_tensor(TAPEGRAD, result), "shape", ())) for _, _, result in outcomes]
    return {size for shape in shapes for size in shape}


def _writes_twice_to_one_place(program, step, sizes=()):
    """``step`` writes (without accumulating) through an integer index tensor that names
    one position twice: which write lands is undefined in PyTorch (index_put_'s and
    scatter_'s documentation), and its parallel kernels do not write last-wins as numpy
    does, so the values are not compared. A negative index names the place its size
    from the end does (``sizes``: the dimension sizes of the tensor written into)."""
    name = step.entry.name
    accumulates = step.kwargs.get("accumulate") or step.kwargs.get("reduce") or (
        name.startswith("index_put") and len(step.args) > 3 and step.args[3] is True)
    if name not in WRITES_AT_INDICES or accumulates:
        return False
    arguments = list(step.args) + list(step.kwargs.values())
    arguments += [a for arg in arguments if isinstance(arg, (tuple, list)) for a in arg]
    return any(isinstance(arg, LeafRef) and _repeats(program.leaves[arg.index].values, sizes)
               for arg in arguments)


def _repeats(values, sizes=()):
    """Whether integer indices name one place twice, as they are or, where some are
    negative, counted from the end of a dimension of one of ``sizes``."""
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        return False
    if len(np.unique(values)) < values.size:
        return True
    return bool((values < 0).any()) and any(
        len(np.unique(values % size)) < values.size for size in sizes if size > 0)


def _view_of(leaf, base):
    layout = leaf.layout
    if layout[0] == "transpose":
        return base.transpose(layout[1], layout[2])
    if layout[0] == "slice":
        return base[(slice(None),) * layout[1] + (slice(None, None, 2),)]
    if layout[0] == "expand":
        return base.expand(*leaf.view_shape)
    return base
