"""Cross entropy of logits and class indices, and the two binary cross entropies, as one
operation each (tapegrad/autograd/ops/loss.py).

Checked against finite differences to the second derivative with every option (class
weights, an ignored target, label smoothing, the three reductions), its backward too, and
against the composition it replaces (log_softmax, gather, mean) in value and gradient.
"""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.ops import loss as L

from ..support import Case, leaf, noncontiguous

TARGET = np.array([0, 3, 1, 2, 1])
IGNORED = np.array([False, False, True, False, False])
NOTHING_IGNORED = np.zeros(5, bool)
WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
ONES = np.ones(4)


def cross_entropy(reduction="mean", smoothing=0.0, weight=ONES, ignored=NOTHING_IGNORED):
    return lambda x: L.cross_entropy(x, TARGET, ignored, weight, reduction, smoothing)


def backward_of(op):
    return lambda g, x: tg.autograd.grad(op(x), x, g, create_graph=True)


CASES = (
    [Case("cross_entropy", cross_entropy(reduction), [leaf(5, 4)], name=reduction)
     for reduction in ("mean", "sum", "none")]
    + [Case("cross_entropy", cross_entropy(reduction, 0.2, WEIGHT, IGNORED), [leaf(5, 4)],
            name=f"{reduction}_weight_ignore_smoothing") for reduction in ("mean", "sum", "none")]
    + [Case("cross_entropy", cross_entropy("mean", 0.1), [noncontiguous(5, 4)],
            name="noncontiguous"),
       Case("cross_entropy_backward", backward_of(cross_entropy("mean", 0.1, WEIGHT, IGNORED)),
            [leaf(), leaf(5, 4)]),
       Case("cross_entropy_backward", backward_of(cross_entropy("none")), [leaf(5), leaf(5, 4)],
            name="none")]
    + [Case("mse_loss", lambda x, y: L.mse_loss(x, y, reduction), [leaf(3, 4), leaf(3, 4)],
            name=reduction) for reduction in ("mean", "sum")]
    + [Case("mse_loss", lambda x, y: L.mse_loss(x, y, "mean"),
            [noncontiguous(3, 4), noncontiguous(3, 4)], name="noncontiguous"),
       Case("mse_loss_backward", lambda g, x, y: tg.autograd.grad(
           L.mse_loss(x, y, "mean"), (x, y), g, create_graph=True), [leaf(), leaf(2, 3), leaf(2, 3)]),
       Case("mse_loss_backward", lambda g, x, y: tg.autograd.grad(
           L.mse_loss(x, y, "sum"), (x,), g, create_graph=True), [leaf(), leaf(4), leaf(4)],
           name="sum")]
    + [Case("binary_cross_entropy", L.binary_cross_entropy,
            [leaf(3, 4, low=0.05, high=0.95), leaf(3, 4, low=0, high=1)]),
       Case("binary_cross_entropy", L.binary_cross_entropy,
            [noncontiguous(3, 4, low=0.05, high=0.95), noncontiguous(3, 4, low=0, high=1)],
            name="noncontiguous"),
       Case("binary_cross_entropy_with_logits", L.binary_cross_entropy_with_logits,
            [leaf(3, 4, low=-4, high=4), noncontiguous(3, 4, low=0, high=1)]),
       Case("binary_cross_entropy_with_logits", L.binary_cross_entropy_with_logits,
            [leaf(3, 4, low=-4, high=4), leaf(3, 4, low=0, high=1), leaf(4, low=0.5, high=3)],
            name="pos_weight_broadcast")]
)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


OPTIONS = [{}, {"weight": WEIGHT}, {"ignore_index": 3}, {"label_smoothing": 0.3},
           {"weight": WEIGHT, "ignore_index": 1, "label_smoothing": 0.1}]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "_".join(o) or "plain")
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_the_fused_loss_equals_the_composition(options, reduction, dtype):
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (5, 4))
    options = dict(options)
    if "weight" in options:
        options["weight"] = tg.tensor(options["weight"], dtype=dtype)
    fused_x = tg.tensor(logits, dtype=dtype, requires_grad=True)
    fused = F.cross_entropy(fused_x, tg.tensor(TARGET), reduction=reduction, **options)
    # the composition: the same rows as a (N, C, 1) input, which takes the composed path
    composed_x = tg.tensor(logits[:, :, None], dtype=dtype, requires_grad=True)
    composed = F.cross_entropy(composed_x, tg.tensor(TARGET[:, None]), reduction=reduction,
                               **options)
    assert "cross_entropy" in {fused.grad_fn.op} and composed.grad_fn.op != "cross_entropy"
    tol = 1e-5 if dtype is tg.float32 else 1e-12
    np.testing.assert_allclose(fused.detach().numpy().reshape(-1),
                               composed.detach().numpy().reshape(-1),
                               rtol=tol, atol=tol)
    fused.sum().backward()
    composed.sum().backward()
    np.testing.assert_allclose(fused_x.grad.numpy(), composed_x.grad.numpy()[:, :, 0],
                               rtol=tol, atol=tol)


def test_a_weight_that_requires_grad_takes_the_composed_path_and_gets_its_gradient():
    weight = tg.tensor(WEIGHT, requires_grad=True)
    loss = F.cross_entropy(tg.randn(5, 4, dtype=tg.float64), tg.tensor(TARGET), weight=weight)
    loss.backward()
    assert loss.grad_fn.op != "cross_entropy" and weight.grad is not None


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_many_classes_take_the_array_path_and_agree_with_the_composition(smoothing):
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(0, 3, (6, 50)), np.array([0, 49, 7, 7, 20, -100])
    fused_x = tg.tensor(logits, requires_grad=True)
    composed_x = tg.tensor(logits[:, :, None], requires_grad=True)
    fused = F.cross_entropy(fused_x, tg.tensor(labels), label_smoothing=smoothing)
    composed = F.cross_entropy(composed_x, tg.tensor(labels[:, None]), label_smoothing=smoothing)
    assert fused.grad_fn.op == "cross_entropy"
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-6)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(fused_x.grad.numpy(), composed_x.grad.numpy()[:, :, 0], atol=1e-7)


@pytest.mark.parametrize("classes", [5, 50])   # the row kernel and the array path
def test_cross_entropy_ignores_an_infinite_weight_of_a_class_no_row_counts(classes):
    # the gradient is w_t·(p - onehot) per counted row: another class's weight of inf (the
    # smoothing term's, 0 without smoothing) or an ignored row's target weight makes no NaN
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 1, (3, classes))
    weight = np.ones(classes)
    weight[0], weight[2] = np.inf, -np.inf
    target = np.array([-100, 1, 3])   # the ignored row's index is looked up as class 0
    x = tg.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor(target), weight=tg.tensor(weight))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    log_p = np.log(p)
    np.testing.assert_allclose(loss.item(), -(log_p[1, 1] + log_p[2, 3]) / 2, rtol=1e-12)
    loss.backward()
    expected = p.copy()
    expected[0] = 0
    expected[1, 1] -= 1
    expected[2, 3] -= 1
    np.testing.assert_allclose(x.grad.numpy(), expected / 2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("classes", [1, 50])   # the row kernel and the array path
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_gradient_is_exactly_0_where_the_target_has_probability_1(classes,
                                                                                  smoothing):
    # p_t = 1 (one class, or the others at -1e4): A·p_t - a_t = 0, rounded once
    logits = np.full((4, classes), -1e4, np.float32)
    logits[:, 0] = 0.0
    x = tg.tensor(logits, requires_grad=True)
    F.cross_entropy(x, tg.tensor(np.zeros(4, np.int64)), reduction="none",
                    label_smoothing=smoothing).backward(tg.tensor([1 / 3, 0.7, 2.0, 1e-3]))
    # A = 1 (unit weights): scale·(1 - ε/C - (1 - ε)) = scale·(ε - ε/C), 0 for one class
    scale = np.array([1 / 3, 0.7, 2.0, 1e-3])
    np.testing.assert_allclose(x.grad.numpy()[:, 0], scale * (smoothing - smoothing / classes),
                               rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [tg.float16, tg.float32])   # array path, row kernel
def test_cross_entropy_gives_an_ignored_row_of_minus_inf_logits_a_zero_gradient(dtype):
    # the row's loss is 0 whatever its logits: so is its gradient (softmax(-inf…) is NaN)
    logits = np.array([[0.5, -1.0, 2.0], [-np.inf] * 3, [1.0, 0.0, -1.0]])
    x = tg.tensor(logits, dtype=dtype, requires_grad=True)
    F.cross_entropy(x, tg.tensor([2, 0, 1]), ignore_index=0, reduction="none").backward(
        tg.tensor([0.5, -0.8, 0.7], dtype=dtype))
    grad = x.grad.numpy()
    np.testing.assert_array_equal(grad[1], np.zeros(3, grad.dtype))
    assert np.isfinite(grad).all()


# -- mean squared error as one operation --------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_mse_loss_is_one_operation_that_equals_the_composition(reduction, dtype):
    rng = np.random.default_rng(3)
    x_values, y_values = rng.normal(0, 2, (2, 5, 6)), rng.normal(0, 2, (2, 5, 6))
    x, y = (tg.tensor(v, dtype=dtype, requires_grad=True) for v in (x_values, y_values))
    fused = F.mse_loss(x, y, reduction=reduction)
    assert fused.grad_fn.op == "mse_loss" and fused.dtype is dtype
    x2, y2 = (tg.tensor(v, dtype=dtype, requires_grad=True) for v in (x_values, y_values))
    composed = L._composed_mse_loss(x2, y2, reduction)
    tol = 1e-5 if dtype is tg.float32 else 1e-12
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=tol)
    fused.backward()
    composed.backward()
    for got, expected in ((x.grad, x2.grad), (y.grad, y2.grad)):
        assert got.dtype is dtype
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tol, atol=tol)


def test_mse_loss_gradient_scales_the_difference_before_the_incoming_gradient():
    # float16: 2·g = 68160 overflows, 2·(x - y)·g = 7620 does not (PyTorch's order)
    x = tg.tensor([0.4815], dtype=tg.float16, requires_grad=True)
    F.mse_loss(x, tg.tensor([0.5933], dtype=tg.float16)).backward(
        tg.tensor(34080.0, dtype=tg.float16))
    assert x.grad.dtype is tg.float16
    np.testing.assert_allclose(x.grad.numpy().astype(float), [-7620.0], rtol=2e-3)
    tiny = tg.tensor([3.0, -3.0, 3.0, -3.0], dtype=tg.float16, requires_grad=True)
    F.mse_loss(tiny, tg.zeros(4, dtype=tg.float16)).backward(   # 2·g/n underflows to 0
        tg.tensor(6e-8, dtype=tg.float16))
    np.testing.assert_array_equal(tiny.grad.numpy().astype(float), [2.0**-23, -2.0**-23] * 2)
    huge = tg.tensor([40000.0], dtype=tg.float16, requires_grad=True)   # 2·d overflows first
    F.mse_loss(huge, tg.zeros(1, dtype=tg.float16)).backward(tg.tensor(0.5, dtype=tg.float16))
    assert huge.grad.numpy()[0] == np.inf


def test_mse_loss_of_nothing_is_nan_and_a_broadcast_target_is_one_operation_too():
    empty = tg.zeros(0, requires_grad=True)
    assert np.isnan(F.mse_loss(empty, tg.zeros(0)).item())
    x = tg.ones(2, 3, requires_grad=True)
    assert F.mse_loss(x, tg.zeros(2, 3), reduction="none").shape == (2, 3)
    with pytest.warns(UserWarning, match="different to the input's shape"):
        broadcast = F.mse_loss(x, tg.zeros(3, dtype=tg.int64))   # broadcast and promoted
    assert broadcast.grad_fn.op == "mse_loss" and broadcast.item() == 1.0
    broadcast.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 1 / 3), rtol=1e-7)


# -- binary cross entropy: PyTorch's gradients at the edges --------------------------------
def test_binary_cross_entropy_target_gradient_is_minus_logit_unclamped_at_0_and_1():
    # the value's logs are clamped at -100, the target's gradient -log(x/(1 - x)) is not
    x = tg.tensor([0.0, 1.0, 0.5, 0.25], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([0.3, 0.3, 0.5, 1.0], dtype=tg.float64, requires_grad=True)
    loss = L.binary_cross_entropy(x, y)
    np.testing.assert_allclose(loss.detach().numpy(), [30.0, 70.0, np.log(2), np.log(4)], rtol=1e-12)
    grad_x, grad_y = tg.autograd.grad(loss.sum(), (x, y))
    assert grad_y.tolist()[:3] == [np.inf, -np.inf, 0.0]
    assert grad_y[3].item() == pytest.approx(np.log(3))
    # the input's: (x - y)/max(x(1 - x), 1e-12)
    assert grad_x.tolist() == pytest.approx([-3e11, 7e11, 0.0, -4.0])


@pytest.mark.parametrize("pos_weight", [None, tg.tensor([2.0, 0.5], dtype=tg.float64)])
def test_binary_cross_entropy_with_logits_meets_an_infinite_gradient_once(pos_weight):
    # ∂ℓ/∂x = (1 + (p - 1)y)σ(x) - py is one factor: ∞ times it is ±∞, not ∞ - ∞ = NaN
    x = tg.tensor([-3.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([1.0, 0.0], dtype=tg.float64)
    loss = L.binary_cross_entropy_with_logits(x, y, pos_weight)
    grad_x, = tg.autograd.grad(loss, x, tg.tensor([np.inf, np.inf], dtype=tg.float64))
    assert grad_x.tolist() == [-np.inf, np.inf]


def test_binary_cross_entropy_with_logits_target_gradient_is_exact_at_large_logits():
    x = tg.tensor([40.0, -40.0], requires_grad=True)
    y = tg.tensor([0.5, 0.5], requires_grad=True)
    p = tg.tensor([3.0], requires_grad=True)
    loss = L.binary_cross_entropy_with_logits(x, y, p)
    grad_y, grad_p = tg.autograd.grad(loss.sum(), (y, p))
    # log σ(-x) - p·log σ(x): -40 - 3·(-4e-18) at 40, -4e-18 - 3·(-40) at -40
    assert grad_y.tolist() == pytest.approx([-40.0, 120.0])
    assert grad_p.tolist() == pytest.approx([-0.5 * -40.0])


@pytest.mark.parametrize("classes", [2, 40])   # the row loop and the vectorised path
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_of_equal_huge_logits_is_log_c(classes, smoothing):
    # lse - x_t = log C even where lse itself (1e30 + log C) rounds to 1e30
    x = tg.full((3, classes), 1e30)
    loss = L.cross_entropy(x, np.array([0, 1, 1]), np.zeros(3, bool), np.ones(classes),
                           "mean", smoothing)
    assert loss.item() == pytest.approx(np.log(classes), rel=1e-6)
