"""multinomial and the in-place random refills (tapegrad/autograd/ops/sampling.py): draws
from tapegrad's generators (manual_seed repeats them), the right distributions, and the
in-place rules."""
import numpy as np
import pytest

import tapegrad as tg


def test_multinomial_draws_repeat_under_manual_seed_and_with_a_generator():
    weights = tg.tensor([[0.1, 0.0, 0.9, 0.5], [1.0, 1.0, 1.0, 1.0]])
    tg.manual_seed(3)
    first = tg.multinomial(weights, 3)
    tg.manual_seed(3)
    assert weights.multinomial(3).tolist() == first.tolist()
    g = tg.Generator().manual_seed(5)
    again = tg.Generator().manual_seed(5)
    assert (tg.multinomial(weights, 2, True, generator=g).tolist()
            == tg.multinomial(weights, 2, True, generator=again).tolist())
    assert first.dtype is tg.int64 and first.shape == (2, 3)


def test_multinomial_without_replacement_never_repeats_and_skips_zero_weights():
    for _ in range(20):
        drawn = tg.multinomial(tg.tensor([0.2, 0.0, 0.5, 0.3]), 3).tolist()
        assert sorted(drawn) == [0, 2, 3]


def test_multinomial_follows_the_weights():
    counts = np.bincount(tg.multinomial(tg.tensor([1.0, 2.0, 7.0]), 20000, True).numpy(),
                         minlength=3) / 20000
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.7], atol=0.02)
    firsts = [tg.multinomial(tg.tensor([1.0, 3.0]), 2)[0].item() for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.75) < 0.04   # the first draw is weighted too


def test_multinomial_misuse_is_named():
    with pytest.raises(RuntimeError, match="without replacement"):
        tg.multinomial(tg.tensor([1.0, 1.0]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        tg.multinomial(tg.tensor([1.0, -1.0]), 1)
    with pytest.raises(RuntimeError, match="positive sum"):
        tg.multinomial(tg.tensor([[1.0, 1.0], [0.0, 0.0]]), 1)
    with pytest.raises(RuntimeError, match="1-d or 2-d"):
        tg.multinomial(tg.ones(2, 2, 2), 1)


def test_in_place_refills_have_the_right_distributions_and_keep_dtype_and_identity():
    tg.manual_seed(0)
    x = tg.zeros(20000, dtype=tg.float64)
    assert x.normal_(2.0, 3.0) is x
    assert abs(x.mean().item() - 2.0) < 0.1 and abs(x.std().item() - 3.0) < 0.1
    x.uniform_(-1.0, 3.0)
    assert -1.0 <= x.min().item() and x.max().item() < 3.0 and abs(x.mean().item() - 1) < 0.05
    x.exponential_(4.0)
    assert x.min().item() >= 0 and abs(x.mean().item() - 0.25) < 0.02
    x.bernoulli_(0.3)
    assert set(np.unique(x.numpy())) <= {0.0, 1.0} and abs(x.mean().item() - 0.3) < 0.02
    x.random_(3, 6)
    assert set(np.unique(x.numpy())) == {3.0, 4.0, 5.0}
    ints = tg.zeros(1000, dtype=tg.int64).random_(4)
    assert ints.dtype is tg.int64 and set(ints.tolist()) == {0, 1, 2, 3}
    half = tg.zeros(10, dtype=tg.float16).normal_()
    assert half.dtype is tg.float16 and x.dtype is tg.float64


def test_refills_repeat_under_manual_seed():
    tg.manual_seed(7)
    a = tg.empty(5).normal_().tolist()
    tg.manual_seed(7)
    assert tg.empty(5).normal_().tolist() == a


def test_a_leaf_that_requires_grad_is_refilled_only_under_no_grad():
    w = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.normal_()
    with tg.no_grad():
        w.uniform_(-1, 1)
    assert w.requires_grad and w.abs().max().item() <= 1


def test_refilling_a_result_gives_its_history_zero_gradient():
    a = tg.ones(3, requires_grad=True)
    y = a * 2
    y.normal_()
    (y * 5).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("misuse, message", [
    (lambda: tg.zeros(3).bernoulli_(tg.rand(4)), r"p of shape \(4,\) cannot be broadcast"),
    (lambda: tg.zeros(3).bernoulli_(2.0), r"p must be in \[0, 1\], got 2.0"),
    (lambda: tg.zeros(3).exponential_(-1.0), "lambd must be greater than 0"),
    (lambda: tg.zeros(3).normal_(0.0, -1.0), "std must be at least 0"),
    (lambda: tg.multinomial(tg.ones(3), 2.5), "num_samples must be an int"),
], ids=["bernoulli shape", "bernoulli p", "exponential rate", "normal std", "multinomial count"])
def test_bad_parameters_of_the_samplers_are_refused_by_name(misuse, message):
    with pytest.raises((RuntimeError, TypeError), match=message):
        misuse()
