"""torch.cuda on a machine without a GPU: questions answer "none", seeding and emptying the
cache do nothing, and asking for the current GPU says why it cannot. (With a GPU, or the
fake cupy, tests/cuda/test_backend.py checks set_device and the seeds on devices.)"""
import importlib.util

import pytest

import tapegrad as tg


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(tg.backend.cuda, "device_count", lambda: 0)


def test_the_questions_answer_none(no_gpu):
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0
    assert tg.cuda.memory_allocated() == 0 and tg.cuda.memory_reserved() == 0
    tg.cuda.empty_cache()
    tg.cuda.synchronize()


def test_seeding_cuda_leaves_the_cpu_draws_alone(no_gpu):
    tg.manual_seed(3)
    first = tg.rand(3).tolist()
    tg.manual_seed(3)
    tg.cuda.manual_seed(99)
    tg.cuda.manual_seed_all(7)
    assert tg.rand(3).tolist() == first


def test_the_current_gpu_cannot_be_asked_without_one(no_gpu):
    for ask in (tg.cuda.current_device, lambda: tg.cuda.set_device(0), tg.cuda.get_device_name):
        with pytest.raises(RuntimeError, match="no usable CUDA device"):
            ask()


def test_backends_cuda_flags_have_pytorchs_defaults():
    assert tg.backends.cuda.matmul.allow_tf32 is False
    if importlib.util.find_spec("cupy") is None:
        assert tg.backends.cuda.is_built() is False


def test_pytorch_answers_the_same_on_a_cpu_only_machine():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() or tg.cuda.is_available():
        pytest.skip("compares CPU-only machines")
    assert tg.cuda.memory_allocated() == torch.cuda.memory_allocated() == 0
    assert tg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
