"""Batch norm's kernels and relu (forward and backward), serial and split between numba's
threads.

Each kernel runs whole on one thread or split into ranges (of channels, of images, of
elements) run on numba's threads, from ``threads.PARALLEL_MIN_ELEMENTS`` elements on.
Here the split is forced on small shapes (``threads.chunks`` replaced), and both forms are
checked against the plain numpy formulas, with chunk counts that do not divide the
channels, the images or the elements (and more chunks than channels); gradcheck runs
through the split kernels.
"""
import numpy as np
import pytest

import tapegrad
import tapegrad.nn.functional as F
from tapegrad import kernels
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.backend.device import HOST as xp  # numpy's backend namespace
from tapegrad.kernels import fused
from tapegrad.kernels.cpu import normalization, threads

CHUNKS = [1, 2, 3, 8]   # 1: the serial kernel; 8: more chunks than the 5 channels


@pytest.fixture
def split(monkeypatch, request):
    """Every array goes to the kernels split into ``request.param`` chunks; records the
    split kernels called."""
    chunks = request.param
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(threads, "chunks", lambda size: chunks)
    called = []
    for module, name in [(normalization, "channel_statistics_split"),
                         (normalization, "scale_and_shift_split"),
                         (normalization, "batch_norm_backward_split"),
                         (kernels, "_relu_gradient_split"),
                         (kernels, "_relu_split")]:
        original = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *args, _f=original, _n=name: called.append(_n) or _f(*args))
    return chunks, called


def expect_split(split, *names):
    chunks, called = split
    assert sorted(set(called)) == (sorted(names) if chunks > 1 else [])


def batch(dtype, shape=(3, 5, 7), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2 + 1).astype(dtype), rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("split", CHUNKS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_statistics_are_the_mean_and_biased_variance_per_channel(split, dtype):
    x, _ = batch(dtype)
    mean, var = fused.batch_norm_statistics(xp, x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2)), rtol=1e-5)
    assert mean.dtype == var.dtype == np.float64   # (a number per channel, kept in float64)
    expect_split(split, "channel_statistics_split")


@pytest.mark.parametrize("split", CHUNKS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_and_shift_is_x_times_scale_plus_shift_per_channel(split, dtype):
    x, _ = batch(dtype, shape=(5, 4, 6))   # 5 images: no chunk count here divides them
    scale, shift = np.linspace(-1, 2, 4).astype(dtype), np.linspace(3, 1, 4).astype(dtype)
    y = fused.scale_and_shift(xp, x, scale, shift)
    np.testing.assert_allclose(y, x * scale[:, None] + shift[:, None], rtol=1e-6)
    assert y.dtype == dtype
    expect_split(split, "scale_and_shift_split")


@pytest.mark.parametrize("split", CHUNKS, indirect=True)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_backward_is_the_written_out_gradient(split, training):
    x, g = batch(np.float64)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    rstd = 1 / np.sqrt(var + 1e-5)
    weight = np.linspace(0.5, 1.5, 5)
    dx, dw, db = fused.batch_norm_backward(xp, g, x, mean, rstd, weight, training)
    xhat = (x - mean[:, None]) * rstd[:, None]
    count = x.shape[0] * x.shape[2]
    want_dw, want_db = (g * xhat).sum(axis=(0, 2)), g.sum(axis=(0, 2))
    k = (rstd * weight)[:, None]
    want_dx = (k * (g - want_db[:, None] / count - xhat * want_dw[:, None] / count)
               if training else k * g)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, want_db, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-12)
    expect_split(split, "batch_norm_backward_split")


@pytest.mark.parametrize("split", CHUNKS, indirect=True)
def test_relu_gradient_passes_the_gradient_where_the_output_is_positive_or_nan(split):
    g, y = batch(np.float32, shape=(1001,))   # 1001 elements: no chunk count divides them
    g[:3] = [np.inf, -np.inf, 1.0]
    y[:3] = [0.0, -1.0, np.nan]
    got = kernels.relu_gradient(xp, g, y)
    want = np.where(~(y <= 0), g, np.float32(0))
    np.testing.assert_array_equal(got, want)
    assert got[0] == got[1] == 0 and got[2] == 1   # 0 where y <= 0 even for infinite g
    expect_split(split, "_relu_gradient_split")


@pytest.mark.parametrize("split", CHUNKS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_numpys_maximum_with_zero_keeping_minus_zero_and_nan(split, dtype):
    x, _ = batch(dtype, shape=(7, 11, 13))   # 1001 elements: no chunk count divides them
    x.reshape(-1)[:5] = [-0.0, 0.0, np.nan, -np.inf, np.inf]
    y = kernels.relu(xp, x)
    np.testing.assert_array_equal(y, np.maximum(0, x))
    assert y.dtype == dtype and y.shape == x.shape
    assert np.signbit(y.reshape(-1)[0]) and not np.signbit(y.reshape(-1)[1])
    expect_split(split, "_relu_split")


@pytest.mark.parametrize("split", [2], indirect=True)
def test_relu_of_other_arrays_is_numpys_maximum_unsplit(split):
    x = np.arange(-6, 6, dtype=np.float32).reshape(3, 4).T   # not C-contiguous
    np.testing.assert_array_equal(kernels.relu(xp, x), np.maximum(0, x))
    ints = np.arange(-3, 3)
    np.testing.assert_array_equal(kernels.relu(xp, ints), np.maximum(0, ints))
    assert kernels.relu(xp, ints).dtype == ints.dtype
    half = np.array([-0.0, -1.0, 2.0], np.float16)
    assert np.signbit(kernels.relu(xp, half)[0])
    assert split[1] == []


@pytest.mark.parametrize("split", [2, 3], indirect=True)
def test_gradcheck_through_the_split_batch_norm_and_relu(split):
    rng = np.random.default_rng(3)
    x = tapegrad.tensor(rng.standard_normal((4, 3, 5)), requires_grad=True)
    weight = tapegrad.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    bias = tapegrad.tensor(rng.standard_normal(3), requires_grad=True)

    def fn(x, w, b):
        return F.relu(F.batch_norm(x, None, None, w, b, training=True))

    assert gradcheck(fn, (x, weight, bias))
    assert gradgradcheck(fn, (x, weight, bias))
    assert {"batch_norm_backward_split", "_relu_gradient_split", "_relu_split"} <= set(split[1])
