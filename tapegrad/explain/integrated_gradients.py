"""Integrated Gradients (Sundararajan, Taly & Yan 2017): the gradient averaged along the
straight path from a baseline b (an input that means "nothing": black, zeros) to x, times
the distance travelled:

    IGᵢ(x) = (xᵢ − bᵢ) · ∫₀¹ ∂F/∂xᵢ(b + α(x − b)) dα

By the fundamental theorem of calculus along the path, the attributions add up to
F(x) − F(b) ("completeness"); how far a computed sum misses that is the *convergence
delta*, a check on the integral's accuracy.

The integral is a quadrature Σₖ wₖ g(αₖ): Gauss–Legendre (the default: exact for
polynomial integrands of degree < 2·n_steps, so few steps suffice on smooth models) or
a Riemann rule. Every (step, example) pair is one *row*; the rows are fed to the model
``internal_batch_size`` at a time, so n_steps × N inputs never need to exist at once.
"""
import numpy as np

from .. import backend
from . import _attribution as A

METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle",
           "riemann_trapezoid")


def quadrature(method, n_steps):
    """Nodes αₖ in [0, 1] and weights wₖ (summing to 1) of the rule ``method``, as float64
    host arrays.

    Riemann rules use n_steps equal steps of 1/n: left αₖ = k/n, right (k+1)/n, middle
    (k+½)/n (Captum's nodes). The trapezoid rule has Captum's nodes linspace(0, 1, n) but
    the weights of the trapezoid rule on them, 1/(n−1) with half weights at both ends;
    Captum weighs them 1/n, so its weights sum to 1 − 1/n and a constant gradient would
    miss completeness by 1/n.
    """
    n = n_steps
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)  # on [-1, 1], weights sum to 2
        return 0.5 * (nodes + 1), 0.5 * weights
    steps = np.arange(n, dtype=np.float64)
    if method == "riemann_trapezoid":
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, n), weights
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (steps + offset) / n, np.full(n, 1.0 / n)


class IntegratedGradients:
    """``IntegratedGradients(model).attribute(inputs, baselines=None, target=None,
    n_steps=50, method="gausslegendre", internal_batch_size=None,
    return_convergence_delta=False)``."""

    def __init__(self, model):
        if not callable(model):
            raise TypeError(f"IntegratedGradients: model must be callable, got "
                            f"{type(model).__name__}")
        self.model = model

    def attribute(self, inputs, baselines=None, target=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None,
                  return_convergence_delta=False):
        """Attributions with the inputs' shape, dtype and device; with
        ``return_convergence_delta`` also Σ attributions − (F(x) − F(b)) per example,
        shape (N,).

        ``baselines``: None (zeros), a number, or a tensor broadcastable to the inputs.
        ``internal_batch_size``: rows (one input on the path each) per model call; None
        takes at most 256 rows, fewer for large inputs."""
        op = "IntegratedGradients"
        inputs = A.check_inputs(op, inputs)
        if method not in METHODS:
            raise ValueError(f"{op}: unknown method {method!r}; expected one of "
                             f"{', '.join(METHODS)}")
        smallest = 2 if method == "riemann_trapezoid" else 1
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < smallest:
            raise ValueError(f"{op}: n_steps must be an int ≥ {smallest} for method "
                             f"{method!r}, got {n_steps!r}")
        x, _ = A.prepared(op, self.model, inputs)
        xp = backend.device_of_array(x).xp
        b = A.baseline_array(op, baselines, inputs, x)
        n = x.shape[0]
        target = A.Target.parse(op, target, n)
        batch = A.batch_rows(op, internal_batch_size, x[0].size if n else 1)
        alphas, weights = quadrature(method, n_steps)
        path = x - b
        feature_shape = (1,) * (x.ndim - 1)

        # Row r is the point at step k = r // n of example i = r % n (steps outermost).
        total = xp.zeros_like(x)
        for start, stop in A.chunks(n * n_steps, batch):
            rows = np.arange(start, stop)
            steps, examples = rows // n, rows % n
            step_alphas = xp.asarray(alphas[steps].astype(x.dtype)).reshape((-1,) + feature_shape)
            examples_on_device = xp.asarray(examples)
            points = b[examples_on_device] + step_alphas * path[examples_on_device]
            gradient = A.input_gradients(op, self.model, points, target, examples)
            # Add each step's gradients in step order: every example sums its steps in the
            # same order however the rows were cut into batches.
            for k in range(int(steps[0]), int(steps[-1]) + 1):
                lo = max(start, k * n) - start
                hi = min(stop, (k + 1) * n) - start
                first = int(examples[lo])
                total[first:first + hi - lo] += float(weights[k]) * gradient[lo:hi]
        attributions = total * path

        if not return_convergence_delta:
            return A.result(attributions, inputs)
        ends = xp.concat([x, xp.ascontiguousarray(b)])
        ids = np.concatenate([np.arange(n), np.arange(n)])
        scores = A.output_scores(op, self.model, ends, target, ids, batch)
        delta = attributions.reshape(n, -1).sum(axis=1) - (scores[:n] - scores[n:])
        return A.result(attributions, inputs), A.result(delta, inputs)
