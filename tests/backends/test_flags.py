"""torch.backends.cudnn and torch.backends.mps: flags a script may set and read."""
import pytest

import tapegrad as tg


def test_cudnn_flags_have_pytorchs_defaults_and_can_be_set(monkeypatch):
    cudnn = tg.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, False, False)
    monkeypatch.setattr(cudnn, "benchmark", True)
    monkeypatch.setattr(cudnn, "deterministic", True)
    assert tg.backends.cudnn.benchmark is True and tg.backends.cudnn.deterministic is True


def test_tapegrad_uses_no_cudnn_and_has_no_mps():
    assert tg.backends.cudnn.is_available() is False and tg.backends.cudnn.version() is None
    assert tg.backends.mps.is_available() is False and tg.backends.mps.is_built() is False


def test_the_same_answers_as_pytorch_on_a_cpu_only_machine():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("compares against a CPU-only PyTorch")
    assert tg.backends.mps.is_available() == torch.backends.mps.is_available()
    assert tg.backends.cudnn.benchmark == torch.backends.cudnn.benchmark
