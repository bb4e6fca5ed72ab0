"""Convolution and pooling on cuda tensors: on a real GPU, or else on the fake cupy.

Marked ``cuda`` (``pytest -m cuda`` runs only these; ``-m "not cuda"`` leaves them out).
Where a GPU and cupy exist, everything here runs on them; elsewhere on the fake cupy
(conftest.py), where convolution and pooling take tapegrad's array-only kernel path.

* the results on the GPU equal the ones on the cpu, float32 and float64, for every option;
* cuda tensors go through the numba kernels of tapegrad/kernels/cuda, on cupy's current
  stream (a non-default stream gives the same results) — real GPU only;
* the implicit-GEMM teaching kernel agrees with im2col + cuBLAS on a real layer — real GPU
  only;
* layers: Conv2d, MaxPool2d, and a small CNN whose training steps on the GPU match the
  cpu's.

The gradcheck cases of tests/autograd/test_convolution.py and test_pooling.py run on cuda
with every other op's, in test_gradcheck.py.
"""
import copy

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import convolution as C
from tapegrad.autograd.ops import pooling as P
from tapegrad.backend import cuda as backend_cuda
from tapegrad.nn.modules.conv import Conv2d
from tapegrad.nn.modules.pooling import MaxPool2d

from .conftest import needs_real_gpu

pytestmark = pytest.mark.cuda

rng = np.random.default_rng(5)


def both(shape, dtype):
    """The same random values as a cpu tensor and as a cuda tensor, both requiring grad."""
    array = rng.standard_normal(shape).astype(dtype)
    cpu = tg.tensor(array, requires_grad=True)
    return cpu, tg.tensor(array, device="cuda", requires_grad=True)


def assert_same(gpu, cpu, dtype):
    assert gpu.device.type == "cuda" and gpu.dtype == cpu.dtype
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gpu.detach().cpu().numpy(), cpu.detach().numpy(), **tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", [
    ((4, 3, 9, 9), (8, 3, 3, 3), dict(padding=1)),
    ((4, 4, 9, 8), (6, 2, 3, 3), dict(stride=2, padding=(1, 2), groups=2)),
    ((4, 6, 9, 9), (6, 1, 3, 3), dict(padding=1, groups=6)),
    ((2, 3, 11, 10), (5, 3, 3, 2), dict(dilation=(2, 3), padding="same")),
    ((1, 3, 8, 8), (4, 3, 5, 5), dict(stride=(2, 1))),
])
def test_conv2d_on_the_gpu_equals_the_cpu(dtype, x_shape, w_shape, kwargs):
    x, x_gpu = both(x_shape, dtype)
    w, w_gpu = both(w_shape, dtype)
    b, b_gpu = both(w_shape[:1], dtype)
    y, y_gpu = C.conv2d(x, w, b, **kwargs), C.conv2d(x_gpu, w_gpu, b_gpu, **kwargs)
    assert_same(y_gpu, y, dtype)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(tg.tensor(g))
    y_gpu.backward(tg.tensor(g, device="cuda"))
    for gpu, cpu in ((x_gpu, x), (w_gpu, w), (b_gpu, b)):
        assert_same(gpu.grad, cpu.grad, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, stride=1, dilation=2, ceil_mode=True)])
def test_max_pool2d_on_the_gpu_equals_the_cpu(dtype, kwargs):
    x, x_gpu = both((3, 4, 9, 8), dtype)
    (y, i), (y_gpu, i_gpu) = (P.max_pool2d(t, return_indices=True, **kwargs) for t in (x, x_gpu))
    assert_same(y_gpu, y, dtype)
    np.testing.assert_array_equal(i_gpu.cpu().numpy(), i.numpy())
    assert i_gpu.dtype == tg.int64
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(tg.tensor(g))
    y_gpu.backward(tg.tensor(g, device="cuda"))
    assert_same(x_gpu.grad, x.grad, dtype)


@needs_real_gpu
def test_cuda_tensors_go_through_the_numba_kernels(monkeypatch):
    from tapegrad.kernels.cuda import conv, maxpool
    calls = []
    for module, name in ((conv, "forward"), (conv, "input_grad"), (conv, "weight_grad"),
                         (conv, "backward"), (maxpool, "max_pool"), (maxpool, "max_unpool_add")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name, **k: (
            calls.append(_n), _f(*a, **k))[1])
    x = tg.randn(2, 3, 6, 6, device="cuda", requires_grad=True)
    w = tg.randn(4, 3, 3, 3, device="cuda", requires_grad=True)
    P.max_pool2d(C.conv2d(x, w, padding=1), 2).sum().backward()
    # both gradients asked for: one backward that reads dL/dy once for the two
    assert sorted(set(calls)) == ["backward", "forward", "max_pool", "max_unpool_add"]
    calls.clear()
    C.conv2d(x, w.detach(), padding=1).sum().backward()
    C.conv2d(x.detach(), w, padding=1).sum().backward()
    assert sorted(set(calls)) == ["forward", "input_grad", "weight_grad"]


@needs_real_gpu
def test_the_kernels_run_on_cupys_current_stream():
    cupy = backend_cuda.array_module(0)
    x, x_gpu = both((8, 16, 20, 20), "float32")
    w, w_gpu = both((16, 16, 3, 3), "float32")
    expected = C.conv2d(x, w, padding=1)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        y_gpu = P.max_pool2d(C.conv2d(x_gpu, w_gpu, padding=1), 2)
        y_gpu.sum().backward()
    stream.synchronize()
    assert_same(y_gpu, P.max_pool2d(expected, 2), "float32")
    expected_grad = tg.autograd.grad(P.max_pool2d(C.conv2d(x, w, padding=1), 2).sum(), [x])[0]
    assert_same(x_gpu.grad, expected_grad, "float32")


@needs_real_gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_implicit_gemm_kernel_agrees_with_im2col_and_cublas(dtype, monkeypatch):
    from tapegrad import kernels
    from tapegrad.kernels import cuda as gpu_kernels
    from tapegrad.kernels.geometry import Window
    xp, cupy = tg.device("cuda").xp, backend_cuda.array_module(0)
    x = cupy.asarray(rng.standard_normal((4, 32, 14, 14)).astype(dtype))
    w = cupy.asarray(rng.standard_normal((48, 16, 3, 3)).astype(dtype))
    window = Window((14, 14), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 2)
    results = {}
    for algorithm in ("im2col", "implicit_gemm"):
        monkeypatch.setattr(gpu_kernels, "ALGORITHM", algorithm)
        y = gpu_kernels.conv_forward(xp, x, w, None, window)
        g = cupy.ones_like(y)
        results[algorithm] = [a.get() for a in (y, gpu_kernels.conv_input_grad(xp, g, w, window),
                                                gpu_kernels.conv_weight_grad(xp, x, g, window))]
    tolerance = dict(rtol=1e-3, atol=1e-3) if dtype == "float32" else dict(rtol=1e-10, atol=1e-9)
    for a, b in zip(results["im2col"], results["implicit_gemm"]):
        np.testing.assert_allclose(b, a, **tolerance)
    cpu = kernels.conv_forward(tg.device("cpu").xp, x.get(), w.get(), None, window)
    np.testing.assert_allclose(results["im2col"][0], cpu, **tolerance)


# -- layers ----------------------------------------------------------------------------------------
def test_conv2d_layer_moves_to_the_gpu_and_computes_the_same():
    tg.manual_seed(0)
    layer = Conv2d(3, 8, 3, stride=2, padding=1, dtype=tg.float64)
    gpu_layer = copy.deepcopy(layer).to("cuda")
    assert gpu_layer.weight.device.type == "cuda" and gpu_layer.bias.device.type == "cuda"
    x, x_gpu = both((2, 3, 9, 9), "float64")
    y, y_gpu = layer(x), gpu_layer(x_gpu)
    assert_same(y_gpu, y, "float64")
    (y * y).sum().backward()
    (y_gpu * y_gpu).sum().backward()
    assert_same(gpu_layer.weight.grad, layer.weight.grad, "float64")
    assert_same(gpu_layer.bias.grad, layer.bias.grad, "float64")
    assert_same(x_gpu.grad, x.grad, "float64")


def test_max_pool_layer_on_the_gpu():
    x, x_gpu = both((2, 3, 8, 8), "float64")
    y, i = MaxPool2d(3, stride=2, padding=1, return_indices=True)(x_gpu)
    y_cpu, i_cpu = MaxPool2d(3, stride=2, padding=1, return_indices=True)(x)
    assert_same(y, y_cpu, "float64")
    np.testing.assert_array_equal(i.cpu().numpy(), i_cpu.numpy())


def small_cnn():
    return tg.nn.Sequential(
        Conv2d(3, 6, 3, padding=1, dtype=tg.float64), tg.nn.ReLU(), MaxPool2d(2),
        Conv2d(6, 8, 3, groups=2, dtype=tg.float64), tg.nn.ReLU(), MaxPool2d(2),
        tg.nn.Flatten(), tg.nn.Linear(8, 4, dtype=tg.float64))


def test_training_steps_of_a_small_cnn_on_the_gpu_match_the_cpu():
    tg.manual_seed(1)
    model = small_cnn()
    gpu_model = copy.deepcopy(model).to("cuda")
    optimizers = [tg.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (model, gpu_model)]
    x = rng.standard_normal((8, 3, 10, 10))
    labels = rng.integers(0, 4, 8)
    losses = {"cpu": [], "cuda": []}
    for _ in range(3):
        for device, m, optimizer in (("cpu", model, optimizers[0]),
                                     ("cuda", gpu_model, optimizers[1])):
            optimizer.zero_grad()
            loss = tg.nn.functional.cross_entropy(m(tg.tensor(x, device=device)),
                                                  tg.tensor(labels, device=device))
            loss.backward()
            optimizer.step()
            losses[device].append(loss.item())
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-10)
    assert losses["cpu"][-1] < losses["cpu"][0]
    for (name, p), p_gpu in zip(model.named_parameters(), gpu_model.parameters()):
        assert p_gpu.device.type == "cuda", name
        assert_same(p_gpu, p, "float64")
