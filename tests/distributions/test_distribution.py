"""What every distribution shares (tapegrad/distributions/distribution.py): shapes, expand,
validation switches, seeded repeats, the dtypes of samples, repr, and clear errors."""
import pytest

import tapegrad as tg
from tapegrad.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    Distribution,
    Gamma,
    MultivariateNormal,
    Normal,
    Uniform,
    constraints,
)


def families(dtype=tg.float32):
    def t(values):
        return tg.tensor(values, dtype=dtype)
    return [Normal(t([0.0, 1.0]), t([1.0, 2.0])),
            Uniform(t([0.0, 1.0]), t([1.0, 3.0])),
            Bernoulli(probs=t([0.3, 0.6])),
            Categorical(probs=t([[0.2, 0.8], [0.5, 0.5]])),
            Gamma(t([1.0, 2.0]), t([1.0, 0.5])),
            Beta(t([1.0, 2.0]), t([0.5, 3.0])),
            MultivariateNormal(t([[0.0, 0.0], [1.0, 1.0]]), scale_tril=tg.eye(2, dtype=dtype))]


@pytest.mark.parametrize("d", families(), ids=lambda d: type(d).__name__)
def test_sample_shape_is_sample_then_batch_then_event(d):
    shape = (4, 3) + tuple(d.batch_shape) + tuple(d.event_shape)
    assert d.batch_shape == (2,)
    assert d.sample((4, 3)).shape == shape
    assert d.sample().shape == tuple(d.batch_shape) + tuple(d.event_shape)
    assert d.log_prob(d.sample((4, 3))).shape == (4, 3) + tuple(d.batch_shape)
    assert d.entropy().shape == d.batch_shape


@pytest.mark.parametrize("d", families(), ids=lambda d: type(d).__name__)
def test_manual_seed_repeats_every_familys_samples(d):
    tg.manual_seed(31)
    first = d.sample((5,)).tolist()
    tg.manual_seed(31)
    assert d.sample((5,)).tolist() == first


@pytest.mark.parametrize("d", families(tg.float64), ids=lambda d: type(d).__name__)
def test_float64_parameters_give_float64_samples(d):
    expected = tg.int64 if isinstance(d, Categorical) else tg.float64
    assert d.sample().dtype == expected


@pytest.mark.parametrize("d", families(), ids=lambda d: type(d).__name__)
def test_expand_gives_a_larger_batch_with_the_same_values(d):
    big = d.expand((3, 2))
    assert big.batch_shape == (3, 2) and big.event_shape == d.event_shape
    value = d.sample()
    expected = d.log_prob(value)
    got = big.log_prob(value)
    assert got.shape == (3, 2)
    for row in got.tolist():
        assert row == pytest.approx(expected.tolist())
    with pytest.raises(ValueError, match="do not broadcast"):
        d.expand((3,))


def test_has_rsample_flags_and_the_samplers_that_go_with_them():
    for d in families():
        assert d.has_rsample == (not isinstance(d, (Bernoulli, Categorical)))
        if not d.has_rsample:
            with pytest.raises(NotImplementedError, match="has no reparameterised sampler"):
                d.rsample()


def test_stddev_and_perplexity_follow_from_variance_and_entropy():
    d = Gamma(tg.tensor([2.0]), tg.tensor([0.5]))
    assert d.stddev.item() == pytest.approx(d.variance.sqrt().item())
    assert d.perplexity().item() == pytest.approx(d.entropy().exp().item())


def test_validation_can_be_switched_off_by_default():
    try:
        Distribution.set_default_validate_args(False)
        Normal(0.0, -1.0)   # no error
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="Expected parameter scale"):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="expects True or False"):
        Distribution.set_default_validate_args("yes")


def test_sample_shape_must_be_a_tuple():
    with pytest.raises(TypeError, match=r"sample_shape must be a tuple of ints such as \(5,\)"):
        Normal(0.0, 1.0).sample(5)


def test_repr_names_the_parameters():
    assert repr(Normal(tg.zeros(3), tg.ones(3))) == ("Normal(loc: tapegrad.Size([3]), "
                                                     "scale: tapegrad.Size([3]))")
    assert repr(Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"


def test_constraints():
    assert constraints.positive.check(tg.tensor([1.0, 0.0])).tolist() == [True, False]
    assert constraints.simplex.check(tg.tensor([[0.5, 0.5], [0.5, 0.6]])).tolist() == [True, False]
    assert constraints.integer_interval(0, 2).check(tg.tensor([0, 2, 3])).tolist() == \
        [True, True, False]
    assert constraints.lower_cholesky.check(tg.tensor([[1.0, 0.0], [2.0, 1.0]])).item()
    assert not constraints.positive_definite.check(tg.tensor([[1.0, 2.0], [2.0, 1.0]])).item()
    assert constraints.is_dependent(constraints.dependent)


def test_parameters_keep_their_own_floating_dtypes_as_in_pytorch():
    from tapegrad.distributions import Normal
    normal = Normal(tg.zeros(2, dtype=tg.float16), tg.ones(2))
    assert normal.loc.dtype == tg.float16 and normal.scale.dtype == tg.float32
    assert Normal(tg.tensor([0, 1]), 1.0).loc.dtype == tg.float32   # integers become floats
