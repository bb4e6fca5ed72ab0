"""Faithfulness metrics against values worked out by hand on models whose answers are known."""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain import metrics
from tapegrad.explain.integrated_gradients import IntegratedGradients
from tapegrad.explain.saliency import InputXGradient, Saliency

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])


def host(value):
    return value.detach().cpu().numpy() if isinstance(value, tg.Tensor) else np.asarray(value)


class Counting:
    """A numpy function that counts its calls and the rows of each call."""

    def __init__(self, f):
        self.f = f
        self.rows = []

    def __call__(self, x):
        self.rows.append(x.shape[0])
        return self.f(x)


class Linear(nn.Module):
    """F(x) = Σ w·x over the features of each example (any shape), one output per example."""

    def __init__(self, w, device="cpu"):
        super().__init__()
        self.w = nn.Parameter(tg.tensor(w, dtype=tg.float64, device=device))

    def forward(self, x):
        return (x * self.w).reshape(x.shape[0], -1).sum(dim=1)


class TwoClass(nn.Module):
    """Logits (w·x, −w·x): the probability of class 0 is sigmoid(2 w·x)."""

    def __init__(self, w, device="cpu"):
        super().__init__()
        self.linear = Linear(w, device)

    def forward(self, x):
        score = self.linear(x).reshape(-1, 1)
        return tg.cat([score, -score], dim=1)


class MLP(nn.Module):
    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


# -- deletion and insertion ----------------------------------------------------------------------
W4 = np.array([4.0, -1.0, 2.0, 1.0])
X4 = np.array([[1.0, 2.0, 3.0, 4.0]])


def linear4(x):
    return x @ W4


def test_deletion_auc_of_a_linear_model_is_the_trapezoid_worked_out_by_hand():
    # contributions w·x = (4, −2, 6, 4): delete feature 2, then 0, then 3 (the tie 0/3 keeps
    # the features' order), then 1: f = 12, 6, 2, −2, 0 at fractions 0, ¼, ½, ¾, 1.
    auc, fractions, curves = metrics.deletion_auc(linear4, X4, X4 * W4, use_softmax=False,
                                                  n_steps=4, return_curves=True)
    np.testing.assert_allclose(curves, [[12.0, 6.0, 2.0, -2.0, 0.0]])
    np.testing.assert_allclose(fractions, [0, 0.25, 0.5, 0.75, 1])
    expected = 0.25 * ((12 + 6) / 2 + (6 + 2) / 2 + (2 - 2) / 2 + (-2 + 0) / 2)
    assert auc.shape == (1,)
    assert auc[0] == pytest.approx(expected) == pytest.approx(3.0)


def test_insertion_auc_of_a_linear_model_is_the_trapezoid_worked_out_by_hand():
    # insert features 2, 0, 3, 1 into zeros (the default baseline of non-image inputs):
    # f = 0, 6, 10, 14, 12
    auc, _, curves = metrics.insertion_auc(linear4, X4, X4 * W4, use_softmax=False,
                                           n_steps=4, return_curves=True)
    np.testing.assert_allclose(curves, [[0.0, 6.0, 10.0, 14.0, 12.0]])
    assert auc[0] == pytest.approx(0.25 * (3 + 8 + 12 + 13))


def test_deletion_replaces_features_with_the_given_baseline():
    baseline = np.array([1.0, 1.0, 1.0, 1.0])
    _, _, curves = metrics.deletion_auc(linear4, X4, X4 * W4, baseline=baseline,
                                        use_softmax=False, n_steps=4, return_curves=True)
    # deleting feature 2 (x=3 → 1) loses 2·2 = 4, then 0 (1 → 1) loses 0, then 3 loses 3
    np.testing.assert_allclose(curves, [[12.0, 8.0, 8.0, 5.0, 6.0]])


def test_scores_are_the_softmax_probability_of_the_target_by_default():
    model = TwoClass(W4)
    x = tg.tensor(X4 * 0.1, dtype=tg.float64)
    _, _, curves = metrics.deletion_auc(model, x, X4 * W4, target=0, n_steps=4,
                                        return_curves=True)
    sums = np.array([12.0, 6.0, 2.0, -2.0, 0.0]) * 0.1
    np.testing.assert_allclose(curves[0], 1 / (1 + np.exp(-2 * sums)))
    _, _, raw = metrics.deletion_auc(model, x, X4 * W4, target=1, n_steps=4,
                                     use_softmax=False, return_curves=True)
    np.testing.assert_allclose(raw[0], -sums)


def test_fraction_per_step_deletes_that_fraction_of_the_features_per_step():
    x = np.arange(1.0, 11.0)[None, :]
    _, fractions, curves = metrics.deletion_auc(lambda v: v.sum(axis=1), x, x,
                                                use_softmax=False, fraction_per_step=0.3,
                                                return_curves=True)
    np.testing.assert_allclose(fractions, [0, 0.3, 0.6, 0.9, 1.0])  # 3 features a step
    np.testing.assert_allclose(curves[0], [55, 55 - 27, 55 - 27 - 18, 55 - 54, 0])


def test_by_default_the_curve_has_one_step_per_feature_up_to_100_steps():
    x = np.ones((1, 7))
    _, fractions, _ = metrics.deletion_auc(lambda v: v.sum(axis=1), x, x, use_softmax=False,
                                           return_curves=True)
    assert len(fractions) == 8
    x = np.ones((1, 250))
    _, fractions, _ = metrics.deletion_auc(lambda v: v.sum(axis=1), x, x, use_softmax=False,
                                           return_curves=True)
    assert len(fractions) == 101
    np.testing.assert_allclose(fractions, np.arange(101) * 250 // 100 / 250)


@pytest.mark.parametrize("attribution_shape", [(1, 2, 2, 2), (1, 1, 2, 2), (1, 2, 2)])
def test_image_pixels_are_ranked_by_channel_sum_and_deleted_in_every_channel(
        attribution_shape):
    weights = np.arange(1.0, 9.0).reshape(2, 2, 2)
    model = Linear(weights)
    x = tg.ones(1, 2, 2, 2, dtype=tg.float64)
    # pixel order by channel-summed attribution: (1, 0), (0, 1), (1, 1), (0, 0)
    pixel_scores = np.array([[1.0, 3.0], [4.0, 2.0]])
    if attribution_shape == (1, 2, 2, 2):
        attributions = np.stack([pixel_scores - 5, pixel_scores + 5])[None]  # sums 2·scores
    else:
        attributions = pixel_scores.reshape(attribution_shape)
    _, _, curves = metrics.deletion_auc(model, x, attributions, use_softmax=False,
                                        n_steps=4, return_curves=True)
    pixel_weight = weights.sum(axis=0)  # deleting a pixel removes both of its channels
    drops = [pixel_weight[1, 0], pixel_weight[0, 1], pixel_weight[1, 1], pixel_weight[0, 0]]
    np.testing.assert_allclose(curves[0], 36 - np.concatenate([[0], np.cumsum(drops)]))


@pytest.mark.parametrize("device", DEVICES)
def test_a_faithful_attribution_deletes_faster_and_inserts_faster_than_random_or_reversed(
        device):
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 2.0, (1, 4, 4))
    model = TwoClass(w, device)
    x = tg.tensor(rng.uniform(0.0, 1.0, (3, 1, 4, 4)), device=device)
    exact = InputXGradient(model).attribute(x, target=0)
    random = tg.tensor(rng.standard_normal((3, 1, 4, 4)), device=device)
    for_both = dict(target=0, n_steps=16)
    deletion = [host(metrics.deletion_auc(model, x, a, **for_both))
                for a in (exact, random, -exact)]
    insertion = [host(metrics.insertion_auc(model, x, a, baseline=0.0, **for_both))
                 for a in (exact, random, -exact)]
    assert deletion[0].shape == (3,)
    assert (deletion[0] < deletion[1]).all() and (deletion[1] < deletion[2]).all()
    assert (insertion[0] > insertion[1]).all() and (insertion[1] > insertion[2]).all()


def test_results_are_tensors_like_the_inputs_and_numpy_for_numpy_inputs():
    x = tg.tensor(X4, dtype=tg.float32)
    auc = metrics.deletion_auc(lambda v: (v * tg.tensor(W4, dtype=tg.float32)).sum(dim=1), x,
                               x * tg.tensor(W4, dtype=tg.float32), use_softmax=False,
                               n_steps=4)
    assert isinstance(auc, tg.Tensor) and auc.dtype == tg.float32 and auc.shape == (1,)
    assert auc.item() == pytest.approx(3.0)
    assert isinstance(metrics.deletion_auc(linear4, X4, X4 * W4, use_softmax=False),
                      np.ndarray)


def test_all_steps_of_all_examples_are_evaluated_in_batches_of_internal_batch_size():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8))
    w = rng.standard_normal(8)
    f = Counting(lambda v: v @ w)
    batched = metrics.deletion_auc(f, x, x * w, use_softmax=False, n_steps=8,
                                   internal_batch_size=5)
    assert f.rows == [5, 5, 5, 5, 5, 2]  # 3 examples × 9 points = 27 rows
    one_call = Counting(lambda v: v @ w)
    whole = metrics.deletion_auc(one_call, x, x * w, use_softmax=False, n_steps=8)
    assert one_call.rows == [27]
    np.testing.assert_allclose(batched, whole)


def test_per_example_targets_select_each_examples_class():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4))
    w = rng.standard_normal((4, 3))
    f = lambda v: v @ w  # noqa: E731
    both = metrics.deletion_auc(f, x, x, target=[2, 0], use_softmax=False, n_steps=4)
    first = metrics.deletion_auc(f, x[:1], x[:1], target=2, use_softmax=False, n_steps=4)
    second = metrics.deletion_auc(f, x[1:], x[1:], target=0, use_softmax=False, n_steps=4)
    np.testing.assert_allclose(both, np.concatenate([first, second]))


def test_insertion_of_images_starts_from_the_blurred_image_by_default():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((1, 6, 6))
    model = Linear(w)
    x = tg.tensor(rng.uniform(0, 1, (2, 1, 6, 6)))
    _, _, curves = metrics.insertion_auc(model, x, rng.standard_normal((2, 1, 6, 6)),
                                         use_softmax=False, return_curves=True)
    blurred = metrics.gaussian_blur(x)
    np.testing.assert_allclose(curves[:, 0], host(model(blurred)))
    np.testing.assert_allclose(curves[:, -1], host(model(x)))


def test_gaussian_blur_is_the_normalised_11x11_gaussian_with_edge_padding():
    rng = np.random.default_rng(4)
    image = rng.uniform(0, 1, (2, 7, 9))
    taps = np.exp(-0.5 * (np.arange(-5, 6) / 5.0) ** 2)
    kernel = np.outer(taps, taps) / taps.sum() ** 2
    padded = np.pad(image, [(0, 0), (5, 5), (5, 5)], mode="edge")
    expected = np.zeros_like(image)
    for i in range(7):
        for j in range(9):
            expected[:, i, j] = (padded[:, i:i + 11, j:j + 11] * kernel).sum(axis=(1, 2))
    np.testing.assert_allclose(metrics.gaussian_blur(image), expected)
    blurred = metrics.gaussian_blur(tg.tensor(image, dtype=tg.float32))
    assert isinstance(blurred, tg.Tensor) and blurred.dtype == tg.float32
    np.testing.assert_allclose(host(blurred), expected, rtol=1e-5)


def test_deletion_and_insertion_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"attributions of shape \(1, 3\) do not fit"):
        metrics.deletion_auc(linear4, X4, np.ones((1, 3)), use_softmax=False)
    with pytest.raises(ValueError, match="n_steps or fraction_per_step, not both"):
        metrics.deletion_auc(linear4, X4, X4, n_steps=2, fraction_per_step=0.5)
    with pytest.raises(ValueError, match="use_softmax needs outputs with a class dim"):
        metrics.deletion_auc(linear4, X4, X4)
    with pytest.raises(ValueError, match="baseline='blur' needs images"):
        metrics.insertion_auc(linear4, X4, X4, baseline="blur", use_softmax=False)
    with pytest.raises(ValueError, match="contain NaN"):
        metrics.deletion_auc(linear4, X4, np.full((1, 4), np.nan), use_softmax=False)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        metrics.deletion_auc(linear4, X4, X4, n_steps=0, use_softmax=False)


# -- infidelity ----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_infidelity_of_the_gradient_of_a_linear_model_is_zero_and_a_wrong_one_is_not(device):
    rng = np.random.default_rng(5)
    model = Linear(rng.standard_normal(6), device)
    x = tg.tensor(rng.standard_normal((4, 6)), device=device)
    gradient = Saliency(model).attribute(x, abs=False)
    exact = metrics.infidelity(model, x, gradient, seed=0)
    wrong = metrics.infidelity(model, x, gradient + 0.5, seed=0)
    assert exact.shape == (4,) and exact.device == x.device
    assert host(exact).max() < 1e-20
    assert (host(wrong) > 1e-7).all()
    # attributions multiplied by the input are compared through I / (x − baseline)
    times_input = InputXGradient(model).attribute(x)
    assert host(metrics.infidelity(model, x, times_input, seed=0,
                                   multiply_by_inputs=True)).max() < 1e-20
    assert (host(metrics.infidelity(model, x, times_input, seed=0)) > 1e-7).all()


def test_infidelity_is_the_mean_squared_miss_of_the_predicted_change():
    # f(x) = Σ x², φ = x, I = 0.1 everywhere: Iᵀφ = 0.1 Σx, f(x) − f(x − I) = Σ (0.2x − 0.01)
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    f = lambda v: (v ** 2).sum(axis=1)  # noqa: E731
    value = metrics.infidelity(f, x, x, perturbation_fn=lambda rows, rng: np.full(rows.shape,
                                                                                  0.1))
    expected = (0.1 * x.sum(axis=1) - (0.2 * x - 0.01).sum(axis=1)) ** 2
    np.testing.assert_allclose(value, expected)


def test_normalized_infidelity_ignores_the_scale_of_the_attribution():
    rng = np.random.default_rng(6)
    model = Linear(rng.standard_normal(5))
    x = tg.tensor(rng.standard_normal((3, 5)))
    scaled = Saliency(model).attribute(x, abs=False) * 3.0
    assert host(metrics.infidelity(model, x, scaled, seed=1)).min() > 1e-7
    assert host(metrics.infidelity(model, x, scaled, seed=1, normalize=True)).max() < 1e-20


def test_infidelity_is_reproducible_with_a_seed_and_independent_of_the_batch_size():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4))
    f = Counting(lambda v: np.tanh(v).sum(axis=1))
    a = metrics.infidelity(f, x, x, seed=3, n_perturb_samples=5, noise_std=0.1)
    assert f.rows == [3, 15]  # the originals, then all perturbed rows at once
    f.rows.clear()
    b = metrics.infidelity(f, x, x, seed=3, n_perturb_samples=5, noise_std=0.1,
                           internal_batch_size=4)
    assert f.rows == [3, 4, 4, 4, 3]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    c = metrics.infidelity(f, x, x, seed=4, n_perturb_samples=5, noise_std=0.1)
    assert not np.allclose(a, c)


def test_infidelity_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"attributions of shape \(1, 3\) must have"):
        metrics.infidelity(linear4, X4, np.ones((1, 3)))
    with pytest.raises(ValueError, match="perturbation_fn returned shape"):
        metrics.infidelity(linear4, X4, X4, perturbation_fn=lambda rows, rng: np.ones(3))
    with pytest.raises(ValueError, match="n_perturb_samples must be a positive int"):
        metrics.infidelity(linear4, X4, X4, n_perturb_samples=0)


# -- sensitivity ---------------------------------------------------------------------------------
def test_sensitivity_max_of_saliency_on_a_linear_model_is_zero():
    rng = np.random.default_rng(8)
    model = Linear(rng.standard_normal(6))
    x = tg.tensor(rng.standard_normal((4, 6)))
    value = metrics.sensitivity_max(Saliency(model).attribute, x, seed=0)
    assert value.shape == (4,)
    np.testing.assert_array_equal(host(value), 0.0)


class Squares(nn.Module):
    def forward(self, x):
        return (x * x).sum(dim=1)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("norm", [2, math.inf])
def test_sensitivity_max_is_the_largest_relative_change_over_the_drawn_perturbations(
        normalize, norm):
    # the gradient of Σx² is 2x, so φ(x + δ) − φ(x) = 2δ
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 5))
    radius, samples, seed = 0.05, 4, 11
    value = metrics.sensitivity_max(Saliency(Squares()).attribute, tg.tensor(x),
                                    perturb_radius=radius, n_perturb_samples=samples,
                                    seed=seed, norm=norm, normalize=normalize, abs=False)
    draws = tg.Generator().manual_seed(seed).for_device("cpu").uniform(
        -radius, radius, (samples * 3, 5)).reshape(samples, 3, 5)
    change = np.linalg.norm(2 * draws, ord=norm, axis=2)
    if normalize:
        change = change / np.linalg.norm(2 * x, ord=norm, axis=1)
    np.testing.assert_allclose(host(value), change.max(axis=0))


def test_sensitivity_max_repeats_a_per_example_target_for_the_perturbed_rows():
    rng = np.random.default_rng(10)
    model = MLP(4, 5, 3)
    saliency = Saliency(model)
    targets = []

    def explain(inputs, target):
        targets.append(target)
        return saliency.attribute(inputs, target=target)

    x = tg.tensor(rng.standard_normal((2, 4)).astype(np.float32))
    value = metrics.sensitivity_max(explain, x, target=[2, 0], seed=1, n_perturb_samples=3,
                                    internal_batch_size=4)
    assert value.shape == (2,)
    assert targets == [[2, 0], [2, 0, 2, 0], [2, 0]]  # originals, then 6 rows by 4
    targets.clear()
    metrics.sensitivity_max(explain, x, target=1, seed=1, n_perturb_samples=3)
    assert targets == [1, 1]


# -- model randomisation -------------------------------------------------------------------------
def trained_mlp():
    """An MLP whose class depends on features 0 and 1 only, trained for a few steps."""
    tg.manual_seed(0)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((128, 10)).astype(np.float32)
    y = (x[:, 0] + 2 * x[:, 1] > 0).astype(np.int64)
    model = MLP(10, 32, 2)
    optimizer = tg.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(60):
        optimizer.zero_grad()
        loss = tg.nn.functional.cross_entropy(model(tg.tensor(x)), tg.tensor(y))
        loss.backward()
        optimizer.step()
    return model, tg.tensor(x[:16]), tg.tensor(y[:16])


def test_randomization_check_separates_a_trained_mlp_from_its_reinitialised_copy():
    model, x, y = trained_mlp()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    result = metrics.randomization_check(model, Saliency, x, target=y, seed=0)
    assert result.spearman.shape == (16,)
    assert result.mean < 0.5  # the trained gradients point at features 0 and 1
    assert result.mean == pytest.approx(result.spearman.mean())
    assert result.layers == ["fc1", "fc2"]
    assert isinstance(result.original, tg.Tensor) and result.original.shape == (16, 10)
    for p, b in zip(model.parameters(), before):  # the trained model is left alone
        np.testing.assert_array_equal(host(p), b)
    # nothing re-initialised: the same attributions, a correlation of exactly 1
    same = metrics.randomization_check(model, Saliency, x, target=y, layers=[])
    np.testing.assert_allclose(same.spearman, 1.0)


def test_randomization_check_is_reproducible_with_a_seed_and_leaves_the_default_generator():
    model, x, y = trained_mlp()
    tg.manual_seed(5)
    expected_draw = tg.randn(3).numpy()
    tg.manual_seed(5)
    a = metrics.randomization_check(model, Saliency, x, target=y, seed=1)
    assert np.array_equal(tg.randn(3).numpy(), expected_draw)
    b = metrics.randomization_check(model, lambda m: Saliency(m), x, target=y, seed=1)
    c = metrics.randomization_check(model, Saliency, x, target=y, seed=2)
    np.testing.assert_array_equal(a.spearman, b.spearman)
    np.testing.assert_array_equal(host(a.randomized), host(b.randomized))
    assert not np.array_equal(a.spearman, c.spearman)


def test_randomization_check_reinitialises_only_the_named_layers():
    model, x, y = trained_mlp()
    result = metrics.randomization_check(model, IntegratedGradients, x, target=y,
                                         layers=["fc2"], seed=0,
                                         attribute_kwargs=dict(n_steps=8))
    assert result.layers == ["fc2"]
    np.testing.assert_array_equal(host(result.model.fc1.weight), host(model.fc1.weight))
    assert not np.array_equal(host(result.model.fc2.weight), host(model.fc2.weight))
    with pytest.raises(ValueError, match="'fc3' is not a module of the model"):
        metrics.randomization_check(model, Saliency, x, target=y, layers=["fc3"])
    with pytest.raises(TypeError, match="method must be an attribution class"):
        metrics.randomization_check(model, "saliency", x)


def test_rank_average_gives_ties_the_mean_of_their_ranks():
    values = np.array([[3.0, 1.0, 3.0, 2.0, 3.0], [0.0, 0.0, 1.0, 1.0, -1.0]])
    np.testing.assert_allclose(metrics.rank_average(values),
                               [[4, 1, 4, 2, 4], [2.5, 2.5, 4.5, 4.5, 1]])
    rng = np.random.default_rng(12)
    many = rng.integers(0, 4, (20, 9)).astype(float)
    brute = np.array([[(row < v).sum() + ((row == v).sum() + 1) / 2 for v in row]
                      for row in many])
    np.testing.assert_allclose(metrics.rank_average(many), brute)


def test_spearman_is_the_pearson_correlation_of_the_ranks():
    rng = np.random.default_rng(13)
    a = rng.standard_normal((4, 30))
    np.testing.assert_allclose(metrics.spearman(a, np.exp(a)), 1.0)   # monotone: 1
    np.testing.assert_allclose(metrics.spearman(a, -a ** 3), -1.0)    # reversed: −1
    b = rng.integers(0, 5, (4, 30)).astype(float)
    ra, rb = metrics.rank_average(a), metrics.rank_average(b)
    expected = [np.corrcoef(ra[i], rb[i])[0, 1] for i in range(4)]
    np.testing.assert_allclose(metrics.spearman(a, b), expected)
    assert np.isnan(metrics.spearman(np.ones((1, 5)), a[:1, :5])[0])
