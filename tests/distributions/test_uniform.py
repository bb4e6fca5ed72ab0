"""Uniform (tapegrad/distributions/uniform.py): closed forms, moments, support, gradients."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.distributions import Uniform

from .moments import assert_mean, assert_variance


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def test_log_prob_is_minus_log_width_inside_and_minus_infinity_outside():
    d = Uniform(f64([0.0, -2.0]), f64([2.0, 6.0]), validate_args=False)
    np.testing.assert_allclose(d.log_prob(f64([1.0, 5.9])).numpy(), [-math.log(2), -math.log(8)])
    assert d.log_prob(f64([2.0, -3.0])).tolist() == [-math.inf, -math.inf]   # high is excluded
    np.testing.assert_allclose(d.entropy().numpy(), [math.log(2), math.log(8)])
    np.testing.assert_allclose(d.cdf(f64([0.5, 10.0])).numpy(), [0.25, 1.0])
    np.testing.assert_allclose(d.icdf(f64([0.25, 0.5])).numpy(), [0.5, 2.0])   # its inverse
    assert d.mean.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(d.variance.numpy(), [4 / 12, 64 / 12])
    assert all(math.isnan(v) for v in d.mode.tolist())


def test_sampled_moments_and_range():
    tg.manual_seed(1)
    d = Uniform(f64([0.0, -2.0]), f64([2.0, 6.0]))
    samples = d.sample((100_000,)).numpy()
    assert (samples >= [0, -2]).all() and (samples < [2, 6]).all()
    assert_mean(samples, [1.0, 2.0])
    assert_variance(samples, [4 / 12, 64 / 12])


def test_rsample_gradients():
    def draw(low, high):
        tg.manual_seed(5)
        return Uniform(low, high).rsample((3,))
    low = tg.tensor([0.0, -1.0], dtype=tg.float64, requires_grad=True)
    high = tg.tensor([1.0, 4.0], dtype=tg.float64, requires_grad=True)
    assert gradcheck(draw, (low, high))


def test_validation():
    with pytest.raises(ValueError, match="Uniform is not defined when low >= high"):
        Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="to be within the support"):
        Uniform(0.0, 1.0).log_prob(tg.tensor(1.5))
