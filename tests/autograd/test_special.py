"""Special functions (tapegrad/autograd/ops/special.py): erf.

Checked like the pointwise functions: gradient and second derivative against finite
differences, values against Python's math.erf, and the dtype rules.
"""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.special import erf

from ..support import Case, leaf, noncontiguous

CASES = [
    Case("erf", lambda x: erf(x), [leaf()]),
    Case("erf", lambda x: erf(x), [leaf(5)]),
    Case("erf", lambda x: erf(x), [leaf(3, 4)]),
    Case("erf", lambda x: erf(x), [noncontiguous(3, 4)]),
    Case("erf", lambda x: erf(x * 3), [leaf(2, 3, low=-1, high=1)], name="steep"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def test_erf_values_match_math_erf():
    values = np.array([-4.0, -1.5, -0.3, 0.0, 1e-8, 0.5, 1.0, 2.5, 6.0])
    out = erf(tg.tensor(values, dtype=tg.float64))
    np.testing.assert_allclose(out.numpy(), [math.erf(v) for v in values], rtol=1e-15, atol=0)


def test_erf_is_odd_and_saturates_at_plus_minus_one():
    out = erf(tg.tensor([-1e4, -30.0, 30.0, 1e4])).tolist()
    assert out == [-1.0, -1.0, 1.0, 1.0]
    x = tg.tensor([0.7, 2.0])
    assert erf(-x).tolist() == [-v for v in erf(x).tolist()]


def test_erf_gradient_is_two_over_root_pi_times_exp_of_minus_x_squared():
    x = tg.tensor([0.0, 0.5, -1.0, 40.0], dtype=tg.float64, requires_grad=True)
    erf(x).sum().backward()
    expected = [2 / math.sqrt(math.pi) * math.exp(-v * v) for v in (0.0, 0.5, -1.0, 40.0)]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-15)


def test_erf_keeps_float32_and_float16_and_promotes_integers():
    assert erf(tg.randn(3)).dtype == tg.float32
    assert erf(tg.randn(3, dtype=tg.float64)).dtype == tg.float64
    half = erf(tg.tensor([0.5, -2.0], dtype=tg.float16))
    assert half.dtype == tg.float16
    np.testing.assert_allclose(half.numpy(), [math.erf(0.5), math.erf(-2.0)], rtol=1e-3)
    ints = erf(tg.tensor([0, 1, -2]))
    assert ints.dtype == tg.float32
    np.testing.assert_allclose(ints.numpy(), [0.0, math.erf(1), math.erf(-2)], rtol=1e-6)


def test_erf_of_a_0d_tensor_is_a_0d_tensor():
    out = erf(tg.tensor(0.25))
    assert out.shape == () and out.item() == pytest.approx(math.erf(0.25), rel=1e-6)


def test_erf_of_an_empty_tensor():
    assert erf(tg.zeros(0, 3)).shape == (0, 3)


def test_erf_refuses_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="erf: expected a Tensor, got list"):
        erf([0.5])


# -- erfc, erfinv, mvlgamma ------------------------------------------------------------------
def within(low, high):
    return [leaf(low=low, high=high), leaf(5, low=low, high=high),
            leaf(3, 4, low=low, high=high), noncontiguous(3, 4, low=low, high=high)]


MORE_CASES = (
    [Case("erfc", tg.erfc, [x]) for x in within(-2.0, 2.0)]
    + [Case("erfinv", tg.erfinv, [x]) for x in within(-0.9, 0.9)]
    + [Case("mvlgamma", lambda x: tg.mvlgamma(x, 3), [x]) for x in within(1.5, 4.0)]
    + [Case("mvlgamma", lambda x: tg.mvlgamma(x, 1), [leaf(3, 4, low=0.2, high=3.0)], name="p=1")]
)
CASES = CASES + MORE_CASES


@pytest.mark.parametrize("case", MORE_CASES, ids=repr)
def test_gradcheck_of_more_special_functions(case):
    case.check()


def test_erfinv_keeps_only_its_input_so_its_result_may_change_in_place():
    x = tg.tensor([0.0, 0.5], dtype=tg.float64, requires_grad=True)
    y = tg.erfinv(x)
    expected = (math.sqrt(math.pi) / 2) * np.exp(y.detach().numpy() ** 2)   # dy/dx = (√π/2) e^{y²}
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected)


def test_erfinvs_float16_gradient_fits_where_the_gradient_times_e_to_the_y_squared_does_not():
    # x = 0.9673: y = 1.5098, slope (√π/2)·e^{y²} = 8.66; times 7388 it is 6.4e4, below float16's
    # largest 65504, though 7388·e^{y²} (7.2e4) is not: the slope is formed before the product
    x = tg.tensor([0.96728515625, -0.8193359375], dtype=tg.float16, requires_grad=True)
    grad = tg.tensor([7388.0, -27330.0], dtype=tg.float16)
    tg.erfinv(x).backward(grad)
    y = tg.erfinv(x.detach()).numpy().astype(np.float64)
    expected = math.sqrt(math.pi) / 2 * np.exp(y * y) * grad.numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), expected, rtol=2e-3)


def test_erfc_matches_python_math():
    points = [-2.5, -0.5, 0.1, 1.0, 2.0, 7.5, 30.0]
    np.testing.assert_allclose(tg.erfc(tg.tensor(points, dtype=tg.float64)).numpy(),
                               [math.erfc(v) for v in points], rtol=1e-14)


def test_float32_erfc_is_the_nearest_float32_even_in_its_subnormal_tail():
    # erfc(10) = 2.09e-45 lies nearest the smallest subnormal, 1.4e-45 (PyTorch's value);
    # a float32 erfc computed in float32 gave 2.8e-45, and a count of nonzeros changed with it
    points = np.concatenate([np.linspace(-4, 10.1, 20001), np.linspace(9.0, 10.1, 2001)])
    points = points.astype(np.float32)
    nearest = np.array([math.erfc(float(v)) for v in points]).astype(np.float32)
    ours = tg.erfc(tg.tensor(points)).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, nearest)
    assert tg.erfc(tg.tensor([10.0])).item() == np.float32(1.4e-45)


def test_erfinv_inverts_erf_and_is_infinite_at_plus_minus_one():
    y = np.array([-3.0, -0.7, 0.0, 0.2, 1.5, 4.0])
    x = erf(tg.tensor(y, dtype=tg.float64))
    np.testing.assert_allclose(tg.erfinv(x).numpy(), y, rtol=1e-9)
    ends = tg.erfinv(tg.tensor([-1.0, 1.0, 1.5])).tolist()
    assert ends[:2] == [-math.inf, math.inf] and math.isnan(ends[2])


def test_erfinv_result_may_be_changed_in_place_before_backward():
    # its input is saved, not its result (as PyTorch), so y.div_(1) does not break backward
    x = tg.tensor([0.5, -0.25], dtype=tg.float64, requires_grad=True)
    y = tg.erfinv(x * 1)
    y.div_(1).sum().backward()
    expected = [math.sqrt(math.pi) / 2 * math.exp(v ** 2) for v in tg.erfinv(x.detach()).tolist()]
    assert x.grad.tolist() == pytest.approx(expected, rel=1e-12)


def test_mvlgamma_is_a_sum_of_lgammas_even_below_its_domain():
    # below (p - 1)/2 the sum is computed as PyTorch computes it: finite off the poles of
    # lgamma, inf on them
    x = tg.tensor([2.5, 4.0, 0.25, 0.8, -1.0], dtype=tg.float64)
    expected = [3 / 2 * math.log(math.pi) + sum(
        math.inf if (v - j / 2) <= 0 and (v - j / 2) == round(v - j / 2)
        else math.lgamma(v - j / 2) for j in range(3)) for v in (2.5, 4.0, 0.25, 0.8, -1.0)]
    np.testing.assert_allclose(tg.mvlgamma(x, 3).numpy(), expected, rtol=1e-14)
    assert tg.mvlgamma(tg.tensor([0.0, -1.0]), 1).tolist() == [math.inf, math.inf]


def test_mvlgamma_at_minus_zero_has_the_slope_of_plus_zero_as_in_pytorch():
    # PyTorch adds the offsets 0, -1/2, … to x, and -0.0 + 0.0 is +0.0: the slope is
    # ψ(+0) = -inf (and for p = 2 also ψ(-1/2)), not the ψ(-0) = +inf of lgamma at -0.0
    for dtype in (tg.float16, tg.float32, tg.float64):
        x = tg.tensor([-0.0, 0.0], dtype=dtype, requires_grad=True)
        tg.mvlgamma(x, 1).sum().backward()
        assert x.grad.tolist() == [-math.inf, -math.inf]
    x = tg.tensor([-0.0], dtype=tg.float64, requires_grad=True)
    tg.mvlgamma(x, 2).sum().backward()
    assert x.grad.tolist() == [-math.inf]
    assert tg.mvlgamma(x.detach(), 2).tolist() == [math.inf]


def test_mvlgamma_sums_its_slope_before_it_meets_an_infinite_gradient():
    # at x = 0 with p = 2 the slope is ψ(+0) + ψ(-1/2) = -inf: an incoming inf gives -inf
    # (as in PyTorch), not inf·(-inf) + inf·ψ(-1/2) = NaN
    x = tg.tensor([0.0, 3.0], dtype=tg.float64, requires_grad=True)
    tg.mvlgamma(x, 2).backward(tg.tensor([math.inf, 1.0], dtype=tg.float64))
    assert x.grad.tolist()[0] == -math.inf
    assert x.grad.tolist()[1] == pytest.approx(tg.digamma(tg.tensor([3.0, 2.5], dtype=tg.float64))
                                               .sum().item(), rel=1e-14)


def test_float32_and_float16_keep_their_dtype():
    for name in ("erfc", "erfinv"):
        assert getattr(tg, name)(tg.tensor([0.5])).dtype is tg.float32
        assert getattr(tg, name)(tg.tensor([0.5], dtype=tg.float16)).dtype is tg.float16


@pytest.mark.parametrize("name", ["erfc", "erfinv", "mvlgamma"])
def test_values_and_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    array = np.array([0.15, 0.4, 0.85]) if name == "erfinv" else np.array([1.3, 2.6, 7.9])
    results = []
    for lib in (tg, torch):
        x = lib.tensor(array, dtype=lib.float64, requires_grad=True)
        y = lib.mvlgamma(x, 2) if name == "mvlgamma" else getattr(lib, name)(x)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-9)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-8)


def test_mvlgamma_refuses_a_dimension_below_one_or_not_whole():
    for p in (0, 1.5):
        with pytest.raises(RuntimeError, match="p must be an integer of at least 1"):
            tg.mvlgamma(tg.tensor([3.0, 4.0]), p)


def test_mvlgamma_of_a_bool_tensor_is_refused():
    with pytest.raises(RuntimeError, match="mvlgamma: the input may not be a bool tensor"):
        tg.mvlgamma(tg.tensor([True]), 1)
    assert tg.mvlgamma(tg.tensor([3]), 1).item() == pytest.approx(math.log(2))


def test_erfinv_keeps_its_digits_near_plus_minus_one():
    # erf(y) is 1 to within its last bits there: y from erfc(y) = 1 - x instead (reference
    # values: mpmath.erfinv at 40 digits)
    x = tg.tensor([0.9999999999999976, -0.9999999999999999, -0.9999921563372702, 0.75],
                  dtype=tg.float64)
    np.testing.assert_allclose(tg.erfinv(x).numpy(), [5.597825479192136, -5.8635847487551676,
                                                      -3.1603482416442232, 0.8134198475976185],
                               rtol=1e-14)
