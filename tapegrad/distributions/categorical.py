"""Categorical(probs=None, logits=None): one of K categories 0 … K-1.

Given by the last dimension of ``probs`` (non-negative, normalised here to sum to 1) or of
``logits`` (normalised here to log-probabilities, ℓₖ - log Σⱼ e^{ℓⱼ}), exactly one. The
dimensions before it are the batch.

    log p(k) = ℓₖ - log Σⱼ e^{ℓⱼ} = ln pₖ
    H = -Σₖ pₖ ln pₖ   (a category of probability 0 adds 0, not 0·(-∞))
    mode = argmaxₖ pₖ  (mean and variance are not defined for categories: NaN, as in PyTorch)
    KL(p ‖ q) = Σₖ pₖ (ln pₖ - ln qₖ)

``sample`` draws by inverse CDF: the category whose slice of the cumulative sums of p holds
a uniform u. Samples are int64, as in PyTorch.
"""
from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..creation import arange, full, rand
from . import constraints
from .distribution import Distribution
from .utils import broadcast_shapes, finfo, lazy_property, logits_to_probs, probs_to_logits


class Categorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError(f"Categorical: either `probs` or `logits` must be specified, but "
                             f"not both (got probs={probs!r}, logits={logits!r})")
        given = probs if probs is not None else logits
        name = "probs" if probs is not None else "logits"
        if given.ndim < 1:
            raise ValueError(f"Categorical: `{name}` must be at least one-dimensional (its last "
                             f"dimension lists the categories), got shape {tuple(given.shape)}")
        if not given.dtype.is_floating_point:
            given = given.to(dtypes.get_default_dtype())
        if probs is not None:
            self.probs = given / given.sum(-1, keepdim=True)
        else:
            self.logits = given - given.logsumexp(-1, keepdim=True)
        self._num_events = given.shape[-1]
        super().__init__(given.shape[:-1], validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def _param(self):
        return self.__dict__.get("probs", self.__dict__.get("logits"))

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return full(tuple(self.batch_shape), float("nan"), dtype=self._param.dtype,
                    device=self._param.device)

    @property
    def variance(self):
        return self.mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            cumulative = self.probs.detach().cumsum(-1)
            u = rand(tuple(shape) + (1,), dtype=cumulative.dtype, device=cumulative.device)
            # <= : a draw of exactly 0 must not land on a leading category of probability 0
            index = (cumulative <= u * cumulative[..., -1:]).sum(-1)
            return index.clamp(max=self._num_events - 1).long()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        logits = self.logits
        shape = broadcast_shapes(tuple(index.shape)[:-1], tuple(logits.shape)[:-1])
        index = index.expand(shape + (1,))
        return logits.expand(shape + (self._num_events,)).gather(-1, index).squeeze(-1)

    def entropy(self):
        logits = self.logits.clamp(min=float(finfo(self._param).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = arange(self._num_events, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values

    def _param_event_dim(self, name, constraint):
        return 1

