"""Winograd's F(2×2, 3×3) convolution (tapegrad/kernels/cpu/winograd.py), tested directly.

* its forward, input gradient and weight gradient equal im2col + GEMM's (float64, to
  rounding) for every padding from 0 to 2, odd and even output sizes, whether a chunk is
  several images, one, or a few rows of tiles of one, and with the batch shared between
  threads;
* in float32 its error stays inside the bound its docstring states, γ_{C+12}·ỹ (γ_{T+12}
  for the weight gradient), ỹ the algorithm run on absolute values, and ỹ stays within
  16·Σ|g|·max|x| per output;
* through the conv op with Winograd switched on, gradcheck and gradgradcheck pass, and in
  float32 its outputs and gradients agree with PyTorch's conv2d over drawn shapes, chunks
  and shares of the batch;
* where a pass meets an infinity or a NaN, or overflows, conv.py's result is im2col's, with
  its ±inf and NaN where PyTorch has them;
* it is chosen only for the shapes it handles, by default from 16 channels on where
  OpenBLAS runs its AVX-512 kernels, from 64 with its AVX2 kernels or another BLAS.
"""
import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck
from tapegrad.kernels.cpu import batch_split, conv, winograd
from tapegrad.kernels.geometry import Window

xp = tg.device("cpu").xp   # the cpu backend's namespace, what the kernels get

rng = np.random.default_rng(7)

WINDOWS = [Window((8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
           Window((7, 9), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
           Window((5, 6), (3, 3), (1, 1), (1, 1), (2, 2, 2, 2)),
           Window((6, 5), (3, 3), (1, 1), (1, 1), (0, 1, 2, 1)),
           Window((3, 3), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0))]


def operands(window, channels=3, out_channels=4, batch=2, dtype=np.float64):
    x = rng.normal(size=(batch, channels) + window.in_size).astype(dtype)
    w = rng.normal(size=(out_channels, channels, 3, 3)).astype(dtype)
    dy = rng.normal(size=(batch, out_channels) + window.out_size).astype(dtype)
    return x, w, dy


def by_im2col(name, *args):
    """A pass of conv.py with Winograd switched off: the reference."""
    saved = dict(winograd.PASSES)
    winograd.PASSES.update(dict.fromkeys(saved, False))
    try:
        return getattr(conv, name)(xp, *args)
    finally:
        winograd.PASSES.update(saved)


def assert_all_three_passes_equal_im2col_and_gemm(window, **sizes):
    x, w, dy = operands(window, **sizes)
    b = rng.normal(size=w.shape[0])
    np.testing.assert_allclose(winograd.forward(xp, x, w, b, window),
                               by_im2col("forward", x, w, b, window), atol=1e-12)
    np.testing.assert_allclose(winograd.input_grad(xp, dy, w, window),
                               by_im2col("input_grad", dy, w, window), atol=1e-12)
    np.testing.assert_allclose(winograd.weight_grad(xp, x, dy, window),
                               by_im2col("weight_grad", x, dy, window), atol=1e-11)


@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_all_three_passes_equal_im2col_and_gemm(window):
    assert_all_three_passes_equal_im2col_and_gemm(window)


@pytest.mark.parametrize("chunk_bytes", [1, 16 * 7 * 8 * 9, 2**20], ids=["a row of tiles",
                                                                        "a few rows", "images"])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_every_way_of_cutting_the_batch_into_chunks_gives_the_same_passes(monkeypatch, window,
                                                                          chunk_bytes):
    monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_bytes)
    assert_all_three_passes_equal_im2col_and_gemm(window, batch=3)


def test_the_chunks_cover_every_tile_of_the_batch_once():
    for tiles_h, tiles_w, budget in [(5, 3, 1), (5, 3, 7), (5, 3, 15), (5, 3, 31), (1, 1, 4),
                                     (4, 9, 100)]:
        seen = []
        for first, last, first_row, last_row, count in winograd._chunks(2, 9, tiles_h, tiles_w,
                                                                        budget):
            assert count == (last - first) * (last_row - first_row) * tiles_w
            assert count <= max(budget, tiles_w)
            assert count <= winograd._chunk_tiles(tiles_h, tiles_w, budget)
            seen += [(n, i) for n in range(first, last) for i in range(first_row, last_row)]
        assert sorted(seen) == [(n, i) for n in range(2, 9) for i in range(tiles_h)]


def test_shares_of_the_batch_on_two_threads_give_the_same_passes(monkeypatch):
    monkeypatch.setattr(batch_split, "concurrent_parts", lambda xp, x, multiply_adds: 2)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 16 * 7 * 8 * 5)
    for window in WINDOWS[:2]:
        assert_all_three_passes_equal_im2col_and_gemm(window, batch=5)


@pytest.fixture
def from_16_channels(monkeypatch):
    """Winograd chosen from 16 channels each way, whichever kernels OpenBLAS runs here."""
    monkeypatch.setattr(winograd, "min_channels", lambda: 16)


def test_a_pass_that_meets_an_infinity_or_overflows_gives_im2cols_result(from_16_channels):
    window = WINDOWS[0]
    channels = 16
    x, w, dy = operands(window, channels=channels, out_channels=channels, dtype=np.float32)
    infinite = x.copy()
    infinite[1, 3, 4, 5] = np.inf
    huge = x.copy()   # ±1e38 at the corners d₀₀, d₀₂, d₂₀, d₂₂ of a tile's 4×4 patch: the
    for (r, c), sign in zip([(1, 1), (1, 3), (3, 1), (3, 3)], [1, -1, -1, 1]):   # transform's
        huge[0, 2, r, c] = sign * 1e38   # d₀₀ - d₀₂ - d₂₀ + d₂₂ overflows, the direct sums not
    small = np.abs(w) / 10
    for x_, w_ in [(infinite, w), (infinite, np.abs(w)), (huge, small)]:
        assert winograd.forward(xp, x_, w_, None, window) is None
        np.testing.assert_array_equal(conv.forward(xp, x_, w_, None, window),
                                      by_im2col("forward", x_, w_, None, window))
        assert winograd.input_grad(xp, x_, w_, window) is None   # x_ as ∂L/∂y
        np.testing.assert_array_equal(conv.input_grad(xp, x_, w_, window),
                                      by_im2col("input_grad", x_, w_, window))
    assert winograd.weight_grad(xp, infinite, dy, window) is None
    np.testing.assert_array_equal(conv.weight_grad(xp, infinite, dy, window),
                                  by_im2col("weight_grad", infinite, dy, window))
    # im2col's results: +inf where every term is +inf or finite, NaN where both infinities meet
    assert np.isposinf(conv.forward(xp, infinite, np.abs(w), None, window)).any()
    assert np.isfinite(conv.forward(xp, huge, small, None, window)).all()


# -- the float32 error bound -------------------------------------------------------------------
def absolute_forward(x, w, window):
    """ỹ: F(2×2, 3×3) on |x| and |w| with |A|, |B|, |G|, in float64 (per tile, by einsum)."""
    a, b, g = (np.abs(np.array(m, dtype=float)) for m in (winograd.A_T, winograd.B_T, winograd.G))
    th, tw = (window.out_size[0] + 1) // 2, (window.out_size[1] + 1) // 2
    top, _, left, _ = window.padding
    padded = np.zeros(x.shape[:2] + (2 * th + 2, 2 * tw + 2))
    padded[:, :, top:top + x.shape[2], left:left + x.shape[3]] = np.abs(x)
    patches = np.stack([np.stack([padded[:, :, 2 * i:2 * i + 4, 2 * j:2 * j + 4]
                                  for j in range(tw)], 2) for i in range(th)], 2)
    V = np.einsum("kp,bcijpq,lq->bcijkl", b, patches, b)          # (B, C, th, tw, 4, 4)
    U = np.einsum("ka,ocab,lb->ockl", g, np.abs(w), g)
    M = np.einsum("ockl,bcijkl->boijkl", U, V)
    Y = np.einsum("uk,boijkl,vl->boiujv", a, M, a)
    Y = Y.reshape(x.shape[0], w.shape[0], 2 * th, 2 * tw)
    return Y[:, :, :window.out_size[0], :window.out_size[1]]


def gamma(n, unit=2.0 ** -24):
    return n * unit / (1 - n * unit)


@pytest.mark.parametrize("window", WINDOWS[:3], ids=str)
def test_float32_forward_error_stays_within_the_stated_bound(window):
    channels = 64
    x, w, _ = operands(window, channels=channels, dtype=np.float32)
    exact = by_im2col("forward", x.astype(np.float64), w.astype(np.float64), None, window)
    error = np.abs(winograd.forward(xp, x, w, None, window) - exact)
    bound = gamma(channels + 12) * absolute_forward(x, w, window)
    assert (error <= bound).all()
    # ỹ ≤ 16·Σ_c Σ|g_c|·max|x_c| per output, and the bound is not vacuous
    crude = 16 * np.abs(w).sum(axis=(1, 2, 3))[None, :, None, None] * np.abs(x).max()
    assert (absolute_forward(x, w, window) <= crude).all()
    assert error.max() > 0 and bound.max() < 1e-3 * np.abs(exact).max() * channels


def test_float32_weight_gradient_error_stays_within_the_stated_bound():
    window = WINDOWS[0]
    x, w, dy = operands(window, channels=8, out_channels=8, batch=4, dtype=np.float32)
    exact = by_im2col("weight_grad", x.astype(np.float64), dy.astype(np.float64), window)
    tiles = 4 * ((window.out_size[0] + 1) // 2) * ((window.out_size[1] + 1) // 2)
    # ỹ for the weight gradient: the direct sum's Σ|dy||x| times the transforms' 16
    direct = by_im2col("weight_grad", np.abs(x).astype(np.float64), np.abs(dy).astype(np.float64),
                       window)
    error = np.abs(winograd.weight_grad(xp, x, dy, window) - exact)
    assert (error <= gamma(tiles + 12) * 16 * direct).all()


# -- through the conv op ----------------------------------------------------------------------
@pytest.fixture
def winograd_on(monkeypatch):
    monkeypatch.setattr(winograd, "min_channels", lambda: 1)
    monkeypatch.setitem(winograd.PASSES, "forward", True)
    monkeypatch.setitem(winograd.PASSES, "input_grad", True)
    monkeypatch.setitem(winograd.PASSES, "weight_grad", True)
    calls = []
    for name in ("forward", "input_grad", "weight_grad"):
        original = getattr(winograd, name)
        monkeypatch.setattr(winograd, name,
                            lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    return calls


@pytest.mark.parametrize("padding", [0, 1, 2])
def test_gradcheck_of_conv2d_computed_by_winograd(winograd_on, padding):
    x = tg.tensor(rng.normal(size=(2, 2, 5, 4)), requires_grad=True)
    w = tg.tensor(rng.normal(size=(3, 2, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.normal(size=3), requires_grad=True)
    fn = lambda x, w, b: F.conv2d(x, w, b, padding=padding)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    assert set(winograd_on) == {"forward", "input_grad", "weight_grad"}


def test_a_non_contiguous_input_and_float32_go_through_winograd_too(winograd_on):
    x = rng.normal(size=(6, 6, 3, 2)).astype(np.float32).transpose(3, 2, 0, 1)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    y = F.conv2d(tg.from_numpy(x), tg.from_numpy(w), padding=1)
    assert winograd_on == ["forward"]
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    direct = sum(np.einsum("bchw,oc->bohw", padded[:, :, i:i + 6, j:j + 6], w[:, :, i, j])
                 for i in range(3) for j in range(3))
    np.testing.assert_allclose(y.numpy(), direct, atol=1e-5)


@hypothesis.settings(max_examples=20, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(batch=st.integers(1, 5), channels=st.integers(16, 40), out_channels=st.integers(16, 40),
                  height=st.integers(1, 13), width=st.integers(1, 13), padding=st.integers(0, 2),
                  bias=st.booleans(), chunk_bytes=st.sampled_from([1, 2**14, 2**20]),
                  shares=st.integers(1, 3), transposed_input=st.booleans(), seed=st.integers(0, 2**16))
def test_float32_conv2d_agrees_with_pytorch_over_drawn_shapes(
        monkeypatch, from_16_channels, batch, channels, out_channels, height, width, padding, bias,
        chunk_bytes, shares, transposed_input, seed):
    """tapegrad's default path for these shapes on AVX-512 (Winograd: at least 16 channels each
    way) against PyTorch's float32 conv2d: the output and the gradients of the input, the
    weight and the bias, cut into chunks of a row of tiles, a few or whole images, and the
    batch into up to 3 threads' shares."""
    torch = pytest.importorskip("torch")
    hypothesis.assume(height + 2 * padding >= 3 and width + 2 * padding >= 3)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(batch_split, "concurrent_parts",
                        lambda xp, x, multiply_adds: min(shares, x.shape[0]))
    draw = np.random.default_rng(seed)
    x = draw.standard_normal((batch, channels, height, width)).astype(np.float32)
    if transposed_input:   # the same values, laid out (B, H, W, C)
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w = (draw.standard_normal((out_channels, channels, 3, 3)) / 8).astype(np.float32)
    b = draw.standard_normal(out_channels).astype(np.float32) if bias else None
    ours = [tg.from_numpy(a).requires_grad_() if a is not None else None for a in (x, w, b)]
    theirs = [torch.from_numpy(np.ascontiguousarray(a)).requires_grad_() if a is not None else None
              for a in (x, w, b)]
    calls = []
    original = winograd.forward
    monkeypatch.setattr(winograd, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    y = F.conv2d(*ours, padding=padding)
    y_ref = torch.nn.functional.conv2d(*theirs, padding=padding)
    assert calls, "the forward did not run by Winograd"
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), atol=2e-5 * channels,
                               rtol=1e-4)
    g = draw.standard_normal(tuple(y.shape)).astype(np.float32)
    (y * tg.from_numpy(g)).sum().backward()
    (y_ref * torch.from_numpy(g)).sum().backward()
    for mine, reference, scale in zip(ours, theirs, (out_channels, batch * height * width,
                                                     batch * height * width)):
        if mine is not None:
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(),
                                       atol=2e-5 * scale, rtol=1e-4)


def test_winograd_is_chosen_only_for_the_shapes_it_handles(winograd_on):
    x = np.zeros((1, 4, 6, 6), np.float32)
    same = Window((6, 6), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    assert winograd.chosen("forward", xp, x, same, 4, 4)
    for other in (same._replace(stride=(2, 2)), same._replace(dilation=(2, 2)),
                  same._replace(groups=2), same._replace(kernel=(5, 5)),
                  same._replace(padding=(3, 3, 3, 3))):
        assert not winograd.chosen("forward", xp, x, other, 4, 4)
    assert not winograd.chosen("forward", xp, x.astype(np.float16), same, 4, 4)
    assert not winograd.chosen("forward", xp, x.astype(np.int32), same, 4, 4)


@pytest.mark.parametrize("core, fewest", [("skylakex", 16), ("sapphirerapids", 16), ("haswell", 64),
                                          ("zen", 64), (None, 64)])
def test_by_default_it_runs_3x3_convolutions_of_enough_channels_for_the_blas_kernels(
        monkeypatch, core, fewest):
    """From 16 channels each way with OpenBLAS's AVX-512 kernels, from 64 with its AVX2 ones
    (and with another BLAS, None): see PASSES in winograd.py for the measurements."""
    from tapegrad.kernels.cpu import blas_threads
    monkeypatch.setattr(blas_threads, "core_name", lambda: core)
    assert all(winograd.PASSES.values())
    assert winograd.min_channels() == fewest
    window = Window((8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    x = np.zeros((1, fewest, 8, 8), np.float32)
    for part in winograd.PASSES:
        assert winograd.chosen(part, xp, x, window, fewest, fewest)
        assert not winograd.chosen(part, xp, x, window, fewest - 1, fewest)
        assert not winograd.chosen(part, xp, x, window, fewest, fewest - 1)


def test_openblas_names_its_kernels():
    from tapegrad.kernels.cpu import blas_threads
    if not blas_threads.loaded_openblas():
        pytest.skip("numpy's BLAS is not an OpenBLAS here")
    name = blas_threads.core_name()
    assert isinstance(name, str) and name == name.lower() and name.isalnum()
