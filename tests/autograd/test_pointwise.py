"""Pointwise functions of one tensor (tapegrad/autograd/ops/pointwise.py).

Each is checked three ways: its gradient (and second derivative) against finite
differences, its values against numpy, and its dtype rules (float32 stays float32,
integer tensors become the default float dtype for transcendental functions and keep
their dtype for the piecewise-linear ones). The gradient at a kink follows PyTorch.
"""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import pointwise as P

from ..support import Case, leaf, noncontiguous, positive, values


# -- inputs kept away from the points where a function is not differentiable ---------------
def away_from(*shape, points=(0.0,), margin=0.1, low=-2.0, high=2.0):
    """Values in [low, high) none of which lies within ``margin`` of one of ``points``."""
    array = np.asarray(values(*shape, low=low, high=high), dtype=np.float64)
    for p in points:
        near = np.abs(array - p) < margin
        array = np.where(near, p + 2 * margin, array)
    return array


def as_leaf(array):
    return tg.tensor(array, dtype=tg.float64, requires_grad=True)


def as_noncontiguous_leaf(array):
    """A leaf with ``array``'s values whose memory is not C-contiguous."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim >= 2:
        strided = np.asfortranarray(array)
    else:
        spaced = np.zeros(2 * array.size)
        spaced[::2] = array
        strided = spaced[::2]
    assert not strided.flags.c_contiguous
    return tg.from_numpy(strided).requires_grad_()


INTEGERS = tuple(float(k) for k in range(-3, 4))
HALF_INTEGERS = tuple(k + 0.5 for k in range(-3, 3))
CLAMP_KINKS = (-0.5, 0.5)


def kinked(points, margin=0.1):
    """Leaves of the four standard layouts (0-d, (5,), (3, 4), non-contiguous (3, 4))."""
    return [as_leaf(away_from(points=points, margin=margin)),
            as_leaf(away_from(5, points=points, margin=margin)),
            as_leaf(away_from(3, 4, points=points, margin=margin)),
            as_noncontiguous_leaf(away_from(3, 4, points=points, margin=margin))]


def layouts(make):
    """The four standard layouts from a maker like ``leaf`` or ``positive``."""
    return [make(), make(5), make(3, 4), noncontiguous(3, 4, low=0.5) if make is positive
            else noncontiguous(3, 4)]


def cases_of(op, fn, inputs, **options):
    return [Case(op, fn, [x], **options) for x in inputs]


CASES = (
    cases_of("neg", lambda x: tg.neg(x), layouts(leaf))
    + [Case("neg", lambda x: -x, [leaf(2, 3)], name="operator")]
    + cases_of("abs", lambda x: tg.abs(x), kinked((0.0,)))
    + [Case("abs", lambda x: abs(x), [as_leaf(away_from(4))], name="operator")]
    + cases_of("exp", lambda x: tg.exp(x), layouts(leaf))
    + cases_of("expm1", lambda x: tg.expm1(x), layouts(leaf))
    + cases_of("log", lambda x: tg.log(x), layouts(positive))
    + cases_of("log1p", lambda x: tg.log1p(x), layouts(positive))
    + [Case("log1p", lambda x: x.log1p(), [leaf(4, low=-0.5, high=0.5)], name="near_0")]
    + cases_of("sqrt", lambda x: tg.sqrt(x), layouts(positive))
    + cases_of("rsqrt", lambda x: tg.rsqrt(x), layouts(positive))
    + cases_of("sin", lambda x: tg.sin(x), layouts(leaf))
    + cases_of("cos", lambda x: tg.cos(x), layouts(leaf))
    + cases_of("tanh", lambda x: tg.tanh(x), layouts(leaf))
    + cases_of("sigmoid", lambda x: tg.sigmoid(x), layouts(leaf))
    + [Case("sigmoid", lambda x: x.sigmoid(), [leaf(6, low=-8.0, high=8.0)], name="wide")]
    # tanh's and sigmoid's backwards are operations of their own (one recorded op per use
    # instead of three); their derivatives give tanh and sigmoid their higher derivatives.
    + [Case("tanh_backward", P.tanh_backward, [leaf(3, 4), leaf(3, 4, low=-0.9, high=0.9)]),
       Case("tanh_backward", P.tanh_backward, [noncontiguous(3, 4), leaf(3, 4)],
            name="noncontiguous"),
       Case("tanh_backward", P.tanh_backward, [leaf(), leaf()], name="0d"),
       Case("sigmoid_backward", P.sigmoid_backward, [leaf(3, 4), leaf(3, 4, low=0.1, high=0.9)]),
       Case("sigmoid_backward", P.sigmoid_backward, [leaf(3, 4), noncontiguous(3, 4)],
            name="noncontiguous"),
       Case("sigmoid_backward", P.sigmoid_backward, [leaf(), leaf()], name="0d"),
       Case("relu_backward", P.relu_backward, [leaf(3, 4), as_leaf(away_from(3, 4, points=(0.0,)))]),
       Case("relu_backward", P.relu_backward,
            [noncontiguous(3, 4), as_noncontiguous_leaf(away_from(3, 4, points=(0.0,)))],
            name="noncontiguous"),
       Case("relu_backward", P.relu_backward, [leaf(), as_leaf(away_from(points=(0.0,)))],
            name="0d")]
    + cases_of("relu", lambda x: tg.relu(x), kinked((0.0,)))
    + cases_of("clamp", lambda x: tg.clamp(x, -0.5, 0.5), kinked(CLAMP_KINKS))
    + [Case("clamp", lambda x: tg.clamp(x, min=-0.5),
            [as_leaf(away_from(3, 4, points=CLAMP_KINKS))], name="min_only"),
       Case("clamp", lambda x: x.clamp(max=0.5), [as_leaf(away_from(3, 4, points=CLAMP_KINKS))],
            name="max_only"),
       Case("clamp", lambda x: x.clamp(min=0), [as_leaf(away_from(5))], name="int_bound"),
       # Tensor bounds (they broadcast) have gradients of their own, away from the ties.
       Case("clamp", lambda x, lo: tg.clamp(x, min=lo),
            [as_leaf(away_from(3, 4, points=CLAMP_KINKS)),
             as_leaf(np.array([-0.5, 0.5, -0.5, 0.5]))], name="tensor_min"),
       Case("clamp", lambda x, hi: tg.clamp_max(x, hi),
            [as_leaf(away_from(3, 4, points=CLAMP_KINKS)), as_leaf(np.array([[0.5], [-0.5], [0.5]]))],
            name="tensor_max"),
       Case("clamp", lambda x, lo, hi: tg.clamp(x, lo, hi),
            [as_leaf(away_from(3, 4, points=CLAMP_KINKS)), as_leaf(np.array(-0.5)),
             as_leaf(np.array([[0.5], [0.5], [0.5]]))],
            name="tensor_min_max"),
       # a non-contiguous x, and min above max in the last column (there the result is max)
       Case("clamp", lambda x, lo, hi: tg.clip(x, lo, hi),
            [as_noncontiguous_leaf(away_from(3, 4, points=CLAMP_KINKS)),
             as_leaf(np.array([-0.5, -0.5, -0.5, 0.5])), as_leaf(np.array([0.5, 0.5, 0.5, -0.5]))],
            name="tensor_min_max_noncontiguous")]
    + cases_of("sign", lambda x: tg.sign(x), kinked((0.0,)))
    + cases_of("sgn", lambda x: tg.sgn(x), kinked((0.0,)))
    + cases_of("floor", lambda x: tg.floor(x), kinked(INTEGERS))
    + cases_of("ceil", lambda x: tg.ceil(x), kinked(INTEGERS))
    + cases_of("trunc", lambda x: tg.trunc(x), kinked(INTEGERS))
    + cases_of("round", lambda x: tg.round(x), kinked(HALF_INTEGERS))
    + [Case("round", lambda x: tg.round(x, decimals=1),
            [as_leaf(away_from(3, 4, points=tuple(np.arange(-2.05, 2.1, 0.1)), margin=0.02))],
            name="decimals")]
)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- values against numpy, and dtypes ------------------------------------------------------
FLOAT_FUNCTIONS = {
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "expm1": np.expm1, "log": np.log,
    "log1p": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda a: 1 / np.sqrt(a), "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0), "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "round": np.round, "trunc": np.trunc,
}
NEEDS_POSITIVE = {"log", "log1p", "sqrt", "rsqrt"}


@pytest.mark.parametrize("name", FLOAT_FUNCTIONS)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_values_match_numpy_and_keep_the_float_dtype(name, dtype):
    low = 0.1 if name in NEEDS_POSITIVE else -3.0
    array = values(3, 4, low=low, high=3.0).astype(dtype.numpy)
    result = getattr(tg, name)(tg.tensor(array))
    assert result.dtype is dtype
    np.testing.assert_allclose(result.numpy(), FLOAT_FUNCTIONS[name](array),
                               rtol=1e-6 if dtype is tg.float32 else 1e-12, atol=1e-7)


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "sin", "cos",
                                  "tanh", "sigmoid"])
def test_integer_input_of_a_transcendental_function_gives_the_default_float_dtype(name):
    result = getattr(tg, name)(tg.tensor([1, 2, 3]))
    assert result.dtype is tg.float32
    np.testing.assert_allclose(result.numpy(), FLOAT_FUNCTIONS[name](np.array([1.0, 2.0, 3.0])),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["neg", "abs", "relu", "sign", "floor", "ceil", "round", "trunc"])
def test_integer_input_of_a_piecewise_linear_function_keeps_its_dtype(name):
    result = getattr(tg, name)(tg.tensor([-2, 0, 3]))
    assert result.dtype is tg.int64
    assert result.tolist() == FLOAT_FUNCTIONS[name](np.array([-2, 0, 3])).tolist()


def test_float16_stays_float16():
    x = tg.tensor([0.5, 1.0], dtype=tg.float16)
    assert x.exp().dtype is tg.float16 and x.sigmoid().dtype is tg.float16


def test_functions_are_also_methods_and_operators():
    x = tg.tensor([-1.5, 0.25, 2.0])
    np.testing.assert_array_equal(x.exp().numpy(), tg.exp(x).numpy())
    np.testing.assert_array_equal((-x).numpy(), [1.5, -0.25, -2.0])
    np.testing.assert_array_equal(abs(x).numpy(), [1.5, 0.25, 2.0])
    assert tg.clip is tg.clamp


def test_a_zero_dim_input_gives_a_zero_dim_result():
    y = tg.tensor(0.5).exp()
    assert y.shape == () and y.item() == pytest.approx(np.exp(0.5))


@pytest.mark.parametrize("name", [
    "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
    "neg", "abs", "relu", "sign", "floor", "ceil", "round", "trunc"])
def test_a_non_tensor_input_is_a_type_error_naming_the_function(name):
    with pytest.raises(TypeError, match=name):
        getattr(tg, name)(2.0)


# -- numerics ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_sigmoid_is_exact_and_finite_far_from_zero(dtype):
    x = tg.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype, requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):   # no overflow (underflow to 0 is fine)
        y = tg.sigmoid(x)
    assert y.dtype is dtype
    np.testing.assert_array_equal(y.detach().numpy()[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert np.isfinite(y.detach().numpy()).all()
    y.sum().backward()
    grad = x.grad.numpy()
    assert x.grad.dtype is dtype and np.isfinite(grad).all()
    np.testing.assert_array_equal(grad[[0, 2, 4]], [0.0, 0.25, 0.0])


def test_tanh_sigmoid_and_relu_record_one_operation_for_their_backward():
    x = leaf(3)
    for f, backward_op in ((tg.tanh, "tanh_backward"), (tg.sigmoid, "sigmoid_backward"),
                           (tg.relu, "relu_backward")):
        (g,) = tg.autograd.grad(f(x).sum(), x, create_graph=True)
        assert g.grad_fn.op == backward_op
        y = f(x).detach().numpy()
        expected = {tg.tanh: 1 - y * y, tg.sigmoid: y * (1 - y), tg.relu: (y > 0) * 1.0}[f]
        np.testing.assert_allclose(g.detach().numpy(), expected)


def test_float16_sigmoid_is_correctly_rounded_as_pytorch_computes_it_in_float32():
    # float16 steps (e⁻ˣ, 1 + e⁻ˣ, 1/…) each rounded put a third of the results one ulp off
    # (sigmoid(-10.16) gave 3.886e-05, not 3.88e-05)
    array = np.arange(-20, 20, 1 / 256).astype(np.float16)
    expected = (1 / (1 + np.exp(-array.astype(np.float64)))).astype(np.float16)
    y = tg.sigmoid(tg.tensor(array))
    assert y.dtype is tg.float16
    np.testing.assert_array_equal(y.numpy(), expected)


def test_float16_sigmoid_backward_rounds_g_times_1_minus_y_then_times_y_as_pytorch():
    # PyTorch's CPU kernel computes g·(1 - y)·y in float16, left to right; the other order
    # rounds these three differently (1.422, -0.8242, 0.1041)
    y = tg.tensor([0.63671875, 0.269775390625, 0.857421875], dtype=tg.float16)
    g = tg.tensor([6.1484375, -4.18359375, 0.8515625], dtype=tg.float16)
    z = P.sigmoid_backward(g, y)
    assert z.dtype is tg.float16
    assert z.tolist() == [1.4228515625, -0.82470703125, 0.10406494140625]


def test_float16_tanh_backward_is_computed_in_float32_and_rounded_once():
    # g·(1 - y²) rounded once, as PyTorch's CPU kernel; float16 steps gave 0.0793 for the first
    y = tg.tensor([0.9873, 0.5137, -0.7295], dtype=tg.float16)
    g = tg.tensor([3.123, -1.457, 0.8115], dtype=tg.float16)
    expected = ((1 - y.numpy().astype(np.float64) ** 2) * g.numpy()).astype(np.float16)
    z = P.tanh_backward(g, y)
    assert z.dtype is tg.float16
    np.testing.assert_array_equal(z.numpy(), expected)
    assert z.tolist() == [0.07879638671875, -1.072265625, 0.379638671875]


def test_sigmoid_is_accurate_for_moderate_inputs():
    array = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(tg.sigmoid(tg.tensor(array)).numpy(), 1 / (1 + np.exp(-array)),
                               rtol=1e-14)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_tanh_saturates_exactly_with_zero_gradient(dtype):
    x = tg.tensor([-1e4, 1e4], dtype=dtype, requires_grad=True)
    y = x.tanh()
    np.testing.assert_array_equal(y.detach().numpy(), [-1.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_expm1_and_log1p_are_accurate_near_zero():
    tiny = tg.tensor([1e-10], dtype=tg.float64)
    assert tg.expm1(tiny).item() == pytest.approx(1e-10, rel=1e-9)
    assert tg.log1p(tiny).item() == pytest.approx(1e-10, rel=1e-9)


# -- gradients at the kinks, as PyTorch defines them ---------------------------------------
def grad_of(fn, array):
    x = tg.tensor(array, dtype=tg.float64, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


def test_abs_has_gradient_zero_at_zero():
    np.testing.assert_array_equal(grad_of(tg.abs, [-2.0, 0.0, 3.0]), [-1.0, 0.0, 1.0])


def test_relu_has_gradient_zero_at_zero():
    np.testing.assert_array_equal(grad_of(tg.relu, [-2.0, 0.0, 3.0]), [0.0, 0.0, 1.0])


def test_clamp_passes_the_gradient_at_its_bounds():
    grad = grad_of(lambda x: x.clamp(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(grad, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_piecewise_constant_functions_have_zero_gradient():
    for fn in (tg.sign, tg.floor, tg.ceil, tg.round):
        np.testing.assert_array_equal(grad_of(fn, [-1.7, 0.2, 2.5]), [0.0, 0.0, 0.0])


# -- clamp and round -----------------------------------------------------------------------
def test_clamp_with_only_one_bound():
    x = tg.tensor([-2.0, 0.0, 2.0])
    assert x.clamp(min=-1.0).tolist() == [-1.0, 0.0, 2.0]
    assert x.clamp(max=1.0).tolist() == [-2.0, 0.0, 1.0]


def test_clamp_with_min_above_max_gives_max_everywhere():
    assert tg.tensor([-2.0, 0.0, 2.0]).clamp(1.0, -1.0).tolist() == [-1.0, -1.0, -1.0]


def test_clamp_needs_a_bound():
    # PyTorch raises RuntimeError; a ValueError is as clear (see the report).
    with pytest.raises((RuntimeError, ValueError), match="min.*max"):
        tg.tensor([1.0]).clamp()


def test_clamp_with_tensor_bounds_broadcasts():
    x = tg.tensor([[-2.0, 0.0, 2.0], [-2.0, 0.0, 2.0]])
    lo = tg.tensor([[-1.0], [0.5]])
    assert x.clamp(min=lo).tolist() == [[-1.0, 0.0, 2.0], [0.5, 0.5, 2.0]]


def test_clamp_with_a_tensor_bound_of_another_shape_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"clamp: .*\(3,\), \(2,\) cannot be broadcast"):
        tg.clamp(tg.ones(3), tg.ones(2))


@pytest.mark.parametrize("side", ["min", "max"])
def test_clamp_with_a_tensor_bound_gives_a_nan_element_no_gradient_as_pytorch(side):
    x = tg.tensor([math.nan, 1.0, 0.2, -3.0], requires_grad=True)
    bound = tg.tensor([0.2, math.nan, 0.2, 0.2], requires_grad=True)
    y = tg.clamp(x, **{side: bound})
    y.sum().backward()
    assert math.isnan(y[0].item()) and math.isnan(y[1].item())
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0 if side == "min" else 1.0]
    assert bound.grad.tolist() == [0.0, 0.0, 0.0, 1.0 if side == "min" else 0.0]
    assert tg.clamp(tg.tensor([1, 5, 9]), tg.tensor([2]), tg.tensor([7])).tolist() == [2, 5, 7]


def test_clamp_of_a_nan_with_min_above_max_sends_the_gradient_to_max_as_pytorch():
    # min > max makes the result max (here NaN still, from x); PyTorch's gradient goes to max
    nan = math.nan
    x = tg.tensor([nan, nan, 2.0], requires_grad=True)
    lo = tg.tensor([1.0, 0.0, 1.0], requires_grad=True)
    hi = tg.tensor([0.0, 1.0, 0.0], requires_grad=True)
    y = tg.clamp(x, lo, hi)
    y.backward(tg.tensor([5.0, 6.0, 7.0]))
    assert np.isnan(y.detach().numpy()).tolist() == [True, True, False] and y[2].item() == 0.0
    assert hi.grad.tolist() == [5.0, 0.0, 7.0]
    assert lo.grad.tolist() == [0.0, 0.0, 0.0] and x.grad.tolist() == [0.0, 0.0, 0.0]


def test_clamp_with_a_nan_in_a_tensor_bound_gives_nan_there_as_pytorch():
    nan = math.nan
    x = tg.tensor([0.0, 0.0, nan])
    bound = tg.tensor([1.0, nan, -1.0])
    for clamped in (x.clamp(min=bound), x.clamp(max=bound), tg.clamp_min(x, bound)):
        assert np.isnan(clamped.numpy()).tolist() == [False, True, True]
    assert tg.clamp(x, min=bound, max=bound).numpy()[0] == 1.0


N = math.nan

# clamp(x, min, max) with all three tensors, for x, min, max in {-1, 0, 1, NaN}: the value and
# the gradients of x, min and max, as PyTorch 2.13 gives them. The gradient follows PyTorch's
# three masks, x: min ≤ x ≤ max,  min: x < min < max,  max: x > max or max < min, so a tie
# x = min = max goes to x, x = -1 with min = max = 0 gives no one a gradient, max takes it
# where min > max (NaN x too), and a NaN max or min gives min nothing.
CLAMP_BY_TENSORS = [
    (-1, -1, -1, -1, 1, 0, 0), (-1, -1, 0, -1, 1, 0, 0), (-1, -1, 1, -1, 1, 0, 0), (-1, -1, N, N, 0, 0, 0),
    (-1, 0, -1, -1, 0, 0, 1), (-1, 0, 0, 0, 0, 0, 0), (-1, 0, 1, 0, 0, 1, 0), (-1, 0, N, N, 0, 0, 0),
    (-1, 1, -1, -1, 0, 0, 1), (-1, 1, 0, 0, 0, 0, 1), (-1, 1, 1, 1, 0, 0, 0), (-1, 1, N, N, 0, 0, 0),
    (-1, N, -1, N, 0, 0, 0), (-1, N, 0, N, 0, 0, 0), (-1, N, 1, N, 0, 0, 0), (-1, N, N, N, 0, 0, 0),
    (0, -1, -1, -1, 0, 0, 1), (0, -1, 0, 0, 1, 0, 0), (0, -1, 1, 0, 1, 0, 0), (0, -1, N, N, 0, 0, 0),
    (0, 0, -1, -1, 0, 0, 1), (0, 0, 0, 0, 1, 0, 0), (0, 0, 1, 0, 1, 0, 0), (0, 0, N, N, 0, 0, 0),
    (0, 1, -1, -1, 0, 0, 1), (0, 1, 0, 0, 0, 0, 1), (0, 1, 1, 1, 0, 0, 0), (0, 1, N, N, 0, 0, 0),
    (0, N, -1, N, 0, 0, 1), (0, N, 0, N, 0, 0, 0), (0, N, 1, N, 0, 0, 0), (0, N, N, N, 0, 0, 0),
    (1, -1, -1, -1, 0, 0, 1), (1, -1, 0, 0, 0, 0, 1), (1, -1, 1, 1, 1, 0, 0), (1, -1, N, N, 0, 0, 0),
    (1, 0, -1, -1, 0, 0, 1), (1, 0, 0, 0, 0, 0, 1), (1, 0, 1, 1, 1, 0, 0), (1, 0, N, N, 0, 0, 0),
    (1, 1, -1, -1, 0, 0, 1), (1, 1, 0, 0, 0, 0, 1), (1, 1, 1, 1, 1, 0, 0), (1, 1, N, N, 0, 0, 0),
    (1, N, -1, N, 0, 0, 1), (1, N, 0, N, 0, 0, 1), (1, N, 1, N, 0, 0, 0), (1, N, N, N, 0, 0, 0),
    (N, -1, -1, N, 0, 0, 0), (N, -1, 0, N, 0, 0, 0), (N, -1, 1, N, 0, 0, 0), (N, -1, N, N, 0, 0, 0),
    (N, 0, -1, N, 0, 0, 1), (N, 0, 0, N, 0, 0, 0), (N, 0, 1, N, 0, 0, 0), (N, 0, N, N, 0, 0, 0),
    (N, 1, -1, N, 0, 0, 1), (N, 1, 0, N, 0, 0, 1), (N, 1, 1, N, 0, 0, 0), (N, 1, N, N, 0, 0, 0),
    (N, N, -1, N, 0, 0, 0), (N, N, 0, N, 0, 0, 0), (N, N, 1, N, 0, 0, 0), (N, N, N, N, 0, 0, 0),
]

# clamp(x, min=b) and clamp(x, max=b) with a tensor b: the value, x's and b's gradients.
# x's mask is min ≤ x (x ≤ max), b's x < min (x > max): a tie goes to x, a NaN to no one.
CLAMP_BY_ONE_TENSOR = {
    "min": [
        (-1, -1, -1, 1, 0), (-1, 0, 0, 0, 1), (-1, 1, 1, 0, 1), (-1, N, N, 0, 0),
        (0, -1, 0, 1, 0), (0, 0, 0, 1, 0), (0, 1, 1, 0, 1), (0, N, N, 0, 0),
        (1, -1, 1, 1, 0), (1, 0, 1, 1, 0), (1, 1, 1, 1, 0), (1, N, N, 0, 0),
        (N, -1, N, 0, 0), (N, 0, N, 0, 0), (N, 1, N, 0, 0), (N, N, N, 0, 0),
    ],
    "max": [
        (-1, -1, -1, 1, 0), (-1, 0, -1, 1, 0), (-1, 1, -1, 1, 0), (-1, N, N, 0, 0),
        (0, -1, -1, 0, 1), (0, 0, 0, 1, 0), (0, 1, 0, 1, 0), (0, N, N, 0, 0),
        (1, -1, -1, 0, 1), (1, 0, 0, 0, 1), (1, 1, 1, 1, 0), (1, N, N, 0, 0),
        (N, -1, N, 0, 0), (N, 0, N, 0, 0), (N, 1, N, 0, 0), (N, N, N, 0, 0),
    ],
}


def columns(rows):
    return [np.array(column, dtype=np.float64) for column in zip(*rows)]


CLAMP_FORMS = {
    "clamp": lambda x, lo, hi: tg.clamp(x, lo, hi),
    "clip": lambda x, lo, hi: tg.clip(x, min=lo, max=hi),
    "method": lambda x, lo, hi: x.clamp(lo, hi),
    "clamp_": lambda x, lo, hi: (x * 1).clamp_(lo, hi),
    "clip_": lambda x, lo, hi: (x * 1).clip_(lo, hi),
}


@pytest.mark.parametrize("form", CLAMP_FORMS)
def test_clamp_by_tensors_routes_gradients_as_pytorch_at_every_tie_and_nan(form):
    x, lo, hi, value, grad_x, grad_lo, grad_hi = columns(CLAMP_BY_TENSORS)
    leaves = [as_leaf(a) for a in (x, lo, hi)]
    y = CLAMP_FORMS[form](*leaves)
    # an infinite incoming gradient: a mask of 0 still gives 0 (not 0·∞), a mask of 1 gives ∞
    y.backward(tg.full((64,), math.inf, dtype=tg.float64))
    np.testing.assert_array_equal(y.detach().numpy(), value)
    for leaf_, expected in zip(leaves, (grad_x, grad_lo, grad_hi)):
        np.testing.assert_array_equal(leaf_.grad.numpy(), np.where(expected == 1, math.inf, 0.0))


@pytest.mark.parametrize("side", ["min", "max"])
def test_clamp_by_one_tensor_routes_gradients_as_pytorch_at_every_tie_and_nan(side):
    x, bound, value, grad_x, grad_bound = columns(CLAMP_BY_ONE_TENSOR[side])
    forms = [lambda a, b: tg.clamp(a, **{side: b}), getattr(tg, f"clamp_{side}"),
             lambda a, b: getattr(a * 1, f"clamp_{side}_")(b)]
    for form in forms:
        leaves = [as_leaf(a) for a in (x, bound)]
        y = form(*leaves)
        y.sum().backward()
        np.testing.assert_array_equal(y.detach().numpy(), value)
        np.testing.assert_array_equal(leaves[0].grad.numpy(), grad_x)
        np.testing.assert_array_equal(leaves[1].grad.numpy(), grad_bound)


def test_clamp_by_tensors_matches_pytorch_with_broadcast_bounds():
    torch = pytest.importorskip("torch")
    grid = np.array([-1.0, 0.0, 1.0, math.nan])
    # every (x, min, max) triple by broadcasting the bounds: min (4, 1), max (4,). (x has the
    # full shape: PyTorch's backward fails when x is broadcast and both bounds are tensors.)
    arrays = (np.broadcast_to(grid.reshape(4, 1, 1), (4, 4, 4)).copy(), grid.reshape(4, 1), grid)
    for name in ("clamp", "clip", "clamp_min", "clamp_max"):
        used = arrays if name in ("clamp", "clip") else arrays[:1] + arrays[1 + (name == "clamp_max"):][:1]
        ours = [as_leaf(a) for a in used]
        theirs = [torch.tensor(a, requires_grad=True) for a in used]
        y, expected = getattr(tg, name)(*ours), getattr(torch, name)(*theirs)
        y.backward(tg.full(y.shape, 3.0, dtype=tg.float64))
        expected.backward(torch.full(expected.shape, 3.0, dtype=torch.float64))
        np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy(), err_msg=name)
    assert tg.clamp(*ours).grad_fn.name() == torch.clamp(*theirs).grad_fn.name() == "ClampBackward0"


def test_clamp_with_tensor_bounds_promotes_all_three_at_once_as_pytorch():
    # the int64 max of 2 dims makes the result int64: the 0-d min -3 is -3, not uint8's 253
    x = tg.tensor([1, 5, 4, 200], dtype=tg.uint8)
    z = tg.clip(x, min=tg.tensor(-3), max=tg.tensor([[5]]))
    assert z.dtype is tg.int64 and z.tolist() == [[1, 5, 4, 5]]
    assert tg.clamp(x, min=tg.tensor(-3)).tolist() == [253] * 4   # uint8 alone: -3 wraps


def test_clamp_reads_a_0d_bound_beside_a_number_bound_as_a_number_as_pytorch():
    # PyTorch takes (0-d tensor, number) as two numbers: bool clamped by a uint8 0-d 2 and
    # -1 is int64 (as clamp(x, 2, -1)), not the uint8 the 0-d tensor would give as a tensor
    x = tg.tensor([False, True])
    two = tg.tensor(2, dtype=tg.uint8)
    for z in (tg.clamp(x, two, -1), tg.clip(x, min=two, max=-1), x.clamp(two, -1)):
        assert z.dtype is tg.int64 and z.tolist() == [-1, -1]
    z = tg.clamp(x, -1, two)
    assert z.dtype is tg.int64 and z.tolist() == [0, 1]
    # alone, or beside another tensor, the 0-d bound stays a tensor in the promotion
    assert tg.clamp(x, two).dtype is tg.uint8 and tg.clamp_min(x, two).dtype is tg.uint8
    assert tg.clamp_max(x, two).dtype is tg.uint8
    assert tg.clamp(x, two, tg.tensor(3, dtype=tg.int16)).dtype is tg.int16
    # a float 0-d bound beside a number bound keeps a float16 input float16
    h = tg.clamp(tg.tensor([1.0], dtype=tg.float16), tg.tensor(1.5, dtype=tg.float64), 2)
    assert h.dtype is tg.float16 and h.tolist() == [1.5]
    # a 0-d input too: float16 (a 0-d float64 bound would be float64 beside a 0-d tensor)
    h = tg.clip(tg.tensor(-17.84, dtype=tg.float16), tg.tensor(-0.6, dtype=tg.float64), -1)
    assert h.dtype is tg.float16 and h.item() == -1.0
    assert tg.clamp(tg.tensor(1.0, dtype=tg.float16), tg.tensor(-0.6, dtype=tg.float64),
                    tg.tensor(2.0)).dtype is tg.float64
    with pytest.raises(RuntimeError, match="int64.*bool"):
        x.clamp_(two, -1)
    assert x.tolist() == [False, True]


def test_clamp_bounds_take_part_in_type_promotion():
    y = tg.tensor([1, 2, 3]).clamp(min=1.5)
    assert y.dtype is tg.float32 and y.tolist() == [1.5, 2.0, 3.0]


def test_clamp_of_an_integer_tensor_with_integer_bounds_stays_integer():
    y = tg.tensor([-5, 0, 5]).clamp(-1, 1)
    assert y.dtype is tg.int64 and y.tolist() == [-1, 0, 1]


def test_float32_clamp_stays_float32():
    assert tg.tensor([0.5, 3.0]).clamp(0, 1).dtype is tg.float32


def test_round_rounds_half_to_even_and_takes_decimals():
    assert tg.round(tg.tensor([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]
    np.testing.assert_allclose(tg.tensor([1.234, -5.678]).round(decimals=2).numpy(),
                               [1.23, -5.68], rtol=1e-6)


def test_round_of_float16_with_decimals_does_not_overflow():
    # -22448·100 is beyond float16's 65504: the scaled value is not kept in float16
    y = tg.tensor([-22448.0, 1.234], dtype=tg.float16).round(decimals=2)
    assert y.dtype is tg.float16
    assert y.tolist() == [-22448.0, float(np.float16(1.23))]


def test_a_0d_result_holds_an_array_so_in_place_operations_work_on_it():
    y = tg.tensor(0.5).sigmoid()
    y.add_(1)
    np.testing.assert_allclose(y.item(), 1 + 1 / (1 + np.exp(-0.5)), rtol=1e-6)
    x = tg.tensor(0.3, requires_grad=True)
    x.tanh().backward()
    x.grad.zero_()
    assert x.grad.item() == 0


def test_relu_keeps_the_sign_of_minus_zero_as_pytorch_does():
    for dtype in (tg.float16, tg.float32, tg.float64):
        y = tg.relu(tg.tensor([-0.0, 0.0, -1.0, 2.0], dtype=dtype))
        assert np.signbit(y.numpy()).tolist() == [True, False, False, False]
        assert y.tolist() == [0.0, 0.0, 0.0, 2.0]


def test_relu_passes_the_gradient_of_a_nan_on_as_pytorch_does():
    x = tg.tensor([float("nan"), 1.0, -1.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0])


# -- more of PyTorch's pointwise math ------------------------------------------------------
def within(low, high):
    return [leaf(low=low, high=high), leaf(5, low=low, high=high),
            leaf(3, 4, low=low, high=high), noncontiguous(3, 4, low=low, high=high)]


MORE_CASES = (
    cases_of("exp2", tg.exp2, layouts(leaf))
    + cases_of("log2", tg.log2, layouts(positive))
    + cases_of("log10", tg.log10, layouts(positive))
    + cases_of("reciprocal", tg.reciprocal, kinked((0.0,), margin=0.4))
    + cases_of("square", tg.square, layouts(leaf))
    + cases_of("frac", tg.frac, kinked(INTEGERS))
    + cases_of("nan_to_num", tg.nan_to_num, layouts(leaf))
    + cases_of("logit", tg.logit, within(0.1, 0.9))
    + cases_of("angle", tg.angle, kinked((0.0,)))
    + [Case("logit", lambda x: x.logit(eps=0.2), [as_leaf(away_from(3, 4, points=(0.2, 0.8),
                                                                     low=0.0, high=1.0))],
            name="eps")]
)
CASES = CASES + MORE_CASES


@pytest.mark.parametrize("case", MORE_CASES, ids=repr)
def test_gradcheck_of_more_pointwise_math(case):
    case.check()


MORE_FUNCTIONS = {"exp2": np.exp2, "log2": np.log2, "log10": np.log10,
                  "reciprocal": np.reciprocal, "square": np.square,
                  "frac": lambda a: a - np.trunc(a), "nan_to_num": np.nan_to_num,
                  "logit": lambda a: np.log(a / (1 - a))}


@pytest.mark.parametrize("name", MORE_FUNCTIONS)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_more_functions_match_numpy_and_keep_the_float_dtype(name, dtype):
    array = values(3, 4, low=0.05, high=0.95).astype(dtype.numpy)
    result = getattr(tg.tensor(array), name)()
    assert result.dtype is dtype
    np.testing.assert_allclose(result.numpy(), MORE_FUNCTIONS[name](array), rtol=1e-6)


def test_square_keeps_integers_and_reciprocal_makes_floats():
    assert tg.square(tg.tensor([-3, 2])).tolist() == [9, 4]
    assert tg.tensor([2, 4]).reciprocal().tolist() == [0.5, 0.25]


def test_nan_to_num_replaces_nan_and_infinities_and_passes_no_gradient_through_them():
    x = tg.tensor([float("nan"), float("inf"), -float("inf"), 1.5], requires_grad=True)
    y = x.nan_to_num(nan=0.5, posinf=9.0)
    assert y.tolist()[:2] == [0.5, 9.0] and y.tolist()[3] == 1.5
    assert y.tolist()[2] == np.finfo(np.float32).min
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]
    with pytest.raises(TypeError, match="nan_to_num: nan must be a real number, got str"):
        x.nan_to_num("a")


def test_logit_with_eps_clamps_and_has_zero_gradient_outside():
    x = tg.tensor([0.0, 0.5, 1.0], dtype=tg.float64, requires_grad=True)
    y = tg.logit(x, eps=0.25)
    np.testing.assert_allclose(y.detach().numpy(), [np.log(1 / 3), 0.0, np.log(3)])
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 4.0, 0.0]


def test_logit_gradient_is_nan_outside_zero_to_one_and_infinite_at_the_ends():
    x = tg.tensor([-0.5, 0.0, 0.5, 1.0, 1.5], dtype=tg.float64, requires_grad=True)
    tg.logit(x).backward(tg.ones(5, dtype=tg.float64))
    grad = x.grad.tolist()   # PyTorch's: no logit outside [0, 1], so no slope either
    assert np.isnan(grad[0]) and np.isnan(grad[4]) and grad[1:4] == [np.inf, 4.0, np.inf]


def test_logit_with_eps_sends_zero_outside_even_for_an_infinite_or_nan_gradient():
    x = tg.tensor([0.0, 0.5, 1.0], dtype=tg.float64, requires_grad=True)
    tg.logit(x, eps=0.25).backward(tg.tensor([np.inf, 1.0, np.nan], dtype=tg.float64))
    assert x.grad.tolist() == [0.0, 4.0, 0.0]


def test_logit_gradient_at_minus_zero_is_plus_infinity_and_at_nan_is_nan_with_eps_too():
    x = tg.tensor([-0.0, float("nan")], dtype=tg.float64, requires_grad=True)
    tg.logit(x).sum().backward()
    assert x.grad.tolist()[0] == np.inf and np.isnan(x.grad.tolist()[1])
    x.grad = None
    tg.logit(x, eps=1e-5).sum().backward()   # NaN is not outside [eps, 1 - eps] either
    assert x.grad.tolist()[0] == 0.0 and np.isnan(x.grad.tolist()[1])


def test_logit_with_eps_zero_has_slope_plus_infinity_at_minus_zero_too():
    x = tg.tensor([-0.0, 0.0, 1.0], dtype=tg.float64, requires_grad=True)
    tg.logit(x, eps=0.0).backward(tg.tensor([-2.0, -2.0, -2.0], dtype=tg.float64))
    assert x.grad.tolist() == [-np.inf, -np.inf, -np.inf]   # -2·(+∞), the slope of logit at 0


def test_float16_logit_takes_its_slope_in_float32_and_rounds_once():
    x = tg.tensor([1e-6, 0.5], dtype=tg.float16, requires_grad=True)
    tg.logit(x).backward(tg.tensor([1e-3, 0.0], dtype=tg.float16))
    assert x.grad.dtype is tg.float16   # 1e-3/1e-6 fits float16; 1/1e-6 alone did not
    assert x.grad.tolist() == pytest.approx([1e-3 / float(x[0]), 0.0], rel=1e-3)


def test_logit_gradient_divides_by_x_1_minus_x_where_the_slope_alone_overflows():
    # at x = 1.2483e-39 (subnormal float32) the slope 1/(x(1 - x)) is beyond float32's
    # largest value, g/(x(1 - x)) for g = 0.3212 is not: 2.573e38, as PyTorch's
    for eps in (None, 0.0):
        x = tg.tensor([1.2483e-39, 0.5], requires_grad=True)
        tg.logit(x, eps).backward(tg.tensor([0.3212, 1.0]))
        grad = x.grad.numpy()
        assert np.isfinite(grad[0]) and grad[0] == pytest.approx(0.3212 / 1.2483e-39, rel=1e-3)
        assert grad[1] == pytest.approx(4.0)


def test_logit_with_a_negative_eps_clamps_nothing_as_without_eps():
    x = tg.tensor([-0.2, 0.3, 1.2, -0.0], dtype=tg.float64, requires_grad=True)
    y = tg.logit(x, eps=-0.5)
    y.backward(tg.ones(4, dtype=tg.float64))
    grad = x.grad.tolist()
    assert np.isnan(grad[0]) and np.isnan(grad[2]) and grad[3] == np.inf
    assert grad[1] == pytest.approx(1 / 0.21)


def test_rsqrt_halves_the_gradient_before_multiplying_by_its_result_cubed_as_pytorch():
    x = tg.tensor([0.01], dtype=tg.float16, requires_grad=True)
    x.rsqrt().backward(tg.tensor([100.0], dtype=tg.float16))   # g·y³ = 1e5 passes 65504
    assert x.grad.item() == pytest.approx(-0.5 * 100 * float(x) ** -1.5, rel=2e-3)


def test_reciprocal_squares_its_result_before_taking_the_gradient_as_pytorch_does():
    x = tg.tensor([1e-30], requires_grad=True)
    x.reciprocal().backward(tg.tensor([1e-30]))   # y² = 1e60 overflows float32: -∞, not -1e30
    assert x.grad.tolist() == [-np.inf]


def test_clamp_min_clamp_max_positive_and_the_other_names():
    x = tg.tensor([-2.0, 0.5, 3.0])
    assert tg.clamp_min(x, 0.0).tolist() == [0.0, 0.5, 3.0]
    assert x.clamp_max(1.0).tolist() == [-2.0, 0.5, 1.0]
    assert tg.positive(x) is x
    assert tg.signbit(tg.tensor([-1.0, -0.0, 2.0])).tolist() == [True, True, False]
    assert tg.absolute is tg.abs and tg.negative is tg.neg and tg.fix is tg.trunc
    assert tg.sgn(x).tolist() == tg.sign(x).tolist() == [-1.0, 1.0, 1.0]


def test_sgn_sends_back_a_structural_zero_so_nan_slopes_upstream_give_zero():
    x = tg.tensor([float("nan"), 0.0, -1.0], requires_grad=True)
    tg.log10(x).sgn().sum().backward()   # PyTorch's zero tensor: 0, not 0/(x·ln 10) = NaN
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = None
    tg.log10(x).sign().sum().backward()   # sign's plain zeros do meet the NaN, as in PyTorch
    assert np.isnan(x.grad.tolist()[0])


def test_floor_and_logit_make_plain_zeros_of_a_structural_zero_as_pytorchs_kernels_do():
    x = tg.tensor([-1.0], requires_grad=True)
    x.sqrt().floor().sgn().sum().backward()   # floor's zeros meet sqrt's NaN slope
    assert np.isnan(x.grad.item())
    x.grad = None
    x.sqrt().logit().sgn().sum().backward()
    assert np.isnan(x.grad.item())


def _grad_through_sgn(step, x):
    """x's gradient of step(√x).sgn() at x = -1, where √'s slope is NaN: 0 if the structural
    zero reached √ (passed on), NaN if ``step``'s backward made plain zeros of it."""
    leaf = tg.tensor(x, requires_grad=True)
    step(leaf.sqrt()).sgn().sum().backward()
    return leaf.grad.tolist()


def test_the_backwards_pytorch_computes_with_a_plain_zero_make_plain_zeros_here_too():
    # PyTorch's mul, exp, sum, reshape pass its zero tensor on; neg, where, slicing,
    # sigmoid, mean, a matrix product… have no zero-tensor kernel and make plain zeros
    passes_on = [lambda y: y * 3, lambda y: y.exp(), lambda y: y.reshape(1, 1), lambda y: y[None],
                 lambda y: y / 2, lambda y: y ** 2]
    makes_plain = [lambda y: -y, lambda y: tg.where(y > 0, y, 0.0), lambda y: y.sigmoid(),
                   lambda y: y.mean(), lambda y: y.expand(2), lambda y: y[0:1],
                   lambda y: tg.maximum(y, tg.zeros(1)), lambda y: y.reshape(1, 1) @ tg.ones(1, 1)]
    assert all(_grad_through_sgn(step, [-1.0]) == [0.0] for step in passes_on)
    assert all(np.isnan(_grad_through_sgn(step, [-1.0])[0]) for step in makes_plain)


def test_sub_and_div_make_plain_zeros_for_their_second_operand_only():
    # PyTorch's -g for the subtrahend (neg's plain zeros), g itself for the minuend
    x = tg.tensor([-1.0], requires_grad=True)
    y = tg.tensor([-1.0], requires_grad=True)
    (x.sqrt() - y.sqrt()).sgn().sum().backward()
    assert x.grad.tolist() == [0.0] and np.isnan(y.grad.item())
    x.grad = y.grad = None
    (x.sqrt() / (y.sqrt() + 2)).sgn().sum().backward()
    assert x.grad.tolist() == [0.0] and np.isnan(y.grad.item())
    x.grad = None   # a tensor exponent: PyTorch's pow backward is a where, plain zeros
    (x.sqrt() ** tg.tensor([2.0])).sgn().sum().backward()
    assert np.isnan(x.grad.item())


def test_a_structural_zero_adds_nothing_to_a_real_gradient_and_a_leaf_gets_plain_zeros():
    x = tg.tensor([4.0, float("inf")], requires_grad=True)
    (x.sqrt().sgn() + x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and type(x.grad) is tg.Tensor
    y = tg.tensor([1.0, -2.0], requires_grad=True)
    grad, = tg.autograd.grad(y.sgn().sum(), y)
    assert grad.tolist() == [0.0, 0.0] and type(grad) is tg.Tensor



def test_angle_of_real_numbers_is_pi_for_negatives_with_zero_gradient():
    x = tg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = tg.angle(x)
    np.testing.assert_allclose(y.detach().numpy(), [np.pi, 0.0, 0.0])
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_in_place_forms_write_into_the_tensor_and_record_the_gradient():
    x = tg.tensor([0.5, 2.0], dtype=tg.float64, requires_grad=True)
    y = x * 1
    assert y.log2_() is y
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (np.array([0.5, 2.0]) * np.log(2)))
    z = tg.tensor([-1.0, 4.0])
    z.clamp_min_(0.0).sqrt_()
    assert z.tolist() == [0.0, 2.0]


@pytest.mark.parametrize("name", list(MORE_FUNCTIONS))
def test_more_functions_match_pytorch_with_their_gradients(name):
    torch = pytest.importorskip("torch")
    array = np.linspace(0.1, 0.9, 7)
    ours = tg.tensor(array, requires_grad=True, dtype=tg.float64)
    theirs = torch.tensor(array, requires_grad=True, dtype=torch.float64)
    getattr(tg, name)(ours).sum().backward()
    getattr(torch, name)(theirs).sum().backward()
    np.testing.assert_allclose(getattr(tg, name)(ours).detach().numpy(),
                               getattr(torch, name)(theirs).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_unary_plus_of_a_bool_tensor_is_refused_and_its_square_is_int64():
    b = tg.tensor([True, False])
    with pytest.raises(RuntimeError, match=r"positive: the \+ operator on a bool tensor"):
        tg.positive(b)
    assert tg.square(b).dtype is tg.int64 and tg.square(b).tolist() == [1, 0]
    assert tg.square(tg.tensor([3], dtype=tg.int8)).dtype is tg.int8


def test_clamp_with_a_tensor_bound_keeps_the_promoted_dtype():
    # (the NaN that marks a NaN bound must not widen float16 to the default float)
    x = tg.tensor([1.0, 2.0], dtype=tg.float16)
    assert tg.clamp(x, min=tg.tensor(1.5)).dtype is tg.float16
    assert tg.clamp_max(x, tg.tensor([False, True])).dtype is tg.float16
    assert tg.clamp(x, min=2.0, max=tg.tensor(5, dtype=tg.int32)).dtype is tg.float16
    assert tg.clamp(tg.tensor([1, 5]), min=tg.tensor(2.5)).dtype is tg.float32


# -- isnan, isinf, isposinf, isneginf, isfinite: bool results, no gradient ----------------------
SPECIAL = [1.5, float("nan"), float("inf"), -float("inf"), -0.0, 6e4]
CLASSES = {"isnan": [False, True, False, False, False, False],
           "isinf": [False, False, True, True, False, False],
           "isposinf": [False, False, True, False, False, False],
           "isneginf": [False, False, False, True, False, False],
           "isfinite": [True, False, False, False, True, True]}


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_class_tests_give_bools_as_function_and_method(name, dtype):
    x = tg.tensor(SPECIAL, dtype=getattr(tg, dtype), requires_grad=True)
    for y in (getattr(tg, name)(x), getattr(x, name)()):
        assert y.dtype == tg.bool and not y.requires_grad
        assert y.tolist() == CLASSES[name]


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
def test_integer_and_bool_tensors_are_all_finite(name, dtype):
    x = tg.tensor([[1, 0, 1]], dtype=getattr(tg, dtype))
    assert getattr(tg, name)(x).tolist() == [[name == "isfinite"] * 3]


def test_float_class_tests_keep_the_shape_of_views_and_empty_tensors():
    x = tg.tensor([[1.0, float("nan")], [float("inf"), 2.0]]).t()
    assert tg.isnan(x).tolist() == [[False, False], [True, False]]
    assert tg.isinf(x).tolist() == [[False, True], [False, False]]
    assert tuple(tg.isfinite(tg.zeros(0, 3)).shape) == (0, 3)


def test_float_class_tests_refuse_a_non_tensor_naming_the_op():
    with pytest.raises(TypeError, match="isnan: expected a Tensor, got list"):
        tg.isnan([1.0])


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_float_class_tests_agree_with_pytorch(name):
    torch = pytest.importorskip("torch")
    for dtype in ("float16", "float32", "float64", "int32"):
        values = [v for v in SPECIAL if dtype != "int32" or v == v and abs(v) < 1e9]
        ours = getattr(tg, name)(tg.tensor(values, dtype=getattr(tg, dtype)))
        theirs = getattr(torch, name)(torch.tensor(values, dtype=getattr(torch, dtype)))
        assert ours.tolist() == theirs.tolist()


def test_clamp_refuses_a_bound_the_result_dtype_cannot_hold():
    # as in PyTorch: 300 fits no uint8 and 1e30 no float16; a float bound makes an int
    # tensor's result float, where it fits; -1 for uint8 is 255
    u = tg.tensor([1, 2], dtype=tg.uint8)
    with pytest.raises(RuntimeError, match=r"clamp: .* uint8 .*\(the value 300\)"):
        tg.clamp(u, max=300)
    with pytest.raises(RuntimeError, match=r"clamp: .* float16 .*\(the value 1e\+30\)"):
        tg.clamp(tg.zeros(2, dtype=tg.float16), min=1e30)
    assert tg.clamp(u, max=-1.5).tolist() == [-1.5, -1.5]
    assert tg.clamp(u, min=-1).tolist() == [255, 255]
