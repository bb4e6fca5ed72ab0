"""Comparing the leaves' gradients of a program in the two libraries.

Each library runs backward from the same random incoming gradient; the leaves' gradients are
compared to the tolerance of their dtype, or of the size of the terms they sum (a 0-d leaf's
broadcast copies, a weighted mean's terms), where those cancel. One step's backward alone
(``_step_backward``) is what the blame of a gradient on an op reruns.
"""
import numpy as np

import tapegrad as tg
from tapegrad import dtypes

from .generate import LeafRef
from .libraries import (Finding, Run, TAPEGRAD, TORCH, _TapegradValues, _arguments, _in_place,
                        _incoming_gradient, _leaf_grads, _ordered_chains, _through_float16,
                        _unordered, first_tensor, torch)
from .compare import compare_arrays, raw_error
from .float16 import _float16_gradient_verdict
from .reruns import P_NORMS, _explained_in_torch


def _gradients_within_their_largest(program, runs, chains, through_float16):
    """The leaves' gradients compared to the tolerance of the largest of each (the terms'
    size of a sum whose terms reach 1e20: ``_mean_of_huge_terms``): True where none then
    differs beyond it. ``through_float16``: the leaves whose gradients passed float16
    (``_leaves_through_float16``; a float64 leaf first used after it keeps its digits)."""
    grad = _incoming_gradient(program, chains["tapegrad"])
    try:
        with np.errstate(all="ignore"):   # (1e30's squares: inf - inf in var's backward)
            ga = _leaf_grads(runs["tapegrad"], chains["tapegrad"], tg.from_numpy(grad.copy()))
        gb = _leaf_grads(runs["torch"], chains["torch"], torch.from_numpy(grad.copy()))
    except Exception:  # noqa: BLE001 - a backward that fails here has its own finding
        return False
    for i, g in ga.items():
        h = gb.get(i)
        if (g is None) != (h is None):
            return False
        if g is None:
            continue
        sizes = np.abs(h.astype(np.float64))
        largest = float(sizes[np.isfinite(sizes)].max(initial=0))
        if compare_arrays(g, h, "float16" if _through_float16(through_float16, i)
                          else str(g.dtype), largest):
            return False
    return True


def _gradients_agree_on_tapegrad_values(program, runs, step, chain_inputs, a, through_float16,
                                        weighted_means):
    """The program run again in PyTorch with the chain's values before each step replaced
    by tapegrad's (the gradient passes through each replacement unchanged): True when the
    leaves' gradients then agree. The disagreement was inherited from values that already
    differed within the tolerance, and a slope magnified it (log or 1/x at a zero that one
    library's rounding made -0.0 and the other's -1e-11, or +0.0: avg_pool2d of one -0.0,
    a batch_norm weight of 0). A wrong backward, of this step or of an earlier one, still
    differs in the rerun. An in-place step writes into its replacement, a tensor of its
    own; its result is what the later steps and the gradient read, as in the program.
    Agreement is to the tolerance: float noise left over (gelu's slope in float32's far
    tail, 0.7% apart) is as much a slope 1% off of tapegrad's own, and stays for the
    judges that rerun the step it comes from (SLOPES_WIDENED)."""
    if any(_unordered(s) for s in program.steps):
        return False   # (tapegrad's values follow its index order, PyTorch's chain its own)
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each, chain_input in zip(program.steps, chain_inputs):
        if chain_input is not None:
            values = torch.from_numpy(chain_input[0].copy())
            if values.shape != run.chain.shape:
                return False
            run.chain = (_TapegradValues.apply(run.chain, values)
                         if run.chain.dtype.is_floating_point and run.chain.requires_grad
                         else values)
        status, result = run.call(each, program.leaves)
        run.chain = first_tensor(TORCH, result) if status == "ok" else None
        if run.chain is None or each is step:
            break
    if run.chain is None or tuple(run.chain.shape) != tuple(a.shape):
        return False
    found = _compare_gradients(program, {"tapegrad": runs["tapegrad"], "torch": run}, step, a,
                               run.chain, through_float16, weighted_means)
    return not found


def _step_backward(library, program, k, chain_input, grad, float_dtype=None, call=None):
    """Step ``k`` run alone in ``library`` on ``chain_input`` (tapegrad's chain before it
    and whether it required grad; None for the first step, which reads the first leaf),
    backward from its result with ``grad``: (its result's dtype, {"input": the gradient of
    the chain before it, leaf index: the leaf's gradient}), or None where it cannot run.
    ``float_dtype``: every float leaf, the chain and ``grad`` in that dtype; ``call``: the
    step run by it instead of ``Run.call`` (``_widened_call``…)."""
    run = Run(library, float_dtype)
    make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
    start = None
    if chain_input is None:
        run.chain = run.materialize(LeafRef(0), program.leaves)
    else:
        values, requires_grad = chain_input
        if float_dtype and values.dtype.kind == "f":
            values = values.astype(float_dtype)
        start = make(np.array(values))
        if requires_grad:
            start.requires_grad_(True)
        run.chain = start.clone()   # (not a leaf: an in-place step may write into it)
    status, result = (call or Run.call)(run, program.steps[k], program.leaves)
    out = first_tensor(library, result) if status == "ok" else None
    if out is None or not out.requires_grad or tuple(out.shape) != grad.shape:
        return None
    try:
        incoming = make(grad.astype(float_dtype or library.dtype_name(out)))
        grads = _leaf_grads(run, out, incoming)
    except Exception:  # noqa: BLE001 - a backward that raises alone: no judge here
        return None
    if start is not None and start.requires_grad:
        grads["input"] = None if start.grad is None else library.to_numpy(start.grad)
    return library.dtype_name(out), grads


def _backwards_differ(ours, theirs, within_noise=False):
    """[(what, key)] of the gradients of one step's backward (``_step_backward``) that
    differ beyond the tolerance: float16's where the step's result or gradient is float16.
    ``within_noise``: those that differ by float noise too."""
    out = []
    for key, g in ours[1].items():
        what = "input" if key == "input" else f"leaf{key}"
        h = theirs[1].get(key)
        if (g is None) != (h is None):
            out.append((what, key))
        elif g is not None and _backward_difference(g, h, ours[0], within_noise) is not None:
            out.append((what, key))
    return out


def _backward_difference(g, h, result_dtype=None, within_noise=False):
    """compare_arrays of two gradients of one step: its detail where the difference is
    beyond float noise (or, ``within_noise``, beyond the tolerance), else None."""
    if g is None or h is None:
        return f"{'no' if g is None else 'a'} gradient vs torch {'none' if h is None else 'one'}"
    dtype = "float16" if np.float16 in (g.dtype, h.dtype) or result_dtype == "float16" \
        else str(g.dtype)
    diff = compare_arrays(g, h.astype(g.dtype) if h.dtype != g.dtype else h, dtype)
    kinds = ("value", "shape", "float-noise") if within_noise else ("value", "shape")
    return diff[1] if diff and diff[0] in kinds else None


def _layouts(program):
    """Context for a finding: the program's views of its leaves that are not plain
    (stride-0 expands, slices…), and whether a NaN went in (a leaf's or a number's)."""
    kinds = sorted({leaf.layout[0] for leaf in program.leaves} - {"contiguous"})
    text = f" [layouts: {', '.join(kinds)}]" if kinds else ""
    nan_leaf = any(leaf.values.dtype.kind == "f" and bool(np.isnan(leaf.values).any())
                   for leaf in program.leaves)
    nan_number = any(isinstance(a, float) and a != a for step in program.steps
                     for a in list(step.args) + list(step.kwargs.values()))
    return text + (" [NaN inputs]" if nan_leaf or nan_number else "")


INFINITE_NORM = " [a p-norm in the program is ±inf in tapegrad]"
INFINITE_NORMS = P_NORMS + ("pairwise_distance",)   # (‖x₁ - x₂ + ε‖ₚ, a p-norm too)


def _infinite_norm(program, step, detail):
    """INFINITE_NORM for a gradient whose NaN differs where a p-norm step (or
    pairwise_distance) up to ``step`` gives ±inf in tapegrad (of float16 values past its
    range, of float64 values holding an inf): its slope (|x|/‖x‖)^(p-1) is then 0 at a
    finite x, and PyTorch's x·|x|^(p-2) may overflow first (inf·0 = NaN). Else "": a p-norm
    that fits has a slope, not 0, and a 0 there against PyTorch's NaN is a wrong gradient."""
    # (pairwise_distance not where a leaf holds NaN: the NaN-input entries, which end with
    # their mark, judge those findings)
    norms = P_NORMS if _layouts(program).endswith(" [NaN inputs]") else INFINITE_NORMS
    if not detail.startswith("NaN where") or not any(s.entry.name in norms
                                                      for s in program.steps):
        return ""
    run = Run(TAPEGRAD)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        status, result = run.call(each, program.leaves)
        run.chain = first_tensor(TAPEGRAD, result) if status == "ok" else None
        if run.chain is None:
            return ""
        if each.entry.name in norms and np.isinf(
                TAPEGRAD.to_numpy(run.chain.detach())).any():
            return INFINITE_NORM
        if each is step:
            return ""
    return ""


def _compare_gradients(program, runs, step, a, b, through_float16=False,
                       weighted_means=None):
    """Backward from the chain so far (``a`` in tapegrad, ``b`` in PyTorch): a finding if
    the leaves' gradients differ (to float16's tolerance where the chain passed through
    float16, whatever the leaves' dtype). The incoming gradient has its own random stream,
    so the program's draws do not depend on it."""
    tg_run, torch_run = runs["tapegrad"], runs["torch"]
    if not (a.requires_grad and b.requires_grad) or not dtypes.as_dtype(
            TAPEGRAD.dtype_name(a)).is_floating_point:
        return []
    grad = _incoming_gradient(program, a)
    outcomes = []
    for run, value, make in ((tg_run, a, tg.from_numpy), (torch_run, b, torch.from_numpy)):
        try:
            outcomes.append(("ok", _leaf_grads(run, value, make(grad.copy()))))
        except Exception as error:  # noqa: BLE001
            outcomes.append(("error", error))
    (status, ga), (t_status, gb) = outcomes
    if status == "ok" and t_status == "error" and _overwritten_in_place(gb):
        return _compare_with_copies(program, step, grad, ga, gb, through_float16, a)
    if status != t_status:
        error = ga if status == "error" else gb
        kind = "backward-raises" if status == "error" else "backward-computes"
        return [Finding(kind, step.entry.name, f"{type(error).__name__}: {error}"[:200],
                        program.seed)]
    if status == "error":
        if raw_error(ga):
            return [Finding("raw-error", step.entry.name, raw_error(ga), program.seed)]
        return []
    for i in ga:
        if (ga[i] is None) != (gb.get(i) is None):
            return [Finding("gradient", step.entry.name,
                            f"leaf{i}: {'no' if ga[i] is None else 'a'} gradient vs torch "
                            f"{'none' if gb.get(i) is None else 'one'}", program.seed)]
        if ga[i] is not None:
            dtype_name = "float16" if _through_float16(through_float16, i) else str(ga[i].dtype)
            diff = compare_arrays(ga[i], gb[i], dtype_name, _larger_scale(
                _copies_scale(program, tg_run, i, a, grad),
                _weighted_mean_scale(weighted_means or {}, i, a, grad)))
            broadcast = None
            if diff and diff[0] == "value":   # (a rerun: only where a difference is found)
                broadcast = _broadcast_copies_scale(program, i, grad)
                if broadcast is not None:
                    diff = compare_arrays(ga[i], gb[i], dtype_name, broadcast)
            if diff:
                kind = "gradient" if diff[0] == "value" else "gradient-" + diff[0]
                verdict = kind == "gradient" and _float16_gradient_verdict(
                    program, grad, ga, gb, _copies_scale(program, tg_run, i, a, grad)
                    or broadcast)
                return [Finding(kind, step.entry.name, f"{verdict or ''}leaf{i} "
                                f"({ga[i].dtype}): {diff[1]}{_layouts(program)}"
                                f"{_infinite_norm(program, step, diff[1])}"
                                f"{_explained_in_torch(program, step, grad, ga, a, through_float16)}",
                                program.seed)]
    return []


def _larger_scale(*scales):
    """The larger of the scales found (else None): a leaf can be both expanded and a weighted
    mean's weight, and its copies' gradients (ℓᵢ - L)/Σ wⱼ are then small where the losses are
    near equal, while the terms ℓᵢ/Σ wⱼ they cancel from are not."""
    found = [scale for scale in scales if scale is not None and np.isfinite(scale)]
    return max(found) if found else None   # (∞ or NaN: no scale, as compare_arrays takes it)


def _copies_scale(program, run, i, value, grad):
    """For a leaf the program uses expanded, the largest sum of |∂value/∂copy| over the
    copies of one of its elements (else None). Its gradient sums its copies' gradients, and
    where those cancel (group_norm of equal values: ±73 each) both libraries keep a rounding
    residue of the copies' size, not of the sum's."""
    leaf = program.leaves[i]
    if leaf.layout[0] != "expand":
        return None
    base, view = run.leaves[i]
    try:
        copies, = tg.autograd.grad(value, [view], tg.from_numpy(grad.copy()),
                                   retain_graph=True, allow_unused=True)
    except Exception:  # noqa: BLE001 - e.g. the view was changed in place since
        return None
    if copies is None:
        return None
    sizes = np.abs(TAPEGRAD.to_numpy(copies)).astype(np.float64)
    sizes = sizes.sum(axis=tuple(range(sizes.ndim - base.ndim)))
    grown = tuple(d for d, n in enumerate(base.shape) if n == 1 and sizes.shape[d] != 1)
    sizes = sizes.sum(axis=grown)   # (an element whose copies' gradients hold NaN or ∞ is NaN
    return float(sizes[np.isfinite(sizes)].max(initial=0))   # or ∞ in both: not its scale)


def _broadcast_copies_scale(program, i, grad):
    """For a leaf of one element (a 0-d number) that operations broadcast, the sum of
    |∂value/∂copy| over its copies (else None): as for an expanded leaf (``_copies_scale``),
    its gradient sums its copies' gradients, and where those cancel (x - c over the logits
    of a cross_entropy: Σ_j ∂L/∂x_j = 0 in the math, 2e22 each after cosh) both libraries
    keep a rounding residue of the copies' size. The program is run again in tapegrad with
    the leaf expanded to each using step's result shape (each such step run once on a copy
    first, to learn that shape), and the copies' gradients read from those expanded views."""
    leaf = program.leaves[i]
    if i == 0 or leaf.layout[0] == "expand" or np.asarray(leaf.values).size != 1:
        return None
    run = Run(TAPEGRAD)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    copies = []
    for step in program.steps:
        uses = any(isinstance(x, LeafRef) and x.index == i for x in _arguments(step))
        if uses:
            run.materialize(LeafRef(i), program.leaves)
            status, result = run.call(step, program.leaves, on_a_copy=True)
            shaped = first_tensor(TAPEGRAD, result) if status == "ok" else None
            if shaped is None:
                return None
            base, view = run.leaves[i]
            # the shape the step broadcasts its operands to (a reduction's, cosine_similarity
            # along dim, is not its result's), else its result's
            operands = [run.materialize(a, program.leaves) for a in _arguments(step)]
            try:
                shape = np.broadcast_shapes(*[tuple(t.shape) for t in operands
                                              if TAPEGRAD.is_tensor(t)])
            except ValueError:
                shape = tuple(shaped.shape)
            try:
                run.leaves[i] = (base, view.expand(*shape))
            except Exception:  # noqa: BLE001 - a result shape the leaf does not broadcast to
                return None
            copies.append(run.leaves[i][1])
        status, result = run.call(step, program.leaves)
        run.chain = first_tensor(TAPEGRAD, result) if status == "ok" else None
        if run.chain is None:
            return None
        if uses:
            run.leaves[i] = (base, view)
            if run.chain.dtype is not shaped.dtype:   # (a 0-d tensor promotes as a number
                return None                           # does: expanded, it is another program)
    if not copies or not run.chain.requires_grad or tuple(run.chain.shape) != grad.shape:
        return None
    try:
        found = tg.autograd.grad(run.chain, copies, tg.from_numpy(grad.copy()),
                                 allow_unused=True)
    except Exception:  # noqa: BLE001 - no scale without the copies' gradients
        return None
    sizes = [np.abs(TAPEGRAD.to_numpy(g).astype(np.float64)).sum() for g in found
             if g is not None]
    return float(sum(sizes)) if sizes else None   # (∞ or NaN: compare_arrays ignores it)


def _weighted_mean_terms(program, step, chain_before, result):
    """For a step that is l1_loss/mse_loss's weighted mean L = Σ wⱼℓⱼ / Σ wⱼ with a leaf as
    the weight: {that leaf's index: (L, Σ|wⱼ|·(max ℓⱼ + 2|L|) / (Σ wⱼ)²)}, the size of the
    terms the weight's gradient ∂L/∂wᵢ = ℓᵢ/Σ wⱼ - Σ wⱼℓⱼ/(Σ wⱼ)² cancels (else {}). Where
    ℓᵢ = L (one element, equal losses) that gradient is 0 mathematically, and both libraries
    keep a rounding residue of the terms' size, not of 0. The sums round at the size of
    their products, Σ|wⱼ|ℓⱼ and Σ|wⱼ|: where the weights cancel in Σ wⱼ (0.3 from weights
    of ±15) that is the terms' 2ℓ/|Σ wⱼ| times Σ|wⱼ|/|Σ wⱼ|."""
    weight = step.kwargs.get("weight")
    if (step.entry.name not in ("l1_loss", "mse_loss") or not isinstance(weight, LeafRef)
            or step.kwargs.get("reduction", "mean") != "mean"
            or any(step.kwargs.get(k) is not None for k in ("size_average", "reduce"))):
        return {}
    run = Run(TAPEGRAD)   # (the chain is leaf 0 before the first step)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else tg.from_numpy(chain_before))
    status, losses = run.call(step._replace(kwargs={**step.kwargs, "reduction": "none",
                                                    "weight": None}), program.leaves)
    if status != "ok":
        return {}
    losses = np.abs(TAPEGRAD.to_numpy(losses.detach()).astype(np.float64))
    w = TAPEGRAD.to_numpy(run.materialize(weight, program.leaves).detach()).astype(np.float64)
    mean = abs(float(TAPEGRAD.to_numpy(result.detach())))
    if not (np.isfinite(losses).all() and np.isfinite(w).all() and np.isfinite(mean)):
        return {}
    total = abs(float(np.sum(w)))
    if not total:
        return {}
    magnitude = float(np.sum(np.abs(w)))   # Σ|wⱼ|: the size Σ wⱼ and Σ wⱼℓⱼ round at
    return {weight.index: (result, magnitude / total * (float(losses.max(initial=0)) + 2 * mean) / total)}


def _weighted_mean_scale(weighted_means, i, value, grad):
    """The size of the terms leaf ``i``'s gradient cancels as the weight of a weighted mean
    earlier in the chain: |∂value/∂L| times the terms of ∂L/∂wᵢ (else None)."""
    if i not in weighted_means:
        return None
    mean, terms = weighted_means[i]
    try:
        slope, = tg.autograd.grad(value, [mean], tg.from_numpy(grad.copy()),
                                  retain_graph=True, allow_unused=True)
    except Exception:  # noqa: BLE001 - e.g. changed in place since
        return None
    if slope is None:
        return None
    slope = np.abs(TAPEGRAD.to_numpy(slope).astype(np.float64)).max(initial=0)
    with np.errstate(over="ignore"):
        return float(slope * terms) if np.isfinite(slope) else None


def _overwritten_in_place(error):
    return "modified by an inplace operation" in str(error)


def _step_on_copies_in_both(run, ours, step, leaves):
    """``step`` run in PyTorch (``run``) and tapegrad (``ours``), an in-place one on a copy
    of its target: False where either gives no tensor. After topk(sorted=False) both chains
    go on in index order, as the driver's, PyTorch's at tapegrad's indices where the two
    chose different elements among equal values (``_ordered_chains``): tapegrad's gradient
    came from that chain."""
    before = run.chain
    outcomes = {"torch": run.call(step, leaves, on_a_copy=_in_place(step)),
                "tapegrad": ours.call(step, leaves, on_a_copy=_in_place(step))}
    chains = {name: first_tensor(library, outcomes[name][1]) if outcomes[name][0] == "ok"
              else None for name, library in (("torch", TORCH), ("tapegrad", TAPEGRAD))}
    if any(chain is None for chain in chains.values()):
        return False
    if _unordered(step):
        chains = _ordered_chains(step, outcomes, before)
    run.chain, ours.chain = chains["torch"], chains["tapegrad"]
    return True


def _compare_with_copies(program, step, grad, ga, error, through_float16=False, a=None):
    """PyTorch refused a backward because a value it saved was overwritten in place, and
    tapegrad computed one: tapegrad kept what it needs (the inputs, or its own copy). The
    reference is then PyTorch's gradient of the same program up to ``step`` with every
    in-place step applied to a copy of its target, which overwrites nothing saved. A
    difference is judged as one of the program itself (the float16 reference, a rerun
    where PyTorch's backward is known to be wrong), with the in-place steps on copies."""
    last = next(i for i, s in enumerate(program.steps) if s is step)
    run, ours = Run(TORCH), Run(TAPEGRAD)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    ours.chain = ours.materialize(LeafRef(0), program.leaves)
    for later in program.steps[:last + 1]:
        if not _step_on_copies_in_both(run, ours, later, program.leaves):
            break
    else:
        try:
            gb = _leaf_grads(run, run.chain, torch.from_numpy(grad.copy()))
        except Exception as refusal:  # noqa: BLE001 - PyTorch refuses this one too
            error, gb = refusal, None
        if gb is not None:
            for i in ga:   # (a leaf first used after the prefix gets no gradient from it)
                if (ga[i] is None) != (gb.get(i) is None):
                    break
                diff = ga[i] is not None and compare_arrays(   # (float16's tolerance after
                    ga[i], gb[i], "float16" if _through_float16(through_float16, i)
                    else str(ga[i].dtype))
                if diff and diff[0] != "float-noise":
                    verdict = _float16_gradient_verdict(program, grad, ga, gb, on_copies=True)
                    mark = "" if a is None else _explained_in_torch(
                        program, step, grad, ga, a, through_float16, on_copies=True)
                    return [Finding("gradient", step.entry.name, f"{verdict}leaf{i} "
                                    f"({ga[i].dtype}): {diff[1]} (in-place steps on copies)"
                                    f"{_layouts(program)}{mark}", program.seed)]
            else:
                return [Finding("backward-computes", step.entry.name,
                                f"{type(error).__name__}: {str(error)[:200]} [tapegrad's gradient "
                                f"is PyTorch's with the in-place steps on copies]", program.seed)]
    return [Finding("backward-computes", step.entry.name,
                    f"{type(error).__name__}: {error}"[:200], program.seed)]
