"""Losses (tapegrad/nn/functional/loss.py, tapegrad/nn/modules/loss.py).

Each is checked for its values against a numpy formula written here, for every
reduction and option; its gradient and second derivative against finite differences
(float64) with respect to the input and, where the loss is differentiable in it, the
target; its numerics at logits of ±1e4 against the analytic limit; its errors; its
module form (buffers, repr); and, where PyTorch is installed, against PyTorch itself.
"""
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional.loss as F
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.modules import loss as nn
from tapegrad.nn.modules.activation import Tanh

rng = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def leaf(array):
    return tg.tensor(array, dtype=tg.float64, requires_grad=True)


def const(array, dtype=tg.float64):
    return tg.tensor(array, dtype=dtype)


def uniform(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def indices(*shape, classes):
    return tg.tensor(rng.integers(0, classes, size=shape), dtype=tg.int64)


def reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def value(t):
    return t.detach().numpy()


def check_gradients(fn, *inputs, gradgrad=True):
    assert gradcheck(fn, inputs)
    if gradgrad:
        assert gradgradcheck(fn, inputs)


# -- numpy formulas ----------------------------------------------------------------------------
def np_log_softmax(x, axis):
    shifted = x - x.max(axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


def np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """Class indices t: loss per position, with the classes moved last."""
    class_dim = 0 if x.ndim == 1 else 1
    n = x.shape[class_dim]
    logp = np.moveaxis(np_log_softmax(x, class_dim), class_dim, -1)   # (..., C)
    w = np.ones(n) if weight is None else weight
    kept = t != ignore_index
    safe = np.where(kept, t, 0)
    picked = np.take_along_axis(logp, safe[..., None], -1)[..., 0]
    w_y = w[safe] * kept
    loss = (1 - smoothing) * -w_y * picked + smoothing / n * -(logp * w).sum(-1) * kept
    if reduction == "mean":
        return loss.sum() / w_y.sum()
    return loss.sum() if reduction == "sum" else loss


def np_cross_entropy_probabilities(x, p, weight=None, reduction="mean", smoothing=0.0):
    class_dim = 0 if x.ndim == 1 else 1
    n = x.shape[class_dim]
    p = p * (1 - smoothing) + smoothing / n
    w = np.ones(n) if weight is None else weight
    w = w.reshape((n,) + (1,) * (x.ndim - class_dim - 1))
    return reduce(-(np_log_softmax(x, class_dim) * p * w).sum(class_dim), reduction)


def np_bce(p, y, w=1.0):
    return -w * (y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))


def np_bce_with_logits(x, y, w=1.0, pos_weight=1.0):
    log_sig = -np.logaddexp(0, -x)
    log_one_minus_sig = -np.logaddexp(0, x)
    return -w * (pos_weight * y * log_sig + (1 - y) * log_one_minus_sig)


def np_huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


def np_cosine(a, b):
    return (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))


# -- regression losses: values -----------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_their_formulas(reduction):
    x, y = uniform(3, 4), uniform(3, 4)
    d = x - y
    expected = {
        "mse_loss": (F.mse_loss, {}, d * d),
        "l1_loss": (F.l1_loss, {}, np.abs(d)),
        "huber_loss": (F.huber_loss, {}, np_huber(d, 1.0)),
        "huber_loss_0.5": (F.huber_loss, {"delta": 0.5}, np_huber(d, 0.5)),
        "smooth_l1_loss": (F.smooth_l1_loss, {}, np_huber(d, 1.0)),
        "smooth_l1_loss_2": (F.smooth_l1_loss, {"beta": 2.0}, np_huber(d, 2.0) / 2.0),
        "smooth_l1_loss_0": (F.smooth_l1_loss, {"beta": 0.0}, np.abs(d)),
    }
    for name, (fn, options, loss) in expected.items():
        out = fn(const(x), const(y), reduction=reduction, **options)
        np.testing.assert_allclose(out.numpy(), reduce(loss, reduction), rtol=1e-13,
                                   err_msg=name)


def test_default_reduction_is_mean_and_float32_stays_float32():
    x, y = tg.randn(4, 3), tg.randn(4, 3)
    for fn in (F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss):
        out = fn(x, y)
        assert out.shape == () and out.dtype == tg.float32
        assert out.item() == pytest.approx(fn(x, y, reduction="sum").item() / 12, rel=1e-6)


def test_weighted_regression_losses_follow_pytorchs_weighted_means():
    x, y, w = uniform(3, 4), uniform(3, 4), uniform(3, 4, low=0.1, high=1)
    d = x - y
    assert F.mse_loss(const(x), const(y), weight=const(w)).item() == pytest.approx(
        (w * d * d).sum() / w.sum())
    assert F.l1_loss(const(x), const(y), weight=const(w)).item() == pytest.approx(
        (w * np.abs(d)).sum() / w.sum())
    assert F.huber_loss(const(x), const(y), weight=const(w)).item() == pytest.approx(
        (w * np_huber(d, 1.0)).mean())   # huber: the plain mean of the weighted losses
    np.testing.assert_allclose(value(F.mse_loss(const(x), const(y), reduction="none",
                                                weight=const(w))), w * d * d)


def test_regression_target_of_another_shape_is_broadcast_with_a_warning():
    x, y = uniform(3, 4), uniform(4)
    with pytest.warns(UserWarning, match=r"using a target of shape \(4,\) that is different "
                                         r"to the input's shape \(3, 4\)"):
        out = F.mse_loss(const(x), const(y), reduction="none")
    np.testing.assert_allclose(out.numpy(), (x - y) ** 2)


def test_legacy_size_average_and_reduce_map_to_a_reduction_with_a_warning():
    x, y = tg.ones(2, 3), tg.zeros(2, 3)
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        assert F.mse_loss(x, y, size_average=False).item() == 6.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.l1_loss(x, y, reduce=False).shape == (2, 3)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"


# -- regression losses: gradients --------------------------------------------------------------
WEIGHTS = const(np.linspace(0.1, 1, 12).reshape(3, 4))
REGRESSION = {
    "mse_loss": lambda x, y, r: F.mse_loss(x, y, reduction=r),
    "l1_loss": lambda x, y, r: F.l1_loss(x, y, reduction=r),
    "huber_loss": lambda x, y, r: F.huber_loss(x, y, reduction=r),
    "huber_loss_delta_0.5": lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.5),
    "smooth_l1_loss": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r),
    "smooth_l1_loss_beta_2": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=2.0),
    "smooth_l1_loss_beta_0": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
    "mse_loss_weighted": lambda x, y, r: F.mse_loss(x, y, reduction=r, weight=WEIGHTS),
    "huber_loss_weighted": lambda x, y, r: F.huber_loss(x, y, reduction=r, weight=WEIGHTS),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", REGRESSION)
def test_gradcheck_regression_losses_in_input_and_target(name, reduction):
    fn = REGRESSION[name]
    x, y = leaf(uniform(3, 4)), leaf(uniform(3, 4))
    check_gradients(lambda x, y: fn(x, y, reduction), x, y)


def test_gradcheck_regression_losses_with_broadcast_target_and_0d_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_gradients(lambda x, y: F.mse_loss(x, y), leaf(uniform(3, 4)), leaf(uniform(4)))
        check_gradients(lambda x, y: F.huber_loss(x, y, reduction="none"), leaf(uniform(3, 1)),
                        leaf(uniform(1, 4)))
    check_gradients(lambda x, y: F.l1_loss(x, y), leaf(uniform()), leaf(uniform()))
    x = tg.from_numpy(uniform(4, 3).T).requires_grad_()   # non-contiguous
    check_gradients(lambda x, y: F.smooth_l1_loss(x, y), x, leaf(uniform(3, 4)))


def test_huber_and_l1_gradient_at_zero_difference_is_zero():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    F.huber_loss(x, const([1.0, 0.0]), reduction="sum").backward()
    assert x.grad.tolist() == [0.0, 1.0]   # d clipped to [-δ, δ]
    x.grad = None
    F.l1_loss(x, const([1.0, 0.0]), reduction="sum").backward()
    assert x.grad.tolist() == [0.0, 1.0]


# -- binary cross-entropy ----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_its_formula(reduction):
    p, y, w = uniform(3, 4, low=0.01, high=0.99), uniform(3, 4, low=0, high=1), uniform(4, low=0.1,
                                                                                       high=2)
    np.testing.assert_allclose(value(F.binary_cross_entropy(const(p), const(y),
                                                             reduction=reduction)),
                               reduce(np_bce(p, y), reduction), rtol=1e-13)
    np.testing.assert_allclose(value(F.binary_cross_entropy(const(p), const(y), const(w),
                                                             reduction=reduction)),
                               reduce(np_bce(p, y, w), reduction), rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_matches_its_formula(reduction):
    x, y = uniform(3, 4, low=-5, high=5), uniform(3, 4, low=0, high=1)
    w, pw = uniform(3, 1, low=0.1, high=2), uniform(4, low=0.5, high=3)
    for options, expected in [({}, np_bce_with_logits(x, y)),
                              ({"weight": const(w)}, np_bce_with_logits(x, y, w)),
                              ({"pos_weight": const(pw)}, np_bce_with_logits(x, y, pos_weight=pw)),
                              ({"weight": const(w), "pos_weight": const(pw)},
                               np_bce_with_logits(x, y, w, pw))]:
        out = F.binary_cross_entropy_with_logits(const(x), const(y), reduction=reduction,
                                                 **options)
        np.testing.assert_allclose(value(out), reduce(expected, reduction), rtol=1e-12,
                                   err_msg=str(list(options)))


def test_binary_cross_entropy_clamps_its_logs_at_minus_100_like_pytorch():
    p = tg.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(p, y, reduction="none")
    assert loss.tolist() == [100.0, 100.0, 0.0, 0.0]
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()


def test_binary_cross_entropy_of_a_saturated_sigmoid_is_finite():
    logits = tg.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(logits.sigmoid(), y, reduction="none")
    assert loss.tolist() == [0.0, 0.0, 100.0, 100.0]
    loss.sum().backward()
    assert np.isfinite(logits.grad.numpy()).all()


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_binary_cross_entropy_with_logits_is_exact_at_plus_minus_1e4(dtype):
    x = tg.tensor([1e4, 1e4, -1e4, -1e4, 0.0], dtype=dtype, requires_grad=True)
    y = tg.tensor([1.0, 0.0, 1.0, 0.0, 1.0], dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    # the limits: 0 when right, |x| when wrong; log 2 at x = 0
    np.testing.assert_allclose(value(loss), [0.0, 1e4, 1e4, 0.0, np.log(2)], rtol=1e-7)
    assert value(loss)[[0, 3]].tolist() == [0.0, 0.0]
    loss.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, -1.0, 0.0, -0.5]   # σ(x) - y
    x.grad = None
    F.binary_cross_entropy_with_logits(x, y, pos_weight=tg.tensor(3.0, dtype=dtype),
                                       reduction="sum").backward()
    assert x.grad.tolist() == [0.0, 1.0, -3.0, 0.0, -1.5]   # (1 + 2y)σ(x) - 3y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_binary_cross_entropy_in_input_and_target(reduction):
    p, y = leaf(uniform(3, 4, low=0.05, high=0.95)), leaf(uniform(3, 4, low=0, high=1))
    check_gradients(lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction), p, y)
    w = const(uniform(4, low=0.1, high=2))
    check_gradients(lambda p, y: F.binary_cross_entropy(p, y, w, reduction=reduction), p, y)
    # the weight's gradient too (PyTorch refuses a weight that requires grad; tapegrad
    # gives the unweighted loss's)
    w = leaf(uniform(4, low=0.1, high=2))
    check_gradients(lambda p, y, w: F.binary_cross_entropy(p, y, w, reduction=reduction),
                    p, y, w)


def test_float16_binary_cross_entropy_gradient_rounds_in_pytorchs_order():
    # g·(x - y), over x(1 - x), times w, over n: each step rounds in float16, as PyTorch's
    x = np.float16([0.0451, 0.8413, 0.4292, 0.581])
    y = np.float16([0.0471, 0.5767, 0.7837, 0.04938])
    w = np.float16([-10.48, -7.934, -3.164, 5.03])
    one = np.float16(1.0)
    expected = ((one * (x - y)) / (x * (one - x))) * w / np.float16(4)
    p = tg.tensor(x, requires_grad=True)
    F.binary_cross_entropy(p, tg.tensor(y), tg.tensor(w)).backward()
    assert p.grad.dtype is tg.float16
    np.testing.assert_array_equal(p.grad.numpy(), expected)
    # (g/n·w first, then the quotient, rounds otherwise)
    assert not np.array_equal(((one / np.float16(4)) * w * (x - y)) / (x * (one - x)), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_binary_cross_entropy_with_logits(reduction):
    x, y = leaf(uniform(3, 4, low=-4, high=4)), leaf(uniform(3, 4, low=0, high=1))
    w, pw = const(uniform(3, 1, low=0.1, high=2)), const(uniform(4, low=0.5, high=3))
    fn = F.binary_cross_entropy_with_logits
    check_gradients(lambda x, y: fn(x, y, reduction=reduction), x, y)
    check_gradients(lambda x, y: fn(x, y, w, reduction=reduction, pos_weight=pw), x, y)
    pw_leaf = leaf(uniform(4, low=0.5, high=3))   # pos_weight is differentiable too
    check_gradients(lambda x, pw: fn(x, y.detach(), reduction=reduction, pos_weight=pw), x,
                    pw_leaf)


def test_gradcheck_binary_cross_entropy_with_logits_through_0():
    x = leaf(np.array([0.0, 1e-3, -1e-3]))
    check_gradients(lambda x: F.binary_cross_entropy_with_logits(x, const([1.0, 0.0, 0.3])), x)


# -- cross-entropy with class indices ----------------------------------------------------------
CE_OPTIONS = {
    "plain": {},
    "weight": {"weight": np.array([0.2, 1.0, 2.5, 0.7, 1.3])},
    "ignore_index": {"ignore_index": 2},
    "label_smoothing": {"label_smoothing": 0.2},
    "all": {"weight": np.array([0.2, 1.0, 2.5, 0.7, 1.3]), "ignore_index": 1,
            "label_smoothing": 0.15},
}


def ce_kwargs(options):
    return {k: const(v) if k == "weight" else v for k, v in options.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", CE_OPTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3), (2, 5, 2, 3), (5,)], ids=str)
def test_cross_entropy_with_class_indices_matches_its_formula(shape, option, reduction):
    options = CE_OPTIONS[option]
    x = uniform(*shape, low=-3, high=3)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, 5, size=target_shape)
    if "ignore_index" in options and t.ndim:
        t.flat[0] = options["ignore_index"]   # at least one ignored entry
    out = F.cross_entropy(const(x), tg.tensor(t), reduction=reduction, **ce_kwargs(options))
    expected = np_cross_entropy(x, t, options.get("weight"), options.get("ignore_index", -100),
                                reduction, options.get("label_smoothing", 0.0))
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_cross_entropy_with_an_ignore_index_outside_the_class_range():
    x, t = uniform(4, 3), np.array([0, -1, 2, -1])
    out = F.cross_entropy(const(x), tg.tensor(t), ignore_index=-1, reduction="none")
    np.testing.assert_allclose(out.numpy(), np_cross_entropy(x, t, ignore_index=-1,
                                                             reduction="none"))
    assert out.numpy()[[1, 3]].tolist() == [0.0, 0.0]
    assert F.cross_entropy(const(x), tg.tensor(t), ignore_index=-1).item() == pytest.approx(
        np_cross_entropy(x, t, ignore_index=-1))


def test_cross_entropy_is_nll_loss_of_log_softmax():
    x, t = tg.randn(6, 4), indices(6, classes=4)
    w = tg.rand(4) + 0.5
    for options in ({}, {"weight": w}, {"ignore_index": 3}):
        np.testing.assert_allclose(F.cross_entropy(x, t, **options).numpy(),
                                   F.nll_loss(x.log_softmax(1), t, **options).numpy(), rtol=1e-6)


def test_cross_entropy_keeps_float32_and_reduces_to_a_0d_tensor():
    out = F.cross_entropy(tg.randn(8, 10), indices(8, classes=10))
    assert out.dtype == tg.float32 and out.shape == ()
    out = F.cross_entropy(tg.randn(8, 10), indices(8, classes=10),
                          weight=tg.rand(10, dtype=tg.float64))
    assert out.dtype == tg.float32   # the weight is cast to the input's dtype
    assert F.cross_entropy(tg.randn(8, 10), indices(8, classes=10), reduction="none").shape == (8,)


def test_cross_entropy_accepts_int32_and_uint8_targets():
    x = tg.randn(4, 3)
    t = tg.tensor([0, 2, 1, 1])
    expected = F.cross_entropy(x, t).item()
    assert F.cross_entropy(x, t.to(tg.int32)).item() == pytest.approx(expected)
    assert F.cross_entropy(x, t.to(tg.uint8)).item() == pytest.approx(expected)


def test_cross_entropy_ignores_a_row_of_minus_inf_logits_in_float16():
    # (float16 takes the array path) the ignored row adds 0, not 0·inf = NaN
    x = tg.tensor([[-float("inf"), -8.16], [5.38, 8.42]], dtype=tg.float16)
    loss = F.cross_entropy(x, tg.tensor([1, 0]), ignore_index=1)
    assert abs(loss.item() - 3.0898) < 1e-2


def test_cross_entropy_with_every_target_ignored():
    x, t = tg.randn(2, 3), tg.tensor([-100, -100])
    assert np.isnan(F.cross_entropy(x, t).item())   # 0/0, as in PyTorch
    assert np.isnan(F.cross_entropy(x, t, label_smoothing=0.1).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert F.cross_entropy(x, t, reduction="none").tolist() == [0.0, 0.0]
    assert np.isnan(F.cross_entropy(tg.zeros(0, 3), tg.zeros(0, dtype=tg.int64)).item())


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_cross_entropy_is_exact_at_logits_of_plus_minus_1e4(dtype):
    x = tg.tensor([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]],
                  dtype=dtype, requires_grad=True)
    t = tg.tensor([0, 1, 2, 1])
    loss = F.cross_entropy(x, t, reduction="none")
    # the limits: 0 when the target's logit is the largest, (largest - target's) otherwise,
    # log 2 for a tie at the top
    np.testing.assert_allclose(value(loss), [0.0, 2e4, 0.0, np.log(2)], rtol=1e-7)
    assert value(loss)[[0, 2]].tolist() == [0.0, 0.0]
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [1, -1, 0], [0, 0, 0],
                                                [0.5, -0.5, 0]], atol=1e-7)
    smoothed = F.cross_entropy(x, t, label_smoothing=0.1, reduction="none")
    assert np.isfinite(value(smoothed)).all()
    np.testing.assert_allclose(value(smoothed)[0], 0.1 / 3 * 3e4, rtol=1e-6)


def test_cross_entropy_of_a_batch_of_logits_is_one_operation():
    from tests.support import ops_on_tape
    x = tg.randn(4, 3, requires_grad=True)
    recorded = ops_on_tape(F.cross_entropy(x, tg.tensor([0, 1, 2, 0])))
    assert recorded == {"cross_entropy", "accumulate_grad"}


def test_cross_entropy_with_class_indices_elsewhere_gathers_instead_of_building_a_one_hot():
    from tests.support import ops_on_tape
    x = tg.randn(4, 3, 2, requires_grad=True)
    recorded = ops_on_tape(F.cross_entropy(x, tg.tensor([[0, 1], [2, 0], [1, 1], [0, 2]])))
    assert recorded == {"log_softmax", "gather", "mean", "neg", "accumulate_grad"}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", CE_OPTIONS)
def test_gradcheck_cross_entropy_with_class_indices(option, reduction):
    options = ce_kwargs(CE_OPTIONS[option])
    x = leaf(uniform(4, 5))
    t = tg.tensor([0, 1, 3, 4])
    check_gradients(lambda x: F.cross_entropy(x, t, reduction=reduction, **options), x)


@pytest.mark.parametrize("option", CE_OPTIONS)
def test_gradcheck_cross_entropy_with_spatial_dims(option):
    options = ce_kwargs(CE_OPTIONS[option])
    x = leaf(uniform(2, 5, 3, 2))
    t = indices(2, 3, 2, classes=5)
    check_gradients(lambda x: F.cross_entropy(x, t, **options), x)
    x = tg.from_numpy(uniform(2, 3, 5).transpose(0, 2, 1)).requires_grad_()   # non-contiguous
    t = indices(2, 3, classes=5)
    check_gradients(lambda x: F.cross_entropy(x, t, reduction="sum", **options), x)


def test_gradcheck_cross_entropy_of_a_single_sample():
    check_gradients(lambda x: F.cross_entropy(x, tg.tensor(2)), leaf(uniform(5)))


# -- cross-entropy with class probabilities ----------------------------------------------------
def probabilities(*shape, class_dim=1):
    p = uniform(*shape, low=0.1, high=1)
    return p / p.sum(class_dim, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3), (5,)], ids=str)
def test_cross_entropy_with_class_probabilities_matches_its_formula(shape, reduction):
    class_dim = 0 if len(shape) == 1 else 1
    x, p = uniform(*shape), probabilities(*shape, class_dim=class_dim)
    w = uniform(5, low=0.1, high=2)
    for options in ({}, {"weight": w}, {"smoothing": 0.3}, {"weight": w, "smoothing": 0.1}):
        out = F.cross_entropy(const(x), const(p), weight=None if "weight" not in options
                              else const(w), label_smoothing=options.get("smoothing", 0.0),
                              reduction=reduction)
        expected = np_cross_entropy_probabilities(x, p, options.get("weight"), reduction,
                                                  options.get("smoothing", 0.0))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, err_msg=str(options))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_cross_entropy_with_class_probabilities_in_input_and_target(reduction):
    x, p = leaf(uniform(4, 5)), leaf(probabilities(4, 5))
    w = const(uniform(5, low=0.1, high=2))
    check_gradients(lambda x, p: F.cross_entropy(x, p, reduction=reduction), x, p)
    check_gradients(lambda x, p: F.cross_entropy(x, p, w, reduction=reduction,
                                                 label_smoothing=0.2), x, p)
    x, p = leaf(uniform(2, 5, 3)), leaf(probabilities(2, 5, 3))
    check_gradients(lambda x, p: F.cross_entropy(x, p, reduction=reduction), x, p)


def test_cross_entropy_with_one_hot_probabilities_equals_class_indices():
    x, t = tg.randn(6, 4), indices(6, classes=4)
    one_hot = tg.tensor(np.eye(4, dtype=np.float32)[t.numpy()])
    np.testing.assert_allclose(F.cross_entropy(x, one_hot).item(),
                               F.cross_entropy(x, t).item(), rtol=1e-6)
    np.testing.assert_allclose(F.cross_entropy(x, one_hot, label_smoothing=0.2).item(),
                               F.cross_entropy(x, t, label_smoothing=0.2).item(), rtol=1e-6)


def test_cross_entropy_with_probabilities_is_finite_at_plus_minus_1e4():
    x = tg.tensor([[1e4, -1e4], [-1e4, 1e4]], requires_grad=True)
    p = tg.tensor([[1.0, 0.0], [0.5, 0.5]])
    loss = F.cross_entropy(x, p, reduction="none")
    np.testing.assert_allclose(value(loss), [0.0, 1e4])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [-0.5, 0.5]])


# -- nll_loss ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_its_formula(reduction):
    x, t = uniform(5, 4), np.array([0, 3, 1, 1, 2])
    w = uniform(4, low=0.1, high=2)
    picked = x[np.arange(5), t]
    np.testing.assert_allclose(value(F.nll_loss(const(x), tg.tensor(t), reduction=reduction)),
                               reduce(-picked, reduction), rtol=1e-13)
    weighted = F.nll_loss(const(x), tg.tensor(t), const(w), reduction=reduction)
    expected = -w[t] * picked
    np.testing.assert_allclose(value(weighted), expected.sum() / w[t].sum()
                               if reduction == "mean" else reduce(expected, reduction), rtol=1e-13)
    ignored = F.nll_loss(const(x), tg.tensor(t), ignore_index=1, reduction=reduction)
    kept = t != 1
    np.testing.assert_allclose(value(ignored), -picked[kept].mean() if reduction == "mean"
                               else reduce(-picked * kept, reduction), rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_nll_loss(reduction):
    x, t = leaf(uniform(4, 5)), tg.tensor([0, 1, 3, 4])
    w = const(uniform(5, low=0.1, high=2))
    check_gradients(lambda x: F.nll_loss(x, t, reduction=reduction), x)
    check_gradients(lambda x: F.nll_loss(x, t, w, ignore_index=3, reduction=reduction), x)
    x, t = leaf(uniform(2, 5, 3)), indices(2, 3, classes=5)
    check_gradients(lambda x: F.nll_loss(x, t, w, reduction=reduction), x)


def test_class_weight_may_itself_require_grad():
    x, t = tg.randn(4, 3, dtype=tg.float64), tg.tensor([0, 1, 2, 1])
    check_gradients(lambda w: F.cross_entropy(x, t, w), leaf(uniform(3, low=0.5, high=2)))


# -- kl_div ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div_matches_its_formula(reduction):
    log_q = np_log_softmax(uniform(3, 4), 1)
    p = probabilities(3, 4)
    p[0, 0] = 0.0   # 0·log 0 = 0
    pointwise = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0) - p * log_q
    expected = {"mean": pointwise.mean(), "sum": pointwise.sum(), "none": pointwise,
                "batchmean": pointwise.sum() / 3}[reduction]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.kl_div(const(log_q), const(p), reduction=reduction)
        log_target = F.kl_div(const(log_q), const(np.log(probabilities(3, 4))), reduction=reduction,
                              log_target=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-13)
    assert np.isfinite(log_target.numpy()).all()


def test_kl_div_with_log_target_equals_kl_div_of_probabilities():
    log_q, p = np_log_softmax(uniform(3, 4), 1), probabilities(3, 4)
    a = F.kl_div(const(log_q), const(p), reduction="batchmean")
    b = F.kl_div(const(log_q), const(np.log(p)), reduction="batchmean", log_target=True)
    assert a.item() == pytest.approx(b.item(), rel=1e-13)


def test_kl_div_mean_warns_as_pytorch_and_batchmean_does_not():
    x, y = tg.zeros(2, 3), tg.ones(2, 3) / 3
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, y, reduction="batchmean")
        assert F.kl_div(tg.tensor(0.5), tg.tensor(0.25), reduction="batchmean").shape == ()


@pytest.mark.parametrize("reduction", ["sum", "none", "batchmean"])
def test_gradcheck_kl_div_in_input_and_target(reduction):
    log_q, p = leaf(np_log_softmax(uniform(3, 4), 1)), leaf(probabilities(3, 4))
    check_gradients(lambda x, y: F.kl_div(x, y, reduction=reduction), log_q, p)
    log_p = leaf(np.log(probabilities(3, 4)))
    check_gradients(lambda x, y: F.kl_div(x, y, reduction=reduction, log_target=True), log_q,
                    log_p)


def test_gradcheck_kl_div_mean():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_gradients(lambda x, y: F.kl_div(x, y), leaf(uniform(3, 4)),
                        leaf(probabilities(3, 4)))


def test_kl_div_target_gradient_is_nan_where_the_target_is_0_as_pytorch():
    # ∂(y ln y)/∂y = ln y + 1 has no value at y = 0; the loss there is 0, the input's slope -y
    for dtype in (tg.float16, tg.float32, tg.float64):
        p = tg.tensor([0.0, 0.5, 0.5], dtype=dtype, requires_grad=True)
        x = tg.tensor([-1.0, -1.0, -1.0], dtype=dtype, requires_grad=True)
        loss = F.kl_div(x, p, reduction="sum")
        loss.backward()
        assert np.isfinite(loss.item()) and x.grad.tolist() == [0.0, -0.5, -0.5]
        grad = p.grad.double().numpy()
        assert np.isnan(grad[0]) and grad[1] == pytest.approx(np.log(0.5) + 2, rel=1e-3)


# -- cosine embedding and margin ranking -------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss_matches_its_formula(reduction):
    a, b = uniform(5, 3), uniform(5, 3)
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    cos = np_cosine(a, b)
    for margin in (0.0, 0.3):
        expected = np.where(y == 1, 1 - cos, np.maximum(cos - margin, 0))
        out = F.cosine_embedding_loss(const(a), const(b), const(y), margin, reduction=reduction)
        np.testing.assert_allclose(out.numpy(), reduce(expected, reduction), rtol=1e-13)
    single = F.cosine_embedding_loss(const(a[0]), const(b[0]), const(1.0))
    assert single.item() == pytest.approx(1 - cos[0])


def test_cosine_embedding_loss_of_a_zero_vector_is_finite():
    x = tg.zeros(2, 3, dtype=tg.float64, requires_grad=True)
    loss = F.cosine_embedding_loss(x, tg.ones(2, 3, dtype=tg.float64), tg.tensor([1.0, -1.0]),
                                   reduction="none")
    assert loss.tolist() == [1.0, 0.0]
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_cosine_embedding_loss(reduction):
    a, b = leaf(uniform(5, 3)), leaf(uniform(5, 3))
    y = const([1.0, -1.0, 1.0, -1.0, -1.0])
    check_gradients(lambda a, b: F.cosine_embedding_loss(a, b, y, 0.1, reduction=reduction), a, b)
    check_gradients(lambda a, b: F.cosine_embedding_loss(a, b, const(-1.0), -0.5), leaf(uniform(4)),
                    leaf(uniform(4)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss_matches_its_formula(reduction):
    a, b, y = uniform(6), uniform(6), np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    for margin in (0.0, 0.5):
        out = F.margin_ranking_loss(const(a), const(b), const(y), margin, reduction=reduction)
        np.testing.assert_allclose(out.numpy(),
                                   reduce(np.maximum(0, -y * (a - b) + margin), reduction),
                                   rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_margin_ranking_loss_in_both_inputs_and_the_target(reduction):
    a, b, y = leaf(uniform(6)), leaf(uniform(6)), leaf(np.array([1.0, -1, 1, 1, -1, -1]))
    check_gradients(lambda a, b, y: F.margin_ranking_loss(a, b, y, 0.2, reduction=reduction),
                    a, b, y)


# -- every loss refuses a bad reduction --------------------------------------------------------
ALL_LOSSES = {
    "mse_loss": lambda r: F.mse_loss(tg.zeros(2), tg.zeros(2), reduction=r),
    "l1_loss": lambda r: F.l1_loss(tg.zeros(2), tg.zeros(2), reduction=r),
    "huber_loss": lambda r: F.huber_loss(tg.zeros(2), tg.zeros(2), reduction=r),
    "smooth_l1_loss": lambda r: F.smooth_l1_loss(tg.zeros(2), tg.zeros(2), reduction=r),
    "binary_cross_entropy": lambda r: F.binary_cross_entropy(tg.zeros(2), tg.zeros(2),
                                                             reduction=r),
    "binary_cross_entropy_with_logits": lambda r: F.binary_cross_entropy_with_logits(
        tg.zeros(2), tg.zeros(2), reduction=r),
    "cross_entropy": lambda r: F.cross_entropy(tg.zeros(2, 3), tg.tensor([0, 1]), reduction=r),
    "nll_loss": lambda r: F.nll_loss(tg.zeros(2, 3), tg.tensor([0, 1]), reduction=r),
    "kl_div": lambda r: F.kl_div(tg.zeros(2), tg.zeros(2), reduction=r),
    "cosine_embedding_loss": lambda r: F.cosine_embedding_loss(tg.ones(2, 3), tg.ones(2, 3),
                                                               tg.ones(2), reduction=r),
    "margin_ranking_loss": lambda r: F.margin_ranking_loss(tg.zeros(2), tg.zeros(2), tg.ones(2),
                                                           reduction=r),
}


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_an_unknown_reduction_is_refused_naming_it(name):
    with pytest.raises(ValueError, match=f"{name}: 'avg' is not a valid value for reduction"):
        ALL_LOSSES[name]("avg")


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_every_loss_keeps_float32_and_has_a_0d_mean(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = ALL_LOSSES[name]("mean")
    assert out.dtype == tg.float32 and out.shape == ()


# -- errors ------------------------------------------------------------------------------------
def test_cross_entropy_target_errors_name_both_shapes():
    x = tg.randn(4, 5)
    with pytest.raises(RuntimeError, match=r"cross_entropy: a target of dtype tapegrad.float32 "
                                           r"and shape \(4,\) is neither class indices \(an "
                                           r"integer tensor of shape \(4,\)\) nor class "
                                           r"probabilities \(a float tensor of the input's "
                                           r"shape \(4, 5\)\)"):
        F.cross_entropy(x, tg.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match=r"float tensor of the input's shape \(4, 5\)"):
        F.cross_entropy(x, tg.rand(4, 3))   # probabilities of the wrong shape
    with pytest.raises(ValueError, match=r"expected the input's batch size \(4\) to match the "
                                         r"target's \(3\): input of shape \(4, 5\), target of "
                                         r"shape \(3,\)"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match=r"expected a target of class indices of shape "
                                           r"\(2, 3\) for an input of shape \(2, 5, 3\), got a "
                                           r"target of shape \(2, 4\)"):
        F.cross_entropy(tg.randn(2, 5, 3), tg.zeros(2, 4, dtype=tg.int64))
    with pytest.raises(RuntimeError, match=r"a target of the input's shape \(4, 5\) holds class "
                                           r"probabilities and must be floating point, got "
                                           r"tapegrad.int64"):
        F.cross_entropy(x, tg.zeros(4, 5, dtype=tg.int64))


def test_cross_entropy_class_index_out_of_range_names_the_value_and_the_class_count():
    with pytest.raises(IndexError, match=r"cross_entropy: target class index 7 is out of range "
                                         r"for 5 classes \(expected values in \[0, 4\], or "
                                         r"ignore_index=-100\)"):
        F.cross_entropy(tg.randn(3, 5), tg.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="target class index -1 is out of range"):
        F.cross_entropy(tg.randn(3, 5), tg.tensor([0, -1, 1]))
    with pytest.raises(IndexError, match="nll_loss: target class index 3 is out of range for 3"):
        F.nll_loss(tg.randn(2, 3), tg.tensor([3, -100]))


def test_other_argument_errors():
    x = tg.randn(4, 5)
    t = tg.tensor([0, 1, 2, 3])
    with pytest.raises(RuntimeError, match=r"weight should hold one value for each of the 5 "
                                           r"classes \(shape \(5,\)\), got a weight of shape "
                                           r"\(4,\)"):
        F.cross_entropy(x, t, weight=tg.ones(4))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0, got 1.5"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for a target of class "
                                           "probabilities"):
        F.cross_entropy(x, tg.rand(4, 5), ignore_index=1)
    with pytest.raises(ValueError, match="cross_entropy: the input must have a class dimension"):
        F.cross_entropy(tg.tensor(1.0), tg.tensor(0))
    with pytest.raises(TypeError, match="cross_entropy: target must be a Tensor, got list"):
        F.cross_entropy(x, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: the target must have the "
                                         r"input's shape, got a target of shape \(1,\) for an "
                                         r"input of shape \(2,\)"):
        F.binary_cross_entropy(tg.rand(2), tg.rand(1))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: the target must "
                                         r"have the input's shape"):
        F.binary_cross_entropy_with_logits(tg.rand(2), tg.rand(2, 1))
    with pytest.raises(RuntimeError, match=r"all elements of input should be between 0 and 1, "
                                           r"got values in \[-0.5, 0.5\] \(they are "
                                           r"probabilities; for logits use "
                                           r"binary_cross_entropy_with_logits\)"):
        F.binary_cross_entropy(tg.tensor([-0.5, 0.5]), tg.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([0.5]), tg.tensor([2.0]))
    with pytest.raises(RuntimeError, match=r"pos_weight of shape \(3,\) cannot be broadcast to "
                                           r"the input's shape \(2, 4\)"):
        F.binary_cross_entropy_with_logits(tg.zeros(2, 4), tg.zeros(2, 4), pos_weight=tg.ones(3))
    with pytest.raises(RuntimeError, match=r"mse_loss: the input of shape \(2, 3\) and the target "
                                           r"of shape \(4,\) cannot be broadcast together"):
        F.mse_loss(tg.zeros(2, 3), tg.zeros(4))
    with pytest.raises(ValueError, match=r"weights and input must have the same size, got a "
                                         r"weight of shape \(3,\)"):
        F.mse_loss(tg.zeros(2, 3), tg.zeros(2, 3), weight=tg.ones(3))
    with pytest.raises(RuntimeError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(tg.zeros(2), tg.zeros(2), delta=0)
    with pytest.raises(RuntimeError, match="smooth_l1_loss: beta must not be negative"):
        F.smooth_l1_loss(tg.zeros(2), tg.zeros(2), beta=-1.0)


def test_cosine_and_margin_ranking_shape_errors():
    with pytest.raises(RuntimeError, match=r"a 0-d target of shape \(\) expects two 1-d inputs, "
                                           r"got input1 of shape \(2, 3\)"):
        F.cosine_embedding_loss(tg.ones(2, 3), tg.ones(2, 3), tg.tensor(1.0))
    with pytest.raises(RuntimeError, match=r"a 1-d target of shape \(3,\) expects two 2-d inputs"):
        F.cosine_embedding_loss(tg.ones(3), tg.ones(3), tg.ones(3))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.cosine_embedding_loss(tg.ones(2, 3), tg.ones(2, 3), tg.ones(2, 1))
    with pytest.raises(RuntimeError, match=r"input2 of shape \(2, 4\)"):
        F.cosine_embedding_loss(tg.ones(2, 3), tg.ones(2, 4), tg.ones(2))
    with pytest.raises(RuntimeError, match=r"must hold one value per row of the inputs of shape "
                                           r"\(2, 3\)"):
        F.cosine_embedding_loss(tg.ones(2, 3), tg.ones(2, 3), tg.ones(3))
    with pytest.raises(RuntimeError, match=r"margin_ranking_loss: all input tensors should have "
                                           r"the same number of dimensions, got input1 of shape "
                                           r"\(2,\), input2 of shape \(2, 1\)"):
        F.margin_ranking_loss(tg.ones(2), tg.ones(2, 1), tg.ones(2))


# -- modules -----------------------------------------------------------------------------------
def test_loss_modules_compute_their_functions():
    x, y = tg.randn(4, 3), tg.randn(4, 3)
    p, b = tg.rand(4, 3) * 0.9 + 0.05, tg.rand(4, 3)
    t = tg.tensor([0, 2, 1, 2])
    w = tg.rand(3) + 0.5
    pairs = [
        (nn.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, reduction="sum")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.SmoothL1Loss(beta=0.3)(x, y), F.smooth_l1_loss(x, y, beta=0.3)),
        (nn.BCELoss(weight=w)(p, b), F.binary_cross_entropy(p, b, w)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, b),
         F.binary_cross_entropy_with_logits(x, b, pos_weight=w)),
        (nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1)(x, t),
         F.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.1)),
        (nn.NLLLoss(reduction="none")(x, t), F.nll_loss(x, t, reduction="none")),
        (nn.KLDivLoss(reduction="batchmean", log_target=True)(x, y),
         F.kl_div(x, y, reduction="batchmean", log_target=True)),
        (nn.CosineEmbeddingLoss(0.2)(x, y, tg.tensor([1.0, -1.0, 1.0, -1.0])),
         F.cosine_embedding_loss(x, y, tg.tensor([1.0, -1.0, 1.0, -1.0]), 0.2)),
        (nn.MarginRankingLoss(0.1)(x[0], y[0], tg.tensor([1.0, -1.0, 1.0])),
         F.margin_ranking_loss(x[0], y[0], tg.tensor([1.0, -1.0, 1.0]), 0.1)),
    ]
    for ours, expected in pairs:
        np.testing.assert_array_equal(ours.numpy(), expected.numpy())


def test_loss_module_reprs_match_pytorch():
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.CrossEntropyLoss(weight=tg.ones(3), label_smoothing=0.1)) == "CrossEntropyLoss()"
    for cls in (nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss, nn.BCELoss,
                nn.BCEWithLogitsLoss, nn.NLLLoss, nn.KLDivLoss, nn.CosineEmbeddingLoss,
                nn.MarginRankingLoss):
        assert repr(cls()) == f"{cls.__name__}()"


def test_class_weights_are_buffers_saved_in_the_state_dict():
    loss = nn.CrossEntropyLoss(weight=tg.tensor([1.0, 2.0, 3.0]))
    assert [name for name, _ in loss.named_buffers()] == ["weight"]
    assert list(loss.state_dict()) == ["weight"] and list(loss.parameters()) == []
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    both = nn.BCEWithLogitsLoss(weight=tg.ones(2), pos_weight=tg.ones(2))
    assert [name for name, _ in both.named_buffers()] == ["weight", "pos_weight"]
    assert [name for name, _ in nn.BCEWithLogitsLoss(pos_weight=tg.ones(2)).named_buffers()] == [
        "pos_weight"]
    assert nn.NLLLoss(weight=tg.ones(2)).weight.tolist() == [1.0, 1.0]
    assert nn.BCELoss().weight is None
    double = nn.CrossEntropyLoss(weight=tg.ones(3)).double()
    assert double.weight.dtype == tg.float64


def test_loss_module_defaults_and_options_match_pytorch():
    ce = nn.CrossEntropyLoss()
    assert (ce.reduction, ce.ignore_index, ce.label_smoothing, ce.weight) == ("mean", -100, 0.0,
                                                                              None)
    assert nn.HuberLoss().delta == 1.0 and nn.SmoothL1Loss().beta == 1.0
    assert nn.KLDivLoss().log_target is False and nn.KLDivLoss().reduction == "mean"
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    assert nn.CosineEmbeddingLoss().margin == 0.0 and nn.MarginRankingLoss().margin == 0.0


def test_loss_modules_refuse_a_bad_reduction_when_built():
    with pytest.raises(ValueError, match="MSELoss: 'avg' is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: 'batchmean' is not a valid value"):
        nn.CrossEntropyLoss(reduction="batchmean")
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)


def test_a_classifier_trains_with_cross_entropy_loss():
    tg.manual_seed(0)
    x = tg.randn(64, 2)
    t = (x[:, 0] > x[:, 1]).long()
    model = tg.nn.Sequential(tg.nn.Linear(2, 16), Tanh(), tg.nn.Linear(16, 2))
    criterion = nn.CrossEntropyLoss()
    first = None
    for _ in range(60):
        loss = criterion(model(x), t)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with tg.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    assert loss.item() < 0.3 * first


# -- PyTorch, where it is installed ------------------------------------------------------------
def torch_case(name):
    """(function of (F, tensors...), float64 arrays, which arrays get a gradient)."""
    x, y = uniform(4, 5), uniform(4, 5)
    p = uniform(4, 5, low=0.02, high=0.98)
    b = uniform(4, 5, low=0, high=1)
    w = uniform(5, low=0.1, high=2)
    big = np.array([[1e4, -1e4, 0, 3, -2], [-1e4, 1e4, 1e4, 0, 1], [0, 0, 0, 0, 0],
                    [5, -1e4, 2, 1e4, -1e4]])
    t = np.array([0, 2, 4, 1])
    probs = probabilities(4, 5)
    ls = np_log_softmax(x, 1)
    spatial = uniform(2, 5, 3, 2)
    t_spatial = rng.integers(0, 5, size=(2, 3, 2))
    t_spatial[0, 0, 0] = 3
    cases = {
        "mse": (lambda F, a, b: F.mse_loss(a, b), [x, y], [0, 1]),
        "mse_none_weight": (lambda F, a, b, w: F.mse_loss(a, b, reduction="none", weight=w),
                            [x, y, np.abs(y)], [0, 1]),
        "l1_sum": (lambda F, a, b: F.l1_loss(a, b, reduction="sum"), [x, y], [0, 1]),
        "huber": (lambda F, a, b: F.huber_loss(a, b, delta=0.7), [x, y], [0, 1]),
        "huber_weight": (lambda F, a, b, w: F.huber_loss(a, b, weight=w), [x, y, np.abs(y)],
                         [0, 1]),
        "smooth_l1": (lambda F, a, b: F.smooth_l1_loss(a, b, beta=0.4), [x, y], [0, 1]),
        "smooth_l1_beta_0": (lambda F, a, b: F.smooth_l1_loss(a, b, beta=0.0), [x, y], [0, 1]),
        "bce": (lambda F, a, b, w: F.binary_cross_entropy(a, b, w), [p, b, w], [0, 1]),
        "bce_none": (lambda F, a, b: F.binary_cross_entropy(a, b, reduction="none"), [p, b],
                     [0, 1]),
        "bce_logits": (lambda F, a, b, w, pw: F.binary_cross_entropy_with_logits(
            a, b, w, pos_weight=pw), [x, b, w, w[::-1].copy()], [0, 1]),
        "bce_logits_big": (lambda F, a, b: F.binary_cross_entropy_with_logits(
            a, b, reduction="sum"), [big, b], [0, 1]),
        "ce": (lambda F, a, t: F.cross_entropy(a, t), [x, t], [0]),
        "ce_big": (lambda F, a, t: F.cross_entropy(a, t, reduction="none"), [big, t], [0]),
        "ce_all": (lambda F, a, t, w: F.cross_entropy(a, t, w, ignore_index=2,
                                                      label_smoothing=0.3), [x, t, w], [0]),
        "ce_all_sum": (lambda F, a, t, w: F.cross_entropy(a, t, w, ignore_index=2,
                                                          label_smoothing=0.3, reduction="sum"),
                       [x, t, w], [0]),
        "ce_spatial": (lambda F, a, t, w: F.cross_entropy(a, t, w, ignore_index=3,
                                                          label_smoothing=0.1),
                       [spatial, t_spatial, w], [0]),
        "ce_probs": (lambda F, a, q, w: F.cross_entropy(a, q, w, label_smoothing=0.2),
                     [x, probs, w], [0, 1]),
        "ce_probs_big": (lambda F, a, q: F.cross_entropy(a, q, reduction="none"), [big, probs],
                         [0, 1]),
        "nll": (lambda F, a, t, w: F.nll_loss(a, t, w, ignore_index=0), [ls, t, w], [0]),
        "kl": (lambda F, a, q: F.kl_div(a, q, reduction="batchmean"), [ls, probs], [0, 1]),
        "kl_log": (lambda F, a, q: F.kl_div(a, q, reduction="sum", log_target=True),
                   [ls, np.log(probs)], [0, 1]),
        "cosine": (lambda F, a, c, yy: F.cosine_embedding_loss(a, c, yy, 0.1),
                   [x, y, np.array([1.0, -1.0, 1.0, -1.0])], [0, 1]),
        "margin": (lambda F, a, c, yy: F.margin_ranking_loss(a, c, yy, 0.3, reduction="none"),
                   [x[0], y[0], np.array([1.0, -1.0, 1.0, -1.0, 1.0])], [0, 1, 2]),
    }
    return cases[name]


TORCH_CASES = ["mse", "mse_none_weight", "l1_sum", "huber", "huber_weight", "smooth_l1",
               "smooth_l1_beta_0", "bce", "bce_none", "bce_logits", "bce_logits_big", "ce",
               "ce_big", "ce_all", "ce_all_sum", "ce_spatial", "ce_probs", "ce_probs_big", "nll",
               "kl", "kl_log", "cosine", "margin"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", TORCH_CASES)
def test_values_and_gradients_match_pytorch(name, dtype):
    torch = pytest.importorskip("torch")
    fn, arrays, differentiable = torch_case(name)
    arrays = [a if a.dtype.kind == "i" else a.astype(dtype) for a in arrays]
    ours = [tg.tensor(a, requires_grad=i in differentiable) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i in differentiable) for i, a in enumerate(arrays)]
    out, out_ref = fn(F, *ours), fn(torch.nn.functional, *theirs)
    g = rng.standard_normal(tuple(out_ref.shape)).astype(dtype)
    (out * tg.tensor(g)).sum().backward()
    (out_ref * torch.tensor(g)).sum().backward()
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(value(out), out_ref.detach().numpy(), **tol)
    for i in differentiable:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), **tol,
                                   err_msg=f"gradient of argument {i}")


def test_module_state_dicts_match_pytorchs():
    torch = pytest.importorskip("torch")
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    for ours, theirs in [(nn.CrossEntropyLoss(tg.tensor(w)), torch.nn.CrossEntropyLoss(
                              torch.tensor(w))),
                         (nn.BCEWithLogitsLoss(pos_weight=tg.tensor(w)),
                          torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))),
                         (nn.NLLLoss(), torch.nn.NLLLoss())]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)


def test_mse_huber_and_smooth_l1_cast_a_bool_target_to_the_input_float_dtype():
    x, b = tg.tensor([0.5, 2.0], dtype=tg.float64), tg.tensor([True, False])
    assert F.mse_loss(x, b, reduction="none").tolist() == [0.25, 4.0]
    assert F.mse_loss(x, b, reduction="none").dtype is tg.float64
    assert F.mse_loss(b, x).item() == 2.125
    assert F.smooth_l1_loss(x, b).item() == 0.8125
    assert F.huber_loss(x, b).item() == 0.8125
    with pytest.raises(RuntimeError, match="with a bool"):   # l1 takes no bool, as in PyTorch
        F.smooth_l1_loss(x, b, beta=0)


@pytest.mark.parametrize("dtype", [tg.float16, tg.float32, tg.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_every_target_ignored_is_nan_with_gradient_zero(dtype, smoothing):
    # the mean over no kept target is 0/0, as PyTorch; no row takes part, so each slope is 0
    x = tg.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([1, 1]), ignore_index=1, label_smoothing=smoothing)
    loss.backward()
    assert np.isnan(loss.item()) and x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_smooth_l1_loss_gradient_is_nan_at_a_nan_difference_and_one_at_an_infinite_one():
    nan, inf = float("nan"), float("inf")
    x = tg.tensor([nan, inf, -inf, 0.5, 40000.0], dtype=tg.float16, requires_grad=True)
    loss = F.smooth_l1_loss(x, tg.zeros(5, dtype=tg.float16), reduction="none", beta=2.0)
    assert loss.tolist()[1:] == [inf, inf, 0.0625, 40000.0] and np.isnan(loss.tolist()[0])
    loss.sum().backward()   # d/β clipped to [-1, 1], and NaN for a NaN d, as in PyTorch
    grad = x.grad.tolist()
    assert np.isnan(grad[0]) and grad[1:] == [1.0, -1.0, 0.25, 1.0]


def test_smooth_l1_loss_passes_an_infinite_gradient_on_inside_and_outside_beta():
    inf = float("inf")
    x = tg.tensor([0.03, 5.0], requires_grad=True)
    loss = F.smooth_l1_loss(x, tg.ones(2), reduction="none")
    loss.backward(tg.tensor([inf, inf]))   # d/β·∞ and 1·∞, not ∞ - ∞
    assert x.grad.tolist() == [-inf, inf]


def test_cross_entropy_with_label_smoothing_and_no_classes_or_no_samples_is_nan():
    for logits, target in ((tg.zeros(0, 0, 1, 2), tg.zeros(0, 0, 1, 2)),
                           (tg.zeros(0, 3), tg.zeros(0, dtype=tg.int64)),
                           (tg.zeros(0, 0), tg.zeros(0, dtype=tg.int64))):
        assert np.isnan(F.cross_entropy(logits, target, label_smoothing=0.1).item())


@pytest.mark.parametrize("shape", [(5, 0, 1, 2), (3, 0), (0,)])
def test_cross_entropy_with_label_smoothing_and_no_classes_is_0_at_each_ignored_target(shape):
    # with no classes every target must be ignore_index, whose loss is 0 (PyTorch's docs);
    # the smoothing term ε/C·Σ_c log p_c is an empty sum, 0 (PyTorch's ε/0 makes it NaN)
    logits = tg.zeros(*shape, requires_grad=True)
    ignored = tg.zeros(*(shape[:1] + shape[2:] if len(shape) > 1 else ()), dtype=tg.int64)
    for weight in (None, tg.zeros(0)):
        loss = F.cross_entropy(logits, ignored, weight=weight, ignore_index=0,
                               reduction="none", label_smoothing=0.1)
        assert loss.shape == ignored.shape and (loss.detach().numpy() == 0).all()
        total = F.cross_entropy(logits, ignored, weight=weight, ignore_index=0, reduction="sum",
                                label_smoothing=0.1)
        assert total.item() == 0.0
        total.backward()
        assert logits.grad.shape == logits.shape
        # the mean over no counted target is 0/0, NaN, as PyTorch's
        assert np.isnan(F.cross_entropy(logits, ignored, weight=weight, ignore_index=0,
                                        label_smoothing=0.1).item())
        # a target that is not ignored is out of range, as in PyTorch
        for reduction in ("none", "mean", "sum"):
            with pytest.raises(IndexError, match="target class index 0 is out of range for 0 "
                                                 "classes"):
                F.cross_entropy(logits, ignored, weight=weight, reduction=reduction,
                                label_smoothing=0.1)


def test_nll_loss_with_no_classes_and_every_target_ignored():
    target = tg.zeros(5, dtype=tg.int64)
    assert F.nll_loss(tg.zeros(5, 0), target, ignore_index=0, reduction="none").tolist() == [0.0] * 5
    assert np.isnan(F.nll_loss(tg.zeros(5, 0), target, weight=tg.zeros(0), ignore_index=0).item())
    assert F.nll_loss(tg.zeros(0), tg.tensor(0), ignore_index=0, reduction="sum").item() == 0.0


def test_cosine_embedding_loss_broadcasts_its_inputs_each_normed_over_itself():
    a = tg.tensor([[1.0, 2, 3, 4], [0, 1, 0, 1]])
    loss = F.cosine_embedding_loss(a, tg.ones(1, 4), tg.tensor([1, -1]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1 - 10 / np.sqrt(120), 2 / np.sqrt(8)], rtol=1e-6)
    # a target of one value broadcasts over the rows
    assert F.cosine_embedding_loss(a, a, tg.tensor([1]), reduction="none").tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match=r"input1 of shape \(2, 4\) and input2 of shape "
                                           r"\(3, 4\) cannot be broadcast together"):
        F.cosine_embedding_loss(a, tg.ones(3, 4), tg.tensor([1, -1]))


# -- dtypes, as PyTorch's ---------------------------------------------------------------------
@pytest.mark.parametrize("input_dtype,target_dtype", [("int64", "float32"), ("float32", "bool"),
                                                      ("int32", "int32")])
def test_kl_div_of_integer_or_bool_tensors_is_refused_by_name(input_dtype, target_dtype):
    input = tg.tensor([1, 0]).to(getattr(tg, input_dtype))
    target = tg.tensor([1, 0]).to(getattr(tg, target_dtype))
    with pytest.raises(RuntimeError, match="kl_div: integer and bool inputs are not supported"):
        F.kl_div(input, target, reduction="sum")


def test_huber_loss_wants_a_floating_input_and_answers_in_its_dtype():
    with pytest.raises(RuntimeError, match="huber_loss: expected a floating point input, got "
                                           "int64"):
        F.huber_loss(tg.tensor([1, 2]), tg.tensor([1.0, 2.0]))
    assert F.huber_loss(tg.tensor([1.0, 2.0]), tg.tensor([1, 4])).item() == 0.75   # int target
    half = F.huber_loss(tg.tensor([1.0, 2.0], dtype=tg.float16),
                        tg.tensor([1.5, 2.0], dtype=tg.float64), reduction="none")
    assert half.dtype is tg.float16 and half.tolist() == [0.125, 0.0]


def test_a_0d_target_promotes_as_a_broadcast_one():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = F.l1_loss(tg.tensor([4, 0], dtype=tg.uint8), tg.tensor(2), reduction="none")
        assert loss.dtype is tg.int64 and loss.tolist() == [2, 2]   # not uint8's 0 - 2 = 254
        loss = F.mse_loss(tg.tensor([1.0], dtype=tg.float16), tg.tensor(2.0, dtype=tg.float64),
                          reduction="none")
        assert loss.dtype is tg.float64 and loss.tolist() == [1.0]


def test_a_bool_input_to_l1_loss_is_refused_even_against_a_0d_float_target():
    with pytest.raises(RuntimeError, match=r"subtraction \(the - operator\) with a bool"):
        F.l1_loss(tg.tensor([True, False]), tg.tensor(0.5))


def test_huber_loss_gradient_is_nan_at_a_nan_difference_as_pytorch():
    x = tg.tensor([float("nan"), 3.0, 0.5], requires_grad=True)
    y = tg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    F.huber_loss(x, y, reduction="sum", delta=1.0).backward()
    assert np.isnan(x.grad[0].item()) and np.isnan(y.grad[0].item())
    assert x.grad.tolist()[1:] == [1.0, 0.5] and y.grad.tolist()[1:] == [-1.0, -0.5]


@pytest.mark.parametrize("loss", ["huber_loss", "smooth_l1_loss"])
def test_huber_and_smooth_l1_slope_at_the_joint_is_that_of_the_line(loss):
    x = tg.tensor([-1.0, 1.0, 2.0], dtype=tg.float64, requires_grad=True)   # |d| = 1 = δ = β
    getattr(F, loss)(x, tg.zeros(3, dtype=tg.float64), reduction="sum").backward()
    assert x.grad.tolist() == [-1.0, 1.0, 1.0]
    assert gradgradcheck(lambda t: getattr(F, loss)(t, tg.zeros(3, dtype=tg.float64)),
                         (tg.tensor([-3.0, 0.25, 2.0], dtype=tg.float64, requires_grad=True),))


@pytest.mark.parametrize("size, value", [(100_000, 2.0), (70_000, 0.5), (2_000, 10.0)],
                         ids=["n above float16's max", "tiny mean", "sum above float16's max"])
def test_float16_mse_loss_is_the_mean_of_float16_squares_not_of_an_overflowed_sum(size, value):
    """float16 has no room for n or Σd² beyond 65504: PyTorch averages in float32 and so
    must we (summed and divided in float16, n = 100000 gives nan and a zero gradient)."""
    x = tg.full((size,), value, dtype=tg.float16, requires_grad=True)
    loss = F.mse_loss(x, tg.zeros(size, dtype=tg.float16))
    loss.backward()
    assert loss.dtype is tg.float16 and x.grad.dtype is tg.float16
    np.testing.assert_allclose(loss.item(), value ** 2, rtol=1e-3)
    np.testing.assert_allclose(x.grad.numpy(), 2 * value / size, rtol=1e-2)


def test_float16_mse_loss_scales_d_by_2_over_n_before_the_gradient_so_2d_may_pass_65504():
    # an int64 target of another shape: broadcast and promoted, then PyTorch's (2/n·d)·g
    x = tg.tensor([[1.0], [38496.0]], dtype=tg.float16, requires_grad=True)
    with pytest.warns(UserWarning, match="target of shape"):
        loss = F.mse_loss(x, tg.zeros(2, dtype=tg.int64))
    loss.backward()   # (the loss itself, 38496²/2, is inf in float16, as in PyTorch)
    assert loss.dtype is tg.float16 and x.grad.tolist() == [[1.0], [38496.0]]


@pytest.mark.parametrize("logits, target", [
    ([[0.0, 1.0], [2.0, -1.0]], [1, 1]),      # the fused (N, C) path
    ([[0.0, 1.0], [2.0, -1.0]], [1, -100]),   # one target ignored
    ([0.0, 1.0], 1),                          # one sample (C,)
    ([[[0.0], [1.0]]], [[1]]),                # (N, C, d1)
])
def test_smoothed_weighted_mean_over_a_total_weight_of_0_is_nan_as_in_pytorch(logits, target):
    # The targets' part Σ w_y·ℓ_y / Σ w_y is 0/0 = NaN; the smoothing part alone (a nonzero
    # sum over all classes' weights, divided by 0) would be ±inf
    loss = F.cross_entropy(tg.tensor(logits), tg.tensor(target), weight=tg.tensor([1.0, 0.0]),
                           label_smoothing=0.1)
    assert np.isnan(loss.item())
    # a nonzero total weight is unaffected: (0.9·w_y·ℓ_y + 0.05·Σ_c w_c·ℓ_c) / Σ w_y
    loss = F.cross_entropy(tg.tensor([[0.0, 1.0]]), tg.tensor([0]), weight=tg.tensor([2.0, 1.0]),
                           label_smoothing=0.1)
    lse = np.log(1 + np.e)
    expected = (0.9 * 2 * lse + 0.05 * (2 * lse + 1 * (lse - 1))) / 2
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
