"""Blame of a gradient on an op: the step of the chain whose own backward first differs.

The shortest prefix whose gradient differs is found by the driver; here each step of it is
rerun alone, in both libraries, on tapegrad's values and incoming gradient, and the first
whose backward differs is named. Its difference is then judged on its own: float16 rounding
(``_local_float16_verdict``), PyTorch computing it wider, the size of its terms, a NaN's
placement in PyTorch's kernel.
"""
import math
import re

import numpy as np

import tapegrad as tg

from .generate import DType, LeafRef
from .libraries import _TapegradValues
from .libraries import (Finding, Run, TAPEGRAD, TORCH, _arguments, _in_place, _incoming_gradient,
                        _leaf_grads, _unordered, first_tensor, torch)
from .compare import compare_arrays
from .program import Program
from .float16 import FLOAT16_BOTH_NEAR, FLOAT16_NEARER, FLOAT16_TERMS, _confirmed, _float16_verdict
from .reruns import ATTENTION_GRADIENTS_BY_ITS_MATH, _attention_math_backend_call
from .reruns import (FLOAT16_ATAN2, MARKS, NORMALIZE_WIDENED, NORMALIZING, NORM_IN_FLOAT64, P_NORMS,
                     SINC_IN_FLOAT64, SLOPES_WIDENED, WIDENED_IN_TORCH, WIDENED_SLOPES,
                     _narrower, _norm_widened_call, _slopes_widened_call, _widened_call)
from .gradients import _backwards_differ, _broadcast_copies_scale, _copies_scale, _step_backward
from .operand_reruns import (BATCH_NORM_CONTIGUOUS, SPREAD_OF_SHIFTED, SPREADS, _contiguous_call,
                             _shifted_spread_call)
from .norms import (NORM_ALONE_IN_FLOAT64, NORMS, _group_norm_by_its_formula, _norm_in_float64,
                    _spread_without_freedom_in_float64)
from .terms import (_alone_within_own_terms, _own_backward_within_its_terms, _own_terms,
                    _terms_through_step, _widened_within_the_programs_terms, _within_its_terms,
                    _within_sizes, _within_the_programs_terms)
from .placement import PLACED_KERNELS, _disputed_elements, _placed_call, _placed_elsewhere
from .value_reruns import _spread_scaled_per_slice_call


LATER_GRADIENT = " [the gradient of the later steps: {}]"


def _blame_first_wrong_backward(program, chain_inputs, a, found, excuse_terms=True):
    """A gradient finding blamed on the step where the gradient first goes wrong.

    The finding names the last step of the shortest prefix whose leaves' gradients differ,
    but the difference may come from an earlier step, whose backward differs only for the
    gradient the later steps send it (an infinite slope downstream: hardtanh's slope at NaN
    meets a NaN gradient, cross_entropy's backward an infinite one, sinc's float16 slope
    8e-5 vs -0 meets log2's ∞). So each step is run again alone, last first, in both
    libraries, on tapegrad's values before it and with tapegrad's gradient of its result
    (so each backward sees the same inputs in both): the first step whose own backward
    differs beyond the tolerance is blamed, with the later steps named, and its float16
    gradients judged against the same step in float64 (``_float16_verdict``, whatever the
    leaves' dtypes). A wrong backward differs at its own step, whatever comes after it.
    Where no step's own backward differs beyond its tolerance the finding stays (values
    that differ by a rounding are judged before: ``_gradients_agree_on_tapegrad_values``),
    and so does one that a PyTorch rerun already explains (its detail marked), unless its
    residues are those of cancelling terms (``_marked_unless_cancelling``). A later
    step whose own backward differs only within the terms it sums (``_within_its_terms``:
    remainder's copies of a 0-d chain value, whose gradients cancel) is blamed only where
    the leaves' gradients then differ beyond the terms the program summed into them
    (``_within_the_programs_terms``; ``excuse_terms``: False for that second pass). In a
    program with a topk(sorted=False), only the steps after the last one are rerun
    (``_after_the_last_unordered``); where none of them is blamed, the finding stays."""
    if torch is None or not program.steps or _steps_see_a_leaf_changed_in_place(program):
        return found
    if any(f.kind == "gradient" and f.detail.endswith(MARKS) for f in found):
        return _marked_unless_cancelling(program, chain_inputs, a, found)
    last = len(program.steps) - 1
    ordered_from = _after_the_last_unordered(program)
    grad = _incoming_gradient(program, a)
    sizes, leaf_sizes = np.abs(grad), {}   # (for _within_the_programs_terms)
    later_noise = False   # a later step's own backward differs within the noise band
    excused = False   # a later step's differs within its own terms (judged with the program's)
    for k in range(last, ordered_from - 1, -1):
        ours = _step_backward(TAPEGRAD, program, k, chain_inputs[k], grad)
        theirs = _step_backward(TORCH, program, k, chain_inputs[k], grad)
        if sizes is not None and ours is not None:
            sizes = _terms_through_step(program, k, chain_inputs[k], sizes, ours, leaf_sizes)
        if ours is None or theirs is None or set(ours[1]) != set(theirs[1]):
            return found   # (a step that does not run alone, or another structure: no judge)
        differs = _backwards_differ(ours, theirs)
        differs = [] if _own_backward_within_its_terms(program, k, chain_inputs[k], grad, ours,
                                                       theirs, differs) else differs
        differs = [] if _only_other_leaves(differs, found) else differs
        if differs and (k == 0 and _within_its_terms(program, chain_inputs[0], grad, ours,
                                                     theirs, differs) or _leaf_within_its_terms(
                program, k, chain_inputs[k], grad, ours, theirs, differs)):
            later = (LATER_GRADIENT.format(", ".join(s.entry.name for s in program.steps[k + 1:]))
                     if k < last else "")
            return [Finding("gradient-float-noise", program.steps[k].entry.name,
                            "cancelling terms: " + f.detail + later, program.seed)
                    if f.kind == "gradient" else f for f in found]
        if differs and k > 0 and excuse_terms and _within_its_terms(
                program, chain_inputs[k], grad, ours, theirs, differs, k):
            excused, differs = True, []
        if differs:
            verdict = _local_float16_verdict(program, k, chain_inputs[k], grad, ours, theirs,
                                             differs)
            mark = (_explained_alone(program, k, chain_inputs[k], grad, ours, later_noise)
                    or _group_norm_by_its_formula(program, k, chain_inputs[k], grad, ours)
                    or _spread_without_freedom_in_float64(program, k, chain_inputs[k], grad, ours)
                    or _placed_elsewhere(program, k, chain_inputs[k], grad, ours)
                    or _disputed_elements(program, k, chain_inputs[k], grad, ours)
                    or _norm_scaled_per_slice_alone(program, k, chain_inputs[k], grad, ours)
                    or _float16_past_the_range_in_both(program, k, chain_inputs[k], grad, ours,
                                                       theirs))
            if k == last:   # this step's own backward: the finding stays where it is
                return [f._replace(detail=(f.detail if f.detail.startswith(
                    (FLOAT16_NEARER, FLOAT16_BOTH_NEAR)) else verdict + f.detail) + mark)
                        if f.kind == "gradient" else f for f in found]
            # (the leaves' gradients stay the evidence, as for a step's own finding)
            later = LATER_GRADIENT.format(", ".join(s.entry.name for s in program.steps[k + 1:]))
            return [Finding("gradient", program.steps[k].entry.name,
                            verdict + f.detail.removeprefix(FLOAT16_NEARER).removeprefix(
                                FLOAT16_BOTH_NEAR) + later + mark, program.seed)
                    if f.kind == "gradient" else f for f in found]
        later_noise = later_noise or _backwards_differ(ours, theirs, within_noise=True)
        grad = ours[1].get("input")
        if grad is None:   # no gradient flows into the chain before this step
            break
    if ordered_from:   # (no step blamed after the unordered one: no judge of the rest)
        return found
    # (differences below each step's tolerance, magnified by a later slope, stay; those
    # within the size of the terms the program's backward summed are rounding)
    judged = _within_the_programs_terms(program, a, found, chain_inputs, leaf_sizes)
    judged = _widened_within_the_programs_terms(program, a, judged, chain_inputs, leaf_sizes)
    if excused and any(f.kind == "gradient" for f in judged):   # (blamed on that step, then)
        return _blame_first_wrong_backward(program, chain_inputs, a, found, excuse_terms=False)
    found = judged
    mark = any(f.kind == "gradient" for f in found) and (
        _placed_in_the_program(program, a) or _tanh_outputs_in_the_program(program, a))
    return [f._replace(detail=f.detail + mark) if mark and f.kind == "gradient" else f
            for f in found]


def _marked_unless_cancelling(program, chain_inputs, a, found):
    """A gradient finding that a PyTorch rerun explains (its detail ends with a mark of
    MARKS) is not blamed: it stays as it is, for the allowlist's entries on its mark. But
    the rerun agrees only to the tolerance, so where the gradient is 0 in the math and both
    libraries keep rounding residues of cancelling terms (cosine_similarity along a dim that
    broadcasts one operand: scaling that operand leaves the cosine as it is, and its copies'
    gradients cancel), the rerun's residue may fall within the tolerance of tapegrad's by
    chance while PyTorch's own does not. The finding is then judged as an unmarked one: where
    its blame ends in the rounding of cancelling terms (``_within_the_programs_terms``; no
    step's own backward differs beyond them), it is float noise, its mark kept."""
    unmarked = [f._replace(detail=next(f.detail.removesuffix(mark) for mark in MARKS
                                       if f.detail.endswith(mark)))
                if f.kind == "gradient" and f.detail.endswith(MARKS) else f for f in found]
    judged = _blame_first_wrong_backward(program, chain_inputs, a, unmarked)
    if any(f.kind == "gradient" for f in judged):
        return found
    return [Finding("gradient-float-noise", f.op, "cancelling terms: " + f.detail, f.seed)
            if f.kind == "gradient" else f for f in found]


def _after_the_last_unordered(program):
    """The first step after the program's last topk(sorted=False) (0 where there is none):
    the blame reruns only the steps from there on. Those read topk's values in the order of
    their indices in both libraries, as the driver goes on (``_ordered_chains``), and so
    does each alone, on tapegrad's values; topk's own result alone is in each library's own
    order, which the gradient sent back to it does not follow, and the program's reruns
    from its start (the judges after the steps) would see the libraries' orders."""
    return 1 + max((k for k, step in enumerate(program.steps) if _unordered(step)), default=-1)


def _only_other_leaves(differs, found):
    """True when a step's own backward differs only in the gradients of leaves that no
    gradient finding names (mul's 0-d leaf Σ c·g, terms of 1e29 cancelling): that cannot be
    what makes another leaf's gradient differ, which flows only through the chain's
    ``input``. The blame goes on to the earlier steps; the leaf's own difference, where it
    is one, is a finding of its own."""
    named = {leaf for f in found if f.kind == "gradient"
             for leaf in re.findall(r"\b(leaf\d+) \(", f.detail)}
    return bool(differs) and all(what != "input" and what not in named for what, _ in differs)


PLACED_IN_THE_PROGRAM = (" [PyTorch gives tapegrad's gradients with its elementwise "
                         "activations' inputs placed in one loop of their kernels]")


def _placed_in_the_program(program, a):
    """PLACED_IN_THE_PROGRAM where the program run again in PyTorch with each step of
    PLACED_KERNELS on its input placed in one loop of its kernel (``_placed_call``: all in
    the vectorised loop, or each element alone in the scalar loop) gives tapegrad's leaves'
    gradients, else "". Run alone on a contiguous copy of its input, such a step may take
    the other loop than in the program (a transposed input's result keeps its strides), so
    that no step's own backward differs there."""
    if not any(s.entry.name in PLACED_KERNELS for s in program.steps):
        return ""
    grad = _incoming_gradient(program, a)
    results = {}
    for name, library, call in (("tapegrad", TAPEGRAD, None),
                                ("vectorised", TORCH, _placed_call("vectorised")),
                                ("alone", TORCH, _placed_call("alone"))):
        run = Run(library)
        run.chain = run.materialize(LeafRef(0), program.leaves)
        for step in program.steps:
            placed = call if call and step.entry.name in PLACED_KERNELS else Run.call
            status, result = placed(run, step, program.leaves)
            run.chain = first_tensor(library, result) if status == "ok" else None
            if run.chain is None:
                break
        if run.chain is None or tuple(run.chain.shape) != grad.shape or \
                not run.chain.requires_grad:
            continue
        make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
        try:
            results[name] = _leaf_grads(run, run.chain, make(grad.copy()))
        except Exception:  # noqa: BLE001 - no mark without the gradients
            continue
    ours = results.get("tapegrad")
    if ours is None:
        return ""
    through_float16 = any(leaf.values.dtype == np.float16 for leaf in program.leaves)
    for placement in ("vectorised", "alone"):
        theirs = results.get(placement)
        if theirs is None or set(theirs) != set(ours):
            continue
        if all((g is None) == (theirs[i] is None) and (g is None or not compare_arrays(
                g, theirs[i].astype(g.dtype), "float16" if through_float16 else str(g.dtype)))
               for i, g in ours.items()):
            return PLACED_IN_THE_PROGRAM
    return ""


TANH_OUTPUT = (" [tanh's output an ulp from PyTorch's next to ±1: PyTorch's backward from "
               "tapegrad's output agrees]")


def _tanh_of_tapegrads_output_call(run, step, leaves, on_a_copy=False):
    """``run.call`` of tanh (TANH_OUTPUT) on an input whose PyTorch tanh is tapegrad's:
    numpy's float32 tanh is one ulp inside ±1 where PyTorch's rounds to the nearest
    (tanh(8.6465) = 1 - 6.2e-8: 0.9999999 against 0.99999994), and the slope 1 - y²
    taken from the output is then 2.4e-7 against 1.2e-7. The input is atanh of tapegrad's
    output, the gradient passed through unchanged; where PyTorch's tanh of it is not
    tapegrad's output exactly, the call fails (no judge)."""
    chain = run.chain
    x = TORCH.to_numpy(chain.detach())
    ours = np.tanh(x)
    # (elsewhere an ulp of y moves the slope by an ulp: only next to ±1, within 4 ulps, is
    # the input replaced, where 1 - y² has a digit or two)
    near = np.abs(ours) >= 1 - 4 * np.finfo(ours.dtype).epsneg
    with np.errstate(divide="ignore", invalid="ignore"):
        before = np.where(near, np.arctanh(ours.astype(np.float64)).astype(ours.dtype), x)
    for _ in range(8):   # (PyTorch's tanh of that rounds an ulp off: step it to one that fits)
        theirs = torch.tanh(torch.from_numpy(before)).numpy()
        off = near & (theirs != ours)
        if not off.any():
            break
        before = np.where(off, np.nextafter(before, np.where(theirs < ours, np.inf, -np.inf)
                                            .astype(before.dtype)), before)
    if (near & (torch.tanh(torch.from_numpy(before)).numpy() != ours)).any():
        return "error", ValueError("no input whose PyTorch tanh is tapegrad's")
    before = torch.from_numpy(before)
    run.chain = _TapegradValues.apply(chain, before) if chain.requires_grad else before
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _tanh_outputs_in_the_program(program, a):
    """TANH_OUTPUT where the program run again in PyTorch with each tanh step from
    tapegrad's output (``_tanh_of_tapegrads_output_call``) gives tapegrad's leaves'
    gradients, else "". Run alone, the step's slope, 2.4e-7 against 1.2e-7, is within its
    tolerance of the gradient it is sent; a later slope (lgamma's digamma, -5690 at 1.8e-4)
    makes it the leaf's gradient, 0.0017 against 0.0009."""
    if not any(s.entry.name in ("tanh", "tanh_") for s in program.steps):
        return ""
    grad = _incoming_gradient(program, a)
    results = {}
    for library, call in ((TAPEGRAD, Run.call), (TORCH, _tanh_of_tapegrads_output_call)):
        run = Run(library)
        run.chain = run.materialize(LeafRef(0), program.leaves)
        for step in program.steps:
            status, result = (call if step.entry.name in ("tanh", "tanh_") else Run.call)(
                run, step, program.leaves)
            run.chain = first_tensor(library, result) if status == "ok" else None
            if run.chain is None:
                return ""
        if tuple(run.chain.shape) != grad.shape or not run.chain.requires_grad:
            return ""
        make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
        try:
            results[library.name] = _leaf_grads(run, run.chain, make(grad.copy()))
        except Exception:  # noqa: BLE001 - no mark without the gradients
            return ""
    ours, theirs = results.values()
    if set(theirs) != set(ours):
        return ""
    # (to the tolerance, not the noise band: PyTorch from tapegrad's own output computes
    # the same slopes, so a later step's backward 1% off, lgamma's, is not let through)
    agree = all((g is None) == (theirs[i] is None) and (g is None or compare_arrays(
        g, theirs[i].astype(g.dtype), str(g.dtype)) is None) for i, g in ours.items())
    return TANH_OUTPUT if agree else ""


# the marks of a step's backward that PyTorch rounds in too narrow a float, rerun wider: the
# rerun is the step's gradients rounded once
WIDENED_MARKS = (FLOAT16_ATAN2, NORM_IN_FLOAT64, SINC_IN_FLOAT64, NORMALIZE_WIDENED, SLOPES_WIDENED)


def _explained_alone(program, k, chain_input, grad, ours, later_noise=False):
    """``_explained_in_torch``'s mark for step ``k`` alone, where its backward is one PyTorch
    is known to compute in too narrow a float (FLOAT16_ATAN2, NORM_IN_FLOAT64,
    SINC_IN_FLOAT64, NORMALIZE_WIDENED, SLOPES_WIDENED: gelu's float32 slope in its far
    tail): the mark where PyTorch's backward of the step computed in the wider
    float (the same forward, rounded back) gives tapegrad's gradients, each element to the
    roundings of its own terms (``_alone_within_own_terms``), else "". A slope
    blamed before later steps whose own backwards differ within the noise band
    (``later_noise``: float16's 10%, where a later wrong slope hides) is not explained by
    SLOPES_WIDENED: the leaves' gradients hold those differences too. A float32 or float64
    layer_norm or group_norm under a finite gradient is rerun by its formula in float64
    (NORM_ALONE_IN_FLOAT64; an infinite one has judges of its own), a std or var on each
    slice less its least value (SPREAD_OF_SHIFTED)."""
    name = program.steps[k].entry.name
    call, mark = ((_widened_call, FLOAT16_ATAN2) if name in WIDENED_IN_TORCH else
                  (_norm_widened_call, NORM_IN_FLOAT64) if name in P_NORMS else
                  (_norm_widened_call, SINC_IN_FLOAT64) if name == "sinc" else
                  (_norm_widened_call, NORMALIZE_WIDENED) if name in NORMALIZING else
                  (_contiguous_call, BATCH_NORM_CONTIGUOUS) if name == "batch_norm" else
                  (_norm_in_float64, NORM_ALONE_IN_FLOAT64)
                  if name in NORMS and ours[0] != "float16" and np.isfinite(grad).all() else
                  (_shifted_spread_call, SPREAD_OF_SHIFTED) if name in SPREADS else
                  (_tanh_of_tapegrads_output_call, TANH_OUTPUT) if name in ("tanh", "tanh_") else
                  (_attention_math_backend_call, ATTENTION_GRADIENTS_BY_ITS_MATH)
                  if name == "scaled_dot_product_attention" else
                  (_slopes_widened_call, SLOPES_WIDENED)
                  if name in WIDENED_SLOPES and not later_noise else
                  (None, ""))
    if call is None:
        return ""
    wide = _step_backward(TORCH, program, k, chain_input, grad, call=call)
    if wide is None or set(wide[1]) != set(ours[1]):
        return ""
    # (a rerun in a wider float rounds once: each element to the roundings of its own terms,
    # where the noise band at 1 would pass a normalize or atan2 whose small gradient is off)
    if mark in WIDENED_MARKS:
        return mark if _alone_within_own_terms(program, k, chain_input, grad, ours, wide) else ""
    differs = _backwards_differ(ours, wide)
    # (not a std's or var's: terms 1e10 times its gradient would let a wrong slope pass,
    # and its shifted slices leave no residue to excuse)
    terms = _own_terms(program, k, chain_input, grad) if differs and \
        mark != SPREAD_OF_SHIFTED else {}
    for _, key in differs:
        g, h = ours[1][key], wide[1][key]
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" \
            else str(g.dtype)
        if g is None or h is None or key not in terms or not _within_sizes(
                g, h.astype(g.dtype), dtype, terms[key],
                FLOAT16_TERMS if dtype == "float16" else None):
            return ""
    return mark


NORM_SCALED_PER_SLICE = (" [a float64 p-norm's backward alone: PyTorch agrees with each slice "
                         "scaled by a power of two near its largest magnitude, and its result "
                         "scaled back]")


def _norm_scaled_per_slice_alone(program, k, chain_input, grad, ours):
    """NORM_SCALED_PER_SLICE where step ``k`` is a float64 norm whose backward alone PyTorch
    gives as tapegrad does with each slice scaled by 2⁻ᵉ to a largest magnitude in [0.5, 1)
    and its result by 2ᵉ after (``_spread_scaled_per_slice_call``: exact, the same function),
    each element to the roundings of its own terms (``_alone_within_own_terms``), else "".
    PyTorch's backward of a p-norm (p > 2) forms x·|x|^(p-2) and ‖x‖^(p-1) apart, which
    pass float64's range beyond ~1e154 for p = 3 (inf/inf = NaN) where the slope
    (|x|/‖x‖)^(p-1) fits (1 for a lone 1e262); no wider float reruns it (NORM_IN_FLOAT64
    is for float16 and float32 norms)."""
    if program.steps[k].entry.name != "norm" or ours[0] != "float64":
        return ""
    scaled = _step_backward(TORCH, program, k, chain_input, grad,
                            call=_spread_scaled_per_slice_call)
    if scaled is None or not _alone_within_own_terms(program, k, chain_input, grad, ours, scaled):
        return ""
    return NORM_SCALED_PER_SLICE


FLOAT16_PAST_THE_RANGE_IN_BOTH = (" [a float16 normalize, cosine_similarity or pairwise_distance "
                                  "alone: PyTorch's float16 backward too leaves the range where "
                                  "tapegrad's does, elsewhere tapegrad's is PyTorch's in float32]")


def _float16_past_the_range_in_both(program, k, chain_input, grad, ours, theirs):
    """FLOAT16_PAST_THE_RANGE_IN_BOTH where step ``k`` is a float16 normalize,
    cosine_similarity or pairwise_distance under a finite gradient whose backward alone is
    ±inf or NaN in tapegrad at some elements of finite values, PyTorch's own float16
    backward (``theirs``) is ±inf or NaN at each of them too, and at every other element
    tapegrad's is PyTorch's backward of the step computed in float32 (``_norm_widened_call``)
    to the roundings of its own terms (``_alone_within_own_terms``), else "". At a tiny norm
    (‖x‖ ≈ 1.4e-5) the division's ∂/∂‖x‖ = -Σ g·x/‖x‖² passes 65504 in tapegrad (-inf), and
    PyTorch's p-norm backward divides by ‖x‖^(p-1), which underflows to 0 (NaN), where the
    gradient itself may fit: neither library's float16 steps can give it. A normalize's
    slice whose norm itself passes the range (``_normalized_by_an_infinite_norm``) has
    tapegrad's slope 0 there against PyTorch's NaN. The chain's infinite values (NaN in
    both) are judged by the float32 rerun; the other operands must be finite."""
    if program.steps[k].entry.name not in NORMALIZING or ours[0] != "float16" or \
            not np.isfinite(grad).all() or set(theirs[1]) != set(ours[1]):
        return ""
    run = Run(TAPEGRAD)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_input is None
                 else tg.from_numpy(np.array(chain_input[0])))
    operands = [run.materialize(a, program.leaves) for a in _arguments(program.steps[k])]
    if not all(np.isfinite(TAPEGRAD.to_numpy(v.detach()).astype(np.float64)).all()
               for v in operands if TAPEGRAD.is_tensor(v) and v is not run.chain):
        return ""
    finite = np.isfinite(TAPEGRAD.to_numpy(run.chain.detach()).astype(np.float64))
    wide = _step_backward(TORCH, program, k, chain_input, grad, call=_norm_widened_call)
    if wide is None or set(wide[1]) != set(ours[1]):
        return ""
    infinite_norm = _normalized_by_an_infinite_norm(program, k, run)
    reference, both_leave = {}, False
    for key, g in ours[1].items():
        h, w = theirs[1][key], wide[1][key]
        if g is None or h is None or w is None or not g.shape == h.shape == w.shape:
            reference[key] = w
            continue
        past = ~np.isfinite(g) & ~np.isfinite(h)   # (elsewhere the float32 rerun judges)
        if infinite_norm is not None and infinite_norm.shape == g.shape:
            past = past | (infinite_norm & (g == 0) & ~np.isfinite(h))
        # (an infinite value's NaN is not the step's overflow: the float32 rerun judges it)
        past = past & (finite if finite.shape == g.shape else finite.all())
        both_leave = both_leave or bool(past.any())
        reference[key] = np.where(past, g, w.astype(g.dtype))
    if not both_leave or not _alone_within_own_terms(program, k, chain_input, grad, ours,
                                                     (wide[0], reference)):
        return ""
    return FLOAT16_PAST_THE_RANGE_IN_BOTH


def _normalized_by_an_infinite_norm(program, k, run):
    """For step ``k`` a normalize in tapegrad (``run``: its operands made), where each element
    is divided by a norm past the dtype's range: y = 0 at a finite x ≠ 0 (float16's 3-norm
    of three 6.3e4s is 9.1e4). Its slope (|x|/‖x‖)^(p-1) is 0 there, where PyTorch's x·|x|
    overflows (NaN), as a p-norm's (INFINITE_NORM). None for another step."""
    if program.steps[k].entry.name != "normalize":
        return None
    x = TAPEGRAD.to_numpy(run.chain.detach())
    status, result = run.call(program.steps[k], program.leaves)
    y = first_tensor(TAPEGRAD, result) if status == "ok" else None
    if y is None or tuple(y.shape) != x.shape:
        return None
    return (TAPEGRAD.to_numpy(y.detach()) == 0) & (x != 0) & np.isfinite(x)


def _steps_see_a_leaf_changed_in_place(program):
    """An in-place step on the first leaf itself (the chain before any step, when it needs
    no gradient) that a later step reads as a leaf: run alone, that step would read the
    leaf's first values."""
    writes = [i for i, s in enumerate(program.steps) if _in_place(s)]
    return bool(writes) and any(
        isinstance(a, LeafRef) and a.index == 0 for s in program.steps[writes[0] + 1:]
        for a in _arguments(s))


def _local_float16_verdict(program, k, chain_input, grad, ours, theirs, differs):
    """For one step's backward that differs where float16 is involved (its result, the
    chain before it, or a gradient): ``_float16_verdict`` of the gradients that differ
    against the same step's backward in float64 (its inputs and incoming gradient exactly
    as here, each gradient computed exactly and rounded once), in tapegrad and confirmed
    in PyTorch; else "". Whatever the leaves' dtypes, so a float32 leaf's gradient that
    passed a float16 step is judged at that step."""
    keys = [key for _, key in differs]
    if not (ours[0] == "float16" or grad.dtype == np.float16 or any(
            ours[1][key] is not None and ours[1][key].dtype == np.float16 for key in keys)):
        return ""
    if any(ours[1][key] is None or theirs[1][key] is None for key in keys):
        return ""
    reference = _step_backward(TAPEGRAD, program, k, chain_input, grad, "float64",
                               call=_float64_dtype_call)
    # (its operands contiguous: PyTorch's float64 batch_norm backward reads a strided
    # weight as if contiguous, each channel scaled by another's γ)
    t_reference = _step_backward(TORCH, program, k, chain_input, grad, "float64",
                                 call=_float64_dtype_contiguous_call)
    if reference is None or t_reference is None or reference[0] != "float64" or not all(
            key in reference[1] and key in t_reference[1] for key in keys):
        return ""   # (a step that casts, half() or to(float16), has no float64 reference)
    if not _confirmed([reference[1][key] for key in keys], [t_reference[1][key] for key in keys]):
        return ""
    pairs = [(ours[1][key], theirs[1][key].astype(ours[1][key].dtype), reference[1][key])
             for key in keys]
    return _float16_verdict(pairs) or _float16_verdict(
        pairs, _step_terms_scale(program, k, chain_input, grad, ours, keys))


def _leaf_within_its_terms(program, k, chain_input, grad, ours, theirs, differs):
    """True when step ``k`` (after the first) differs only in the gradients of leaves that
    no other step uses, by the rounding of the terms it sums: x·s of a float32 x and a 0-d
    float64 leaf s, whose gradient Σ g·x (terms of 5, summed in float32) is 1.3e-4 from
    terms that cancel. The leaf's gradient is that of this step alone, so the terms' size
    (Σⱼ |Jⱼᵢ gⱼ|, one backward per output element, at most 64) bounds its rounding; the
    tolerance is that of the narrower of the leaf's and the step's result's dtypes."""
    keys = [key for _, key in differs]
    if k == 0 or grad.size > 64 or not np.isfinite(grad).all() or not all(
            isinstance(key, int) and key != 0 for key in keys):
        return False
    if any(LeafRef(key) in _arguments(step) for key in keys
           for i, step in enumerate(program.steps) if i != k):
        return False   # (a leaf another step uses too: its gradient sums theirs as well)
    sizes = {}
    for j in np.flatnonzero(grad):
        alone = np.zeros_like(grad)
        alone.reshape(-1)[j] = grad.reshape(-1)[j]
        part = _step_backward(TAPEGRAD, program, k, chain_input, alone)
        if part is None:
            return False
        for key in keys:
            if part[1].get(key) is not None:
                sizes[key] = sizes.get(key, 0) + np.abs(part[1][key].astype(np.float64))
    for key in keys:
        g, h = ours[1][key], theirs[1][key]
        if g is None or h is None or key not in sizes:
            return False
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" else \
            _narrower(g.dtype, ours[0])
        if not _within_sizes(g, h.astype(g.dtype), dtype, sizes[key]):
            return False
    return True


def _float64_dtype_call(run, step, leaves, on_a_copy=False, call=None):
    """``run.call`` with a float ``dtype=`` argument made float64, for a step's float64
    reference: cumsum(x, dtype=float32) of a float16 x computes in float64 there, as its
    inputs (else its result, float32, is no reference)."""
    kwargs = {name: DType("float64") if isinstance(value, DType) and value.name in (
        "float16", "bfloat16", "float32") else value for name, value in step.kwargs.items()}
    call = call or Run.call
    if kwargs == step.kwargs:   # (the step itself: a call may know it by its identity)
        return call(run, step, leaves, on_a_copy=on_a_copy)
    return call(run, step._replace(kwargs=kwargs), leaves, on_a_copy=on_a_copy)


def _float64_dtype_contiguous_call(run, step, leaves, on_a_copy=False):
    """``_float64_dtype_call`` through ``_contiguous_call`` (PyTorch's reference)."""
    return _float64_dtype_call(run, step, leaves, on_a_copy, call=_contiguous_call)


def _step_terms_scale(program, k, chain_input, grad, ours, keys):
    """The size of the terms step ``k``'s backward sums into the gradients ``keys`` (else
    None): Σⱼ |Jⱼᵢ gⱼ| over its output elements (one backward per element, at most 64), and
    for a leaf the step expands or broadcasts (a 0-d number), the sum of its copies'
    |gradients| (``_copies_scale``, ``_broadcast_copies_scale``, of the step alone). Where
    the gradient is 0 in the math (cosine_similarity of a vector of one value: the cosine
    is ±1, at its extremum) both libraries keep a float16 residue of that size."""
    sizes = []
    if grad.size <= 64 and np.isfinite(grad).all():
        split = {}
        for j in np.flatnonzero(grad):
            alone = np.zeros_like(grad)
            alone.reshape(-1)[j] = grad.reshape(-1)[j]
            part = _step_backward(TAPEGRAD, program, k, chain_input, alone)
            if part is None:
                break
            for key in keys:
                if part[1].get(key) is not None:
                    split[key] = split.get(key, 0) + np.abs(part[1][key].astype(np.float64))
        sizes += [float(v[np.isfinite(v)].max(initial=0)) for v in split.values()]
    step = program.steps[k]
    sub = Program(program.seed)
    sub.leaves, sub.steps = list(program.leaves), [step]
    if chain_input is not None:
        if LeafRef(0) in _arguments(step):
            return max(sizes, default=None)
        values, requires_grad = chain_input
        sub.leaves[0] = sub.leaves[0]._replace(values=values, requires_grad=requires_grad,
                                               layout=("contiguous",), view_shape=values.shape)
    for key in keys:
        if key == "input" or key == 0 and chain_input is not None:   # (leaf 0: the chain)
            continue
        scale = _broadcast_copies_scale(sub, key, grad)
        if scale is None and program.leaves[key].layout[0] == "expand":
            run = Run(TAPEGRAD)
            run.chain = run.materialize(LeafRef(0), sub.leaves)
            status, result = run.call(step, sub.leaves)
            value = first_tensor(TAPEGRAD, result) if status == "ok" else None
            if value is not None and tuple(value.shape) == grad.shape:
                scale = _copies_scale(sub, run, key, value, grad)
        if scale is not None and math.isfinite(scale):
            sizes.append(scale)
    return max(sizes, default=None)
