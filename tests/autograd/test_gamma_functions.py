"""lgamma, digamma and polygamma (tapegrad/autograd/ops/gamma_functions.py): gradients and
second derivatives against finite differences, values against closed forms (and PyTorch
when it is installed), dtypes and errors."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.gamma_functions import digamma, lgamma, polygamma

from ..support import Case, leaf, noncontiguous, positive

EULER = 0.5772156649015329
ZETA3 = 1.2020569031595942

CASES = [
    Case("lgamma", lgamma, [positive(3, 4)]),
    Case("lgamma", lgamma, [noncontiguous(3, 2, low=0.2, high=4.0)], name="noncontiguous"),
    Case("lgamma", lgamma, [leaf(4, low=-0.9, high=-0.1)], name="negative"),
    Case("lgamma", lgamma, [leaf(low=20.0, high=30.0)], name="large"),
    Case("digamma", digamma, [positive(3, 4)]),
    Case("digamma", digamma, [noncontiguous(2, 3, low=0.3, high=15.0)], name="noncontiguous"),
    Case("digamma", digamma, [leaf(4, low=-2.9, high=-2.1)], name="negative"),
    Case("polygamma", lambda x: polygamma(1, x), [positive(3, 4)], name="n=1"),
    Case("polygamma", lambda x: polygamma(2, x), [leaf(5, low=0.5, high=30.0)], name="n=2"),
    Case("polygamma", lambda x: polygamma(3, x), [noncontiguous(2, 3, low=0.5, high=3.0)],
         name="n=3-noncontiguous"),
    Case("polygamma", lambda x: x.polygamma(1), [leaf(3, low=-0.9, high=-0.1)],
         name="method-negative"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def test_lgamma_matches_math_lgamma():
    values = [0.01, 0.5, 1.0, 2.0, 3.7, 10.0, 171.5, 1e5, -0.5, -2.3]
    np.testing.assert_allclose(lgamma(f64(values)).numpy(), [math.lgamma(v) for v in values],
                               rtol=1e-14)


def test_digamma_closed_forms():
    # ψ(1) = -γ, ψ(1/2) = -γ - 2 ln 2, ψ(n) = H(n-1) - γ, ψ(x + 1) = ψ(x) + 1/x
    out = digamma(f64([1.0, 0.5, 5.0, -0.5, 1e6])).numpy()
    expected = [-EULER, -EULER - 2 * math.log(2), 1 + 1 / 2 + 1 / 3 + 1 / 4 - EULER,
                -EULER - 2 * math.log(2) + 2, math.log(1e6) - 0.5e-6 - 1 / 12e12]
    np.testing.assert_allclose(out, expected, rtol=1e-13)


def test_digamma_at_its_poles_as_pytorch():
    assert digamma(f64([0.0])).item() == -math.inf
    assert math.isnan(digamma(f64([-2.0])).item())


def test_digamma_of_huge_negative_floats_is_nan_they_are_all_integers():
    for dtype in (tg.float32, tg.float64):
        out = digamma(tg.tensor([-1e30, -1e17, -math.inf], dtype=dtype)).numpy()
        assert np.isnan(out).all(), (dtype, out)


def test_polygamma_at_the_poles_as_pytorch():
    # the pole's term n!/(x - p)ⁿ⁺¹ dominates: +inf for odd n, -inf (PyTorch's sign) for even n
    poles = [0.0, -0.0, -1.0, -3.0, -1e30]
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor(poles, dtype=dtype)
        for n in (1, 2, 3, 4):
            assert polygamma(n, x).tolist() == [(-1) ** (n + 1) * math.inf] * len(poles), n
    # ψ⁽ⁿ⁾ → 0 as x → inf; -inf has no limit: NaN for n = 1, a pole beyond (as PyTorch)
    assert polygamma(1, f64([math.inf, -math.inf])).numpy().tolist()[0] == 0.0
    assert math.isnan(polygamma(1, f64(-math.inf)).item())
    assert polygamma(2, f64([math.inf, -math.inf])).tolist() == [0.0, -math.inf]
    assert polygamma(3, f64(-math.inf)).item() == math.inf


def test_trigamma_of_a_large_negative_non_integer_by_reflection():
    # ψ⁽¹⁾(x) + ψ⁽¹⁾(1 - x) = π²/sin²(πx): at -1e6 + 0.5, π² - ψ⁽¹⁾(1e6 + 0.5)
    expected = math.pi ** 2 - polygamma(1, f64(1e6 + 0.5)).item()
    assert polygamma(1, f64(-1e6 + 0.5)).item() == pytest.approx(expected, rel=1e-9)


def test_higher_polygammas_of_large_negative_x_by_reflection():
    # ψ⁽ⁿ⁾(x) = (-1)ⁿ ψ⁽ⁿ⁾(1 - x) - πⁿ⁺¹ dⁿcot/dyⁿ(πx) below -1000, where the recurrence would
    # take |x| steps (and gave NaN below -1e7); reference values from mpmath (50 digits)
    cases = [(2, -1234.56, -12.259997920195783), (3, -1234.56, 223.94942202885784),
             (4, -1000.25, 24481.57478282251), (5, -3000.9, 120000297.90891109),
             (3, -10000000.5, 194.81818206800487), (2, -12345678.25, 124.02510672119927),
             (3, -12345678.25, 1558.545456544039)]
    for n, x, expected in cases:
        assert polygamma(n, f64(x)).item() == pytest.approx(expected, rel=1e-10), (n, x)
    # ψ⁽²⁾(-1e7 - 1/2) is -1e-14, a zero of the cot term: right to within 1e-14
    assert polygamma(2, f64(-10000000.5)).item() == pytest.approx(-1e-14, abs=1e-14)
    # and the gradient there is the next order, also by reflection
    x = f64([-12345678.25]).requires_grad_()
    polygamma(2, x).sum().backward()
    assert x.grad.item() == pytest.approx(1558.545456544039, rel=1e-10)


def test_polygamma_closed_forms():
    # ψ⁽¹⁾(1) = π²/6, ψ⁽¹⁾(1/2) = π²/2, ψ⁽²⁾(1) = -2ζ(3), ψ⁽³⁾(1) = π⁴/15
    np.testing.assert_allclose(polygamma(1, f64([1.0, 0.5])).numpy(),
                               [math.pi ** 2 / 6, math.pi ** 2 / 2], rtol=1e-13)
    assert polygamma(2, f64(1.0)).item() == pytest.approx(-2 * ZETA3, rel=1e-13)
    assert polygamma(3, f64(1.0)).item() == pytest.approx(math.pi ** 4 / 15, rel=1e-13)
    # the recurrence ψ⁽ⁿ⁾(x + 1) = ψ⁽ⁿ⁾(x) + (-1)ⁿ n!/xⁿ⁺¹ holds where it is not used directly
    x = f64([25.3, -1.7])
    for n in (1, 2, 4):
        np.testing.assert_allclose(polygamma(n, x + 1).numpy(),
                                   polygamma(n, x).numpy() + (-1) ** n * math.factorial(n)
                                   / x.numpy() ** (n + 1), rtol=1e-12)


def test_polygamma_of_order_zero_is_digamma():
    x = f64([0.3, 4.0])
    assert polygamma(0, x).tolist() == digamma(x).tolist()


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-3.7, 40.0, 101)
    t = torch.tensor(x)
    np.testing.assert_allclose(lgamma(f64(x)).numpy(), torch.lgamma(t).numpy(), rtol=1e-12)
    np.testing.assert_allclose(digamma(f64(x)).numpy(), torch.digamma(t).numpy(), rtol=1e-9,
                               atol=1e-12)
    for n in (1, 2, 3):
        np.testing.assert_allclose(polygamma(n, f64(x)).numpy(),
                                   torch.polygamma(n, torch.tensor(x)).numpy(), rtol=1e-9)


def test_dtypes_follow_the_input_and_integers_become_float32():
    assert lgamma(tg.tensor([1.5, 2.5])).dtype == tg.float32
    assert digamma(tg.tensor([1.5], dtype=tg.float16)).dtype == tg.float16
    assert polygamma(1, tg.tensor([1, 2])).dtype == tg.float32
    assert lgamma(tg.tensor(3.0)).shape == ()


def test_polygamma_refuses_a_bad_order():
    with pytest.raises(RuntimeError, match="polygamma: n must be a non-negative integer, got -1"):
        polygamma(-1, tg.ones(2))
    with pytest.raises(TypeError, match="digamma: expected a Tensor, got list"):
        digamma([1.0])


def test_polygamma_at_the_poles_is_infinite_with_pytorchs_signs():
    poles = [0.0, -0.0, -1.0, -3.0, -1e30]
    assert polygamma(1, f64(poles)).tolist() == [math.inf] * 5   # the limit from both sides
    assert polygamma(2, f64(poles)).tolist() == [-math.inf] * 5
    assert polygamma(3, f64(poles + [-math.inf])).tolist() == [math.inf] * 6


def test_the_gradient_of_digamma_at_zero_is_trigammas_infinity():
    x = tg.tensor([-0.0, 0.0], dtype=tg.float64, requires_grad=True)
    digamma(x).sum().backward()
    assert x.grad.tolist() == [math.inf, math.inf]


def test_polygamma_of_a_huge_negative_non_integer_returns_instead_of_stepping_up_for_ever():
    # halfway between poles: ψ⁽²⁾ is about -1/x² (the cot term is 0), ψ⁽³⁾ about 2π⁴
    assert abs(polygamma(2, f64([-1.5e12 - 0.5])).item()) < 1e-13
    assert polygamma(3, f64([-1.5e12 - 0.5])).item() == pytest.approx(2 * math.pi ** 4, rel=1e-12)


SUBNORMAL_STEP = 2.0 ** -24   # float16's smallest step, the spacing below 6.1e-5


def test_float16_polygamma_rounds_zeta_first_as_pytorch():
    # ψ⁽ⁿ⁾(x) = (-1)ⁿ⁺¹ n! ζ(n+1, x): PyTorch rounds ζ to float16, then the product.
    # ζ(3, 225) = 9.92e-6 is 166.4 subnormal steps: 166 steps, times 2
    x = tg.tensor([225.0], dtype=tg.float16)
    assert polygamma(2, x).item() == -2 * 166 * SUBNORMAL_STEP   # not -1.985e-5 (333 steps)


def test_float16_gradient_of_polygamma_takes_the_next_order_rounded_as_pytorch():
    # d ψ⁽²⁾/dx = ψ⁽³⁾(171.6) = 6 ζ(4, 171.6), ζ = 6.6e-8: 1 subnormal step, times 6
    # (ψ⁽³⁾ itself, 3.96e-7, is 6.6 steps: 7 if rounded once)
    x = tg.tensor([171.6], dtype=tg.float16, requires_grad=True)
    polygamma(2, x).backward(tg.ones(1, dtype=tg.float16))
    assert x.grad.item() == 6 * SUBNORMAL_STEP


def test_float16_polygamma_matches_pytorch_bit_for_bit():
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(0.01, 30.0, 301), np.geomspace(30.0, 6e4, 200)])
    x = x.astype(np.float16)
    for n in (2, 3, 5, 8, 20, 34):
        np.testing.assert_array_equal(polygamma(n, tg.tensor(x)).numpy(),
                                      torch.polygamma(n, torch.from_numpy(x)).numpy(),
                                      err_msg=f"n={n}")


@pytest.mark.parametrize("function, x, dtype", [
    (lgamma, 0.0, tg.float32), (lgamma, 3e38, tg.float32),
    (lambda x: polygamma(2, x), 1e13, tg.float32), (lambda x: polygamma(3, x), 1e-20, tg.float32),
    (lambda x: polygamma(3, x), 1e-200, tg.float64), (lambda x: polygamma(2, x), 1e-3, tg.float16),
])
def test_infinite_results_come_without_warnings_as_in_pytorch(function, x, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        function(tg.tensor([x], dtype=dtype))


def test_digamma_and_trigamma_one_ulp_from_a_pole_follow_the_distance_to_it():
    # at x = -k ± d the pole's term dominates: ψ(x) ≈ -1/(x + k), ψ⁽¹⁾(x) ≈ 1/(x + k)²; the
    # reflection must see d exactly (πx rounded would give 9.7e30 for 2.03e31 at -2 + 2⁻⁵²)
    for pole, d in ((-2.0, 2.0 ** -52), (-2.0, -(2.0 ** -51)), (-1.0, 2.0 ** -53),
                    (-5.0, 2.0 ** -50)):
        x = tg.tensor([pole + d], dtype=tg.float64)
        assert polygamma(1, x).numpy()[0] == pytest.approx(1 / d ** 2, rel=1e-12)
        assert digamma(x).numpy()[0] == pytest.approx(-1 / d, rel=1e-12)
