"""Activations (tapegrad/nn/functional/activation.py, tapegrad/nn/modules/activation.py).

Each is checked for its values against a numpy formula, its gradient and second
derivative against finite differences (float64, away from kinks), its derivative AT
the kinks against PyTorch's rule, its numerics at ±1e4, its dtype, its module form and
repr, and, where PyTorch is installed, against PyTorch itself.
"""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional.activation as F
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.modules import activation as nn

rng = np.random.default_rng(0)
erf = np.vectorize(math.erf)


def away_from(shape, points=(0.0,), margin=0.1, low=-3.0, high=3.0):
    """Values in [low, high) none within ``margin`` of a kink in ``points``."""
    a = rng.uniform(low, high, size=shape)
    for p in points:
        a = np.where(np.abs(a - p) < margin, p + 2 * margin, a)
    return a


def leaf(array):
    return tg.tensor(array, dtype=tg.float64, requires_grad=True)


def noncontiguous_leaf(array):
    strided = np.asfortranarray(np.asarray(array, dtype=np.float64))
    assert not strided.flags.c_contiguous
    return tg.from_numpy(strided).requires_grad_()


def grad_of(fn, values, dtype=tg.float64):
    """d(Σ fn(x))/dx at ``values``."""
    x = tg.tensor(values, dtype=dtype, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


# -- numpy formulas ----------------------------------------------------------------------------
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805   # Klambauer et al., 2017


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x, beta=1.0, threshold=20.0):
    z = np.minimum(beta * x, threshold)
    return np.where(beta * x > threshold, x, np.log1p(np.exp(z)) / beta)


FORMULAS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0), (0.0,)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), (0.0,)),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                       (0.0,)),
    "elu": (F.elu, lambda x: np.where(x > 0, x, np.expm1(x)), (0.0,)),
    "elu_alpha_0.5": (lambda x: F.elu(x, alpha=0.5),
                      lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), (0.0,)),
    "gelu": (F.gelu, lambda x: x * 0.5 * (1 + erf(x / math.sqrt(2))), ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                   * (x + 0.044715 * x ** 3))),
                  ()),
    "silu": (F.silu, lambda x: x * np_sigmoid(x), ()),
    "sigmoid": (F.sigmoid, np_sigmoid, ()),
    "tanh": (F.tanh, np.tanh, ()),
    "softplus": (F.softplus, np_softplus, ()),
    "softplus_beta_2_threshold_3": (lambda x: F.softplus(x, beta=2, threshold=3),
                                    lambda x: np_softplus(x, 2, 3), (1.5,)),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1, 1), (-1.0, 1.0)),
    "hardtanh_-2_0.5": (lambda x: F.hardtanh(x, -2.0, 0.5), lambda x: np.clip(x, -2, 0.5),
                        (-2.0, 0.5)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6), (0.0, 6.0)),
    "logsigmoid": (F.logsigmoid, lambda x: -np.log1p(np.exp(-x)), ()),
    "selu": (F.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), (0.0,)),
    "celu": (F.celu, lambda x: np.where(x > 0, x, np.expm1(x)), (0.0,)),
    "celu_alpha_2": (lambda x: F.celu(x, 2.0), lambda x: np.where(x > 0, x, 2 * np.expm1(x / 2)),
                     (0.0,)),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x))), ()),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, (-3.0, 3.0)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, (-3.0, 3.0)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x)), (0.0,)),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x), ()),
    "hardshrink": (F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0.0), (-0.5, 0.5)),
    "softshrink_1": (lambda x: F.softshrink(x, 1.0),
                     lambda x: np.where(np.abs(x) > 1, x - np.sign(x), 0.0), (-1.0, 1.0)),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0),
                  (0.5,)),
}


# -- values ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FORMULAS)
def test_values_match_the_numpy_formula(name):
    fn, formula, _ = FORMULAS[name]
    x = np.linspace(-7, 7, 57)
    np.testing.assert_allclose(fn(tg.tensor(x, dtype=tg.float64)).numpy(), formula(x),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", FORMULAS)
def test_float32_stays_float32_and_shape_is_kept(name):
    fn, formula, _ = FORMULAS[name]
    x = rng.uniform(-3, 3, size=(2, 3, 4)).astype(np.float32)
    out = fn(tg.tensor(x))
    assert out.dtype == tg.float32 and out.shape == (2, 3, 4)
    np.testing.assert_allclose(out.numpy(), formula(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", FORMULAS)
def test_a_0d_input_gives_a_0d_output(name):
    fn, formula, _ = FORMULAS[name]
    out = fn(tg.tensor(0.75, dtype=tg.float64))
    assert out.shape == () and out.item() == pytest.approx(float(formula(np.float64(0.75))))


def test_softmax_and_log_softmax_along_a_dim():
    x = rng.standard_normal((3, 4, 5))
    for dim in (0, 1, 2, -1):
        e = np.exp(x - x.max(dim, keepdims=True))
        expected = e / e.sum(dim, keepdims=True)
        np.testing.assert_allclose(F.softmax(tg.tensor(x), dim).numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(F.log_softmax(tg.tensor(x), dim=dim).numpy(),
                                   np.log(expected), rtol=1e-12)


def test_softmax_dtype_argument_computes_in_that_dtype():
    x = tg.randn(2, 3)
    assert F.softmax(x, 1, dtype=tg.float64).dtype == tg.float64
    assert F.log_softmax(x, 1).dtype == tg.float32


def test_gelu_exact_and_tanh_approximation_agree_closely_but_not_exactly():
    x = tg.tensor(np.linspace(-5, 5, 101), dtype=tg.float64)
    exact, approx = F.gelu(x).numpy(), F.gelu(x, approximate="tanh").numpy()
    difference = np.abs(exact - approx).max()
    assert 1e-5 < difference < 1e-3
    assert F.gelu(tg.tensor(1.0, dtype=tg.float64)).item() == pytest.approx(
        0.5 * (1 + math.erf(1 / math.sqrt(2))), rel=1e-15)


def test_softplus_is_linear_above_the_threshold():
    x = tg.tensor([19.0, 20.0, 20.5, 100.0], dtype=tg.float64)
    out = F.softplus(x).numpy()
    assert out[2] == 20.5 and out[3] == 100.0
    assert out[1] == pytest.approx(math.log1p(math.exp(20.0)), rel=1e-15)   # (at it: not linear)
    out = F.softplus(x, beta=10, threshold=200).numpy()   # βx = 205 > 200 for x = 20.5
    assert out[2] == 20.5 and out[1] == pytest.approx(math.log1p(math.exp(200)) / 10)


def test_softplus_of_float16_does_not_overflow_below_the_threshold():
    # e^18 overflows float16; log(1 + e^18) is 18 to float16's precision (PyTorch: 18.14)
    x = tg.tensor([18.14, 11.5, 3.62, -12.0], dtype=tg.float16)
    np.testing.assert_allclose(F.softplus(x).numpy().astype(np.float64),
                               np.log1p(np.exp(x.numpy().astype(np.float64))), rtol=1e-3)
    assert F.softplus(x, beta=2.0).numpy()[0] == np.float16(18.14)


# -- numerics at large inputs ------------------------------------------------------------------
LARGE = [-1e4, -100.0, 100.0, 1e4]


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_logsigmoid_and_softplus_are_exact_at_plus_minus_1e4(dtype):
    np.testing.assert_allclose(F.logsigmoid(tg.tensor(LARGE, dtype=dtype)).numpy(),
                               [-1e4, -100.0, -np.exp(-100.0), 0.0], rtol=1e-6, atol=1e-40)
    np.testing.assert_array_equal(F.softplus(tg.tensor(LARGE, dtype=dtype)).numpy()[[0, 2, 3]],
                                  [0.0, 100.0, 1e4])
    tiny = np.exp(-100.0)
    np.testing.assert_allclose(grad_of(F.logsigmoid, LARGE, dtype), [1.0, 1.0, tiny, 0.0],
                               rtol=1e-6, atol=1e-40)
    np.testing.assert_allclose(grad_of(F.softplus, LARGE, dtype), [0.0, tiny, 1.0, 1.0],
                               rtol=1e-6, atol=1e-40)


@pytest.mark.parametrize("name", FORMULAS)
def test_values_and_gradients_stay_finite_at_plus_minus_1e4(name):
    fn, _, _ = FORMULAS[name]
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor(LARGE, dtype=dtype, requires_grad=True)
        out = fn(x)
        out.sum().backward()
        assert np.isfinite(out.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()


def test_saturated_gradients_at_plus_minus_1e4():
    big = [-1e4, 1e4]
    assert grad_of(F.elu, big).tolist() == [0.0, 1.0]
    assert grad_of(F.gelu, big).tolist() == [0.0, 1.0]
    assert grad_of(F.silu, big).tolist() == [0.0, 1.0]
    assert grad_of(F.sigmoid, big).tolist() == [0.0, 0.0]
    assert F.gelu(tg.tensor(big)).tolist() == [0.0, 1e4]


# -- the derivative at kinks, as PyTorch defines it --------------------------------------------
def test_derivatives_at_the_kinks_follow_pytorch():
    assert grad_of(F.relu, [0.0]).tolist() == [0.0]
    assert grad_of(F.leaky_relu, [0.0]).tolist() == [0.01]
    assert grad_of(lambda x: F.elu(x, alpha=2.0), [0.0]).tolist() == [2.0]
    # hardtanh (and relu6) have gradient 0 AT the bounds, unlike clamp's 1
    assert grad_of(F.hardtanh, [-1.0, 1.0, 0.5]).tolist() == [0.0, 0.0, 1.0]
    assert grad_of(F.relu6, [0.0, 6.0, 3.0]).tolist() == [0.0, 0.0, 1.0]
    assert grad_of(F.logsigmoid, [0.0]).tolist() == [0.5]
    assert grad_of(F.silu, [0.0]).tolist() == [0.5]
    assert grad_of(F.softplus, [20.0]).tolist() == [pytest.approx(np_sigmoid(20.0), rel=1e-15)]


@pytest.mark.parametrize("inplace", [False, True])
def test_float16_hardtanh_compares_with_its_bounds_unrounded_as_pytorch(inplace):
    # float16(2.1) = 2.0996 and float16(-1.3) = -1.2998 lie inside (-1.3, 2.1): gradient 1
    # (rounding the bounds to float16 made them the bounds, gradient 0); 6.0 is relu6's bound
    def hardtanh(x):
        return F.hardtanh(x * 1, -1.3, 2.1, inplace=inplace)
    assert grad_of(hardtanh, [2.1, -1.3, 2.2, -1.4], tg.float16).tolist() == [1, 1, 0, 0]
    assert grad_of(hardtanh, [2.1, -1.3, 2.2, -1.4], tg.float32).tolist() == [0, 0, 0, 0]
    assert grad_of(F.relu6, [6.0, 5.996, 0.0], tg.float16).tolist() == [0, 1, 0]


@pytest.mark.parametrize("inplace", [False, True])
def test_float16_threshold_compares_with_the_threshold_unrounded_as_pytorch(inplace):
    # 2.1016 lies above 2.1008, which float16 would round onto 2.1016 (and replace x)
    def threshold(x):
        return F.threshold(x * 1, 2.1008, 7.0, inplace=inplace)
    x = tg.tensor([2.1016, 2.0996, -3.0], dtype=tg.float16)
    assert threshold(x).tolist() == [2.1015625, 7.0, 7.0]
    assert grad_of(threshold, [2.1016, 2.0996, -3.0], tg.float16).tolist() == [1, 0, 0]


def test_float16_softshrink_shifts_by_the_unrounded_lambda_as_pytorch():
    # computed in float32 and rounded once: 2.1016 - 2.1 = 0.00156, where λ rounded to
    # float16 (2.0996) gives 0.00195
    x = tg.tensor([2.1016, -2.1016, 2.0996, 0.5], dtype=tg.float16)
    expected = np.float16(np.float32([2.1015625, -2.1015625]) - np.float32([2.1, -2.1]))
    assert F.softshrink(x, 2.1).tolist() == expected.tolist() + [0.0, 0.0]
    assert grad_of(lambda x: F.softshrink(x, 2.1), [2.1016, -2.1016, 2.0996, 0.5],
                   tg.float16).tolist() == [1, 1, 0, 0]
    # PyTorch's backward compares with λ rounded to float16: 2.1008 is 2.1016 there, so
    # x = 2.1016 is shrunk (to 0.00076) but has gradient 0
    y = F.softshrink(tg.tensor([2.1016], dtype=tg.float16), 2.1008)
    assert y.tolist() == [np.float16(np.float32(2.1015625) - np.float32(2.1008))] != [0]
    assert grad_of(lambda x: F.softshrink(x, 2.1008), [2.1016], tg.float16).tolist() == [0]


def test_softmin_errors_name_softmin():
    x = tg.ones(2, 3)
    with pytest.raises(IndexError, match=r"softmin: dimension 2 is out of range for a tensor "
                                         r"of shape \(2, 3\)"):
        F.softmin(x, dim=2)
    with pytest.raises(TypeError, match="softmin: dim must be a single int"):
        F.softmin(x, dim=(0, 1))
    with pytest.raises(RuntimeError, match="softmin: needs a floating point tensor, got .*int64"):
        F.softmin(tg.ones(2, 3, dtype=tg.int64), dim=1)
    with pytest.raises(RuntimeError, match="softmin: needs a floating point tensor, got .*int64"):
        F.softmin(x, dim=1, dtype=tg.int64)
    assert F.softmin(tg.tensor([[0, 1]]), dim=1, dtype=tg.float64).dtype == tg.float64


def test_float16_hardshrink_compares_with_lambda_rounded_to_float16_as_pytorch():
    # unlike softshrink's forward, PyTorch's hardshrink rounds λ: 2.1008 becomes 2.1016
    x = tg.tensor([2.1016, 2.1035], dtype=tg.float16)
    assert F.hardshrink(x, 2.1008).tolist() == [0.0, 2.103515625]


def test_second_derivative_of_logsigmoid_at_0_is_minus_a_quarter():
    x = tg.tensor(0.0, dtype=tg.float64, requires_grad=True)
    g, = tg.autograd.grad(F.logsigmoid(x), x, create_graph=True)
    gg, = tg.autograd.grad(g, x)
    assert g.item() == 0.5 and gg.item() == -0.25


# -- gradients (float64) -----------------------------------------------------------------------
GRAD_CASES = [(name, shape) for name in FORMULAS for shape in [(), (5,), (3, 4), "noncontiguous"]]


@pytest.mark.parametrize("name,shape", GRAD_CASES)
def test_gradcheck(name, shape):
    fn, _, kinks = FORMULAS[name]
    values = away_from((3, 4) if shape == "noncontiguous" else shape, kinks,
                       low=-3, high=8 if name == "relu6" else 3)
    x = noncontiguous_leaf(values) if shape == "noncontiguous" else leaf(values)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_gradcheck_of_softplus_on_both_sides_of_the_threshold():
    x = leaf(away_from((4, 5), (1.5,), low=-2, high=5))   # βx from -4 to 10, threshold 3
    assert gradcheck(lambda x: F.softplus(x, beta=2, threshold=3), (x,))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_gradcheck_softmax_family(fn, dim):
    x = leaf(rng.standard_normal((3, 4)))
    assert gradcheck(lambda x: fn(x, dim), (x,))
    assert gradgradcheck(lambda x: fn(x, dim), (x,))
    x = noncontiguous_leaf(rng.standard_normal((3, 4)))
    assert gradcheck(lambda x: fn(x, dim), (x,))


def test_gradcheck_softmax_of_3d_input():
    x = leaf(rng.standard_normal((2, 3, 4)))
    assert gradcheck(lambda x: F.softmax(x, 1), (x,))
    assert gradcheck(lambda x: F.log_softmax(x, 2), (x,))


# -- implicit softmax dim (deprecated in PyTorch) ----------------------------------------------
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((2, 5), 1), ((2, 3, 5), 0), ((2, 3, 4, 5), 1)])
def test_softmax_without_dim_warns_and_picks_pytorchs_dim(shape, dim):
    x = tg.randn(*shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been "
                                         "deprecated"):
        out = F.softmax(x)
    np.testing.assert_allclose(out.numpy(), F.softmax(x, dim).numpy())
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        out = F.log_softmax(x)
    np.testing.assert_allclose(out.numpy(), F.log_softmax(x, dim).numpy())


def test_softmax_with_a_dim_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(tg.randn(2, 3), dim=1)
        nn.Softmax(dim=1)(tg.randn(2, 3))


def test_softmax_module_without_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        nn.Softmax()(tg.randn(2, 3))


# -- inplace=True ------------------------------------------------------------------------------
INPLACE = {
    "relu": lambda x, inplace: F.relu(x, inplace=inplace),
    "leaky_relu": lambda x, inplace: F.leaky_relu(x, 0.1, inplace=inplace),
    "elu": lambda x, inplace: F.elu(x, 1.0, inplace),
    "silu": lambda x, inplace: F.silu(x, inplace=inplace),
    "hardtanh": lambda x, inplace: F.hardtanh(x, -0.5, 0.5, inplace),
    "relu6": lambda x, inplace: F.relu6(x, inplace=inplace),
    "selu": lambda x, inplace: F.selu(x, inplace),
    "celu": lambda x, inplace: F.celu(x, 0.7, inplace),
    "mish": lambda x, inplace: F.mish(x, inplace),
    "hardsigmoid": lambda x, inplace: F.hardsigmoid(x, inplace),
    "hardswish": lambda x, inplace: F.hardswish(x, inplace),
    "threshold": lambda x, inplace: F.threshold(x, 0.5, -1.0, inplace),
}


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_overwrites_the_input_and_returns_it(name):
    fn = INPLACE[name]
    x = tg.tensor(away_from((3, 4)), dtype=tg.float32)
    expected = fn(x, False).numpy()
    original = x.clone()
    out = fn(x, True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), expected)
    assert not np.array_equal(original.numpy(), expected)


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_on_an_intermediate_gives_the_same_gradient_as_out_of_place(name):
    fn = INPLACE[name]
    values = away_from((3, 4), (0.0, 0.5, -0.5), margin=0.05)
    grads = []
    for inplace in (False, True):
        w = tg.tensor(values, dtype=tg.float64, requires_grad=True)
        h = w * 1.0   # an intermediate (in place on a leaf that requires grad is refused)
        out = fn(h, inplace)
        (out * tg.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
        grads.append(w.grad.numpy())
    # (elu, selu and celu take their slope from the result in place: the same to rounding)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-14)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_before_anything_changes():
    x = tg.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"relu\(inplace=True\): a leaf tensor that requires "
                                           r"grad"):
        F.relu(x, inplace=True)
    assert x.tolist() == [-1.0, 2.0]


def test_inplace_without_grad_is_allowed_on_anything():
    x = tg.tensor([-1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        F.relu_(x)
    assert x.tolist() == [0.0, 2.0]
    y = tg.tensor([-3.0, 0.5])
    assert F.hardtanh_(y) is y and y.tolist() == [-1.0, 0.5]
    assert F.leaky_relu_(tg.tensor([-1.0]), 0.5).tolist() == [-0.5]
    assert F.elu_(tg.tensor([0.0, 1.0])).tolist() == [0.0, 1.0]


def test_inplace_after_an_op_that_saved_its_output_is_caught_as_in_pytorch():
    x = tg.tensor([0.5, -0.5], requires_grad=True)
    h = x.sigmoid()   # sigmoid's backward needs its output h
    F.relu(h, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        h.sum().backward()


def test_relu_module_inplace_in_a_network():
    lin = tg.nn.Linear(4, 3).double()
    x = tg.randn(5, 4, dtype=tg.float64)
    grads = []
    for inplace in (False, True):
        lin.zero_grad()
        tg.nn.Sequential(lin, nn.ReLU(inplace=inplace))(x).sum().backward()
        grads.append(lin.weight.grad.numpy().copy())
    np.testing.assert_array_equal(grads[0], grads[1])


# -- modules -----------------------------------------------------------------------------------
MODULES = [
    (nn.ReLU(), F.relu), (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (nn.ELU(alpha=0.7), lambda x: F.elu(x, 0.7)), (nn.GELU(), F.gelu),
    (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")), (nn.SiLU(), F.silu),
    (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh), (nn.LogSigmoid(), F.logsigmoid),
    (nn.Softmax(dim=0), lambda x: F.softmax(x, 0)),
    (nn.LogSoftmax(dim=-1), lambda x: F.log_softmax(x, -1)),
    (nn.Softplus(beta=2, threshold=4), lambda x: F.softplus(x, 2, 4)),
    (nn.Hardtanh(-2, 2), lambda x: F.hardtanh(x, -2, 2)), (nn.ReLU6(), F.relu6),
    (nn.SELU(), F.selu), (nn.CELU(0.5), lambda x: F.celu(x, 0.5)), (nn.Mish(), F.mish),
    (nn.Hardsigmoid(), F.hardsigmoid), (nn.Hardswish(), F.hardswish),
    (nn.Softsign(), F.softsign), (nn.Tanhshrink(), F.tanhshrink),
    (nn.Hardshrink(0.3), lambda x: F.hardshrink(x, 0.3)),
    (nn.Softshrink(0.3), lambda x: F.softshrink(x, 0.3)),
    (nn.Threshold(0.1, 20), lambda x: F.threshold(x, 0.1, 20)),
    (nn.GLU(), F.glu), (nn.GLU(-1), lambda x: F.glu(x, 1)),
    (nn.Softmin(1), lambda x: F.softmin(x, 1)),
]


@pytest.mark.parametrize("module,fn", MODULES, ids=lambda m: type(m).__name__)
def test_module_computes_its_function_and_has_no_parameters(module, fn):
    x = tg.randn(3, 4) * 3
    np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())
    assert list(module.parameters()) == [] and list(module.state_dict()) == []


def test_module_reprs_match_pytorch():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.LeakyReLU(0.2, True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.ELU(inplace=True)) == "ELU(alpha=1.0, inplace=True)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.SiLU()) == "SiLU()" and repr(nn.SiLU(True)) == "SiLU(inplace=True)"
    assert repr(nn.Sigmoid()) == "Sigmoid()" and repr(nn.Tanh()) == "Tanh()"
    assert repr(nn.LogSigmoid()) == "LogSigmoid()"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Softmax()) == "Softmax(dim=None)"
    assert repr(nn.LogSoftmax(1)) == "LogSoftmax(dim=1)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Softplus(2, 10)) == "Softplus(beta=2, threshold=10)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Hardtanh(inplace=True)) == "Hardtanh(min_val=-1.0, max_val=1.0, inplace=True)"
    assert repr(nn.ReLU6()) == "ReLU6()" and repr(nn.ReLU6(True)) == "ReLU6(inplace=True)"
    assert repr(tg.nn.Sequential(tg.nn.Linear(2, 3), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)")


def test_hardtanh_module_accepts_the_deprecated_bound_names():
    with pytest.warns(FutureWarning, match="min_value"):
        module = nn.Hardtanh(min_value=-2.0)
    assert module.min_val == -2.0


# -- errors ------------------------------------------------------------------------------------
def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="gelu: approximate argument must be either 'none' or "
                                           "'tanh', got 'fast'"):
        F.gelu(tg.randn(2), approximate="fast")
    with pytest.raises(ValueError, match=r"hardtanh: min_val \(2\) cannot be greater than "
                                         r"max_val \(1\)"):
        F.hardtanh(tg.randn(2), 2, 1)
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(0\) must be greater than "
                                         r"min_val \(1\)"):
        nn.Hardtanh(1, 0)
    with pytest.raises(TypeError, match="relu: input must be a Tensor, got list"):
        F.relu([1.0])
    with pytest.raises(TypeError, match="softplus: input must be a Tensor, got ndarray"):
        F.softplus(np.zeros(2))
    with pytest.raises(IndexError, match="dimension 2 is out of range"):
        F.softmax(tg.randn(2, 3), dim=2)


# -- PyTorch, where it is installed ------------------------------------------------------------
TORCH_NAMES = {
    "relu": lambda F, x: F.relu(x), "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2),
    "elu": lambda F, x: F.elu(x, 0.5), "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"), "silu": lambda F, x: F.silu(x),
    "sigmoid": lambda F, x: F.sigmoid(x), "tanh": lambda F, x: F.tanh(x),
    "softplus": lambda F, x: F.softplus(x, 2, 5), "hardtanh": lambda F, x: F.hardtanh(x, -1, 2),
    "relu6": lambda F, x: F.relu6(x), "logsigmoid": lambda F, x: F.logsigmoid(x),
    "softmax": lambda F, x: F.softmax(x, dim=1), "log_softmax": lambda F, x: F.log_softmax(x, 0),
    "selu": lambda F, x: F.selu(x), "celu": lambda F, x: F.celu(x, 0.5),
    "mish": lambda F, x: F.mish(x), "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "hardswish": lambda F, x: F.hardswish(x), "softsign": lambda F, x: F.softsign(x),
    "tanhshrink": lambda F, x: F.tanhshrink(x), "hardshrink": lambda F, x: F.hardshrink(x, 1.0),
    "softshrink": lambda F, x: F.softshrink(x, 2.0),
    "threshold": lambda F, x: F.threshold(x, 2.0, -1.5), "softmin": lambda F, x: F.softmin(x, 1),
}


@pytest.mark.parametrize("name", TORCH_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients_match_pytorch(name, dtype):
    torch = pytest.importorskip("torch")
    fn = TORCH_NAMES[name]
    x = np.concatenate([rng.uniform(-8, 8, size=(3, 8)), [[0.0, 6.0, -1.0, 1e4, -1e4, 2.0,
                                                         2.5, 20.0]]]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    ours = tg.tensor(x, requires_grad=True)
    out = fn(F, ours)
    (out * tg.tensor(g)).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    out_ref = fn(torch.nn.functional, theirs)
    (out_ref * torch.tensor(g)).sum().backward()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    assert out.dtype == (tg.float32 if dtype == "float32" else tg.float64)
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), **tol)
    if name == "hardsigmoid" and dtype == "float64":
        # PyTorch's float64 kernel multiplies by 1/6 rounded to float32 (0.16666667163…)
        tol = dict(rtol=1e-7, atol=0)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


def test_module_reprs_match_pytorchs_own():
    torch = pytest.importorskip("torch")
    pairs = [(nn.LeakyReLU(0.1, True), torch.nn.LeakyReLU(0.1, True)),
             (nn.ELU(0.5), torch.nn.ELU(0.5)), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
             (nn.Softplus(), torch.nn.Softplus()), (nn.Hardtanh(-2.0, 3.0, True),
                                                     torch.nn.Hardtanh(-2.0, 3.0, True)),
             (nn.ReLU6(True), torch.nn.ReLU6(True)), (nn.SiLU(True), torch.nn.SiLU(True)),
             (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
             (nn.LogSoftmax(), torch.nn.LogSoftmax()), (nn.SELU(True), torch.nn.SELU(True)),
             (nn.SELU(), torch.nn.SELU()), (nn.CELU(0.5, True), torch.nn.CELU(0.5, True)),
             (nn.Mish(True), torch.nn.Mish(True)), (nn.Mish(), torch.nn.Mish()),
             (nn.Hardsigmoid(True), torch.nn.Hardsigmoid(True)),
             (nn.Hardswish(), torch.nn.Hardswish()), (nn.Softsign(), torch.nn.Softsign()),
             (nn.Tanhshrink(), torch.nn.Tanhshrink()), (nn.Hardshrink(), torch.nn.Hardshrink()),
             (nn.Softshrink(0.25), torch.nn.Softshrink(0.25)),
             (nn.Threshold(0.1, 20, True), torch.nn.Threshold(0.1, 20, True)),
             (nn.GLU(), torch.nn.GLU()), (nn.Softmin(0), torch.nn.Softmin(0)),
             (nn.PReLU(), torch.nn.PReLU()), (nn.PReLU(3, 0.1), torch.nn.PReLU(3, 0.1))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_hardtanh_of_uint8_with_a_negative_bound_is_refused_by_name():
    with pytest.raises(RuntimeError, match="hardtanh: cannot do hardtanh on an unsigned type"):
        tg.nn.functional.hardtanh(tg.tensor([1, 2], dtype=tg.uint8))
    assert tg.nn.functional.hardtanh(tg.tensor([1, 5], dtype=tg.uint8), 0, 3).tolist() == [1, 3]


# -- the activations PyTorch users reach for besides the common ones ---------------------------
def test_new_derivatives_at_the_kinks_follow_pytorch():
    assert grad_of(F.hardswish, [-3.0, 3.0, 0.0]).tolist() == [0.0, 1.0, 0.5]
    assert grad_of(F.hardsigmoid, [-3.0, 3.0, 0.0]).tolist() == [0.0, 0.0, 1 / 6]
    assert grad_of(F.hardshrink, [-0.5, 0.5, 0.6]).tolist() == [0.0, 0.0, 1.0]
    assert grad_of(lambda x: F.softshrink(x, 1.0), [-1.0, 1.0, 1.5]).tolist() == [0.0, 0.0, 1.0]
    assert grad_of(lambda x: F.threshold(x, 0.5, 9.0), [0.5, 0.6]).tolist() == [0.0, 1.0]
    assert grad_of(lambda x: F.celu(x, 2.0), [0.0]).tolist() == [1.0]
    assert grad_of(F.selu, [0.0, 1.0]).tolist() == [SELU_SCALE * SELU_ALPHA, SELU_SCALE]
    assert grad_of(F.softsign, [0.0, 1.0]).tolist() == [1.0, 0.25]


def test_new_activations_at_the_infinities_as_pytorch():
    inf = math.inf
    x = tg.tensor([-inf, inf], dtype=tg.float64)
    assert np.isnan(F.hardswish(x).tolist()[0]) and F.hardswish(x).tolist()[1] == inf  # -∞·0
    assert np.isnan(F.mish(x).tolist()[0]) and F.mish(x).tolist()[1] == inf            # -∞·0
    assert F.hardsigmoid(x).tolist() == [0.0, 1.0]
    assert F.selu(x).tolist() == [-SELU_SCALE * SELU_ALPHA, inf]
    assert F.softshrink(x).tolist() == [-inf, inf] and F.hardshrink(x).tolist() == [-inf, inf]
    assert np.isnan(F.softshrink(tg.tensor([math.nan])).item())   # a NaN is passed on


def test_mish_passes_an_infinite_gradient_on_where_x_is_huge():
    # dy/dx = t + x·σ(x)(1 - t²) = 1 + 1e30·0: ∞ stays ∞ (composed, ∞·tanh'(1e30) = ∞·0 = NaN)
    x = tg.tensor([1e30, -1e30, 2.0], dtype=tg.float64, requires_grad=True)
    F.mish(x).backward(tg.tensor([math.inf, 1.0, 1.0], dtype=tg.float64))
    assert x.grad.tolist()[:2] == [math.inf, 0.0]
    t = math.tanh(math.log1p(math.exp(2.0)))
    assert x.grad.tolist()[2] == pytest.approx(t + 2.0 * np_sigmoid(2.0) * (1 - t * t), rel=1e-14)


def test_threshold_keeps_integers_and_takes_a_0d_tensor_value():
    # uint8 takes both numbers modulo 256, as PyTorch: -5 is 251, -100 is 156
    byte = tg.tensor([1, 200], dtype=tg.uint8)
    assert F.threshold(byte, 100, -5).tolist() == [251, 200]
    assert F.threshold(byte, -100, 5).tolist() == [5, 200]
    y = F.threshold(tg.tensor([1, 2, 3]), 1.5, 7.9)   # the value truncated to int64
    assert y.dtype == tg.int64 and y.tolist() == [7, 2, 3]
    assert F.threshold(tg.tensor([0.0, 3.0]), 1.0, tg.tensor(-1.0)).tolist() == [-1.0, 3.0]
    x = tg.tensor([0.0, 3.0])
    assert F.threshold_(x, 1.0, 5.0) is x and x.tolist() == [5.0, 3.0]
    assert F.selu_(tg.tensor([0.0])).tolist() == [0.0]
    assert F.celu_(tg.tensor([-1.0]), 2.0).item() == pytest.approx(2 * math.expm1(-0.5))


def test_glu_halves_along_dim_and_gates_with_a_sigmoid():
    x = tg.tensor([[1.0, 2.0, 0.0, 3.0]])
    np.testing.assert_allclose(F.glu(x).numpy(), [[0.5, 2 * np_sigmoid(3.0)]])
    assert F.glu(tg.ones(4, 3), 0).shape == (2, 3)
    x = noncontiguous_leaf(rng.standard_normal((4, 6)))
    for dim in (0, 1, -1):
        assert gradcheck(lambda x: F.glu(x, dim), (x,))
        assert gradgradcheck(lambda x: F.glu(x, dim), (x,))


def test_softmin_is_softmax_of_minus_x():
    x = tg.tensor([[1.0, 2.0, 3.0]], dtype=tg.float64)
    e = np.exp([-1.0, -2.0, -3.0])
    np.testing.assert_allclose(F.softmin(x, 1).numpy(), [e / e.sum()], rtol=1e-14)
    assert F.softmin(x.float(), 1, dtype=tg.float64).dtype == tg.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        assert F.softmin(x).shape == (1, 3)
    x = noncontiguous_leaf(rng.standard_normal((3, 4)))
    for dim in (0, 1):
        assert gradcheck(lambda x: F.softmin(x, dim), (x,))
        assert gradgradcheck(lambda x: F.softmin(x, dim), (x,))


def test_prelu_takes_one_slope_or_one_per_channel():
    x = tg.tensor([[-2.0, 3.0], [4.0, -1.0]])
    assert F.prelu(x, tg.tensor([0.5])).tolist() == [[-1.0, 3.0], [4.0, -0.5]]
    assert F.prelu(x, tg.tensor([0.5, 0.25])).tolist() == [[-1.0, 3.0], [4.0, -0.25]]
    assert F.prelu(tg.tensor([-4.0]), tg.tensor(0.5)).tolist() == [-2.0]   # a 0-d weight
    assert grad_of(lambda x: F.prelu(x, tg.tensor([0.25], dtype=tg.float64)), [0.0]).tolist() \
        == [0.25]   # the slope at 0 is the weight's, as PyTorch


@pytest.mark.parametrize("input_shape,weight_shape", [((2, 3, 4), (3,)), ((2, 3), (1,)),
                                                      ((5,), (1,)), ((), ())])
def test_gradcheck_prelu_with_respect_to_input_and_weight(input_shape, weight_shape):
    x = leaf(away_from(input_shape))
    w = leaf(rng.uniform(0.1, 0.5, size=weight_shape))
    assert gradcheck(F.prelu, (x, w))
    assert gradgradcheck(F.prelu, (x, w))


def test_gradcheck_prelu_of_a_noncontiguous_input():
    x = noncontiguous_leaf(away_from((3, 4)))
    assert gradcheck(F.prelu, (x, leaf([0.1, 0.2, 0.3, 0.4])))


def test_prelu_gives_the_weight_no_nan_where_x_is_infinite():
    # dy/da = min(x, 0): 0 at x = +∞ (x·0 would be NaN)
    x = tg.tensor([math.inf, -2.0])
    w = tg.tensor([0.25], requires_grad=True)
    F.prelu(x, w).sum().backward()
    assert w.grad.tolist() == [-2.0]


def test_prelu_slope_at_nan_is_the_weight_as_pytorch():
    x = tg.tensor([math.nan, 2.0], requires_grad=True)
    F.prelu(x, tg.tensor([0.25])).sum().backward()
    assert x.grad.tolist() == [0.25, 1.0]


def test_prelu_module_learns_its_slopes():
    module = nn.PReLU(3, init=0.1)
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    assert module.weight.shape == (3,) and module.weight.tolist() == pytest.approx([0.1] * 3)
    assert nn.PReLU().weight.tolist() == [0.25] and repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert nn.PReLU(dtype=tg.float64).weight.dtype == tg.float64
    x = tg.tensor([[-1.0, 2.0, -3.0]])
    module(x).sum().backward()
    assert module.weight.grad.tolist() == [-1.0, 0.0, -3.0]


def test_new_activations_refuse_misuse_by_name():
    with pytest.raises(RuntimeError, match="celu: alpha cannot be 0"):
        F.celu(tg.randn(2), 0.0)
    with pytest.raises(RuntimeError, match="softshrink: lambd must be at least 0, got -1"):
        F.softshrink(tg.randn(2), -1.0)
    with pytest.raises(RuntimeError, match=r"glu: halving dimension must be even, but "
                                           r"dimension 1 of the input of shape \(4, 3\) is size 3"):
        F.glu(tg.ones(4, 3))
    with pytest.raises(RuntimeError, match="glu: does not support a 0-d input"):
        F.glu(tg.tensor(1.0))
    with pytest.raises(IndexError, match=r"glu: dimension 5 is out of range for a tensor of shape"):
        F.glu(tg.ones(4, 2), 5)
    with pytest.raises(RuntimeError, match=r"prelu: weight has 2 values but the input of shape "
                                           r"\(2, 3\) has 3 channels"):
        F.prelu(tg.ones(2, 3), tg.ones(2))
    with pytest.raises(RuntimeError, match=r"prelu: expected weight to be a scalar or 1-d "
                                           r"tensor, got shape \(1, 3\)"):
        F.prelu(tg.ones(2, 3), tg.ones(1, 3))
    with pytest.raises(RuntimeError, match=r"prelu: input \(float32\) and weight \(float64\)"):
        F.prelu(tg.ones(2, 3), tg.ones(3, dtype=tg.float64))
    with pytest.raises(TypeError, match=r"threshold: value must be a number, got Tensor of "
                                        r"shape \(2,\)"):
        F.threshold(tg.ones(2), 0.5, tg.ones(2))
    with pytest.raises(RuntimeError, match="threshold: value 1e.30 cannot be converted to "
                                           "float16 without overflow"):
        F.threshold(tg.ones(2, dtype=tg.float16), 1.0, 1e30)
    with pytest.raises(RuntimeError, match="threshold: threshold 3000000000.0 cannot be "
                                           "converted to int32"):
        F.threshold(tg.ones(2, dtype=tg.int32), 3e9, 1)
    for limit, value in ((1, -1.5), (-1.5, 0)):   # a negative float fits no uint8, as in PyTorch
        with pytest.raises(RuntimeError, match=r"threshold: .* -1.5 cannot be converted to uint8"):
            F.threshold(tg.tensor([1, 2], dtype=tg.uint8), limit, value)
    assert F.threshold(tg.tensor([1, 2], dtype=tg.uint8), 1, -1).tolist() == [255, 2]
    half = tg.tensor([1.0, math.inf, -math.inf], dtype=tg.float16)
    assert F.threshold(half, 1e30, 2.0).tolist() == [2.0, math.inf, 2.0]
    assert F.threshold(half, -1e30, 2.0).tolist() == [1.0, math.inf, 2.0]
    for name in ("selu", "celu", "mish", "hardswish", "hardsigmoid", "hardshrink", "softshrink",
                 "prelu"):
        args = (tg.tensor([1, 2]),) + ((tg.tensor([1]),) if name == "prelu" else ())
        with pytest.raises(TypeError, match=f"{name}: expected a floating-point input, got "
                                            f"dtype int64"):
            getattr(F, name)(*args)
    for name in ("softsign", "tanhshrink", "threshold", "softmin"):
        args = (0.5, 1.0) if name == "threshold" else ()
        with pytest.raises(TypeError, match=f"{name}: bool inputs are not supported"):
            getattr(F, name)(tg.tensor([True]), *args)


def test_softsign_and_tanhshrink_of_integers_give_floats_as_pytorch():
    assert F.softsign(tg.tensor([1, -3])).tolist() == [0.5, -0.75]
    assert F.tanhshrink(tg.tensor([0])).dtype == tg.float32


def test_glu_softmin_and_prelu_match_pytorch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 4, 6))
    w = rng.uniform(0, 0.5, size=4)
    for ours, theirs in [(lambda F, x, w: F.glu(x, 1), None), (lambda F, x, w: F.glu(x), None),
                         (lambda F, x, w: F.softmin(x, 2), None),
                         (lambda F, x, w: F.prelu(x, w), None)]:
        a, b = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        wa, wb = tg.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        ya, yb = ours(F, a, wa), ours(torch.nn.functional, b, wb)
        g = rng.standard_normal(tuple(yb.shape))
        (ya * tg.tensor(g)).sum().backward()
        (yb * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15)
        if wb.grad is not None:
            np.testing.assert_allclose(wa.grad.numpy(), wb.grad.numpy(), rtol=1e-12)
