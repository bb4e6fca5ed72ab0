"""nn.functional at the edges, as PyTorch 2.13: integer and bool inputs, -inf, empty batches."""
import math

import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck

FLOAT_ONLY = ["gelu", "silu", "elu", "softplus", "logsigmoid", "leaky_relu"]


@pytest.mark.parametrize("name", FLOAT_ONLY)
@pytest.mark.parametrize("dtype", [tg.int64, tg.bool])
def test_smooth_activations_refuse_integer_and_bool_inputs(name, dtype):
    with pytest.raises(TypeError, match=f"{name}: expected a floating-point input"):
        getattr(F, name)(tg.tensor([1, 0], dtype=dtype))


@pytest.mark.parametrize("name", ["relu", "hardtanh", "relu6"])
def test_rectifiers_keep_integers_and_refuse_bool(name):
    y = getattr(F, name)(tg.tensor([1, -3, 7]))
    assert y.dtype is tg.int64
    assert y.tolist() == {"relu": [1, 0, 7], "hardtanh": [1, -1, 1], "relu6": [1, 0, 6]}[name]
    with pytest.raises(TypeError, match="bool"):
        getattr(F, name)(tg.tensor([True]))


@pytest.mark.parametrize("inplace", [False, True])
def test_hardtanh_gives_nan_elements_no_gradient(inplace):
    # PyTorch's CPU kernel gives 0 at NaN in its vectorised loop (its scalar tail passes
    # the gradient: it depends on the length); tapegrad gives 0 at any length
    x = tg.tensor([math.nan, -3.0, 0.5, 3.0] * 5, requires_grad=True)
    y = F.hardtanh(x * 1, inplace=inplace)
    y.backward(tg.full((20,), 2.0))
    assert math.isnan(y[0].item()) and x.grad.tolist() == [0.0, 0.0, 2.0, 0.0] * 5


def test_logsigmoid_of_minus_infinity_is_minus_infinity_with_gradient_one():
    x = tg.tensor([-math.inf, 0.0, 3.0], requires_grad=True)
    y = F.logsigmoid(x)
    assert y[0].item() == -math.inf and abs(y[1].item() + math.log(2)) < 1e-6
    y.sum().backward()
    assert x.grad[0].item() == 1.0 and abs(x.grad[1].item() - 0.5) < 1e-6


def test_logsigmoid_still_gradchecks():
    x = tg.tensor([-30.0, -1.5, 0.2, 4.0], dtype=tg.float64, requires_grad=True)
    assert gradcheck(F.logsigmoid, (x,))


def test_batch_norm_of_an_empty_batch_in_training_is_empty_and_leaves_the_statistics():
    x = tg.zeros(0, 3, requires_grad=True)
    mean, var = tg.zeros(3), tg.ones(3)
    weight = tg.ones(3, requires_grad=True)
    y = F.batch_norm(x, mean, var, weight, training=True)
    assert tuple(y.shape) == (0, 3)
    assert mean.tolist() == [0.0] * 3 and var.tolist() == [1.0] * 3
    y.sum().backward()
    assert weight.grad.tolist() == [0.0] * 3


def test_batch_norm_of_one_value_per_channel_in_training_is_still_refused():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(tg.zeros(1, 3), None, None, training=True)


def test_these_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in FLOAT_ONLY:
        with pytest.raises(NotImplementedError):
            getattr(torch.nn.functional, name)(torch.tensor([1, 0]))
    assert torch.nn.functional.hardtanh(torch.tensor([1, -3, 7])).tolist() == [1, -1, 1]
    assert torch.nn.functional.logsigmoid(torch.tensor(-math.inf)).item() == -math.inf
    y = torch.nn.functional.batch_norm(torch.zeros(0, 3), None, None, training=True)
    assert tuple(y.shape) == (0, 3)


def test_binary_cross_entropy_input_gradient_at_saturated_probabilities_is_pytorchs():
    # PyTorch: (x - y) / max(x(1 - x), 1e-12), also where the value's logs were clamped
    x = tg.tensor([0.999999, 1.0, 0.0, 1e-30], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 1.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(x, y, reduction="sum")
    assert abs(loss.item() - 269.0775) < 1e-3
    loss.backward()
    assert x.grad.tolist()[1:] == pytest.approx([1e12, -1e12, -1e12], rel=1e-6)
    assert abs(x.grad[0].item() + 1.0) < 1e-3
    # the target's gradient is -logit(x), unclamped: ∓∞ at x = 1 and x = 0, as PyTorch's
    assert y.grad.tolist()[1:3] == [-math.inf, math.inf]


def test_binary_cross_entropy_gradients_inside_zero_one_are_unchanged():
    from tapegrad.autograd.gradcheck import gradgradcheck
    x = tg.tensor([0.2, 0.7, 0.45], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([0.1, 0.9, 0.3], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (x, y))
    assert gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b), (x, y))
