"""Trigonometric and hyperbolic functions and their inverses
(tapegrad/autograd/ops/trigonometric.py).

Gradients and second derivatives against finite differences, inside each function's
domain; values against numpy (and against PyTorch where it is installed); numpy's and
PyTorch's spellings (arcsin …) are the same functions.
"""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg

from ..support import Case, leaf, noncontiguous


def within(low, high):
    """Leaves of the four standard layouts with values in [low, high)."""
    return [leaf(low=low, high=high), leaf(5, low=low, high=high),
            leaf(3, 4, low=low, high=high), noncontiguous(3, 4, low=low, high=high)]


def magnitude_at_least(*shape, low=0.5):
    """A float64 leaf with values of either sign and |value| in [low, 2)."""
    array = leaf(*shape, low=low, high=2.0).detach().numpy()
    signs = np.where(np.arange(array.size).reshape(array.shape) % 2 == 0, 1.0, -1.0)
    return tg.tensor(array * signs, dtype=tg.float64, requires_grad=True)


UNARY = {   # name: (numpy's function, the interval the cases are drawn from)
    "tan": (np.tan, (-1.2, 1.2)), "asin": (np.arcsin, (-0.9, 0.9)),
    "acos": (np.arccos, (-0.9, 0.9)), "atan": (np.arctan, (-2.0, 2.0)),
    "sinh": (np.sinh, (-2.0, 2.0)), "cosh": (np.cosh, (-2.0, 2.0)),
    "asinh": (np.arcsinh, (-2.0, 2.0)), "acosh": (np.arccosh, (1.2, 3.0)),
    "atanh": (np.arctanh, (-0.9, 0.9)), "sinc": (np.sinc, (-2.0, 2.0)),
    "deg2rad": (np.deg2rad, (-2.0, 2.0)), "rad2deg": (np.rad2deg, (-2.0, 2.0)),
}


def binary_cases(op, fn):
    return [Case(op, fn, [magnitude_at_least(), magnitude_at_least()]),
            Case(op, fn, [magnitude_at_least(5), magnitude_at_least(5)]),
            Case(op, fn, [magnitude_at_least(3, 4), magnitude_at_least(4)], name="broadcast"),
            Case(op, fn, [magnitude_at_least(3, 1), magnitude_at_least(1, 4)],
                 name="broadcast_both"),
            Case(op, fn, [noncontiguous(3, 4, low=0.5), magnitude_at_least(3, 4)],
                 name="noncontiguous"),
            Case(op, fn, [magnitude_at_least(3), 1.5], name="number")]


CASES = (
    [Case(name, getattr(tg, name), [x]) for name, (_, (low, high)) in UNARY.items()
     for x in within(low, high)]
    + [Case("sinc", tg.sinc, [tg.tensor([0.0, 0.5], dtype=tg.float64, requires_grad=True)],
            name="at_zero", gradgrad=False)]   # (the slope at 0 is exact; its own slope there is not)
    + binary_cases("atan2", tg.atan2) + binary_cases("hypot", tg.hypot)
    + [Case("atan2", lambda y, x: y.atan2(x), [leaf(3), magnitude_at_least(3)], name="method")]
)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_values_match_numpy_and_keep_the_float_dtype(name, dtype):
    function, (low, high) = UNARY[name]
    array = np.linspace(low, high, 7).astype(dtype.numpy)
    result = getattr(tg, name)(tg.tensor(array))
    assert result.dtype is dtype
    np.testing.assert_allclose(result.numpy(), function(array), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", UNARY)
def test_integers_give_the_default_float_dtype_and_methods_exist(name):
    result = getattr(tg.tensor([1, 2]), name)()
    assert result.dtype is tg.float32


def test_atan2_gives_the_angle_of_the_point_in_each_quadrant():
    y = tg.tensor([1.0, 1.0, -1.0, -1.0, 0.0])
    x = tg.tensor([1.0, -1.0, -1.0, 1.0, -1.0])
    np.testing.assert_allclose(tg.atan2(y, x).numpy(),
                               [math.pi / 4, 3 * math.pi / 4, -3 * math.pi / 4, -math.pi / 4,
                                math.pi], rtol=1e-6)


def test_float16_deg2rad_and_rad2deg_round_once_as_pytorch():
    # float16's own 180/π is 57.28 (π/180 0.01746): scaling by it put a third of the results
    # one ulp off (rad2deg(0.7852) gave 44.97 for 44.986, whose nearest float16 is 45)
    array = np.arange(-8, 8, 1 / 64).astype(np.float16)
    for name, factor in (("rad2deg", 180 / math.pi), ("deg2rad", math.pi / 180)):
        expected = (array.astype(np.float64) * factor).astype(np.float16)
        y = getattr(tg, name)(tg.tensor(array))
        assert y.dtype is tg.float16
        np.testing.assert_array_equal(y.numpy(), expected, err_msg=name)
    assert tg.rad2deg(tg.tensor([0.78515625], dtype=tg.float16)).tolist() == [45.0]


def test_float16_atan2_gradient_where_the_squares_overflow():
    # r² = 4e8 overflows float16 (max 65504); the slopes x/r² and -y/r² do not
    y = tg.tensor([1.0, 2.0], dtype=tg.float16, requires_grad=True)
    x = tg.tensor([-2e4, 300.0], dtype=tg.float16, requires_grad=True)
    tg.atan2(y, x).backward(tg.tensor([3.0, 1.0], dtype=tg.float16))
    r2 = np.array([1.0, 4.0]) + np.array([-2e4, 300.0]) ** 2
    assert y.grad.dtype is tg.float16 and x.grad.dtype is tg.float16
    np.testing.assert_allclose(y.grad.numpy(), [3.0, 1.0] * np.array([-2e4, 300.0]) / r2,
                               rtol=1e-3)
    np.testing.assert_allclose(x.grad.numpy(), -np.array([3.0, 2.0]) / r2, rtol=2e-3,
                               atol=6e-8)   # (-7.5e-9 is below float16's smallest, 6e-8)


def test_atan2_gradient_next_to_the_largest_float_is_finite():
    # the slope -y/r² ≈ -1/y is tiny; grad·y overflowing before 1/r² = 0 would give ∞·0 = NaN
    y = tg.tensor([-3.4028235e38, 10.0], requires_grad=True)
    x = tg.tensor(-4164.967, requires_grad=True)
    tg.atan2(y, x).backward(tg.tensor([2.0, 1.0]))
    assert x.grad.item() == pytest.approx(-10.0 / (10.0 ** 2 + 4164.967 ** 2), rel=1e-5)


def test_atan2_gradient_of_large_operands_and_a_tiny_gradient_does_not_underflow():
    # g·(x/r²): the slopes are ±5e-16 at y = x = 1e15, so a gradient of 1e-20 gives ±5e-36
    # (g/r² first is 5e-51, 0 in float32), as PyTorch's (g·x)/r²
    y = tg.tensor([1e15, 3.0], requires_grad=True)
    x = tg.tensor([1e15, 4.0], requires_grad=True)
    tg.atan2(y, x).backward(tg.tensor([1e-20, 1.0]))
    assert y.grad.tolist() == pytest.approx([5e-36, 0.16], rel=1e-6)
    assert x.grad.tolist() == pytest.approx([-5e-36, -0.12], rel=1e-6)


def test_hypot_gradient_next_to_the_largest_float_is_finite():
    # the slope x/z is 1 there; grad·x before dividing by z would overflow to ∞
    x = tg.tensor([3.4028235e38, 3.0], requires_grad=True)
    tg.hypot(x, tg.tensor([0.06, 4.0])).backward(tg.tensor([-2.0, 1.0]))
    assert x.grad.tolist() == pytest.approx([-2.0, 0.6])


def test_hypot_gradient_of_a_large_operand_and_a_tiny_gradient_does_not_underflow():
    # g·(x/z): the slope is 1 at x = 5.36e28, so a gradient of 1.8e-26 passes whole (g/z
    # first is 3.4e-55, 0 in float32)
    x = tg.tensor([5.36e28, 3.0], requires_grad=True)
    tg.hypot(x, tg.tensor([-0.27, 4.0])).backward(tg.tensor([1.8e-26, 1.0]))
    assert x.grad.tolist() == pytest.approx([1.8e-26, 0.6], rel=1e-6)


def test_hypot_gradient_of_a_tiny_operand_and_a_large_gradient_keeps_its_digits():
    # x/z = 1e-30/1e20 underflows float32 and 1e-30/1e12 keeps three digits (a subnormal),
    # while g·x/z is a normal float: there g·x is formed first, as PyTorch's g·x/z
    x = tg.tensor([1e-30, 1e-30, 0.6], requires_grad=True)
    tg.hypot(x, tg.tensor([1e20, 1e12, 0.8])).backward(tg.tensor([1e20, 1e20, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [1e-30, 1e-22, 1.2], rtol=1e-6)
    wide = tg.tensor([1e-300], dtype=tg.float64, requires_grad=True)
    tg.hypot(tg.tensor([1e100], dtype=tg.float64), wide).backward(
        tg.tensor([1e100], dtype=tg.float64))
    np.testing.assert_allclose(wide.grad.numpy(), [1e-300], rtol=1e-12)


def test_float16_hypot_slopes_are_formed_in_float32_and_rounded_once():
    # y/z = 0.0002925/15320 = 1.9e-8 is below float16's smallest number: an infinite
    # gradient times it is ∞, as PyTorch's g·y/z, not ∞·0 = NaN; the finite ones round once
    x = tg.tensor([15320.0, 3.0], dtype=tg.float16, requires_grad=True)
    y = tg.tensor([0.0002925, 4.0], dtype=tg.float16, requires_grad=True)
    z = tg.hypot(x, y)
    z.backward(tg.tensor([math.inf, 1.0], dtype=tg.float16))
    assert y.grad.dtype is tg.float16 and y.grad.tolist() == [math.inf, 0.7998046875]
    assert x.grad.tolist() == [math.inf, float(np.float16(0.6))]
    x, y = tg.tensor([2.0, -3.0], dtype=tg.float64, requires_grad=True), \
        tg.tensor([0.5, 1.5], dtype=tg.float64, requires_grad=True)
    assert tg.autograd.gradcheck(tg.hypot, (x, y)) and tg.autograd.gradgradcheck(tg.hypot, (x, y))


def test_hypot_does_not_overflow_where_squares_would():
    big = tg.tensor([1e200, 3e200], dtype=tg.float64)
    np.testing.assert_allclose(tg.hypot(big, big).numpy(), np.sqrt(2) * big.numpy(), rtol=1e-15)


def test_numpy_spellings_are_the_same_functions():
    for short, long in [("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"),
                        ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh"),
                        ("atan2", "arctan2")]:
        assert getattr(tg, long) is getattr(tg, short)
        assert hasattr(tg.Tensor, long)


def test_outside_the_domain_the_result_is_nan_without_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = [tg.asin(tg.tensor([2.0])), tg.acosh(tg.tensor([0.5])), tg.atanh(tg.tensor([3.0]))]
    assert all(math.isnan(o.item()) for o in out)
    assert tg.atanh(tg.tensor([1.0])).item() == math.inf
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_acosh_slope_is_pytorchs_outside_the_domain_and_at_infinity():
    # 1/√(x² - 1): real for x < -1 (where y is nan), nan inside (-1, 1), 0 at ±inf
    for dtype in (tg.float16, tg.float32, tg.float64):
        x = tg.tensor([-math.inf, -2.0, 0.5, 2.0, math.inf, -1.0, 1.0], dtype=dtype,
                      requires_grad=True)
        x.acosh().sum().backward()
        grad = x.grad.double().tolist()
        assert grad[0] == 0.0 and grad[4] == 0.0 and math.isnan(grad[2])
        assert grad[5] == math.inf and grad[6] == math.inf
        assert grad[1] == pytest.approx(3 ** -0.5, rel=1e-3) == grad[3]


def test_atan2_slopes_are_zero_where_the_radius_squared_is_zero_as_pytorch():
    # r² = y² + x² is 0 at the origin and where both squares underflow (1e-23² in float32)
    y = tg.tensor([1e-30, 0.0, 1e-23, 1e-20, 3e-20], requires_grad=True)
    x = tg.tensor([0.0, 0.0, 1e-23, 1e-20, 0.0], requires_grad=True)
    tg.atan2(y, x).sum().backward()
    grad_y, grad_x = y.grad.tolist(), x.grad.tolist()
    assert grad_y[:3] == [0.0, 0.0, 0.0] and grad_x[:3] == [0.0, 0.0, 0.0]
    # a subnormal r²: its reciprocal overflows, as in PyTorch (0·∞ is NaN for y's slope)
    assert grad_y[3] == math.inf and grad_x[3] == -math.inf
    assert math.isnan(grad_y[4]) and grad_x[4] == -math.inf


def test_atan2_slopes_hold_where_the_radius_squared_overflows():
    # float32 1e20² overflows; the slopes x/r², -y/r² (5e-21) do not (PyTorch: NaN, ∞·0)
    y = tg.tensor([1e20, -352.5, 3.0], requires_grad=True)
    x = tg.tensor([1e20, 1e30, 4.0], requires_grad=True)
    tg.atan2(y, x).sum().backward()
    y64, x64 = np.array([1e20, -352.5, 3.0]), np.array([1e20, 1e30, 4.0])
    r2 = x64 * x64 + y64 * y64
    np.testing.assert_allclose(y.grad.numpy(), x64 / r2, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), -y64 / r2, rtol=1e-6, atol=1e-45)


def test_sinc_of_float16_computes_pi_x_in_float32():
    # π·23056 overflows float16 (sin(inf) would be NaN); sinc of an integer is 0
    y = tg.sinc(tg.tensor([23056.0, 7380.0, 0.5], dtype=tg.float16))
    assert y.dtype is tg.float16
    np.testing.assert_allclose(y.numpy().astype(float), [0.0, 0.0, 2 / np.pi], atol=1e-3)


def test_sinc_of_float16_has_the_slope_of_pi_x_computed_in_float32():
    # in float16 π·511 keeps no fractional digit, so cos(πx) would be noise; the slope
    # (cos(πx) - sinc x)/x is computed from πx in float32, as the forward is
    values = [-511.0, 300.0, 2.5, -0.75]
    x = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    tg.sinc(x).sum().backward()
    exact = [(math.cos(math.pi * v) - math.sin(math.pi * v) / (math.pi * v)) / v for v in values]
    assert x.grad.dtype is tg.float16
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), exact, rtol=2e-3)


def test_sinc_is_one_at_zero_with_slope_zero():
    x = tg.tensor([0.0], dtype=tg.float64, requires_grad=True)
    y = tg.sinc(x)
    y.sum().backward()
    assert y.item() == 1.0 and x.grad.item() == 0.0


def test_sinc_has_slope_zero_at_zero_even_for_an_infinite_gradient():
    x = tg.tensor([0.0, 0.5], requires_grad=True)
    tg.sinc(x).backward(tg.tensor([float("inf"), 1.0]))
    assert x.grad.tolist() == [0.0, pytest.approx(-4 / math.pi)]


def test_sinc_has_slope_zero_where_pi_x_squared_underflows_as_pytorch():
    x = tg.tensor([1e-30, -1e-30], requires_grad=True)   # float32: π·1e-60 is 0
    tg.sinc(x).backward(tg.tensor([float("inf"), float("nan")]))
    assert x.grad.tolist() == [0.0, 0.0]


def test_sinc_has_slope_zero_where_pi_x_squared_overflows_as_pytorch():
    # float32 beyond 1e19 (every value an even integer, cos(πx) of the rounded πx noise)
    x = tg.tensor([1e30, -3e20, 1e18, float("inf")], requires_grad=True)
    tg.sinc(x).backward(tg.tensor([1.0, 2.0, 1.0, 1.0]))
    assert x.grad.tolist()[:2] == [0.0, 0.0] and x.grad.tolist()[2] != 0.0
    assert math.isnan(x.grad.tolist()[3])   # cos(∞) has no value, as in PyTorch


@pytest.mark.parametrize("dtype, largest", [(tg.float32, 3.4028235e38),
                                            (tg.float64, 1.7976931348623157e308)])
def test_sinc_has_a_nan_slope_where_pi_x_overflows_as_its_value_and_pytorch(dtype, largest):
    # beyond the largest value / π, πx is inf: sin(πx), cos(πx) and so sinc x are NaN
    x = tg.tensor([largest, -largest / 2, largest / 4], dtype=dtype, requires_grad=True)
    y = tg.sinc(x)
    y.backward(tg.ones_like(y))
    assert [math.isnan(v) for v in y.tolist()] == [True, True, False]
    assert [math.isnan(v) for v in x.grad.tolist()] == [True, True, False]
    assert x.grad.tolist()[2] == 0.0   # πx² overflows, πx does not: slope 0, as PyTorch


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_sinc_slope_near_zero_keeps_its_digits(dtype):
    # (cos πx - sinc x)/x cancels near 0: in float32 it had no digit left at 1e-5
    values = [1e-5, -1e-3, 0.01, 0.159, 0.16, 0.3]
    x = tg.tensor(values, dtype=dtype, requires_grad=True)
    tg.sinc(x).sum().backward()
    # d/dx sin(πx)/(πx) = π·Σₖ (-1)ᵏ 2k u^{2k-1}/(2k+1)!, u = πx, summed far past float64
    exact = [math.pi * sum((-1) ** k * 2 * k * (math.pi * v) ** (2 * k - 1) /
                           math.factorial(2 * k + 1) for k in range(1, 20)) for v in values]
    np.testing.assert_allclose(x.grad.numpy(), exact, rtol=2e-6 if dtype is tg.float32 else 1e-14)


def test_sinc_keeps_only_its_input_so_its_result_may_change_in_place():
    x = tg.tensor([0.0, 0.5, 1.0], dtype=tg.float64, requires_grad=True)
    y = tg.sinc(x)
    y.mul_(2)
    y.sum().backward()
    # dy/dx = (cos πx - sinc x)/x, 0 at x = 0
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([0.0, -4 / math.pi, -1.0]),
                               atol=1e-15)


@pytest.mark.parametrize("name", [*UNARY, "atan2", "hypot"])
def test_values_and_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    binary = name in ("atan2", "hypot")
    low, high = UNARY[name][1] if not binary else (0.5, 2.0)
    arrays = [np.linspace(low, high, 6) * (-1 if k == 1 else 1) for k in range(2 if binary else 1)]
    ours = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    getattr(tg, name)(*ours).sum().backward()
    expected = getattr(torch, name)(*theirs)
    expected.sum().backward()
    np.testing.assert_allclose(getattr(tg, name)(*ours).detach().numpy(),
                               expected.detach().numpy(), rtol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)
