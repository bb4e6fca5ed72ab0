"""Beta (tapegrad/distributions/beta.py): closed forms, sampled moments, and rsample's
gradients (through two Gamma samples) checked for unbiasedness."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.distributions import Beta

from .moments import assert_mean, assert_variance

A = [0.5, 2.0, 5.0]
B = [0.5, 3.0, 1.5]
PSI = {0.5: -1.9635100260214235, 2.0: 0.42278433509846713, 5.0: 1.5061176684318003,
       1.0: -0.5772156649015329, 3.0: 0.9227843350984671, 1.5: 0.03648997397857652,
       6.5: 1.792911330399933}


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def test_log_prob_entropy_and_summaries_match_the_formulas():
    d = Beta(f64(A), f64(B))
    x = [0.1, 0.45, 0.99]
    expected = [(a - 1) * math.log(v) + (b - 1) * math.log1p(-v) - log_beta(a, b)
                for a, b, v in zip(A, B, x)]
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, rtol=1e-13)
    entropy = [log_beta(a, b) - (a - 1) * PSI[a] - (b - 1) * PSI[b] + (a + b - 2) * PSI[a + b]
               for a, b in zip(A, B)]
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-12)
    a, b = np.array(A), np.array(B)
    np.testing.assert_allclose(d.mean.numpy(), a / (a + b))
    np.testing.assert_allclose(d.variance.numpy(), a * b / ((a + b) ** 2 * (a + b + 1)))
    np.testing.assert_allclose(d.mode.numpy()[1:], ((a - 1) / (a + b - 2))[1:])


def test_sampled_moments_and_range():
    tg.manual_seed(6)
    d = Beta(f64(A), f64(B))
    samples = d.sample((100_000,)).numpy()
    assert ((samples > 0) & (samples < 1)).all()
    a, b = np.array(A), np.array(B)
    assert_mean(samples, a / (a + b))
    assert_variance(samples, a * b / ((a + b) ** 2 * (a + b + 1)))


@pytest.mark.parametrize("a,b", [(0.7, 2.0), (4.0, 4.0)])
def test_rsample_gradients_are_unbiased(a, b):
    # E[x] = α/(α+β):  d/dα = β/(α+β)²,  d/dβ = -α/(α+β)²
    tg.manual_seed(14)
    n = 40_000
    alpha = tg.full((n,), a, dtype=tg.float64, requires_grad=True)
    beta = tg.full((n,), b, dtype=tg.float64, requires_grad=True)
    Beta(alpha, beta).rsample().sum().backward()
    assert_mean(alpha.grad.numpy(), b / (a + b) ** 2)
    assert_mean(beta.grad.numpy(), -a / (a + b) ** 2)


def test_shapes_numbers_and_dtypes():
    d = Beta(2.0, tg.ones(3))
    assert d.batch_shape == (3,) and d.rsample((2,)).shape == (2, 3)
    assert d.sample().dtype == tg.float32


def test_errors():
    with pytest.raises(ValueError, match="Expected parameter concentration0"):
        Beta(1.0, tg.tensor([-1.0]))
    with pytest.raises(ValueError, match="to be within the support"):
        Beta(1.0, 1.0).log_prob(tg.tensor(1.5))
