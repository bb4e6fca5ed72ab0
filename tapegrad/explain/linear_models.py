"""The small linear models behind LIME: weighted ridge, lasso, and the LARS/lasso path.

LIME explains a prediction by fitting a *weighted* linear model to the model's outputs on
perturbed samples (the weights say how close each sample is to the instance). Three
fits are needed, all on a few thousand rows and a handful of columns, so they are
written here directly on numpy:

* ``Ridge``: minimise  Σᵢ wᵢ (yᵢ − b − xᵢ·β)² + α‖β‖²  by the normal equations. The
  intercept b is not penalised: centre X and y on their weighted means, solve
  (XcᵀWXc + αI) β = XcᵀWyc, then b = ȳ − x̄·β. ``score`` is the weighted R².
* ``lasso``: minimise  1/(2Σw) Σᵢ wᵢ (yᵢ − b − xᵢ·β)² + α‖β‖₁  by cyclic coordinate
  descent (each coordinate has a closed-form soft-threshold update).
* ``lars_path``: the whole lasso solution path β(α) for α from max|Xᵀy|/n down to 0,
  by Least Angle Regression with the lasso modification (Efron, Hastie, Johnstone and
  Tibshirani 2004). Between breakpoints β(α) is linear, so the path is returned as the
  breakpoints. LIME's ``"lasso_path"`` feature selection walks it back from the full
  fit to the last point with at most K non-zero coefficients.

Everything is on the host: these are fits on the explainer's own sample tables.
"""
import numpy


def _as_weights(sample_weight, n, op):
    if sample_weight is None:
        return numpy.ones(n)
    w = numpy.asarray(sample_weight, dtype=numpy.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"{op}: sample_weight has {w.shape[0]} entries for {n} samples")
    if (w < 0).any():
        raise ValueError(f"{op}: sample weights must be non-negative")
    if w.sum() <= 0:
        raise ValueError(f"{op}: the sample weights sum to zero")
    return w


def _as_xy(X, y, op):
    X = numpy.asarray(X, dtype=numpy.float64)
    y = numpy.asarray(y, dtype=numpy.float64)
    if X.ndim != 2:
        raise ValueError(f"{op}: X must be 2-D (samples, features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"{op}: y must have shape ({X.shape[0]},) to match X {X.shape}, "
                         f"got {y.shape}")
    return X, y


def weighted_r2(y, prediction, sample_weight=None):
    """R² = 1 − Σw(y − ŷ)² / Σw(y − ȳ_w)², with ȳ_w the weighted mean (1.0 for a perfect fit
    of a constant y, as scikit-learn)."""
    y = numpy.asarray(y, dtype=numpy.float64)
    w = _as_weights(sample_weight, y.shape[0], "weighted_r2")
    residual = (w * (y - prediction) ** 2).sum()
    total = (w * (y - numpy.average(y, weights=w)) ** 2).sum()
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1.0 - residual / total)


def _solve_symmetric(A, b):
    """A⁻¹b for a symmetric positive semi-definite A; the least-norm solution if singular."""
    try:
        x = numpy.linalg.solve(A, b)
        tolerance = 1e-9 * (1 + abs(b).max(initial=0))
        if numpy.isfinite(x).all() and numpy.allclose(A @ x, b, rtol=1e-7, atol=tolerance):
            return x
    except numpy.linalg.LinAlgError:
        pass
    return numpy.linalg.lstsq(A, b, rcond=None)[0]


class Ridge:
    """Weighted ridge regression:  min Σᵢ wᵢ (yᵢ − b − xᵢ·β)² + α‖β‖²  (b not penalised).

    ``Ridge(alpha=1.0).fit(X, y, sample_weight)`` sets ``coef_`` and ``intercept_``;
    ``predict(X)`` and ``score(X, y, sample_weight)`` (the weighted R²) as scikit-learn.
    With ``alpha=0`` it is weighted least squares (the least-norm solution when columns
    are collinear).
    """

    def __init__(self, alpha=1.0, fit_intercept=True):
        if alpha < 0:
            raise ValueError(f"Ridge: alpha must be non-negative, got {alpha}")
        self.alpha = float(alpha)
        self.fit_intercept = fit_intercept
        self.coef_ = None
        self.intercept_ = 0.0

    def fit(self, X, y, sample_weight=None):
        X, y = _as_xy(X, y, "Ridge.fit")
        w = _as_weights(sample_weight, X.shape[0], "Ridge.fit")
        if self.fit_intercept:
            x_mean = w @ X / w.sum()
            y_mean = w @ y / w.sum()
        else:
            x_mean = numpy.zeros(X.shape[1])
            y_mean = 0.0
        Xc = X - x_mean
        yc = y - y_mean
        XtW = Xc.T * w
        gram = XtW @ Xc
        gram[numpy.diag_indices_from(gram)] += self.alpha
        self.coef_ = _solve_symmetric(gram, XtW @ yc)
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        return self

    def predict(self, X):
        return numpy.asarray(X, dtype=numpy.float64) @ self.coef_ + self.intercept_

    def score(self, X, y, sample_weight=None):
        return weighted_r2(y, self.predict(X), sample_weight)


def _soft_threshold(value, threshold):
    return numpy.sign(value) * max(abs(value) - threshold, 0.0)


def lasso(X, y, alpha, sample_weight=None, fit_intercept=True, max_iter=10000, tol=1e-10):
    """Weighted lasso by cyclic coordinate descent; returns ``(coef, intercept)``.

    Minimises  1/(2Σw) Σᵢ wᵢ (yᵢ − b − xᵢ·β)² + α‖β‖₁  (scikit-learn's ``Lasso`` objective
    with sample weights). After centring on the weighted means, coordinate j has the
    closed-form minimiser  βⱼ = S(ρⱼ, α) / zⱼ  with  ρⱼ = Σwᵢxᵢⱼ(rᵢ + xᵢⱼβⱼ)/Σw,
    zⱼ = Σwᵢxᵢⱼ²/Σw  and S the soft threshold; sweeps repeat until no coefficient moves
    by more than ``tol`` (relative to the largest).
    """
    X, y = _as_xy(X, y, "lasso")
    if alpha < 0:
        raise ValueError(f"lasso: alpha must be non-negative, got {alpha}")
    w = _as_weights(sample_weight, X.shape[0], "lasso")
    w = w / w.sum()
    x_mean = w @ X if fit_intercept else numpy.zeros(X.shape[1])
    y_mean = w @ y if fit_intercept else 0.0
    Xc = X - x_mean
    residual = y - y_mean
    z = w @ (Xc * Xc)
    coef = numpy.zeros(X.shape[1])
    for _ in range(max_iter):
        biggest_move = 0.0
        for j in range(X.shape[1]):
            if z[j] == 0:
                continue
            column = Xc[:, j]
            rho = (w * column) @ residual + z[j] * coef[j]
            new = _soft_threshold(rho, alpha) / z[j]
            if new != coef[j]:
                residual -= column * (new - coef[j])
                biggest_move = max(biggest_move, abs(new - coef[j]))
                coef[j] = new
        if biggest_move <= tol * max(1.0, abs(coef).max(initial=0.0)):
            break
    return coef, float(y_mean - x_mean @ coef)


def lars_path(X, y, method="lasso", max_iter=500, eps=1e-12):
    """The LARS (``method="lar"``) or lasso (``method="lasso"``) path, as scikit-learn's
    ``lars_path``: returns ``(alphas, active, coefs)`` with ``coefs[:, k]`` the solution at
    ``alphas[k]`` (α on the scale of ``max|Xᵀr|/n``), decreasing to 0 or to where no
    correlation is left. No intercept: centre X and y first.

    Each step moves the active coefficients along the *equiangular* direction — the one
    that keeps every active correlation |xⱼᵀr| equal while they shrink — until an
    inactive column's correlation catches up (it joins), or, for the lasso, an active
    coefficient reaches zero (it leaves: the lasso solution cannot change sign there).
    """
    if method not in ("lasso", "lar"):
        raise ValueError(f"lars_path: method must be 'lasso' or 'lar', got {method!r}")
    X, y = _as_xy(X, y, "lars_path")
    n, p = X.shape
    beta = numpy.zeros(p)
    correlations = X.T @ y
    scale = abs(correlations).max(initial=0.0)
    alphas = [scale / n]
    coefs = [beta.copy()]
    active = []
    if scale == 0:
        return numpy.array(alphas), active, numpy.array(coefs).T
    joining = int(numpy.argmax(abs(correlations)))
    for _ in range(max_iter):
        if joining is not None:
            active.append(joining)
        correlations = X.T @ (y - X @ beta)
        C = abs(correlations[active]).max()
        if C <= eps * scale:
            break
        signs = numpy.sign(correlations[active])
        XA = X[:, active]
        w = _solve_symmetric(XA.T @ XA, signs)
        norm = signs @ w
        if norm <= 0:   # the active columns are collinear: no equiangular direction left
            break
        AA = 1.0 / numpy.sqrt(norm)
        direction = AA * w            # change of β_active per unit step
        a = X.T @ (XA @ direction)    # change of the correlations per unit step (active: −AA)
        # The step after which an inactive correlation reaches ±(C − γ·AA): it joins.
        gamma, joining = C / AA, None
        inactive = numpy.setdiff1d(numpy.arange(p), active)
        if len(active) < min(n, p):
            for j in inactive:
                for candidate in ((C - correlations[j]) / (AA - a[j]),
                                  (C + correlations[j]) / (AA + a[j])):
                    if eps * C / AA < candidate < gamma:
                        gamma, joining = candidate, int(j)
        # Lasso: the step after which an active coefficient crosses zero: it leaves.
        leaving = None
        if method == "lasso":
            with numpy.errstate(divide="ignore", invalid="ignore"):
                crossing = -beta[active] / direction
            for k, candidate in enumerate(crossing):
                if eps * C / AA < candidate < gamma:
                    gamma, leaving, joining = candidate, k, None
        beta[active] += gamma * direction
        alphas.append(max(C - gamma * AA, 0.0) / n)
        if leaving is not None:
            beta[active[leaving]] = 0.0
            del active[leaving]
        coefs.append(beta.copy())
        if joining is None and leaving is None:  # reached the least-squares fit
            break
    return numpy.array(alphas), list(active), numpy.array(coefs).T


__all__ = ["Ridge", "lasso", "lars_path", "weighted_r2"]
