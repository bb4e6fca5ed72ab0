"""Bernoulli(probs=None, logits=None): 1 with probability p, 0 otherwise.

Given by p (``probs``) or by its log-odds ℓ = ln(p / (1 - p)) (``logits``), exactly one.

    log p(x) = x ln p + (1 - x) ln(1 - p) = x ℓ - softplus(ℓ)      (x ∈ {0, 1})
    H = -p ln p - (1 - p) ln(1 - p) = softplus(ℓ) - p ℓ
    mean = p,  variance = p (1 - p),  mode = 1 if p > ½, 0 if p < ½ (NaN at ½)
    KL(B(p) ‖ B(q)) = p ln(p/q) + (1 - p) ln((1 - p)/(1 - q))

The logits forms never take the log of a probability that rounds to 0 or 1, so they stay
finite and accurate for |ℓ| large. Samples have the parameters' float dtype, as in PyTorch.
"""
from ..autograd.grad_mode import no_grad
from ..creation import rand, tensor
from ..nn.functional import logsigmoid
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits


def _one_of(name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: either `probs` or `logits` must be specified, but not both "
                         f"(got probs={probs!r}, logits={logits!r})")


def softplus(logits):
    """ln(1 + eˡ) = -ln σ(-ℓ), computed without overflow for any ℓ."""
    return -logsigmoid(-logits)


class Bernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of("Bernoulli", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            shape = self.probs.shape
        else:
            (self.logits,) = broadcast_all(logits)
            shape = self.logits.shape
        super().__init__(shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def _param(self):
        return self.__dict__.get("probs", self.__dict__.get("logits"))

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mode.masked_fill(self.probs == 0.5, float("nan"))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            probs = self.probs.detach()
            u = rand(shape, dtype=probs.dtype, device=probs.device)
            return (u < probs).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        return value * logits - softplus(logits)

    def entropy(self):
        logits = self.logits
        return softplus(logits) - self.probs * logits

    def enumerate_support(self, expand=True):
        values = tensor([0.0, 1.0], dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((2,) + (1,) * len(self.batch_shape))
        return values.expand((2,) + tuple(self.batch_shape)) if expand else values
