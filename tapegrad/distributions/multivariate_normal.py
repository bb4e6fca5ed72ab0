"""MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None):
the Gaussian N(μ, Σ) over k-vectors.

Σ is given by exactly one of: itself, its inverse (the precision matrix), or its Cholesky
factor L (lower triangular, positive diagonal, Σ = L Lᵀ); everything is computed with L.

    log p(x) = -½ (k ln 2π + ‖L⁻¹(x - μ)‖²) - Σᵢ ln Lᵢᵢ      (½ ln det Σ = Σᵢ ln Lᵢᵢ)
    H = ½ k (1 + ln 2π) + Σᵢ ln Lᵢᵢ
    mean = mode = μ,  variance = diag Σ = Σⱼ Lᵢⱼ²
    rsample: x = μ + L ε with ε ~ N(0, I)
    KL(N(μ₁, Σ₁) ‖ N(μ₂, Σ₂)) = ½ (tr(Σ₂⁻¹Σ₁) + (μ₂ - μ₁)ᵀ Σ₂⁻¹ (μ₂ - μ₁) - k + ln det Σ₂ - ln det Σ₁)
                              = ½ (‖L₂⁻¹L₁‖²_F + ‖L₂⁻¹(μ₂ - μ₁)‖² - k) + Σᵢ ln L₂ᵢᵢ - Σᵢ ln L₁ᵢᵢ

``loc`` and the matrix broadcast: batch_shape is their batch dimensions broadcast together,
event_shape is (k,).
"""
import math

from ..autograd.ops.linalg import einsum
from ..autograd.ops.linalg_decompositions import cholesky, solve_triangular
from ..creation import eye, randn
from . import constraints
from .distribution import Distribution
from .utils import broadcast_shapes, lazy_property


def diagonal(matrices):
    """The diagonals of a batch of square matrices: (..., k, k) -> (..., k)."""
    return einsum("...ii->...i", matrices)


def mahalanobis_squared(scale_tril, diff):
    """‖L⁻¹ d‖² for each vector d of ``diff`` (batch dimensions broadcast)."""
    solved = solve_triangular(scale_tril, diff.unsqueeze(-1), upper=False).squeeze(-1)
    return solved.pow(2).sum(-1)


def precision_to_scale_tril(precision):
    """L with L Lᵀ = P⁻¹: from P = Lₚ Lₚᵀ, P⁻¹ = Lₚ⁻ᵀ Lₚ⁻¹, factored again."""
    lower = cholesky(precision)
    identity = eye(precision.shape[-1], dtype=precision.dtype, device=precision.device)
    inverse = solve_triangular(lower, identity, upper=False)
    return cholesky(inverse.mT @ inverse)


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [(name, m) for name, m in (("covariance_matrix", covariance_matrix),
                                           ("precision_matrix", precision_matrix),
                                           ("scale_tril", scale_tril)) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril "
                             "may be specified.")
        name, matrix = given[0]
        k = loc.shape[-1]
        if matrix.dim() < 2 or tuple(matrix.shape[-2:]) != (k, k):
            raise ValueError(f"{name} must be a batch of {k}x{k} matrices to match loc of shape "
                             f"{tuple(loc.shape)}, got shape {tuple(matrix.shape)}")
        batch_shape = broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        self.__dict__[name] = matrix.expand(batch_shape + (k, k))
        self.loc = loc.expand(batch_shape + (k,))
        super().__init__(batch_shape, (k,), validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(matrix)

    def _full(self, matrix):
        return matrix.expand(tuple(self.batch_shape) + tuple(self.event_shape) * 2)

    @lazy_property
    def scale_tril(self):
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return self._full(L @ L.mT)

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        identity = eye(L.shape[-1], dtype=L.dtype, device=L.device)
        inverse = solve_triangular(L, identity, upper=False)
        return self._full(inverse.mT @ inverse)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        variance = self._unbroadcasted_scale_tril.pow(2).sum(-1)
        return variance.expand(tuple(self.batch_shape) + tuple(self.event_shape))

    def _half_log_det(self):
        return diagonal(self._unbroadcasted_scale_tril).log().sum(-1)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        # x = μ + L ε, written for row vectors: xᵀ = μᵀ + εᵀ Lᵀ
        return self.loc + (eps.unsqueeze(-2) @ self._unbroadcasted_scale_tril.mT).squeeze(-2)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self.event_shape[0]
        m = mahalanobis_squared(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (k * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self):
        k = self.event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(tuple(self.batch_shape)) if tuple(h.shape) != tuple(self.batch_shape) else h
