"""nn.parallel.DataParallel and data_parallel without a GPU: they call the module, keep it as
``.module`` (state_dict keys prefixed ``module.``, as PyTorch's), and refuse what they cannot
do. (On cuda: tests/cuda/test_layers_and_losses.py.)"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.backend import cuda as backend_cuda
from tapegrad.nn.parallel import DataParallel, data_parallel


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    """These tests are about the cpu path, whatever the machine has."""
    monkeypatch.setattr(backend_cuda, "is_available", lambda: False)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x, y, scale=1.0):
        return self.fc(x) * scale + y


def test_the_names_are_pytorchs():
    assert nn.DataParallel is DataParallel and nn.parallel.DataParallel is DataParallel
    assert nn.parallel.data_parallel is data_parallel


def test_it_calls_the_module_with_positional_and_keyword_arguments():
    model = TwoInputs()
    dp = DataParallel(model)
    assert dp.module is model and dp.device_ids == []
    x, y = tg.randn(4, 3), tg.randn(4, 2)
    np.testing.assert_array_equal(dp(x, y, scale=2.0).detach().numpy(),
                                  model(x, y, scale=2.0).detach().numpy())


def test_gradients_reach_the_wrapped_parameters_and_an_optimizer_steps_them():
    model = nn.Linear(3, 1)
    dp = nn.DataParallel(model)
    opt = tg.optim.SGD(dp.parameters(), lr=0.1)
    before = model.weight.detach().numpy().copy()
    dp(tg.randn(5, 3)).sum().backward()
    assert model.weight.grad is not None
    opt.step()
    assert not np.allclose(model.weight.detach().numpy(), before)


def test_state_dict_keys_are_prefixed_with_module_and_load_both_ways():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    dp = DataParallel(model)
    assert list(dp.state_dict()) == ["module." + k for k in model.state_dict()]
    other = DataParallel(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    other.load_state_dict(dp.state_dict())
    np.testing.assert_array_equal(other.module[0].weight.detach().numpy(),
                                  model[0].weight.detach().numpy())
    plain = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    plain.load_state_dict(dp.module.state_dict())


def test_train_eval_and_repr_reach_the_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    dp = DataParallel(model)
    dp.eval()
    assert not model.training and not model[1].training
    assert repr(dp) == ("DataParallel(\n  (module): Sequential(\n    (0): Linear(in_features=2, "
                        "out_features=2, bias=True)\n    (1): Dropout(p=0.5, inplace=False)\n"
                        "  )\n)")


def test_data_parallel_calls_the_module_on_a_tuple_a_single_input_or_none():
    model = TwoInputs()
    x, y = tg.randn(4, 3), tg.randn(4, 2)
    np.testing.assert_array_equal(
        data_parallel(model, (x, y), module_kwargs={"scale": 3.0}).detach().numpy(),
        model(x, y, scale=3.0).detach().numpy())
    linear = nn.Linear(3, 2)
    np.testing.assert_array_equal(data_parallel(linear, x).detach().numpy(),
                                  linear(x).detach().numpy())

    class Constant(nn.Module):
        def forward(self):
            return tg.ones(2)

    np.testing.assert_array_equal(data_parallel(Constant(), None).numpy(), [1.0, 1.0])


def test_only_modules_can_be_wrapped():
    with pytest.raises(TypeError, match="expected an nn.Module to wrap, got function"):
        DataParallel(lambda x: x)


def test_with_a_gpu_several_devices_are_refused_not_silently_reduced_to_one(monkeypatch):
    monkeypatch.setattr(backend_cuda, "is_available", lambda: True)
    model = nn.Linear(2, 2)
    with pytest.raises(NotImplementedError, match=r"device_ids=\[0, 1\].*2 devices"):
        DataParallel(model, device_ids=[0, 1])
    with pytest.raises(NotImplementedError, match="output_device=1"):
        data_parallel(model, tg.randn(1, 2), device_ids=[0], output_device=1)
    with pytest.raises(ValueError, match="expected a cuda device or its index, got 'cpu'"):
        DataParallel(model, device_ids=["cpu"])
    assert model.weight.device == tg.device("cpu")    # nothing moved before the error
