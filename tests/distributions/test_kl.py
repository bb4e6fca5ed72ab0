"""kl_divergence and register_kl (tapegrad/distributions/kl.py): every closed form against
a Monte Carlo estimate E_p[ln p(x) - ln q(x)], against formulas written here, its special
cases (p = q, infinite KL), gradients, and how the registry picks a formula."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    Distribution,
    Gamma,
    MultivariateNormal,
    Normal,
    Uniform,
    kl_divergence,
    register_kl,
)

from .moments import assert_mean


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


COV_P = [[1.0, 0.3], [0.3, 0.5]]
COV_Q = [[2.0, -0.4], [-0.4, 1.0]]

PAIRS = {
    "normal": (Normal(f64([0.0, 1.0]), f64([1.0, 0.5])), Normal(f64([0.5, -1.0]), f64([2.0, 1.5]))),
    "uniform": (Uniform(f64([0.0, -1.0]), f64([1.0, 1.0])),
                Uniform(f64([-0.5, -3.0]), f64([2.0, 1.5]))),
    "bernoulli": (Bernoulli(probs=f64([0.2, 0.9])), Bernoulli(logits=f64([0.4, -1.0]))),
    "categorical": (Categorical(probs=f64([[0.2, 0.3, 0.5], [0.7, 0.1, 0.2]])),
                    Categorical(logits=f64([[0.0, 1.0, -1.0], [2.0, 0.5, 0.0]]))),
    "gamma": (Gamma(f64([0.8, 3.0]), f64([1.0, 2.0])), Gamma(f64([2.0, 1.5]), f64([0.5, 3.0]))),
    "beta": (Beta(f64([0.8, 3.0]), f64([2.0, 1.2])), Beta(f64([1.5, 2.0]), f64([0.7, 4.0]))),
    "multivariate_normal": (
        MultivariateNormal(f64([[0.0, 1.0], [1.0, -1.0]]), covariance_matrix=f64(COV_P)),
        MultivariateNormal(f64([0.5, 0.0]), covariance_matrix=f64(COV_Q))),
}


@pytest.mark.parametrize("name", PAIRS)
def test_closed_form_matches_the_monte_carlo_estimate(name):
    p, q = PAIRS[name]
    tg.manual_seed(21)
    x = p.sample((40_000,))
    log_ratio = (p.log_prob(x) - q.log_prob(x)).numpy()
    kl = kl_divergence(p, q)
    assert kl.shape == p.batch_shape
    assert_mean(log_ratio, kl.numpy())


# pairs of different families, each p's support inside q's
CROSS_PAIRS = {
    "uniform-normal": (Uniform(f64([0.1, -2.0]), f64([0.9, 3.0])), Normal(f64([0.3, 0.5]),
                                                                          f64([1.0, 0.4]))),
    "uniform-gamma": (Uniform(f64([0.1, 0.0]), f64([0.9, 3.0])), Gamma(f64([2.0, 0.7]),
                                                                       f64([1.5, 1.0]))),
    "uniform-beta": (Uniform(f64([0.1, 0.0]), f64([0.9, 1.0])), Beta(f64([2.0, 0.7]),
                                                                     f64([1.5, 3.0]))),
    "gamma-normal": (Gamma(f64([2.0, 0.7]), f64([1.5, 1.0])), Normal(f64([0.3, 0.5]),
                                                                     f64([1.0, 2.4]))),
    "beta-normal": (Beta(f64([2.0, 0.7]), f64([1.5, 3.0])), Normal(f64([0.3, 0.5]),
                                                                   f64([1.0, 0.4]))),
    "beta-uniform": (Beta(f64([2.0, 0.7]), f64([1.5, 3.0])), Uniform(f64([0.0, -1.0]),
                                                                     f64([1.0, 2.0]))),
    "beta-gamma": (Beta(f64([2.0, 0.7]), f64([1.5, 3.0])), Gamma(f64([2.0, 0.7]),
                                                                 f64([1.5, 1.0]))),
}


@pytest.mark.parametrize("name", CROSS_PAIRS)
def test_cross_family_closed_forms_match_the_monte_carlo_estimate(name):
    p, q = CROSS_PAIRS[name]
    tg.manual_seed(22)
    x = p.sample((40_000,))
    log_ratio = (p.log_prob(x) - q.log_prob(x)).numpy()
    assert_mean(log_ratio, kl_divergence(p, q).numpy())


def test_cross_family_kl_is_infinite_where_p_reaches_outside_q():
    normal, gamma = Normal(f64([0.0, 1.0]), f64(1.0)), Gamma(f64(2.0), f64([1.0, 2.0]))
    beta, uniform = Beta(f64(2.0), f64(2.0)), Uniform(f64(-1.0), f64(0.5))
    for p, q in [(normal, uniform), (normal, gamma), (normal, beta), (gamma, uniform),
                 (gamma, beta), (beta, uniform), (uniform, gamma), (uniform, beta)]:
        kl = kl_divergence(p, q)
        assert kl.dtype == tg.float64 and (kl.numpy() == math.inf).all(), (p, q)
    assert kl_divergence(normal, gamma).shape == (2,)


@pytest.mark.parametrize("name", PAIRS)
def test_kl_of_a_distribution_with_itself_is_zero_and_otherwise_positive(name):
    p, q = PAIRS[name]
    np.testing.assert_allclose(kl_divergence(p, p).numpy(), 0.0, atol=1e-12)
    assert (kl_divergence(p, q).numpy() > 0).all()


def test_normal_formula():
    m1, s1, m2, s2 = 0.3, 0.7, -1.0, 2.0
    expected = math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5
    assert kl_divergence(Normal(f64(m1), f64(s1)), Normal(f64(m2), f64(s2))).item() == \
        pytest.approx(expected, rel=1e-14)


def test_gamma_and_beta_formulas():
    a1, b1, a2, b2 = 2.0, 1.0, 3.0, 2.0
    psi_2, psi_1, psi_3 = 0.42278433509846713, -0.5772156649015329, 0.9227843350984671
    gamma = ((a1 - a2) * psi_2 - math.lgamma(a1) + math.lgamma(a2)
             + a2 * (math.log(b1) - math.log(b2)) + a1 * (b2 - b1) / b1)
    assert kl_divergence(Gamma(f64(a1), f64(b1)), Gamma(f64(a2), f64(b2))).item() == \
        pytest.approx(gamma, rel=1e-13)

    def log_b(a, b):
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    beta = (log_b(a2, b2) - log_b(a1, b1) + (a1 - a2) * psi_2 + (b1 - b2) * psi_1
            + (a2 - a1 + b2 - b1) * psi_3)
    assert kl_divergence(Beta(f64(a1), f64(b1)), Beta(f64(a2), f64(b2))).item() == \
        pytest.approx(beta, rel=1e-13)


def test_multivariate_normal_formula():
    p, q = PAIRS["multivariate_normal"]
    sp, sq = np.array(COV_P), np.array(COV_Q)
    inv_q = np.linalg.inv(sq)
    for mu_p, kl in zip(p.loc.numpy(), kl_divergence(p, q).numpy()):
        d = np.array([0.5, 0.0]) - mu_p
        expected = 0.5 * (np.trace(inv_q @ sp) + d @ inv_q @ d - 2
                          + np.linalg.slogdet(sq)[1] - np.linalg.slogdet(sp)[1])
        assert kl == pytest.approx(expected, rel=1e-12)


def test_discrete_formulas_and_their_zero_probabilities():
    p, q = 0.2, 0.6
    expected = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert kl_divergence(Bernoulli(f64(p)), Bernoulli(f64(q))).item() == \
        pytest.approx(expected, rel=1e-12)
    # a category p never takes adds nothing; one p takes and q never does makes KL infinite
    cp = Categorical(probs=f64([0.5, 0.5, 0.0]))
    assert kl_divergence(cp, Categorical(probs=f64([0.25, 0.25, 0.5]))).item() == \
        pytest.approx(math.log(2), rel=1e-12)
    assert kl_divergence(Categorical(probs=f64([0.5, 0.5])),
                         Categorical(probs=f64([1.0, 0.0]))).item() == math.inf


def test_bernoulli_kl_stays_finite_and_accurate_at_extreme_logits():
    # q = σ(40) rounds to 1 in float64, but 1 - q = e⁻⁴⁰ is not 0: KL is finite
    # (PyTorch returns inf here). KL = p ln(p/q) + (1-p) ln((1-p)/(1-q)), 1-q = σ(-40).
    p, q_logit = 0.97, 40.0
    log_q = -math.log1p(math.exp(-q_logit))
    log_1mq = -q_logit - math.log1p(math.exp(-q_logit))
    expected = p * (math.log(p) - log_q) + (1 - p) * (math.log(1 - p) - log_1mq)
    kl = kl_divergence(Bernoulli(probs=f64(p)), Bernoulli(logits=f64(q_logit))).item()
    assert kl == pytest.approx(expected, rel=1e-12)


def test_uniform_is_infinite_unless_p_lies_inside_q():
    p = Uniform(f64([0.0, 0.0]), f64([1.0, 1.0]))
    q = Uniform(f64([-1.0, 0.5]), f64([3.0, 2.0]))
    kl = kl_divergence(p, q).tolist()
    assert kl[0] == pytest.approx(math.log(4)) and kl[1] == math.inf


def test_gradients_reach_both_distributions_parameters():
    def kl(m1, s1, m2, s2):
        return kl_divergence(Normal(m1, s1), Normal(m2, s2))
    args = [f64(v).requires_grad_() for v in ([0.1, 1.0], [0.5, 2.0], [0.0, -1.0], [1.5, 0.3])]
    assert gradcheck(kl, args)
    a = [f64(v).requires_grad_() for v in ([0.8, 3.0], [2.0, 1.2], [1.5, 2.0], [0.7, 4.0])]
    assert gradcheck(lambda a1, b1, a2, b2: kl_divergence(Beta(a1, b1), Beta(a2, b2)), a)


def test_registry_picks_the_most_specific_pair_and_names_missing_ones():
    class MyNormal(Normal):
        pass

    p, q = MyNormal(0.0, 1.0), Normal(1.0, 1.0)
    assert kl_divergence(p, q).item() == pytest.approx(0.5)   # Normal's formula, inherited

    @register_kl(MyNormal, Normal)
    def _special(p, q):
        return tg.tensor(-1.0)
    assert kl_divergence(p, q).item() == -1.0
    assert kl_divergence(q, q).item() == 0.0
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for "
                                                  "p = Bernoulli and q = Normal"):
        kl_divergence(Bernoulli(0.5), Normal(0.0, 1.0))
    with pytest.raises(TypeError, match="register_kl expects subclasses of Distribution"):
        register_kl(int, Normal)
    assert issubclass(MyNormal, Distribution)
