"""Beta(concentration1, concentration0): values in (0, 1), with shapes α and β.

    p(x) = x^{α-1} (1 - x)^{β-1} / B(α, β),   ln B(α, β) = ln Γ(α) + ln Γ(β) - ln Γ(α + β)
    log p(x) = (α - 1) ln x + (β - 1) ln(1 - x) - ln B(α, β)
    H = ln B(α, β) - (α - 1) ψ(α) - (β - 1) ψ(β) + (α + β - 2) ψ(α + β)
    mean = α/(α + β),  variance = αβ / ((α + β)² (α + β + 1)),
    mode = (α - 1)/(α + β - 2) for α, β ≥ 1 (not both 1); an endpoint when α, β < 1
    rsample: x = X/(X + Y) with X ~ Gamma(α, 1), Y ~ Gamma(β, 1), each with its implicit
             gradient, so gradients reach α and β
    KL(Beta(α₁, β₁) ‖ Beta(α₂, β₂)) = ln B(α₂, β₂) - ln B(α₁, β₁) + (α₁ - α₂) ψ(α₁)
                                     + (β₁ - β₂) ψ(β₁) + (α₂ - α₁ + β₂ - β₁) ψ(α₁ + β₁)
"""
from ..autograd.ops.arithmetic import where
from ..autograd.ops.gamma_functions import digamma, lgamma
from . import constraints
from .distribution import Distribution
from .gamma import xlogy
from .standard_gamma import _standard_gamma
from .utils import broadcast_all, finfo


def log_beta_function(a, b):
    """ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b)"""
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(Distribution):
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        # As PyTorch (whose Beta is a two-category Dirichlet): (α-1)/(α+β-2) with α-1 and β-1
        # clamped at 0; when both α and β are below 1, the endpoint of the larger one.
        a, b = self.concentration1, self.concentration0
        a1, b1 = (a - 1).clamp(min=0), (b - 1).clamp(min=0)
        total = a1 + b1
        undefined = total == 0   # α = β = 1 (flat), or one of them 1 and the other below
        mode = where(undefined, total * float("nan"), a1 / where(undefined, total + 1, total))
        both_below_one = (a < 1) & (b < 1)
        return where(both_below_one, (a >= b).to(mode.dtype), mode)

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x = _standard_gamma(self.concentration1.expand(shape))
        y = _standard_gamma(self.concentration0.expand(shape))
        eps = finfo(x)
        return (x / (x + y)).clamp(min=float(eps.tiny), max=1 - float(eps.eps))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - log_beta_function(a, b)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return (log_beta_function(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (a + b - 2) * digamma(a + b))
