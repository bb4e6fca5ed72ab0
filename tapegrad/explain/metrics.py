"""Faithfulness metrics: do the attributions describe what the model really does?

An attribution looks convincing or not; these numbers check it against the model.

- ``deletion_auc`` / ``insertion_auc`` (RISE, Petsiuk, Das & Saenko 2018): remove the
  features from most to least important and watch the class probability fall (a faithful
  attribution makes it fall fast: a LOW deletion AUC), or insert them into a blurred image
  and watch it rise (a HIGH insertion AUC).
- ``infidelity`` (Yeh et al. 2019): for small random perturbations I, the attribution
  predicts the change of the output by Iᵀφ; infidelity is the mean squared miss.
- ``sensitivity_max`` (Yeh et al. 2019): how much the attribution itself changes when the
  input moves a little; a robust explanation changes little.
- ``randomization_check`` (Adebayo et al. 2018, "Sanity checks for saliency maps"): the
  attributions of the trained model and of a copy with re-initialised weights should
  differ; if they are alike, the method shows the input (edges) rather than the model.

Every model evaluation is batched: the perturbed inputs of all examples are rows, built
and evaluated ``internal_batch_size`` at a time (None: at most 256 rows per call, fewer
for large inputs). ``model`` may be a tapegrad model or any callable (see _callable.py):
with tensor inputs it receives tensors, with numpy inputs a tapegrad Module receives
tensors and any other function numpy arrays. Results are one value per example, shape
(N,): a tensor on the inputs' device for tensor inputs, a numpy array for numpy inputs.
"""
import copy
import dataclasses

import numpy as np

from .. import backend, dtypes, random
from ..autograd.tensor import Tensor
from . import _attribution as A
from ._callable import as_batched_function

DEFAULT_MAX_STEPS = 100
RISE_BLUR_SIZE, RISE_BLUR_SIGMA = 11, 5.0


# -- deletion and insertion (RISE) -------------------------------------------------------------
def deletion_auc(model, inputs, attributions, target=None, baseline=0.0, n_steps=None,
                 fraction_per_step=None, use_softmax=True, sum_channels=None,
                 internal_batch_size=None, return_curves=False):
    """The deletion metric of RISE (Petsiuk et al. 2018), one value per example: lower is
    better.

    The features are ordered by decreasing attribution (the signed value: the strongest
    evidence *for* the target first; pass ``attributions.abs()`` to rank by magnitude).
    For images (N, C, H, W) (or whenever ``sum_channels`` is True) a feature is a pixel,
    ranked by its attribution summed over the channels, and deleting it replaces all its
    channels; attributions may then be (N, C, H, W), (N, 1, H, W) (Grad-CAM) or (N, H, W).
    Otherwise every element of an example is a feature and the attributions have the
    inputs' shape. Ties keep the features' order.

    Step k of the curve replaces the first m_k features with ``baseline`` (a number or a
    tensor broadcastable to the inputs; 0 by default, as in the paper) and records the
    model's score p_k for ``target``: the softmax probability over dim 1 of the outputs
    when ``use_softmax`` (default, as the paper's class probability), else the raw output.
    m_k goes from 0 to all M features: with ``n_steps`` S, m_k = ⌊k·M/S⌋ for k = 0..S;
    with ``fraction_per_step`` f, m_k = k·max(1, round(f·M)) up to M (the paper removes
    224 pixels of a 224 × 224 image per step); neither: S = min(M, 100). The AUC is the
    trapezoid rule over the deleted fraction m_k / M ∈ [0, 1].

    Returns the AUCs (N,); with ``return_curves`` also the fractions (S+1,) and the
    scores (N, S+1) as numpy arrays.
    """
    return _rise("deletion_auc", model, inputs, attributions, target, baseline, n_steps,
                 fraction_per_step, use_softmax, sum_channels, internal_batch_size,
                 return_curves, insert=False)


def insertion_auc(model, inputs, attributions, target=None, baseline=None, n_steps=None,
                  fraction_per_step=None, use_softmax=True, sum_channels=None,
                  internal_batch_size=None, return_curves=False,
                  blur_kernel_size=RISE_BLUR_SIZE, blur_sigma=RISE_BLUR_SIGMA):
    """The insertion metric of RISE (Petsiuk et al. 2018), one value per example: higher is
    better.

    The mirror of ``deletion_auc`` (see it for the ordering, the steps, the score and the
    AUC): the curve starts from ``baseline`` and step k puts back the first m_k features of
    the input. ``baseline``: ``"blur"`` (the input blurred by ``gaussian_blur`` with the
    RISE code's 11 × 11 Gaussian of σ = 5: the paper starts insertion from a blurred image,
    so that inserted pixels do not create sharp edges that the model would react to), a
    number, or a tensor broadcastable to the inputs. None (the default) means ``"blur"``
    for inputs with two spatial dims or more ((N, H, W), (N, C, H, W)) and 0 otherwise.
    """
    if baseline is None:
        baseline = "blur" if _ndim(inputs) >= 3 else 0.0
    return _rise("insertion_auc", model, inputs, attributions, target, baseline, n_steps,
                 fraction_per_step, use_softmax, sum_channels, internal_batch_size,
                 return_curves, insert=True, blur=(blur_kernel_size, blur_sigma))


def gaussian_blur(images, kernel_size=RISE_BLUR_SIZE, sigma=RISE_BLUR_SIGMA):
    """``images`` (…, H, W) (a tensor or an array) blurred over its last two dims by a
    separable Gaussian of ``kernel_size`` taps (odd) and std ``sigma`` pixels, normalised to
    sum 1; the borders repeat the edge pixels. Same type, shape and device; float dtypes
    are kept (other dtypes give the default float)."""
    is_tensor = isinstance(images, Tensor)
    array = _array("gaussian_blur", images, "images")
    blurred = _blur(array, kernel_size, sigma, "gaussian_blur")
    return A.on_device(blurred, images.device) if is_tensor else blurred


def _rise(op, model, inputs, attributions, target, baseline, n_steps, fraction_per_step,
          use_softmax, sum_channels, internal_batch_size, return_curves, insert, blur=None):
    x, is_tensor = _inputs(op, inputs)
    device = backend.device_of_array(x)
    xp = device.xp
    n = x.shape[0]
    if sum_channels is None:
        sum_channels = x.ndim == 4
    if sum_channels and x.ndim < 3:
        raise ValueError(f"{op}: sum_channels needs inputs (N, C, ...) with channels in dim 1, "
                         f"got shape {tuple(x.shape)}")
    scores = _pixel_scores(op, attributions, x, sum_channels)         # host (N, M)
    m = scores.shape[1]
    feature_shape = ((1,) + tuple(x.shape[2:])) if sum_channels else tuple(x.shape[1:])
    counts = _step_counts(op, m, n_steps, fraction_per_step)           # host (S+1,)
    if isinstance(baseline, str):
        if baseline != "blur":
            raise ValueError(f"{op}: baseline must be a number, a tensor or 'blur', got "
                             f"{baseline!r}")
        if x.ndim < 3:
            raise ValueError(f"{op}: baseline='blur' needs images, inputs of shape (N, H, W) "
                             f"or (N, C, H, W), got shape {tuple(x.shape)}")
        base = _blur(x, *blur, op)
    else:
        base = A.baseline_array(op, baseline, inputs, x)
    target = A.Target.parse(op, target, n)
    batch = A.batch_rows(op, internal_batch_size, x[0].size if n else 1)
    fn = as_batched_function(model, batch_size=batch, takes_tensors=True if is_tensor else None)

    # rank[i, f]: the position of feature f in example i's order (0: most important).
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(m)[None, :], axis=1)
    rank = xp.asarray(rank)
    steps = counts.shape[0]
    curves = np.zeros((n, steps))
    # Row r is step k = r // n of example i = r % n.
    for start, stop in A.chunks(n * steps, batch):
        rows = np.arange(start, stop)
        ks, examples = rows // n, rows % n
        on_device = xp.asarray(examples)
        changed = (rank[on_device] < xp.asarray(counts[ks])[:, None]).reshape(
            (len(rows),) + feature_shape)
        if insert:
            perturbed = xp.where(changed, x[on_device], base[on_device])
        else:
            perturbed = xp.where(changed, base[on_device], x[on_device])
        curves[examples, ks] = _scores(op, fn, perturbed, target, examples, use_softmax)
    fractions = counts / max(m, 1)
    auc = ((curves[:, 1:] + curves[:, :-1]) * 0.5 * np.diff(fractions)).sum(axis=1)
    auc = _result(auc, inputs, is_tensor)
    return (auc, fractions, curves) if return_curves else auc


def _pixel_scores(op, attributions, x, sum_channels):
    """The importance of each feature, host float64 (N, M)."""
    a = backend.to_numpy(_array(op, attributions, "attributions"))
    n = x.shape[0]
    pixels = tuple(x.shape[2:]) if sum_channels else tuple(x.shape[1:])
    shape = tuple(a.shape)
    if sum_channels and a.ndim == x.ndim and shape[0] == n and shape[2:] == pixels:
        a = a.sum(axis=1, dtype=np.float64)
    elif shape != (n,) + pixels:
        wanted = f"{tuple(x.shape)}, (N, 1) + {pixels} or {(n,) + pixels}" if sum_channels \
            else f"{tuple(x.shape)}"
        raise ValueError(f"{op}: attributions of shape {shape} do not fit inputs of shape "
                         f"{tuple(x.shape)}; expected {wanted}")
    a = a.reshape(n, -1).astype(np.float64, copy=False)
    if np.isnan(a).any():
        raise ValueError(f"{op}: the attributions contain NaN, so they give no order")
    return a


def _step_counts(op, m, n_steps, fraction_per_step):
    """How many features are changed at each point of the curve: 0 … m, increasing."""
    if n_steps is not None and fraction_per_step is not None:
        raise ValueError(f"{op}: give n_steps or fraction_per_step, not both")
    if fraction_per_step is not None:
        if isinstance(fraction_per_step, bool) or \
                not isinstance(fraction_per_step, (int, float)) or \
                not 0 < fraction_per_step <= 1:
            raise ValueError(f"{op}: fraction_per_step must be a number in (0, 1], got "
                             f"{fraction_per_step!r}")
        per_step = max(1, round(fraction_per_step * m))
        return np.append(np.arange(0, m, per_step), m)
    if n_steps is None:
        n_steps = max(1, min(m, DEFAULT_MAX_STEPS))
    elif isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"{op}: n_steps must be a positive int or None, got {n_steps!r}")
    n_steps = max(1, min(n_steps, m))
    return (np.arange(n_steps + 1) * m) // n_steps


def _scores(op, fn, rows, target, examples, use_softmax):
    """The model's score of each row for its example's target, host float64 (R,)."""
    outputs = fn(rows)
    if use_softmax:
        if outputs.ndim < 2 or outputs.shape[1] < 2:
            raise ValueError(f"{op}: use_softmax needs outputs with a class dim of size ≥ 2 "
                             f"(dim 1), but the model returned shape {tuple(outputs.shape)}; "
                             f"pass use_softmax=False to score the raw output")
        logits = outputs.astype(np.float64)
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        outputs = exp / exp.sum(axis=1, keepdims=True)
    return np.asarray(target.select(op, outputs, examples), dtype=np.float64)


def _blur(x, kernel_size, sigma, op):
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 \
            or kernel_size % 2 == 0:
        raise ValueError(f"{op}: blur_kernel_size must be an odd positive int, got "
                         f"{kernel_size!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ValueError(f"{op}: blur_sigma must be a positive number, got {sigma!r}")
    if x.ndim < 2:
        raise ValueError(f"{op}: blurring needs images (…, H, W), got shape {tuple(x.shape)}")
    xp = backend.device_of_array(x).xp
    radius = kernel_size // 2
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = taps / taps.sum()
    if x.dtype.kind != "f":
        x = x.astype(dtypes.get_default_dtype().numpy)
    height, width = x.shape[-2:]
    padded = xp.pad(x, [(0, 0)] * (x.ndim - 2) + [(radius, radius)] * 2, mode="edge")
    # Separable: along H, then along W; one shifted slice per tap (no loop over pixels).
    along_h = xp.zeros(x.shape[:-1] + (padded.shape[-1],), dtype=x.dtype)
    for j, weight in enumerate(taps):
        along_h += x.dtype.type(weight) * padded[..., j:j + height, :]
    out = xp.zeros_like(x)
    for j, weight in enumerate(taps):
        out += x.dtype.type(weight) * along_h[..., j:j + width]
    return out


# -- infidelity ----------------------------------------------------------------------------------
def infidelity(model, inputs, attributions, perturbation_fn=None, n_perturb_samples=10,
               seed=None, target=None, noise_std=0.003, normalize=False,
               multiply_by_inputs=False, baselines=None, internal_batch_size=None):
    """Infidelity (Yeh et al. 2019), one value per example: lower is better.

        INFD(φ, f, x) = E_I[(Iᵀφ − (f(x) − f(x − I)))²]

    estimated by the mean over ``n_perturb_samples`` draws of I, where f is the model's raw
    output for ``target`` (no softmax) and φ the attributions (the inputs' shape). By
    default I ~ N(0, ``noise_std``²) independently per element (Captum's examples use
    0.003; choose it at the scale of your inputs). ``perturbation_fn(x, rng)``, if given,
    returns the perturbations I (the shape of ``x``) of a batch of rows ``x`` (an array on
    the inputs' device, each example repeated), drawing from ``rng``, a host
    ``numpy.random.Generator`` seeded with ``seed``.

    For a model that is linear near x, Iᵀφ = f(x) − f(x − I) for every I exactly when φ is
    the gradient (Saliency with abs=False), so its infidelity is 0. Attributions already
    multiplied by the input (InputXGradient, Integrated Gradients) are compared, with
    ``multiply_by_inputs=True``, through I / (x − baselines) (0 where x = baseline), as in
    Captum: then φ = (x − b) ⊙ gradient scores 0 on a linear model.

    ``normalize``: first rescale φ by the β that minimises the expectation,
    β = E[Iᵀφ · Δf] / E[(Iᵀφ)²] (0 when Iᵀφ is always 0), as Captum's ``normalize=True``:
    this measures the attribution's direction and not its scale.

    ``seed``: None draws from tapegrad's default generator (``tg.manual_seed`` repeats it).
    """
    op = "infidelity"
    x, is_tensor = _inputs(op, inputs)
    xp = backend.device_of_array(x).xp
    n = x.shape[0]
    samples = _count(op, "n_perturb_samples", n_perturb_samples)
    phi = _attributions_like(op, attributions, x)
    if perturbation_fn is None:
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or \
                noise_std < 0:
            raise ValueError(f"{op}: noise_std must be a number ≥ 0, got {noise_std!r}")
    elif not callable(perturbation_fn):
        raise TypeError(f"{op}: perturbation_fn must be a callable (x, rng) -> I, got "
                        f"{type(perturbation_fn).__name__}")
    scale = None
    if multiply_by_inputs:
        difference = (x - A.baseline_array(op, baselines, inputs, x)).astype(np.float64)
        nonzero = difference != 0
        scale = xp.where(nonzero, 1.0 / xp.where(nonzero, difference, 1.0), 0.0)
    elif baselines is not None:
        raise ValueError(f"{op}: baselines are only used with multiply_by_inputs=True")
    target = A.Target.parse(op, target, n)
    batch = A.batch_rows(op, internal_batch_size, x[0].size if n else 1)
    fn = as_batched_function(model, batch_size=batch, takes_tensors=True if is_tensor else None)
    rng = _rng(seed)

    everyone = np.arange(n)
    original = np.concatenate([np.zeros(0)] + [
        _scores(op, fn, x[a:b], target, everyone[a:b], False) for a, b in A.chunks(n, batch)])
    dots = np.zeros((samples, n))
    changes = np.zeros((samples, n))
    # Row r is sample s = r // n of example i = r % n; the noise is drawn row by row in this
    # order, so the batch size does not change it.
    for start, stop in A.chunks(n * samples, batch):
        rows = np.arange(start, stop)
        draws, examples = rows // n, rows % n
        on_device = xp.asarray(examples)
        points = x[on_device]
        if perturbation_fn is None:
            noise = rng.standard_normal(points.shape) * noise_std
            perturbation = backend.to_device(noise, backend.device_of_array(x)).astype(
                x.dtype if x.dtype.kind == "f" else np.float64, copy=False)
        else:
            perturbation = _array(op, perturbation_fn(points, rng), "perturbation_fn's result")
            if tuple(perturbation.shape) != tuple(points.shape):
                raise ValueError(f"{op}: perturbation_fn returned shape "
                                 f"{tuple(perturbation.shape)} for rows of shape "
                                 f"{tuple(points.shape)}")
            perturbation = backend.to_device(perturbation, backend.device_of_array(x))
        weighted = perturbation.astype(np.float64)
        if scale is not None:
            weighted = weighted * scale[on_device]
        dot = (weighted * phi[on_device]).reshape(len(rows), -1).sum(axis=1)
        dots[draws, examples] = backend.to_numpy(dot)
        moved = _scores(op, fn, points - perturbation.astype(points.dtype, copy=False), target,
                        examples, False)
        changes[draws, examples] = original[examples] - moved
    if normalize:
        numerator = (dots * changes).mean(axis=0)
        denominator = (dots * dots).mean(axis=0)
        beta = numerator / np.where(denominator == 0, 1.0, denominator)
        dots = beta * dots
    return _result(((dots - changes) ** 2).mean(axis=0), inputs, is_tensor)


def _attributions_like(op, attributions, x):
    """The attributions as a float64 array on x's device, checked to have x's shape."""
    a = _array(op, attributions, "attributions")
    if tuple(a.shape) != tuple(x.shape):
        raise ValueError(f"{op}: attributions of shape {tuple(a.shape)} must have the inputs' "
                         f"shape {tuple(x.shape)}")
    return backend.to_device(a, backend.device_of_array(x)).astype(np.float64)


# -- sensitivity ---------------------------------------------------------------------------------
def sensitivity_max(explanation_fn, inputs, perturb_radius=0.02, n_perturb_samples=10,
                    seed=None, norm=2, normalize=True, target=None, internal_batch_size=None,
                    **kwargs):
    """Max-sensitivity (Yeh et al. 2019), one value per example: lower is better.

        SENS_MAX(φ, x) = max over δ of ‖φ(x + δ) − φ(x)‖ / ‖φ(x)‖

    with ``n_perturb_samples`` draws of δ uniform in the L∞ ball of radius
    ``perturb_radius`` (each element in [−r, r]; Captum's default perturbation), the norm
    ``norm`` (2: Frobenius; 1, inf or any p > 0) taken over each example's whole
    attribution. Dividing by ‖φ(x)‖ is Captum's default (``normalize=True``), which makes
    the value scale-free; an example with φ(x) = 0 is divided by 1. ``normalize=False``
    gives Yeh et al.'s unnormalised maximum.

    ``explanation_fn(inputs, **kwargs)`` returns attributions, e.g.
    ``Saliency(model).attribute``; it is called on the original inputs once and on the
    perturbed rows (each example repeated) ``internal_batch_size`` rows at a time (None:
    up to 256), with ``target`` repeated to match (an int target is passed as it is).
    It receives tensors for tensor inputs and arrays for array inputs.
    ``seed``: None draws from tapegrad's default generator.
    """
    op = "sensitivity_max"
    if not callable(explanation_fn):
        raise TypeError(f"{op}: explanation_fn must be callable, e.g. Saliency(model).attribute,"
                        f" got {type(explanation_fn).__name__}")
    x, is_tensor = _inputs(op, inputs)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: inputs must be floating point to be perturbed, got {x.dtype}")
    device = backend.device_of_array(x)
    xp = device.xp
    n = x.shape[0]
    samples = _count(op, "n_perturb_samples", n_perturb_samples)
    if isinstance(perturb_radius, bool) or not isinstance(perturb_radius, (int, float)) or \
            perturb_radius < 0:
        raise ValueError(f"{op}: perturb_radius must be a number ≥ 0, got {perturb_radius!r}")
    if not (norm == "fro" or (not isinstance(norm, bool) and isinstance(norm, (int, float))
                              and norm > 0)):
        raise ValueError(f"{op}: norm must be a positive number, inf or 'fro', got {norm!r}")
    order = 2 if norm == "fro" else norm
    parsed = A.Target.parse(op, target, n)
    batch = A.batch_rows(op, internal_batch_size, x[0].size if n else 1)
    rng = _rng(seed)

    def explain(rows, examples):
        extra = dict(kwargs)
        if target is not None:
            extra["target"] = _target_for_rows(parsed, examples)
        given = A.on_device(rows, inputs.device) if is_tensor else rows
        out = explanation_fn(given, **extra)
        if isinstance(out, tuple):
            raise TypeError(f"{op}: explanation_fn returned a tuple; it must return the "
                            f"attributions alone (no convergence delta)")
        out = backend.to_device(_array(op, out, "explanation_fn's result"), device)
        if out.shape[0] != rows.shape[0]:
            raise ValueError(f"{op}: explanation_fn returned shape {tuple(out.shape)} for "
                             f"{rows.shape[0]} inputs")
        return out.reshape(rows.shape[0], -1).astype(np.float64)

    everyone = np.arange(n)
    original = xp.concat([explain(x[a:b], everyone[a:b]) for a, b in A.chunks(n, batch)])
    scale = xp.linalg.vector_norm(original, ord=order, axis=1) if normalize else xp.ones(n)
    scale = xp.where(scale == 0, 1.0, scale)
    worst = np.zeros(n)
    for start, stop in A.chunks(n * samples, batch):
        rows = np.arange(start, stop)
        examples = rows % n
        on_device = xp.asarray(examples)
        delta = rng.uniform(-perturb_radius, perturb_radius, (len(rows),) + x.shape[1:])
        moved = x[on_device] + backend.to_device(delta, device).astype(x.dtype)
        change = xp.linalg.vector_norm(explain(moved, examples) - original[on_device], ord=order,
                                axis=1) / scale[on_device]
        np.maximum.at(worst, examples, backend.to_numpy(change))
    return _result(worst, inputs, is_tensor)


def _target_for_rows(target, examples):
    """A parsed target for rows of the given examples, as a plain value (an int or tuple,
    or a list with one entry per row) that any explanation function accepts."""
    if target.index is not None:
        return target.index[0] if len(target.index) == 1 else target.index
    picked = target.per_example[examples]
    if picked.shape[1] == 1:
        return [int(t) for t in picked[:, 0]]
    return [tuple(int(t) for t in row) for row in picked]


# -- model randomisation -------------------------------------------------------------------------
@dataclasses.dataclass(repr=False)
class RandomizationResult:
    """What ``randomization_check`` found.

    ``spearman``: numpy (N,), each example's Spearman rank correlation between the two
    attributions (NaN where one of them is constant); ``mean``: their mean (ignoring NaN);
    ``original`` / ``randomized``: the attributions of the trained model and of its
    re-initialised copy; ``layers``: the names of the re-initialised modules;
    ``model``: the re-initialised copy.
    """
    spearman: object
    original: object
    randomized: object
    layers: list
    model: object

    @property
    def mean(self):
        values = self.spearman[~np.isnan(self.spearman)]
        return float(values.mean()) if values.size else float("nan")

    def __repr__(self):
        per_example = np.array2string(self.spearman, precision=3, threshold=8)
        return (f"RandomizationResult(mean spearman={self.mean:.3f}, per example="
                f"{per_example}, layers={self.layers})")


def randomization_check(model, method, inputs, target=None, layers="all", seed=None,
                        attribute_kwargs=None, absolute=True):
    """The model-parameter randomisation test (Adebayo et al. 2018).

    A deep copy of ``model`` has the chosen layers re-initialised: ``reset_parameters()``
    of every module that has one and holds parameters of its own (Linear, Conv, the
    normalisation layers, …) — all of them for ``layers="all"``, or those inside the
    modules named in the list ``layers`` (names as in ``model.named_modules()``, e.g.
    ``["2", "4"]``; module objects of ``model`` are accepted too; re-initialising the top
    layers first, then more and more, gives the paper's cascading test). The draws come
    from a private generator seeded with ``seed`` (the default generator is left as it
    was), or from tapegrad's default generator when ``seed`` is None.

    ``method`` makes the explainer: an attribution class taking the model (``Saliency``,
    ``IntegratedGradients``, …) or any callable ``model -> explainer`` (e.g.
    ``lambda m: GradCAM(m, m.conv2)``, so that the layer is the copy's); both explainers
    run ``attribute(inputs, target=target, **attribute_kwargs)``.

    Each example's two attributions are compared by the Spearman rank correlation of
    their absolute values (``absolute=True``, as the paper's main figures; False: signed),
    ranks of ties averaged. A method that depends on the model gives values near 0; values
    near 1 mean the explanation barely depends on what the model learnt.
    """
    op = "randomization_check"
    if not callable(method):
        raise TypeError(f"{op}: method must be an attribution class such as Saliency, or a "
                        f"callable model -> explainer, got {type(method).__name__}")
    if attribute_kwargs is None:
        attribute_kwargs = {}
    elif not isinstance(attribute_kwargs, dict):
        raise TypeError(f"{op}: attribute_kwargs must be a dict, got "
                        f"{type(attribute_kwargs).__name__}")
    randomized = copy.deepcopy(model)
    chosen = _modules_to_reset(op, model, randomized, layers)
    with _seeded(seed):
        for _, module in chosen:
            module.reset_parameters()

    def attribute(m):
        explainer = method(m)
        if not callable(getattr(explainer, "attribute", None)):
            raise TypeError(f"{op}: method(model) must give an explainer with .attribute, got "
                            f"{type(explainer).__name__}")
        return explainer.attribute(inputs, target=target, **attribute_kwargs)

    original = attribute(model)
    shuffled = attribute(randomized)
    a = backend.to_numpy(_array(op, original, "attributions"))
    b = backend.to_numpy(_array(op, shuffled, "attributions"))
    n = a.shape[0] if a.ndim else 1
    a, b = a.reshape(n, -1), b.reshape(n, -1)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    return RandomizationResult(spearman=spearman(a, b), original=original, randomized=shuffled,
                               layers=[name for name, _ in chosen], model=randomized)


def _modules_to_reset(op, model, copied, layers):
    """(name, module of the copy) pairs to re-initialise, in the model's order."""
    if not callable(getattr(model, "named_modules", None)):
        raise TypeError(f"{op}: model must be a tapegrad.nn.Module, got {type(model).__name__}")
    names = [name for name, _ in model.named_modules()]
    if isinstance(layers, str) and layers == "all":
        roots = [""]
    elif isinstance(layers, (list, tuple)):
        by_identity = {id(module): name for name, module in model.named_modules()}
        roots = []
        for layer in layers:
            name = layer if isinstance(layer, str) else by_identity.get(id(layer))
            if name is None or name not in names:
                raise ValueError(f"{op}: {layer!r} is not a module of the model; its modules "
                                 f"are {[n for n in names if n]}")
            roots.append(name)
    else:
        raise ValueError(f"{op}: layers must be 'all' or a list of module names, got "
                         f"{layers!r}")
    copies = dict(copied.named_modules())
    chosen = []
    for name in names:
        inside = any(root == "" or name == root or name.startswith(root + ".")
                     for root in roots)
        module = copies[name]
        if inside and callable(getattr(module, "reset_parameters", None)) and \
                next(iter(module.parameters(recurse=False)), None) is not None:
            chosen.append((name, module))
    if roots and not chosen:
        raise ValueError(f"{op}: no module with parameters and reset_parameters() in {layers!r}"
                         f", so nothing would be re-initialised")
    return chosen


class _seeded:
    """Within the block, tapegrad's default generator draws from ``seed`` (every device);
    afterwards it continues exactly where it was. ``seed=None`` changes nothing."""

    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        generator = random.default_generator
        self.saved = generator._seed, generator._bit_generators
        if self.seed is not None:
            generator.manual_seed(self.seed)  # a fresh table of bit generators

    def __exit__(self, *exc):
        generator = random.default_generator
        generator._seed, generator._bit_generators = self.saved
        return False


def rank_average(values):
    """Ranks 1..M of each row of ``values`` (N, M) (host array), ties getting the mean of
    the ranks they span (as ``scipy.stats.rankdata``), float64."""
    values = np.asarray(values)
    if values.ndim == 1:
        return rank_average(values[None, :])[0]
    n, m = values.shape
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    positions = np.broadcast_to(np.arange(m), (n, m))
    starts_group = np.ones((n, m), dtype=bool)
    starts_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends_group = np.ones((n, m), dtype=bool)
    ends_group[:, :-1] = starts_group[:, 1:]
    # the first and the last position of each element's group of equal values
    first = np.maximum.accumulate(np.where(starts_group, positions, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends_group, positions, m)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((n, m))
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


def spearman(a, b):
    """The Spearman rank correlation of each row of ``a`` and ``b`` (N, M) (host arrays):
    the Pearson correlation of their average ranks; NaN for a constant row."""
    ra, rb = rank_average(a), rank_average(b)
    ra = ra - ra.mean(axis=-1, keepdims=True)
    rb = rb - rb.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((ra * ra).sum(axis=-1) * (rb * rb).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(axis=-1) / denominator, np.nan)


# -- shared --------------------------------------------------------------------------------------
def _array(op, value, name):
    if isinstance(value, Tensor):
        return value.array
    if backend.is_array(value):
        return value
    try:
        return backend.host_array(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a tensor or an array, got "
                        f"{type(value).__name__}") from None


def _inputs(op, inputs):
    x = _array(op, inputs, "inputs")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{op}: inputs must have shape (N, features...) with N ≥ 1, got "
                         f"shape {tuple(x.shape)}")
    return x, isinstance(inputs, Tensor)


def _ndim(inputs):
    return len(inputs.shape) if hasattr(inputs, "shape") else backend.host_array(inputs).ndim


def _count(op, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return value


def _rng(seed):
    generator = random.default_generator if seed is None else \
        random.Generator().manual_seed(seed)
    return generator.for_device("cpu")


def _result(values, inputs, is_tensor):
    """Per-example values (host float64 (N,)) as a tensor like the inputs, or numpy."""
    return A.result(values, inputs) if is_tensor else values


__all__ = ["RandomizationResult", "deletion_auc", "gaussian_blur", "infidelity",
           "insertion_auc", "randomization_check", "rank_average", "sensitivity_max",
           "spearman"]
