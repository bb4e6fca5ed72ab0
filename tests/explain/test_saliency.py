"""Saliency (∂F/∂x) and InputXGradient (x · ∂F/∂x) against gradients worked out by hand."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain.saliency import InputXGradient, Saliency

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
rng = np.random.default_rng(0)


class Counting(nn.Module):
    """Wraps a model and records the batch size of every call."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.rows = []

    def forward(self, x):
        self.rows.append(x.shape[0])
        return self.model(x)


class WeightedSquares(nn.Module):
    """F(x) = Σ w·x² per example, so ∂F/∂x = 2wx."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (self.w * x * x).sum(dim=1)


def squares(device="cpu", dtype=tg.float64):
    w = rng.uniform(-2, 2, size=5)
    return WeightedSquares(tg.tensor(w, dtype=dtype, device=device)), w


def test_saliency_is_the_absolute_gradient_2wx_of_a_weighted_sum_of_squares():
    model, w = squares()
    x = rng.normal(size=(4, 5))
    out = Saliency(model).attribute(tg.tensor(x))
    np.testing.assert_allclose(out.numpy(), np.abs(2 * w * x), rtol=1e-12)


def test_saliency_keeps_the_sign_with_abs_false():
    model, w = squares()
    x = rng.normal(size=(4, 5))
    out = Saliency(model).attribute(tg.tensor(x), abs=False)
    np.testing.assert_allclose(out.numpy(), 2 * w * x, rtol=1e-12)


def test_input_x_gradient_is_x_times_2wx():
    model, w = squares()
    x = rng.normal(size=(4, 5))
    out = InputXGradient(model).attribute(tg.tensor(x))
    np.testing.assert_allclose(out.numpy(), 2 * w * x * x, rtol=1e-12)


def test_input_x_gradient_of_a_linear_layer_is_each_features_contribution():
    lin = nn.Linear(6, 3).double()
    x = tg.tensor(rng.normal(size=(2, 6)))
    out = InputXGradient(lin).attribute(x, target=2)
    np.testing.assert_allclose(out.numpy(), x.numpy() * lin.weight.detach().numpy()[2],
                               rtol=1e-12)


@pytest.mark.parametrize("target", [[2, 0, 1], tg.tensor([2, 0, 1])], ids=["list", "tensor"])
def test_a_target_per_example_picks_each_examples_own_output(target):
    lin = nn.Linear(4, 3).double()
    x = tg.tensor(rng.normal(size=(3, 4)))
    out = Saliency(lin).attribute(x, target=target, abs=False)
    np.testing.assert_allclose(out.numpy(), lin.weight.detach().numpy()[[2, 0, 1]], rtol=1e-12)


def test_a_tuple_target_indexes_outputs_with_several_dims():
    model = lambda x: x.reshape(x.shape[0], 2, 3) * 3.0
    x = tg.tensor(rng.normal(size=(2, 6)))
    out = Saliency(model).attribute(x, target=(1, 2), abs=False).numpy()
    expected = np.zeros((2, 6))
    expected[:, 5] = 3.0
    np.testing.assert_array_equal(out, expected)


def test_one_output_per_example_needs_no_target_and_a_column_output_too():
    model, w = squares()
    x = rng.normal(size=(3, 5))
    column = lambda t: model(t).reshape(-1, 1)
    np.testing.assert_allclose(Saliency(column).attribute(tg.tensor(x), abs=False).numpy(),
                               2 * w * x, rtol=1e-12)


def test_the_whole_batch_takes_one_model_call():
    model, _ = squares()
    counting = Counting(model)
    Saliency(counting).attribute(tg.tensor(rng.normal(size=(7, 5))))
    InputXGradient(counting).attribute(tg.tensor(rng.normal(size=(7, 5))))
    assert counting.rows == [7, 7]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_results_have_the_inputs_shape_dtype_and_device_and_no_history(device, dtype):
    model, _ = squares(device, dtype)
    x = tg.tensor(rng.normal(size=(3, 5)), dtype=dtype, device=device)
    for method in (Saliency(model), InputXGradient(model)):
        out = method.attribute(x)
        assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
        assert not out.requires_grad


def test_inputs_model_mode_and_parameter_grads_are_left_alone():
    model, _ = squares()
    model.eval()
    x = tg.tensor(rng.normal(size=(3, 5)))
    before = x.numpy().copy()
    Saliency(model).attribute(x)
    InputXGradient(model).attribute(x)
    np.testing.assert_array_equal(x.numpy(), before)
    assert not x.requires_grad and x.grad is None
    assert model.training is False and model.w.grad is None
    model.train()
    Saliency(model).attribute(x)
    assert model.training is True


def test_an_output_that_ignores_the_input_has_zero_gradient():
    bias = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    model = lambda x: bias * 1.0 + x[:, :1] * 0.0
    out = Saliency(model).attribute(tg.tensor(rng.normal(size=(2, 3))), target=1, abs=False)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3)))
    constant = lambda x: bias.reshape(1, 2).expand(x.shape[0], 2)
    out = Saliency(constant).attribute(tg.tensor(rng.normal(size=(2, 3))), target=0)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3)))


# -- errors ----------------------------------------------------------------------------------------
def test_several_outputs_without_a_target_is_an_error():
    with pytest.raises(ValueError, match=r"target=None needs one output per example.*\(3, 4\)"):
        Saliency(nn.Linear(2, 4).double()).attribute(tg.tensor(rng.normal(size=(3, 2))))


def test_a_target_out_of_range_is_an_index_error():
    lin = nn.Linear(2, 4).double()
    x = tg.tensor(rng.normal(size=(3, 2)))
    with pytest.raises(IndexError, match=r"target \(4,\) is out of range.*\(3, 4\)"):
        Saliency(lin).attribute(x, target=4)
    with pytest.raises(IndexError, match=r"target \(7,\) is out of range"):
        Saliency(lin).attribute(x, target=[0, 7, 1])


def test_a_list_target_needs_one_entry_per_example():
    with pytest.raises(ValueError, match="2 entries for 3 examples"):
        Saliency(nn.Linear(2, 4).double()).attribute(tg.tensor(rng.normal(size=(3, 2))),
                                                     target=[0, 1])


def test_bad_inputs_are_refused_clearly():
    model, _ = squares()
    with pytest.raises(TypeError, match="must be a tapegrad Tensor"):
        Saliency(model).attribute(np.ones((2, 5)))
    with pytest.raises(TypeError, match="floating-point inputs, got tapegrad.int64"):
        Saliency(model).attribute(tg.tensor([[1, 2, 3, 4, 5]]))
    with pytest.raises(ValueError, match="batch dimension"):
        Saliency(model).attribute(tg.tensor(1.0))
    with pytest.raises(TypeError, match="must be callable"):
        Saliency(3)


def test_a_model_computed_outside_the_tape_is_an_error():
    model = lambda x: tg.tensor(x.detach().numpy().sum(axis=1))
    with pytest.raises(RuntimeError, match="do not depend on its input"):
        Saliency(model).attribute(tg.tensor(rng.normal(size=(2, 3))))
