"""The float16 judge: which library rounded better.

A float16 value or gradient that differs beyond float16's tolerance is judged against a
float64 replay of the program that rounds the chain to float16 between steps (in tapegrad,
confirmed by the same replay in PyTorch). Where tapegrad agrees with it and PyTorch does not,
PyTorch rounded an intermediate inside an operation, and the finding says so
(``FLOAT16_NEARER``); where PyTorch agrees and tapegrad does not, the finding stays.
"""
import math
import warnings

import numpy as np

import tapegrad as tg

from .generate import LeafRef
from .libraries import (Run, TAPEGRAD, TORCH, _in_place, _leaf_grads, _names_a_float_dtype,
                        _unordered, first_tensor, items, torch)
from .compare import TOLERANCE, compare_arrays


FLOAT16_NEARER = "float16 rounding, tapegrad nearer the float64 reference: "
FLOAT16_BOTH_NEAR = "float16 rounding, both within float16's tolerance of the float64 reference: "


def _float16_reference(program, library=TAPEGRAD, on_copies=False):
    """The program's steps so far in float64, the chain rounded to float16 after every step,
    forward and backward (``.to(float16).to(float64)``): each operation computed in float64
    and rounded once, as a float16 program means it. (The Run, its last result), or None
    where the replay is not the float16 program in another precision (a float leaf of
    another dtype, a step that names a dtype, an unordered topk, a floating chain of another
    dtype, an error); an integer or bool chain is exact in both and goes on as it is. It is
    run in tapegrad, and in PyTorch to confirm it (``_confirmed``). ``on_copies``: each
    in-place step on a copy of its target (``_compare_with_copies``)."""
    if program.leaves[0].values.dtype.kind not in "biuf" or any(
            leaf.values.dtype.kind == "f" and leaf.values.dtype != np.float16
            for leaf in program.leaves) or any(
            _names_a_float_dtype(s) or _unordered(s) for s in program.steps):
        return None
    run = Run(library, "float64")
    run.chain = run.materialize(LeafRef(0), program.leaves)
    result = None
    half, double = library.dtype("float16"), library.dtype("float64")
    for step in program.steps:
        status, result = run.call(step, program.leaves,
                                  on_a_copy=on_copies and _in_place(step))
        chain = first_tensor(library, result) if status == "ok" else None
        if chain is None or chain.dtype.is_floating_point and chain.dtype != double:
            return None
        if not chain.dtype.is_floating_point:   # integers (a first integer leaf, floor
            run.chain = chain                   # division of one) are exact in both
            continue
        with warnings.catch_warnings():   # (numpy's overflow warning: inf is the rounding)
            warnings.simplefilter("ignore")
            run.chain = chain.to(half).to(double)
    return run, result


def _confirmed(references, t_references):
    """True when PyTorch's float64 replay gives the same reference arrays (to float64's
    tolerance): the reference is not one of tapegrad's own float64 answers alone."""
    return len(references) == len(t_references) and all(
        b is not None and compare_arrays(np.asarray(a), np.asarray(b), "float64") is None
        for a, b in zip(references, t_references))


# the rounding of float16 sums judged against the size of their terms: 4 units of its last
# place at 1 (float16 keeps 11 bits)
FLOAT16_TERMS = 2.0 ** -8


def _near_reference(a, reference, scale=None):
    """True when the float16 array ``a`` is the float64 ``reference`` to float16's tolerance:
    NaN where it is NaN; ±inf or a value within the tolerance where it is beyond float16's
    largest finite value (65504), its overflow; within the tolerance elsewhere. (A wider
    array, a float32 leaf's gradient that passed a float16 step, overflows past its own
    dtype's largest value: a float32 -inf is not -1.5e10.)"""
    largest = float(np.finfo(a.dtype if a.dtype.kind == "f" else np.float16).max)
    a, reference = a.astype(np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != reference.shape or not np.array_equal(np.isnan(a), np.isnan(reference)):
        return False
    tol = TOLERANCE["float16"]
    finite = np.isfinite(reference)
    terms = scale is not None and math.isfinite(scale)
    scale = scale if terms else 0.0
    # element by element: a large element elsewhere is no licence for a small one here
    size = np.maximum(np.maximum(1.0, np.abs(reference)), scale)
    # where the size of the terms summed is known, a few float16 roundings of that size
    # (terms of 50 that cancel leave 0.05 in float16), else a fiftieth of the tolerance
    floor = max(tol * 1e-2, FLOAT16_TERMS) if terms else tol * 1e-2
    with np.errstate(invalid="ignore"):
        overflowed = (np.abs(reference) > largest) & (
            a == np.copysign(np.inf, reference))
        within = np.abs(a - reference) <= tol * np.abs(reference) + floor * size
        # a sign opposite to the reference's is a rounding only of terms that cancel, and
        # only within their floor: without their size known it is never one
        flipped = a * reference < 0
        within &= ~flipped | (terms & (np.abs(a - reference) <= floor * scale))
    return bool(np.all(np.isnan(reference) | overflowed | (finite & within)))


def _float16_verdict(pairs, scale=None):
    """``pairs``: (tapegrad's float16 array, PyTorch's, the float16 reference in float64).
    The detail's prefix when the reference explains the disagreement as rounding (tapegrad
    near it and PyTorch not, or both near it: a value at the edge of float16's range that
    one rounded to inf), else "" (PyTorch near it and tapegrad not: tapegrad's bug)."""
    if not pairs:
        return ""
    pairs = [_where_they_differ(a, b, r) for a, b, r in pairs]
    tapegrad_near = all(_near_reference(a, r, scale) for a, _, r in pairs)
    torch_near = all(_near_reference(b, r, scale) for _, b, r in pairs)
    if tapegrad_near and torch_near:
        return FLOAT16_BOTH_NEAR
    return FLOAT16_NEARER if tapegrad_near else ""


def _where_they_differ(a, b, reference):
    """The elements of (tapegrad's array, PyTorch's, the reference) where the two libraries
    differ: where both give the same number or NaN (0·∞ of a slope that underflowed in
    both) there is no disagreement to judge, even where the reference has another."""
    reference = np.asarray(reference)
    if not a.shape == b.shape == reference.shape:
        return a, b, reference   # (_near_reference refuses another shape)
    with np.errstate(invalid="ignore"):
        differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return a[differ], b[differ], reference[differ]


def _float16_value_verdict(program, result, t_result):
    """For a value finding: ``_float16_verdict`` of the results against the reference's."""
    a_items, b_items = items(TAPEGRAD, result), items(TORCH, t_result)
    tensors = [a for a in a_items if TAPEGRAD.is_tensor(a)]
    if not tensors or any(a.dtype is not tg.float16 for a in tensors):
        return ""   # (kthvalue's indices too: a verdict on its values would not be theirs)
    replayed = _float16_reference(program)
    if replayed is None:
        return ""
    r_items = items(TAPEGRAD, replayed[1])
    if not len(a_items) == len(b_items) == len(r_items):
        return ""
    t_replayed = _float16_reference(program, TORCH)
    if t_replayed is None or len(items(TORCH, t_replayed[1])) != len(r_items):
        return ""
    chosen = [(a, b, r, t) for a, b, r, t in zip(a_items, b_items, r_items,
                                                 items(TORCH, t_replayed[1]))
              if TAPEGRAD.is_tensor(a) and a.dtype is tg.float16 and TORCH.is_tensor(b)
              and TAPEGRAD.is_tensor(r) and TORCH.is_tensor(t)]
    if not _confirmed([TAPEGRAD.to_numpy(r) for _, _, r, _ in chosen],
                      [TORCH.to_numpy(t) for _, _, _, t in chosen]):
        return ""
    return _float16_verdict([(TAPEGRAD.to_numpy(a), TORCH.to_numpy(b), TAPEGRAD.to_numpy(r))
                             for a, b, r, _ in chosen])


def _float16_gradient_verdict(program, grad, ga, gb, scale=None, on_copies=False):
    """For a gradient finding: ``_float16_verdict`` of the leaves' gradients against the
    reference's, from the same incoming gradient. Only the leaves whose gradients differ
    are judged: one where both libraries give the same NaN (0·∞ of float16 in both) is not
    the disagreement, and would otherwise deny every verdict."""
    if grad.dtype != np.float16:
        return ""
    replayed = _float16_reference(program, on_copies=on_copies)
    if replayed is None:
        return ""
    t_replayed = _float16_reference(program, TORCH, on_copies)
    if t_replayed is None:
        return ""
    run, t_run = replayed[0], t_replayed[0]
    try:
        reference = _leaf_grads(run, run.chain, tg.from_numpy(grad.astype(np.float64)))
        t_reference = _leaf_grads(t_run, t_run.chain, torch.from_numpy(grad.astype(np.float64)))
    except Exception:  # noqa: BLE001 - no reference: no verdict
        return ""
    if set(reference) != set(ga) or any(ga[i] is not None and (
            ga[i].dtype != np.float16 or reference[i] is None) for i in ga):
        return ""
    leaves = [i for i in ga if ga[i] is not None and compare_arrays(ga[i], gb[i], "float16", scale)]
    if not leaves or not _confirmed([reference[i] for i in leaves], [t_reference.get(i) for i in leaves]):
        return ""
    return _float16_verdict([(ga[i], gb[i], reference[i]) for i in leaves], scale)
