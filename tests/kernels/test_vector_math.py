"""exp, σ and tanh of float32 rows as numba loops that vectorise (tapegrad/kernels/cpu/vector_math.py).

Each is checked against numpy's float64 result over float32's whole useful range, within
a few float32 ulps, at the ends (where e^x is held within normal float32 numbers), at 0
and ±0, near 0 (tanh keeps its relative precision there), and with NaN and ±inf.
"""
import numpy as np
import pytest
from numba import njit

from tapegrad.kernels.cpu import vector_math

ULP = np.finfo(np.float32).eps   # 2^-23: an ulp of a float32 in [1, 2)


@njit
def apply(name, x):
    out = np.empty_like(x)
    bits = np.empty(x.shape[0], np.int32)
    if name == "exp":
        vector_math.exp_into(x, np.float32(1), out, bits)
    elif name == "sigmoid":
        vector_math.sigmoid_into(x, out, bits)
    else:
        vector_math.tanh_into(x, out, bits)
    return out


def relative_error(got, exact):
    """|got - exact| in float32 ulps of exact (its nearest power of two's ulp)."""
    scale = np.exp2(np.floor(np.log2(np.abs(exact))))
    return np.abs(got.astype(np.float64) - exact) / (scale * ULP)


EXACT = {"exp": np.exp, "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh}


@pytest.mark.parametrize("name,lowest,highest,ulps", [
    ("exp", -87.0, 88.0, 1.5),
    ("sigmoid", -87.0, 100.0, 3.0),
    ("tanh", -20.0, 20.0, 5.0),
])
def test_within_a_few_ulps_of_the_float64_result(name, lowest, highest, ulps):
    x = np.linspace(lowest, highest, 400_001, dtype=np.float32)
    x = np.concatenate([x, np.float32([0.4999, 0.5, 0.5001, -0.5, 1e-3, -1e-6, 1e-30])])
    exact = EXACT[name](x.astype(np.float64))
    nonzero = exact != 0
    assert relative_error(apply(name, x)[nonzero], exact[nonzero]).max() <= ulps


def test_tanh_near_zero_keeps_its_relative_precision():
    x = np.float32([1e-2, -3e-4, 1e-7, -1e-20, 1e-38])
    np.testing.assert_allclose(apply("tanh", x), np.tanh(x.astype(np.float64)), rtol=3 * ULP)
    zeros = apply("tanh", np.float32([0.0, -0.0]))
    assert list(zeros) == [0, 0] and np.signbit(zeros[1])


def test_the_ends_of_the_range_stay_finite_and_saturate():
    x = np.float32([-1000, -88, 89, 1000])
    e = apply("exp", x)
    assert np.all(np.isfinite(e)) and e[0] == e[1] > 0 and e[2] == e[3] > 1e38
    assert list(apply("tanh", x)) == [-1, -1, 1, 1]
    s = apply("sigmoid", x)
    assert s[0] < 1e-38 and list(s[2:]) == [1, 1]


def test_nan_stays_nan_and_infinities_saturate():
    x = np.float32([np.nan, np.inf, -np.inf])
    for name, ends in (("exp", None), ("sigmoid", [1, 0]), ("tanh", [1, -1])):
        out = apply(name, x)
        assert np.isnan(out[0]), name
        if ends is not None:
            np.testing.assert_allclose(out[1:], ends, atol=1e-38)
