"""Flatten and Unflatten."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.autograd import gradcheck


def test_flatten_keeps_the_batch_dimension_by_default():
    x = tg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))


def test_flatten_with_start_and_end_dims():
    x = tg.randn(2, 3, 4, 5)
    assert nn.Flatten(0, -1)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)


def test_unflatten_is_the_inverse():
    x = tg.randn(2, 60)
    y = nn.Unflatten(1, (3, 4, 5))(x)
    assert y.shape == (2, 3, 4, 5)
    assert nn.Unflatten(-1, (3, -1))(x).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Flatten()(y).numpy(), x.numpy())


def test_unflatten_checks_its_arguments():
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 12)
    with pytest.raises(TypeError, match="dim must be an int"):
        nn.Unflatten("x", (2, 3))
    with pytest.raises(RuntimeError):
        nn.Unflatten(1, (5, 5))(tg.randn(2, 12))


def test_flatten_and_unflatten_pass_gradients_back():
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x: nn.Unflatten(1, (4, 3))(nn.Flatten()(x)), (x,))


def test_repr():
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 5, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5, 5))"
