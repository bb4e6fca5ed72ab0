"""Bernoulli (tapegrad/distributions/bernoulli.py): probs or logits, closed forms,
stability at extreme logits, moments, support and errors."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.distributions import Bernoulli

from .moments import assert_mean

P = [0.1, 0.5, 0.9]


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def test_probs_and_logits_describe_the_same_distribution():
    logits = np.log(np.array(P) / (1 - np.array(P)))
    for d in (Bernoulli(probs=f64(P)), Bernoulli(logits=f64(logits))):
        np.testing.assert_allclose(d.probs.numpy(), P, rtol=1e-12)
        np.testing.assert_allclose(d.logits.numpy(), logits, rtol=1e-12, atol=1e-15)
        p = np.array(P)
        np.testing.assert_allclose(d.log_prob(f64([1.0, 0.0, 0.0])).numpy(),
                                   [math.log(0.1), math.log(0.5), math.log(0.1)], rtol=1e-12)
        np.testing.assert_allclose(d.entropy().numpy(), -p * np.log(p) - (1 - p) * np.log(1 - p),
                                   rtol=1e-12)
        np.testing.assert_allclose(d.mean.numpy(), P, rtol=1e-12)
        np.testing.assert_allclose(d.variance.numpy(), p * (1 - p), rtol=1e-12)


def test_mode_is_the_likelier_value_and_nan_at_one_half():
    mode = Bernoulli(probs=f64(P)).mode.tolist()
    assert mode[0] == 0.0 and math.isnan(mode[1]) and mode[2] == 1.0


def test_extreme_logits_stay_finite():
    d = Bernoulli(logits=f64([-800.0, 800.0]))
    assert d.log_prob(f64([0.0, 1.0])).tolist() == [0.0, 0.0]
    assert d.log_prob(f64([1.0, 0.0])).tolist() == [-800.0, -800.0]
    assert np.isfinite(d.entropy().numpy()).all()


def test_samples_are_zeros_and_ones_of_the_parameters_dtype_with_mean_p():
    tg.manual_seed(2)
    d = Bernoulli(probs=tg.tensor(P))
    samples = d.sample((50_000,))
    assert samples.dtype == tg.float32 and samples.shape == (50_000, 3)
    assert set(np.unique(samples.numpy())) <= {0.0, 1.0}
    assert_mean(samples.numpy(), P)


def test_enumerate_support():
    d = Bernoulli(probs=tg.tensor([0.2, 0.7]))
    assert d.enumerate_support().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert d.enumerate_support(expand=False).shape == (2, 1)


def test_gradients_of_log_prob_and_entropy_in_either_parametrisation():
    p = tg.tensor([0.2, 0.7], dtype=tg.float64, requires_grad=True)
    logits = tg.tensor([-1.0, 3.0], dtype=tg.float64, requires_grad=True)
    x = f64([1.0, 0.0])
    assert gradcheck(lambda p: Bernoulli(probs=p).log_prob(x), (p,))
    assert gradcheck(lambda p: Bernoulli(probs=p).entropy(), (p,))
    assert gradcheck(lambda z: Bernoulli(logits=z).log_prob(x), (logits,))
    assert gradcheck(lambda z: Bernoulli(logits=z).entropy(), (logits,))


def test_errors():
    with pytest.raises(ValueError, match="either `probs` or `logits` must be specified, but not "
                                         "both"):
        Bernoulli()
    with pytest.raises(ValueError, match="but not both"):
        Bernoulli(probs=tg.tensor(0.5), logits=tg.tensor(0.0))
    with pytest.raises(ValueError, match=r"Expected parameter probs .* Interval\(lower_bound=0.0, "
                                         r"upper_bound=1.0\)"):
        Bernoulli(probs=tg.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="to be within the support"):
        Bernoulli(probs=tg.tensor(0.5)).log_prob(tg.tensor(0.5))
