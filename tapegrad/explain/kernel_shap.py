"""Kernel SHAP (Lundberg & Lee 2017): Shapley values by weighted linear regression.

A *coalition* z ∈ {0, 1}ᴹ keeps the features with zⱼ = 1 at the input's values and sets
the others to the baseline's: v(z) = f(x ⊙ z + b ⊙ (1 − z)). The Shapley value of
feature j averages its marginal contribution v(S ∪ {j}) − v(S) over all coalitions S in
a particular way. Lundberg & Lee showed that the φ minimising

    Σ_z π(z) · (v(z) − v(0) − Σⱼ zⱼ φⱼ)²,    π(z) = (M − 1) / (C(M, |z|) · |z| · (M − |z|)),

over all coalitions but the empty and the full one, subject to Σⱼ φⱼ = v(1) − v(0) (the
empty and full coalitions have infinite weight: they become constraints), *are* the
Shapley values. So:

* when all 2ᴹ coalitions fit in ``n_samples`` model evaluations, they are enumerated and
  the result is exact;
* otherwise, as the shap library, coalition sizes whose every coalition fits the budget
  left (in proportion to their share of the kernel's weight) are enumerated, smallest and
  largest sizes first, and the remaining sizes are *sampled*: a size s with probability
  ∝ its kernel mass (M − 1)/(s(M − s)), then a uniform coalition of that size, paired
  with its complement (antithetic sampling: pairs cancel much of the noise). Repeated
  coalitions are evaluated once and weighted by their count.

The constraint is enforced exactly by eliminating the last feature,
φ_M = Δ − Σ_{j<M} φⱼ with Δ = f(x) − f(baseline), and solving the remaining weighted least
squares for φ₁…φ_{M−1}: the values always add up to f(x) − f(baseline), to rounding.

``feature_mask`` groups input elements into features (elements with the same id move
together). With ``return_input_shape=True`` (the default) a group's value is spread
evenly over its elements, so the returned array, of the input's shape, still sums to
f(x) − f(baseline) (Captum instead repeats the group's value on every element);
``return_input_shape=False`` returns the (N, M) values of the features, in increasing
order of their ids.

``n_samples="auto"`` evaluates 2·M + 2048 coalitions per example (the shap library's
default), so every problem with M ≤ 11 features is solved exactly.
"""
from itertools import combinations
from math import comb

import numpy

from .. import backend
from ..autograd.tensor import Tensor
from . import _attribution as A
from .lime.base import _as_numpy_function, generator


def shapley_kernel(M, sizes):
    """π(z) = (M − 1) / (C(M, |z|) · |z| · (M − |z|)) for coalitions of the given sizes
    (0 < size < M)."""
    sizes = numpy.asarray(sizes)
    binomials = numpy.array([comb(M, int(s)) for s in range(M + 1)], dtype=numpy.float64)
    return (M - 1) / (binomials[sizes] * sizes * (M - sizes))


def all_coalitions(M):
    """Every coalition but the empty and the full one, as a (2ᴹ − 2, M) 0/1 table."""
    codes = numpy.arange(1, 2 ** M - 1, dtype=numpy.int64)
    return ((codes[:, None] >> numpy.arange(M)) & 1).astype(numpy.float64)


def _subsets_of_size(M, s):
    """All C(M, s) coalitions of size s, as a 0/1 table."""
    members = numpy.array(list(combinations(range(M), s)), dtype=numpy.int64)
    table = numpy.zeros((members.shape[0], M))
    numpy.put_along_axis(table, members, 1.0, axis=1)
    return table


def coalitions(M, n_samples, rng):
    """``(Z, weights, exact)``: the coalitions to evaluate (besides the empty and full
    ones), their regression weights, and whether they are all 2ᴹ − 2 of them."""
    if M < 2:
        return numpy.zeros((0, M)), numpy.zeros(0), True
    if 2 ** M <= n_samples:
        Z = all_coalitions(M)
        return Z, shapley_kernel(M, Z.sum(axis=1).astype(numpy.int64)), True
    budget = n_samples - 2
    # Kernel mass of each size s (all C(M, s) coalitions together): (M − 1) / (s(M − s)).
    # Sizes s and M − s have equal mass and are handled as a pair.
    mass = {s: (M - 1) / (s * (M - s)) for s in range(1, M)}
    pairs = [(s, M - s) if s != M - s else (s,) for s in range(1, M // 2 + 1)]
    remaining = sum(mass.values())
    tables, weights = [], []
    k = 0
    while k < len(pairs):
        pair_mass = sum(mass[s] for s in pairs[k])
        count = sum(comb(M, s) for s in pairs[k])
        if budget * pair_mass / remaining < count - 1e-8:
            break
        for s in pairs[k]:
            table = _subsets_of_size(M, s)
            tables.append(table)
            weights.append(numpy.full(table.shape[0], mass[s] / comb(M, s)))
        budget -= count
        remaining -= pair_mass
        k += 1
    left = [s for pair in pairs[k:] for s in pair]
    n_draws = budget // 2
    if left and n_draws > 0:
        probabilities = numpy.array([mass[s] for s in left])
        sizes = rng.choice(numpy.array(left), size=n_draws, p=probabilities / probabilities.sum())
        ranks = numpy.argsort(numpy.argsort(rng.random((n_draws, M)), axis=1), axis=1)
        drawn = (ranks < sizes[:, None]).astype(numpy.float64)
        drawn = numpy.concatenate([drawn, 1.0 - drawn])          # each with its complement
        unique, counts = numpy.unique(drawn, axis=0, return_counts=True)
        tables.append(unique)
        weights.append(counts * (remaining / drawn.shape[0]))
    if not tables:
        return numpy.zeros((0, M)), numpy.zeros(0), False
    return numpy.concatenate(tables), numpy.concatenate(weights), False


def constrained_shapley_fit(Z, weights, values, f_full, f_empty):
    """φ minimising Σ w (v(z) − f_empty − z·φ)² subject to Σφ = f_full − f_empty."""
    M = Z.shape[1]
    delta = f_full - f_empty
    if M == 1:
        return numpy.array([delta])
    if Z.shape[0] == 0:
        return numpy.full(M, delta / M)
    # φ_M = Δ − Σ_{j<M} φⱼ turns z·φ into Σ_{j<M} (zⱼ − z_M) φⱼ + z_M Δ.
    design = Z[:, :-1] - Z[:, -1:]
    target = values - f_empty - Z[:, -1] * delta
    root = numpy.sqrt(weights)
    head = numpy.linalg.lstsq(design * root[:, None], target * root, rcond=None)[0]
    return numpy.append(head, delta - head.sum())


class KernelShap:
    """``KernelShap(f).attribute(inputs, baselines=None, target=None, feature_mask=None,
    n_samples="auto", seed=None, internal_batch_size=None, return_input_shape=True)``

    ``f``: a tapegrad model, or any function of a batch. ``inputs`` (N, ...): a Tensor
    (``f`` then gets Tensors on its device with the inputs' dtype, and the result is a
    Tensor like the inputs) or a numpy array (``f`` gets numpy arrays, unless it is a
    tapegrad model). ``baselines``: None (zeros), a number, or an array/Tensor
    broadcastable to the inputs (one per example, or one for all). ``feature_mask``: an
    int array/Tensor broadcastable to the inputs; elements with equal ids form one
    feature (default: every element is a feature). ``n_samples``: model evaluations per
    example ("auto" = 2·M + 2048). Examples are explained independently; all their
    coalitions go to ``f`` together, ``internal_batch_size`` rows per call.
    """

    def __init__(self, forward_func):
        if not callable(forward_func):
            raise TypeError(f"KernelShap: forward_func must be callable, got "
                            f"{type(forward_func).__name__}")
        self.forward_func = forward_func

    def attribute(self, inputs, baselines=None, target=None, feature_mask=None,
                  n_samples="auto", seed=None, internal_batch_size=None,
                  return_input_shape=True):
        op = "KernelShap.attribute"
        x = _host(op, inputs, "inputs")
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"{op}: inputs must have a batch dimension (N, ...) with N ≥ 1, "
                             f"got shape {x.shape}")
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{op}: inputs must be numeric, got dtype {x.dtype}")
        n, example_shape = x.shape[0], x.shape[1:]
        base = _broadcast(op, 0 if baselines is None else _host(op, baselines, "baselines"),
                          x.shape, "baselines").astype(x.dtype)
        masks = _feature_masks(op, feature_mask, x.shape)
        target = A.Target.parse(op, target, n)
        rng = generator(seed)

        # Per example: its feature ids (as 0..M−1 per element) and its coalitions.
        plans, cache = [], {}
        for e in range(n):
            ids, inverse, counts = numpy.unique(masks[min(e, len(masks) - 1)],
                                                return_inverse=True, return_counts=True)
            M = ids.shape[0]
            budget = 2 * M + 2048 if n_samples == "auto" else _check_samples(op, n_samples)
            key = (M, budget)
            if key not in cache:  # examples with as many features share their coalitions
                cache[key] = coalitions(M, budget, rng)
            Z, weights, _ = cache[key]
            full = numpy.concatenate([numpy.ones((1, M)), numpy.zeros((1, M)), Z])
            plans.append((inverse.reshape(example_shape), counts, full, weights))

        # Every (example, coalition) pair is a row; rows go to f in batches.
        example_of_row = numpy.concatenate([numpy.full(p[2].shape[0], e)
                                            for e, p in enumerate(plans)])
        coalition_of_row = numpy.concatenate([numpy.arange(p[2].shape[0]) for p in plans])
        rows = example_of_row.shape[0]
        batch = A.batch_rows(op, internal_batch_size, max(1, x[0].size))
        call = _as_numpy_function(self.forward_func, like=inputs, batch_size=batch, op=op)
        values = numpy.empty(rows)
        for start, stop in A.chunks(rows, batch):
            examples = example_of_row[start:stop]
            perturbed = numpy.empty((stop - start,) + example_shape, dtype=x.dtype)
            for e in numpy.unique(examples):
                at = numpy.nonzero(examples == e)[0]
                inverse, _, full, _ = plans[e]
                keep = full[coalition_of_row[start:stop][at]][:, inverse] > 0
                perturbed[at] = numpy.where(keep, x[e], base[e])
            out = call(perturbed)
            values[start:stop] = target.select(op, out, examples)

        results = []
        offset = 0
        for e, (inverse, counts, full, weights) in enumerate(plans):
            v = values[offset:offset + full.shape[0]]
            offset += full.shape[0]
            phi = constrained_shapley_fit(full[2:], weights, v[2:], v[0], v[1])
            results.append(phi[inverse] / counts[inverse] if return_input_shape else phi)
        if not return_input_shape and len({r.shape[0] for r in results}) > 1:
            raise ValueError(f"{op}: return_input_shape=False needs the same number of "
                             f"features in every example, got {[r.shape[0] for r in results]}")
        return _like(numpy.stack(results), inputs)


def _check_samples(op, n_samples):
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, numpy.integer)) \
            or n_samples < 2:
        raise ValueError(f"{op}: n_samples must be 'auto' or an int ≥ 2 (the empty and the "
                         f"full coalition), got {n_samples!r}")
    return int(n_samples)


def _host(op, value, name):
    if isinstance(value, Tensor):
        return backend.to_numpy(value.detach().array)
    if backend.is_array(value):
        return backend.to_numpy(value)
    try:
        return numpy.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a tensor, an array or a number, got "
                        f"{type(value).__name__}") from None


def _broadcast(op, array, shape, name):
    array = numpy.asarray(array)
    try:
        return numpy.broadcast_to(array, shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {array.shape} cannot be broadcast to the "
                         f"inputs' shape {shape}") from None


def _feature_masks(op, feature_mask, shape):
    """The feature ids of each example's elements: an (N or 1, ...) int array."""
    if feature_mask is None:
        size = int(numpy.prod(shape[1:]))
        return numpy.arange(size, dtype=numpy.int64).reshape((1,) + shape[1:])
    mask = _host(op, feature_mask, "feature_mask")
    if mask.dtype.kind not in "iu":
        raise TypeError(f"{op}: feature_mask must hold integer feature ids, got dtype "
                        f"{mask.dtype}")
    if mask.ndim == len(shape) and mask.shape[0] == shape[0] and shape[0] > 1:
        return _broadcast(op, mask, shape, "feature_mask")
    if mask.ndim == len(shape):
        return _broadcast(op, mask, (1,) + shape[1:], "feature_mask")
    return _broadcast(op, mask, shape[1:], "feature_mask")[None]


def _like(attributions, inputs):
    """The attributions in the inputs' form: a Tensor on their device with their dtype,
    or a numpy array (float64 unless the inputs are floating point)."""
    if isinstance(inputs, Tensor):
        dtype = inputs.array.dtype if inputs.dtype.is_floating_point else numpy.float64
        return A.on_device(attributions.astype(dtype), inputs.device)
    inputs = numpy.asarray(inputs)
    return attributions.astype(inputs.dtype if inputs.dtype.kind == "f" else numpy.float64)
