"""Normal (tapegrad/distributions/normal.py): closed forms written out here, sampled
moments, shapes and dtypes, rsample's gradient, and seeded repeats."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.distributions import Normal

from .moments import assert_mean, assert_variance

LOC = [-1.0, 0.0, 2.5]
SCALE = [0.5, 1.0, 3.0]


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def test_log_prob_entropy_and_summaries_match_the_formulas():
    d = Normal(f64(LOC), f64(SCALE))
    x = np.array([0.3, -2.0, 7.0])
    mu, sigma = np.array(LOC), np.array(SCALE)
    expected = -(x - mu) ** 2 / (2 * sigma ** 2) - np.log(sigma) - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(d.entropy().numpy(), 0.5 + 0.5 * math.log(2 * math.pi)
                               + np.log(sigma), rtol=1e-14)
    np.testing.assert_allclose(d.cdf(f64(x)).numpy(),
                               [0.5 * (1 + math.erf((a - m) / (s * math.sqrt(2))))
                                for a, m, s in zip(x, mu, sigma)], rtol=1e-14)
    assert d.mean.tolist() == LOC and d.mode.tolist() == LOC and d.stddev.tolist() == SCALE
    np.testing.assert_allclose(d.variance.numpy(), sigma ** 2)


def test_icdf_inverts_the_cdf_and_is_differentiable():
    d = Normal(f64(LOC), f64(SCALE))
    p = f64([0.025, 0.5, 0.9])
    np.testing.assert_allclose(d.cdf(d.icdf(p)).numpy(), p.numpy(), rtol=1e-12)
    assert Normal(f64(0.0), f64(1.0)).icdf(f64(0.975)).item() == pytest.approx(1.959963984540054)
    loc, scale = f64(LOC).requires_grad_(), f64(SCALE).requires_grad_()
    assert gradcheck(lambda m, s, q: Normal(m, s).icdf(q), (loc, scale, p.requires_grad_()))


def test_sampled_moments():
    tg.manual_seed(0)
    d = Normal(f64(LOC), f64(SCALE))
    samples = d.sample((100_000,)).numpy()
    assert_mean(samples, LOC)
    assert_variance(samples, np.square(SCALE))


def test_shapes_broadcast_and_numbers_take_the_default_dtype():
    d = Normal(0.0, 1.0)
    assert d.batch_shape == () and d.event_shape == ()
    assert d.sample().shape == () and d.sample((4, 2)).shape == (4, 2)
    assert d.sample().dtype == tg.float32
    d = Normal(tg.zeros(3, 1), tg.ones(2))
    assert d.batch_shape == (3, 2)
    assert d.rsample((5,)).shape == (5, 3, 2)
    assert d.log_prob(tg.zeros(2)).shape == (3, 2)
    assert Normal(f64([0.0]), 1.0).sample().dtype == tg.float64


def test_manual_seed_repeats_samples():
    d = Normal(tg.zeros(4), tg.ones(4))
    tg.manual_seed(7)
    first = d.sample((3,)).tolist()
    tg.manual_seed(7)
    assert d.sample((3,)).tolist() == first


def test_sample_is_off_the_tape_and_rsample_on_it():
    loc = tg.zeros(2, requires_grad=True)
    d = Normal(loc, 1.0)
    assert not d.sample().requires_grad
    assert d.rsample().requires_grad


def test_rsample_gradients():
    # With the noise fixed (a fresh seed on every call), x = μ + σ ε is a smooth function.
    def draw(loc, scale):
        tg.manual_seed(3)
        return Normal(loc, scale).rsample((4,))
    loc = tg.tensor([0.5, -1.0], dtype=tg.float64, requires_grad=True)
    scale = tg.tensor([[1.5], [0.7]], dtype=tg.float64, requires_grad=True)
    assert gradcheck(draw, (loc, scale))
    assert gradgradcheck(draw, (loc, scale))


def test_log_prob_and_entropy_gradients():
    loc = tg.tensor([0.5, -1.0], dtype=tg.float64, requires_grad=True)
    scale = tg.tensor([1.5, 0.7], dtype=tg.float64, requires_grad=True)
    x = f64([0.1, 2.0])
    assert gradcheck(lambda m, s: Normal(m, s).log_prob(x), (loc, scale))
    assert gradcheck(lambda s: Normal(0.0, s).entropy(), (scale,))


def test_invalid_parameters_and_values_are_named():
    with pytest.raises(ValueError, match=r"Expected parameter scale .* to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\)"):
        Normal(0.0, tg.tensor([1.0, -1.0]))
    Normal(0.0, tg.tensor([1.0, -1.0]), validate_args=False)   # checks can be turned off
    with pytest.raises(ValueError, match="Expected parameter loc"):
        Normal(tg.tensor(float("nan")), 1.0)
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        Normal(0.0, 1.0).log_prob(0.5)
    with pytest.raises(ValueError, match=r"Value of shape \(4,\) is not broadcastable"):
        Normal(tg.zeros(3), 1.0).log_prob(tg.zeros(4))
