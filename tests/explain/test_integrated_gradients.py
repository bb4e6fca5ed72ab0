"""Integrated Gradients: the paper's worked example, completeness, and the quadrature rules.

IG_i(x) = (x_i − b_i) · ∫₀¹ ∂F/∂x_i(b + α(x − b)) dα, computed as Σ_k w_k g(α_k).
"""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain.integrated_gradients import METHODS, IntegratedGradients, quadrature

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
rng = np.random.default_rng(0)


class Counting(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.rows = []

    def forward(self, x):
        self.rows.append(x.shape[0])
        return self.model(x)


def paper_function(x):
    """F(x1, x2) = ReLU(ReLU(x1) − 1 − ReLU(x2)), from Sundararajan et al. 2017."""
    return (x[:, 0].relu() - 1 - x[:, 1].relu()).relu()


class Smooth(nn.Module):
    """A small smooth network: tanh MLP with a softplus-like head, float64."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 16).double()
        self.out = nn.Linear(16, 3).double()

    def forward(self, x):
        return self.out(self.hidden(x).tanh())


# -- the paper's example -------------------------------------------------------------------------
# Along the path (3α, α) from 0 to x = (3, 1), F = ReLU(2α − 1): the gradient is 0 for
# α < ½ and (1, −1) for α > ½, so IG = (3·½, −1·½) = (1.5, −0.5). The integrand jumps
# at α = ½, so a rule is exact only if its weights beyond ½ sum to exactly ½, and a node
# AT ½ (where ReLU'(0) = 0) loses its weight. With an even n_steps, Gauss–Legendre, the
# middle and trapezoid rules place their nodes symmetrically around ½, and riemann_right
# has n/2 nodes of weight 1/n above it: all four give the answer exactly. riemann_left
# has a node at ½ and misses exactly 1/n of the weight: IG = (1.5 − 3/n, −0.5 + 1/n); with
# an odd n every rule is off by O(1/n). So the exact check uses an even n, and the others
# are checked against their known O(1/n) error at n ≈ 1000.

@pytest.mark.parametrize("method", ["gausslegendre", "riemann_right", "riemann_middle",
                                    "riemann_trapezoid"])
def test_the_papers_example_gives_1_5_and_minus_0_5(method):
    x = tg.tensor([[3.0, 1.0]], dtype=tg.float64)
    attributions, delta = IntegratedGradients(paper_function).attribute(
        x, n_steps=50, method=method, return_convergence_delta=True)
    np.testing.assert_allclose(attributions.numpy(), [[1.5, -0.5]], rtol=0, atol=1e-12)
    assert abs(delta.item()) < 1e-12   # F(x) − F(0) = 1 − 0


def test_the_papers_example_with_riemann_left_misses_by_the_node_at_one_half():
    x = tg.tensor([[3.0, 1.0]], dtype=tg.float64)
    n = 1000
    attributions = IntegratedGradients(paper_function).attribute(x, n_steps=n,
                                                                 method="riemann_left")
    np.testing.assert_allclose(attributions.numpy(), [[1.5 - 3 / n, -0.5 + 1 / n]], atol=1e-12)
    np.testing.assert_allclose(attributions.numpy(), [[1.5, -0.5]], atol=3.01 / n)


def test_the_papers_example_is_approached_by_every_rule_as_the_steps_grow():
    x = tg.tensor([[3.0, 1.0]], dtype=tg.float64)
    for method in METHODS:
        for n in (999, 1000):
            out = IntegratedGradients(paper_function).attribute(x, n_steps=n, method=method)
            np.testing.assert_allclose(out.numpy(), [[1.5, -0.5]], atol=3.01 / (n - 1))


# -- completeness ----------------------------------------------------------------------------------
def test_completeness_holds_to_a_thousandth_on_a_smooth_network_with_50_gauss_legendre_steps():
    model = Smooth()
    x = tg.tensor(rng.normal(size=(5, 6)) * 2)
    baseline = tg.tensor(rng.normal(size=(5, 6)) * 0.1)
    attributions, delta = IntegratedGradients(model).attribute(
        x, baselines=baseline, target=1, n_steps=50, return_convergence_delta=True)
    with tg.no_grad():
        change = (model(x)[:, 1] - model(baseline)[:, 1]).numpy()
    total = attributions.numpy().sum(axis=1)
    assert np.all(np.abs(total - change) <= 1e-3 * np.abs(change))
    np.testing.assert_allclose(delta.numpy(), total - change, rtol=1e-9, atol=1e-12)
    assert delta.shape == (5,)


@pytest.mark.parametrize("method", METHODS)
def test_a_linear_model_gets_w_times_x_minus_baseline_from_every_rule(method):
    lin = nn.Linear(4, 2).double()
    x = tg.tensor(rng.normal(size=(3, 4)))
    baseline = tg.tensor(rng.normal(size=(4,)))
    out = IntegratedGradients(lin).attribute(x, baselines=baseline, target=0, n_steps=7,
                                             method=method)
    w = lin.weight.detach().numpy()[0]
    np.testing.assert_allclose(out.numpy(), w * (x.numpy() - baseline.numpy()), rtol=1e-12)


def test_a_quadratic_is_integrated_exactly_by_a_few_gauss_legendre_steps():
    # F = Σ x² has gradient 2(b + α(x − b)), linear in α: two Gauss–Legendre nodes are exact
    # and IG_i = (x_i − b_i)(x_i + b_i) = x_i² − b_i².
    x = rng.normal(size=(2, 3))
    b = rng.normal(size=(2, 3))
    out = IntegratedGradients(lambda t: (t * t).sum(1)).attribute(
        tg.tensor(x), baselines=tg.tensor(b), n_steps=2)
    np.testing.assert_allclose(out.numpy(), x ** 2 - b ** 2, rtol=1e-12)


# -- the quadrature rules --------------------------------------------------------------------------
def test_riemann_nodes_follow_captum_and_every_rule_has_weights_summing_to_one():
    n = 8
    k = np.arange(n)
    expected = {"riemann_left": k / n, "riemann_right": (k + 1) / n,
                "riemann_middle": (k + 0.5) / n, "riemann_trapezoid": np.linspace(0, 1, n)}
    for method, nodes in expected.items():
        alphas, weights = quadrature(method, n)
        np.testing.assert_allclose(alphas, nodes, atol=1e-15)
        assert math.isclose(weights.sum(), 1.0)
    alphas, weights = quadrature("riemann_trapezoid", n)
    np.testing.assert_allclose(weights, [0.5 / 7] + [1 / 7] * 6 + [0.5 / 7])


def test_gauss_legendre_nodes_are_numpys_mapped_to_the_unit_interval():
    alphas, weights = quadrature("gausslegendre", 5)
    nodes, w = np.polynomial.legendre.leggauss(5)
    np.testing.assert_allclose(alphas, (nodes + 1) / 2)
    np.testing.assert_allclose(weights, w / 2)
    assert math.isclose(weights.sum(), 1.0)


# -- batching --------------------------------------------------------------------------------------
@pytest.mark.parametrize("internal_batch_size", [1, 3, 7, 50, 1000])
def test_internal_batch_size_gives_the_same_result_as_one_batch(internal_batch_size):
    model = Smooth()
    x = tg.tensor(rng.normal(size=(5, 6)))
    target = [0, 2, 1, 1, 0]
    ig = IntegratedGradients(model)
    whole, whole_delta = ig.attribute(x, target=target, n_steps=10, internal_batch_size=50,
                                      return_convergence_delta=True)
    cut, cut_delta = ig.attribute(x, target=target, n_steps=10,
                                  internal_batch_size=internal_batch_size,
                                  return_convergence_delta=True)
    np.testing.assert_allclose(cut.numpy(), whole.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cut_delta.numpy(), whole_delta.numpy(), rtol=1e-9, atol=1e-13)


def test_model_calls_are_batched_and_never_exceed_internal_batch_size():
    counting = Counting(Smooth())
    x = tg.tensor(rng.normal(size=(4, 6)))
    IntegratedGradients(counting).attribute(x, target=0, n_steps=10, internal_batch_size=16,
                                            return_convergence_delta=True)
    # 4 examples × 10 steps = 40 rows in 16s, then F(x) and F(b): 8 rows in one call
    assert counting.rows == [16, 16, 8, 8]


def test_without_internal_batch_size_the_rows_are_capped():
    counting = Counting(Smooth())
    x = tg.tensor(rng.normal(size=(10, 6)))
    IntegratedGradients(counting).attribute(x, target=0, n_steps=50)
    assert sum(counting.rows) == 500 and max(counting.rows) <= 256 and len(counting.rows) == 2


# -- baselines and targets -------------------------------------------------------------------------
def test_baselines_may_be_a_number_a_per_feature_or_a_per_example_tensor():
    lin = nn.Linear(3, 1).double()
    w = lin.weight.detach().numpy()[0]
    x = rng.normal(size=(2, 3))
    ig = IntegratedGradients(lin)
    for baseline, b in [(None, 0.0), (0.5, 0.5), (tg.tensor([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]),
                        (tg.tensor(np.ones((2, 3)) * [[1.0], [-1.0]]), [[1.0], [-1.0]])]:
        out = ig.attribute(tg.tensor(x), baselines=baseline, n_steps=4)
        np.testing.assert_allclose(out.numpy(), w * (x - np.asarray(b)), rtol=1e-12)


def test_the_baseline_itself_gets_zero_attribution():
    out = IntegratedGradients(Smooth()).attribute(tg.zeros(2, 6, dtype=tg.float64), target=2)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 6)))


def test_a_target_per_example_follows_each_example_through_the_steps():
    lin = nn.Linear(3, 4).double()
    x = rng.normal(size=(3, 3))
    out = IntegratedGradients(lin).attribute(tg.tensor(x), target=tg.tensor([3, 0, 2]),
                                             n_steps=5, internal_batch_size=2)
    np.testing.assert_allclose(out.numpy(), lin.weight.detach().numpy()[[3, 0, 2]] * x,
                               rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_inputs_give_float32_attributions_and_deltas_on_their_device(device):
    lin = nn.Linear(3, 2).to(device)
    x = tg.tensor(rng.normal(size=(2, 3)), dtype=tg.float32, device=device)
    before = x.numpy().copy() if device == "cpu" else None
    out, delta = IntegratedGradients(lin).attribute(x, target=1, return_convergence_delta=True)
    assert out.dtype == tg.float32 and out.device == x.device and out.shape == (2, 3)
    assert delta.dtype == tg.float32 and delta.device == x.device and delta.shape == (2,)
    assert not out.requires_grad and lin.weight.grad is None
    if before is not None:
        np.testing.assert_array_equal(x.numpy(), before)


# -- errors ----------------------------------------------------------------------------------------
def test_bad_arguments_are_refused_clearly():
    ig = IntegratedGradients(Smooth())
    x = tg.tensor(rng.normal(size=(2, 6)))
    with pytest.raises(ValueError, match="unknown method 'simpson'"):
        ig.attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match="n_steps must be an int ≥ 1"):
        ig.attribute(x, target=0, n_steps=0)
    with pytest.raises(ValueError, match="n_steps must be an int ≥ 2 for method 'riemann_trap"):
        ig.attribute(x, target=0, n_steps=1, method="riemann_trapezoid")
    with pytest.raises(ValueError, match=r"baselines of shape \(5,\) cannot be broadcast to "
                                         r"the inputs' shape \(2, 6\)"):
        ig.attribute(x, target=0, baselines=tg.zeros(5, dtype=tg.float64))
    with pytest.raises(ValueError, match="internal_batch_size must be a positive int"):
        ig.attribute(x, target=0, internal_batch_size=0)
    with pytest.raises(TypeError, match="baselines must be None, a number or a tensor"):
        ig.attribute(x, target=0, baselines="black")
