"""LIME on tables: recovers a locally linear model; sampling follows the training data."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.explain.lime import Explanation, LimeTabular
from tapegrad.explain.lime.base import kernel

W = np.array([3.0, -2.0, 1.0, 0.4])          # |W| ranks the features 0, 1, 2, 3
STD = np.array([1.0, 2.0, 0.5, 3.0])          # training stds (so W·STD ranks 1, 0, 3, 2)


def training_data(n=2000, std=STD, seed=0):
    return np.random.default_rng(seed).normal(size=(n, len(std))) * std + 1.0


def linear(X):
    return X @ W + 0.5


def logistic(X):
    p = 1.0 / (1.0 + np.exp(-(X - 1.0) @ W / 8))
    return np.stack([1 - p, p], axis=1)


def ranking(pairs):
    return [feature for feature, _ in pairs]


class Counting:
    def __init__(self, f):
        self.f, self.calls = f, []

    def __call__(self, X):
        self.calls.append(len(X))
        return self.f(X)


# -- recovering a linear model -------------------------------------------------------------------
def test_without_discretization_the_weights_are_the_coefficients_per_training_std():
    train = training_data()
    explainer = LimeTabular(train, discretize_continuous=False, mode="regression")
    row = np.array([1.5, 0.0, 2.0, 1.0])
    explanation = explainer.explain(row, linear, num_features=4, seed=0)
    weights = dict(explanation.weights[0])
    # the row is described as (x − mean) / std of the training data, so f = Σ Wⱼ·stdⱼ·zⱼ + c
    np.testing.assert_allclose([weights[j] for j in range(4)], W * train.std(axis=0), rtol=0.005)
    assert ranking(explanation.weights[0]) == [1, 0, 3, 2]
    assert explanation.score[0] == pytest.approx(1.0, abs=1e-4)
    assert explanation.local_pred[0] == pytest.approx(linear(row[None])[0], rel=0.01)
    assert explanation.prediction[0] == pytest.approx(linear(row[None])[0])


def test_a_classifier_linear_near_the_instance_gets_its_signs_and_ranking():
    explainer = LimeTabular(training_data(std=np.ones(4)), discretize_continuous=False)
    explanation = explainer.explain(np.array([1.2, 0.9, 1.1, 1.0]), logistic, labels=(0, 1),
                                    num_features=4, seed=0)
    for label, sign in ((1, 1), (0, -1)):
        pairs = explanation.weights[label]
        assert ranking(pairs) == [0, 1, 2, 3]
        assert [np.sign(w) for _, w in sorted(pairs)] == list(sign * np.sign(W))
    assert explanation.score[1] > 0.9


@pytest.mark.parametrize("discretizer", ["quartile", "decile"])
def test_with_bins_an_instance_in_the_top_bins_gets_the_signs_and_ranking(discretizer):
    train = training_data(std=np.ones(4))
    explainer = LimeTabular(train, discretizer=discretizer, mode="regression")
    row = np.full(4, 3.0)                        # above every feature's top border
    explanation = explainer.explain(row, linear, num_features=4, seed=0)
    pairs = explanation.weights[0]
    assert ranking(pairs) == [0, 1, 2, 3]
    assert [np.sign(w) for _, w in sorted(pairs)] == list(np.sign(W))
    top = np.percentile(train[:, 0], 75 if discretizer == "quartile" else 90)
    assert explanation.as_list()[0] == (f"0 > {top:.2f}", pairs[0][1])


def test_an_instance_in_the_bottom_bins_flips_the_signs():
    explainer = LimeTabular(training_data(std=np.ones(4)), mode="regression")
    explanation = explainer.explain(np.full(4, -1.0), linear, num_features=4, seed=0)
    assert [np.sign(w) for _, w in sorted(explanation.weights[0])] == list(-np.sign(W))


@pytest.mark.parametrize("method", ["forward_selection", "highest_weights", "lasso_path", "auto"])
def test_feature_selection_keeps_the_strongest_features(method):
    explainer = LimeTabular(training_data(std=np.ones(4)), discretize_continuous=False,
                            mode="regression")
    # (highest_weights ranks |coefficient × the row's described value|: one std above the mean)
    explanation = explainer.explain(np.full(4, 2.0), linear, num_features=2, seed=0,
                                    feature_selection=method)
    assert sorted(ranking(explanation.weights[0])) == [0, 1]


def test_feature_selection_none_keeps_every_feature_and_highest_weights_is_used_above_6():
    explainer = LimeTabular(training_data(std=np.ones(4)), discretize_continuous=False,
                            mode="regression")
    every = explainer.explain(np.ones(4), linear, num_features=1, seed=0,
                              feature_selection="none")
    assert sorted(ranking(every.weights[0])) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="feature_selection must be one of"):
        explainer.explain(np.ones(4), linear, feature_selection="best")


# -- sampling -----------------------------------------------------------------------------------
def test_continuous_samples_follow_the_training_mean_and_std_or_surround_the_instance():
    train = training_data()
    row = np.array([5.0, -3.0, 0.0, 2.0])
    explainer = LimeTabular(train, discretize_continuous=False)
    data, inverse = explainer.sample(row, 20000, np.random.default_rng(0))
    np.testing.assert_array_equal(inverse[0], row)
    np.testing.assert_allclose(inverse[1:].mean(axis=0), train.mean(axis=0), atol=0.06)
    np.testing.assert_allclose(inverse[1:].std(axis=0), train.std(axis=0), rtol=0.03)
    np.testing.assert_allclose(data, inverse)    # the described rows are the values...
    around = LimeTabular(train, discretize_continuous=False, sample_around_instance=True)
    _, inverse = around.sample(row, 20000, np.random.default_rng(0))
    np.testing.assert_allclose(inverse[1:].mean(axis=0), row, atol=0.06)


def test_binned_samples_fall_in_bins_drawn_with_the_training_frequencies():
    train = training_data()
    explainer = LimeTabular(train)
    row = np.array([1.0, 4.0, -1.0, 1.0])
    data, inverse = explainer.sample(row, 20000, np.random.default_rng(0))
    assert set(np.unique(data)) == {0.0, 1.0} and (data[0] == 1).all()
    for j in range(4):
        borders = np.percentile(train[:, j], [25, 50, 75])
        bins = np.searchsorted(borders, inverse[:, j])
        same = bins == np.searchsorted(borders, row[j])
        np.testing.assert_array_equal(data[:, j], same)          # the binary rows describe them
        np.testing.assert_allclose(np.bincount(bins[1:]) / 19999, 0.25, atol=0.015)
        assert inverse[1:, j].min() >= train[:, j].min() and inverse[:, j].max() <= max(
            train[:, j].max(), row[j])


def test_categorical_features_are_drawn_by_frequency_and_named_by_category():
    rng = np.random.default_rng(1)
    colour = rng.choice([0, 1, 2], size=3000, p=[0.6, 0.3, 0.1])
    train = np.stack([colour, rng.normal(size=3000)], axis=1)
    explainer = LimeTabular(train, feature_names=["colour", "size"], categorical_features=[0],
                            categorical_names={0: ["red", "green", "blue"]})
    data, inverse = explainer.sample(np.array([1.0, 0.0]), 20000, np.random.default_rng(2))
    np.testing.assert_allclose(np.bincount(inverse[1:, 0].astype(int)) / 19999,
                               [0.6, 0.3, 0.1], atol=0.015)
    np.testing.assert_array_equal(data[:, 0], inverse[:, 0] == 1)
    f = lambda X: (X[:, 0] == 1) * 2.0 + X[:, 1]
    explanation = LimeTabular(train, feature_names=["colour", "size"], categorical_features=[0],
                              categorical_names={0: ["red", "green", "blue"]},
                              mode="regression").explain(np.array([1.0, 0.0]), f, seed=0)
    names = dict(explanation.as_list())
    assert names["colour=green"] == pytest.approx(2.0, abs=0.1)
    assert list(names)[0] == "colour=green"


def test_the_kernel_width_defaults_to_three_quarters_of_sqrt_m_and_weighs_by_distance():
    assert LimeTabular(np.ones((3, 16))).kernel_width == pytest.approx(3.0)
    d = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(kernel(d, 2.0), np.sqrt(np.exp(-d ** 2 / 4)))


# -- batching, seeds, models, errors ---------------------------------------------------------------
def test_predict_fn_is_called_in_batches():
    f = Counting(logistic)
    LimeTabular(training_data()).explain(np.ones(4), f, num_samples=2500, seed=0)
    assert f.calls == [1000, 1000, 500]
    f.calls.clear()
    LimeTabular(training_data()).explain(np.ones(4), f, num_samples=300, batch_size=300, seed=0)
    assert f.calls == [300]


def test_identical_with_the_same_seed():
    explainer = LimeTabular(training_data())
    a = explainer.explain(np.ones(4), logistic, seed=7, num_samples=500)
    b = explainer.explain(np.ones(4), logistic, seed=7, num_samples=500)
    c = explainer.explain(np.ones(4), logistic, seed=8, num_samples=500)
    assert a.weights == b.weights and a.intercept == b.intercept and a.score == b.score
    assert a.weights != c.weights


def test_a_tapegrad_model_and_top_labels():
    class Softmax(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = tg.nn.Linear(4, 3)

        def forward(self, x):
            return self.linear(x).softmax(-1)

    tg.manual_seed(0)
    model = Softmax()
    explanation = LimeTabular(training_data()).explain(np.ones(4), model, top_labels=2,
                                                       num_samples=500, seed=0)
    with tg.no_grad():
        p = model(tg.ones(1, 4)).numpy()[0]
    assert explanation.labels == list(np.argsort(p)[::-1][:2])
    np.testing.assert_allclose(explanation.prediction, p, rtol=1e-6)


def test_the_explanation_lists_names_and_maps_ids():
    explanation = LimeTabular(training_data(), feature_names=["a", "b", "c", "d"],
                              discretize_continuous=False, mode="regression").explain(
        np.ones(4), linear, num_features=3, seed=0)
    assert isinstance(explanation, Explanation)
    assert [name for name, _ in explanation.as_list()] == ["b", "a", "d"]
    assert explanation.as_map() == {0: explanation.weights[0]}
    magnitudes = [abs(w) for _, w in explanation.weights[0]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    with pytest.raises(KeyError, match="label 1 was not explained"):
        explanation.as_list(1)


@pytest.mark.parametrize("make, error, message", [
    (lambda: LimeTabular(np.ones(5)), ValueError, r"2-D table .* \(5,\)"),
    (lambda: LimeTabular(np.ones((5, 2)), mode="ranking"), ValueError, "mode must be"),
    (lambda: LimeTabular(np.ones((5, 2)), discretizer="entropy"), ValueError, "discretizer"),
    (lambda: LimeTabular(np.ones((5, 2)), feature_names=["a"]), ValueError, "1 feature_names"),
    (lambda: LimeTabular(np.ones((5, 2)), categorical_features=[2]), IndexError, "out of range"),
    (lambda: LimeTabular(training_data()).explain(np.ones(3), logistic), ValueError,
     "row has 3 features"),
    (lambda: LimeTabular(training_data()).explain(np.ones(4), linear), ValueError,
     "mode='regression'"),
    (lambda: LimeTabular(training_data()).explain(np.ones(4), logistic, labels=(2,)),
     IndexError, "label 2 is out of range"),
    (lambda: LimeTabular(training_data()).explain(np.ones(4), logistic, num_samples=1),
     ValueError, "num_samples"),
])
def test_misuse_is_named_in_the_error(make, error, message):
    with pytest.raises(error, match=message):
        make()
