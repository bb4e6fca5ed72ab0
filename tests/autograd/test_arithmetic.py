"""Binary arithmetic, comparisons and `where` (tapegrad/autograd/ops/arithmetic.py).

Operands broadcast as in numpy, and the gradient of a broadcast operand is summed back
to its own shape. Python numbers and numpy arrays may stand on either side of an
operator. Comparisons give bool tensors that carry no gradient.
"""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tapegrad as tg
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck

from ..support import Case, constant, leaf, noncontiguous, positive, values


def as_leaf(array):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, requires_grad=True)


def nonzero(*shape):
    """A float64 leaf whose values have magnitude in [0.5, 2) and either sign (denominators)."""
    magnitude = values(*shape, low=0.5, high=2.0)
    sign = np.where(values(*shape, low=-1.0, high=1.0) < 0, -1.0, 1.0)
    return as_leaf(magnitude * sign)


def apart(shape_x, shape_y):
    """Leaves x and y that differ by at least 0.15 wherever they meet after broadcasting:
    x sits near odd multiples of 0.25 and y near even ones (no ties, no near-ties)."""
    def near_multiples(shape, odd):
        whole = np.floor(np.asarray(values(*shape, low=-4.0, high=4.0)))
        jitter = np.asarray(values(*shape, low=-0.05, high=0.05))
        return (2 * whole + odd) * 0.25 + jitter
    return as_leaf(near_multiples(shape_x, 1)), as_leaf(near_multiples(shape_y, 0))


def quotient_away_from_integers(*shape, denominator=None):
    """(x, y) leaves with y in [0.5, 2) and x / y at least 0.2 from any integer (floor kinks)."""
    y = np.asarray(values(*shape, low=0.5, high=2.0) if denominator is None else denominator,
                   dtype=np.float64)
    whole = np.floor(np.asarray(values(*shape, low=-3.0, high=3.0)))
    fraction = np.asarray(values(*shape, low=0.2, high=0.8))
    x = (whole + fraction) * y
    return as_leaf(x), (as_leaf(y) if denominator is None else None)


def binary_layouts(op, fn):
    """Cases of ``fn(x, y)`` over the usual shapes, a non-contiguous input and broadcasting."""
    return [
        Case(op, fn, [leaf(), leaf()]),
        Case(op, fn, [leaf(5), leaf(5)]),
        Case(op, fn, [leaf(3, 4), leaf(3, 4)]),
        Case(op, fn, [noncontiguous(3, 4), leaf(3, 4)]),
        Case(op, fn, [leaf(3, 4), leaf(4)]),
        Case(op, fn, [leaf(3, 1), leaf(1, 4)]),
        Case(op, fn, [leaf(), leaf(2, 3)]),
        Case(op, fn, [leaf(2, 3), constant(2, 3)], name="only_x_requires_grad"),
        Case(op, fn, [constant(2, 3), leaf(3)], name="only_y_requires_grad"),
    ]


def positive_base_layouts(op, fn):
    return [
        Case(op, fn, [positive(), leaf()]),
        Case(op, fn, [positive(5), leaf(5)]),
        Case(op, fn, [positive(3, 4), leaf(3, 4)]),
        Case(op, fn, [noncontiguous(3, 4, low=0.5), leaf(3, 4)]),
        Case(op, fn, [positive(3, 4), leaf(4)]),
        Case(op, fn, [positive(3, 1), leaf(1, 4)]),
    ]


def quotient_cases(op, fn):
    x0, y0 = quotient_away_from_integers()
    x1, y1 = quotient_away_from_integers(5)
    x2, y2 = quotient_away_from_integers(3, 4)
    x3, y3 = quotient_away_from_integers(3, 4)
    x_nc = tg.from_numpy(np.asfortranarray(x3.detach().numpy())).requires_grad_()
    x4, _ = quotient_away_from_integers(3, 4, denominator=np.broadcast_to([0.7, 1.3, 1.9, 0.6],
                                                                           (3, 4)))
    return [Case(op, fn, [x0, y0]), Case(op, fn, [x1, y1]), Case(op, fn, [x2, y2]),
            Case(op, fn, [x_nc, y3]),
            Case(op, fn, [x4, as_leaf([0.7, 1.3, 1.9, 0.6])], name="broadcast_3x4,4")]


def tie_free_cases(op, fn):
    return [Case(op, fn, list(apart(sx, sy)), name=f"{sx}{sy}")
            for sx, sy in [((), ()), ((5,), (5,)), ((3, 4), (3, 4)), ((3, 4), (4,)),
                           ((3, 1), (1, 4)), ((), (2, 3))]] + [
        Case(op, fn, [tg.from_numpy(np.asfortranarray(a.detach().numpy())).requires_grad_(), b],
             name="noncontiguous") for a, b in [apart((3, 4), (3, 4))]]


CASES = (
    binary_layouts("add", lambda x, y: tg.add(x, y))
    + [Case("add", lambda x, y: x + y, [leaf(3), leaf(3)], name="operator"),
       Case("add", lambda x, y: tg.add(x, y, alpha=2.5), [leaf(3, 4), leaf(4)], name="alpha"),
       Case("add", lambda x: x + 2.5, [leaf(3)], name="python_number"),
       Case("add", lambda x: 2 + x, [leaf(3)], name="reflected"),
       Case("add", lambda x: x + x, [leaf(3)], name="same_tensor_twice")]
    + binary_layouts("sub", lambda x, y: tg.sub(x, y))
    + [Case("sub", lambda x, y: x - y, [leaf(3), leaf(3)], name="operator"),
       Case("sub", lambda x, y: tg.sub(x, y, alpha=-0.5), [leaf(4), leaf(3, 4)], name="alpha"),
       Case("rsub", lambda x: 2 - x, [leaf(3)], name="reflected")]
    + binary_layouts("mul", lambda x, y: tg.mul(x, y))
    + [Case("mul", lambda x, y: x * y, [leaf(3), leaf(3)], name="operator"),
       Case("mul", lambda x: x * x, [leaf(3)], name="same_tensor_twice"),
       Case("mul", lambda x: 3 * x, [leaf(3)], name="reflected"),
       Case("mul", lambda x: np.array([1.0, -2.0, 0.5]) * x, [leaf(2, 3)], name="numpy_left")]
    + [Case("div", lambda x, y: tg.div(x, y), [leaf(*s), nonzero(*s)])
       for s in [(), (5,), (3, 4)]]
    + [Case("div", lambda x, y: x / y, [noncontiguous(3, 4), nonzero(3, 4)], name="noncontiguous"),
       Case("div", lambda x, y: x / y, [leaf(3, 4), nonzero(4)], name="broadcast_3x4,4"),
       Case("div", lambda x, y: x / y, [leaf(3, 1), nonzero(1, 4)], name="broadcast_3x1,1x4"),
       Case("div", lambda x, y: x / y, [leaf(4), nonzero(3, 1)], name="broadcast_4,3x1"),
       Case("div", lambda x: x / 2, [leaf(3)], name="by_number"),
       Case("reciprocal", lambda y: 2 / y, [nonzero(3)], name="reflected"),
       Case("div", lambda x, y: tg.true_divide(x, y), [leaf(3), nonzero(3)], name="true_divide")]
    + positive_base_layouts("pow", lambda x, y: tg.pow(x, y))
    + [Case("pow", lambda x: x ** 2, [leaf(3, 4)], name="squared"),
       Case("pow", lambda x: x ** 2, [noncontiguous(3, 4)], name="squared_noncontiguous"),
       Case("pow", lambda x: x ** 3, [leaf()], name="cubed_0d"),
       Case("pow", lambda x: x ** 3, [noncontiguous(3, 4)], name="cubed_noncontiguous"),
       Case("pow", lambda x: x.pow(0.5), [positive(5)], name="sqrt"),
       Case("pow", lambda x: x.pow(-1.5), [positive(5)], name="negative_exponent"),
       Case("pow", lambda x: x ** 1, [leaf(3)], name="first_power"),
       Case("pow", lambda y: 2 ** y, [leaf(3, 4)], name="number_base"),
       Case("pow", lambda y: 0.5 ** y, [leaf(3)], name="fractional_number_base"),
       Case("pow", lambda x, y: x ** y, [positive(3, 4), leaf()], name="0d_exponent"),
       Case("pow", lambda x: x ** tg.tensor(2.5, dtype=tg.float64), [positive(4)],
            name="constant_tensor_exponent")]
    + tie_free_cases("maximum", lambda x, y: tg.maximum(x, y))
    + tie_free_cases("minimum", lambda x, y: tg.minimum(x, y))
    + quotient_cases("floor_divide", lambda x, y: tg.floor_divide(x, y))
    + [Case("floor_divide", lambda x: x // 1.5, [quotient_away_from_integers(
            5, denominator=np.full(5, 1.5))[0]], name="by_number")]
    + quotient_cases("remainder", lambda x, y: tg.remainder(x, y))
    + [Case("remainder", lambda x: x % 1.5, [quotient_away_from_integers(
            5, denominator=np.full(5, 1.5))[0]], name="by_number")]
    + [Case("where", lambda x, y: tg.where(tg.tensor([[True, False, True, False]] * 3), x, y),
            [leaf(*sx), leaf(*sy)], name=f"{sx}{sy}")
       for sx, sy in [((3, 4), (3, 4)), ((4,), (3, 4)), ((3, 4), ()), ((3, 1), (1, 4))]]
    + [Case("where", lambda x: tg.where(tg.tensor(True), x, 0.0), [leaf()], name="0d"),
       Case("where", lambda x, y: tg.where(tg.tensor([[[True], [False]]]), x, y),
            [leaf(3), leaf(1, 3)], name="condition_broadcasts_both"),
       Case("where", lambda x, y: tg.where(tg.tensor([[True, False, True, False]] * 3), x, y),
            [noncontiguous(3, 4), leaf(4)], name="noncontiguous"),
       Case("where", lambda x: x.where(tg.tensor([True, False, False]), 2.0), [leaf(3)],
            name="method")]
)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- broadcasting, property-based ----------------------------------------------------------
def _operands(draw_shapes, seed, op):
    rng = np.random.default_rng(seed)
    shape_x, shape_y = draw_shapes.input_shapes
    x = rng.uniform(-2, 2, shape_x)
    y = rng.uniform(-2, 2, shape_y)
    if op == "div":
        y = np.where(rng.uniform(-1, 1, shape_y) < 0, -1.0, 1.0) * rng.uniform(0.5, 2, shape_y)
    if op == "pow":
        x = rng.uniform(0.5, 2, shape_x)
    if op in ("maximum", "minimum"):
        assume(np.min(np.abs(np.subtract(*np.broadcast_arrays(x, y))), initial=1.0) > 1e-3)
    return as_leaf(x), as_leaf(y)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_broadcast_gradients_come_back_in_each_inputs_own_shape(op, shapes, seed):
    fn = getattr(tg, op)
    x, y = _operands(shapes, seed, op)
    out = fn(x, y)
    assert out.shape == shapes.result_shape
    out.sum().backward()
    assert x.grad.shape == x.shape and y.grad.shape == y.shape
    assert gradcheck(fn, (x, y))


# -- Python numbers and numpy arrays on both sides ------------------------------------------
def grad_of(fn, array):
    x = tg.tensor(array, dtype=tg.float64, requires_grad=True)
    out = fn(x)
    assert isinstance(out, tg.Tensor)
    out.sum().backward()
    return out.detach().numpy(), x.grad.numpy()


A = np.array([0.5, 1.5, -2.0])


@pytest.mark.parametrize("fn, value, grad", [
    (lambda x: x + 2, A + 2, np.ones(3)),
    (lambda x: 2 + x, A + 2, np.ones(3)),
    (lambda x: x - 2, A - 2, np.ones(3)),
    (lambda x: 2 - x, 2 - A, -np.ones(3)),
    (lambda x: x * 3, A * 3, np.full(3, 3.0)),
    (lambda x: 3 * x, A * 3, np.full(3, 3.0)),
    (lambda x: x / 2, A / 2, np.full(3, 0.5)),
    (lambda x: 2 / x, 2 / A, -2 / A ** 2),
    (lambda x: x ** 2, A ** 2, 2 * A),
    (lambda x: 2 ** x, 2 ** A, 2 ** A * np.log(2)),
    (lambda x: np.array([1.0, 2.0, 3.0]) * x, A * [1, 2, 3], np.array([1.0, 2.0, 3.0])),
    (lambda x: x * np.array([1.0, 2.0, 3.0]), A * [1, 2, 3], np.array([1.0, 2.0, 3.0])),
    (lambda x: np.array([1.0, 2.0, 3.0]) - x, [1, 2, 3] - A, -np.ones(3)),
    (lambda x: np.array([1.0, 2.0, 3.0]) / x, [1, 2, 3] / A, -np.array([1, 2, 3]) / A ** 2),
    (lambda x: np.array([1.0, 2.0, 3.0]) + x, A + [1, 2, 3], np.ones(3)),
    (lambda x: x // 2, np.floor_divide(A, 2), np.zeros(3)),
    (lambda x: 7 // x, np.floor_divide(7, A), np.zeros(3)),
    (lambda x: x % 3, np.remainder(A, 3), np.ones(3)),
    (lambda x: 5 % x, np.remainder(5, A), -np.floor_divide(5, A)),
], ids=["x+2", "2+x", "x-2", "2-x", "x*3", "3*x", "x/2", "2/x", "x**2", "2**x", "np*x", "x*np",
        "np-x", "np/x", "np+x", "x//2", "7//x", "x%3", "5%x"])
def test_numbers_and_numpy_arrays_work_on_either_side(fn, value, grad):
    out, x_grad = grad_of(fn, A)
    np.testing.assert_allclose(out, value, rtol=1e-12)
    np.testing.assert_allclose(x_grad, grad, rtol=1e-12)


def test_a_float32_tensor_with_a_python_float_stays_float32():
    x = tg.tensor([1.0, 2.0])
    for y in (x + 2.5, 2.5 - x, x * 0.1, 1.0 / x, x ** 2.5, 2.0 ** x, x // 0.3, x % 0.3):
        assert y.dtype is tg.float32


def test_numpy_arrays_count_as_tensors_in_promotion():
    x = tg.tensor([1.0, 2.0])
    assert (np.array([1.0, 2.0]) * x).dtype is tg.float64
    assert (x * np.array([1.0, 2.0], dtype=np.float32)).dtype is tg.float32
    assert (x * np.array(2.0)).dtype is tg.float32   # a 0-d array is like a 0-d tensor


def test_in_place_operators_change_the_tensor_itself():
    x = tg.tensor([1.0, 2.0])
    same = x
    x += 1
    x -= 0.5
    x *= 4
    x /= 2
    assert x is same and x.tolist() == [3.0, 5.0]


# -- values: division, remainders, integers ------------------------------------------------
def test_true_division_of_integers_gives_the_default_float_dtype():
    y = tg.tensor([1, 2, 3]) / tg.tensor([2, 2, 2])
    assert y.dtype is tg.float32 and y.tolist() == [0.5, 1.0, 1.5]
    assert (tg.tensor([1, 2]) / 2).dtype is tg.float32
    assert tg.true_divide is tg.div


def test_floor_division_rounds_towards_minus_infinity():
    assert (tg.tensor([-7, 7]) // 2).tolist() == [-4, 3]
    assert (tg.tensor([-7.0, 7.0]) // 2).tolist() == [-4.0, 3.0]
    assert tg.div(tg.tensor([-7.0, 7.0]), 2, rounding_mode="floor").tolist() == [-4.0, 3.0]


def test_division_with_trunc_rounds_towards_zero():
    assert tg.div(tg.tensor([-7.0, 7.0]), 2, rounding_mode="trunc").tolist() == [-3.0, 3.0]
    y = tg.div(tg.tensor([-7, 7]), 2, rounding_mode="trunc")
    assert y.dtype is tg.int64 and y.tolist() == [-3, 3]


def test_float16_over_one_value_rounds_the_float32_quotient_once_as_pytorch():
    # PyTorch takes a divisor of one value as a number: 11.6875 / -1.299 = -8.998 in float32,
    # trunc -8 (the quotient rounded to float16 first is -9.0); a float32 0-d divisor is
    # read in float32, not rounded to float16 (-1.2993 would be -1.299 there)
    x = tg.tensor([11.6875, -11.6875], dtype=tg.float16, requires_grad=True)
    for divisor in (tg.tensor(-1.299, dtype=tg.float16), tg.tensor([[-1.299]], dtype=tg.float16)):
        z = tg.div(x, divisor, rounding_mode="trunc")
        assert z.dtype is tg.float16 and z.reshape(-1).tolist() == [-8.0, 8.0]
        z.sum().backward()
        assert x.grad.tolist() == [0.0, 0.0]
    half = x.detach().clone()
    assert half.div_(tg.tensor(-1.299, dtype=tg.float16), rounding_mode="trunc").tolist() \
        == [-8.0, 8.0]
    # floor: 2 - 0.2·9 leaves a remainder, 2 = 0.2·9.99999970 in float32 (floor 9); 0.2
    # rounded to float16 is 0.19995 and 2 / 0.19995 = 10.0002 (floor 10). trunc divides,
    # and the float32 quotient rounds to 10.0
    two = tg.tensor([2.0, -2.0], dtype=tg.float16)
    assert tg.floor_divide(two, tg.tensor(0.2)).tolist() == [9.0, -10.0]
    assert (two // tg.tensor(0.2, dtype=tg.float64)).tolist() == [9.0, -10.0]
    assert tg.div(two, tg.tensor(0.2), rounding_mode="trunc").tolist() == [10.0, -10.0]


def test_integer_division_with_trunc_is_exact_beyond_two_to_the_53():
    # computed in integers, not through float64 (where -2⁶³/-3 rounds to ...8432)
    big = -2**63
    y = tg.div(tg.tensor([big, big, -7, 7, 6, -6]), tg.tensor([-3, 3, -2, -2, -3, 3]),
               rounding_mode="trunc")
    assert y.tolist() == [3074457345618258602, -3074457345618258602, 3, -3, -2, -2]
    assert tg.div(tg.tensor([250], dtype=tg.uint8), 3, rounding_mode="trunc").tolist() == [83]


def test_division_rejects_an_unknown_rounding_mode():
    # PyTorch raises RuntimeError; ValueError is as clear (see the report).
    with pytest.raises((ValueError, RuntimeError), match="rounding_mode.*'round'"):
        tg.div(tg.tensor([1.0]), 2, rounding_mode="round")


def test_remainder_has_the_sign_of_the_divisor_as_in_python():
    assert tg.remainder(tg.tensor([-3.0, 3.0]), 2).tolist() == [1.0, 1.0]
    assert tg.remainder(tg.tensor([-3.0, 3.0]), -2).tolist() == [-1.0, -1.0]
    assert (tg.tensor([-3, 3]) % 2).tolist() == [1, 1]


def test_integer_arithmetic_stays_integer():
    x = tg.tensor([1, 2, 3])
    for y in (x + 1, x - x, x * 2, x // 2, x % 2, x ** 2, 2 ** x, tg.maximum(x, tg.tensor(2))):
        assert y.dtype is tg.int64
    assert (tg.tensor([1, 2], dtype=tg.int32) + 1).dtype is tg.int32


def test_an_integer_to_a_negative_integer_power_is_refused():
    # PyTorch: RuntimeError "Integers to negative integer powers are not allowed."
    with pytest.raises((RuntimeError, ValueError), match="negative integer powers"):
        tg.tensor([1, 2]) ** -1


def test_an_integer_tensor_to_a_float_power_gives_the_default_float_dtype():
    y = tg.tensor([1, 4]) ** 0.5
    assert y.dtype is tg.float32 and y.tolist() == [1.0, 2.0]


def test_add_and_sub_scale_the_other_operand_by_alpha():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([10.0, 20.0], dtype=tg.float64, requires_grad=True)
    assert tg.add(x, y, alpha=2).tolist() == [21.0, 42.0]
    z = tg.sub(x, y, alpha=3)
    assert z.tolist() == [-29.0, -58.0]
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [-3.0, -3.0]


def test_float16_add_sub_and_rsub_with_alpha_round_x_plus_alpha_y_once():
    # α·y in float16 first would be 2·35328 = ∞ (and -53.25 for α = 0.1 below); x + α·y is
    # computed in float32 with α as float16 holds it, and rounded once, as PyTorch's
    # vectorised kernel computes it
    x = tg.tensor([-20608.0, -73.25], dtype=tg.float16, requires_grad=True)
    y = tg.tensor([35328.0, 200.25], dtype=tg.float16, requires_grad=True)
    assert tg.add(x, y, alpha=2).tolist() == [50048.0, 327.25]
    assert tg.sub(x, -y, alpha=2).tolist() == [50048.0, 327.25]
    assert tg.rsub(-y, x, alpha=2).tolist() == [50048.0, 327.25]
    assert tg.rsub(-y, -20608.0, alpha=2).tolist()[0] == 50048.0
    assert tg.add(x, y, alpha=0.1).tolist()[1] == -53.21875   # (-53.2299 rounded once)
    z = tg.add(x, y, alpha=2)
    assert z.dtype is tg.float16
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="add: value cannot be converted to type float16"):
        tg.add(x, y, alpha=1e30)


def test_maximum_and_minimum_split_the_gradient_evenly_on_ties():
    for fn in (tg.maximum, tg.minimum):
        x = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
        y = tg.tensor([2.0, 2.0, 2.0], dtype=tg.float64, requires_grad=True)
        fn(x, y).sum().backward()
        expected_x = [0.0, 0.5, 1.0] if fn is tg.maximum else [1.0, 0.5, 0.0]
        assert x.grad.tolist() == expected_x
        assert y.grad.tolist() == [1 - g for g in expected_x]


def test_maximum_and_minimum_give_the_whole_gradient_to_both_inputs_where_one_is_nan():
    nan = float("nan")
    for fn in (tg.maximum, tg.minimum):   # neither input lost, so neither gets 0 (PyTorch's rule)
        x = tg.tensor([nan, 1.0, nan], requires_grad=True)
        y = tg.tensor([1.0, nan, nan], requires_grad=True)
        fn(x, y).backward(tg.tensor([1.0, 2.0, 3.0]))
        assert x.grad.tolist() == [1.0, 2.0, 3.0] and y.grad.tolist() == [1.0, 2.0, 3.0]


def test_pow_with_a_positive_exponent_has_zero_exponent_gradient_at_base_zero():
    x = tg.tensor([0.0, 2.0], dtype=tg.float64)
    p = tg.tensor(2.0, dtype=tg.float64, requires_grad=True)
    (x ** p).sum().backward()
    assert p.grad.item() == pytest.approx(4 * np.log(2.0))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # 0 ** -1 on the way
def test_the_square_s_gradient_from_a_sum_is_two_x_in_x_s_dtype_and_leaves_x_alone():
    # the sum hands back its gradient broadcast (stride 0); the square's backward multiplies
    # its fresh 2x by it in place
    x = tg.randn(4, 5)
    before = x.clone()
    x.requires_grad_()
    (x ** 2).sum().backward()
    assert x.grad.dtype == tg.float32
    assert tg.equal(x.grad, 2 * before) and tg.equal(x.detach(), before)


def test_the_zeroth_power_has_zero_gradient_even_at_zero():
    x = tg.tensor([0.0, 1.5], dtype=tg.float64, requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_zero_tensor_exponent_has_zero_base_gradient_even_at_zero():
    x = tg.tensor([0.0, 1.5], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([0.0, 0.0], dtype=tg.float64, requires_grad=True)
    (x ** y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_a_negative_tensor_exponent_of_a_zero_base_has_exponent_gradient_minus_infinity():
    x = tg.tensor([0.0, 0.0], dtype=tg.float64)
    y = tg.tensor([-1.5, 2.0], dtype=tg.float64, requires_grad=True)
    (x ** y).sum().backward()   # 0^-1.5·ln 0 = ∞·(-∞), as in PyTorch; 0 for y ≥ 0
    assert y.grad.tolist() == [-np.inf, 0.0]


def test_square_root_as_a_power_keeps_the_sign_of_minus_zero_as_pytorch_does():
    x = tg.tensor([-0.0, 0.0, 4.0], requires_grad=True)
    y = x ** 0.5   # √x, and its slope 0.5/√x: -∞ at -0.0
    assert np.signbit(y.detach().numpy()).tolist() == [True, False, False]
    y.sum().backward()
    assert x.grad.tolist() == [-np.inf, np.inf, 0.25]


def test_the_square_s_slope_is_g_times_2x_as_pytorch_writes_it():
    # g·(2x), not (g·x)·2: 2x overflows float32 at x = 3e38 even where g = 0.25 would not
    for square in (lambda x: x ** 2, tg.square, lambda x: x.square(),
                   lambda x: x.clone().square_()):
        x = tg.tensor([3e38, -3e38, 2.0], requires_grad=True)
        square(x).backward(tg.tensor([0.25, 0.25, 0.25]))
        assert x.grad.tolist() == [math.inf, -math.inf, 1.0]


def test_the_power_minus_two_is_one_over_x_times_x_as_pytorch():
    # 1/(x·x): x·x overflows float32 at 2e19 and the result is 0 (pow gives 2.5e-39); the
    # slope of 1/x is -x⁻², so it is -0 there too. float16 keeps pow (x·x = 90000 is ∞
    # in float16, x⁻² = 1.1e-5 is not)
    x = tg.tensor([2e19, -2e19, 0.5, 0.0], requires_grad=True)
    assert (x ** -2).tolist() == [0.0, 0.0, 4.0, math.inf]
    (x ** -1).backward(tg.ones(4))
    assert x.grad.tolist() == [-0.0, -0.0, -4.0, -math.inf]
    assert (tg.tensor([2e19], dtype=tg.float64) ** -2).item() == pytest.approx(2.5e-39)
    assert (tg.tensor([300.0], dtype=tg.float16) ** -2).item() == pytest.approx(1.111e-5, rel=3e-3)


def test_an_operand_that_does_not_require_grad_gets_no_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, 4.0])
    (x * y).sum().backward()
    assert y.grad is None and x.grad.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_gradients_have_their_inputs_dtype(op):
    x = tg.tensor([0.5, 1.5], dtype=tg.float32, requires_grad=True)
    y = tg.tensor([1.25, 0.75], dtype=tg.float64, requires_grad=True)
    out = getattr(tg, op)(x, y)
    assert out.dtype is tg.float64
    out.sum().backward()
    assert x.grad.dtype is tg.float32 and y.grad.dtype is tg.float64


def test_broadcast_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(RuntimeError, match=r"add.*\(2, 3\).*\(4,\)"):
        tg.ones(2, 3) + tg.ones(4)
    with pytest.raises(RuntimeError, match=r"mul.*\(2, 3\).*\(2,\)"):
        tg.ones(2, 3) * np.ones(2)
    with pytest.raises(RuntimeError, match=r"lt.*\(3,\).*\(2,\)"):
        tg.ones(3) < tg.ones(2)


# -- where ---------------------------------------------------------------------------------
def test_where_picks_from_input_where_true_and_other_where_false():
    condition = tg.tensor([True, False, True])
    out = tg.where(condition, tg.tensor([1.0, 2.0, 3.0]), tg.tensor([-1.0, -2.0, -3.0]))
    assert out.tolist() == [1.0, -2.0, 3.0]
    assert tg.where(condition, tg.tensor([1.0, 2.0, 3.0]), 0.0).tolist() == [1.0, 0.0, 3.0]


def test_where_gradient_goes_to_the_chosen_input():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = tg.tensor(5.0, requires_grad=True)
    tg.where(tg.tensor([True, False, False]), x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0] and y.grad.item() == 2.0


def test_where_needs_a_bool_condition():
    # PyTorch raises RuntimeError; a TypeError is as clear (see the report).
    with pytest.raises((TypeError, RuntimeError), match="condition.*bool"):
        tg.where(tg.tensor([1.0, 0.0]), tg.ones(2), tg.zeros(2))


def test_where_names_all_three_shapes_when_they_do_not_broadcast():
    with pytest.raises(RuntimeError, match=r"where.*\(3,\).*\(2,\).*\(2,\)"):
        tg.where(tg.tensor([True, False, True]), tg.ones(2), tg.zeros(2))


def test_where_with_two_numbers():
    out = tg.where(tg.tensor([True, False]), 1.0, 0.0)
    assert out.dtype is tg.float32 and out.tolist() == [1.0, 0.0]


# -- comparisons and logic -----------------------------------------------------------------
def test_comparisons_give_bool_tensors_without_gradient():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = tg.tensor([2.0, 2.0, 2.0])
    results = {
        "<": (x < y, [True, False, False]), "<=": (x <= y, [True, True, False]),
        ">": (x > y, [False, False, True]), ">=": (x >= y, [False, True, True]),
        "==": (x == y, [False, True, False]), "!=": (x != y, [True, False, True]),
        "number on the right": (x > 1.5, [False, True, True]),
        "number on the left": (1.5 < x, [False, True, True]),
        "numpy on the left": (np.array([3.0, 2.0, 1.0]) > x, [True, False, False]),
    }
    for label, (result, expected) in results.items():
        assert result.dtype is tg.bool, label
        assert not result.requires_grad and result.grad_fn is None, label
        assert result.tolist() == expected, label


def test_comparison_functions_match_the_operators():
    x, y = tg.tensor([1, 2, 3]), tg.tensor([3, 2, 1])
    for fn, expected in [(tg.eq, [False, True, False]), (tg.ne, [True, False, True]),
                         (tg.lt, [True, False, False]), (tg.le, [True, True, False]),
                         (tg.gt, [False, False, True]), (tg.ge, [False, True, True])]:
        assert fn(x, y).tolist() == expected
        assert getattr(x, fn.__name__)(y).tolist() == expected


def test_comparisons_broadcast():
    assert (tg.tensor([[1], [3]]) > tg.tensor([0, 2, 4])).tolist() == [[True, False, False],
                                                                       [True, True, False]]


def test_comparing_with_none_is_false_as_in_pytorch():
    x = tg.tensor([1.0])
    assert (x == None) is False  # noqa: E711 (the operator is what is tested)
    assert (x != None) is True  # noqa: E711


def test_isclose_allclose_and_equal():
    x = tg.tensor([1.0, 2.0, float("nan")])
    y = tg.tensor([1.0 + 1e-7, 2.1, float("nan")])
    assert tg.isclose(x, y).tolist() == [True, False, False]
    assert tg.isclose(x, y, equal_nan=True).tolist() == [True, False, True]
    assert tg.isclose(x, y, atol=0.2, equal_nan=True).tolist() == [True, True, True]
    assert tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0 + 1e-9])) is True
    assert tg.allclose(tg.tensor([1.0]), tg.tensor([1.1])) is False
    assert tg.equal(tg.tensor([1, 2]), tg.tensor([1, 2])) is True
    assert tg.equal(tg.tensor([1, 2]), tg.tensor([1, 3])) is False
    assert tg.equal(tg.tensor([1, 2]), tg.tensor([[1, 2]])) is False   # shapes differ


def test_logical_and_bitwise_operations():
    a, b = tg.tensor([True, True, False]), tg.tensor([True, False, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, False]
    assert (a ^ b).tolist() == [False, True, False]
    assert (~a).tolist() == [False, False, True]
    assert tg.logical_not(a).tolist() == [False, False, True]
    assert tg.logical_and(a, b).tolist() == [True, False, False]
    assert tg.logical_or(a, b).tolist() == [True, True, False]
    assert tg.logical_and(tg.tensor([2.0, 0.0]), tg.tensor([1.0, 1.0])).dtype is tg.bool
    assert (tg.tensor([6, 3]) & 5).tolist() == [4, 1]
    assert (~tg.tensor([0, 5])).tolist() == [-1, -6]


def test_a_quotient_may_be_changed_in_place_before_backward():
    # div saves its inputs, not its output (as PyTorch does).
    x, y = tg.randn(3, requires_grad=True), (tg.rand(3) + 1).requires_grad_()
    z = x / y
    z.mul_(2)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 / y.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), -2 * x.detach().numpy() / y.detach().numpy() ** 2,
                               rtol=1e-5)


# -- more of PyTorch's binary math -----------------------------------------------------------
def signed(*shape, low=0.5):
    """A float64 leaf with |values| in [low, 2) of alternating sign (no zeros near)."""
    array = np.asarray(values(*shape, low=low, high=2.0))
    return as_leaf(array * np.where(np.arange(array.size).reshape(array.shape) % 2, -1.0, 1.0))


def two_input_layouts(op, fn, make_x, make_y):
    return [Case(op, fn, [make_x(), make_y()]), Case(op, fn, [make_x(5), make_y(5)]),
            Case(op, fn, [make_x(3, 4), make_y(4)], name="broadcast_3x4,4"),
            Case(op, fn, [make_x(3, 1), make_y(1, 4)], name="broadcast_3x1,1x4"),
            Case(op, fn, [tg.from_numpy(np.asfortranarray(make_x(3, 4).detach().numpy()))
                          .requires_grad_(), make_y(3, 4)], name="noncontiguous")]


MORE_CASES = (
    two_input_layouts("rsub", lambda x, y: tg.rsub(x, y), leaf, leaf)
    + [Case("rsub", lambda x: 2 - x, [leaf(3)], name="reflected_number"),
       Case("rsub", lambda x: tg.rsub(x, 1.5, alpha=2), [leaf(2, 3)], name="alpha")]
    + two_input_layouts("lerp", lambda x, e: tg.lerp(x, e, 0.3), leaf, leaf)
    + [Case("lerp", lambda x, e, w: tg.lerp(x, e, w), [leaf(3, 4), leaf(4), leaf(3, 1)],
            name="tensor_weight"),
       Case("lerp", lambda x, e, w: x.lerp(e, w), [noncontiguous(3, 4), leaf(3, 4), leaf()],
            name="tensor_weight_noncontiguous")]
    + two_input_layouts("logaddexp", tg.logaddexp, leaf, leaf)
    + [Case("logaddexp", tg.logaddexp, [leaf(3), as_leaf([-0.3, 0.7, 1.1])], name="near_ties")]
    + two_input_layouts("logaddexp2", tg.logaddexp2, leaf, leaf)
    + two_input_layouts("ldexp", tg.ldexp, leaf, leaf)
    + [Case("ldexp", lambda x, y: x.ldexp(y), [leaf(2, 3), leaf()], name="0d_exponent"),
       Case("ldexp", lambda y: tg.ldexp(tg.tensor([1.5, -2.0], dtype=tg.float64), y), [leaf(3, 1)],
            name="exponent_alone")]
    + two_input_layouts("xlogy", tg.xlogy, leaf, positive)
    + [Case("xlogy", lambda y: tg.xlogy(2.5, y), [positive(3)], name="number_x")]
    + quotient_cases("fmod", lambda x, y: tg.fmod(x, y))
    + [Case("fmod", lambda x: x.fmod(-1.5), [quotient_away_from_integers(
            5, denominator=np.full(5, 1.5))[0]], name="by_number")]
    + two_input_layouts("copysign", tg.copysign, signed, signed)
    + [Case("nextafter", tg.nextafter, [leaf(3, 4), constant(4, low=8.0, high=12.0)], name="upwards"),
       Case("nextafter", tg.nextafter, [leaf(3, 1), leaf(1, 4, low=-12.0, high=-8.0)], name="broadcast")]
)
CASES = CASES + MORE_CASES


@pytest.mark.parametrize("case", MORE_CASES, ids=repr)
def test_gradcheck_of_more_binary_math(case):
    case.check()


def test_logaddexp_does_not_overflow_and_splits_ties_evenly():
    x = tg.tensor([1000.0, -1000.0, 0.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([1000.0, -1000.0, -800.0], dtype=tg.float64, requires_grad=True)
    z = tg.logaddexp(x, y)
    np.testing.assert_allclose(z.detach().numpy(), [1000 + np.log(2), -1000 + np.log(2), 0.0])
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.5, 1.0])
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(tg.logaddexp2(tg.tensor([3.0]), tg.tensor([3.0])).numpy(), [4.0])


def test_logaddexp_gradients_at_infinite_inputs_are_one_and_zero_not_nan():
    inf = float("inf")
    for fn in (tg.logaddexp, tg.logaddexp2):
        x = tg.tensor([inf, -inf, 1.0], requires_grad=True)
        y = tg.tensor([1.0, 2.0, -inf], requires_grad=True)
        fn(x, y).sum().backward()
        assert x.grad.tolist() == [1.0, 0.0, 1.0] and y.grad.tolist() == [0.0, 1.0, 0.0]


def test_logaddexp2_of_float16_sends_the_whole_gradient_to_a_far_larger_input():
    x = tg.tensor([7168.0], dtype=tg.float16, requires_grad=True)
    tg.logaddexp2(x, tg.tensor(0.8823, dtype=tg.float16)).sum().backward()
    assert x.grad.tolist() == [1.0]   # not 2^(x - z) with z rounded in float16


def test_xlogy_sends_zero_for_a_zero_gradient_even_where_log_y_is_infinite():
    x = tg.tensor([1e-30, -0.5], requires_grad=True)
    tg.xlogy(x, tg.tensor(0.0)).backward(tg.zeros(2))   # xlogy(grad, y), as in PyTorch
    assert x.grad.tolist() == [0.0, 0.0]


def test_xlogy_sends_zero_where_x_is_zero_and_y_not_positive_even_for_an_infinite_gradient():
    x = tg.tensor([0.0, 0.0], requires_grad=True)
    tg.xlogy(x, tg.tensor([0.0, -1.0])).backward(tg.tensor([float("inf")] * 2))
    assert x.grad.tolist() == [0.0, 0.0]


def test_ldexp_sums_the_gradient_of_a_broadcast_exponent_element_by_element():
    x = tg.tensor([-0.5, 2.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor(2000.0, dtype=tg.float64, requires_grad=True)
    tg.ldexp(x, y).sum().backward()   # -∞ + ∞, as PyTorch sums them, not (Σ x)·∞
    assert x.grad.tolist() == [np.inf, np.inf] and np.isnan(y.grad.item())


def test_ldexp_sums_a_float16_exponents_gradient_in_the_results_dtype_before_rounding_it():
    # each term g·z·ln 2 is past float16's range; PyTorch sums them in float32 and rounds the
    # sum to float16: -∞ + ∞ of the rounded terms would be NaN where the sum is finite or ∞
    x = tg.tensor([[-math.inf, 160000.0], [1e30, -159996.0], [-1e30, 1.0]])
    y = tg.tensor([1.0, 0.0], dtype=tg.float16, requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        tg.ldexp(x, y * 2).backward(tg.ones(3, 2))
    assert y.grad.dtype is tg.float16 and y.grad[0].item() == -math.inf
    np.testing.assert_allclose(y.grad[1].item(), 2 * 5.0 * np.log(2), rtol=2e-2)


def test_ldexp_takes_the_exponents_slope_from_the_rounded_result_as_pytorch():
    # x·2ʸ past float16's range is ±∞ and so is each term (g·z)·ln 2 of y's gradient:
    # ∞ - ∞ sums to NaN, as in PyTorch, not to the 0 of the finite terms (g·x)·(2ʸ·ln 2)
    x = tg.tensor([[12000.0], [-12000.0]], dtype=tg.float16).expand(2, 2)
    y = tg.tensor(2.78, requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        tg.ldexp(x, y).backward(tg.full((2, 2), 0.5, dtype=tg.float16))
    assert y.grad.dtype is tg.float32 and np.isnan(y.grad.item())
    # where z is finite, its slope is z·ln 2 summed
    x = tg.tensor([1.5, -3.0], requires_grad=True)
    y = tg.tensor(2.0, requires_grad=True)
    tg.ldexp(x, y).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    np.testing.assert_allclose(y.grad.item(), (6.0 - 12.0) * np.log(2), rtol=1e-6)


def test_ldexp_with_a_negative_integer_exponent_has_the_slope_two_to_that_power():
    x = tg.tensor([3.0, 3.0], requires_grad=True)
    tg.ldexp(x, tg.tensor([-1, 2])).sum().backward()   # PyTorch 2.13 gives 0 for 2^-1 (integer pow)
    assert x.grad.tolist() == [0.5, 4.0]


@pytest.mark.parametrize("name, base", [("logaddexp", math.e), ("logaddexp2", 2.0)])
def test_logaddexp_keeps_only_its_inputs_so_its_result_may_change_in_place(name, base):
    x = tg.tensor([0.0, 1.0, math.inf], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([1.0, 1.0, 1.0], dtype=tg.float64, requires_grad=True)
    z = getattr(tg, name)(x, y)
    z.mul_(2)
    z.sum().backward()
    share_of_x = 1 / (1 + base ** np.array([1.0, 0.0, -math.inf]))   # ∂z/∂x = 1/(1 + b^{y-x})
    np.testing.assert_allclose(x.grad.numpy(), 2 * share_of_x)
    np.testing.assert_allclose(y.grad.numpy(), 2 * (1 - share_of_x))


def test_a_quotient_may_change_in_place_before_backward():
    a = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([4.0, 8.0], dtype=tg.float64, requires_grad=True)
    y = a / b
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.25])
    np.testing.assert_allclose(b.grad.numpy(), [-2 / 16, -4 / 64])


def test_xlogy_is_zero_where_x_is_zero_even_at_y_zero_and_nan_with_a_nan_y():
    x = tg.tensor([0.0, 0.0, 2.0, 0.0], requires_grad=True)
    y = tg.tensor([0.0, 3.0, np.e, float("nan")], requires_grad=True)
    z = tg.xlogy(x, y)
    assert z.tolist()[:3] == [0.0, 0.0, pytest.approx(2.0)] and np.isnan(z.tolist()[3])
    z[:3].sum().backward()
    assert x.grad.tolist()[:2] == [0.0, pytest.approx(np.log(3))]
    assert np.isnan(y.grad.tolist()[0]) and y.grad.tolist()[1] == 0.0   # 0/0, as in PyTorch


def test_fmod_has_the_sign_of_the_dividend_unlike_remainder():
    x = tg.tensor([-3.0, 3.0, -3, 3])
    d = tg.tensor([2.0, -2.0, -2.0, 2.0])
    assert tg.fmod(x, d).tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert tg.remainder(x, d).tolist() == [1.0, -1.0, -1.0, 1.0]
    assert tg.fmod(tg.tensor([7, -7]), 3).tolist() == [1, -1]


def test_lerp_float_power_addcmul_addcdiv_ldexp_and_numpy_names():
    a, b = tg.tensor([0.0, 10.0]), tg.tensor([10.0, 20.0])
    assert tg.lerp(a, b, 0.25).tolist() == [2.5, 12.5]
    p = tg.float_power(tg.tensor([2, 3]), 2)
    assert p.dtype is tg.float64 and p.tolist() == [4.0, 9.0]
    assert tg.addcmul(a, a, b, value=0.5).tolist() == [0.0, 110.0]
    assert tg.addcdiv(a, b, b, value=2).tolist() == [2.0, 12.0]
    assert tg.ldexp(tg.tensor([1.5]), tg.tensor([3])).tolist() == [12.0]
    assert tg.copysign(tg.tensor([2, -3]), -1.0).tolist() == [-2.0, -3.0]
    assert tg.multiply is tg.mul and tg.divide is tg.div and tg.subtract is tg.sub
    assert tg.logical_xor(tg.tensor([True, False]), tg.tensor([True, True])).tolist() == [
        False, True]
    assert tg.bitwise_left_shift(tg.tensor([1, 3]), 2).tolist() == [4, 12]


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_with_a_rounding_mode_has_zero_gradients_even_where_the_divisor_is_0(mode):
    x = tg.tensor([0.5, -7.0, 3.0], requires_grad=True)
    y = tg.tensor([0.0, 2.0, 0.0], requires_grad=True)
    z = tg.div(x, y, rounding_mode=mode)
    z.backward(tg.tensor([1.0, math.inf, math.nan]))
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and y.grad.tolist() == [0.0, 0.0, 0.0]
    assert z.tolist() == [math.inf, -3.0 if mode == "trunc" else -4.0, math.inf]


def test_addcmul_and_addcdiv_multiply_before_summing_over_broadcast_dims_as_pytorch():
    # a broadcast t₂ = -∞ meets gradients of both signs: Σ gᵢ·t₂ is NaN (not t₂·Σ gᵢ = -∞)
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    t1 = tg.tensor([0.5], requires_grad=True)
    t2 = tg.tensor([-math.inf], requires_grad=True)
    tg.addcmul(x, t1, t2).backward(tg.tensor([[1.0, -1.0], [1.0, 1.0]]))
    assert math.isnan(t1.grad.item()) and t2.grad.tolist() == [1.0]
    t1 = tg.tensor([1.0], requires_grad=True)
    t2 = tg.tensor([0.0], requires_grad=True)
    tg.addcdiv(x, t1, t2).backward(tg.tensor([[1.0, -1.0], [1.0, 1.0]]))
    assert math.isnan(t2.grad.item()) and math.isnan(t1.grad.item())   # ±g/0 summed
    x, a, b = leaf(3, 2), leaf(2), leaf(3, 1)
    assert gradcheck(lambda x, a, b: tg.addcmul(x, a, b, value=0.5), (x, a, b))
    assert gradcheck(lambda x, a, b: tg.addcdiv(x, a, b.exp(), value=2), (x, a, b))
    # one operation each now: their second derivatives too, and non-contiguous operands
    x, a, b = noncontiguous(3, 2), leaf(2), leaf(3, 1)
    assert gradgradcheck(lambda x, a, b: tg.addcmul(x, a, b, value=0.5), (x, a, b))
    assert gradgradcheck(lambda x, a, b: tg.addcdiv(x, a, b.exp(), value=2), (x, a, b))


def test_div_gradient_for_the_divisor_is_minus_g_times_x_over_y_over_y_as_pytorch():
    # grouped -g·((x/y)/y): a zero gradient meets an overflowing (x/y)/y as NaN, and a
    # zero x gives -0 even where y² would underflow
    x = tg.tensor([-0.0049, 0.0, 1.0, 1.0], requires_grad=True)
    y = tg.tensor([1e-30, 1e-30, 3.0, 1e-30], requires_grad=True)
    (x / y).backward(tg.tensor([0.0, 1.0, 1.0, 1.0]))
    grad = y.grad.tolist()
    assert math.isnan(grad[0]) and grad[1] == 0.0 and grad[2] == pytest.approx(-1 / 9)
    assert grad[3] == -math.inf


def test_copysign_gives_the_sign_operand_a_zero_gradient_even_for_nan_or_inf_grads():
    x = tg.tensor([2.0, -3.0], requires_grad=True)
    sign = tg.tensor([-1.0], requires_grad=True)
    tg.copysign(x, sign).backward(tg.tensor([math.nan, math.inf]))
    assert sign.grad.tolist() == [0.0]


def test_true_division_of_integers_converts_each_operand_to_float_from_its_own_dtype():
    # not first to the integers' common dtype: -4 made uint8 would be 252
    four = tg.tensor([4], dtype=tg.uint8)
    assert tg.div(four, tg.tensor(-4)).tolist() == [-1.0]
    assert tg.true_divide(four, -4).tolist() == [-1.0]
    assert tg.atan2(four, tg.tensor(-4)).tolist() == [pytest.approx(3 * math.pi / 4)]


def test_lerp_starts_from_the_nearer_end_as_pytorch():
    # w ≥ 0.5: e - (e - x)(1 - w), exact at w = 1 and -inf (not inf - inf) for x = inf, w = 5
    inf = float("inf")
    x = tg.tensor([inf, 0.1, -inf], dtype=tg.float64)
    e = tg.tensor([-0.2, 0.7, 1.0], dtype=tg.float64)
    assert tg.lerp(x, e, tg.tensor([5.0, 1.0, 0.7], dtype=tg.float64)).tolist() == [
        -inf, 0.7, -inf]
    assert tg.lerp(x, e, 5.0).tolist()[0] == -inf
    assert tg.lerp(x, e, 1.0).tolist()[1] == 0.7


def test_lerp_of_float16_is_computed_in_float32_and_rounded_once_as_pytorch():
    # e - x = 7e4 overflows float16 on the way; the result 1.2e4 (-9e3) fits
    x = tg.tensor([-3e4, 0.0], dtype=tg.float16)
    e = tg.tensor([4e4, 0.0], dtype=tg.float16)
    assert tg.lerp(x, e, tg.tensor([0.6, 0.6], dtype=tg.float16)).tolist() == [12008.0, 0.0]
    assert tg.lerp(x, e, 0.3).tolist() == [-9000.0, 0.0]
    assert tg.lerp(x, e, 1e30).tolist() == [math.inf, 0.0]   # 0 - 0·(1 - 1e30), not 0·∞
    lerped = x.clone()
    lerped.lerp_(e, 0.3)
    assert lerped.dtype is tg.float16 and lerped.tolist() == [-9000.0, 0.0]


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2", "xlogy", "fmod", "copysign",
                                  "lerp", "rsub", "float_power"])
def test_more_binary_math_matches_pytorch_with_gradients(name):
    torch = pytest.importorskip("torch")
    x_values, y_values = np.array([-1.7, 0.3, 2.2, 4.1]), np.array([0.6, 1.9, -0.8, 2.5])
    if name == "xlogy":
        y_values = np.abs(y_values)
    extra = (0.3,) if name == "lerp" else ()
    results = []
    for lib in (tg, torch):
        x = lib.tensor(x_values, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(y_values, dtype=lib.float64, requires_grad=True)
        z = getattr(lib, name)(x.abs() if name == "float_power" else x, y, *extra)
        z.sum().backward()
        results.append([z.detach().numpy(), x.grad.numpy(), y.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_bit_shifts_of_floating_tensors_are_refused_by_name():
    with pytest.raises(TypeError, match="bitwise_left_shift: expects integer tensors"):
        tg.bitwise_left_shift(tg.randn(3), 1)
    assert tg.bitwise_right_shift(tg.tensor([4, 8]), 1).tolist() == [2, 4]


def test_ldexp_takes_a_python_number_as_a_0d_tensor():
    x = tg.tensor([1.0, 2.0])
    assert tg.ldexp(x, 2).tolist() == [4.0, 8.0]
    assert tg.ldexp(x, True).tolist() == [2.0, 4.0]
    assert tg.ldexp(x.double(), 0.5).tolist() == [2 ** 0.5, 2 * 2 ** 0.5]
    assert tg.ldexp(x.half(), 1).dtype is tg.float16
    assert tg.ldexp(tg.tensor([1, 2]), 3).tolist() == [8.0, 16.0]


def test_bit_shifts_promote_a_bool_against_an_integer_and_refuse_two_bools():
    b = tg.tensor([True, False])
    assert tg.bitwise_left_shift(b, 1).tolist() == [2, 0]
    assert tg.bitwise_left_shift(b, 1).dtype is tg.int64
    assert tg.bitwise_right_shift(tg.tensor([4, 5]), True).tolist() == [2, 2]
    shifted = tg.bitwise_left_shift(tg.tensor([1, 5], dtype=tg.uint8), tg.tensor([True, False]))
    assert shifted.dtype is tg.uint8 and shifted.tolist() == [2, 5]
    for other in (b, True):
        with pytest.raises(TypeError, match="bitwise_left_shift: .*two bool operands"):
            tg.bitwise_left_shift(b, other)


def test_a_python_int_outside_an_integer_dtype_wraps_as_in_pytorch():
    # the number is converted to the tensor's dtype first, modulo 2ⁿ: -1 is 255 for uint8
    u = tg.tensor([0, 1, 200], dtype=tg.uint8)
    assert (u + -1).tolist() == [255, 0, 199]
    assert (u * -1).tolist() == [0, 255, 56]
    assert tg.rsub(u, -1).tolist() == [255, 254, 55]
    assert (u + 300).tolist() == [44, 45, 244]
    assert (u | -1).tolist() == [255, 255, 255]
    assert (u // -1).tolist() == [0, 0, 0]
    assert (u >= -1).tolist() == [False, False, False]      # u >= 255
    assert u.clamp_max(-1).tolist() == [0, 1, 200]          # min(u, 255)
    assert u.where(u > 0, -1).tolist() == [255, 1, 200]
    assert (tg.tensor([1], dtype=tg.int8) + 200).tolist() == [-55]
    assert u.new_full((2,), -1).tolist() == [255, 255]
    assert u.clone().fill_(-1).tolist() == [255, 255, 255]
    assert u.masked_fill(u > 0, -1).tolist() == [0, 255, 255]


def test_a_python_int_keeps_its_value_where_an_integer_op_gives_floats():
    u = tg.tensor([0, 1, 200], dtype=tg.uint8)
    assert (u / -1).tolist() == [-0.0, -1.0, -200.0]
    assert tg.copysign(u, -1).tolist() == [-0.0, -1.0, -200.0]


def test_a_number_that_fits_no_integer_of_the_width_is_refused_by_name():
    u = tg.tensor([0, 1], dtype=tg.uint8)
    with pytest.raises(RuntimeError, match=r"masked_fill: .* uint8 .*\(the value 300\)"):
        u.masked_fill(u > 0, 300)
    with pytest.raises(RuntimeError, match=r"full: .* uint8 .*\(the value 300\)"):
        tg.full((2,), 300, dtype=tg.uint8)
    with pytest.raises(RuntimeError, match="cannot be converted to uint8"):
        u + 2 ** 70


def test_rsub_and_lerp_of_bools_are_refused_by_name():
    b = tg.tensor([True, False])
    for call in (lambda: tg.rsub(b, b), lambda: tg.rsub(tg.tensor([1.0]), True),
                 lambda: tg.tensor([1.0]) - True):
        with pytest.raises(RuntimeError, match="subtraction .* with a bool"):
            call()
    for weight in (b, 0.5):
        with pytest.raises(RuntimeError, match="lerp: interpolating between bools"):
            tg.lerp(b, b, weight)


def test_nextafter_passes_the_gradient_to_x_and_zero_to_the_direction_as_in_pytorch():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor(3.0, requires_grad=True)
    z = tg.nextafter(x, y)
    assert z.requires_grad and (z > x).all()
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.item() == 0.0


def test_nextafter_gives_x_no_gradient_where_x_equals_the_direction_as_in_pytorch():
    # nextafter(x, x) is x's direction itself, so x gets 0 there (also from a NaN gradient)
    x = tg.tensor([[0.0, -0.5, 1e-30], [2.0, 2.0, 5.0]], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([0.0, 0.0, 1e-30], dtype=tg.float64, requires_grad=True)
    tg.nextafter(x, y).backward(tg.tensor([[1.0, 2.0, float("nan")], [4.0, 5.0, 6.0]],
                                          dtype=tg.float64))
    assert x.grad.tolist() == [[0.0, 2.0, 0.0], [4.0, 5.0, 6.0]]
    assert y.grad.tolist() == [0.0, 0.0, 0.0]
    assert gradcheck(lambda a: tg.nextafter(a, y.detach()), (as_leaf([[0.5, -0.5, 2.0]]),))


def test_xlogy_with_a_nan_number_gives_x_the_slope_zero_where_x_is_zero_as_in_pytorch():
    x = tg.tensor([0.0, -0.0, 2.0], requires_grad=True)
    z = tg.xlogy(x, float("nan"))
    z.backward(tg.tensor([0.7, 1.0, 1.0]))
    assert np.isnan(z.detach().numpy()).all()
    assert x.grad.tolist()[:2] == [0.0, 0.0] and math.isnan(x.grad.tolist()[2])
    x = tg.tensor([0.0], requires_grad=True)   # a NaN tensor y: NaN, as in PyTorch
    tg.xlogy(x, tg.tensor([float("nan")])).backward(tg.tensor([1.0]))
    assert math.isnan(x.grad.item())


def test_pow_to_an_exponent_tensor_of_one_half_is_c_pow_as_pytorch():
    # C's pow(-∞, 0.5) is +∞ and pow(-0.0, 0.5) +0.0 (numpy would take √: NaN, -0.0); a
    # number exponent 0.5 is √x in PyTorch, so there NaN and -0.0 stay
    x = tg.tensor([-math.inf, -0.0, 4.0, math.inf], dtype=tg.float64)
    for half in (tg.tensor([0.5], dtype=tg.float64), tg.tensor(0.5, dtype=tg.float64)):
        z = tg.pow(x, half)
        assert z.tolist() == [math.inf, 0.0, 2.0, math.inf]
        assert math.copysign(1.0, z[1].item()) == 1.0
    assert tg.float_power(x.float(), tg.tensor([0.5])).tolist() == [math.inf, 0.0, 2.0, math.inf]
    z = tg.pow(x, 0.5)
    assert math.isnan(z[0].item()) and math.copysign(1.0, z[1].item()) == -1.0


def test_pow_to_a_repeated_exponent_of_one_half_is_c_pow_whatever_its_shape():
    # numpy takes √x wherever the exponent repeats along its loop: an expanded (stride-0)
    # exponent of x's own shape, a (1, 1) one broadcast over x, a (1, 3) one expanded down
    # the rows; a full exponent that varies takes C's pow, and one element is mended too
    x = tg.tensor([[-math.inf, -0.0, 4.0]] * 2, dtype=tg.float64)
    halves = (tg.tensor(0.5, dtype=tg.float64).expand(2, 3),
              tg.full((1, 1), 0.5, dtype=tg.float64),
              tg.full((1, 3), 0.5, dtype=tg.float64).expand(2, 3),
              tg.tensor([[0.5, 0.5, 2.0]] * 2, dtype=tg.float64))
    for half, expected in zip(halves, [[math.inf, 0.0, 2.0]] * 3 + [[math.inf, 0.0, 16.0]]):
        z = tg.pow(x, half)
        assert z.tolist() == [expected] * 2
        assert not np.signbit(z.numpy()).any()
    for dtype in (tg.float32, tg.float64):   # a 0-d base and exponent, one value each
        half = tg.tensor(0.5, dtype=dtype)
        assert tg.pow(tg.tensor(-math.inf, dtype=dtype), half).item() == math.inf
        assert math.copysign(1.0, tg.pow(tg.tensor(-0.0, dtype=dtype), half).item()) == 1.0


def test_pow_of_float16_to_plus_minus_one_half_follows_c_pow_as_pytorch():
    # PyTorch's float16 pow takes C's pow (-0.0 → +0.0 and +∞, -∞ → +∞), its float32 and
    # float64 pow takes √x (-0.0 → -0.0 and -∞, -∞ → NaN)
    values = [-math.inf, -0.0, 4.0]
    half = tg.tensor(values, dtype=tg.float16)
    assert half.pow(0.5).tolist() == [math.inf, 0.0, 2.0]
    assert np.signbit(half.pow(0.5).numpy()).tolist() == [False, False, False]
    assert half.pow(-0.5).tolist() == [0.0, math.inf, 0.5]
    single = tg.tensor(values).pow(0.5).numpy()
    assert math.isnan(single[0]) and np.signbit(single[1]) and single[2] == 2.0
    assert tg.tensor(values).pow(-0.5).tolist()[1:] == [-math.inf, 0.5]


def test_integer_division_of_an_empty_result_meets_no_zero_divisor():
    assert tg.floor_divide(tg.zeros(0, 4, dtype=tg.int64), 0).shape == (0, 4)
    divisor = tg.tensor([[[4, 2, 0]]], dtype=tg.uint8)
    assert tg.fmod(tg.zeros(3, 0, 3, dtype=tg.uint8), divisor).shape == (3, 0, 3)
    with pytest.raises(RuntimeError, match="integer division by zero"):
        tg.fmod(tg.ones(1, 1, 3, dtype=tg.uint8), divisor)


def test_alpha_wraps_into_an_integer_dtype_and_a_float_alpha_is_refused_for_one():
    a, b = tg.tensor([2, 4], dtype=tg.uint8), tg.tensor([5, 5], dtype=tg.uint8)
    assert tg.sub(a, b, alpha=-1).tolist() == [7, 9]        # α = -1 is 255: a + b mod 256
    assert tg.add(a, b, alpha=-1).tolist() == [253, 255]
    with pytest.raises(RuntimeError, match="rsub: for integral input tensors"):
        tg.rsub(a, b, alpha=0.5)
    assert tg.rsub(tg.tensor(4, dtype=tg.uint8), tg.tensor([1.0, 2.0]), alpha=0.5).tolist() == \
        [-1.0, 0.0]                                           # the promoted dtype is float
    assert tg.rsub(tg.tensor([1, 2], dtype=tg.uint8), 3, alpha=-1).tolist() == [4, 5]


def test_mvlgamma_of_a_bool_tensor_is_refused_by_name():
    with pytest.raises(RuntimeError, match="mvlgamma: the input may not be a bool tensor"):
        tg.mvlgamma(tg.tensor([True]), 1)


# -- dtype rules and refusals, as PyTorch's -------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: tg.sub(tg.tensor([1, 2]), False), lambda: tg.subtract(tg.tensor([1.0]), True),
    lambda: tg.rsub(tg.tensor([5, 3]), False), lambda: tg.tensor([1.0, 2.0]).sub_(True),
    lambda: tg.tensor([1.0]) - True, lambda: True - tg.tensor([1.0])])
def test_subtraction_with_a_python_bool_is_refused_as_with_a_bool_tensor(call):
    with pytest.raises(RuntimeError, match=r"subtraction \(the - operator\) with a bool"):
        call()


def test_a_bool_alpha_only_scales_a_bool_result():
    with pytest.raises(RuntimeError, match="add: a bool alpha .* got float32"):
        tg.add(tg.ones(2), 1, alpha=True)
    with pytest.raises(RuntimeError, match="sub: a bool alpha"):
        tg.sub(tg.tensor([3, 4]), 1, alpha=False)
    assert tg.add(tg.tensor([True, False]), tg.tensor([False, False]), alpha=True).tolist() == [
        True, False]


def test_lerp_wants_floats_of_one_dtype_but_takes_a_0d_weight_of_any_dtype():
    x, e = tg.tensor([0.0, 10.0]), tg.tensor([10.0, 20.0])
    with pytest.raises(RuntimeError, match="lerp: expected a floating point input, got int32"):
        tg.lerp(tg.tensor([1, 2], dtype=tg.int32), tg.tensor([3, 4], dtype=tg.int32), 0.5)
    with pytest.raises(RuntimeError, match="lerp: expected end of the input's dtype float32, "
                                           "got float64"):
        tg.lerp(x, e.double()[0], 0.5)
    with pytest.raises(RuntimeError, match="expected weight of the input's dtype float32, "
                                           "got float64"):
        tg.lerp(x, e, tg.tensor([0.5, 0.5], dtype=tg.float64))
    z = tg.lerp(x, e, tg.tensor(0.25, dtype=tg.float64))   # a 0-d weight is a number
    assert z.dtype is tg.float32 and z.tolist() == [2.5, 12.5]
    assert tg.lerp(x, 20.0, tg.tensor([1.0, 0.0])).tolist() == [20.0, 10.0]   # a number end


def test_addcmul_and_addcdiv_promote_their_three_tensors_together_and_not_the_value():
    i = tg.tensor([1, 2, 3])
    z = tg.addcmul(i, i, i, value=-1.5)   # an integer result truncates the value to -1
    assert z.dtype is tg.int64 and z.tolist() == [0, -2, -6]
    z = tg.addcmul(i, i, i, value=tg.tensor(2.5))   # a 0-d value without grad is its number
    assert z.dtype is tg.int64 and z.tolist() == [3, 10, 21]
    # float32 input, int32 tensor1, float64 0-d tensor2: float32, as PyTorch (not float64)
    z = tg.addcdiv(tg.tensor([1.0, 2.0]), tg.tensor([1, 2], dtype=tg.int32),
                   tg.tensor(2.0, dtype=tg.float64))
    assert z.dtype is tg.float32 and z.tolist() == [1.5, 3.0]


def test_addcmul_value_as_a_tensor_that_requires_grad_gets_its_gradient():
    x, t1, t2 = tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]), tg.tensor([5.0, 6.0])
    value = tg.tensor(2.0, requires_grad=True)
    tg.addcmul(x, t1, t2, value=value).sum().backward()
    assert value.grad.item() == 3 * 5 + 4 * 6


def test_addcdiv_of_two_integer_tensors_is_refused_by_name():
    with pytest.raises(RuntimeError, match="addcdiv: integer division is not supported "
                                           r"\(tensor1 is int64, tensor2 bool\)"):
        tg.addcdiv(tg.ones(2), tg.tensor([1, 2]), tg.tensor([True, True]))
    assert tg.addcdiv(tg.tensor([1, 1]), tg.tensor([1.0, 3.0]), tg.tensor([2, 2])).tolist() == [
        1.5, 2.5]


def test_ldexp_keeps_a_float16_input_with_integer_exponents():
    z = tg.ldexp(tg.tensor([1.5], dtype=tg.float16), tg.tensor([3]))
    assert z.dtype is tg.float16 and z.tolist() == [12.0]
    assert tg.ldexp(tg.tensor([1, 2]), tg.tensor([1, 1])).dtype is tg.float32


def test_bools_to_bool_powers_stay_bool():
    b = tg.tensor([True, False])
    assert tg.pow(b, True).dtype is tg.bool and tg.pow(b, True).tolist() == [True, False]
    assert tg.pow(b, False).tolist() == [True, True]
    assert tg.pow(b, tg.tensor([False, True])).tolist() == [True, False]
    assert tg.pow(True, b).dtype is tg.bool
    assert tg.pow(b, 2).dtype is tg.int64   # an int power is a count: int64


def test_rsub_of_integers_refuses_a_float_alpha_as_sub_does():
    with pytest.raises(RuntimeError, match="rsub: for integral input tensors .* alpha=0.5"):
        tg.rsub(tg.tensor([1, 2]), 2, alpha=0.5)
    assert tg.rsub(tg.tensor([1, 2]), 2, alpha=2).tolist() == [0, -2]


def test_ldexp_takes_a_number_exponent_as_the_0d_tensor():
    z = tg.ldexp(tg.tensor([1.5], dtype=tg.float16), 3)
    assert z.dtype is tg.float16 and z.tolist() == [12.0]
    assert tg.ldexp(tg.tensor([1, 2]), 1).tolist() == [2.0, 4.0]
    assert tg.ldexp(tg.tensor([1.0]), 5000).tolist() == [float("inf")]


def test_rsub_of_integers_with_a_float_number_takes_a_float_alpha():
    assert tg.rsub(tg.tensor([2, 4]), 0.0, alpha=0.5).tolist() == [-1.0, -2.0]


def test_nextafter_gives_the_direction_zeros_even_where_the_gradient_is_nan():
    x = tg.tensor([1.0], requires_grad=True)
    y = tg.tensor([3.0], requires_grad=True)
    tg.nextafter(x, y).backward(tg.tensor([float("nan")]))
    assert y.grad.tolist() == [0.0]


def test_float16_times_a_number_float16_cannot_hold_is_computed_in_float32_as_pytorch():
    # 1e5 and 1e30 overflow float16; PyTorch multiplies by them in float32 and rounds once
    x = tg.tensor([0.0, 1e-5, 2.0, 0.001], dtype=tg.float16, requires_grad=True)
    y = x * 1e5
    assert y.dtype == tg.float16 and y.tolist() == [0.0, 1.0009765625, math.inf, 100.0625]
    assert tg.mul(x, 1e30).tolist()[0] == 0.0   # not 0·∞ = NaN
    y.backward(tg.tensor([1e-5, 0.0, 1.0, 1.0], dtype=tg.float16))
    assert x.grad.tolist() == [1.0009765625, 0.0, math.inf, math.inf]
    inplace = tg.tensor([0.0, 1e-5], dtype=tg.float16)
    inplace.mul_(100000)
    assert inplace.tolist() == [0.0, 1.0009765625]


def test_float16_divided_by_a_number_float16_cannot_hold_is_computed_in_float32_as_pytorch():
    # 1e30 is ∞ in float16 (∞ / ∞ would be NaN); PyTorch divides by it in float32
    inf = math.inf
    x = tg.tensor([inf, -inf, 1.0, 0.0], dtype=tg.float16, requires_grad=True)
    y = x / 1e30
    assert y.dtype == tg.float16 and y.tolist() == [inf, -inf, 0.0, 0.0]
    assert tg.div(x, 1e30, rounding_mode="trunc").tolist() == [inf, -inf, 0.0, 0.0]
    assert tg.div(x, 1e30, rounding_mode="floor").tolist()[2:] == [0.0, 0.0]
    # 0.1 in float32 is 0.10000000149: -3 / 0.1 floors to -30 (in float16 0.1 is 0.09998: 10, -31)
    assert tg.floor_divide(tg.tensor([1.0, -3.0], dtype=tg.float16), 0.1).tolist() == [9.0, -30.0]
    y.backward(tg.ones(4, dtype=tg.float16))
    assert x.grad.tolist() == [0.0] * 4   # 1e-30, rounded to float16 once
    tg.div(x, 1e30, rounding_mode="trunc").backward(tg.ones(4, dtype=tg.float16))
    assert x.grad.tolist() == [0.0] * 4
    for inplace in (tg.tensor([inf, 1e-3], dtype=tg.float16),
                    tg.tensor([inf, 1e-3], dtype=tg.float16, requires_grad=True) * 1):
        inplace.div_(1e30)
        assert inplace.tolist() == [inf, 0.0]


def test_ldexp_takes_two_to_a_float_exponent_in_the_exponents_own_dtype():
    # PyTorch: 2^58.4 in float16 is ∞, even against a float64 x; an integer exponent's power
    # is taken in the result's dtype (2^200 fits float64)
    x = tg.tensor([-0.5, 3.0], dtype=tg.float64)
    assert tg.ldexp(x, tg.tensor([58.4, 1.0], dtype=tg.float16)).tolist() == [-math.inf, 6.0]
    assert tg.ldexp(x, tg.tensor([200, 1])).tolist() == [-0.5 * 2.0 ** 200, 6.0]
    y = tg.tensor([0.5], dtype=tg.float32)   # float32 2^0.1 times a float64 x
    assert tg.ldexp(tg.tensor([1.0], dtype=tg.float64), y * 0.2).item() == float(
        np.float32(2.0) ** np.float32(0.1))
    # a 0-d float16 exponent is taken in the result's dtype first (PyTorch: 2.48e17, not -∞)
    assert tg.ldexp(tg.tensor(-0.5, dtype=tg.float64),
                    tg.tensor(58.41, dtype=tg.float16)).item() == -0.5 * 2.0 ** float(
                        np.float16(58.41))
    assert tg.ldexp(tg.ones(2, dtype=tg.float16), tg.tensor(0.5)).dtype == tg.float16
    # and so against a float32 x (PyTorch there: ∞, its float16 2^26.31)
    z = tg.ldexp(tg.tensor(1.66308), tg.tensor(26.31, dtype=tg.float16))
    assert z.dtype is tg.float32 and z.item() == pytest.approx(1.66308 * 2 ** 26.3125, rel=1e-6)


def test_float16_addcmul_and_addcdiv_are_computed_in_float32_and_rounded_once():
    # PyTorch's CPU kernel: x + value·t₁·t₂ in float32 (t₁·t₂ = 1e5 passes float16's 65504
    # on the way), value 1e30 as float32 (not float16's ∞, whose 0·∞ would be NaN)
    x = tg.tensor([1.0, 2.0], dtype=tg.float16)
    t1 = tg.tensor([400.0, 1.0], dtype=tg.float16)
    t2 = tg.tensor([250.0, -math.inf], dtype=tg.float16)
    assert tg.addcmul(x, t1, t2, value=0.5).tolist() == [50016.0, -math.inf]   # 50001
    assert tg.addcdiv(x, t1, t2, value=1e30).tolist() == [math.inf, 2.0]


def test_addcmul_and_addcdiv_scale_t1_by_value_first_as_pytorch():
    # (value·t₁)·t₂ and (value·t₁)/t₂: 1e30·1e30 overflows float32 before t₂ can bring it
    # back, and 1e-30/1e30 does not underflow before value brings it back
    x = tg.zeros(2)
    t1, t2 = tg.tensor([1e30, 1e-30]), tg.tensor([1e-30, 1e30])
    assert tg.addcmul(x, t1, t2, value=1e30).tolist() == [math.inf, pytest.approx(1e30)]
    assert tg.addcdiv(x, t1, tg.tensor([-math.inf, 1e30]), value=1e30).tolist()[1] == \
        pytest.approx(1e-30)
    assert math.isnan(tg.addcdiv(x, t1, tg.tensor([-math.inf, 1.0]), value=1e30)[0].item())
    x64 = tg.zeros(1, dtype=tg.float64)
    assert tg.addcdiv(x64, tg.tensor([1e300], dtype=tg.float64),
                      tg.tensor([1e300], dtype=tg.float64), value=1e300).item() == math.inf


def test_addcdiv_of_float16_and_a_0d_float32_divisor_takes_its_slopes_in_float32():
    # t₁/t₂² = 7.8e5 fits float32 (PyTorch forms it from the 0-d operands' own dtype): a zero
    # g gives 0, not 0·∞; a g of 1 rounds to float16's -∞ once
    for g, expected in ((0.0, 0.0), (1.0, -math.inf)):
        t1 = tg.tensor(9550.0, dtype=tg.float16)
        t2 = tg.tensor(-0.1104, requires_grad=True)
        tg.addcdiv(tg.zeros(3, dtype=tg.float16), t1, t2).backward(
            tg.full((3,), g, dtype=tg.float16))
        assert t2.grad.dtype is tg.float32 and t2.grad.item() == expected


def test_addcmul_and_addcdiv_form_an_integer_operands_slope_in_the_default_float_dtype():
    # PyTorch's backward multiplies the uint8 t₁ (or t₂) by the float value in float32 (an
    # integer tensor times a Python float): 2·1e30 is finite there, where float16's ∞ would
    # meet a zero gradient as 0·∞ = NaN; a nonzero gradient rounds to float16's ∞ once
    ints = tg.tensor([2], dtype=tg.uint8)
    for g, expected in ((0.0, 0.0), (1.0, math.inf)):
        for op, other_slope in ((tg.addcmul, 1.0), (tg.addcdiv, -1 / 16)):
            t = tg.tensor([4.0], dtype=tg.float16, requires_grad=True)
            op(tg.zeros(1, dtype=tg.float16), ints, t, value=1e30).backward(
                tg.full((1,), g, dtype=tg.float16))
            assert t.grad.dtype is tg.float16
            assert t.grad.item() == (expected if g == 0 else math.copysign(math.inf, other_slope))
        t = tg.tensor([4.0], dtype=tg.float16, requires_grad=True)   # the integer as t₂
        tg.addcmul(tg.zeros(1, dtype=tg.float16), t, ints, value=1e30).backward(
            tg.full((1,), g, dtype=tg.float16))
        assert t.grad.item() == expected


def test_addcdiv_differentiates_t2_as_pytorch_writes_it():
    # -g·value·t₁/(t₂·t₂): t₂² overflows float16 at 6470 and ∞/∞ is NaN, as in PyTorch
    t1 = tg.tensor([math.inf, 3.0], dtype=tg.float16, requires_grad=True)
    t2 = tg.tensor([6470.0, 2.0], dtype=tg.float16, requires_grad=True)
    tg.addcdiv(tg.zeros(2, dtype=tg.float16), t1, t2).backward(tg.ones(2, dtype=tg.float16))
    assert math.isnan(t2.grad.tolist()[0]) and t2.grad.tolist()[1] == -0.75
    assert t1.grad.tolist() == [float(np.float16(1 / np.float16(6470.0))), 0.5]
    t2 = tg.tensor([-0.01706], dtype=tg.float16, requires_grad=True)   # 2·18.61/t₂² is ∞
    tg.addcdiv(tg.zeros(1, dtype=tg.float16), tg.tensor([18.61], dtype=tg.float16), t2,
               value=2).backward(tg.zeros(1, dtype=tg.float16))
    assert math.isnan(t2.grad.item())   # 0·∞, as PyTorch


def test_a_zero_remainder_has_the_sign_of_the_dividend_as_pytorch():
    x = tg.tensor([-0.0, 0.0, -0.0, 0.0, -3.0, 3.0, 3.0, -3.0])
    y = tg.tensor([0.5, 0.5, -0.5, -0.5, 1.5, 1.5, -1.5, -1.5])
    z = tg.remainder(x, y)
    assert z.tolist() == [0.0] * 8   # (log or 1/z after it sees the sign)
    assert np.signbit(z.numpy()).tolist() == [True, False, True, False, True, False, False, True]


def test_a_zero_remainder_among_other_results_has_the_sign_of_the_dividend():
    # zeros are looked for only when some result is 0: one among nonzero and NaN results,
    # with a broadcast divisor, and a 0-d one
    x = tg.tensor([[-3.0, 5.0, math.nan, 3.0]], dtype=tg.float64)
    z = tg.remainder(x, tg.tensor([[1.5], [-1.5]], dtype=tg.float64))
    np.testing.assert_array_equal(z.numpy(), [[0.0, 0.5, np.nan, 0.0], [0.0, -1.0, np.nan, 0.0]])
    assert np.signbit(z.numpy()[:, [0, 1, 3]]).tolist() == [[True, False, False],
                                                            [True, True, False]]
    assert math.copysign(1.0, tg.remainder(tg.tensor(-2.0), tg.tensor(1.0)).item()) == -1.0


def test_float16_times_a_wide_0d_tensor_is_computed_in_float32_and_rounded_once():
    # PyTorch takes a 0-d float64 other as a number (in float32): 0.2·1.1e5 = 2.2e4 fits
    # float16, where 1.1e5 rounded to float16 first would be ∞
    x = tg.tensor([0.2, 1e-3], dtype=tg.float16, requires_grad=True)
    s = tg.tensor(1.1e5, dtype=tg.float64, requires_grad=True)
    y = x * s
    assert y.dtype == tg.float16 and y.tolist() == [22000.0, 110.0625]
    # a 0-d first operand PyTorch rounds to float16 first: 1.1e5 is ∞ there
    assert (s * x).tolist() == [float("inf"), float("inf")]
    (x * s).backward(tg.tensor([0.2, 0.5], dtype=tg.float16))
    assert x.grad.tolist() == [22000.0, 55008.0] and x.grad.dtype == tg.float16
    assert s.grad.dtype == tg.float64
    assert s.grad.item() == pytest.approx(0.2 * 0.2 + 0.5 * 1e-3, rel=1e-3)


@pytest.mark.parametrize("wide", [tg.float32, tg.float64])
def test_float16_over_a_wide_0d_tensor_is_computed_in_float32_and_rounded_once(wide):
    # PyTorch takes a 0-d wide divisor as a number: 1 / 1e5 is 1e-5, where 1e5 rounded to
    # float16 first (∞) would give 0; the same for true_divide, / and div_
    x = tg.tensor([1.0, 3.0], dtype=tg.float16)
    s = tg.tensor(1e5, dtype=wide)
    expected = np.float16([1 / np.float32(1e5), 3 / np.float32(1e5)]).tolist()
    assert expected[0] != 0
    for y in (tg.div(x, s), tg.true_divide(x, s), x / s, x.clone().div_(s)):
        assert y.dtype == tg.float16 and y.tolist() == expected
    # add and sub PyTorch computes with the 0-d tensor rounded to float16 (∞): no change there
    assert tg.sub(tg.tensor([1e4], dtype=tg.float16), s, alpha=0.5).tolist() == [-math.inf]


def test_the_gradients_of_float16_over_a_wide_0d_tensor_are_pytorchs_in_float16():
    # ∂/∂x = g / s (s as a number), ∂/∂s = -Σ g·((x/s)/s) with each step rounded to float16,
    # as PyTorch: -2e4 / 0.3 is beyond float16 (-∞), so the gradient of s is ∞
    x = tg.tensor([1.0, 3.0, -2e4], dtype=tg.float16, requires_grad=True)
    s = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    y = x / s
    assert y.tolist() == np.float16(np.float32([1.0, 3.0, -2e4]) / np.float32(0.3)).tolist()
    y.backward(tg.tensor([1.0, 0.5, 2.0], dtype=tg.float16))
    assert x.grad.dtype == tg.float16
    assert x.grad.tolist() == np.float16(np.float32([1.0, 0.5, 2.0]) / np.float32(0.3)).tolist()
    assert s.grad.dtype == tg.float64 and s.grad.item() == math.inf
    x = tg.tensor([3e4, 6e4], dtype=tg.float16, requires_grad=True)
    s = tg.tensor(7e4, dtype=tg.float32, requires_grad=True)
    (x / s).backward(tg.tensor([1.0, 0.5], dtype=tg.float16))
    quotient = np.float16(np.float16(np.float32([3e4, 6e4]) / np.float32(7e4)) / np.float32(7e4))
    assert s.grad.item() == float(np.float16(-(np.float16([1.0, 0.5]) * quotient)).sum())
    assert s.grad.item() != 0


def test_addcmul_and_alpha_refuse_a_number_the_integer_dtype_cannot_hold():
    u = tg.tensor([1, 2], dtype=tg.uint8)
    for value in (-1.5, 256, float("nan")):
        with pytest.raises(RuntimeError, match=r"addcmul: value cannot be converted to type uint8"):
            tg.addcmul(u, u, u, value=value)
    assert tg.addcmul(u, u, u, value=-1).tolist() == [0, 254]        # -1 wraps to 255
    assert tg.addcmul(tg.tensor([1, 2]), tg.tensor([1, 2]), tg.tensor([1, 2]),
                      value=-1.5).tolist() == [0, -2]                  # truncated to -1
    with pytest.raises(RuntimeError, match=r"add: .* uint8 .*\(the value 256\)"):
        tg.add(u, u, alpha=256)


def test_alpha_and_where_refuse_a_number_the_result_dtype_cannot_hold():
    half = tg.ones(2, dtype=tg.float16)
    for call in (lambda: tg.sub(half, half, alpha=1e30), lambda: tg.rsub(half, half, alpha=7e4)):
        with pytest.raises(RuntimeError, match=r"(sub|rsub): .* float16 .*without overflow"):
            call()
    assert tg.add(half, tg.ones(2), alpha=1e30).dtype is tg.float32   # which holds 1e30
    u = tg.ones(2, dtype=tg.uint8)
    for number in (300, -256):
        with pytest.raises(RuntimeError, match=rf"where: .* uint8 .*\(the value {number}\)"):
            tg.where(u > 0, u, number)
    assert tg.where(u > 0, -129, u).tolist() == [127, 127]
    assert tg.where(u > 0, u, 2.5).tolist() == [1.0, 1.0]


def test_pow_refuses_an_exponent_the_dtype_cannot_hold():
    # as in PyTorch: 300 fits no uint8, 1e30 no float16 (float32 holds it)
    with pytest.raises(RuntimeError, match=r"pow: .* uint8 .*\(the value 300\)"):
        tg.tensor([1, 2], dtype=tg.uint8) ** 300
    with pytest.raises(RuntimeError, match=r"pow: .* float16 .*\(the value 1e\+30\)"):
        tg.tensor([1.0, 2.0], dtype=tg.float16) ** 1e30
    assert (tg.tensor([1.0, 0.5]) ** 1e30).tolist() == [1.0, 0.0]
