"""Categorical (tapegrad/distributions/categorical.py): probs or logits (normalised),
closed forms, zero probabilities, sample frequencies, shapes and errors."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.distributions import Categorical

P = [[0.2, 0.3, 0.5], [0.6, 0.0, 0.4]]


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def test_probs_are_normalised_and_logits_become_log_probabilities():
    d = Categorical(probs=f64([[2.0, 3.0, 5.0]]))
    np.testing.assert_allclose(d.probs.numpy(), [[0.2, 0.3, 0.5]], rtol=1e-14)
    d = Categorical(logits=f64([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(np.exp(d.logits.numpy()).sum(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(d.probs.numpy(), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_log_prob_entropy_and_mode():
    d = Categorical(probs=f64(P))
    assert d.batch_shape == (2,) and d.event_shape == ()
    np.testing.assert_allclose(d.log_prob(tg.tensor([2, 0])).numpy(),
                               [math.log(0.5), math.log(0.6)], rtol=1e-12)
    # 0 · ln 0 counts as 0
    np.testing.assert_allclose(d.entropy().numpy(),
                               [-(0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5)),
                                -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))], rtol=1e-12)
    assert d.mode.tolist() == [2, 0]
    assert all(math.isnan(v) for v in d.mean.tolist() + d.variance.tolist())


def test_log_prob_broadcasts_values_against_the_batch():
    d = Categorical(probs=f64(P))
    out = d.log_prob(tg.tensor([[0], [2]]))   # (2, 1) against batch (2,): (2, 2)
    np.testing.assert_allclose(out.numpy(), np.log([[0.2, 0.6], [0.5, 0.4]]), rtol=1e-12)


def test_sample_frequencies_match_the_probabilities():
    tg.manual_seed(4)
    d = Categorical(probs=tg.tensor(P))
    n = 60_000
    samples = d.sample((n,))
    assert samples.dtype == tg.int64 and samples.shape == (n, 2)
    for row, probs in enumerate(P):
        counts = np.bincount(samples.numpy()[:, row], minlength=3) / n
        # a frequency has standard error √(p(1-p)/n): 5 of them
        bound = 5 * np.sqrt(np.array(probs) * (1 - np.array(probs)) / n) + 1e-12
        assert np.all(np.abs(counts - probs) <= bound), (counts, probs)
    assert (samples.numpy()[:, 1] != 1).all()   # a category of probability 0 never comes up


def test_enumerate_support_and_support_check():
    d = Categorical(probs=tg.ones(2, 3))
    assert d.enumerate_support().tolist() == [[0, 0], [1, 1], [2, 2]]
    with pytest.raises(ValueError, match="to be within the support"):
        d.log_prob(tg.tensor([3, 0]))


def test_gradients_through_probs_and_logits():
    probs = tg.tensor([0.2, 0.3, 0.5], dtype=tg.float64, requires_grad=True)
    logits = tg.tensor([0.1, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    index = tg.tensor([2, 0])
    assert gradcheck(lambda p: Categorical(probs=p).log_prob(index), (probs,))
    assert gradcheck(lambda z: Categorical(logits=z).entropy(), (logits,))


def test_errors():
    with pytest.raises(ValueError, match="but not both"):
        Categorical(probs=tg.ones(3), logits=tg.ones(3))
    with pytest.raises(ValueError, match="`probs` must be at least one-dimensional"):
        Categorical(probs=tg.tensor(1.0))
    with pytest.raises(ValueError, match="Expected parameter probs"):
        Categorical(probs=tg.tensor([0.5, -0.5, 1.0]))


def test_a_draw_of_exactly_zero_never_picks_a_category_of_probability_zero(monkeypatch):
    import tapegrad.distributions.categorical as categorical
    monkeypatch.setattr(categorical, "rand", lambda shape, **kwargs: tg.zeros(shape, **kwargs))
    assert Categorical(probs=tg.tensor([0.0, 0.0, 1.0])).sample().item() == 2
