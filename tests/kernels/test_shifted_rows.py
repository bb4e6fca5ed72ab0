"""The forward convolution on row-shifted copies (tapegrad/kernels/cpu/shifted_rows.py).

Its values are checked against the definition (a loop over the taps on an explicitly
padded image) for every "same" geometry it takes (odd and even kernels, asymmetric
padding, 1×1), both float dtypes, bias or none, non-contiguous inputs; the convolutions
it must leave to im2col are listed; and the conv2d operation is gradchecked with it in
the forward pass (its thresholds lowered so that small inputs take it).
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import convolution as C
from tapegrad.kernels.cpu import batch_split, conv, shifted_rows, winograd
from tapegrad.kernels.geometry import Window

from ..support import Case, leaf, noncontiguous
from .test_cpu_kernels import conv_direct

xp = tg.from_numpy(np.zeros(1)).device.xp
rng = np.random.default_rng(11)

SAME = [Window((6, 7), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        Window((5, 6), (3, 2), (1, 1), (1, 1), (2, 0, 1, 0)),   # asymmetric, even width
        Window((6, 5), (5, 3), (1, 1), (1, 1), (2, 2, 1, 1)),
        Window((4, 4), (1, 1), (1, 1), (1, 1), (0, 0, 0, 0))]


def window_id(window):
    return "k{}x{}-pad{}".format(*window.kernel, "".join(map(str, window.padding)))


@pytest.fixture
def any_size(monkeypatch):
    """Every channel count and image size qualifies (the tests' inputs are small)."""
    monkeypatch.setattr(shifted_rows, "MIN_CHANNELS", 1)
    monkeypatch.setattr(shifted_rows, "MIN_POSITIONS", 1)


@pytest.mark.parametrize("window", SAME, ids=window_id)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_matches_the_definition(window, dtype, with_bias, any_size):
    x = rng.standard_normal((3, 4) + window.in_size).astype(dtype)
    w = rng.standard_normal((5, 4) + window.kernel).astype(dtype)
    b = rng.standard_normal(5).astype(dtype) if with_bias else None
    assert shifted_rows.suits(xp, x, window, 4, 5)
    y = shifted_rows.forward(xp, x, w, b, window)
    expected = conv_direct(x.astype(np.float64), w.astype(np.float64), window)
    if with_bias:
        expected += b.astype(np.float64)[:, None, None]
    assert y.dtype == dtype and y.shape == expected.shape and y.flags.c_contiguous
    np.testing.assert_allclose(y, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_forward_reads_non_contiguous_inputs(any_size):
    window = SAME[0]
    x = rng.standard_normal((7, 6, 4, 2)).transpose(3, 2, 1, 0)   # (2, 4, 6, 7), strided
    w = rng.standard_normal((3, 3, 4, 5)).transpose(3, 2, 1, 0)   # (5, 4, 3, 3), strided
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    np.testing.assert_allclose(shifted_rows.forward(xp, x, w, None, window),
                               conv_direct(x, w, window), atol=1e-12)


def test_the_padding_stays_zero_from_one_call_to_the_next(any_size):
    """The padded buffer is reused: a second input must not see the first one's values
    where the padding is."""
    window = SAME[1]
    w = rng.standard_normal((2, 3) + window.kernel)
    for scale in (1e3, 1.0):
        x = scale * rng.standard_normal((2, 3) + window.in_size)
        np.testing.assert_allclose(shifted_rows.forward(xp, x, w, None, window),
                                   conv_direct(x, w, window), atol=1e-9 * scale)


def test_images_of_another_size_with_the_same_padded_shape_see_zeros_around_them(any_size):
    """A 5-row image with a 3-row kernel and a 4-row image with a 4-row kernel pad to the
    same buffer shape; the second must not read the first one's last row as padding."""
    first = Window((5, 6), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    second = Window((4, 6), (4, 3), (1, 1), (1, 1), (1, 2, 1, 1))
    for window in (first, second):
        x = rng.standard_normal((2, 3) + window.in_size) + 10
        w = rng.standard_normal((2, 3) + window.kernel)
        np.testing.assert_allclose(shifted_rows.forward(xp, x, w, None, window),
                                   conv_direct(x, w, window), atol=1e-10)


@pytest.mark.parametrize("window,channels,dtype", [
    (Window((16, 16), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)), 16, np.float32),   # stride 2
    (Window((16, 16), (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)), 16, np.float32),   # dilation 2
    (Window((16, 16), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), groups=2), 16, np.float32),
    (Window((16, 16), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)), 16, np.float32),   # "valid"
    (Window((16, 16), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)), 8, np.float32),    # few channels
    (Window((8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)), 16, np.float32),     # small image
    (Window((16, 16), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)), 16, np.float16),
], ids=["stride", "dilation", "groups", "valid", "channels", "image", "float16"])
def test_convolutions_it_does_not_take_stay_with_im2col(window, channels, dtype):
    x = np.zeros((1, channels) + window.in_size, dtype)
    assert not shifted_rows.suits(xp, x, window, channels, channels)


def test_the_convolution_driver_uses_it_where_each_product_runs_on_one_thread(monkeypatch):
    """On one thread, or with the batch shared between threads (batch_split.py); not where
    each product runs on all of OpenBLAS's threads. (Winograd, which takes such 3×3
    convolutions first, switched off.)"""
    monkeypatch.setattr(winograd, "PASSES", dict.fromkeys(winograd.PASSES, False))
    window = Window((16, 16), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    x = rng.standard_normal((2, 16, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    calls = []
    original = shifted_rows.forward
    monkeypatch.setattr(shifted_rows, "forward", lambda *a: calls.append(a[-1]) or original(*a))
    monkeypatch.setattr(conv, "threaded", lambda: False)
    y = conv.forward(xp, x, w, None, window)
    assert calls == [1]
    np.testing.assert_allclose(y, conv_direct(x, w, window), rtol=1e-4, atol=1e-4)
    monkeypatch.setattr(conv, "threaded", lambda: True)
    monkeypatch.setattr(batch_split, "concurrent_parts", lambda xp, x, multiply_adds: 2)
    y = conv.forward(xp, x, w, None, window)
    assert calls == [1, 2]
    np.testing.assert_allclose(y, conv_direct(x, w, window), rtol=1e-4, atol=1e-4)
    monkeypatch.setattr(batch_split, "concurrent_parts", lambda xp, x, multiply_adds: 1)
    conv.forward(xp, x, w, None, window)
    assert calls == [1, 2]


@pytest.mark.parametrize("case", [
    Case("conv2d", lambda x, w, b: C.conv2d(x, w, b, padding=1),
         [leaf(2, 2, 4, 5), leaf(3, 2, 3, 3), leaf(3)], name="3x3 same"),
    Case("conv2d", lambda x, w: C.conv2d(x, w, padding="same"),
         [noncontiguous(2, 2, 5, 4), leaf(2, 2, 2, 3)], name="even kernel, non-contiguous"),
], ids=repr)
def test_conv2d_gradcheck_with_the_forward_on_shifted_rows(case, any_size, monkeypatch):
    monkeypatch.setattr(conv, "threaded", lambda: False)
    case.check()
