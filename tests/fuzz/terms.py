"""A gradient judged by the size of the terms it sums.

A gradient that is 0 in the math can come out of terms of 1e6 that cancel: its rounding is of
the size of those terms, not of the result. The terms of one step (normalize, layer_norm,
cosine_similarity) and of the whole program are computed here, so that a gradient is compared
to the tolerance of its terms.
"""
import math

import numpy as np

import tapegrad as tg

from .generate import CHAIN, LeafRef
from .libraries import (Finding, Run, TAPEGRAD, TORCH, _arguments, _incoming_gradient, _leaf_grads,
                        _leaves_through_float16, _names_a_float_dtype, first_tensor, torch)
from .compare import TOLERANCE, compare_arrays
from .float16 import FLOAT16_TERMS
from .gradients import _step_backward, _weighted_mean_terms
from .norms import NORM_PARAMETERS
from .reruns import NORMALIZE_WIDENED, NORMALIZING, _narrower, _norm_widened_call


def _terms_through_step(program, k, chain_input, sizes, ours, leaf_sizes, float_dtype="float64"):
    """The size of the terms step ``k``'s backward sums, carried back one step: its backward
    (tapegrad's, alone on its input) of ``sizes`` (the terms' size of its result's gradient,
    ≥ 0), taken in absolute value, and at least the gradient itself. A step that sums
    copies (getitem at repeated indices, a broadcast) sums their sizes where their gradients
    cancel. Each leaf's sizes are added into ``leaf_sizes``; the chain's before the step
    returned (None where the step does not run alone). ``float_dtype``: the dtype the step
    is run in (None: its own)."""
    sizes = np.array(sizes, dtype=np.float64)   # (a 0-d one too: np.abs of it is a scalar)
    # (in float64: sizes of 1e15 are beyond a float16 step's range)
    carried = _step_backward(TAPEGRAD, program, k, chain_input, sizes, float_dtype=float_dtype)
    if carried is None and float_dtype and _names_a_float_dtype(program.steps[k]):
        # (a step that names its result's dtype, norm(dtype=float32), runs only in its own)
        carried = _step_backward(TAPEGRAD, program, k, chain_input, sizes)
    if carried is None or set(carried[1]) != set(ours[1]):
        return None
    terms = _own_terms(program, k, chain_input, sizes)
    with np.errstate(invalid="ignore", over="ignore"):
        for key, g in carried[1].items():
            own = ours[1][key]
            if g is None or own is None:
                continue
            size = np.maximum(np.abs(g.astype(np.float64)), np.abs(own.astype(np.float64)))
            if key in terms and terms[key].shape == size.shape:
                size = np.maximum(size, terms[key])
            if key == "input":
                sizes_before = size
            else:
                leaf_sizes[key] = leaf_sizes.get(key, 0) + size
    if "input" not in carried[1] or carried[1]["input"] is None:
        return None
    return sizes_before


def _own_terms(program, k, chain_input, sizes):
    """The size of the terms inside step ``k``'s own gradient formula where they cancel for
    some inputs (``_cosine_terms``, ``_layer_norm_terms``, ``_normalize_terms``), else {}."""
    name = program.steps[k].entry.name
    if name in ("cosine_similarity", "cosine_embedding_loss"):
        return _cosine_terms(program, k, chain_input, sizes)
    if name == "layer_norm":
        return _layer_norm_terms(program, k, chain_input, sizes)
    if name == "group_norm":
        return _group_norm_terms(program, k, chain_input, sizes)
    if name == "normalize":
        return _normalize_terms(program, k, chain_input, sizes)
    if name in ("var", "std"):
        return _variance_terms(program, k, chain_input, sizes)
    if name in ("softmax", "log_softmax"):
        return _softmax_terms(program, k, chain_input, sizes)
    if name == "scaled_dot_product_attention":
        return _attention_terms(program, k, chain_input, sizes)
    if name == "cross_entropy":
        return _cross_entropy_terms(program, k, chain_input, sizes)
    if name in ("l1_loss", "mse_loss"):
        return _weighted_mean_own_terms(program, k, chain_input, sizes)
    return {}


def _weighted_mean_own_terms(program, k, chain_input, sizes):
    """For step ``k`` l1_loss's or mse_loss's weighted mean L = Σ wⱼℓⱼ / Σ wⱼ with a leaf as
    the weight: {that leaf's index: the size of the terms of its gradient, |g| times
    ``_weighted_mean_terms``' Σ|wⱼ|·(max ℓⱼ + 2|L|) / (Σ wⱼ)², on each of the leaf's elements}
    (else {}). One loss (or equal ones) makes ∂L/∂wᵢ = (ℓᵢ - L)/Σ wⱼ 0 in the math, a residue
    of terms ℓ/w in either library; a later step's backward that rounds g differently (a
    float16 sum over gather's copies: -0.9824 vs -0.983) moves that residue, and a later slope
    (log's 1/L) magnifies it: the blame judges the leaves' gradients by these terms."""
    step = program.steps[k]
    if not isinstance(step.kwargs.get("weight"), LeafRef):
        return {}   # (no weighted mean: the step is not run for nothing)
    chain_before = None if chain_input is None else chain_input[0]
    run = Run(TAPEGRAD)   # (the chain is leaf 0 before the first step)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else tg.from_numpy(np.array(chain_before)))
    status, result = run.call(step, program.leaves)
    mean = first_tensor(TAPEGRAD, result) if status == "ok" else None
    if mean is None:
        return {}
    incoming = np.abs(np.asarray(sizes, dtype=np.float64))
    if incoming.size != 1 or not np.isfinite(incoming).all():
        return {}
    leaf_terms = {}
    for i, (_, terms) in _weighted_mean_terms(program, step, chain_before, mean).items():
        leaf = program.leaves[i]
        on_view = np.full(leaf.view_shape, float(incoming.reshape(-1)[0]) * terms)
        leaf_terms[i] = _onto_leaf(leaf, on_view)
    return leaf_terms


def _attention_terms(program, k, chain_input, sizes):
    """For step ``k`` a scaled_dot_product_attention (no mask, dropout or causal mask) whose
    query and key are the chain or leaves: {"input" (0 for the first step) or the leaf's
    index: the size of the terms of the query's and the key's gradients} (else {}). Their
    gradients pass dS = P∘(dP - Σⱼ P·dP), dP = g Vᵀ, whose terms are Pᵢⱼ·|dPᵢⱼ| and
    Pᵢⱼ·Σₗ Pᵢₗ|dPᵢₗ|: dQ = scale·dS K and dK = scale·dSᵀ Q sum them times |K| and |Q|. Keys
    all equal (an expanded leaf) give P uniform and dS 0 in the math, terms of |K| ~ 1e4 that
    leave a residue of their rounding in either library. A query row holding NaN leaves its
    own terms NaN (no excuse there: compared as they are) and the other rows' sized; a row
    whose scores are all -inf (an inf in a key: q·∞ = -∞ for every key alike) has weights
    0 and terms 0, as its gradient in both libraries."""
    step = program.steps[k]
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
    given = dict(zip(names, step.args)) | step.kwargs
    if given.get("attn_mask") is not None or given.get("dropout_p", 0.0) != 0 or \
            given.get("is_causal", False) or given.get("enable_gqa", False) or any(
                not (given.get(n) is CHAIN or isinstance(given.get(n), LeafRef))
                for n in ("query", "key", "value")):
        return {}
    run = Run(TAPEGRAD)
    chain = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves))
             if chain_input is None else chain_input[0])
    q, key_, v = (np.asarray(chain if given[n] is CHAIN else
                             TAPEGRAD.to_numpy(run.materialize(given[n], program.leaves)),
                             dtype=np.float64) for n in ("query", "key", "value"))
    try:
        scale = given.get("scale") or 1 / math.sqrt(q.shape[-1])
        with np.errstate(all="ignore"):
            a = scale * q @ np.swapaxes(key_, -1, -2)
            # a row whose scores are all -inf has weights 0 in both libraries (not 0/0):
            # no gradient flows through it, and it sums no terms
            dead = np.isneginf(a).all(axis=-1, keepdims=True)
            e = np.exp(np.where(dead, 0.0, a) - np.where(dead, 0.0, a).max(axis=-1, keepdims=True))
            p = np.where(dead, 0.0, e / e.sum(axis=-1, keepdims=True))
            dp = np.abs(np.asarray(sizes, dtype=np.float64)) @ np.swapaxes(np.abs(v), -1, -2)
            ds = p * dp + p * (p * dp).sum(axis=-1, keepdims=True)
            terms = {"query": abs(scale) * ds @ np.abs(key_),
                     "key": abs(scale) * np.swapaxes(ds, -1, -2) @ np.abs(q)}
    except (ValueError, TypeError, IndexError, ZeroDivisionError):
        return {}
    out = {}
    for n, operand in (("query", q), ("key", key_)):
        t = terms[n]
        t = t.sum(axis=tuple(range(t.ndim - operand.ndim)))
        grown = tuple(d for d, size in enumerate(operand.shape) if size == 1 and t.shape[d] != 1)
        t = t.sum(axis=grown, keepdims=True)
        if t.shape != operand.shape:
            return {}
        if not np.isfinite(t).any():
            continue   # (every term NaN: a key under a query row holding NaN; no excuse)
        where = "input" if given[n] is CHAIN else given[n].index
        where = 0 if where == "input" and chain_input is None else where
        t = t if where == "input" else _onto_leaf(program.leaves[where], t)
        out[where] = out[where] + t if where in out else t
    return out


def _softmax_terms(program, k, chain_input, sizes):
    """For step ``k`` a softmax of the chain along ``dim``: {"input" (or 0 for the first
    step): the size of the two terms of its input's gradient yᵢ·gᵢ - yᵢ·Σⱼ yⱼgⱼ, each in
    absolute value} (else {}). A gradient equal along dim (a linear layer of equal weights
    after it: Σ y = 1 whatever x) is ~0 from terms of yᵢ·|g|. log_softmax's, gᵢ - yᵢ·Σⱼ gⱼ,
    has terms |gᵢ| and yᵢ·Σⱼ|gⱼ|: a chain broadcast along dim (equal values) gives a
    gradient 0 in the math, summed over the copies, with a residue of |g|'s rounding."""
    step = program.steps[k]
    args = dict(zip(("input", "dim"), step.args))
    args.update(step.kwargs)
    dim = args.get("dim")
    if step.args[0] is not CHAIN or not isinstance(dim, int) or isinstance(dim, bool) or \
            args.get("dtype") is not None:
        return {}
    x = (TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
         if chain_input is None else chain_input[0]).astype(np.float64)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if x.ndim == 0:
                return {}
            e = np.exp(x - np.max(x, axis=dim, keepdims=True))
            y = e / np.sum(e, axis=dim, keepdims=True)
            g = np.broadcast_to(np.abs(np.asarray(sizes, dtype=np.float64)), x.shape)
            if step.entry.name == "log_softmax":
                terms = g + y * np.sum(g, axis=dim, keepdims=True)
            else:
                terms = y * g + y * np.sum(y * g, axis=dim, keepdims=True)
    except (ValueError, TypeError, np.exceptions.AxisError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _cross_entropy_terms(program, k, chain_input, sizes):
    """For step ``k`` a cross_entropy of the chain with probability targets or class
    indices: {"input" (or 0 for the first step): the size of the two terms of its gradient
    g·(pᵢ·Σⱼ aⱼ - aᵢ), aᵢ = wᵢ·tᵢ (t smoothed, a class index one-hot; w the class weights, 1
    without), g·(pᵢ·Σⱼ|aⱼ| + |aᵢ|), g divided as the reduction divides (the mean of class
    indices by Σ w_y over the targets kept)} (else {}). A class the softmax gives p = 1 -
    2e-6 is 0.03·p - 0.03 there: a residue 2.3e22 of terms 2e28 (g = 3e29), whose last digits
    neither library keeps (PyTorch's 2.36e22, tapegrad's 2.302e22, the math's 2.3035e22);
    a class weight of -1e30 makes terms of 1e29 whose residues of 1e22 are as meaningless."""
    step = program.steps[k]
    names = ("input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction",
             "label_smoothing")
    args = dict(zip(names, step.args))
    args.update(step.kwargs)
    weight = args.get("weight")
    if step.args[0] is not CHAIN or len(step.args) < 2 or not isinstance(args["target"], LeafRef) \
            or not (weight is None or isinstance(weight, LeafRef)) \
            or any(args.get(n) is not None for n in ("size_average", "reduce")):
        return {}
    run = Run(TAPEGRAD)
    x = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves)) if chain_input is None
         else chain_input[0]).astype(np.float64)
    target = np.asarray(TAPEGRAD.to_numpy(run.materialize(args["target"], program.leaves)))
    reduction, smoothing = args.get("reduction", "mean"), args.get("label_smoothing", 0.0)
    ignore = args.get("ignore_index", -100)
    if x.ndim == 0 or reduction not in ("mean", "sum", "none") or \
            not isinstance(smoothing, (int, float)) or not isinstance(ignore, int):
        return {}
    dim = 0 if x.ndim == 1 else 1
    classes = x.shape[dim]
    w = np.ones(classes) if weight is None else np.asarray(
        TAPEGRAD.to_numpy(run.materialize(weight, program.leaves)), dtype=np.float64)
    if w.shape != (classes,):
        return {}
    w = w.reshape((classes,) + (1,) * (x.ndim - 1 - dim))
    try:
        if target.dtype.kind == "f" and target.shape == x.shape:
            kept = np.ones(x.shape[:dim] + x.shape[dim + 1:], dtype=bool)
            t = target.astype(np.float64)
        elif target.dtype.kind in "iu" and target.shape == x.shape[:dim] + x.shape[dim + 1:]:
            kept = target != ignore
            t = (np.expand_dims(np.where(kept, target, -1), dim) ==
                 np.arange(classes).reshape((classes,) + (1,) * (x.ndim - 1 - dim))).astype(float)
        else:
            return {}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a = np.abs(w * (t * (1 - smoothing) + smoothing / classes * np.expand_dims(kept, dim)))
            e = np.exp(x - np.max(x, axis=dim, keepdims=True))
            p = e / np.sum(e, axis=dim, keepdims=True)
            g = np.abs(np.asarray(sizes, dtype=np.float64))
            if reduction == "mean":   # (PyTorch's mean of class indices: over Σ w_y)
                if target.dtype.kind in "iu" and weight is not None:
                    total = abs(float(np.sum(w * t, axis=dim)[kept].sum()))
                    if not total:
                        return {}   # (PyTorch's x/0: no residue to size)
                else:
                    total = max(int(kept.sum()), 1)
                g = g / total
            g = np.expand_dims(np.broadcast_to(g, kept.shape), dim)
            terms = g * (p * np.sum(a, axis=dim, keepdims=True) + a)
    except (ValueError, TypeError, np.exceptions.AxisError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _variance_terms(program, k, chain_input, sizes):
    """For step ``k`` a var or std of the chain: {"input" (or 0 for the first step): the
    size of the terms of its input's gradient 2g(xᵢ - μ)/(N - c) (var; std's divided by 2σ),
    xᵢ and μ each in absolute value} (else {}). Values of 1e5 that differ by 10 (lerp to
    -2e4 with weight -6.5): each xᵢ - μ carries the rounding of μ, an ulp of 1e5, and a
    gradient summed over the elements (a leaf that lerp broadcast), 0 in the math, keeps a
    residue of that size in either library."""
    step = program.steps[k]
    given = dict(zip(("input", "dim", "unbiased", "keepdim"), step.args)) | step.kwargs
    dim, keepdim = given.get("dim"), given.get("keepdim", False)
    if isinstance(dim, bool):   # var(x, unbiased)
        dim, given["unbiased"] = None, dim
    correction = given.get("correction", 1 if given.get("unbiased", True) else 0)
    if step.args[0] is not CHAIN or not isinstance(keepdim, bool) or \
            not isinstance(correction, (int, float)) or isinstance(correction, bool):
        return {}
    x = (TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
         if chain_input is None else chain_input[0]).astype(np.float64)
    try:
        axes = tuple(range(x.ndim)) if dim is None else tuple(
            d % max(x.ndim, 1) for d in (dim if isinstance(dim, (tuple, list)) else (dim,)))
        count = math.prod(x.shape[d] for d in axes) if x.ndim else 1
        g = np.abs(np.asarray(sizes, dtype=np.float64))
        if not keepdim and x.ndim:
            g = np.expand_dims(g, axes)
        g = np.broadcast_to(g, x.shape)
        with np.errstate(all="ignore"):
            mean = np.abs(x.mean(axis=axes, keepdims=True)) if x.ndim else np.abs(x)
            terms = 2 * g * (np.abs(x) + mean) / (count - correction)
            if step.entry.name == "std":
                terms = terms / (2 * np.sqrt(x.var(axis=axes, keepdims=True, ddof=correction)))
    except (ValueError, TypeError, np.exceptions.AxisError):
        return {}
    if count - correction <= 0 or not np.isfinite(terms).all():
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _normalize_terms(program, k, chain_input, sizes):
    """For step ``k`` a normalize of the chain, y = x/‖x‖ₚ along ``dim``: {"input" (or 0 for
    the first step): the size of the two terms of its input's gradient
    gᵢ/‖x‖ - (Σⱼ gⱼxⱼ)/‖x‖² · sign(xᵢ)|xᵢ|^(p-1)/‖x‖^(p-1), each in absolute value} (else
    {}). One element along dim (or parallel vectors): y = sign(x) whatever x, the gradient
    ~0 from terms of |g|/|x|, 2·|g|/|x| together."""
    step = program.steps[k]
    args = dict(zip(("input", "p", "dim", "eps"), step.args))
    args.update(step.kwargs)
    p, dim, eps = args.get("p", 2.0), args.get("dim", 1), args.get("eps", 1e-12)
    if step.args[0] is not CHAIN or not all(isinstance(v, (int, float)) and not isinstance(
            v, bool) for v in (p, eps)) or not _dims(dim) or not 0 < p < math.inf:
        return {}
    x = (TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
         if chain_input is None else chain_input[0]).astype(np.float64)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            norm = np.maximum(np.sum(np.abs(x) ** p, axis=dim, keepdims=True) ** (1 / p), eps)
            g = np.broadcast_to(np.abs(np.asarray(sizes, dtype=np.float64)), x.shape)
            along = np.sum(g * np.abs(x), axis=dim, keepdims=True) / norm ** 2
            terms = g / norm + along * np.abs(x) ** (p - 1) / norm ** (p - 1)
    except (ValueError, TypeError, np.exceptions.AxisError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _dims(dim):
    """True for a dim a norm reduces along: one int, or a tuple of them (normalize over
    several dims at once, each slice's norm taken over all of them)."""
    dims = dim if isinstance(dim, tuple) and dim else (dim,)
    return all(isinstance(d, int) and not isinstance(d, bool) for d in dims)


def _layer_norm_terms(program, k, chain_input, sizes):
    """For step ``k`` a layer_norm of the chain: {"input" (or 0 for the first step): the
    size of the terms of its input's gradient (ĝᵢ - mean ĝ - x̂ᵢ·mean(ĝ x̂))/σ, ĝ = w·g:
    (|ĝᵢ| + mean|ĝ| + |x̂ᵢ|·mean|ĝ x̂|)/σ} (else {}). Two values x̂ = ±1 whatever x (ε
    aside): the gradient is ~0 from terms of |w·g|/σ."""
    step = program.steps[k]
    args = dict(zip(NORM_PARAMETERS["layer_norm"], step.args))
    args.update(step.kwargs)
    shape, weight = args.get("normalized_shape"), args.get("weight")
    if step.args[0] is not CHAIN or not isinstance(shape, (tuple, list, int)) or \
            isinstance(args.get("eps", 1e-5), LeafRef):
        return {}
    run = Run(TAPEGRAD)
    x = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves)) if chain_input is None
         else chain_input[0]).astype(np.float64)
    axes = tuple(range(x.ndim - (1 if isinstance(shape, int) else len(shape)), x.ndim))
    try:
        w = 1.0 if weight is None else np.abs(TAPEGRAD.to_numpy(
            run.materialize(weight, program.leaves)).astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            sigma = np.sqrt(x.var(axis=axes, keepdims=True) + float(args.get("eps", 1e-5)))
            x_hat = np.abs((x - x.mean(axis=axes, keepdims=True)) / sigma)
            g_hat = np.broadcast_to(w * np.abs(np.asarray(sizes, dtype=np.float64)), x.shape)
            terms = (g_hat + g_hat.mean(axis=axes, keepdims=True)
                     + x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)) / sigma
    except (ValueError, TypeError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _group_norm_terms(program, k, chain_input, sizes):
    """For step ``k`` a group_norm of the chain: {"input" (or 0 for the first step): the size
    of the terms of its input's gradient, as layer_norm's (``_layer_norm_terms``) over each
    group of channels, ĝ = w_c·g} (else {}). Σ group_norm(x) has the gradient 0 from terms
    of |g|/σ (r·(g - mean g - x̂·mean(g x̂)) with g constant and mean x̂ = 0)."""
    step = program.steps[k]
    args = dict(zip(NORM_PARAMETERS["group_norm"], step.args))
    args.update(step.kwargs)
    groups, weight = args.get("num_groups"), args.get("weight")
    if step.args[0] is not CHAIN or not isinstance(groups, int) or isinstance(groups, bool) or \
            groups <= 0 or not isinstance(args.get("eps", 1e-5), (int, float)):
        return {}
    run = Run(TAPEGRAD)
    x = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves)) if chain_input is None
         else chain_input[0]).astype(np.float64)
    if x.ndim < 2 or x.shape[1] % groups or not x.size:
        return {}
    try:
        w = np.ones(x.shape[1]) if weight is None else np.abs(TAPEGRAD.to_numpy(
            run.materialize(weight, program.leaves)).astype(np.float64)).reshape(-1)
        w = np.broadcast_to(w.reshape((1, -1) + (1,) * (x.ndim - 2)), x.shape)
        g_hat = np.broadcast_to(w * np.abs(np.asarray(sizes, dtype=np.float64)), x.shape)
        grouped = x.reshape(x.shape[0], groups, -1)
        g_hat = g_hat.reshape(grouped.shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            sigma = np.sqrt(grouped.var(axis=2, keepdims=True) + float(args.get("eps", 1e-5)))
            x_hat = np.abs((grouped - grouped.mean(axis=2, keepdims=True)) / sigma)
            terms = (g_hat + g_hat.mean(axis=2, keepdims=True)
                     + x_hat * (g_hat * x_hat).mean(axis=2, keepdims=True)) / sigma
        terms = terms.reshape(x.shape)
    except (ValueError, TypeError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _cosine_terms(program, k, chain_input, sizes):
    """For step ``k`` a cosine_similarity(x₁, x₂) of the chain and a leaf: {"input" or the
    leaf's index: the size of the two terms of its gradient, 2·s/‖xᵢ‖ (s: the terms' size
    of the incoming gradient, along ``dim``), summed onto each element} (else {}). Its
    gradient g·(x₂/(‖x₁‖‖x₂‖) - cos·x₁/‖x₁‖²) is 0 where the cosine is ±1 (vectors of one
    element, or parallel ones), each term g/‖x₁‖ in size, however small the difference.
    cosine_embedding_loss's rows are such cosines along the last dim, each norm over its
    own input (before broadcasting), under g/N for the mean."""
    step = program.steps[k]
    embedding = step.entry.name == "cosine_embedding_loss"
    if step.entry.name not in ("cosine_similarity", "cosine_embedding_loss") or \
            len(step.args) < 2 or step.args[0] is not CHAIN or \
            not isinstance(step.args[1], LeafRef):
        return {}
    run = Run(TAPEGRAD)
    x1 = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves)) if chain_input is None
          else chain_input[0]).astype(np.float64)
    x2 = TAPEGRAD.to_numpy(run.materialize(step.args[1], program.leaves)).astype(np.float64)
    if embedding:
        dim, eps = -1, 1e-6   # (√ε of its ε = 1e-12 under the square root)
    else:
        dim = step.kwargs.get("dim", step.args[2] if len(step.args) > 2 else 1)
        eps = step.kwargs.get("eps", step.args[3] if len(step.args) > 3 else 1e-8)
    zero_d = not embedding and x1.ndim == x2.ndim == 0
    if zero_d:   # (PyTorch takes dim -1 or 0 of two 0-d operands: cos = sign(x₁x₂))
        x1, x2, dim = x1.reshape(1), x2.reshape(1), 0
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
        dim = dim % len(shape)
        per_row = np.abs(sizes.astype(np.float64))
        if embedding:
            rows = shape[:dim]
            reduction = step.kwargs.get("reduction", "mean")
            per_row = np.broadcast_to(per_row, rows) / (
                max(1, int(np.prod(rows))) if reduction == "mean" else 1)
        incoming = np.broadcast_to(np.expand_dims(per_row, dim), shape)
    except (ValueError, TypeError, ZeroDivisionError, np.exceptions.AxisError):
        return {}
    out = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for key, x in (("input", x1), (step.args[1].index, x2)):
            norm = np.sqrt(np.sum((x if embedding else np.broadcast_to(x, shape)) ** 2,
                                  axis=dim, keepdims=True))
            terms = 2 * incoming / np.maximum(norm, eps)
            terms = terms.sum(axis=tuple(range(len(shape) - x.ndim)))
            grown = tuple(d for d, n in enumerate(x.shape) if n == 1 and terms.shape[d] != 1)
            out[key] = terms.sum(axis=grown, keepdims=True)
    if zero_d:
        out = {key: terms.reshape(()) for key, terms in out.items()}
    if chain_input is None:   # (the first step's chain is leaf 0, its gradient under 0)
        out[0] = out.pop("input")
    return {key: terms if key == "input" else _onto_leaf(program.leaves[key], terms)
            for key, terms in out.items()}


def _onto_leaf(leaf, sizes):
    """Sizes of the elements of a leaf's view (``Library.leaf``), on the leaf's own
    elements: an expanded dim summed, a transpose undone, a slice's elements in place."""
    layout, base = leaf.layout, np.asarray(leaf.values).shape
    if layout[0] == "transpose":
        return sizes.swapaxes(layout[1], layout[2])
    if layout[0] == "slice":
        out = np.zeros(base)
        out[(slice(None),) * layout[1] + (slice(None, None, 2),)] = sizes
        return out
    if layout[0] == "expand":
        grown = tuple(d for d, n in enumerate(base) if n == 1 and sizes.shape[d] != 1)
        return sizes.sum(axis=grown, keepdims=True)
    return sizes


def _within_the_programs_terms(program, a, found, chain_inputs, leaf_sizes):
    """``found`` with its gradient findings made float noise where no step's own backward
    differs (``_blame_first_wrong_backward`` found none, or one within the terms it sums:
    ``_within_its_terms``) and the leaves' gradients, the
    program run again in both libraries, differ only within the tolerance of the size of
    the terms backward summed into them (``_terms_through_step``, step by step from the
    last). Two copies of one element that cancel (a getitem at repeated indices, softmin of
    the pair, each ±10¹⁰ after cosh; a chain broadcast along a dim that log_softmax then
    normalises) leave a residue of their size in either library: 0 in one, -1e-4 in the
    other."""
    grad = _incoming_gradient(program, a)
    if not leaf_sizes or not any(f.kind == "gradient" for f in found):
        return found
    ga, gb = (_the_programs_leaf_gradients(program, grad, library) for library in (TAPEGRAD, TORCH))
    if ga is None or gb is None or set(ga) != set(gb):
        return found
    through_float16 = _leaves_through_float16(
        program, [c[0].dtype if c is not None else None for c in chain_inputs[1:]] + [grad.dtype])
    for i, g in ga.items():
        h = gb[i]
        if (g is None) != (h is None):
            return found
        if g is None:
            continue
        size = np.asarray(leaf_sizes.get(i, 0), dtype=np.float64)
        if i == 0 and program.leaves[0].requires_grad and i not in leaf_sizes:
            return found   # (the chain's first leaf: its sizes are the first step's "input")
        scale = float(size[np.isfinite(size)].max(initial=0))
        dtype = ("float16" if i in through_float16 or g.dtype == np.float16
                 else _narrowest_on_the_way(g.dtype, chain_inputs, grad, program, i))
        diff = compare_arrays(g, h.astype(g.dtype), dtype, scale)
        beyond_its_terms = diff is not None and diff[0] == "float-noise" and not _within_sizes(
            g, h.astype(g.dtype), dtype, np.full(g.shape, scale)) and compare_arrays(
            g, h.astype(g.dtype), dtype)[0] != "float-noise"
        # (the terms' size widens the tolerance, not the noise band 100 times it: a log_softmax
        # slope 1e-3 off at one element left 3.5e-4 against terms of 1.8, beyond float32's
        # band of the values themselves)
        if diff and (diff[0] in ("value", "shape") or beyond_its_terms) and \
                not _float16_within_its_terms(g, h, dtype, size):
            return found
    return [Finding("gradient-float-noise", f.op, "cancelling terms: " + f.detail, f.seed)
            if f.kind == "gradient" else f for f in found]


def _the_programs_leaf_gradients(program, grad, library, call=Run.call):
    """The leaves' gradients (numpy, by index) of the whole program run again in
    ``library`` (each step through ``call``), backward from ``grad``; None where it does
    not run or its result needs no gradient."""
    run = Run(library)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for step in program.steps:
        status, result = call(run, step, program.leaves)
        run.chain = first_tensor(library, result) if status == "ok" else None
        if run.chain is None:
            return None
    if tuple(run.chain.shape) != grad.shape or not run.chain.requires_grad:
        return None
    make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
    try:
        return _leaf_grads(run, run.chain, make(grad.copy()))
    except Exception:  # noqa: BLE001 - no judge without the gradients
        return None


def _widened_within_the_programs_terms(program, a, found, chain_inputs, leaf_sizes):
    """``found`` with its gradient findings made float noise, marked NORMALIZE_WIDENED, where
    no step's own backward differs (as ``_within_the_programs_terms``), the program has a
    normalize, cosine_similarity or pairwise_distance, and PyTorch's program run again with
    those computed in a wider float and rounded back (``_norm_widened_call``) gives the
    leaves' gradients of tapegrad's, each element to its dtype's tolerance or, through
    float16, within a few roundings of the size of its own terms (``leaf_sizes``, no floor
    at 1). PyTorch's float16 p-norm backward forms g/‖x‖^(p-1) in float16, among its
    subnormals (2.2e-3/13053 = 1.7e-7 keeps two bits): normalize(p=3) of [114.25, 0.0491],
    whose gradient is a residue of terms of 2.2e-3, gives -1.2e-4 where the math gives
    1.6e-6 and tapegrad 3.8e-6, within float16's floor at the step, beyond it once a slope
    before it (exp's 114) magnifies both residues."""
    if not any(f.kind == "gradient" for f in found) or \
            not {s.entry.name for s in program.steps} & set(NORMALIZING):
        return found
    grad = _incoming_gradient(program, a)
    ga = _the_programs_leaf_gradients(program, grad, TAPEGRAD)
    gb = _the_programs_leaf_gradients(program, grad, TORCH, _norm_widened_call)
    if ga is None or gb is None or set(ga) != set(gb):
        return found
    through_float16 = _leaves_through_float16(
        program, [c[0].dtype if c is not None else None for c in chain_inputs[1:]] + [grad.dtype])
    for i, g in ga.items():
        h = gb[i]
        if (g is None) != (h is None):
            return found
        if g is None:
            continue
        h = h.astype(g.dtype)
        dtype = ("float16" if i in through_float16 or g.dtype == np.float16
                 else _narrowest_on_the_way(g.dtype, chain_inputs, grad, program, i))
        if compare_arrays(g, h, dtype) is None:
            continue
        sizes = np.asarray(leaf_sizes.get(i, np.nan), dtype=np.float64)
        if dtype != "float16" or sizes.shape != g.shape or not _within_own_terms(g, h, sizes):
            return found
    return [Finding("gradient-float-noise", f.op, "cancelling terms: " + f.detail
                    + NORMALIZE_WIDENED, f.seed) if f.kind == "gradient" else f for f in found]


def _within_own_terms(a, b, sizes, dtype_name="float16", least_size=None):
    """True when the gradient ``a`` is ``b`` element by element to the dtype's tolerance plus
    a few of its roundings of that element's own terms' size ``sizes`` (float16's
    ``FLOAT16_TERMS``; a wider dtype's compare_arrays floor, a fiftieth of its tolerance),
    without ``_within_sizes``' floor at 1 (terms of 0.5 allow 2e-3, not 3.9e-3): NaN and ±inf
    where ``b`` has the same. ``least_size``: the smallest size counted (unless given, the
    one whose roundings are float16's compare_arrays floor, 2e-4)."""
    tol = TOLERANCE.get(dtype_name, 2e-4)
    roundings = FLOAT16_TERMS if dtype_name == "float16" else tol * 1e-2
    if least_size is None:
        least_size = TOLERANCE["float16"] * 1e-2 / FLOAT16_TERMS
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        same = (np.isnan(a64) & np.isnan(b64)) | (np.isinf(a64) & (a64 == b64))
        near = np.abs(a64 - b64) <= tol * np.abs(b64) + roundings * np.maximum(
            least_size, np.where(np.isfinite(sizes), sizes, 0))
    return bool(np.all(same | (np.isfinite(a64) & np.isfinite(b64) & near)))


def _alone_within_own_terms(program, k, chain_input, grad, ours, wide):
    """True when step ``k``'s backward in tapegrad (``ours``) gives, on every gradient,
    PyTorch's backward of it rerun in a wider float (``wide``) element by element to the
    dtype's tolerance plus a few of its roundings of that element's own terms
    (``_within_own_terms``): the size of the terms the step's backward sums there
    (``_terms_through_step`` from |g|: its backward in float64, or in its own dtype where
    it names one; its own cancelling terms; the gradient itself). No floor at 1, nor at
    float16's 2e-4: a float16 normalize whose gradient is 1.6e-6 from terms of 2.2e-3 may
    be off by 1e-5, not by 4e-3 (exp's slope of 114 before it makes that 0.5 at the leaf).
    The least size is the dtype's smallest normal number, below which its spacing stops
    shrinking (float16's subnormals are 6e-8 apart: four of them). An infinite or NaN gⱼ
    is left out of the sizes (its elements are ±inf or NaN in both, as
    ``_within_own_terms`` asks)."""
    if set(wide[1]) != set(ours[1]):
        return False
    finite = np.abs(np.where(np.isfinite(grad), grad, 0))
    # (a step that names its result's dtype, norm(dtype=float32), runs only in its own)
    for float_dtype in ("float64", None):
        leaf_sizes = {}
        before = _terms_through_step(program, k, chain_input, finite, ours, leaf_sizes,
                                     float_dtype)
        sizes = leaf_sizes if before is None else {**leaf_sizes, "input": before}
        if sizes:
            break
    for key, g in ours[1].items():
        h = wide[1][key]
        if (g is None) != (h is None):
            return False
        if g is None:
            continue
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" \
            else str(g.dtype)
        size = np.asarray(sizes.get(key, np.nan), dtype=np.float64)
        if size.shape != g.shape or h.shape != g.shape or not _within_own_terms(
                g, h.astype(g.dtype), size, dtype, float(np.finfo(dtype).tiny)):
            return False
    return True


def _terms_of_each_output(program, chain_inputs, shape, leaves):
    """For a program's float64 replay (``chain_inputs``: the chain before each step, as
    ``_step_backward`` takes it; ``shape``: the result's): per leaf index in ``leaves``, an
    array (output elements, leaf elements) of the size of the terms backward sums into
    ∂out_k/∂leaf_j (``_terms_through_step`` from each output element alone, in float64), or
    None where a step does not run alone. For the gradcheck judge: a slope that is 0 from
    terms of 1e14 (normalize of zeros, 1/ε = 1e12, after layer_norm's r = 316) is a residue
    of float64's roundings of them, 0.0156, where finite differences see a flat function."""
    size = math.prod(shape)
    out = {i: None for i in leaves}
    for k_out in range(size):
        sizes = np.zeros(shape)
        sizes.reshape(-1)[k_out] = 1.0
        leaf_sizes = {}
        for k in range(len(program.steps) - 1, -1, -1):
            ours = _step_backward(TAPEGRAD, program, k, chain_inputs[k], sizes, "float64")
            if ours is None:
                return None
            sizes = _terms_through_step(program, k, chain_inputs[k], sizes, ours, leaf_sizes)
            if sizes is None and k > 0:
                return None
        for i in leaves:
            column = np.asarray(leaf_sizes.get(i, 0.0), dtype=np.float64).reshape(-1)
            if out[i] is None:
                out[i] = np.zeros((size, column.size))
            if column.size not in (1, out[i].shape[1]):
                return None
            out[i][k_out] = column
    return out


def _narrowest_on_the_way(leaf_dtype, chain_inputs, grad, program=None, i=0):
    """The tolerance's dtype for a leaf's gradient summed through the program: the leaf's,
    or the narrowest float the chain held on the way (a float64 leaf through ``float()``:
    its gradient is float32's terms, their residue 2e-8 of terms of 1.8, cast up). On the
    way: the results of the steps from the first that uses leaf ``i`` on; a float32 the
    chain held before (float32 then ``double()``, a float64 leaf added after) is not on
    its gradient's way, which keeps float64's tolerance."""
    first = 0 if program is None or i == 0 else next(
        (k for k, s in enumerate(program.steps)
         if any(isinstance(a, LeafRef) and a.index == i for a in _arguments(s))), 0)
    dtype = str(leaf_dtype)
    for held in [c[0].dtype for c in chain_inputs[first + 1:] if c is not None] + [grad.dtype]:
        dtype = _narrower(dtype, held)
    return dtype


def _float16_within_its_terms(g, h, dtype, sizes):
    """For a leaf's gradient through float16: True when it differs, element by element, by
    no more than a few float16 roundings of its own terms' size (``FLOAT16_TERMS``, as the
    float16 judge allows), where compare_arrays' floor, a fiftieth of float16's tolerance,
    is a fifth of one rounding. A row of layer_norm's gradients sums to 0, and cumsum's
    backward sums it: terms of 27 leave 0.001 in tapegrad, -0.015 (one unit of 27's last
    place) in PyTorch. Elsewhere each element keeps the tolerance of its own terms."""
    sizes = np.asarray(sizes, dtype=np.float64)
    if dtype != "float16" or sizes.shape != g.shape or h.shape != g.shape:
        return False
    return _within_sizes(g, h.astype(g.dtype), "float16", sizes, FLOAT16_TERMS)


# The most output elements whose terms ``_within_its_terms`` finds one backward each (only
# for a backward that differs, so rarely run): a (3, 4, 3, 5) result is 180.
ALONE_MOST = 256


def _within_its_terms(program, chain_input, grad, ours, theirs, differs, k=0):
    """True when step ``k``'s own backward (the first step's gives the leaves' gradients
    themselves) differs only by the rounding of the terms it sums: a gradient Σⱼ Jⱼᵢ gⱼ that
    is ~0 in the math from terms of 1e6 (softmax then sum: Σ s = 1 whatever x, under
    binary_cross_entropy's slope 5e6 at 1 - 6e-8; a 0-d chain value broadcast by remainder
    into 12 copies, under var's gradients 2(rᵢ - r̄)/(n-1) of 2e3 each) keeps a residue of
    the terms' size in either library. The terms' size: Σⱼ |Jⱼᵢ gⱼ|, from one backward per
    output element (``_step_backward`` with gⱼ alone), at most ``ALONE_MOST`` of them;
    beyond, the backward of |g| in absolute value, |Σⱼ Jⱼᵢ|gⱼ||, which is no larger (exact
    where the step's slopes have one sign: a broadcast leaf's copies under add or subtract,
    but a (5,) leaf times a (3, 4, 3, 1) one holding ±1e30 cancels its terms there too), in
    float64 (a float16 leaf's Σ|gⱼ| overflows its 65504). An infinite or NaN gⱼ (reciprocal
    of an exact 0 after the step) makes the elements it reaches ±inf or NaN in both
    libraries alike, which ``_within_sizes`` asks of them; the other elements are sized by
    the finite gⱼ."""
    if not np.isfinite(grad).all():
        grad = np.where(np.isfinite(grad), grad, 0).astype(grad.dtype)
    sizes = {}
    if grad.size > ALONE_MOST:
        part = _step_backward(TAPEGRAD, program, k, chain_input, np.abs(grad), "float64")
        if part is None or set(part[1]) != set(ours[1]):
            return False
        sizes = {key: np.abs(g.astype(np.float64)) for key, g in part[1].items() if g is not None}
    for j in np.flatnonzero(grad) if grad.size <= ALONE_MOST else ():
        alone = np.zeros_like(grad)
        alone.reshape(-1)[j] = grad.reshape(-1)[j]
        part = _step_backward(TAPEGRAD, program, k, chain_input, alone)
        if part is None or set(part[1]) != set(ours[1]):
            return False
        for key, g in part[1].items():
            if g is not None:
                sizes[key] = sizes.get(key, 0) + np.abs(g.astype(np.float64))
    for key, terms in _own_terms(program, k, chain_input, grad).items():
        if key in sizes and np.shape(sizes[key]) == terms.shape:
            sizes[key] = np.maximum(sizes[key], terms)
    for _, key in differs:
        g, h = ours[1][key], theirs[1][key]
        if g is None or h is None or key not in sizes:
            return False
        # (a float64 leaf through a step that computes in float32, softmax's dtype: its
        # gradient has float32's digits)
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" \
            else _narrower(g.dtype, ours[0])
        if not _within_sizes(g, h.astype(g.dtype), dtype, sizes[key],
                             _variance_floor(program.steps[k].entry.name, dtype)):
            return False   # (within the tolerance of the terms, not 100 times it)
    return True


# A var's or std's residue, in units of its terms' size (|xᵢ| + |μ|: μ's rounding): a few
# roundings of the dtype. compare_arrays' floor, a hundredth of the tolerance, is 17
# float32 roundings but 4.5 million float64 ones: there the std of float64 values 1e-10
# apart, terms 1e10 times its gradient, would pass a slope 3 times the right one.
VARIANCE_ROUNDINGS = 16


def _variance_floor(name, dtype_name):
    """The fraction of its terms' size a var's or std's gradient may differ by: at most
    ``VARIANCE_ROUNDINGS`` of the dtype's roundings (else None: compare_arrays' floor)."""
    if name not in ("var", "std") or dtype_name not in ("float32", "float64"):
        return None
    return min(TOLERANCE[dtype_name] * 1e-2,
               VARIANCE_ROUNDINGS * float(np.finfo(dtype_name).eps))


def _own_backward_within_its_terms(program, k, chain_input, grad, ours, theirs, differs):
    """True when step ``k`` (past the first: ``_within_its_terms`` judges that one) has a
    backward whose own formula sums terms that cancel (``_own_terms``: layer_norm's
    ĝ - mean ĝ - x̂·mean(ĝ x̂) under a weight of 1e30, or before a norm whose result does not
    depend on x̂'s scale), and whose gradients, run alone on the same inputs and incoming
    gradient in both libraries, differ only within the rounding of those terms: 7.1647e24
    vs 7.1640e24 from terms of 4.5e28. Such a step is not blamed; the leaves' gradients are
    then judged by the size of the terms the whole program summed into them."""
    terms = _own_terms(program, k, chain_input, grad) if k else {}
    for _, key in differs:
        g, h = ours[1].get(key), theirs[1].get(key)
        if g is None or h is None or key not in terms or terms[key].shape != g.shape:
            return False
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" \
            else str(g.dtype)
        if not _within_sizes(g, h.astype(g.dtype), dtype, terms[key],
                             _variance_floor(program.steps[k].entry.name, dtype)):
            return False
    return bool(differs)


def _within_sizes(a, b, dtype_name, sizes, floor=None):
    """True when ``a`` is ``b`` to the tolerance of ``compare_arrays`` with each element's
    own terms' size ``sizes`` as its scale: a residue of terms of 1e6 at one element is no
    licence for a wrong value at another, whose terms are 1. ``floor``: the fraction of
    the terms' size allowed (else compare_arrays' fiftieth of the tolerance)."""
    diff = compare_arrays(a, b, dtype_name)
    if diff is None:
        return True
    sizes = np.asarray(sizes, dtype=np.float64)
    if diff[0] == "shape" or sizes.shape != a.shape or diff[1].startswith(
            ("NaN where", "inf differs")):
        return False   # (NaN or inf where the other has none is no rounding of any size)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(a64) & np.isfinite(b64)
    tol = TOLERANCE.get(dtype_name, 2e-4)
    with np.errstate(invalid="ignore"):   # (each element's own value, not the largest's)
        scale = np.maximum(np.maximum(1.0, np.abs(b64)), np.where(np.isfinite(sizes), sizes, 0.0))
    with np.errstate(invalid="ignore"):
        error = np.abs(a64 - b64) - (tol * np.abs(b64) + (floor or tol * 1e-2) * scale)
    return bool(np.all(error[finite] <= 0))


PRODUCTS_BOTH_WAYS = (" [a matrix product's backward whose float32 terms pass its range both "
                      "ways: NaN or ±inf by the order of summation]")
PRODUCTS_ONE_WAY = (" [a matrix product's backward whose float32 terms of one sign pass its "
                    "range, their exact sum within it: ±inf or that sum by the order of "
                    "summation]")


def _products_past_float32_both_ways(program, chain_inputs, a, found):
    """``found`` with each float32 gradient finding of a leaf that only the last step, a
    matrix product, reads made float noise, marked PRODUCTS_BOTH_WAYS, where that step alone
    (each library on tapegrad's input, with the program's incoming gradient) gives the
    same gradient but at elements one library has NaN or ±inf and the other not the same,
    and at each of those the terms it sums pass float32's largest value both ways: their
    positive part and their negative part each beyond 3.4e38 (PyTorch's backward in float64
    on the magnitudes, Σ|g||x|, and on the values, Σgx, halve their sum and difference). Each
    rounded product is then +inf or -inf and the result NaN or the infinity met first
    (xᵀg of nan_to_num's 3.4e38 four times, g = [0.77, 1.56, -0.69, -2.24]: tapegrad's BLAS
    NaN, PyTorch's +inf, the exact sum -2.1e38)."""
    largest = float(np.finfo(np.float32).max)

    def both_ways(g, h, size, value):
        return ((size + value) / 2 > largest) & ((size - value) / 2 > largest)

    return _products_past_float32(program, chain_inputs, a, found, both_ways, PRODUCTS_BOTH_WAYS)


def _products_past_float32_one_way(program, chain_inputs, a, found):
    """``found`` with each float32 gradient finding of a leaf that only the last step, a
    matrix product, reads made float noise, marked PRODUCTS_ONE_WAY, where that step alone
    (each library on tapegrad's input, with the program's incoming gradient) gives the
    same gradient but at elements where one library has ±inf and the other a finite value
    that is the exact sum (PyTorch's backward in float64) to float32's tolerance, and the
    terms of the infinity's sign pass float32's largest value (or come within a few
    roundings of it): a product rounded alone, or those terms summed first, is then that
    infinity, while a fused multiply-add in another order keeps the sum in range (xᵀg of a
    row of 3.4e38 by g = [-0.59, -0.12, 0.24, 1.43]: the product 4.9e38 overflows, the
    exact sum 3.28e38; tapegrad's BLAS 3.28e38, PyTorch's +inf). An infinity where the terms
    of its sign stay below the range, or a finite value other than the exact sum, stays."""
    largest = float(np.finfo(np.float32).max)
    reach = largest * (1 - 8 * float(np.finfo(np.float32).eps))

    def one_way(g, h, size, value):
        infinite = np.where(np.isinf(g), g, h).astype(np.float64)
        finite = np.where(np.isinf(g), h, g).astype(np.float64)
        with np.errstate(invalid="ignore"):
            sum_of_its_sign = (size + np.sign(infinite) * value) / 2
            exact_kept = np.isfinite(finite) & np.isfinite(value) & (
                np.abs(finite - value) <= TOLERANCE["float32"] * np.abs(value))
        return (np.isinf(g) != np.isinf(h)) & exact_kept & (sum_of_its_sign > reach)

    return _products_past_float32(program, chain_inputs, a, found, one_way, PRODUCTS_ONE_WAY)


def _products_past_float32(program, chain_inputs, a, found, explains, mark):
    """``found`` with each float32 gradient finding of a leaf that only the last step, a
    matrix product, reads made float noise marked ``mark``, where that step alone (each
    library on tapegrad's input, with the program's incoming gradient) gives the same
    gradient but at elements one library has NaN or ±inf and the other not the same, and
    ``explains(g, h, size, value)`` holds at each of those: tapegrad's and PyTorch's
    gradients, the size of the terms summed (Σ|g||x|) and their exact sum (Σgx), both from
    PyTorch's backward in float64."""
    step = program.steps[-1] if program.steps else None
    if torch is None or step is None or step.entry.name not in ("linear", "matmul", "mm", "bmm",
                                                                 "mv"):
        return found
    k = len(program.steps) - 1
    read = {a.index for s in program.steps[:-1] for a in list(s.args) + list(s.kwargs.values())
            if isinstance(a, LeafRef)} | {0}
    direct = {a.index for a in list(step.args) + list(step.kwargs.values())
              if isinstance(a, LeafRef)} - read
    if not any(f.kind == "gradient" for f in found) or not direct:
        return found
    grad, chain = _incoming_gradient(program, a), chain_inputs[k]
    ours = _step_backward(TAPEGRAD, program, k, chain, grad)
    theirs = _step_backward(TORCH, program, k, chain, grad)
    magnitudes = _with_magnitudes(program)
    sizes = _step_backward(TORCH, magnitudes, k, None if chain is None else
                           (np.abs(chain[0]), chain[1]), np.abs(grad), float_dtype="float64")
    exact = _step_backward(TORCH, program, k, chain, grad, float_dtype="float64")
    if ours is None or theirs is None or sizes is None or exact is None:
        return found

    def explained(f):
        index = int(f.detail[4:f.detail.index(" ")]) if f.detail.startswith("leaf") else None
        if f.kind != "gradient" or index not in direct or not f.detail.startswith(
                f"leaf{index} (float32): "):
            return False
        g, h = ours[1].get(index), theirs[1].get(index)
        size, value = sizes[1].get(index), exact[1].get(index)
        if any(v is None for v in (g, h, size, value)) or g.shape != h.shape:
            return False
        with np.errstate(invalid="ignore"):
            disputed = ~(np.isfinite(g) & np.isfinite(h)) & ~((g == h) | (np.isnan(g) & np.isnan(h)))
            explanation = explains(g, h, size, value)
        return bool(disputed.any()) and bool(explanation[disputed].all()) and \
            compare_arrays(g[~disputed], h[~disputed], "float32") is None

    return [Finding("gradient-float-noise", f.op, f.detail + mark, f.seed)
            if explained(f) else f for f in found]


def _with_magnitudes(program):
    """A copy of ``program`` whose float leaves hold their magnitudes."""
    import copy
    copied = copy.copy(program)
    copied.leaves = [leaf._replace(values=np.abs(leaf.values)) if np.asarray(leaf.values).dtype.kind
                     == "f" else leaf for leaf in program.leaves]
    return copied
