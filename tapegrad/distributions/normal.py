"""Normal(loc, scale): the Gaussian N(μ, σ²).

    p(x) = exp(-(x - μ)² / (2σ²)) / (σ √(2π))
    log p(x) = -(x - μ)² / (2σ²) - ln σ - ½ ln 2π
    H = ½ + ½ ln 2π + ln σ
    mean = mode = μ,  variance = σ²
    rsample: x = μ + σ ε with ε ~ N(0, 1), so ∂x/∂μ = 1 and ∂x/∂σ = ε
    KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) = ln(σ₂/σ₁) + (σ₁² + (μ₁ - μ₂)²) / (2σ₂²) - ½
"""
import math

from ..autograd.ops.special import erf, erfinv
from ..creation import randn
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all


class Normal(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (-((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def cdf(self, value):
        """Φ((x - μ)/σ) = ½ (1 + erf((x - μ) / (σ√2)))"""
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        """Φ⁻¹(p) = μ + σ√2 · erfinv(2p - 1), the quantile of probability p"""
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
