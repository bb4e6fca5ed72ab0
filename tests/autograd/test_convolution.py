"""Convolution, transposed convolution, unfold/fold and pad
(tapegrad/autograd/ops/convolution.py).

Each operation is checked against a direct implementation written here with loops
(the definition, not im2col), its gradient and second derivative against finite
differences for every option (stride, padding as int/tuple/"same"/"valid", dilation,
groups, bias, output_padding, unbatched inputs), its dtype (float32 stays float32), and
its errors, which name the shapes involved.
"""
import itertools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import convolution as C

from ..support import Case, constant, leaf, noncontiguous

rng = np.random.default_rng(7)


# -- direct implementations (loops over output positions) ------------------------------------------
def conv2d_direct(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_padded[n, g·cg + c, p·sh + i·dh,
    q·sw + j·dw], with g the group of o."""
    n, channels, h, wd = x.shape
    out_ch, cg, kh, kw = w.shape
    top, bottom, left, right = pads
    xp = np.zeros((n, channels, h + top + bottom, wd + left + right))
    xp[:, :, top:top + h, left:left + wd] = x
    (sh, sw), (dh, dw) = stride, dilation
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    og = out_ch // groups
    y = np.zeros((n, out_ch, ho, wo))
    for o in range(out_ch):
        g = o // og
        for p in range(ho):
            for q in range(wo):
                patch = xp[:, g * cg:(g + 1) * cg, p * sh:p * sh + dh * (kh - 1) + 1:dh,
                           q * sw:q * sw + dw * (kw - 1) + 1:dw]
                y[:, o, p, q] = (patch * w[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_transpose2d_direct(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                            groups=1, dilation=(1, 1)):
    """Each x[n, c, h, v] adds x·w[c, o, i, j] at (h·s - p + i·d, v·s - p + j·d) of output o."""
    n, in_ch, h, wd = x.shape
    _, og, kh, kw = w.shape
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    cg = in_ch // groups
    y = np.zeros((n, og * groups, ho, wo))
    for c in range(in_ch):
        g = c // cg
        for r in range(h):
            for v in range(wd):
                for i in range(kh):
                    for j in range(kw):
                        p, q = r * sh - ph + i * dh, v * sw - pw + j * dw
                        if 0 <= p < ho and 0 <= q < wo:
                            y[:, g * og:(g + 1) * og, p, q] += x[:, c, r, v, None] * w[c, :, i, j]
    if b is not None:
        y += b[None, :, None, None]
    return y


def unfold_direct(x, k, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    ho = (xp.shape[2] - dilation[0] * (k[0] - 1) - 1) // stride[0] + 1
    wo = (xp.shape[3] - dilation[1] * (k[1] - 1) - 1) // stride[1] + 1
    out = np.zeros((n, c, k[0], k[1], ho, wo))
    for p in range(ho):
        for q in range(wo):
            for i in range(k[0]):
                for j in range(k[1]):
                    out[:, :, i, j, p, q] = xp[:, :, p * stride[0] + i * dilation[0],
                                               q * stride[1] + j * dilation[1]]
    return out.reshape(n, c * k[0] * k[1], ho * wo)


def arr(t):
    return t.detach().numpy()


def data(*shape):
    return rng.standard_normal(shape)


# -- gradient checks -------------------------------------------------------------------------------
def conv2d_case(name, xs, ws, bias=True, **kw):
    inputs = [leaf(*xs), leaf(*ws)] + ([leaf(ws[0])] if bias else [])
    return Case("conv2d", lambda x, w, *b: C.conv2d(x, w, *b, **kw), inputs, name=name)


CASES = [
    conv2d_case("plain", (2, 2, 5, 5), (3, 2, 3, 3)),
    conv2d_case("no bias", (2, 2, 5, 5), (3, 2, 3, 3), bias=False),
    conv2d_case("stride 2", (2, 2, 6, 5), (3, 2, 3, 3), stride=2),
    conv2d_case("stride (2, 1)", (2, 2, 5, 5), (2, 2, 2, 3), stride=(2, 1)),
    conv2d_case("padding 1", (2, 2, 4, 5), (3, 2, 3, 3), padding=1),
    conv2d_case("padding (1, 2)", (2, 2, 4, 4), (2, 2, 3, 2), padding=(1, 2)),
    conv2d_case("padding same, even kernel", (2, 2, 5, 4), (2, 2, 2, 4), padding="same"),
    conv2d_case("padding same, dilation 2", (2, 2, 5, 5), (2, 2, 3, 3), padding="same",
                dilation=2),
    conv2d_case("padding valid", (2, 2, 5, 5), (2, 2, 3, 3), padding="valid"),
    conv2d_case("dilation (2, 1)", (2, 2, 6, 5), (2, 2, 2, 3), dilation=(2, 1), padding=1),
    conv2d_case("groups 2", (2, 4, 5, 5), (4, 2, 3, 3), groups=2, padding=1),
    conv2d_case("depthwise", (2, 3, 5, 5), (3, 1, 3, 3), groups=3, stride=2, padding=1),
    conv2d_case("1x1", (2, 3, 4, 4), (2, 3, 1, 1)),
    conv2d_case("unbatched", (2, 5, 5), (3, 2, 3, 3), padding=1),
    Case("conv2d", lambda x, w: C.conv2d(x, w, padding=1),
         [noncontiguous(2, 2, 5, 4), leaf(2, 2, 3, 3)], name="non-contiguous input"),
    Case("conv2d", lambda x, w: C.conv2d(x, w, stride=2), [constant(2, 2, 5, 5), leaf(2, 2, 3, 3)],
         name="only the weight needs a gradient"),
    Case("conv1d", lambda x, w, b: C.conv1d(x, w, b, padding=1),
         [leaf(2, 2, 6), leaf(3, 2, 3), leaf(3)], name="padding 1"),
    Case("conv1d", lambda x, w: C.conv1d(x, w, stride=2, dilation=2, groups=2),
         [leaf(2, 4, 9), leaf(2, 2, 2)], name="stride dilation groups"),
    Case("conv1d", lambda x, w: C.conv1d(x, w, padding="same"), [leaf(2, 2, 5), leaf(2, 2, 4)],
         name="same"),
    Case("conv1d", lambda x, w: C.conv1d(x, w), [leaf(2, 6), leaf(3, 2, 3)], name="unbatched"),
    Case("conv_transpose2d", lambda x, w, b: C.conv_transpose2d(x, w, b),
         [leaf(2, 2, 3, 3), leaf(2, 3, 3, 3), leaf(3)], name="plain"),
    Case("conv_transpose2d", lambda x, w: C.conv_transpose2d(x, w, stride=2, padding=1,
                                                             output_padding=1),
         [leaf(2, 2, 3, 3), leaf(2, 2, 3, 3)], name="stride 2 output_padding 1"),
    Case("conv_transpose2d", lambda x, w: C.conv_transpose2d(x, w, stride=(2, 1), groups=2,
                                                             dilation=(1, 2)),
         [leaf(2, 4, 3, 3), leaf(4, 1, 2, 2)], name="groups dilation"),
    Case("conv_transpose2d", lambda x, w, b: C.conv_transpose2d(x, w, b, output_padding=1,
                                                                dilation=2),
         [leaf(2, 2, 3, 3), leaf(2, 2, 2, 2), leaf(2)],
         name="output_padding beyond padding + stride - 1"),
    Case("conv_transpose2d", lambda x, w: C.conv_transpose2d(x, w, padding=1),
         [leaf(2, 3, 3), leaf(2, 2, 3, 3)], name="unbatched"),
    Case("conv_transpose1d", lambda x, w, b: C.conv_transpose1d(x, w, b, stride=2,
                                                                output_padding=1),
         [leaf(2, 2, 4), leaf(2, 3, 3), leaf(3)], name="stride 2"),
    Case("unfold", lambda x: C.unfold(x, 2), [leaf(2, 2, 4, 4)], name="kernel 2"),
    Case("unfold", lambda x: C.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
         [leaf(2, 2, 5, 5)], name="every option"),
    Case("unfold", lambda x: C.unfold(x, 2, stride=2), [noncontiguous(2, 4, 4)],
         name="unbatched non-contiguous"),
    Case("fold", lambda c: C.fold(c, (4, 5), 2), [leaf(2, 8, 12)], name="kernel 2"),
    Case("fold", lambda c: C.fold(c, (5, 4), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
         [leaf(2, 12, 10)], name="every option"),
    Case("fold", lambda c: C.fold(c, 4, 2, stride=2), [leaf(4, 4)], name="unbatched"),
    Case("pad", lambda x: C.pad(x, (1, 2)), [leaf(2, 3, 4)], name="constant last dim"),
    Case("pad", lambda x: C.pad(x, (1, 0, -1, 2), value=3.0), [leaf(2, 3, 4)],
         name="constant negative crops"),
    Case("pad", lambda x: C.pad(x, (1, 2, 2, 1), mode="reflect"), [leaf(2, 2, 4, 4)],
         name="reflect"),
    Case("pad", lambda x: C.pad(x, (2, 1, 0, 3), mode="replicate"), [leaf(2, 2, 3, 3)],
         name="replicate"),
    Case("pad", lambda x: C.pad(x, (2, 3), mode="circular"), [leaf(2, 2, 4)], name="circular"),
    Case("pad", lambda x: C.pad(x, (1, 1), mode="reflect"), [noncontiguous(3, 4)],
         name="reflect non-contiguous"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- values against the direct implementations -----------------------------------------------------
@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), ((2, 1), (1, 2), (1, 2), 1), (1, "same", 2, 2), (1, "valid", 1, 4),
    (3, 2, 2, 2)])
def test_conv2d_matches_the_definition(stride, padding, dilation, groups):
    x, w, b = data(2, 4, 8, 7), data(4, 4 // groups, 3, 2), data(4)
    st = stride if isinstance(stride, tuple) else (stride, stride)
    dl = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip((3, 2), dl)]
        pads = tuple(v for total in totals for v in (total // 2, total - total // 2))
    elif padding == "valid":
        pads = (0, 0, 0, 0)
    else:
        p = padding if isinstance(padding, tuple) else (padding, padding)
        pads = (p[0], p[0], p[1], p[1])
    y = C.conv2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(arr(y), conv2d_direct(x, w, b, st, pads, dl, groups), atol=1e-12)


def test_same_padding_puts_the_odd_extra_row_on_the_bottom_and_right():
    x, w = data(1, 1, 5, 5), data(1, 1, 2, 2)
    y = C.conv2d(tg.tensor(x), tg.tensor(w), padding="same")
    assert tuple(y.shape) == (1, 1, 5, 5)
    np.testing.assert_allclose(arr(y), conv2d_direct(x, w, pads=(0, 1, 0, 1)), atol=1e-12)


def test_conv1d_is_conv2d_on_images_of_height_one():
    x, w, b = data(2, 3, 9), data(4, 3, 3), data(4)
    y = C.conv1d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride=2, padding=1, dilation=2)
    expected = conv2d_direct(x[:, :, None], w[:, :, None], b, (1, 2), (0, 0, 1, 1), (1, 2))[:, :, 0]
    np.testing.assert_allclose(arr(y), expected, atol=1e-12)


@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), ((2, 3), (0, 1), (1, 2), 2, 1), (1, 0, 1, 1, 2),
    (2, 2, 0, 2, (2, 1))])
def test_conv_transpose2d_matches_the_definition(stride, padding, output_padding, groups,
                                                 dilation):
    def pair(v):
        return v if isinstance(v, tuple) else (v, v)
    x, w, b = data(2, 4, 4, 3), data(4, 6 // groups, 3, 2), data(6)
    y = C.conv_transpose2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride, padding,
                           output_padding, groups, dilation)
    expected = conv_transpose2d_direct(x, w, b, pair(stride), pair(padding), pair(output_padding),
                                       groups, pair(dilation))
    np.testing.assert_allclose(arr(y), expected, atol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for the same stride, padding, dilation
    x, w, y = data(2, 3, 7, 6), data(4, 3, 3, 3), data(2, 4, 4, 3)
    conv = C.conv2d(tg.tensor(x), tg.tensor(w), stride=2, padding=1)
    back = C.conv_transpose2d(tg.tensor(y), tg.tensor(w), stride=2, padding=1,
                              output_padding=(0, 1))
    assert tuple(back.shape) == x.shape
    assert np.isclose((arr(conv) * y).sum(), (x * arr(back)).sum())


def test_unfold_lists_every_window_as_a_column_and_fold_adds_them_back():
    x = data(2, 3, 6, 5)
    cols = C.unfold(tg.tensor(x), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    np.testing.assert_allclose(arr(cols), unfold_direct(x, (2, 3), (1, 2), (1, 1), (2, 1)))
    y = data(*cols.shape)
    back = C.fold(tg.tensor(y), (6, 5), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    assert np.isclose((arr(cols) * y).sum(), (x * arr(back)).sum())   # fold = unfoldᵀ


def test_fold_of_unfold_counts_how_many_windows_cover_each_position():
    ones = tg.ones(1, 1, 4, 4, dtype=tg.float64)
    counts = C.fold(C.unfold(ones, 2), (4, 4), 2)
    np.testing.assert_array_equal(arr(counts)[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                                      [1, 2, 2, 1]])


@pytest.mark.parametrize("mode,numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                             ("circular", "wrap")])
def test_pad_modes_match_numpy_pad(mode, numpy_mode):
    x = data(2, 3, 4, 5)
    y = C.pad(tg.tensor(x), (1, 2, 3, 0), mode=mode)
    np.testing.assert_array_equal(arr(y), np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)),
                                                 mode=numpy_mode))


def test_constant_pad_fills_with_the_value_and_negative_widths_crop():
    x = data(2, 3, 4)
    y = C.pad(tg.tensor(x), (2, -1, -1, 1), value=7.0)
    expected = np.full((2, 3, 5), 7.0)
    expected[:, :2, 2:] = x[:, 1:, :3]
    np.testing.assert_array_equal(arr(y), expected)


def test_constant_pad_takes_a_one_element_tensor_value_and_refuses_a_larger_one():
    x = tg.ones(2, 3)
    assert C.pad(x, (1, 0), value=tg.tensor([[5.0]])).tolist() == [[5.0, 1, 1, 1]] * 2
    with pytest.raises(RuntimeError, match=r"pad: value must be a number or a one-element "
                                           r"tensor, got a tensor of shape \(1, 3\)"):
        C.pad(x, (1, 1), value=tg.ones(1, 3))


def test_constant_pad_with_a_value_that_requires_grad_gives_it_a_gradient():
    from tapegrad.autograd.gradcheck import gradcheck
    x = tg.tensor(data(2, 3), dtype=tg.float64, requires_grad=True)
    value = tg.tensor(-0.5, dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda x, v: C.pad(x, (1, -1, 0, 1), value=v), (x, value))
    C.pad(x, (1, 0), value=value).sum().backward()
    assert value.grad.item() == 2.0   # one padded column of two rows


def test_circular_pad_with_a_negative_width_wraps_around_what_is_left():
    # PyTorch's rule: crop first, then wrap the cropped signal
    y = C.pad(tg.arange(6.0).reshape(1, 1, 6), (-1, 2), mode="circular")
    assert arr(y).tolist() == [[[1, 2, 3, 4, 5, 1, 2]]]


# -- dtypes and layouts ----------------------------------------------------------------------------
def test_float32_stays_float32_through_forward_and_backward():
    x = tg.randn(2, 3, 6, 6, requires_grad=True)
    w = tg.randn(4, 3, 3, 3, requires_grad=True)
    b = tg.randn(4, requires_grad=True)
    y = C.conv2d(x, w, b, padding=1)
    y.sum().backward()
    assert y.dtype == tg.float32 and x.grad.dtype == tg.float32 and w.grad.dtype == tg.float32
    t = C.conv_transpose2d(x, w.transpose(0, 1), stride=2)
    assert t.dtype == tg.float32


def test_float16_convolution_and_its_gradients_stay_float16_and_agree_with_float32():
    x = tg.randn(2, 3, 6, 6).half().requires_grad_()
    w = tg.randn(4, 3, 3, 3).half().requires_grad_()
    y = C.conv2d(x, w, padding=1)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == tg.float16
    x32, w32 = x.detach().float().requires_grad_(), w.detach().float().requires_grad_()
    y32 = C.conv2d(x32, w32, padding=1)
    y32.sum().backward()
    for half, single in ((y, y32), (x.grad, x32.grad), (w.grad, w32.grad)):
        np.testing.assert_allclose(arr(half.detach().float()), arr(single.detach()), atol=0.05,
                                   rtol=1e-2)


def test_integer_convolution_computes_in_integers():
    x = tg.arange(16).reshape(1, 1, 4, 4)
    y = C.conv2d(x, tg.ones(1, 1, 2, 2, dtype=tg.int64))
    assert y.dtype == tg.int64
    assert arr(y)[0, 0].tolist() == [[10, 14, 18], [26, 30, 34], [42, 46, 50]]


def test_results_are_fresh_arrays_not_the_reused_workspaces():
    x, w = tg.randn(2, 3, 8, 8), tg.randn(4, 3, 3, 3)
    first = C.conv2d(x, w, padding=1)
    kept = arr(first).copy()
    second = C.conv2d(x * 2, w, padding=1)
    assert not np.shares_memory(first.array, second.array)
    np.testing.assert_array_equal(arr(first), kept)


def test_two_convolutions_of_the_same_shape_in_one_graph_get_their_own_gradients():
    # both forwards fill the same column workspace before either backward runs
    x1, x2, w = leaf(2, 2, 5, 5), leaf(2, 2, 5, 5), leaf(3, 2, 3, 3)
    y = C.conv2d(x1, w, padding=1) * 2 + C.conv2d(x2, w, padding=1)
    gy = data(*y.shape)
    y.backward(tg.tensor(gy))
    # dL/dw[o, k] = Σ_{n, l} gy[n, o, l] · columns[n, k, l], for each convolution
    expected = sum(scale * np.einsum("nol,nkl->ok", gy.reshape(2, 3, 25),
                                     unfold_direct(arr(x), (3, 3), padding=(1, 1)))
                   for scale, x in ((2, x1), (1, x2)))
    np.testing.assert_allclose(arr(w.grad), expected.reshape(3, 2, 3, 3), atol=1e-10)


def test_an_in_place_change_of_the_input_before_backward_is_caught():
    x, w = leaf(1, 1, 4, 4), leaf(1, 1, 2, 2)
    base = x * 1
    y = C.conv2d(base, w)
    base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# -- errors ----------------------------------------------------------------------------------------
def test_a_channel_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"weight of shape \(2, 4, 3, 3\).*input of shape "
                                           r"\(1, 3, 5, 5\).*4 channels"):
        C.conv2d(tg.randn(1, 3, 5, 5), tg.randn(2, 4, 3, 3))


def test_a_kernel_larger_than_the_padded_input_is_an_error():
    with pytest.raises(RuntimeError, match=r"padded input size per channel \(2 x 2\).*kernel "
                                           r"size \(3 x 3\)"):
        C.conv2d(tg.randn(1, 3, 2, 2), tg.randn(2, 3, 3, 3))


def test_wrong_input_rank_is_an_error():
    with pytest.raises(RuntimeError, match=r"3-d \(unbatched\) or 4-d.*\(1, 1, 3, 5, 5\)"):
        C.conv2d(tg.randn(1, 1, 3, 5, 5), tg.randn(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"4-d weight.*\(2, 3, 3\)"):
        C.conv2d(tg.randn(1, 3, 5, 5), tg.randn(2, 3, 3))


def test_same_padding_with_a_stride_is_an_error():
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        C.conv2d(tg.randn(1, 3, 5, 5), tg.randn(2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="invalid padding string 'full'"):
        C.conv2d(tg.randn(1, 3, 5, 5), tg.randn(2, 3, 3, 3), padding="full")


@pytest.mark.parametrize("kwargs,message", [
    ({"stride": 0}, "non-positive stride"), ({"padding": -1}, "negative padding"),
    ({"dilation": 0}, "dilation should be greater than zero"),
    ({"groups": 0}, "non-positive groups"),
    ({"groups": 2}, "divisible by groups=2")])
def test_bad_geometry_is_an_error(kwargs, message):
    with pytest.raises(RuntimeError, match=message):
        C.conv2d(tg.randn(1, 3, 5, 5), tg.randn(3, 3, 3, 3), **kwargs)


def test_mixed_dtypes_and_bad_bias_are_errors():
    with pytest.raises(RuntimeError, match=r"input \(tapegrad.float64\), weight "
                                           r"\(tapegrad.float32\).*same dtype"):
        C.conv2d(tg.randn(1, 3, 5, 5, dtype=tg.float64), tg.randn(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"bias of shape \(2,\).*got a bias of shape \(3,\)"):
        C.conv2d(tg.randn(1, 3, 5, 5), tg.randn(2, 3, 3, 3), tg.randn(3))
    with pytest.raises(TypeError, match="weight must be a Tensor"):
        C.conv2d(tg.randn(1, 3, 5, 5), np.ones((2, 3, 3, 3)))


def test_conv_transpose_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"input of shape \(1, 3, 5, 5\) to have 2 channels.*"
                                           r"\(2, 4, 3, 3\)"):
        C.conv_transpose2d(tg.randn(1, 3, 5, 5), tg.randn(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride "
                                           "or dilation"):
        C.conv_transpose2d(tg.randn(1, 3, 5, 5), tg.randn(3, 4, 3, 3), stride=2, output_padding=2)


def test_fold_checks_the_number_of_blocks_and_channels():
    with pytest.raises(RuntimeError, match=r"\(1, 7, 9\).*divisible by the product of "
                                           r"kernel_size \(2, 2\) = 4"):
        C.fold(tg.randn(1, 7, 9), (4, 4), 2)
    with pytest.raises(RuntimeError, match=r"number of sliding blocks 3 \* 3 = 9"):
        C.fold(tg.randn(1, 8, 8), (4, 4), 2)


def test_pad_errors():
    with pytest.raises(ValueError, match="even length"):
        C.pad(tg.randn(1, 3, 5, 5), (1, 2, 3))
    with pytest.raises(ValueError, match=r"should be less than the size 5 .*reflect"):
        C.pad(tg.randn(3, 5, 5), (5, 5), mode="reflect")
    with pytest.raises(NotImplementedError, match="needs a 2-d or 3-d input"):
        C.pad(tg.randn(1, 2, 5, 5), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="unknown padding mode 'wrap'"):
        C.pad(tg.randn(1, 2, 5, 5), (1, 1), mode="wrap")
    with pytest.raises(RuntimeError, match=r"input size 5 of dimension 3, plus negative padding"):
        C.pad(tg.randn(1, 2, 5, 5), (-3, -3))


def test_every_combination_of_small_options_agrees_with_the_definition():
    # a sweep, cheap because it checks values only
    for (sh, sw), (ph, pw), d, g in itertools.product([(1, 1), (2, 1), (1, 3)], [(0, 0), (1, 2)],
                                                      [1, 2], [1, 2]):
        x, w = data(2, 2, 6, 7), data(2, 2 // g, 2, 3)
        y = C.conv2d(tg.tensor(x), tg.tensor(w), None, (sh, sw), (ph, pw), d, g)
        np.testing.assert_allclose(arr(y), conv2d_direct(x, w, None, (sh, sw), (ph, ph, pw, pw),
                                                         (d, d), g), atol=1e-12)


def test_an_empty_batch_gives_empty_results_and_zero_weight_gradients():
    x, w = tg.randn(0, 3, 5, 5, requires_grad=True), tg.randn(4, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w, padding=1)
    assert tuple(y.shape) == (0, 4, 5, 5)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5) and not arr(w.grad).any()
    assert tuple(C.conv_transpose2d(x, w.transpose(0, 1), stride=2).shape) == (0, 4, 11, 11)



def test_a_bool_convolution_is_refused_unless_the_input_is_empty():
    # as PyTorch: an empty input gives an empty bool result (nothing is computed in bool)
    empty, weight = tg.zeros((0, 2, 3), dtype=tg.bool), tg.ones((4, 2, 1), dtype=tg.bool)
    for y, shape in ((C.conv1d(empty, weight), (0, 4, 3)),
                     (C.conv2d(empty.unsqueeze(-1), weight.unsqueeze(-1)), (0, 4, 3, 1)),
                     (C.conv_transpose1d(empty, weight.transpose(0, 1)), (0, 4, 3)),
                     # empty signals too: the output's size 0 comes from the formula
                     (C.conv_transpose2d(tg.zeros((0, 4, 1, 0), dtype=tg.bool),
                                         tg.ones((4, 4, 2, 1), dtype=tg.bool)), (0, 4, 2, 0))):
        assert tuple(y.shape) == shape and y.dtype == tg.bool
    with pytest.raises(RuntimeError, match="conv1d: expected numeric tensors, but input has "
                                           "dtype tapegrad.bool"):
        C.conv1d(tg.ones((1, 2, 3), dtype=tg.bool), weight)


def test_a_transposed_convolution_whose_padding_crops_every_row_gives_an_empty_output():
    # (2 - 1)·1 - 2·1 + 0 + 1 = 0 rows, as PyTorch; every gradient is 0 (an inf weight too)
    x = tg.randn(4, 2, 2, 3, requires_grad=True)
    w = tg.tensor(np.array([-1.5, -np.inf, 1.0, 2.0], np.float32).reshape(2, 2, 1, 1),
                  requires_grad=True)
    b = tg.ones(2, requires_grad=True)
    y = C.conv_transpose2d(x, w, b, padding=1)
    assert tuple(y.shape) == (4, 2, 0, 1) and y.dtype == tg.float32
    y.sum().backward()
    assert not arr(x.grad).any() and not arr(w.grad).any() and not arr(b.grad).any()
    assert tuple(C.conv_transpose1d(x[:, :, 0, :2], w[..., 0], padding=1).shape) == (4, 2, 0)
    with pytest.raises(RuntimeError, match=r"conv_transpose1d: the output size -1 is too small"):
        C.conv_transpose1d(x[:, :, 0, :1], w[..., 0], padding=1)
    # an input of no positions (but a batch and channels) is refused, as by conv1d
    with pytest.raises(RuntimeError, match=r"conv_transpose1d: an input with an empty spatial "
                                           r"dimension .* got input shape \(1, 2, 0\)"):
        C.conv_transpose1d(tg.zeros((1, 2, 0)), w[..., 0], stride=2)
    assert tuple(C.conv_transpose1d(tg.zeros((0, 2, 0)), w[..., 0]).shape) == (0, 2, 0)


def test_a_transposed_convolution_of_no_empty_signals_has_the_formulas_output_size():
    # (0 - 1)·s - 2p + d·(k - 1) + output_padding + 1 positions for a batch of none, as
    # PyTorch: length 0 and a kernel of 2 give 1 (no window to convolve over is needed)
    x, w = tg.zeros((0, 4, 0), requires_grad=True), tg.randn(4, 3, 2, requires_grad=True)
    y = C.conv_transpose1d(x, w, tg.ones(3))
    assert tuple(y.shape) == (0, 3, 1)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 4, 0) and not arr(w.grad).any()
    assert tuple(C.conv_transpose1d(x, w, dilation=3).shape) == (0, 3, 3)
    assert tuple(C.conv_transpose1d(x, w, stride=2, output_padding=1).shape) == (0, 3, 1)
    w2 = tg.randn(4, 3, 2, 2)
    assert tuple(C.conv_transpose2d(tg.zeros((0, 4, 0, 3)), w2).shape) == (0, 3, 1, 4)
    assert tuple(C.conv_transpose2d(tg.zeros((0, 4, 0, 0)), w2).shape) == (0, 3, 1, 1)
    with pytest.raises(RuntimeError, match=r"conv_transpose1d: the output size -1 is too small"):
        C.conv_transpose1d(x, w, padding=1)

_FLOAT16_CONVS = {
    "conv2d": lambda F, x, w, b: F.conv2d(x, w, b, padding=1),
    "conv1d": lambda F, x, w, b: F.conv1d(x.flatten(2), w.flatten(2), b, stride=2),
    "conv_transpose2d": lambda F, x, w, b: F.conv_transpose2d(x, w, b, stride=2),
    "conv_transpose1d": lambda F, x, w, b: F.conv_transpose1d(x.flatten(2), w.flatten(2), b),
    "unfold": lambda F, x, w, b: F.unfold(x, 2, stride=2) * 1.5,
    "fold": lambda F, x, w, b: F.fold(x.reshape(2, 3, 25), (5, 7), (1, 3)),
}


@pytest.mark.parametrize("name", sorted(_FLOAT16_CONVS))
def test_float16_convolution_is_computed_in_float32_and_rounded_once_as_in_pytorch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float16) for s in ((2, 3, 5, 5), (3, 3, 2, 2), (3,)))
    results = []
    for lib in (tg, torch):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = _FLOAT16_CONVS[name](lib.nn.functional, *tensors)
        (y * y).sum().backward()
        assert y.dtype == lib.float16
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in tensors
                                                if t.grad is not None])
    assert len(results[0]) == len(results[1])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=5e-3, atol=5e-2)


def test_an_empty_sequence_or_image_is_refused_unless_the_batch_or_channels_are_empty():
    import tapegrad as tg
    with pytest.raises(RuntimeError, match=r"conv1d: an input with an empty spatial dimension .* "
                                           r"\(4, 4, 0\)"):
        tg.conv1d(tg.ones(4, 4, 0), tg.ones(4, 4, 1), padding=1)
    with pytest.raises(RuntimeError, match="conv2d: an input with an empty spatial"):
        tg.conv2d(tg.ones(1, 1, 0, 3), tg.ones(1, 1, 1, 1), padding=1)
    assert tuple(tg.conv1d(tg.ones(0, 4, 3), tg.ones(4, 4, 1)).shape) == (0, 4, 3)


def test_constant_pad_refuses_negative_widths_that_crop_more_than_the_dim_holds():
    import tapegrad as tg
    with pytest.raises(RuntimeError, match=r"pad: the input size 1 of dimension 0, plus negative "
                                           r"padding -2 and 1, is negative"):
        tg.nn.functional.pad(tg.ones(1, 2), (0, 0, -2, 1))
    assert tuple(tg.nn.functional.pad(tg.ones(3), (-3, 1)).shape) == (1,)


def test_pad_refuses_a_value_the_dtype_cannot_hold_even_minus_one_for_uint8():
    # as in PyTorch, whose pad (unlike fill_) lets no negative number wrap into uint8
    small = tg.tensor([1, 2], dtype=tg.uint8)
    for value in (1e30, -1, 256, tg.tensor(300)):
        with pytest.raises(RuntimeError, match=r"pad: value cannot be converted to type uint8"):
            tg.nn.functional.pad(small, (1, 1), value=value)
    assert tg.nn.functional.pad(small, (1, 1), value=255).tolist() == [255, 1, 2, 255]
    # a pad that only crops (or does nothing) never uses the value, and PyTorch leaves it
    assert tg.nn.functional.pad(small, (-1, 0), value=1e30).tolist() == [2]
    assert tg.nn.functional.pad(small, (0, 0), value=-1).tolist() == [1, 2]
    with pytest.raises(RuntimeError, match=r"pad: .* float16"):
        tg.nn.functional.pad(tg.zeros(1, dtype=tg.float16), (1, 0), value=1e30)
