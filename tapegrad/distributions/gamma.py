"""Gamma(concentration, rate): positive values, with shape α and rate β.

    p(x) = βᵅ xᵅ⁻¹ e^{-βx} / Γ(α)   for x > 0
    log p(x) = α ln β + (α - 1) ln x - βx - ln Γ(α)
    H = α - ln β + ln Γ(α) + (1 - α) ψ(α)
    mean = α/β,  variance = α/β²,  mode = (α - 1)/β for α ≥ 1 (else 0)
    rsample: x = X/β with X ~ Gamma(α, 1) drawn with the implicit gradient dX/dα
             (see ``standard_gamma.py``)
    KL(Γ(α₁, β₁) ‖ Γ(α₂, β₂)) = (α₁ - α₂) ψ(α₁) - ln Γ(α₁) + ln Γ(α₂)
                               + α₂ (ln β₁ - ln β₂) + α₁ (β₂ - β₁)/β₁
"""
from ..autograd.ops.arithmetic import where
from ..autograd.ops.gamma_functions import digamma, lgamma
from . import constraints
from .distribution import Distribution
from .standard_gamma import _standard_gamma
from .utils import broadcast_all, finfo


def xlogy(x, y):
    """x ln y, taken to be 0 where x = 0 (so that 0·ln 0 = 0, and no NaN gradient)."""
    zero = x == 0
    return x * where(zero, y * 0 + 1, y).log()


class Gamma(Distribution):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x = _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return x.clamp(min=float(finfo(x).tiny))   # a sample of exactly 0 has no log

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return xlogy(a, b) + xlogy(a - 1, value) - b * value - lgamma(a)

    def entropy(self):
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1 - a) * digamma(a)
