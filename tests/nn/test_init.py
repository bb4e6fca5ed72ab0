"""nn.init: PyTorch's formulas, in place, reproducible, keeping dtype."""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn import init


def weight(*shape, dtype=None):
    return nn.Parameter(tg.empty(*shape, dtype=dtype))


# -- calculate_gain and fans -----------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity, param, gain", [
    ("linear", None, 1), ("conv1d", None, 1), ("conv2d", None, 1), ("conv3d", None, 1),
    ("conv_transpose1d", None, 1), ("conv_transpose2d", None, 1), ("conv_transpose3d", None, 1),
    ("sigmoid", None, 1), ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", 0, math.sqrt(2)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
    ("selu", None, 0.75)])
def test_calculate_gain_matches_pytorchs_table(nonlinearity, param, gain):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(gain)


def test_calculate_gain_rejects_unknown_nonlinearities_and_bad_slopes():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans_count_the_receptive_field_of_conv_weights():
    assert init._calculate_fan_in_and_fan_out(tg.empty(10, 4)) == (4, 10)
    assert init._calculate_fan_in_and_fan_out(tg.empty(16, 8, 3, 3)) == (72, 144)
    assert init._calculate_fan_in_and_fan_out(tg.empty(6, 2, 5)) == (10, 30)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tg.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(tg.empty(3, 3), mode="fan_avg")


# -- statistics of the scaled initialisations on a (256, 784) weight ------------------------------
FAN_IN, FAN_OUT = 784, 256


def stats(w):
    a = w.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), np.abs(a).max()


def test_kaiming_uniform_default_bound_and_std():
    w = init.kaiming_uniform_(weight(FAN_OUT, FAN_IN))
    std = math.sqrt(2) / math.sqrt(FAN_IN)           # gain of leaky_relu with a=0
    mean, sample_std, largest = stats(w)
    assert largest <= math.sqrt(3) * std
    assert largest > 0.99 * math.sqrt(3) * std
    assert sample_std == pytest.approx(std, rel=0.03)
    assert abs(mean) < 0.05 * std


def test_kaiming_normal_fan_out_relu():
    w = init.kaiming_normal_(weight(FAN_OUT, FAN_IN), mode="fan_out", nonlinearity="relu")
    _, sample_std, _ = stats(w)
    assert sample_std == pytest.approx(math.sqrt(2 / FAN_OUT), rel=0.03)


def test_xavier_uniform_and_normal():
    gain = init.calculate_gain("tanh")
    std = gain * math.sqrt(2 / (FAN_IN + FAN_OUT))
    _, sample_std, largest = stats(init.xavier_uniform_(weight(FAN_OUT, FAN_IN), gain=gain))
    assert largest <= math.sqrt(3) * std and sample_std == pytest.approx(std, rel=0.03)
    _, sample_std, _ = stats(init.xavier_normal_(weight(FAN_OUT, FAN_IN)))
    assert sample_std == pytest.approx(math.sqrt(2 / (FAN_IN + FAN_OUT)), rel=0.03)


def test_uniform_and_normal_parameters():
    mean, std, _ = stats(init.normal_(weight(FAN_OUT, FAN_IN), mean=3.0, std=0.5))
    assert mean == pytest.approx(3.0, abs=0.01) and std == pytest.approx(0.5, rel=0.03)
    a = init.uniform_(weight(FAN_OUT, FAN_IN), -2.0, 6.0).detach().numpy()
    assert a.min() >= -2.0 and a.max() < 6.0 and a.mean() == pytest.approx(2.0, abs=0.05)


def test_trunc_normal_stays_inside_its_bounds():
    a = init.trunc_normal_(weight(200, 100), mean=0.0, std=1.0, a=-0.5, b=1.0).detach().numpy()
    assert a.min() >= -0.5 and a.max() <= 1.0
    assert a.std() > 0.3   # not collapsed onto a point
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(weight(2, 2), a=1.0, b=0.0)


def test_orthogonal_gives_orthonormal_rows_or_columns():
    tall = init.orthogonal_(weight(8, 3)).detach().numpy().astype(np.float64)
    np.testing.assert_allclose(tall.T @ tall, np.eye(3), atol=1e-5)
    wide = init.orthogonal_(weight(3, 8), gain=2.0).detach().numpy().astype(np.float64)
    np.testing.assert_allclose(wide @ wide.T, 4 * np.eye(3), atol=1e-5)
    conv = init.orthogonal_(weight(4, 2, 3, 3)).detach().numpy().reshape(4, 18)
    np.testing.assert_allclose(conv @ conv.T, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(weight(3))


# -- in place, reproducible, dtype-preserving ------------------------------------------------------
def test_init_is_in_place_and_returns_the_same_tensor():
    w = weight(4, 5)
    array = w.array
    assert init.kaiming_uniform_(w) is w and w.array is array
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_init_follows_manual_seed_and_a_private_generator():
    tg.manual_seed(7)
    first = init.normal_(weight(3, 3)).detach().numpy().copy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(init.normal_(weight(3, 3)).detach().numpy(), first)
    g1, g2 = tg.Generator().manual_seed(1), tg.Generator().manual_seed(1)
    a = init.xavier_uniform_(weight(3, 3), generator=g1).detach().numpy()
    b = init.xavier_uniform_(weight(3, 3), generator=g2).detach().numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [tg.float16, tg.float32, tg.float64])
def test_init_keeps_the_dtype(dtype):
    for fill in (init.uniform_, init.normal_, init.xavier_normal_, init.kaiming_uniform_,
                 init.orthogonal_, init.trunc_normal_, init.zeros_, init.eye_):
        w = fill(weight(6, 4, dtype=dtype))
        assert w.dtype == dtype and w.array.dtype == dtype.numpy


def test_constants_eye_and_dirac():
    assert not init.zeros_(weight(2, 3)).detach().numpy().any()
    assert (init.ones_(weight(2, 3)).detach().numpy() == 1).all()
    assert (init.constant_(weight(2, 3), 0.25).detach().numpy() == 0.25).all()
    np.testing.assert_array_equal(init.eye_(weight(2, 3)).detach().numpy(), np.eye(2, 3))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(weight(2, 2, 2))
    d = init.dirac_(weight(3, 2, 3, 3)).detach().numpy()
    assert d.sum() == 2 and d[0, 0, 1, 1] == 1 and d[1, 1, 1, 1] == 1


def test_init_bumps_the_version_counter():
    w = weight(2, 2)
    before = w._version
    init.normal_(w)
    assert w._version == before + 1


def test_zero_element_kaiming_warns_and_does_nothing():
    with pytest.warns(UserWarning, match="no-op"):
        init.kaiming_uniform_(weight(0, 3))


def test_random_inits_reject_integer_tensors_and_non_tensors():
    with pytest.raises(TypeError, match="floating point"):
        init.normal_(tg.zeros(2, 2, dtype=tg.int64))
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.zeros_(np.zeros(3))
