"""torch.accelerator: the machine's accelerator, asked without naming CUDA."""
import pytest

import tapegrad as tg


def test_without_a_gpu_there_is_no_accelerator(monkeypatch):
    monkeypatch.setattr(tg.backend.cuda, "device_count", lambda: 0)
    assert tg.accelerator.is_available() is False
    assert tg.accelerator.device_count() == 0
    assert tg.accelerator.current_accelerator() is None


def test_with_a_gpu_the_accelerator_is_cuda(monkeypatch):
    monkeypatch.setattr(tg.backend.cuda, "device_count", lambda: 2)
    assert tg.accelerator.is_available() is True
    assert tg.accelerator.device_count() == 2
    assert tg.accelerator.current_accelerator() == tg.device("cuda")


def test_the_usual_device_line_of_a_pytorch_script_works(monkeypatch):
    monkeypatch.setattr(tg.backend.cuda, "device_count", lambda: 0)
    acc = tg.accelerator.current_accelerator()
    device = acc if tg.accelerator.is_available() else tg.device("cpu")
    assert tg.ones(2, device=device).device == tg.device("cpu")


def test_pytorch_says_the_same_on_this_machine():
    torch = pytest.importorskip("torch")
    assert tg.accelerator.is_available() == torch.accelerator.is_available()
    assert tg.accelerator.device_count() == torch.accelerator.device_count()


def test_without_a_gpu_the_current_device_cannot_be_asked_or_set(monkeypatch):
    monkeypatch.setattr(tg.backend.cuda, "device_count", lambda: 0)
    for ask in (tg.accelerator.current_device_index, tg.accelerator.synchronize,
                lambda: tg.accelerator.set_device_index(0)):
        with pytest.raises(RuntimeError, match="none is available"):
            ask()
