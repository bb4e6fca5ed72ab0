"""NoiseTunnel: run an attribution method on noisy copies of the input and aggregate.

Gradients of real networks are noisy: they flicker from pixel to pixel. SmoothGrad
(Smilkov et al. 2017) averages the attributions of x + ε over draws ε ~ N(0, σ²), which
keeps what is stable in a neighbourhood of x. Following the paper (and unlike Captum's
defaults of 5 samples of absolute std 1), σ is a fraction ``stdevs`` of each example's
range, max(x) − min(x) (15% by default), with 50 samples.

    smoothgrad     mean of the attributions
    smoothgrad_sq  mean of their squares
    vargrad        their variance (Adebayo et al. 2018)

The noisy copies are rows, ``nt_samples_batch_size`` samples of the whole batch at a time;
the mean and variance are accumulated sample by sample with Welford's update, which
gives exactly the attribution of a model whose gradient does not change (and a variance
of exactly 0) instead of the rounding error of mean(a²) − mean(a)².
"""
import inspect

import numpy

from .. import backend, random
from ..autograd.tensor import Tensor
from . import _attribution as A

NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


class NoiseTunnel:
    """``NoiseTunnel(method).attribute(inputs, nt_type="smoothgrad", nt_samples=50,
    stdevs=0.15, seed=None, **method_kwargs)`` where ``method`` is an attribution object
    (Saliency(model), IntegratedGradients(model), …)."""

    def __init__(self, attribution_method):
        if not callable(getattr(attribution_method, "attribute", None)):
            raise TypeError(f"NoiseTunnel: expected an attribution method such as "
                            f"Saliency(model), got {type(attribution_method).__name__}")
        self.attribution_method = attribution_method

    def attribute(self, inputs, nt_type="smoothgrad", nt_samples=50, stdevs=0.15, seed=None,
                  nt_samples_batch_size=None, draw_baseline_from_distrib=False,
                  **method_kwargs):
        """The aggregated attributions, shaped as the method's (and, when the method is
        asked for ``return_convergence_delta``, the deltas of every noisy row, shape
        (N · nt_samples,), each example's samples together, as in Captum).

        ``seed``: the noise is drawn from a generator seeded with it (None: tapegrad's
        default generator, which ``tg.manual_seed`` reseeds).
        ``nt_samples_batch_size``: noisy copies of the batch per call of the method; None
        keeps each call near 256 rows. ``draw_baseline_from_distrib``: each noisy row
        takes a random row of ``baselines`` as its baseline (for methods with baselines).
        """
        op = "NoiseTunnel"
        inputs = A.check_inputs(op, inputs, floating=True)
        if nt_type not in NT_TYPES:
            raise ValueError(f"{op}: unknown nt_type {nt_type!r}; expected one of "
                             f"{', '.join(NT_TYPES)}")
        if isinstance(nt_samples, bool) or not isinstance(nt_samples, int) or nt_samples < 1:
            raise ValueError(f"{op}: nt_samples must be a positive int, got {nt_samples!r}")
        if isinstance(stdevs, bool) or not isinstance(stdevs, (int, float)) or stdevs < 0:
            raise ValueError(f"{op}: stdevs must be a number ≥ 0 (a fraction of each "
                             f"example's range), got {stdevs!r}")
        n = inputs.shape[0]
        if nt_samples_batch_size is None:
            nt_samples_batch_size = max(1, A.DEFAULT_BATCH_ROWS // max(n, 1))
        elif isinstance(nt_samples_batch_size, bool) or \
                not isinstance(nt_samples_batch_size, int) or nt_samples_batch_size < 1:
            raise ValueError(f"{op}: nt_samples_batch_size must be a positive int or None, "
                             f"got {nt_samples_batch_size!r}")
        parameters = inspect.signature(self.attribution_method.attribute).parameters
        given_target = method_kwargs.pop("target", None)
        if given_target is not None and "target" not in parameters:
            raise TypeError(f"{op}: target was given, but "
                            f"{type(self.attribution_method).__name__}.attribute takes none")
        target = A.Target.parse(op, given_target, n)
        baselines = method_kwargs.pop("baselines", None)
        if draw_baseline_from_distrib and not isinstance(baselines, Tensor):
            raise ValueError(f"{op}: draw_baseline_from_distrib needs baselines given as a "
                             f"tensor of candidate baselines, shape (M, ...)")
        wants_delta = bool(method_kwargs.get("return_convergence_delta", False))

        x = inputs.array
        xp = inputs.device.xp
        axes = A.non_batch_axes(x.ndim)
        sigma = stdevs * (x.max(axis=axes, keepdims=True) - x.min(axis=axes, keepdims=True)) \
            if x.size else xp.zeros((n,) + (1,) * (x.ndim - 1), dtype=x.dtype)
        generator = random.default_generator if seed is None else \
            random.Generator().manual_seed(seed)
        rng = generator.for_device("cpu")  # drawn on the host: the same noise on any device
        noise_dtype = x.dtype if x.dtype.itemsize >= 4 else numpy.float32
        picks = None  # drawn before any noise, so that batching does not change the noise
        if draw_baseline_from_distrib:
            picks = rng.integers(0, baselines.shape[0], size=nt_samples * n)

        count, mean, spread, deltas = 0, None, None, []
        for first, last in A.chunks(nt_samples, nt_samples_batch_size):
            samples = last - first
            examples = numpy.tile(numpy.arange(n), samples)
            noise = rng.standard_normal((samples * n,) + x.shape[1:], dtype=noise_dtype)
            noise = backend.to_device(noise, inputs.device).astype(x.dtype, copy=False)
            noisy = (xp.broadcast_to(x, (samples,) + x.shape).reshape(noise.shape)
                     + xp.broadcast_to(sigma, (samples,) + sigma.shape).reshape(
                         (-1,) + sigma.shape[1:]) * noise)
            kwargs = dict(method_kwargs)
            if "target" in parameters:
                kwargs["target"] = target.expanded(examples)
            if baselines is not None:
                kwargs["baselines"] = _baselines_for_rows(
                    baselines, inputs, examples, None if picks is None else
                    picks[first * n:last * n])
            out = self.attribution_method.attribute(A.on_device(noisy, inputs.device), **kwargs)
            if wants_delta:
                out, delta = out
                deltas.append(backend.to_device(delta.array, inputs.device).reshape(samples, n))
            attributions = out.array.reshape((samples, n) + tuple(out.shape[1:]))
            if nt_type == "smoothgrad_sq":
                attributions = attributions * attributions
            if mean is None:
                mean = xp.zeros_like(attributions[0])
                spread = xp.zeros_like(attributions[0])
            for a in attributions:  # Welford: one sample of the whole batch at a time
                count += 1
                change = a - mean
                mean += change / count
                spread += change * (a - mean)

        aggregated = spread / count if nt_type == "vargrad" else mean
        result = A.result(aggregated, out)
        if not wants_delta:
            return result
        delta = xp.concat(deltas).T.reshape(-1)  # each example's samples together
        return result, A.result(delta, inputs)


def _baselines_for_rows(baselines, inputs, examples, picks):
    """The baselines of the noisy rows: per-example baselines follow their example; with
    ``picks`` (drawn from the distribution) row r takes baseline picks[r]."""
    if not isinstance(baselines, Tensor):
        return baselines  # a number: the same for every row
    if picks is not None:
        return A.on_device(baselines.array[baselines.device.xp.asarray(picks)],
                           baselines.device)
    n = inputs.shape[0]
    if baselines.ndim == inputs.ndim and baselines.shape[0] == n and n > 1:
        return A.on_device(baselines.array[baselines.device.xp.asarray(examples)],
                           baselines.device)
    return baselines  # broadcast over the batch: the same for every row
