"""Convolution layers (tapegrad/nn/modules/conv.py) and their functional forms
(tapegrad/nn/functional/conv.py): PyTorch's parameters, default init, repr and output
shapes; the arithmetic itself is tested in tests/autograd/test_convolution.py."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.functional import conv as F
from tapegrad.nn.functional.vision import pad
from tapegrad.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d


def arr(t):
    return t.detach().numpy()


# -- parameters and init ---------------------------------------------------------------------------
def test_conv2d_weight_and_bias_have_pytorch_shapes_and_names():
    layer = Conv2d(4, 6, (3, 5), groups=2)
    assert tuple(layer.weight.shape) == (6, 2, 3, 5) and tuple(layer.bias.shape) == (6,)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.requires_grad and layer.weight.dtype == tg.float32


def test_conv_transpose_weight_is_in_channels_first():
    layer = ConvTranspose2d(4, 6, 3, groups=2)
    assert tuple(layer.weight.shape) == (4, 3, 3, 3) and tuple(layer.bias.shape) == (6,)
    assert tuple(ConvTranspose1d(4, 6, 3).weight.shape) == (4, 6, 3)


def test_without_bias_there_is_no_bias_parameter():
    layer = Conv2d(3, 4, 3, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


@pytest.mark.parametrize("layer", [Conv2d(16, 32, 3), Conv1d(8, 4, 5), ConvTranspose2d(16, 32, 3),
                                   Conv2d(16, 32, 3, groups=4)], ids=repr)
def test_default_init_is_uniform_within_one_over_root_fan_in(layer):
    # kaiming_uniform_(a=√5): bound = √(6 / (1 + 5)) / √fan_in = 1/√fan_in; bias the same
    fan_in = layer.weight.shape[1] * math.prod(layer.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    w, b = arr(layer.weight), arr(layer.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound   # the std of U(-a, a) is a/√3


def test_init_is_reproducible_with_manual_seed():
    tg.manual_seed(5)
    first = arr(Conv2d(3, 4, 3).weight)
    tg.manual_seed(5)
    np.testing.assert_array_equal(first, arr(Conv2d(3, 4, 3).weight))


def test_dtype_argument_makes_float64_parameters():
    layer = Conv2d(3, 4, 3, dtype=tg.float64)
    assert layer.weight.dtype == tg.float64 and layer.bias.dtype == tg.float64


# -- repr ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,text", [
    (Conv2d(1, 6, 5), "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"),
    (Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False),
     "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
     "bias=False)"),
    (Conv2d(4, 8, 3, padding="same", groups=2, padding_mode="reflect"),
     "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=same, groups=2, "
     "padding_mode=reflect)"),
    (Conv1d(3, 6, 3, padding="valid"),
     "Conv1d(3, 6, kernel_size=(3,), stride=(1,), padding=valid)"),
    (ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, groups=2),
     "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), groups=2)"),
    (ConvTranspose1d(4, 6, 3), "ConvTranspose1d(4, 6, kernel_size=(3,), stride=(1,))")])
def test_repr_is_pytorchs(layer, text):
    assert repr(layer) == text


# -- forward ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,shape,out", [
    (Conv2d(1, 6, 5, padding=2), (4, 1, 28, 28), (4, 6, 28, 28)),
    (Conv2d(6, 16, 5), (4, 6, 14, 14), (4, 16, 10, 10)),
    (Conv2d(3, 8, 3, stride=2, padding=1), (2, 3, 9, 8), (2, 8, 5, 4)),
    (Conv2d(3, 8, 4, padding="same", dilation=2), (2, 3, 9, 8), (2, 8, 9, 8)),
    (Conv2d(3, 8, 3), (3, 7, 7), (8, 5, 5)),
    (Conv1d(3, 5, 3, stride=2), (2, 3, 11), (2, 5, 5)),
    (ConvTranspose2d(8, 4, 4, stride=2, padding=1), (2, 8, 5, 5), (2, 4, 10, 10)),
    (ConvTranspose1d(8, 4, 3, stride=3), (2, 8, 5), (2, 4, 15))], ids=repr)
def test_output_shapes(layer, shape, out):
    assert tuple(layer(tg.randn(*shape)).shape) == out


def test_the_layer_calls_the_functional_form_with_its_parameters():
    layer = Conv2d(3, 4, 3, stride=2, padding=1, dilation=1, groups=1)
    x = tg.randn(2, 3, 7, 7)
    np.testing.assert_allclose(arr(layer(x)), arr(F.conv2d(x, layer.weight, layer.bias, 2, 1)),
                               rtol=1e-6)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_pad_the_input_then_convolve_without_padding(mode):
    layer = Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, dtype=tg.float64)
    x = tg.randn(2, 2, 5, 6, dtype=tg.float64)
    expected = F.conv2d(pad(x, (2, 2, 1, 1), mode=mode), layer.weight, layer.bias)
    np.testing.assert_allclose(arr(layer(x)), arr(expected), atol=1e-12)
    same = Conv1d(2, 3, 4, padding="same", padding_mode=mode, dtype=tg.float64)
    s = tg.randn(2, 2, 7, dtype=tg.float64)
    # the odd extra padding goes on the right
    expected = F.conv1d(pad(s, (1, 2), mode=mode), same.weight, same.bias)
    np.testing.assert_allclose(arr(same(s)), arr(expected), atol=1e-12)


def test_conv_transpose_output_size_picks_the_output_padding():
    layer = ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    x = tg.randn(1, 4, 5, 5)
    assert tuple(layer(x).shape) == (1, 2, 9, 9)
    assert tuple(layer(x, output_size=(10, 10)).shape) == (1, 2, 10, 10)
    assert tuple(layer(x, output_size=(1, 2, 9, 10)).shape) == (1, 2, 9, 10)
    with pytest.raises(ValueError, match=r"requested an output size of \[12, 12\], but valid "
                                         r"sizes range from \[9, 9\] to \[10, 10\]"):
        layer(x, output_size=(12, 12))


def test_gradients_reach_the_weight_and_the_bias():
    layer = Conv2d(3, 4, 3, padding=1)
    x = tg.randn(2, 3, 6, 6, requires_grad=True)
    layer(x).sum().backward()
    assert tuple(layer.weight.grad.shape) == (4, 3, 3, 3)
    np.testing.assert_allclose(arr(layer.bias.grad), np.full(4, 2 * 36.0))
    assert tuple(x.grad.shape) == (2, 3, 6, 6)


def test_state_dict_holds_weight_and_bias():
    assert list(Conv2d(3, 4, 3).state_dict()) == ["weight", "bias"]


# -- constructor errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,message", [
    ({"groups": 2}, r"in_channels \(3\) must be divisible by groups \(2\)"),
    ({"groups": 0}, "groups must be a positive integer"),
    ({"padding": "full"}, "Invalid padding string 'full'"),
    ({"padding": "same", "stride": 2}, "padding='same' is not supported for strided"),
    ({"padding_mode": "wrap"}, "padding_mode must be one of"),
])
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2d(3, 4, 3, **kwargs)


def test_transposed_convolutions_only_pad_with_zeros():
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'ConvTranspose2d'):
        ConvTranspose2d(3, 4, 3, padding_mode="reflect")


def test_a_wrong_input_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(6, 3, 5, 5\).*\(2, 4, 8, 8\)"):
        Conv2d(3, 6, 5)(tg.randn(2, 4, 8, 8))
