"""nn.utils: gradient clipping and parameters <-> vector."""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                               vector_to_parameters)


def params_with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(tg.zeros(*np.shape(g)))
        p.grad = tg.tensor(np.asarray(g, dtype=np.float32))
        params.append(p)
    return params


GRADS = [np.array([[3.0, -4.0], [1.0, 2.0]]), np.array([0.5, -6.0, 2.0])]


def total_norm(grads, p):
    flat = np.concatenate([g.ravel() for g in grads])
    return np.abs(flat).max() if p == math.inf else (np.abs(flat) ** p).sum() ** (1 / p)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf])
def test_clip_grad_norm_scales_all_gradients_to_max_norm(norm_type):
    params = params_with_grads(*GRADS)
    expected = total_norm(GRADS, norm_type)
    norm = clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert isinstance(norm, tg.Tensor) and norm.ndim == 0 and norm.dtype == tg.float32
    assert norm.item() == pytest.approx(expected, rel=1e-5)
    coefficient = 1.0 / (expected + 1e-6)
    for p, g in zip(params, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * coefficient, rtol=1e-5)
    clipped = [p.grad.numpy() for p in params]
    assert total_norm(clipped, norm_type) == pytest.approx(1.0, rel=1e-4)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = params_with_grads(*GRADS)
    grad = params[0].grad
    norm = clip_grad_norm_(params, max_norm=100.0)
    assert norm.item() == pytest.approx(total_norm(GRADS, 2), rel=1e-6)
    assert params[0].grad is grad
    np.testing.assert_array_equal(params[0].grad.numpy(), GRADS[0].astype(np.float32))


def test_clip_grad_norm_on_a_model_in_place_skips_parameters_without_grad():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2))
    model(tg.randn(3, 5) * 100).sum().backward()
    model[0].bias.grad = None
    grads = [p.grad.numpy().copy() for p in model.parameters() if p.grad is not None]
    norm = clip_grad_norm_(model.parameters(), 0.5)
    assert norm.item() == pytest.approx(total_norm(grads, 2), rel=1e-5)
    after = [p.grad.numpy() for p in model.parameters() if p.grad is not None]
    assert total_norm(after, 2) == pytest.approx(0.5, rel=1e-4)


def test_clip_grad_norm_of_a_single_tensor_and_of_nothing():
    (p,) = params_with_grads(np.array([3.0, 4.0]))
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert clip_grad_norm_([nn.Parameter(tg.zeros(2))], 1.0).item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # inf · 0, as in PyTorch
def test_clip_grad_norm_non_finite():
    params = params_with_grads(np.array([1.0, np.inf]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert params[0].grad.numpy()[0] == 1.0   # unchanged
    assert math.isinf(clip_grad_norm_(params, 1.0).item())


def test_clip_grad_value_clamps_in_place():
    params = params_with_grads(*GRADS)
    grad = params[0].grad
    assert clip_grad_value_(params, 2.5) is None
    assert params[0].grad is grad
    for p, g in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -2.5, 2.5))


def test_parameters_to_vector_and_back():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,)
    expected = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    params = list(model.parameters())
    new = tg.arange(11, dtype=tg.float32)
    vector_to_parameters(new, model.parameters())
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert model[0].weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert model[1].bias.tolist() == [10.0]
    assert model[0].weight.requires_grad


def test_parameters_to_vector_is_differentiable():
    lin = nn.Linear(2, 2)
    (parameters_to_vector(lin.parameters()) ** 2).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * lin.weight.detach().numpy())


def test_vector_to_parameters_checks_its_input():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.zeros(6), lin.parameters())
    with pytest.raises(RuntimeError, match="1-D vector of 6 elements"):
        vector_to_parameters(tg.zeros(5), lin.parameters())
