"""kl_divergence(p, q): KL(p ‖ q) = E_p[ln p(x) - ln q(x)], in closed form, batched.

Each pair of families has its own formula (written in the docstring of each family's
file), registered with ``@register_kl(TypeP, TypeQ)``. ``kl_divergence`` picks the
registered function for the most specific pair of classes that p and q are instances of,
so a subclass of Normal uses the Normal formula unless it registers its own.
"""
import math

from ..autograd.ops.arithmetic import where
from ..autograd.ops.gamma_functions import digamma, lgamma
from ..autograd.ops.linalg_decompositions import solve_triangular
from .bernoulli import Bernoulli, softplus
from .beta import Beta, log_beta_function
from .categorical import Categorical
from .gamma import Gamma
from .multivariate_normal import MultivariateNormal, diagonal, mahalanobis_squared
from .normal import Normal
from .uniform import Uniform

_KL_REGISTRY = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(Normal, Normal) def kl(p, q): ...`` adds a formula."""
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, _distribution_base())):
            raise TypeError(f"register_kl expects subclasses of Distribution, got {t!r}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


def _distribution_base():
    from .distribution import Distribution
    return Distribution


def _lookup(type_p, type_q):
    """The registered function for the closest (by method resolution order) pair."""
    best, best_rank = None, None
    for (super_p, super_q), fn in _KL_REGISTRY.items():
        if issubclass(type_p, super_p) and issubclass(type_q, super_q):
            rank = (type_p.__mro__.index(super_p), type_q.__mro__.index(super_q))
            if best_rank is None or rank < best_rank:
                best, best_rank = fn, rank
    return best



def kl_divergence(p, q):
    """KL(p ‖ q) for each distribution of the batch (shape: the broadcast batch_shape)."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__} and "
                                  f"q = {type(q).__name__}")
    return fn(p, q)


def _infinite_where(condition, value):
    return where(condition, value * 0 + math.inf, value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # p ln(p/q) + (1-p) ln((1-p)/(1-q)), with ln p = -softplus(-ℓ), ln(1-p) = -softplus(ℓ)
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    # A category p never takes adds nothing; one q never takes but p does makes KL infinite.
    terms = where(p.probs == 0, terms * 0, terms)
    terms = _infinite_where((q.probs == 0) & (p.probs > 0), terms)
    return terms.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _infinite_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    a1, b1, a2, b2 = p.concentration, p.rate, q.concentration, q.rate
    return ((a1 - a2) * digamma(a1) - lgamma(a1) + lgamma(a2)
            + a2 * (b1.log() - b2.log()) + a1 * (b2 - b1) / b1)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    return (log_beta_function(a2, b2) - log_beta_function(a1, b1) + (a1 - a2) * digamma(a1)
            + (b1 - b2) * digamma(b1) + (a2 - a1 + b2 - b1) * digamma(a1 + b1))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two Multivariate Normals with different event "
                         f"shapes cannot be computed: {tuple(p.event_shape)} and "
                         f"{tuple(q.event_shape)}")
    k = p.event_shape[0]
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    trace = solve_triangular(Lq, Lp, upper=False).pow(2).sum((-2, -1))   # ‖Lq⁻¹Lp‖²_F
    mahalanobis = mahalanobis_squared(Lq, q.loc - p.loc)
    log_dets = diagonal(Lq).log().sum(-1) - diagonal(Lp).log().sum(-1)
    return 0.5 * (trace + mahalanobis - k) + log_dets
