"""Pooling and resampling (tapegrad/autograd/ops/pooling.py): max/avg pooling in 1-d and
2-d, adaptive average pooling, interpolate.

Values are checked against direct loop implementations written here from PyTorch's
definitions (window bounds, divisors, the adaptive start/end formula, the source-index
formulas of interpolation), gradients and second derivatives against finite
differences for every option, and PyTorch's tie and NaN rules for max pooling.
"""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.ops import pooling as P

from ..support import Case, leaf, noncontiguous

rng = np.random.default_rng(11)


def arr(t):
    return t.detach().numpy()


def data(*shape):
    return rng.standard_normal(shape)


# -- direct implementations ------------------------------------------------------------------------
def out_size(n, k, s, p, d, ceil_mode):
    size = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (size - 1) * s >= n + p:
        size -= 1
    return size


def max_pool_direct(x, k, s, p, d, ceil_mode):
    """(values, flat indices); the first maximum of a window wins."""
    n, c, h, w = x.shape
    ho, wo = (out_size(h, k[0], s[0], p[0], d[0], ceil_mode),
              out_size(w, k[1], s[1], p[1], d[1], ceil_mode))
    values, indices = np.zeros((n, c, ho, wo)), np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for r in range(ho):
                for q in range(wo):
                    best, where = -np.inf, None
                    for i in range(k[0]):
                        for j in range(k[1]):
                            row, col = r * s[0] - p[0] + i * d[0], q * s[1] - p[1] + j * d[1]
                            inside = 0 <= row < h and 0 <= col < w
                            if inside and (where is None or x[a, b, row, col] > best):
                                best, where = x[a, b, row, col], row * w + col
                    values[a, b, r, q], indices[a, b, r, q] = best, where
    return values, indices


def avg_pool_direct(x, k, s, p, ceil_mode, count_include_pad, divisor_override=None):
    n, c, h, w = x.shape
    ho = out_size(h, k[0], s[0], p[0], 1, ceil_mode)
    wo = out_size(w, k[1], s[1], p[1], 1, ceil_mode)
    y = np.zeros((n, c, ho, wo))
    for r in range(ho):
        for q in range(wo):
            h0, w0 = r * s[0] - p[0], q * s[1] - p[1]
            h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3))
            divisor = divisor_override or (size if count_include_pad else (h1 - h0) * (w1 - w0))
            y[:, :, r, q] = total / divisor
    return y


def adaptive_direct(x, out):
    n, c, h, w = x.shape
    y = np.zeros((n, c) + out)
    for r in range(out[0]):
        for q in range(out[1]):
            h0, h1 = (r * h) // out[0], math.ceil((r + 1) * h / out[0])
            w0, w1 = (q * w) // out[1], math.ceil((q + 1) * w / out[1])
            y[:, :, r, q] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def bilinear_direct(x, out, align_corners):
    """Each output mixes the 4 inputs around its source point (PyTorch's formula)."""
    n, c, h, w = x.shape

    def source(o, size, out_n):
        if align_corners:
            return o * (size - 1) / (out_n - 1) if out_n > 1 else 0.0
        return max((o + 0.5) * size / out_n - 0.5, 0.0)
    y = np.zeros((n, c) + out)
    for r in range(out[0]):
        for q in range(out[1]):
            sr, sq = source(r, h, out[0]), source(q, w, out[1])
            r0, q0 = int(sr), int(sq)
            r1, q1 = min(r0 + 1, h - 1), min(q0 + 1, w - 1)
            a, b = sr - r0, sq - q0
            y[:, :, r, q] = ((1 - a) * (1 - b) * x[:, :, r0, q0] + (1 - a) * b * x[:, :, r0, q1]
                             + a * (1 - b) * x[:, :, r1, q0] + a * b * x[:, :, r1, q1])
    return y


# -- gradient checks -------------------------------------------------------------------------------
CASES = [
    Case("max_pool2d", lambda x: P.max_pool2d(x, 2), [leaf(2, 2, 4, 4)], name="2x2"),
    Case("max_pool2d", lambda x: P.max_pool2d(x, (2, 3), stride=1, padding=1),
         [leaf(2, 2, 4, 5)], name="overlapping padded"),
    Case("max_pool2d", lambda x: P.max_pool2d(x, 3, stride=2, dilation=(1, 2), ceil_mode=True),
         [leaf(2, 2, 6, 7)], name="dilation ceil_mode"),
    Case("max_pool2d", lambda x: P.max_pool2d(x, 2, return_indices=True)[0],
         [noncontiguous(3, 4, 4)], name="unbatched non-contiguous, return_indices"),
    Case("max_pool2d", lambda x: P.max_pool2d(x, 2), [leaf(2, 2, 5, 7)],
         name="2x2, an odd last row and column left out"),
    Case("max_pool1d", lambda x: P.max_pool1d(x, 3, stride=2, padding=1), [leaf(2, 3, 7)],
         name="padded"),
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, 2), [leaf(2, 2, 4, 4)], name="2x2"),
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
         [leaf(2, 2, 6, 5)], name="padded ceil_mode"),
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                              count_include_pad=False),
         [leaf(2, 2, 6, 5)], name="count_include_pad False"),
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, (2, 3), stride=(1, 2), divisor_override=4),
         [leaf(2, 2, 5, 5)], name="divisor_override"),
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, 2), [noncontiguous(2, 4, 4)],
         name="unbatched non-contiguous"),
    # windows that tile the image (stride = kernel, no padding): the backward is a broadcast
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, (2, 3)), [leaf(2, 2, 5, 7)],
         name="disjoint windows, a remainder row and column"),
    Case("avg_pool2d", lambda x: P.avg_pool2d(x, (3, 4)), [noncontiguous(2, 3, 4)],
         name="global, non-contiguous"),
    Case("avg_pool1d", lambda x: P.avg_pool1d(x, 2), [leaf(2, 3, 7)],
         name="disjoint windows, a remainder"),
    Case("avg_pool1d", lambda x: P.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False),
         [leaf(2, 3, 7)], name="padded"),
    Case("adaptive_avg_pool2d", lambda x: P.adaptive_avg_pool2d(x, (3, 2)), [leaf(2, 2, 7, 5)],
         name="sizes that don't divide"),
    Case("adaptive_avg_pool2d", lambda x: P.adaptive_avg_pool2d(x, 2), [leaf(2, 2, 4, 6)],
         name="sizes that divide"),
    Case("adaptive_avg_pool2d", lambda x: P.adaptive_avg_pool2d(x, 1), [leaf(2, 3, 3, 3)],
         name="global"),
    Case("adaptive_avg_pool2d", lambda x: P.adaptive_avg_pool2d(x, (None, 4)),
         [leaf(2, 5, 6)], name="unbatched, None keeps a size, upsampling"),
    Case("adaptive_avg_pool1d", lambda x: P.adaptive_avg_pool1d(x, 3), [leaf(2, 2, 7)],
         name="7 to 3"),
    Case("interpolate", lambda x: P.interpolate(x, size=(5, 7)), [leaf(2, 2, 3, 4)],
         name="nearest up"),
    Case("interpolate", lambda x: P.interpolate(x, scale_factor=0.6), [leaf(2, 2, 5, 5)],
         name="nearest down (scale_factor)"),
    Case("interpolate", lambda x: P.interpolate(x, size=(4, 6), mode="nearest-exact"),
         [leaf(2, 2, 3, 4)], name="nearest-exact"),
    Case("interpolate", lambda x: P.interpolate(x, size=(5, 7), mode="bilinear"),
         [leaf(2, 2, 3, 4)], name="bilinear"),
    Case("interpolate", lambda x: P.interpolate(x, size=(5, 3), mode="bilinear",
                                                align_corners=True),
         [leaf(2, 2, 3, 4)], name="bilinear align_corners"),
    Case("interpolate", lambda x: P.interpolate(x, scale_factor=1.5, mode="linear"),
         [leaf(2, 2, 4)], name="linear"),
    Case("interpolate", lambda x: P.interpolate(x, size=(2, 3), mode="area"),
         [leaf(2, 2, 5, 4)], name="area"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- values against the direct implementations -----------------------------------------------------
@pytest.mark.parametrize("k,s,p,d,ceil_mode", [
    ((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((2, 3), (1, 2), (1, 1), (2, 1), False), ((3, 2), (3, 1), (1, 0), (1, 2), True)])
def test_max_pool2d_values_and_indices_match_the_definition(k, s, p, d, ceil_mode):
    x = data(2, 3, 7, 6)
    y, idx = P.max_pool2d(tg.tensor(x), k, s, p, d, ceil_mode, return_indices=True)
    values, indices = max_pool_direct(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(arr(y), values)
    np.testing.assert_array_equal(arr(idx), indices)
    assert idx.dtype == tg.int64


def test_max_pool_without_grad_gives_the_same_values():
    x = data(2, 3, 7, 6)
    with tg.no_grad():
        fast = P.max_pool2d(tg.tensor(x), 3, 2, 1, ceil_mode=True)
    expected, _ = max_pool_direct(x, (3, 3), (2, 2), (1, 1), (1, 1), True)
    np.testing.assert_array_equal(arr(fast), expected)


def test_max_pool_ties_go_to_the_first_maximum_and_nan_wins():
    x = tg.tensor([[[[1.0, 3.0, 3.0, 2.0]]]], requires_grad=True)
    y, idx = P.max_pool2d(x, (1, 4), return_indices=True)
    assert idx.tolist() == [[[[1]]]]
    y.sum().backward()
    assert x.grad.tolist() == [[[[0.0, 1.0, 0.0, 0.0]]]]
    nan = float("nan")
    y, idx = P.max_pool2d(tg.tensor([[[[1.0, nan, 3.0, nan]]]]), (1, 4), return_indices=True)
    assert math.isnan(y.item()) and idx.tolist() == [[[[3]]]]   # the last NaN, as PyTorch


def test_overlapping_windows_add_their_gradients_at_a_shared_maximum():
    x = tg.tensor([[[[0.0, 5.0, 1.0]]]], requires_grad=True)
    P.max_pool2d(x, (1, 2), stride=1).sum().backward()
    assert x.grad.tolist() == [[[[0.0, 2.0, 0.0]]]]


def test_max_pool1d_is_max_pool2d_on_height_one():
    x = data(2, 3, 9)
    y, idx = P.max_pool1d(tg.tensor(x), 3, 2, 1, return_indices=True)
    values, indices = max_pool_direct(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 1), False)
    np.testing.assert_array_equal(arr(y), values[:, :, 0])
    np.testing.assert_array_equal(arr(idx), indices[:, :, 0])


@pytest.mark.parametrize("k,s,p,ceil_mode,count_include_pad,divisor_override", [
    ((2, 2), (2, 2), (0, 0), False, True, None), ((3, 3), (2, 2), (1, 1), True, True, None),
    ((3, 3), (2, 2), (1, 1), True, False, None), ((2, 3), (1, 2), (1, 1), False, False, None),
    ((3, 2), (2, 1), (1, 0), True, True, 5)])
def test_avg_pool2d_matches_the_definition(k, s, p, ceil_mode, count_include_pad, divisor_override):
    x = data(2, 3, 7, 6)
    y = P.avg_pool2d(tg.tensor(x), k, s, p, ceil_mode, count_include_pad, divisor_override)
    np.testing.assert_allclose(arr(y), avg_pool_direct(x, k, s, p, ceil_mode, count_include_pad,
                                                       divisor_override), atol=1e-12)


@pytest.mark.parametrize("out", [(1, 1), (2, 3), (3, 2), (5, 4), (7, 6), (9, 8)])
def test_adaptive_avg_pool2d_uses_the_start_end_formula(out):
    x = data(2, 3, 7, 6)
    np.testing.assert_allclose(arr(P.adaptive_avg_pool2d(tg.tensor(x), out)),
                               adaptive_direct(x, out), atol=1e-12)


@pytest.mark.parametrize("size,align_corners", [((5, 9), False), ((5, 9), True), ((2, 3), False),
                                                ((2, 3), True), ((1, 1), True), ((7, 6), False)])
def test_bilinear_interpolation_matches_the_definition(size, align_corners):
    x = data(2, 3, 7, 6)
    y = P.interpolate(tg.tensor(x), size=size, mode="bilinear", align_corners=align_corners)
    np.testing.assert_allclose(arr(y), bilinear_direct(x, size, align_corners), atol=1e-12)


def test_linear_interpolation_copies_an_axis_whose_size_does_not_change():
    # scale_factor 1.19 keeps 5 points at 5: PyTorch copies them, whatever the scale
    x = tg.arange(5.0).reshape(1, 1, 5)
    assert P.interpolate(x, scale_factor=1.19, mode="linear").tolist() == [[[0, 1, 2, 3, 4]]]
    # the copy is x·1 + x·0 as in PyTorch's kernel: an inf in a kept row gives inf + 0·inf
    inf, nan = float("inf"), float("nan")
    y = P.interpolate(tg.tensor([[[[-1.0, 0.0], [0.0, inf]]]]), size=(2, 3), mode="bilinear",
                      align_corners=True)
    np.testing.assert_array_equal(arr(y), [[[[-1.0, -0.5, 0.0], [nan, nan, nan]]]])


def test_nearest_interpolation_copies_the_input_at_floor_of_o_times_scale():
    x = data(1, 2, 3, 4)
    y = P.interpolate(tg.tensor(x), size=(6, 6))
    rows, cols = [o * 3 // 6 for o in range(6)], [math.floor(o * 4 / 6) for o in range(6)]
    np.testing.assert_array_equal(arr(y), x[:, :, rows][:, :, :, cols])
    y = P.interpolate(tg.tensor(x), scale_factor=2)
    np.testing.assert_array_equal(arr(y), x.repeat(2, axis=2).repeat(2, axis=3))


def test_nearest_upsampling_gradient_sums_each_block():
    x = tg.ones(1, 1, 2, 2, requires_grad=True)
    P.interpolate(x, scale_factor=3).sum().backward()
    assert x.grad.tolist() == [[[[9.0, 9.0], [9.0, 9.0]]]]


def test_adaptive_avg_pool_of_inf_averages_only_its_window():
    # windows [0, 1), [0, 2), [1, 2): a window that ends before the inf does not see it
    inf = float("inf")
    y = tg.nn.functional.adaptive_avg_pool1d(tg.tensor([[[0.5, -inf]]]), 3)
    assert y.tolist() == [[[0.5, -inf, -inf]]]
    y = tg.nn.functional.adaptive_avg_pool1d(tg.tensor([[[-inf, 0.5]]]), 3)
    assert y.tolist() == [[[-inf, -inf, 0.5]]]


def test_adaptive_avg_pool_of_an_inf_gradient_sends_it_only_to_its_window():
    # windows [0, 1), [0, 2), [1, 2): output 0's infinite gradient reaches x[0] with weight 1;
    # the tap of weight 0 that pads its window to two adds 0, not 0·inf = NaN
    x = tg.tensor([[[0.5, 2.0]]], requires_grad=True)
    y = tg.nn.functional.adaptive_avg_pool1d(x, 3)
    y.backward(tg.tensor([[[float("inf"), 0.0, 1.0]]]))
    assert x.grad.tolist() == [[[float("inf"), 1.0]]]


def test_avg_pool_of_float16_sums_its_windows_without_overflow():
    # 36000 + 36000 overflows float16, the mean 24000 (padding counted) does not
    x = tg.tensor([[[36000.0, 36000.0]]], dtype=tg.float16)
    y = tg.nn.functional.avg_pool1d(x, 3, stride=2, padding=1)
    assert y.dtype is tg.float16 and y.tolist()[0][0][0] == 24000.0


def test_area_interpolation_is_adaptive_average_pooling():
    x = data(2, 3, 7, 6)
    np.testing.assert_allclose(arr(P.interpolate(tg.tensor(x), size=(3, 4), mode="area")),
                               adaptive_direct(x, (3, 4)), atol=1e-12)


def test_pooling_keeps_float32():
    x = tg.randn(2, 3, 8, 8, requires_grad=True)
    for y in (P.max_pool2d(x, 2), P.avg_pool2d(x, 2), P.adaptive_avg_pool2d(x, 3),
              P.interpolate(x, size=(5, 5), mode="bilinear")):
        assert y.dtype == tg.float32
        y.sum().backward()
        assert x.grad.dtype == tg.float32


# -- errors ----------------------------------------------------------------------------------------
def test_pooling_errors_name_the_values():
    with pytest.raises(RuntimeError, match=r"pad should be at most half of effective kernel size"):
        P.max_pool2d(tg.randn(1, 3, 5, 5), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"\(1, 3, 1, 1\).*output size \(0, 0\) is too small"):
        P.max_pool2d(tg.randn(1, 3, 1, 1), 2)
    with pytest.raises(RuntimeError, match=r"3-d \(unbatched\) or 4-d.*\(5, 5\)"):
        P.avg_pool2d(tg.randn(5, 5), 2)
    with pytest.raises(RuntimeError, match="divisor_override must be non-zero"):
        P.avg_pool2d(tg.randn(1, 3, 5, 5), 2, divisor_override=0)
    with pytest.raises(RuntimeError, match="floating point"):
        P.avg_pool2d(tg.ones(1, 1, 4, 4, dtype=tg.int32), 2)


def test_max_pool_of_integers_works_as_in_pytorch():
    y = P.max_pool2d(tg.arange(16).reshape(1, 1, 4, 4), 2)
    assert y.dtype == tg.int64 and y.tolist() == [[[[5, 7], [13, 15]]]]


def test_interpolate_errors():
    x = tg.randn(1, 3, 5, 5)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        P.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        P.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        P.interpolate(x, size=3, align_corners=True)
    with pytest.raises(NotImplementedError, match=r"bilinear mode needs a 4-d input"):
        P.interpolate(tg.randn(1, 3, 5), size=3, mode="bilinear")
    with pytest.raises(NotImplementedError, match="mode 'bicubic' is not supported"):
        P.interpolate(x, size=3, mode="bicubic")


def test_an_empty_batch_pools_to_an_empty_result():
    x = tg.randn(0, 3, 6, 6, requires_grad=True)
    for y in (P.max_pool2d(x, 2), P.avg_pool2d(x, 2), P.adaptive_avg_pool2d(x, 4),
              P.interpolate(x, scale_factor=2, mode="bilinear")):
        assert y.shape[0] == 0
        y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 6, 6)


@pytest.mark.parametrize("pool, shape", [(F.max_pool1d, (1, 1, 1)), (F.max_pool2d, (1, 1, 1, 1))])
def test_a_window_of_padding_alone_is_minus_infinity_and_takes_no_gradient(pool, shape):
    # Kernel 2 dilated by 2 over a padded image of one value: both taps land on padding.
    # (Its position used to be read and written out of bounds.)
    x = tg.zeros(*shape, requires_grad=True)
    values, indices = pool(x, 2, padding=1, dilation=2, return_indices=True)
    assert values.flatten().tolist() == [float("-inf")] and indices.flatten().tolist() == [-1]
    values.clamp(min=-1).sum().backward()
    assert x.grad.flatten().tolist() == [0.0]


def test_the_array_scatter_of_max_pooling_sends_index_minus_one_nowhere():
    from tapegrad.backend import CPU
    from tapegrad.kernels.generic import scatter_add_last
    out = np.zeros((1, 2, 3), np.float32)
    scatter_add_last(CPU.xp, out, np.array([[[-1, 2]], [[0, -1]]]).reshape(1, 2, 2),
                     np.ones((1, 2, 2), np.float32))
    assert out.tolist() == [[[0, 0, 1], [1, 0, 0]]]


_FLOAT16_CASES = {
    "max_pool2d": lambda lib, x: lib.nn.functional.max_pool2d(x, 2, stride=1),
    "max_pool1d": lambda lib, x: lib.nn.functional.max_pool1d(x.flatten(2), 3),
    "avg_pool2d": lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, stride=2, padding=1),
    "avg_pool1d": lambda lib, x: lib.nn.functional.avg_pool1d(x.flatten(2), 4),
    "adaptive_avg_pool2d": lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 3),
    "adaptive_avg_pool1d": lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x.flatten(2), 7),
    "interpolate": lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=1.5,
                                                                mode="bilinear"),
    "pad": lambda lib, x: lib.nn.functional.pad(x, (2, 1, 1, 2), mode="reflect"),
}


@pytest.mark.parametrize("name", sorted(_FLOAT16_CASES))
def test_float16_pooling_is_computed_in_float32_and_rounded_once_as_in_pytorch(name):
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float16)
    results = []
    for lib in (tg, torch):
        x = lib.tensor(values, requires_grad=True)
        y = _FLOAT16_CASES[name](lib, x)
        (y * y).sum().backward()
        assert y.dtype == lib.float16 and x.grad.dtype == lib.float16
        results.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=2e-3, atol=2e-3)


def test_int64_average_pooling_divides_each_window_sum_rounding_toward_zero():
    # PyTorch's integer average: (-7 + 2) / 2 = -2.5 gives -2
    x = tg.tensor([[[-7, 2, 5, 4, 3, -3]]])
    assert F.avg_pool1d(x, 2).tolist() == [[[-2, 4, 0]]]
    assert F.avg_pool1d(x, 4, 2, padding=1).tolist() == [[[0, 3, 1]]]
    assert F.avg_pool1d(x, 3, ceil_mode=True).tolist() == [[[0, 1]]]
    y = F.avg_pool2d(tg.tensor([[[[-7, 2], [0, 0]]]]), 2)
    assert y.dtype is tg.int64 and y.tolist() == [[[[-1]]]]
    with pytest.raises(RuntimeError, match="avg_pool1d: expected a floating point input"):
        F.avg_pool1d(x.int(), 2)   # int32: no kernel in PyTorch either


def test_int64_average_pooling_sums_in_int64_wrapping_past_its_limits_as_pytorch():
    # Window sums are int64 sums (mod 2⁶⁴, as PyTorch's), not float64 ones rounded back:
    # -2⁶³ - 2⁶³ - 8013 - 8013 wraps to -16026, and (-2⁶³ - 8013) wraps to 2⁶³ - 8013.
    low = -2**63
    x = tg.tensor([[[[low, low, low], [-8013, -8013, -8013]]]])
    y = F.avg_pool2d(x, 2, ceil_mode=True)
    assert y.dtype is tg.int64 and y.tolist() == [[[[-4006, (2**63 - 8013) // 2]]]]
    assert F.avg_pool1d(tg.tensor([[[low, -1, 2**53 + 1, 2]]]), 2).tolist() == \
        [[[2**62 - 1, 2**52 + 1]]]   # (-2⁶³ - 1) wraps to 2⁶³ - 1; 2⁵³ + 3 is exact in int64
    assert F.avg_pool2d(tg.tensor([[[[7, -7], [2, 3]]]]), 2, divisor_override=-2).tolist() == \
        [[[[-2]]]]   # 5 / -2 = -2.5 rounds toward zero


def test_adaptive_average_of_unequal_windows_sums_then_divides_as_pytorch():
    # Windows [0, 2) and [1, 3) of the largest float32s: their sums overflow to inf in
    # PyTorch (sum, then / 2); weights 1/2 per tap would have kept them finite
    big = float(np.finfo(np.float32).max)
    x = tg.tensor([[[big, big, -big], [1.0, 2.0, 3.0]]])
    assert F.adaptive_avg_pool1d(x, 2).tolist() == [[[float("inf"), 0.0], [1.5, 2.5]]]
    y = F.adaptive_avg_pool2d(tg.tensor([[[[big, big, -big]]]]), (1, 2))
    assert y.tolist() == [[[[float("inf"), 0.0]]]]
    # (the gradients of unequal windows: CASES' gradchecks of 7 → 3 and (7, 5) → (3, 2))


def test_adaptive_average_of_an_empty_spatial_dim_is_refused_by_name():
    # (PyTorch's shortcut for output_size 1, a mean, gives NaN; its kernel refuses the rest)
    assert F.adaptive_avg_pool1d(tg.zeros(0, 2, 3), 1).shape == (0, 2, 1)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d: cannot pool an input of shape "
                                           r"\(4, 3, 0, 3\)"):
        F.adaptive_avg_pool2d(tg.zeros(4, 3, 0, 3), 3)


def test_nearest_interpolation_copies_uint8_images_and_linear_refuses_them_by_name():
    u = tg.arange(12, dtype=tg.uint8).reshape(1, 1, 3, 4)
    y = F.interpolate(u, size=(3, 8))
    assert y.dtype is tg.uint8 and y[0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    with pytest.raises(RuntimeError, match="interpolate: bilinear interpolation of uint8"):
        F.interpolate(u, scale_factor=2, mode="bilinear")


def test_interpolating_an_empty_spatial_dim_to_a_non_empty_one_is_refused_by_name():
    with pytest.raises(RuntimeError, match=r"interpolate: cannot resample an empty spatial dim "
                                           r"to a non-empty one: input of shape \(4, 3, 3, 0\)"):
        F.interpolate(tg.zeros(4, 3, 3, 0), size=2)
    assert F.interpolate(tg.zeros(0, 2, 2), size=3, mode="linear").shape == (0, 2, 3)


def test_average_pooling_of_windows_of_padding_alone_is_refused_by_name():
    with pytest.raises(RuntimeError, match="avg_pool2d: a window over the input of shape "
                                           r"\(4, 2, 0\) holds only padding"):
        F.avg_pool2d(tg.zeros(4, 2, 0), 2, padding=1, count_include_pad=False)


def test_an_integer_window_of_padding_alone_is_the_dtypes_lowest_value():
    # (for floats it is -inf, as in PyTorch; the kernels' -inf has no integer value)
    for x in (tg.tensor([[-5], [-5], [-5]]), tg.tensor([[-5]]).expand(3, 1)):
        values, indices = F.max_pool1d(x, 2, padding=1, dilation=2, ceil_mode=True,
                                       return_indices=True)
        assert values.tolist() == [[-2 ** 63]] * 3 and indices.tolist() == [[-1]] * 3


def test_interpolating_more_than_three_spatial_dims_is_refused_by_name():
    with pytest.raises(NotImplementedError, match=r"interpolate: only 3-d, 4-d and 5-d inputs"
                                                  r".*6-d input of shape \(1, 1, 2, 2, 2, 2\)"):
        P.interpolate(tg.zeros(1, 1, 2, 2, 2, 2), size=(3, 3, 3, 3))
