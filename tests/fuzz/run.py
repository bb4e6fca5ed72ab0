"""Running one seeded program in tapegrad (and PyTorch when importable) and comparing.

Each step runs in both libraries before the next is drawn, so the next step's
arguments fit the shape both agree on; the chain stops at the first step that raises
or disagrees. A disagreement is a ``Finding`` named by its kind and the operation of
the step where it first shows (for a gradient: the shortest prefix of the chain whose
gradient already differs, compared right after that step ran, before a later in-place
step could change the prefix and rebase its history; then, of that prefix, the step
whose own backward first differs, each step rerun alone on tapegrad's values and
incoming gradient: ``_blame_first_wrong_backward``).

Compared with PyTorch: errors vs success, shapes, dtypes, values (NaN and inf where the
other has them too, finite values to a tolerance per dtype and per element, the elements
finite in both compared too where NaN or inf differ), ``requires_grad`` and the leaves'
gradients. A refusal in one library only is marked where the fuzzer checks its reason
(``_refusal_explained``). Checked in tapegrad alone:
  raw-error     an error raised inside numpy, or a Python bug (AttributeError, KeyError…)
  float-dtypes  a step that raises in float32 but not in float64, or the other way
  promotion     a binary arithmetic result whose dtype is not that of the same call on
                inputs cast to ``tapegrad.dtypes.result_type`` of them
  gradcheck     float64 finite differences disagree with backward at an element of a leaf
                where the program is smooth (not at a kink, pole or domain edge)

A float16 value or gradient that differs beyond the tolerance (or by NaN/inf) is judged
against a float64 replay of the program that rounds its chain to float16 between steps
(in tapegrad, confirmed by the same replay in PyTorch): where tapegrad agrees with it and
PyTorch does not, PyTorch rounded an intermediate inside an operation (cosh's backward
g·sinh(x) with sinh(x) in float16 first), and the finding's detail says so
(``FLOAT16_NEARER``; ``FLOAT16_BOTH_NEAR`` where both agree with it, one having rounded
past 65504 to inf). Where PyTorch agrees with it and tapegrad does not, the finding stays.
A gradient is judged the same way at the step where it first goes wrong, that step alone
in float64 on the same inputs and incoming gradient, whatever the leaves' dtypes (a
float32 leaf whose gradient passed a float16 step: ``_local_float16_verdict``).

Sums of terms that cancel (1e30 - 1e30 + x, a 0-d leaf's broadcast copies, a first step's
gradient that is 0 in the math from terms of 1e6, copies of a chain element that log_softmax
normalises) are compared to the tolerance of their terms, not of the result (float16's: a
few of its roundings of their size). An elementwise activation's gradient at a NaN, which
PyTorch's kernel gives one way in its vectorised loop and another in its scalar one, is
judged with the same values placed in each loop (``_placed_elsewhere``). A gradient PyTorch
gives differently in identical runs (after sgn, whose zero tensor a later backward reads as
memory) is no reference where it changes (``_torch_gradient_changes_between_runs``). PyTorch is not
run where it is known to kill the process or to run for minutes
(``_smallest_integer_by_minus_one``, ``_polygamma_far_below_0``,
``_float16_conv1d_of_padding_alone``): tapegrad's result then stands alone, allowlisted.

This file is the driver; each judge lives in a file of its own, lower files never importing
higher ones: libraries.py (building and calling in both libraries), compare.py (values,
errors, refusals), program.py, float16.py (the float16 judge), operand_reruns.py, reruns.py
and value_reruns.py (PyTorch rerun to confirm an allowlist reason), gradients.py (comparing
the leaves' gradients), norms.py, terms.py (sums of cancelling terms), placement.py (a NaN's
place in PyTorch's kernel), blame.py (the step a gradient is blamed on), value_marks.py (the
reasons a value differs) and invariants.py (tapegrad alone).
"""
import numpy as np

import tapegrad as tg

from . import catalogue
from .generate import FLOATS, INTEGERS, draw_step, fuzzable, random_shape
from .libraries import (Finding, Run, TAPEGRAD, TORCH, _leaves_through_float16, _ordered_chains,
                        _unordered, first_tensor, torch)
from .compare import _argument_error, _refusal_explained, compare_results, raw_error
from .program import Program
from .float16 import _float16_value_verdict
from .operand_reruns import _operand_value_mark
from .reruns import (_gammas_agree_widened, _normalizing_agrees_widened, _p_norm_agrees_widened,
                     _torch_gradient_changes_between_runs)
from .value_reruns import _marked_by_a_rerun
from .gradients import (_compare_gradients, _gradients_agree_on_tapegrad_values,
                        _gradients_within_their_largest, _layouts, _weighted_mean_terms)
from .norms import (NORMS, NORMS_IN_FLOAT64, _batch_norm_agrees_by_its_formula,
                    _gradients_agree_with_norms_in_float64,
                    _norm_agrees_by_its_formula)
from .blame import _blame_first_wrong_backward
from .placement import _added_in_the_vectorised_loop
from .terms import _products_past_float32_both_ways, _products_past_float32_one_way
from .value_marks import (CASTS, TWO_VALUES, _agrees_on_tapegrad_input, _attention_of_rounded_scores,
                          _cast_of_unrepresentable,
                          _equal_channels_alone_differ, _equal_value_groups,
                          _factors_of_a_singular_matrix, _float64_gelus_before_are_exact,
                          _inherited_shape,
                          _products_round_their_exact_sum,
                          _lone_groups_differ_by_a_residue, _lone_value_groups,
                          _losses_overflow_both_ways, _mean_of_huge_terms,
                          _spread_of_equal_values,
                          _sum_is_a_rounding_residue, _sums_cancelling_terms,
                          _through_the_norms_input_alone,
                          _torch_factors_in_float64, _torch_normalised_an_overflow)
from .invariants import _float_dtypes, _gradcheck, _promotion, _writes_twice_to_one_place


ENTRIES = [e for e in catalogue.entries() if fuzzable(e)]


def run_program(seed, compare_with_torch=True, check_invariants=True, entries=None):
    """Run the program of ``seed`` (drawing its operations from ``entries``, by default
    every fuzzable one); (its findings, the Program)."""
    entries = entries or ENTRIES
    program = Program(seed)
    rng = program.rng
    use_torch = compare_with_torch and torch is not None
    first_dtype = rng.choice(FLOATS * 3 + INTEGERS + ("bool",))
    ctx = program.context((), first_dtype)
    first = ctx.add_leaf(random_shape(ctx), first_dtype)
    runs = {"tapegrad": Run(TAPEGRAD)}
    if use_torch:
        runs["torch"] = Run(TORCH)
    for run in runs.values():
        run.chain = run.materialize(first, program.leaves)
    findings, gradient_findings = [], []
    weighted_means = {}   # leaf index -> a weighted mean it weights (_weighted_mean_terms)
    norm_values = {}   # id of a layer_norm or group_norm step -> tapegrad's result
    lone_groups = False   # a group_norm of groups of one value, or a layer_norm or group_norm
    # of a group of equal values, so far (PyTorch's gradients through its x̂ carry no digit,
    # at its step and later: _gradients_agree_with_norms_in_float64 judges them)
    through_float16 = first_dtype == "float16"   # a gradient that passed float16 has its precision
    chain_inputs = []   # per step: (tapegrad's chain before it, whether it required grad)
    result_dtypes = []   # per step: tapegrad's result's dtype (_leaves_through_float16)
    shape, dtype = program.leaves[0].view_shape, first_dtype
    for _ in range(int(rng.integers(1, 7))):
        entry = entries[int(rng.integers(len(entries)))]
        step = draw_step(program.context(shape, dtype), entry)
        if step is None:
            continue
        if _allocates_too_much(step, runs["tapegrad"].chain):
            break
        program.steps.append(step)
        chain_before = (np.array(TAPEGRAD.to_numpy(runs["tapegrad"].chain))
                        if use_torch and program.steps[:-1] else None)
        equal_groups_here = _equal_value_groups(step, runs["tapegrad"].chain)
        step_input = (np.array(TAPEGRAD.to_numpy(runs["tapegrad"].chain))
                      if entry.name in ("batch_norm", "group_norm") + CASTS and
                      TAPEGRAD.is_tensor(runs["tapegrad"].chain)
                      else None)
        lone_groups = lone_groups or equal_groups_here
        chain_inputs.append(None if chain_before is None else   # (for _first_wrong_backward)
                            (chain_before, bool(runs["tapegrad"].chain.requires_grad)))
        outcomes = {name: run.call(step, program.leaves) for name, run in runs.items()}
        status, result = outcomes["tapegrad"]
        if status == "error" and check_invariants and raw_error(result):
            findings.append(Finding("raw-error", entry.name, raw_error(result), seed))
        if use_torch:
            t_status, t_result = outcomes["torch"]
            if status != t_status:
                kind = "tapegrad-raises" if status == "error" else "tapegrad-computes"
                error = result if status == "error" else t_result
                if status == "ok" and _argument_error(t_result):
                    kind = "signature"
                mark = (kind == "tapegrad-computes" and
                        _torch_factors_in_float64(program, step, chain_before, result)) or \
                    _refusal_explained(program, step, runs, kind, str(error), result)
                findings.append(Finding(kind, entry.name,
                                        f"{type(error).__name__}: {str(error)[:200]}"
                                        f"{mark or ''}", seed))
                break
            if status == "ok":
                if _unordered(step):
                    result, t_result = _in_order(step, result, t_result)
                diffs = compare_results(result, t_result, entry.name)
                if any(k == "value" for k, _ in diffs) and (_sums_cancelling_terms(
                        program, step, chain_before, result, t_result) or
                        _sum_is_a_rounding_residue(program, step, chain_before, result, t_result)):
                    diffs = [("float-noise" if k == "value" else k,
                              ("cancelling terms: " if k == "value" else "") + d)
                             for k, d in diffs]
                if chain_before is not None and any(k == "value" for k, _ in diffs) and \
                        _agrees_on_tapegrad_input(program, step, chain_before, result) and \
                        _float64_gelus_before_are_exact(program, step):
                    diffs = [("float-noise" if k == "value" else k,
                              ("inherited: " if k == "value" else "") + d) for k, d in diffs]
                diffs = _inherited_shape(program, step, chain_before, result, diffs)
                if _writes_twice_to_one_place(program, step, shape):   # (PyTorch: undefined)
                    diffs = [(k, d) for k, d in diffs if k != "value"]
                    findings.extend(Finding(k, entry.name, d + _layouts(program), seed)
                                    for k, d in diffs)
                    break   # the two chains may now differ where each wrote last
                if (_lone_value_groups(step, shape) and _lone_groups_differ_by_a_residue(
                        program, step, step_input, result, t_result)) or \
                        _equal_channels_alone_differ(program, step, step_input, result, t_result):
                    diffs = [("float-noise" if k == "value" else k,
                              ("groups of one value: " if k == "value" else "") + d)
                             for k, d in diffs]
                diffs = _spread_of_equal_values(step, runs["tapegrad"].chain, result, t_result, diffs)
                unrepresentable = any(k == "value" for k, _ in diffs) and \
                    _cast_of_unrepresentable(step, step_input, result, t_result)
                if unrepresentable:
                    diffs = [(k, d + (unrepresentable if k == "value" else "")) for k, d in diffs]
                verdict = any(k == "value" for k, _ in diffs) and _float16_value_verdict(
                    program, result, t_result)
                if verdict:
                    diffs = [(k, (verdict if k == "value" else "") + d) for k, d in diffs]
                overflow = any(k == "value" for k, _ in diffs) and (
                    _torch_normalised_an_overflow(program, step, chain_before, result, t_result)
                    or _norm_agrees_by_its_formula(program, step, chain_before, result)
                    or _batch_norm_agrees_by_its_formula(program, step, step_input, result)
                    or _normalizing_agrees_widened(program, step, result, through_float16)
                    or _p_norm_agrees_widened(program, step, result, through_float16)
                    or _gammas_agree_widened(program, step, chain_before, result)
                    or _marked_by_a_rerun(program, step, result, through_float16)
                    or _operand_value_mark(program, step, chain_before, result)
                    or _added_in_the_vectorised_loop(program, step, result, through_float16)
                    or _attention_of_rounded_scores(program, step, chain_before, result))
                overflow = overflow or (any(k == "value" for k, _ in diffs) and (
                    _factors_of_a_singular_matrix(step, chain_before, result, t_result) or
                    _products_round_their_exact_sum(program, step, chain_before, result, t_result) or
                    _losses_overflow_both_ways(program, step, chain_before, result, t_result)))
                if overflow:
                    diffs = [(k, d + (overflow if k == "value" else "")) for k, d in diffs]
                findings.extend(Finding(k, entry.name, d + _layouts(program), seed)
                                for k, d in diffs)
                if diffs:
                    break
        if status == "error":
            break
        if check_invariants:
            findings.extend(_promotion(program, step, runs["tapegrad"], result))
        if use_torch:
            weighted_means.update(_weighted_mean_terms(program, step, chain_before, result))
        chains = {name: first_tensor(run.library, outcomes[name][1]) for name, run in runs.items()}
        if any(c is None for c in chains.values()):
            break
        if _unordered(step):   # the steps after it must not see an order neither library
            chains = _ordered_chains(   # documents: go on in index order
                step, outcomes, runs["torch"].chain if use_torch else None)
        for name, run in runs.items():
            run.chain = chains[name]
        if step.entry.name in NORMS:   # (read now: a later in-place step may overwrite it)
            norm_values[id(step)] = np.array(TAPEGRAD.to_numpy(chains["tapegrad"]))
        through_float16 = through_float16 or TAPEGRAD.dtype_name(chains["tapegrad"]) == "float16"
        result_dtypes.append(TAPEGRAD.dtype_name(chains["tapegrad"]))
        float16_leaves = _leaves_through_float16(program, result_dtypes)
        lone_groups = lone_groups or _lone_value_groups(step, shape)
        if use_torch and not gradient_findings and not _torch_backward_corrupts_memory(program) \
                and not runs["torch"].backward_crashes:
            gradient_findings = _compare_gradients(program, runs, step, chains["tapegrad"],
                                                   chains["torch"], float16_leaves,
                                                   weighted_means)
            gradient_findings = _torch_gradient_changes_between_runs(program, runs, chains,
                                                                     gradient_findings)
            if lone_groups and any(f.kind == "gradient" for f in gradient_findings) and \
                    _gradients_agree_with_norms_in_float64(program, runs, step,
                                                           chains["tapegrad"], norm_values,
                                                           float16_leaves, weighted_means):
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail=f.detail + NORMS_IN_FLOAT64)
                                     if f.kind == "gradient" else f for f in gradient_findings]
            if equal_groups_here == TWO_VALUES:   # at the norm itself, for its input's part
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail=TWO_VALUES + f.detail)
                                     if f.kind == "gradient" and
                                     _through_the_norms_input_alone(step, f) else f
                                     for f in gradient_findings]
            if chain_before is not None and any(f.kind == "gradient" for f in gradient_findings) \
                    and _gradients_agree_on_tapegrad_values(program, runs, step, chain_inputs,
                                                            chains["tapegrad"], float16_leaves,
                                                            weighted_means):
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail="inherited: " + f.detail)
                                     if f.kind == "gradient" else f for f in gradient_findings]
            if any(f.kind == "gradient" for f in gradient_findings):
                gradient_findings = _blame_first_wrong_backward(program, chain_inputs,
                                                                chains["tapegrad"],
                                                                gradient_findings)
            if any(f.kind == "gradient" for f in gradient_findings):
                gradient_findings = _products_past_float32_both_ways(
                    program, chain_inputs, chains["tapegrad"], gradient_findings)
            if any(f.kind == "gradient" for f in gradient_findings):
                gradient_findings = _products_past_float32_one_way(
                    program, chain_inputs, chains["tapegrad"], gradient_findings)
            if any(f.kind == "gradient" for f in gradient_findings) and \
                    _mean_of_huge_terms(program, chain_inputs, gradient_findings) and \
                    _gradients_within_their_largest(program, runs, chains, float16_leaves):
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail="cancelling terms: " + f.detail)
                                     if f.kind == "gradient" else f for f in gradient_findings]
        shape, dtype = tuple(chains["tapegrad"].shape), TAPEGRAD.dtype_name(chains["tapegrad"])
    if not findings:
        findings.extend(gradient_findings)
    if check_invariants and not any(f.kind == "raw-error" for f in findings):
        findings.extend(_float_dtypes(program))
        findings.extend(_gradcheck(program))
    return findings, program


def _in_order(step, result, t_result):
    """topk(sorted=False)'s values in ascending order, from either library (the indices go:
    they follow the order)."""
    dim = step.kwargs.get("dim", step.args[2] if len(step.args) > 2 else -1)
    return tg.sort(result[0], dim=dim)[0], torch.sort(t_result[0], dim=dim)[0]


# elements one result may hold: a few MiB, so that a program never takes the machine's memory
MOST_ELEMENTS = 2 ** 22


def _allocates_too_much(step, chain):
    """Whether ``step`` would make a result whose size follows the chain's values, not its
    shape, beyond ``MOST_ELEMENTS``: one_hot's class count is the largest index + 1 (a var
    of 1e4s gives 7e7 classes, 4 GiB in each library). The program ends before it."""
    if step.entry.name != "one_hot" or not TAPEGRAD.is_tensor(chain):
        return False
    values = TAPEGRAD.to_numpy(chain)
    classes = step.kwargs.get("num_classes", step.args[1] if len(step.args) > 1 else -1)
    if not isinstance(classes, int) or classes < 0:
        if values.dtype.kind not in "iu" or values.size == 0:
            return False
        classes = int(values.max()) + 1
    return values.size * classes > MOST_ELEMENTS


def _torch_backward_corrupts_memory(program):
    """PyTorch 2.13's max pooling gives a window of padding alone (dilated taps stepping over
    a small image) an index past the image, and its backward then writes there: the heap
    is corrupted and the process dies later, somewhere else. Its backward is not run then
    (tapegrad's forward is still compared; tests/autograd/test_pooling.py covers its own)."""
    return any(step.entry.name.startswith("max_pool") and step.kwargs.get("padding", 0)
               and step.kwargs.get("dilation", 1) != 1 for step in program.steps)
