"""Kernel SHAP: exact Shapley values, efficiency, feature groups, batching, seeds."""
import itertools
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.explain.kernel_shap import KernelShap, coalitions, shapley_kernel


def shapley_by_enumeration(f, x, baseline, groups=None):
    """Brute-force Shapley values of v(S) = f(x on S, baseline elsewhere) from the definition
    φⱼ = Σ_{S ⊆ N∖{j}} |S|!(M − |S| − 1)!/M! · (v(S ∪ {j}) − v(S))."""
    groups = groups if groups is not None else [[j] for j in range(x.size)]
    M = len(groups)

    def v(members):
        point = baseline.copy()
        for g in members:
            point[groups[g]] = x[groups[g]]
        return float(f(point[None])[0])

    phi = np.zeros(M)
    for j in range(M):
        others = [k for k in range(M) if k != j]
        for size in range(M):
            weight = math.factorial(size) * math.factorial(M - size - 1) / math.factorial(M)
            for S in itertools.combinations(others, size):
                phi[j] += weight * (v(S + (j,)) - v(S))
    return phi


def interacting(X):
    """A nonlinear function of 5 features with pairwise and three-way interactions."""
    return (X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3] ** 2 * X[:, 4]
            + 0.5 * X[:, 0] * X[:, 2] * X[:, 4] + np.exp(0.3 * X[:, 1]))


class Counting:
    """A function that records the batch size of every call."""

    def __init__(self, f):
        self.f, self.calls = f, []

    def __call__(self, X):
        self.calls.append(len(X))
        return self.f(X)


# -- exactness ---------------------------------------------------------------------------------
def test_equals_the_exact_shapley_values_of_a_nonlinear_function_with_interactions():
    x = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
    baseline = np.array([0.2, -1.0, 0.3, 1.0, 0.0])
    phi = KernelShap(interacting).attribute(x[None], baselines=baseline[None])
    np.testing.assert_allclose(phi[0], shapley_by_enumeration(interacting, x, baseline),
                               rtol=1e-9, atol=1e-12)


def test_equals_w_times_x_minus_baseline_for_a_linear_model_with_12_features():
    rng = np.random.default_rng(0)
    w, X, baseline = rng.normal(size=12), rng.normal(size=(3, 12)), rng.normal(size=12)
    linear = lambda X: X @ w + 0.7
    # n_samples = 2¹²: every coalition is evaluated
    exact = KernelShap(linear).attribute(X, baselines=baseline, n_samples=4096)
    np.testing.assert_allclose(exact, w * (X - baseline), atol=1e-10)
    sampled = KernelShap(linear).attribute(X, baselines=baseline, n_samples=600, seed=0)
    np.testing.assert_allclose(sampled, w * (X - baseline), atol=1e-8)


def test_a_sampled_run_is_close_to_the_exact_values():
    rng = np.random.default_rng(1)
    w, X = rng.normal(size=12), rng.normal(size=(2, 12))
    f = lambda X: np.tanh(X @ w / 2) + X[:, 0] * X[:, 1] - 0.5 * X[:, 2] * X[:, 3] * X[:, 4]
    exact = KernelShap(f).attribute(X, n_samples=4096)
    sampled = KernelShap(f).attribute(X, n_samples=2000, seed=0)
    assert np.abs(sampled - exact).max() < 0.02 * np.abs(exact).max()


@pytest.mark.parametrize("n_samples", ["auto", 40, 3, 2])
def test_values_always_sum_to_f_x_minus_f_baseline(n_samples):
    rng = np.random.default_rng(2)
    X, baseline = rng.normal(size=(4, 9)), rng.normal(size=(4, 9))
    f = lambda X: np.cos(X).prod(axis=1) + X[:, 0] * X[:, 8] ** 2
    phi = KernelShap(f).attribute(X, baselines=baseline, n_samples=n_samples, seed=3)
    np.testing.assert_allclose(phi.sum(axis=1), f(X) - f(baseline), atol=1e-6)


def test_identical_with_the_same_seed_and_different_with_another():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2, 14))
    f = lambda X: np.tanh(X[:, :7].sum(axis=1)) * X[:, 7:].prod(axis=1)
    explainer = KernelShap(f)
    first = explainer.attribute(X, n_samples=500, seed=11)
    np.testing.assert_array_equal(first, explainer.attribute(X, n_samples=500, seed=11))
    assert not np.array_equal(first, explainer.attribute(X, n_samples=500, seed=12))
    tg.manual_seed(5)
    unseeded = explainer.attribute(X, n_samples=500)
    tg.manual_seed(5)
    np.testing.assert_array_equal(unseeded, explainer.attribute(X, n_samples=500))


# -- coalitions ---------------------------------------------------------------------------------
def test_the_shapley_kernel_by_hand():
    # M = 4: π = 3 / (C(4, s)·s·(4 − s)) = 3/12, 3/24, 3/12 for s = 1, 2, 3
    np.testing.assert_allclose(shapley_kernel(4, [1, 2, 3]), [0.25, 0.125, 0.25])


def test_coalitions_are_all_enumerated_when_they_fit_and_paired_when_sampled():
    Z, weights, exact = coalitions(5, 32, np.random.default_rng(0))
    assert exact and Z.shape == (30, 5) and len({tuple(z) for z in Z}) == 30
    Z, weights, exact = coalitions(12, 300, np.random.default_rng(0))
    assert not exact and Z.shape[0] <= 298
    rows = {tuple(z) for z in Z}
    assert all(tuple(1 - np.array(z)) in rows for z in rows)   # each with its complement
    assert ((Z.sum(axis=1) > 0) & (Z.sum(axis=1) < 12)).all()
    sizes = Z.sum(axis=1)
    assert (np.isin([1, 11], sizes)).all()   # the heaviest sizes are there in full:
    assert (sizes == 1).sum() == 12 and (sizes == 11).sum() == 12


# -- feature groups ------------------------------------------------------------------------------
def test_feature_mask_groups_are_shapley_players_spread_evenly_over_their_elements():
    rng = np.random.default_rng(5)
    x, baseline = rng.normal(size=6), rng.normal(size=6)
    mask = np.array([7, 7, 3, 9, 9, 9])            # three players: {2}, {0, 1}, {3, 4, 5}
    f = lambda X: X[:, 0] * X[:, 3] + np.sin(X[:, 1] + X[:, 2]) + X[:, 4] * X[:, 5]
    explainer = KernelShap(f)
    phi = explainer.attribute(x[None], baselines=baseline[None], feature_mask=mask)
    players = explainer.attribute(x[None], baselines=baseline[None], feature_mask=mask,
                                  return_input_shape=False)
    exact = shapley_by_enumeration(f, x, baseline, groups=[[2], [0, 1], [3, 4, 5]])
    np.testing.assert_allclose(players[0], exact, atol=1e-12)   # ids in increasing order
    np.testing.assert_allclose(phi[0], [exact[1] / 2] * 2 + [exact[0]] + [exact[2] / 3] * 3,
                               atol=1e-12)
    assert phi.sum() == pytest.approx(f(x[None])[0] - f(baseline[None])[0])


def test_a_feature_mask_broadcasts_over_the_batch_and_channels_and_can_differ_per_example():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(2, 3, 4))                 # (N, channels, positions)
    f = lambda X: (X[:, :, :2].sum(axis=(1, 2)) ** 2) + X[:, :, 2:].prod(axis=(1, 2))
    shared = KernelShap(f).attribute(X, feature_mask=np.array([0, 0, 1, 1]))
    assert shared.shape == X.shape
    np.testing.assert_allclose(shared.sum(axis=(1, 2)), f(X) - f(np.zeros_like(X)), atol=1e-9)
    # two players: each holds exactly what it adds to the additive function
    np.testing.assert_allclose(shared[:, :, :2].sum(axis=(1, 2)),
                               X[:, :, :2].sum(axis=(1, 2)) ** 2, atol=1e-9)
    per_example = np.stack([np.zeros((3, 4), dtype=int), np.arange(12).reshape(3, 4)])
    mixed = KernelShap(f).attribute(X, feature_mask=per_example)
    np.testing.assert_allclose(mixed[0], f(X[:1])[0] / 12)              # one player
    np.testing.assert_allclose(mixed.sum(axis=(1, 2)), f(X), atol=1e-9)


# -- models, targets, baselines, batching ---------------------------------------------------
class SmallNet(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = tg.nn.Linear(5, 8)
        self.out = tg.nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.hidden(x).tanh())


def test_tensor_inputs_on_a_tapegrad_model_give_a_tensor_with_per_example_targets():
    tg.manual_seed(0)
    model = SmallNet().double()
    X = tg.randn(4, 5, dtype=tg.float64)
    targets = [0, 2, 1, 2]
    phi = KernelShap(model).attribute(X, target=targets, baselines=0.5)
    assert isinstance(phi, tg.Tensor) and phi.dtype == tg.float64 and phi.shape == (4, 5)
    with tg.no_grad():
        gain = model(X).numpy() - model(tg.full((4, 5), 0.5, dtype=tg.float64)).numpy()
    np.testing.assert_allclose(phi.numpy().sum(axis=1), gain[np.arange(4), targets], atol=1e-9)
    one = KernelShap(model).attribute(X[1:2], target=2, baselines=0.5)
    np.testing.assert_allclose(one.numpy()[0], phi.numpy()[1], atol=1e-12)
    exact = shapley_by_enumeration(
        lambda A: model(tg.tensor(A)).detach().numpy()[:, 2], X.numpy()[1], np.full(5, 0.5))
    np.testing.assert_allclose(phi.numpy()[1], exact, atol=1e-9)


def test_float32_tensors_stay_float32():
    tg.manual_seed(1)
    model = SmallNet()
    phi = KernelShap(model).attribute(tg.randn(2, 5), target=0)
    assert phi.dtype == tg.float32


def test_tensor_baselines_per_example_or_shared():
    f = lambda X: (X ** 2).sum(axis=1)
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(KernelShap(f).attribute(X, baselines=np.array([1.0, 1.0])),
                               [[0.0, 3.0], [8.0, 15.0]])
    np.testing.assert_allclose(KernelShap(f).attribute(X, baselines=tg.tensor(X)), 0.0)


def test_model_calls_are_batched():
    f = Counting(lambda X: X.sum(axis=1))
    X = np.random.default_rng(7).normal(size=(3, 6))
    KernelShap(f).attribute(X)                     # 2⁶ = 64 coalitions per example
    assert f.calls == [3 * 64]
    f.calls.clear()
    KernelShap(f).attribute(X, internal_batch_size=50)
    assert f.calls == [50, 50, 50, 42]
    f.calls.clear()
    KernelShap(f).attribute(X, n_samples=20, seed=0)
    assert len(f.calls) == 1 and f.calls[0] <= 3 * 20


def test_a_single_feature_gets_the_whole_difference():
    phi = KernelShap(lambda X: np.exp(X[:, 0])).attribute(np.array([[2.0]]))
    np.testing.assert_allclose(phi, [[np.exp(2.0) - 1.0]])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(inputs=np.ones((2, 3)), target=None), ValueError, "target=None needs one output"),
    (dict(inputs=np.ones((2, 3)), target=5), IndexError, "out of range"),
    (dict(inputs=np.ones((2, 3)), baselines=np.ones(4)), ValueError,
     r"baselines of shape \(4,\) cannot be broadcast to the inputs' shape \(2, 3\)"),
    (dict(inputs=np.ones((2, 3)), feature_mask=np.ones(3)), TypeError, "integer feature ids"),
    (dict(inputs=np.ones((2, 3)), n_samples=1), ValueError, "n_samples must be 'auto' or an int"),
    (dict(inputs=np.ones((2, 3)), n_samples="many"), ValueError, "n_samples must be"),
    (dict(inputs=np.ones(()),), ValueError, "batch dimension"),
])
def test_misuse_is_named_in_the_error(kwargs, error, message):
    two_outputs = lambda X: np.stack([X.sum(axis=1), -X.sum(axis=1)], axis=1)
    kwargs.setdefault("target", 0)
    with pytest.raises(error, match=message):
        KernelShap(two_outputs).attribute(**kwargs)


def test_a_non_callable_model_is_refused():
    with pytest.raises(TypeError, match="forward_func must be callable"):
        KernelShap(3)


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_inputs_and_model_give_cuda_attributions_equal_to_the_cpu_ones():
    tg.manual_seed(0)
    model = SmallNet().double()
    X = tg.randn(3, 5, dtype=tg.float64)
    on_cpu = KernelShap(model).attribute(X, target=1)
    on_gpu = KernelShap(model.cuda()).attribute(X.cuda(), target=1)
    assert on_gpu.device.type == "cuda"
    np.testing.assert_allclose(on_gpu.cpu().numpy(), on_cpu.numpy(), atol=1e-10)
