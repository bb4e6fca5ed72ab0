"""Changing dtype and device (tapegrad/autograd/ops/conversion.py), and devices themselves.

``cast`` and ``to_device`` are recorded ops whose backward converts the gradient back,
so a leaf's gradient always has the leaf's dtype and device. ``Tensor.to`` and the
``float()``/``double()``… methods are spelled with them. Without cupy or a GPU, asking
for a cuda tensor is a clear error that says how to get one.
"""
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.conversion import cast, to_device

from ..support import Case, leaf

needs_cuda = pytest.mark.skipif(not tg.cuda.is_available(), reason="needs cupy and a CUDA GPU")

# Small values: the float32 rounding of x ± eps (eps = 1e-6) then stays far below the
# tolerance of the finite differences.
CASES = [
    # gradgrad=False: the backward of a cast to float32 is itself a cast to float32, and the
    # finite differences of gradgradcheck (eps = 1e-6 on gradients of size ~1) drown in float32
    # rounding; the second derivative of a cast is 0, checked in a test below instead.
    Case("cast", lambda x: cast(x, tg.float32), [leaf(low=-1e-3, high=1e-3)], gradgrad=False),
    Case("cast", lambda x: cast(x, tg.float32), [leaf(5, low=-1e-3, high=1e-3)], gradgrad=False),
    Case("cast", lambda x: x.to(tg.float32) * 2, [leaf(3, 4, low=-1e-3, high=1e-3)],
         gradgrad=False, name="to"),
    Case("cast", lambda x: x.float(), [tg.from_numpy(np.asfortranarray(
        np.linspace(-1e-3, 1e-3, 12).reshape(3, 4))).requires_grad_()], gradgrad=False,
         name="noncontiguous"),
    Case("cast", lambda x: (x.float() * 3).double() * x, [leaf(4, low=-1e-3, high=1e-3)],
         gradgrad=False, name="float_and_back"),
    # cpu -> cpu is no op at all (the same tensor comes back), so to_device can only be
    # recorded, and checked, where a GPU is.
    Case("to_device", lambda x: (to_device(x, "cuda") * 2).cpu(), [leaf(3, 4)]),
]


@pytest.mark.parametrize("case", [
    pytest.param(case, marks=needs_cuda) if case.op == "to_device" else case for case in CASES
], ids=repr)
def test_gradcheck(case):
    case.check()


# -- cast ----------------------------------------------------------------------------------
def test_casting_to_the_same_dtype_returns_the_tensor_itself():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert cast(x, tg.float32) is x and x.to(tg.float32) is x and x.float() is x


def test_casting_between_floats_is_recorded_and_the_gradient_comes_back_in_the_source_dtype():
    x = tg.tensor([1.5, -2.0], requires_grad=True)
    y = x.double()
    assert y.dtype is tg.float64 and y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.dtype is tg.float32 and x.grad.tolist() == [3.0, -4.0]


def test_a_cast_can_be_differentiated_twice():
    x = tg.tensor([1.5, -2.0], dtype=tg.float64, requires_grad=True)
    y = x.float()
    (g,) = tg.autograd.grad((y * y * y).sum(), x, create_graph=True)
    assert g.dtype is tg.float64 and g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [6.75, 12.0])
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [9.0, -12.0])


def test_a_cast_of_an_expanded_tensor_is_laid_out_row_major_as_in_pytorch():
    x = tg.arange(10.0).reshape(1, 2, 5).expand(3, 2, 5)
    y = x.double()
    assert y.view(-1).tolist() == x.reshape(-1).tolist()   # numpy's own order refuses this
    assert y.numpy().strides == (80, 40, 8)


def test_a_cast_of_an_expanded_and_transposed_tensor_keeps_the_transposed_order():
    # PyTorch ranks the dims by stride and keeps row-major order where a stride is 0
    x = tg.arange(6.0).reshape(2, 3).t().unsqueeze(0).expand(4, 3, 2)   # strides (0, 1, 3)
    y = x.double()
    assert y.numpy().strides == (48, 8, 24) and y.tolist() == x.tolist()
    assert y.transpose(1, 2).view(4, 6).tolist() == x.transpose(1, 2).reshape(4, 6).tolist()


def test_casting_to_an_integer_type_cuts_the_tape():
    x = tg.tensor([1.7, -2.7], requires_grad=True)
    n = x.long()
    assert n.dtype is tg.int64 and n.tolist() == [1, -2]
    assert not n.requires_grad and n.grad_fn is None
    b = x.bool()
    assert b.dtype is tg.bool and not b.requires_grad


def test_casting_integers_to_floats_gives_a_tensor_without_history():
    y = tg.tensor([1, 2]).float()
    assert y.dtype is tg.float32 and y.is_leaf and not y.requires_grad


def test_conversion_methods():
    x = tg.tensor([1.5, 2.5])
    assert x.double().dtype is tg.float64 and x.half().dtype is tg.float16
    assert x.long().dtype is tg.int64 and x.int().dtype is tg.int32 and x.bool().dtype is tg.bool
    assert x.type_as(tg.tensor([1])).dtype is tg.int64
    assert cast(x, "float64").dtype is tg.float64 and cast(x, np.float16).dtype is tg.float16


def test_cast_refuses_an_unknown_dtype():
    with pytest.raises(TypeError, match="complex64"):
        cast(tg.ones(2), np.complex64)


# -- Tensor.to -----------------------------------------------------------------------------
def test_to_takes_a_dtype_a_device_both_or_another_tensor():
    x = tg.tensor([1.0, 2.0])
    assert x.to(tg.float64).dtype is tg.float64
    assert x.to("cpu") is x and x.to(tg.device("cpu")) is x and x.cpu() is x
    y = x.to("cpu", tg.float64)
    assert y.dtype is tg.float64 and y.device == "cpu"
    assert x.to(dtype=tg.int32).dtype is tg.int32
    assert x.to(device="cpu", dtype=tg.float16).dtype is tg.float16
    assert x.to(tg.tensor([1], dtype=tg.int16)).dtype is tg.int16
    assert x.to(tg.float64).tolist() == [1.0, 2.0]


def test_to_with_copy_gives_a_new_tensor_even_when_nothing_changes():
    x = tg.tensor([1.0, 2.0])
    y = x.to(tg.float32, copy=True)
    assert y is not x and y.tolist() == [1.0, 2.0]
    assert not np.shares_memory(x.numpy(), y.numpy())


def test_to_device_on_the_same_device_returns_the_tensor_itself():
    x = tg.tensor([1.0], requires_grad=True)
    assert to_device(x, "cpu") is x and to_device(x, tg.device("cpu")) is x


# -- devices -------------------------------------------------------------------------------
def test_a_device_is_parsed_from_a_string():
    d = tg.device("cuda:1")
    assert d.type == "cuda" and d.index == 1
    assert str(d) == "cuda:1" and repr(d) == "device(type='cuda', index=1)"
    assert tg.device("cuda", 1) == d
    cpu = tg.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None
    assert str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    assert tg.device(d) == d


def test_devices_compare_equal_to_their_strings_and_hash_as_keys():
    assert tg.device("cuda:1") == "cuda:1" and tg.device("cuda:1") != "cuda:0"
    assert tg.device("cpu") == "cpu" and tg.device("cpu") != "cuda"
    assert tg.device("cpu") != "not a device"
    assert len({tg.device("cuda:1"), tg.device("cuda:1"), tg.device("cpu")}) == 2
    assert tg.zeros(2).device == "cpu" and tg.zeros(2, device="cpu").device == tg.device("cpu")


def test_an_unknown_device_is_a_clear_error():
    # PyTorch raises RuntimeError for both; ValueError is as clear (see the report).
    with pytest.raises((ValueError, RuntimeError), match="'tpu'"):
        tg.device("tpu")
    with pytest.raises((ValueError, RuntimeError), match="'cuda:x'"):
        tg.device("cuda:x")


def test_cuda_is_available_answers_without_raising():
    assert tg.cuda.is_available() in (True, False)
    assert tg.cuda.device_count() >= 0
    tg.cuda.synchronize()


@pytest.fixture
def without_cupy(monkeypatch):
    """Make ``import cupy`` fail, as on a machine without the cuda extra."""
    from tapegrad.backend import cuda
    monkeypatch.setattr(cuda, "_cupy", None)
    monkeypatch.setitem(sys.modules, "cupy", None)


@pytest.mark.usefixtures("without_cupy")
def test_without_cupy_cuda_is_not_available():
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0


@pytest.mark.usefixtures("without_cupy")
def test_without_cupy_moving_to_cuda_says_how_to_get_it():
    x = tg.tensor([1.0], requires_grad=True)
    for move in (lambda: x.to("cuda"), lambda: x.cuda(), lambda: x.to("cuda:0", tg.float64),
                 lambda: tg.zeros(2, device="cuda")):
        with pytest.raises(RuntimeError, match=r"cupy.*tapegrad\[cuda\]"):
            move()


def test_without_cupy_moving_to_cuda_changes_nothing(without_cupy):
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        x.to("cuda")
    assert x.device == "cpu" and x.is_leaf and x.grad is None


@pytest.mark.skipif(tg.cuda.is_available(), reason="this machine has a GPU")
def test_here_cuda_is_not_available_and_moving_there_is_a_clear_error():
    assert tg.cuda.is_available() is False
    with pytest.raises(RuntimeError, match="cupy|CUDA device"):
        tg.tensor([1.0]).to("cuda")


@needs_cuda
def test_a_round_trip_to_the_gpu_keeps_values_and_gradients():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda:0" and y.is_cuda
    (y * y).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, 4.0]
