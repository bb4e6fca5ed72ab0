"""set_default_device("cuda"): creation functions and new layers put tensors on the GPU."""
import pytest

import tapegrad as tg

from .on_device import where_it_says

pytestmark = pytest.mark.cuda


@pytest.fixture
def default_cuda():
    tg.set_default_device("cuda")
    yield tg.device("cuda:0")
    tg.set_default_device(None)


def test_new_tensors_and_layers_go_to_the_default_device(default_cuda):
    for t in (tg.zeros(2), tg.ones(2, 3), tg.randn(4), tg.arange(3), tg.tensor([1.0, 2.0]),
              tg.eye(2), tg.full((2,), 3.0), tg.linspace(0, 1, 5), tg.randint(0, 5, (3,))):
        assert t.device == default_cuda and where_it_says(t)
    layer = tg.nn.Linear(3, 2)
    assert layer.weight.device == default_cuda and layer.bias.device == default_cuda


def test_an_explicit_device_still_wins(default_cuda):
    assert tg.zeros(2, device="cpu").device == tg.device("cpu")
    assert tg.zeros_like(tg.zeros(2, device="cpu")).device == tg.device("cpu")
