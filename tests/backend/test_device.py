"""Devices: names, and the errors for a missing GPU or mixed devices."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.tensor import wrap


def on_pretend_gpu(values):
    """A tensor that says it lives on cuda:0 (its array is numpy): enough to reach the
    device checks, which run before any array work, on a machine without a GPU."""
    return wrap(np.asarray(values, dtype=np.float32), tg.device("cuda:0"))


def test_device_names_as_in_pytorch():
    assert tg.device("cuda").index is None and tg.device("cuda:1").index == 1
    assert tg.device("cpu") == "cpu" and str(tg.device("cuda:1")) == "cuda:1"
    assert repr(tg.device("cuda", 2)) == "device(type='cuda', index=2)"


def test_unknown_device_names_are_refused():
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        tg.device("tpu")
    with pytest.raises(ValueError, match="non-negative integer"):
        tg.device("cuda:x")


def test_an_operation_on_two_devices_names_both_and_suggests_moving():
    with pytest.raises(RuntimeError, match=r"mul: .*cpu.*cuda:0.*\.to\('cpu'\).*model\.to"):
        tg.ones(2) * on_pretend_gpu([1.0, 2.0])


def test_matmul_on_two_devices_names_both():
    with pytest.raises(RuntimeError, match=r"cpu.*cuda:0"):
        tg.ones(2, 2) @ on_pretend_gpu([[1.0, 2.0], [3.0, 4.0]])


def test_without_cupy_or_a_gpu_cuda_is_unavailable_and_to_cuda_says_how_to_get_it():
    if tg.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert tg.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"cuda.*(cupy|CUDA device)"):
        tg.ones(2).to("cuda")
