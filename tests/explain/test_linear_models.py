"""The linear models behind LIME, checked against closed forms, brute force and each other."""
import numpy as np
import pytest

from tapegrad.explain.linear_models import Ridge, lars_path, lasso, weighted_r2


def _correlated_problem(seed, n=20, p=8):
    """Centred data with strongly correlated columns (so the lasso path drops variables)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] = X[:, 0] + 0.3 * rng.normal(size=n)
    X[:, 2] = X[:, 0] - X[:, 1] + 0.2 * rng.normal(size=n)
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    return X - X.mean(axis=0), y - y.mean()


def _satisfies_lasso_optimality(X, y, alpha, beta, atol=1e-8):
    """Subgradient conditions of min 1/(2n)‖y − Xβ‖² + α‖β‖₁: Xᵀ(y − Xβ)/n equals
    α·sign(βⱼ) where βⱼ ≠ 0 and lies in [−α, α] elsewhere."""
    gradient = X.T @ (y - X @ beta) / len(y)
    active = beta != 0
    return (np.allclose(gradient[active], alpha * np.sign(beta[active]), atol=atol)
            and bool((np.abs(gradient[~active]) <= alpha + atol).all()))


def _path_at(alphas, coefs, alpha):
    """The lasso path's solution at ``alpha`` (linear between breakpoints)."""
    return np.array([np.interp(alpha, alphas[::-1], row[::-1]) for row in coefs])


# -- ridge ------------------------------------------------------------------------------------
def test_ridge_on_a_hand_computed_case():
    # x = 0, 1, 2 and y = x: centred x = (-1, 0, 1), Sxx = 2, Sxy = 2.
    X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 1.0, 2.0])
    exact = Ridge(alpha=0.0).fit(X, y)
    assert exact.coef_ == pytest.approx([1.0]) and exact.intercept_ == pytest.approx(0.0)
    shrunk = Ridge(alpha=1.0).fit(X, y)   # β = Sxy / (Sxx + 1) = 2/3, b = ȳ − x̄β = 1/3
    assert shrunk.coef_ == pytest.approx([2 / 3]) and shrunk.intercept_ == pytest.approx(1 / 3)


def test_weighted_ridge_equals_the_closed_form_with_an_unpenalised_intercept():
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(30, 4)), rng.normal(size=30), rng.uniform(0.1, 2.0, size=30)
    alpha = 0.7
    A = np.hstack([np.ones((30, 1)), X])
    penalty = alpha * np.diag([0.0, 1, 1, 1, 1])
    theta = np.linalg.solve(A.T @ (w[:, None] * A) + penalty, A.T @ (w * y))
    model = Ridge(alpha=alpha).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, theta[1:], rtol=1e-10)
    assert model.intercept_ == pytest.approx(theta[0], rel=1e-10)
    np.testing.assert_allclose(model.predict(X), A @ theta, rtol=1e-10)


def test_integer_sample_weights_act_like_repeated_rows():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    counts = rng.integers(1, 4, size=10)
    weighted = Ridge(alpha=1.0).fit(X, y, sample_weight=counts)
    repeated = Ridge(alpha=1.0).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_)


def test_ridge_without_penalty_on_collinear_columns_gives_a_least_squares_fit():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 1))
    X, y = np.hstack([x, x]), 3 * x[:, 0] + 1
    model = Ridge(alpha=0.0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-10)
    assert model.coef_ == pytest.approx([1.5, 1.5])   # the least-norm split


def test_weighted_r2_is_one_for_a_perfect_fit_and_zero_for_the_weighted_mean():
    y, w = np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 1.0])
    assert weighted_r2(y, y, w) == 1.0
    assert weighted_r2(y, np.full(3, np.average(y, weights=w)), w) == pytest.approx(0.0)
    # by hand: ȳ = 9/4; with ŷ = 2, Σw(y − ŷ)² = 1 + 0 + 4 = 5 and Σw(y − ȳ)² = 4.75
    assert weighted_r2(y, np.full(3, 2.0), w) == pytest.approx(1 - 5 / 4.75)


def test_ridge_score_is_the_weighted_r2_of_its_predictions():
    rng = np.random.default_rng(3)
    X, y, w = rng.normal(size=(25, 2)), rng.normal(size=25), rng.uniform(size=25)
    model = Ridge(alpha=1.0).fit(X, y, w)
    assert model.score(X, y, w) == pytest.approx(weighted_r2(y, model.predict(X), w))


@pytest.mark.parametrize("call, message", [
    (lambda: Ridge(alpha=-1.0), "alpha must be non-negative"),
    (lambda: Ridge().fit(np.ones(3), np.ones(3)), r"X must be 2-D"),
    (lambda: Ridge().fit(np.ones((3, 2)), np.ones(4)), r"y must have shape \(3,\)"),
    (lambda: Ridge().fit(np.ones((3, 2)), np.ones(3), [1, 1]), "2 entries for 3 samples"),
    (lambda: Ridge().fit(np.ones((3, 2)), np.ones(3), [1, -1, 1]), "non-negative"),
    (lambda: lars_path(np.ones((3, 2)), np.ones(3), method="ridge"), "'lasso' or 'lar'"),
])
def test_bad_arguments_are_named_in_the_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- lasso by coordinate descent ----------------------------------------------------------------
def test_lasso_satisfies_the_weighted_subgradient_conditions():
    rng = np.random.default_rng(4)
    X, y, w = rng.normal(size=(40, 5)), rng.normal(size=40), rng.uniform(0.2, 1.0, size=40)
    alpha = 0.1
    coef, intercept = lasso(X, y, alpha, sample_weight=w)
    residual = y - intercept - X @ coef
    gradient = (X * w[:, None]).T @ residual / w.sum()
    active = coef != 0
    assert 0 < active.sum() < 5
    np.testing.assert_allclose(gradient[active], alpha * np.sign(coef[active]), atol=1e-8)
    assert (np.abs(gradient[~active]) <= alpha + 1e-8).all()
    assert (w * residual).sum() == pytest.approx(0.0, abs=1e-9)   # the intercept is optimal


def test_lasso_is_least_squares_at_alpha_zero_and_empty_above_the_largest_correlation():
    X, y = _correlated_problem(5)
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(lasso(X, y, 0.0, fit_intercept=False)[0], ols, atol=1e-6)
    alpha_max = np.abs(X.T @ y).max() / len(y)
    assert (lasso(X, y, alpha_max * 1.001, fit_intercept=False)[0] == 0).all()


def test_lasso_by_coordinate_descent_matches_the_lasso_path_at_the_same_alpha():
    X, y = _correlated_problem(2)
    alphas, _, coefs = lars_path(X, y)
    for alpha in np.linspace(alphas[0], 0, 12)[1:-1]:
        cd, _ = lasso(X, y, alpha, fit_intercept=False)
        np.testing.assert_allclose(cd, _path_at(alphas, coefs, alpha), atol=1e-6)


# -- the LARS / lasso path --------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_every_point_of_the_lasso_path_is_a_lasso_solution(seed):
    X, y = _correlated_problem(seed)
    alphas, _, coefs = lars_path(X, y)
    assert alphas[0] == pytest.approx(np.abs(X.T @ y).max() / len(y))
    assert (np.diff(alphas) < 0).all()
    assert (coefs[:, 0] == 0).all()
    for k, alpha in enumerate(alphas):                 # the breakpoints
        assert _satisfies_lasso_optimality(X, y, alpha, coefs[:, k])
    for k in range(len(alphas) - 1):                   # and between them (β is linear there)
        middle = (alphas[k] + alphas[k + 1]) / 2
        assert _satisfies_lasso_optimality(X, y, middle, (coefs[:, k] + coefs[:, k + 1]) / 2)
    np.testing.assert_allclose(coefs[:, -1], np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-8)


def test_the_lasso_path_drops_a_variable_where_lar_would_change_its_sign():
    X, y = _correlated_problem(2)              # a problem where a coefficient crosses zero
    _, _, lasso_coefs = lars_path(X, y, method="lasso")
    _, _, lar_coefs = lars_path(X, y, method="lar")
    nonzero = (lasso_coefs != 0).sum(axis=0)
    assert (np.diff(nonzero) < 0).any()        # a variable left the active set
    assert lasso_coefs.shape[1] > lar_coefs.shape[1]
    assert (np.diff((lar_coefs != 0).sum(axis=0)) == 1).all()   # LAR only ever adds
    for k in range(lasso_coefs.shape[1] - 1):  # no lasso coefficient ever changes sign
        assert (lasso_coefs[:, k] * lasso_coefs[:, k + 1] >= 0).all()


def test_the_path_of_an_orthogonal_design_is_soft_thresholding():
    # With orthonormal columns (XᵀX = n·I) the lasso is β = S(Xᵀy/n, α), by hand.
    X = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    y = np.array([3.0, 1.0, -1.0, -3.0])      # Xᵀy/n = (2, 1)
    alphas, active, coefs = lars_path(X, y)
    np.testing.assert_allclose(alphas, [2.0, 1.0, 0.0])
    np.testing.assert_allclose(coefs.T, [[0, 0], [1, 0], [2, 1]])
    assert active == [0, 1]


def test_the_path_with_more_features_than_samples_stays_optimal():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(6, 10)), rng.normal(size=6)
    X, y = X - X.mean(axis=0), y - y.mean()
    alphas, _, coefs = lars_path(X, y)
    for k, alpha in enumerate(alphas):
        assert _satisfies_lasso_optimality(X, y, alpha, coefs[:, k])
    np.testing.assert_allclose(X @ coefs[:, -1], y, atol=1e-8)   # interpolates at α = 0


def test_the_path_of_a_zero_target_is_the_single_zero_point():
    alphas, active, coefs = lars_path(np.eye(3), np.zeros(3))
    assert alphas.tolist() == [0.0] and active == [] and coefs.shape == (3, 1)
