"""kl_divergence(p, q): KL(p ‖ q) = E_p[ln p(x) - ln q(x)], in closed form, batched.

Each pair of families has its own formula (the same-family ones are written in the
docstring of each family's file), registered with ``@register_kl(TypeP, TypeQ)``. ``kl_divergence`` picks the
registered function for the most specific pair of classes that p and q are instances of,
so a subclass of Normal uses the Normal formula unless it registers its own.
"""
import math

from ..autograd.ops.arithmetic import where
from ..autograd.ops.gamma_functions import digamma, lgamma
from ..autograd.ops.linalg_decompositions import solve_triangular
from ..creation import full
from .bernoulli import Bernoulli, softplus
from .beta import Beta, log_beta_function
from .categorical import Categorical
from .distribution import Distribution
from .gamma import Gamma, xlogy
from .multivariate_normal import MultivariateNormal, diagonal, mahalanobis_squared
from .normal import Normal
from .uniform import Uniform
from .utils import broadcast_shapes

_KL_REGISTRY = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(Normal, Normal) def kl(p, q): ...`` adds a formula."""
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"register_kl expects subclasses of Distribution, got {t!r}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


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


# -- pairs of different families: KL(p ‖ q) = -H(p) - E_p[ln q(x)] ---------------------------
# Where p can take values q cannot (a Normal against a Gamma), KL is infinite.
def _infinite(p, q):
    param = next(v for v in p.__dict__.values() if hasattr(v, "dtype"))
    shape = broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape))
    return full(shape, math.inf, dtype=param.dtype, device=param.device)


for _p, _q in [(Normal, Uniform), (Normal, Gamma), (Normal, Beta), (Gamma, Uniform),
               (Gamma, Beta)]:
    register_kl(_p, _q)(_infinite)


def _normal_cross_entropy(mean, variance, q):
    """-E[ln q(x)] for q = N(μ, σ²) and x of this mean and variance:
    ln σ + ½ ln 2π + (Var x + (E x - μ)²) / (2σ²)"""
    return (q.scale.log() + 0.5 * math.log(2 * math.pi)
            + (variance + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2)))


def _gamma_cross_entropy(mean, mean_log, q):
    """-E[ln q(x)] for q = Gamma(α, β): -α ln β + ln Γ(α) - (α - 1) E[ln x] + β E[x]"""
    a, b = q.concentration, q.rate
    return -a * b.log() + lgamma(a) - (a - 1) * mean_log + b * mean


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    # E[ln x] = ψ(α) - ψ(α + β) under Beta(α, β)
    a, b = p.concentration1, p.concentration0
    return -p.entropy() + _gamma_cross_entropy(p.mean, digamma(a) - digamma(a + b), q)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    # Beta lives on (0, 1): finite only if [low, high) covers it, then ln(high - low) - H(p)
    result = -p.entropy() + (q.high - q.low).log()
    return _infinite_where((q.low > 0) | (q.high < 1), result)


def _mean_x_log_x(low, high):
    """E[ln x] for x ~ U[low, high), low ≥ 0: (b ln b - b - a ln a + a)/(b - a)."""
    return (xlogy(high, high) - high - xlogy(low, low) + low) / (high - low)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    # E[(x - μ)²] = ((b - μ)³ - (a - μ)³) / (3(b - a)) under U[a, b)
    a, b = p.low, p.high
    second = ((b - q.loc).pow(3) - (a - q.loc).pow(3)) / (3 * (b - a))
    return (-(b - a).log() + q.scale.log() + 0.5 * math.log(2 * math.pi)
            + second / (2 * q.scale.pow(2)))


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    outside = p.low < 0
    low = p.low.clamp(min=0)   # (the result is replaced by ∞ where low < 0)
    mean_log = _mean_x_log_x(low, p.high)
    result = -(p.high - p.low).log() + _gamma_cross_entropy((low + p.high) / 2, mean_log, q)
    return _infinite_where(outside, result)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    outside = (p.low < 0) | (p.high > 1)
    low, high = p.low.clamp(min=0, max=1), p.high.clamp(min=0, max=1)
    mean_log = _mean_x_log_x(low, high)
    mean_log_1m = _mean_x_log_x(1 - high, 1 - low)   # E[ln(1 - x)]: 1 - x ~ U(1 - b, 1 - a)
    a, b = q.concentration1, q.concentration0
    result = (-(p.high - p.low).log() - (a - 1) * mean_log - (b - 1) * mean_log_1m
              + log_beta_function(a, b))
    return _infinite_where(outside, result)
