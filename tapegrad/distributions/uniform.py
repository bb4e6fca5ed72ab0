"""Uniform(low, high): every value of [low, high) equally likely.

    p(x) = 1 / (b - a) on [a, b),  log p(x) = -ln(b - a) there (-inf outside)
    H = ln(b - a)
    mean = (a + b)/2,  variance = (b - a)²/12  (no single mode: NaN, as in PyTorch)
    rsample: x = a + (b - a) u with u ~ U[0, 1)
    cdf: clamp((x - a)/(b - a), 0, 1)
    KL(U[a₁, b₁) ‖ U[a₂, b₂)) = ln((b₂ - a₂)/(b₁ - a₁)) if [a₁, b₁) ⊆ [a₂, b₂), else ∞
"""
import math

from ..autograd.ops.arithmetic import where
from ..creation import rand
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all


class Uniform(Distribution):
    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)
        if self._validate_args and not bool((self.low < self.high).all()):
            raise ValueError(f"Uniform is not defined when low >= high: expected low < high "
                             f"everywhere, got low={self.low} and high={self.high}")

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * float("nan")

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = rand(shape, dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (self.high > value)
        log_density = -(self.high - self.low).log()
        return where(inside, log_density, log_density * 0 - math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        """low + p·(high - low), the quantile of probability p"""
        return self.low + value * (self.high - self.low)

    def entropy(self):
        return (self.high - self.low).log()
