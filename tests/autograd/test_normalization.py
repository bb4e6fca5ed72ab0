"""Layer and batch normalisation as single operations (tapegrad/autograd/ops/normalization.py).

Each is checked against finite differences to the second derivative; its backward, an
operation of its own, is checked the same way (so the third derivative too). Values are
checked against the composition they replace, in float32 and float64.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import normalization as N

from ..support import Case, constant, leaf, noncontiguous, positive


def layer_norm(k, eps=1e-5):
    return lambda x, w=None, b=None: N.layer_norm(x, w, b, k, eps)


def batch_norm(training, running_mean=None, running_var=None):
    return lambda x, w=None, b=None: N.batch_norm(x, w, b, running_mean, running_var,
                                                  training, 1e-5)[0]


def backward_of(op):
    """fn(g, *inputs) = the gradients of op(*inputs) for g, recorded (create_graph)."""
    def fn(g, *inputs):
        wanted = [t for t in inputs if t is not None]
        return tg.autograd.grad(op(*inputs), wanted, g, create_graph=True)
    return fn


RUNNING = (constant(3), positive(3).detach())

CASES = [
    Case("layer_norm", layer_norm(1), [leaf(4, 5), leaf(5), leaf(5)]),
    Case("layer_norm", layer_norm(2), [leaf(2, 3, 4), leaf(3, 4), leaf(3, 4)], name="two_dims"),
    Case("layer_norm", layer_norm(1), [noncontiguous(4, 5)], name="noncontiguous_no_affine"),
    Case("layer_norm", layer_norm(1), [leaf(2, 3, 4), noncontiguous(4)], name="weight_only"),
    Case("layer_norm_backward", backward_of(layer_norm(1)),
         [leaf(3, 4), leaf(3, 4), leaf(4), leaf(4)]),
    Case("batch_norm", batch_norm(True), [leaf(4, 3, 5), leaf(3), leaf(3)], name="training"),
    Case("batch_norm", batch_norm(True), [noncontiguous(6, 3)], name="training_2d_no_affine"),
    Case("batch_norm", batch_norm(False, *RUNNING), [leaf(4, 3, 2, 2), leaf(3), leaf(3)],
         name="eval"),
    Case("batch_norm_backward", backward_of(batch_norm(True)),
         [leaf(4, 3, 2), leaf(4, 3, 2), leaf(3), leaf(3)], name="training"),
    Case("batch_norm_backward", backward_of(batch_norm(False, *RUNNING)),
         [leaf(4, 3, 2), leaf(4, 3, 2), leaf(3), leaf(3)], name="eval"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def composed_layer_norm(x, w, b, axes):
    mean = x.mean(axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w + b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_and_its_gradients_match_the_formula(dtype):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(3, 2, (6, 7)), rng.normal(size=7), rng.normal(size=7)
    tensors = [tg.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b)]
    y = N.layer_norm(*tensors, 1, 1e-5)
    assert y.dtype == tensors[0].dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.detach().numpy(), composed_layer_norm(x, w, b, 1), atol=tol * 10)
    y.sum().backward()
    xhat = composed_layer_norm(x, 1, 0, 1)
    np.testing.assert_allclose(tensors[1].grad.numpy(), xhat.sum(axis=0), atol=tol * 10)
    np.testing.assert_allclose(tensors[2].grad.numpy(), 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_normalises_each_channel_and_returns_the_batch_statistics(dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(2, 3, (8, 3, 4)).astype(dtype)
    y, mean, var = N.batch_norm(tg.tensor(x), None, None, None, None, True, 1e-5)
    np.testing.assert_allclose(mean.numpy(), x.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(var.numpy(), x.var(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.numpy().var(axis=(0, 2)), 1, rtol=1e-3)
    assert y.dtype == tg.tensor(x).dtype


def test_batch_norm_of_float32_values_whose_squares_overflow():
    # σ² = 1.9e59 overflows float32, σ and the normalised values do not
    x = tg.tensor([1e30, -9.3, 27.4, 2.18]).reshape(1, 1, 2, 2)
    y, mean, var = N.batch_norm(x, None, None, None, None, True, 1e-5)
    np.testing.assert_allclose(y.numpy().ravel(), [3 ** 0.5] + [-(1 / 3) ** 0.5] * 3, rtol=1e-5)
    assert y.dtype is tg.float32 and mean.item() == np.float32(2.5e29)


def test_batch_norm_gradient_of_two_values_per_channel_keeps_float32s_precision():
    # a batch of two, no spatial dims: ∂x̂/∂x ∝ 1 - x̂² = ε/(σ² + ε) ≈ 5e-7 here, a
    # cancellation that float32's rounding of μ, r and x̂ would magnify to a 30% error (μ and
    # r kept in float64, as layer_norm's)
    x = np.array([[-13.8961, -1.22896, -11.7006], [-5.06953, -5.13919, -4.3972]])
    w, g = np.array([0.5, -1.5, 2.0]), np.array([[-2090.6, 1.3e4, 8171.0], [3051.2, -4.4e3, -90.5]])
    grads = {}
    for dtype in (tg.float32, tg.float64):
        xt = tg.tensor(x, dtype=dtype, requires_grad=True)
        N.batch_norm(xt, tg.tensor(w, dtype=dtype), None, None, None, True, 1e-5)[0].backward(
            tg.tensor(g, dtype=dtype))
        grads[dtype] = xt.grad.numpy().astype(np.float64)
    np.testing.assert_allclose(grads[tg.float32], grads[tg.float64], rtol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_with_a_zero_weight_and_no_bias_gives_positive_zeros(training):
    # y = x̂·0 + 0 = +0 as in PyTorch (its missing β is 0), not -0.0 where x̂ < 0: a log
    # after it then has the slope +∞ there, not -∞
    x = tg.tensor([[-0.5, -0.0], [0.3, 0.0], [2.0, 1.0]])
    y, _, _ = N.batch_norm(x, tg.tensor([1.0, 0.0]), None, tg.tensor([0.1, 1.4]),
                           tg.tensor([1.0, 1.0]), training, 1e-5)
    zeros = y.numpy()[:, 1]
    assert (zeros == 0).all() and not np.signbit(zeros).any()
    assert np.signbit(y.numpy()[0, 0])   # (a negative x̂ times γ = 1 keeps its sign)


def test_layer_norm_of_equal_huge_values_is_zero():
    # (PyTorch's float32 kernel gives NaN: its E[x²] - E[x]² overflows)
    x = tg.full((1, 3), -3.4e29)
    assert tg.nn.functional.layer_norm(x, (3,)).tolist() == [[0.0, 0.0, 0.0]]


def test_layer_norm_of_a_row_of_one_value_is_the_bias_whatever_the_weight_on_both_paths():
    # Σx/n of three copies of -17.69979 is an ulp off the value: (x - μ)·r·γ with γ = 1e30
    # was -1.1e18 where PyTorch (whose mean of equal values is that value) gives β
    from tapegrad.backend.contract import numpy_namespace
    from tapegrad.kernels import fused
    values = np.random.default_rng(0).standard_normal(200) * 10
    for xp in (numpy_namespace(np), _array_only_backend()):
        for dtype in (np.float32, np.float64):
            x = np.repeat(values[:, None], 3, axis=1).astype(dtype)
            y = fused.layer_norm_forward(xp, x, np.full(3, 1e30, dtype), np.ones(3, dtype),
                                         1e-5)[0]
            assert (y == 1).all()


def test_layer_norm_of_float16_stays_float16_and_its_squares_do_not_overflow():
    x = tg.randn(3, 8).half()
    assert N.layer_norm(x, None, None, 1, 1e-5).dtype == tg.float16
    # 300² overflows float16: the statistics are taken in float32, as PyTorch's
    x = tg.tensor([[300.0, -300.0, 300.0, -300.0]], dtype=tg.float16)
    assert N.layer_norm(x, None, None, 1, 1e-5).tolist() == [[1.0, -1.0, 1.0, -1.0]]


def test_layer_norm_backward_of_float16_is_computed_in_float32_and_rounded_once():
    # two values, weights near 1e4: the gradient (-0.0931, 0.0931) is what remains of terms
    # near 3000, which float16 (a step of 2 there) would round to ±2
    def gradient(dtype):
        x = tg.tensor([[0.4558, 1.476]], dtype=tg.float16).to(dtype).requires_grad_()
        w = tg.tensor([-3264.0, -10080.0], dtype=tg.float16).to(dtype)
        N.layer_norm(x, w, None, 1, 1e-5).backward(
            tg.tensor([[-0.1516, -0.294]], dtype=tg.float16).to(dtype))
        return x.grad
    half, wide = gradient(tg.float16), gradient(tg.float64)
    assert half.dtype is tg.float16
    np.testing.assert_allclose(half.numpy(), wide.numpy(), rtol=3e-3)   # (was ±1.96)


@pytest.mark.parametrize("dtype", [tg.float16, tg.float32])
def test_layer_norm_with_eps_0_of_a_constant_row_is_nan_as_pytorch(dtype):
    x = tg.tensor([[-1.17], [0.34]], dtype=dtype)   # σ² = 0 and ε = 0: 0 · 1/0
    assert np.isnan(N.layer_norm(x, None, None, 1, 0.0).numpy()).all()


# -- an infinite h = g·γ: PyTorch's folded form decides where ±inf and NaN fall ---------------
def _layer_norm_input_grad(x, weight, g, eps=0.0):
    x = tg.tensor(x, requires_grad=True)
    N.layer_norm(x, None if weight is None else tg.tensor(weight), None, 1, eps).backward(
        tg.tensor(g))
    return x.grad.tolist()


def _array_only_backend():
    """numpy posing as a GPU backend: the fused kernels then take their cupy path."""
    from tapegrad.backend.contract import Namespace
    return Namespace("numpy posing as a GPU", is_gpu=True, numba_cpu=False,
                     operations=vars(np))


def test_layer_norm_backward_of_an_infinite_gradient_is_nan_or_inf_where_pytorchs_is():
    inf = float("inf")
    # dx = r·h + b·x + c with b = (μ·Σh - Σh·x)·r³/n = ∞ - ∞ and c: NaN for the whole row
    # (the unfolded r·(h - mean(h) - x̂·mean(h·x̂)) gave -inf at the first element)
    assert str(_layer_norm_input_grad([[1.0, 2.0, 4.0, 8.0]], None, [[1.0, inf, 1.0, 0.0]])) \
        == "[[nan, nan, nan, nan]]"
    assert str(_layer_norm_input_grad([[-2.0, 4.0, -1.0]], [-1.0, -2.0, inf],
                                      [[-1.0, -1.0, -2.0]])) == "[[inf, nan, nan]]"
    # a row with a finite h is untouched, beside it
    got = _layer_norm_input_grad([[1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0]], None,
                                 [[1.0, inf, 1.0, 0.0], [1.0, -1.0, 0.5, 0.0]])
    expected = _layer_norm_input_grad([[1.0, 2.0, 4.0, 8.0]], None, [[1.0, -1.0, 0.5, 0.0]])
    assert str(got[0]) == "[nan, nan, nan, nan]" and got[1] == expected[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_backward_of_infinite_gradients_follows_pytorch_on_both_paths(dtype):
    torch = pytest.importorskip("torch")
    from tapegrad.backend.contract import numpy_namespace
    from tapegrad.kernels import fused
    rng = np.random.default_rng(3)
    paths = (numpy_namespace(np), _array_only_backend())
    for _ in range(120):
        x, g = rng.standard_normal((2, 2, 4)).astype(dtype)
        w = rng.standard_normal(4).astype(dtype)
        for values in (w, g.reshape(-1)):
            values[rng.integers(values.size, size=2)] = rng.choice([np.inf, -np.inf, 0.0], 2)
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.layer_norm(t, (4,), torch.tensor(w), eps=1e-5).backward(
            torch.tensor(g))
        mean, var = x.mean(1), x.var(1)
        rstd = (1 / np.sqrt(var + 1e-5)).astype(dtype)
        for xp in paths:
            with np.errstate(all="ignore"):
                dx = fused.layer_norm_backward(xp, g, x, w, mean, rstd)[0]
            np.testing.assert_array_equal(np.isnan(dx), np.isnan(t.grad.numpy()))
            np.testing.assert_array_equal(np.where(np.isinf(dx), dx, 0),
                                          np.where(np.isinf(t.grad.numpy()), t.grad.numpy(), 0))


def test_layer_norm_of_a_row_whose_squares_overflow_is_rescaled_on_both_paths():
    from tapegrad.backend.contract import numpy_namespace
    from tapegrad.kernels import fused
    row = np.array([[-1.0, -0.3, 0.2, 1.0]])
    expected = (row - row.mean()) / row.std()
    # float64 near 1e160 in the numba loop (its sums are float64), float32 near 1e30 in the
    # array code a cuda tensor takes: the squares overflow, σ does not
    for xp, x in ((numpy_namespace(np), row * 1e160), (_array_only_backend(), (row * 1e30))):
        for dtype in (np.float32, np.float64):
            if dtype == np.float32 and abs(x).max() > 1e38:
                continue
            with np.errstate(over="ignore"):   # (the squares' overflow is the point)
                y = fused.layer_norm_forward(xp, x.astype(dtype), None, None, 0.0)[0]
            np.testing.assert_allclose(y, expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_layer_norm_of_one_value_per_row_has_exactly_zero_input_gradient(dtype):
    # x̂ = 0 whatever x: ∂L/∂x = r·(h - mean(h)) = r·(h - h) = 0 exactly, even for a huge h
    # (a fused multiply-add of g·γ - mean(h) left the product's rounding error, 7e204 here)
    x = tg.tensor([[-0.77634], [0.90974]], dtype=dtype, requires_grad=True)
    w = tg.tensor([1.37271], dtype=dtype)
    N.layer_norm(x, w, None, 1, 1e-5).backward(tg.tensor([[1e30], [3.0]], dtype=dtype))
    assert x.grad.tolist() == [[0.0], [0.0]]


def test_layer_norm_gradient_of_two_values_per_row_keeps_float32s_precision():
    # two values per row: ∂x̂/∂x ∝ 1 - x̂² = ε/(σ² + ε) ≈ 5e-6 here, a cancellation that a
    # float32 rounding of r = 1/√(σ² + ε) would magnify to a 1% error (μ and r kept in float64)
    x = np.array([[1.08521, -1.70407], [0.13893, -0.87585], [-1.01069, 0.20584]])
    w, g = np.array([14269.551, 16741.729]), np.array([[0.3, -1.2], [0.7, 0.1], [-0.4, 0.9]])
    grads = {}
    for dtype in (tg.float32, tg.float64):
        xt = tg.tensor(x, dtype=dtype, requires_grad=True)
        N.layer_norm(xt, tg.tensor(w, dtype=dtype), None, 1, 1e-5).backward(
            tg.tensor(g, dtype=dtype))
        grads[dtype] = xt.grad.numpy().astype(np.float64)
    np.testing.assert_allclose(grads[tg.float32], grads[tg.float64], rtol=1e-5)
