"""Pooling layers (tapegrad/nn/modules/pooling.py) and the functional forms of
tapegrad/nn/functional/pooling.py and vision.py: arguments, repr strings and output
shapes as PyTorch's; the arithmetic is tested in tests/autograd/test_pooling.py."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.functional import pooling as F
from tapegrad.nn.functional import vision
from tapegrad.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d,
                                         AvgPool2d, MaxPool1d, MaxPool2d)


def arr(t):
    return t.detach().numpy()


@pytest.mark.parametrize("layer,text", [
    (MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"),
    (MaxPool2d((2, 3), stride=1, padding=1, ceil_mode=True),
     "MaxPool2d(kernel_size=(2, 3), stride=1, padding=1, dilation=1, ceil_mode=True)"),
    (MaxPool1d(3, 2), "MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)"),
    (AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (AvgPool1d(3), "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"),
    (AdaptiveAvgPool2d((5, None)), "AdaptiveAvgPool2d(output_size=(5, None))"),
    (AdaptiveAvgPool1d(4), "AdaptiveAvgPool1d(output_size=4)")])
def test_repr_is_pytorchs(layer, text):
    assert repr(layer) == text


@pytest.mark.parametrize("layer,shape,out", [
    (MaxPool2d(2), (4, 6, 28, 28), (4, 6, 14, 14)),
    (MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 7), (2, 3, 5, 4)),
    (MaxPool1d(2), (2, 3, 9), (2, 3, 4)),
    (AvgPool2d(2, padding=1), (2, 3, 7, 7), (2, 3, 4, 4)),
    (AvgPool1d(3, stride=1), (3, 9), (3, 7)),
    (AdaptiveAvgPool2d(1), (2, 8, 5, 5), (2, 8, 1, 1)),
    (AdaptiveAvgPool2d((3, None)), (2, 8, 7, 5), (2, 8, 3, 5)),
    (AdaptiveAvgPool1d(4), (2, 3, 10), (2, 3, 4))], ids=repr)
def test_output_shapes(layer, shape, out):
    assert tuple(layer(tg.randn(*shape)).shape) == out


def test_the_layers_call_the_functional_forms():
    x = tg.randn(2, 3, 7, 6)
    np.testing.assert_array_equal(arr(MaxPool2d(3, 2, 1)(x)), arr(F.max_pool2d(x, 3, 2, 1)))
    np.testing.assert_allclose(arr(AvgPool2d(3, 2, 1, count_include_pad=False)(x)),
                               arr(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)))
    np.testing.assert_allclose(arr(AdaptiveAvgPool2d((2, 4))(x)),
                               arr(F.adaptive_avg_pool2d(x, (2, 4))))


def test_return_indices_gives_values_and_flat_positions():
    x = tg.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
    values, indices = MaxPool2d(2, return_indices=True)(x)
    assert values.tolist() == [[[[4.0]]]] and indices.tolist() == [[[[2]]]]
    values, indices = F.max_pool2d_with_indices(x, 2)
    assert indices.tolist() == [[[[2]]]]


def test_pooling_has_no_parameters_and_passes_gradients():
    layer = MaxPool2d(2)
    assert list(layer.parameters()) == []
    x = tg.randn(1, 2, 4, 4, requires_grad=True)
    layer(x).sum().backward()
    assert arr(x.grad).sum() == 2 * 4   # one 1 per window


def test_vision_functions_are_the_operations():
    x = tg.randn(1, 2, 4, 4)
    assert tuple(vision.pad(x, (1, 1, 2, 2)).shape) == (1, 2, 8, 6)
    assert tuple(vision.interpolate(x, scale_factor=2, mode="bilinear").shape) == (1, 2, 8, 8)
    assert tuple(vision.unfold(x, 2).shape) == (1, 8, 9)
    assert tuple(vision.fold(vision.unfold(x, 2), (4, 4), 2).shape) == (1, 2, 4, 4)
    np.testing.assert_allclose(arr(vision.upsample_bilinear(x, size=(6, 6))),
                               arr(vision.interpolate(x, size=(6, 6), mode="bilinear",
                                                      align_corners=True)))
