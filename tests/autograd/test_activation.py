"""GELU, softplus, SiLU, logsigmoid, elu (with selu's and celu's scales), glu, mish,
hardsigmoid and hardswish as one operation each (tapegrad/autograd/ops/activation.py):
both GELU forms, checked against finite differences to the second derivative, their
backward too, and against the formula in float32 and float64; softplus's, SiLU's and
glu's gradients at the edges."""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.ops import activation as A

from ..support import Case, leaf, noncontiguous

CASES = (
    [Case("gelu", lambda x, a=approximate: A.gelu(x, a), [x], name=f"{approximate}_{i}")
     for approximate in ("none", "tanh")
     for i, x in enumerate([leaf(), leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    + [Case("gelu_backward", lambda g, x, a=approximate: A.gelu_backward(g, x, a),
            [leaf(3, 4), leaf(3, 4)], name=approximate) for approximate in ("none", "tanh")]
    + [Case("gelu_backward", lambda g, x: A.gelu_backward(g, x, "none"),
            [noncontiguous(3, 4), leaf(3, 4)], name="noncontiguous")]
    + [Case("softplus", lambda x, b=beta, t=threshold: A.softplus(x, b, t), [x],
            name=f"beta_{beta}_threshold_{threshold}_{i}")
       for beta, threshold in ((1.0, 20.0), (0.5, 1.0), (-2.0, 1.0))
       for i, x in enumerate([leaf(), leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    + [Case("silu", A.silu, [x], name=str(i))
       for i, x in enumerate([leaf(), leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    + [Case("elu", lambda x, a=alpha: A.elu(x, a), [x], name=f"alpha_{alpha}_{i}")
       for alpha in (1.0, 0.5)
       for i, x in enumerate([leaf(), leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    + [Case("logsigmoid", A.logsigmoid, [x], name=str(i))
       for i, x in enumerate([leaf(), leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    + [Case("elu", lambda x, a=alpha, s=scale, c=input_scale: A.elu(x, a, False, s, c), [x],
            name=f"alpha_{alpha}_scale_{scale}_input_scale_{input_scale}_{i}")
       for alpha, scale, input_scale in ((1.67, 1.05, 1.0), (2.0, 1.0, 0.5), (-0.5, 1.0, -2.0))
       for i, x in enumerate([leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    + [Case("glu", A.glu, [a, b], name=str(i))
       for i, (a, b) in enumerate([(leaf(3, 4), leaf(3, 4)), (leaf(5, low=-4, high=4), leaf(5)),
                                   (noncontiguous(3, 4), noncontiguous(3, 4))])]
    + [Case("mish", A.mish, [x], name=str(i))
       for i, x in enumerate([leaf(), leaf(5, low=-4, high=4), noncontiguous(3, 4)])]
    # (hardsigmoid and hardswish away from their kinks at ±3)
    + [Case(name, getattr(A, name), [x], name=str(i))
       for name in ("hardsigmoid", "hardswish")
       for i, x in enumerate([leaf(), leaf(5, low=-2.9, high=2.9), noncontiguous(3, 4),
                              leaf(4, low=3.1, high=5), leaf(4, low=-5, high=-3.1)])]
)


def test_logsigmoid_meets_an_infinite_gradient_once():
    # dy/dx = σ(-x): ∞·σ(-x) is ∞ (composed, n - log(1 + e^{2n - x}) gave ∞ - ∞ = NaN)
    x = tg.tensor([-3.0, 0.0, 2.0], requires_grad=True)
    y = F.logsigmoid(x)
    y.backward(tg.tensor([math.inf, -math.inf, math.inf]))
    assert x.grad.tolist() == [math.inf, -math.inf, math.inf]
    assert y.grad_fn.op == "logsigmoid"


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def exact(x):   # x·Φ(x), Φ(x) = erfc(-x/√2)/2 (no cancellation where Φ is tiny)
    return 0.5 * x * np.vectorize(math.erfc)(-x / math.sqrt(2))


def tanh_form(x):   # (1 + tanh u)/2 = 1/(1 + e^{-2u}), which may overflow to inf (y = 0)
    with np.errstate(over="ignore"):
            return x / (1 + np.exp(-2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.parametrize("approximate,formula", [("none", exact), ("tanh", tanh_form)])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64, tg.float16])
def test_gelu_matches_its_formula_and_keeps_the_dtype(approximate, formula, dtype):
    x = np.linspace(-30, 30, 601)
    y = A.gelu(tg.tensor(x, dtype=dtype), approximate)
    assert y.dtype == dtype
    tol = {tg.float16: 1e-2, tg.float32: 1e-6, tg.float64: 1e-13}[dtype]
    np.testing.assert_allclose(y.double().numpy(), formula(x), rtol=tol, atol=tol)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_float16_gelu_is_computed_in_float32_and_rounded_once(approximate):
    # in float16 x² overflows from |x| ≈ 256 (the tanh form's slope then met ∞·0) and
    # 1 + erf(x/√2) cancels for negative x; PyTorch computes both in float32
    values = np.array([-2354.0, -300.0, -3.0, 0.0, 1.5, 300.0])
    x = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    y = A.gelu(x, approximate)
    y.sum().backward()
    x64 = tg.tensor(values, dtype=tg.float64, requires_grad=True)
    y64 = A.gelu(x64, approximate)
    y64.sum().backward()
    assert y.dtype is tg.float16 and x.grad.dtype is tg.float16
    np.testing.assert_array_equal(y.detach().numpy(), y64.detach().numpy().astype(np.float16))
    np.testing.assert_allclose(x.grad.numpy(), x64.grad.numpy(), rtol=1e-3, atol=1e-7)
    assert np.isfinite(x.grad.numpy()).all()


def test_tanh_gelu_has_slope_one_and_zero_far_out_where_x_cubed_overflows():
    # x·(1 + 3a x²) overflows float32 from |x| ≈ 1.4e13 while σ(2u)(1 - σ(2u)) is already 0:
    # the slope is 1 (and 0 for -x), not ∞·0 = NaN. Beyond x² overflowing (1e20) PyTorch's
    # slope is NaN too, and so is tapegrad's
    x = tg.tensor([1e15, -1e15, 2e13, -2e13, 1e20], requires_grad=True)
    A.gelu(x, "tanh").backward(tg.ones_like(x))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0, 0.0, np.nan])


def test_softplus_with_beta_zero_has_gradient_one_half_as_in_pytorch():
    x = tg.tensor([-3.0, 0.0, 5.0], dtype=tg.float16, requires_grad=True)
    y = F.softplus(x, beta=0.0, threshold=1.0)   # log(1 + e⁰)/0 = ∞, whose slope PyTorch gives as e⁰/(e⁰ + 1)
    assert y.tolist() == [math.inf] * 3
    y.sum().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.5]


def test_softplus_sends_an_infinite_gradient_through_and_zero_below_at_minus_infinity():
    x = tg.tensor([-math.inf, 0.0, 30.0], requires_grad=True)
    F.softplus(x).backward(tg.tensor([1.0, math.inf, math.inf]))
    assert x.grad.tolist() == [0.0, math.inf, math.inf]


def test_float16_softplus_multiplies_the_gradient_by_its_slope_in_float32():
    # σ(-20) = 2e-9 is 0 in float16: rounded first, an infinite gradient would give NaN
    x = tg.tensor([-20.0, -100.0], dtype=tg.float16, requires_grad=True)
    F.softplus(x).backward(tg.tensor([float("inf"), 3e4], dtype=tg.float16))
    assert x.grad.dtype is tg.float16 and x.grad.tolist() == [float("inf"), 0.0]


def test_float16_silu_is_computed_in_float32_and_rounded_once():
    x = tg.tensor([-20.0, 3.0], dtype=tg.float16, requires_grad=True)
    y = F.silu(x)   # -20·σ(-20) = -4.1e-8 rounds to float16's smallest subnormal, -6e-8
    assert y.dtype is tg.float16 and y.tolist()[0] == -2.0 ** -24
    y.backward(tg.tensor([float("inf"), 1.0], dtype=tg.float16))
    assert x.grad.tolist()[0] == -float("inf")   # ∞·σ(x)(1 + x(1 - σ(x))), slope -3.9e-8
    assert x.grad.tolist()[1] == pytest.approx(1.0881, abs=1e-3)


def test_silu_passes_an_infinite_gradient_on_where_x_is_huge():
    x = tg.tensor([1e30, -3.0, 0.0], requires_grad=True)
    F.silu(x).backward(tg.tensor([math.inf, 1.0, 1.0]))   # σ(1 + x(1 - σ)) = 1, not ∞·σ'(x)
    assert x.grad.tolist()[0] == math.inf and x.grad.tolist()[2] == 0.5


def test_glu_takes_the_slope_of_its_gate_before_the_huge_incoming_gradient():
    # ∂y/∂b = (1 - σ)·σ·a·g in that order: σ(2e4) = 1 gives 0 and σ(-80) = 1.8e-35 a finite
    # 1.8e25 in float32 (composed, g·a = 1e30·1e30 overflowed first: ∞·0 = NaN, ∞·σ' = ∞)
    x = tg.tensor([[1e30, 2e4], [1e30, -80.0]], requires_grad=True)
    F.glu(x).backward(tg.tensor([[1e30], [1e30]]))
    grad = x.grad.tolist()
    assert grad[0][1] == 0.0 and grad[1][1] == pytest.approx(1.8048513e25, rel=1e-6)
    assert grad[0][0] == pytest.approx(1e30, rel=1e-6) and grad[1][0] == pytest.approx(1.8e-5,
                                                                                        rel=1e-2)


def test_logsigmoid_multiplies_an_infinite_gradient_by_its_slope_once():
    # composed, the slopes of min(x, 0) and of log(1 + e^{2n - x}) cancel: ∞ - ∞ = NaN
    x = tg.tensor([-1e30, -2.0, 0.0, 3.0, 200.0, -math.inf], requires_grad=True)
    F.logsigmoid(x).backward(tg.tensor([math.inf, -math.inf, math.inf, math.inf, math.inf,
                                        math.inf]))
    grad = x.grad.tolist()   # σ(-x) underflows to 0 at 200: ∞·0, NaN as in PyTorch
    assert grad[:4] == [math.inf, -math.inf, math.inf, math.inf] and math.isnan(grad[4])
    assert grad[5] == math.inf


def test_float16_logsigmoid_rounds_e_to_the_minus_x_to_float16_as_pytorch():
    # PyTorch's gradient is g·z/(1 + z), z = e^{-x} rounded to float16: 0 past x ≈ 17
    x = tg.tensor([17.0, 20.0, -1.0], dtype=tg.float16, requires_grad=True)
    F.logsigmoid(x).backward(tg.tensor([6e4, 6e4, 1.0], dtype=tg.float16))
    assert x.grad.tolist() == [np.float16(6e4 * np.float16(np.exp(-17.0)) /
                                          (1 + float(np.float16(np.exp(-17.0))))), 0.0,
                               np.float16(1 / (1 + np.exp(-1.0)))]
    assert F.logsigmoid(tg.tensor([-1e4, 1e4], dtype=tg.float16)).tolist() == [-1e4, -0.0]


def test_elu_passes_an_infinite_gradient_on_where_its_slope_is_tiny_but_not_zero():
    # at x = -133, eˣ - 1 rounds to -1 (expm1's slope y + 1 = 0), while αeˣ = 1e-58 > 0
    x = tg.tensor([-133.0, -1e4, 2.0, math.nan], dtype=tg.float64, requires_grad=True)
    F.elu(x, alpha=2.0).backward(tg.tensor([math.inf, math.inf, math.inf, 1.0],
                                          dtype=tg.float64))
    grad = x.grad.tolist()   # e^-1e4 = 0 itself: ∞·0 = NaN, as in PyTorch
    assert grad[0] == math.inf and math.isnan(grad[1]) and grad[2:] == [math.inf, 0.0]
    assert F.elu(tg.tensor([-133.0, 3.0]), alpha=2.0).tolist() == [-2.0, 3.0]


def test_elu_keeps_the_sign_of_a_zero_whatever_alpha_as_pytorch():
    for dtype in (tg.float16, tg.float32, tg.float64):
        for alpha in (1.0, -1.0):
            y = tg.nn.functional.elu(tg.tensor([-0.0, 0.0], dtype=dtype), alpha=alpha)
            assert np.signbit(y.numpy()).tolist() == [True, False]


def test_float16_elu_takes_its_slope_in_float32_as_pytorch():
    # e^-23.7 = 5e-11 is 0 in float16, not in float32: ∞·5e-11 = ∞
    x = tg.tensor([-23.7, -1.0], dtype=tg.float16, requires_grad=True)
    F.elu(x).backward(tg.tensor([math.inf, 1.0], dtype=tg.float16))
    assert x.grad.tolist() == [math.inf, float(np.float16(np.exp(np.float32(np.float16(-1.0)))))]


def test_in_place_elu_takes_its_slope_from_the_result_as_pytorch():
    # PyTorch's elu_ has overwritten its input: its slope is y + α (5.96e-8 here, y rounded
    # to -1 + 2⁻²⁴), where elu's is αeˣ (7.21e-8)
    x = tg.tensor([-16.444971084594727, 2.0], requires_grad=True)
    F.elu(x * 1, inplace=True).backward(tg.ones(2))
    assert x.grad.tolist() == [2.0 ** -24, 1.0]
    x.grad = None
    F.elu(x).backward(tg.ones(2))
    assert x.grad.tolist()[0] == pytest.approx(math.exp(-16.444971084594727), rel=1e-6)


@pytest.mark.parametrize("name", ["mish", "hardsigmoid", "hardswish"])
def test_float16_is_computed_in_float32_and_rounded_once(name):
    values = np.array([-20.0, -3.5, -2.9, -1.0, 0.3, 2.9, 7.0, 300.0])
    x = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    y = getattr(A, name)(x)
    y.backward(tg.full((8,), 3.0, dtype=tg.float16))
    wide = tg.tensor(values.astype(np.float16).astype(np.float64), requires_grad=True)
    y64 = getattr(A, name)(wide)
    y64.backward(tg.full((8,), 3.0, dtype=tg.float64))
    assert y.dtype == x.grad.dtype == tg.float16
    # each the float64 result rounded once to float16 (float32 is wide enough for that here)
    np.testing.assert_array_equal(y.detach().numpy(), y64.detach().numpy().astype(np.float16))
    np.testing.assert_array_equal(x.grad.numpy(), wide.grad.numpy().astype(np.float16))


def test_selu_and_celu_forms_of_elu_keep_pytorchs_slopes_at_the_edges():
    x = tg.tensor([-1e30, 0.0, 2.0], dtype=tg.float64, requires_grad=True)
    A.elu(x, 2.0, False, 1.5, 0.5).backward(tg.tensor([math.inf, 1.0, 1.0], dtype=tg.float64))
    # s·α·c·e^{cx}: ∞·0 at -1e30 is NaN, as PyTorch; 1.5 at 0 (the negative side); s above 0
    assert np.isnan(x.grad.tolist()[0]) and x.grad.tolist()[1:] == [1.5, 1.5]
    y = A.elu(tg.tensor([-2.0, 3.0], dtype=tg.float64), 2.0, False, 1.5, 0.5)
    assert y.tolist() == [1.5 * 2.0 * math.expm1(-1.0), 4.5]
