"""The array kernels behind convolution and pooling (tapegrad/kernels), tested directly.

* im2col copies every window (zeros for the padding), in numba's loops as in the
  array-only strided copy, on one thread or several; col2im is its adjoint:
  <im2col(x), y> = <x, col2im(y)> for every window;
* the numba loops agree with their array-only stand-ins of kernels/generic.py (what a
  cupy array runs), including padding, dilation, ties and NaN;
* the convolution in chunks of the batch gives what it gives in one piece, and keeps no
  buffer larger than a chunk's columns;
* the workspace cache reuses buffers, keeps their fill, and only hands back a buffer to
  the one who stamped it; a recycled array comes back only once nothing references it.
"""
import itertools
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import kernels
from tapegrad.backend.contract import Namespace
from tapegrad.backend.device import HOST as xp  # numpy's backend namespace
from tapegrad.kernels import generic
from tapegrad.kernels.cpu import col2im, conv, im2col, index_add, maxpool, workspace
from tapegrad.kernels.geometry import Window

rng = np.random.default_rng(3)

WINDOWS = [   # the first three keep the image's size (stride 1): one run per tap in im2col
    Window((6, 5), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    Window((5, 4), (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
    Window((6, 6), (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),
    Window((6, 5), (2, 3), (1, 1), (2, 1), (0, 1, 2, 0)),
    Window((7, 6), (3, 2), (2, 3), (1, 2), (1, 0, 1, 1)),
    Window((5, 5), (1, 1), (2, 2), (1, 1), (0, 0, 0, 0)),
    Window((1, 9), (1, 3), (1, 2), (1, 2), (0, 0, 1, 1)),
]


def window_id(window):
    return f"k{window.kernel}s{window.stride}d{window.dilation}p{window.padding}"


@pytest.fixture(params=["one thread", "numba's threads"])
def threads(request, monkeypatch):
    """im2col and col2im serial, or split between numba's threads whatever their size."""
    if request.param == "numba's threads":
        monkeypatch.setattr(im2col, "PARALLEL_MIN_BYTES", 0)
    return request.param


@pytest.fixture(params=["merged", "batched"])
def layout(request):
    return request.param


def columns_by_strides(x, window, layout):
    """The columns as the array-only path makes them: a copy of a strided view of the padded image."""
    top, bottom, left, right = window.padding
    image = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return im2col.windows(xp, image, window, layout).copy()


@pytest.mark.parametrize("window", WINDOWS, ids=window_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_im2col_copies_every_window_and_zeros_for_the_padding(window, dtype, layout, threads):
    x = rng.standard_normal((2, 3) + window.in_size).astype(dtype)
    columns = np.full(im2col.columns_shape(x.shape, window, layout), np.nan, dtype)  # old: NaN
    im2col.im2col(xp, x, window, columns, layout)
    np.testing.assert_array_equal(columns, columns_by_strides(x, window, layout))


@pytest.mark.parametrize("window", WINDOWS, ids=window_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_col2im_into_is_the_adjoint_of_im2col_and_overwrites_its_target(window, dtype, layout,
                                                                          threads):
    x = rng.standard_normal((2, 3) + window.in_size).astype(dtype)
    columns = np.zeros(im2col.columns_shape(x.shape, window, layout), dtype)
    im2col.im2col(xp, x, window, columns, layout)
    y = rng.standard_normal(columns.shape).astype(dtype)
    canonical = y if layout == "merged" else y.transpose(1, 2, 3, 0, 4, 5)
    expected = generic.col2im_add(xp, canonical.copy(), np.zeros(x.shape, dtype), window)
    back = np.full(x.shape, np.nan, dtype)     # whatever was there is overwritten
    col2im.col2im_into(xp, y.copy(), back, window, layout)
    np.testing.assert_allclose(back, expected, rtol=1e-3 if dtype == np.float16 else 1e-12,
                               atol=1e-2 if dtype == np.float16 else 1e-12)
    if dtype == np.float64:   # <im2col(x), y> = <x, col2im(y)>
        assert np.isclose((columns * y).sum(), (x * back).sum())


@pytest.mark.parametrize("window", WINDOWS, ids=window_id)
def test_unfold_and_fold_are_adjoint(window):
    x = rng.standard_normal((2, 3) + window.in_size)
    columns = kernels.unfold(xp, x, window)
    y = rng.standard_normal(columns.shape)
    assert np.isclose((columns * y).sum(), (x * kernels.fold(xp, y, window)).sum())


@pytest.mark.parametrize("window", WINDOWS, ids=window_id)
def test_numba_col2im_matches_the_array_only_version(window):
    ho, wo = window.out_size
    columns = rng.standard_normal((3,) + window.kernel + (2, ho, wo))
    fast = col2im.col2im(xp, columns, np.zeros((2, 3) + window.in_size), window)
    slow = generic.col2im_add(xp, columns, np.zeros((2, 3) + window.in_size), window)
    np.testing.assert_allclose(fast, slow, atol=1e-12)


# -- the convolution driver ------------------------------------------------------------------------
def conv_direct(x, w, window):
    """The definition, on an explicitly padded image."""
    top, bottom, left, right = window.padding
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    g = window.groups
    cg, og = x.shape[1] // g, w.shape[0] // g
    y = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for o in range(w.shape[0]):
        c0 = (o // og) * cg
        for i, j in itertools.product(range(kh), range(kw)):
            patch = padded[:, c0:c0 + cg, i * dh:i * dh + (ho - 1) * sh + 1:sh,
                       j * dw:j * dw + (wo - 1) * sw + 1:sw]
            y[:, o] += np.einsum("ncpq,c->npq", patch, w[o, :, i, j])
    return y


def set_images_per_chunk(monkeypatch, images, x, window):
    """COLUMN_BYTES for chunks of ``images`` images of x's size (the last chunk may have fewer),
    on one thread."""
    monkeypatch.setattr(conv, "threaded", lambda: False)
    one_image = np.prod(im2col.columns_shape((1,) + x.shape[1:], window)) * x.itemsize
    monkeypatch.setattr(conv, "COLUMN_BYTES", int(images * one_image))
    assert conv.chunk_size(x.shape, window, x.itemsize) == min(images, x.shape[0])


@pytest.mark.parametrize("window", WINDOWS + [Window((6, 6), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1),
                                                     groups=3)], ids=window_id)
@pytest.mark.parametrize("images_per_chunk", [1, 2, 3])
def test_chunks_of_the_batch_compute_the_convolution_and_its_gradients(window, images_per_chunk,
                                                                       layout, monkeypatch):
    monkeypatch.setattr(conv, "choose_layout", lambda *args: layout)
    groups = window.groups
    x = rng.standard_normal((3, 3) + window.in_size)
    set_images_per_chunk(monkeypatch, images_per_chunk, x, window)
    w = rng.standard_normal((6, 3 // groups) + window.kernel)
    y = conv.forward(xp, x, w, None, window)
    np.testing.assert_allclose(y, conv_direct(x, w, window), atol=1e-12)
    gy = rng.standard_normal(y.shape)
    direction_w, direction_x = rng.standard_normal(w.shape), rng.standard_normal(x.shape)
    dw = conv.weight_grad(xp, x, gy, window)
    dx = conv.input_grad(xp, gy, w, window)
    # y is linear in w and in x: <dL/dw, v> = <gy, conv(x, v)>, likewise for x
    assert np.isclose((dw * direction_w).sum(), (gy * conv_direct(x, direction_w, window)).sum())
    assert np.isclose((dx * direction_x).sum(), (gy * conv_direct(direction_x, w, window)).sum())
    both_dx, both_dw = conv.backward(xp, x, gy, w, window)   # the one-pass backward
    np.testing.assert_allclose(both_dx, dx, atol=1e-12)
    np.testing.assert_allclose(both_dw, dw, atol=1e-12)
    # in the weight's own C-order layout, so that an optimizer step is one contiguous pass
    assert dw.flags.c_contiguous and both_dw.flags.c_contiguous and dw.shape == w.shape


def test_the_chunk_of_the_batch_keeps_its_columns_within_the_budget(monkeypatch):
    window = Window((8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    one_image = int(np.prod(im2col.columns_shape((1, 4, 8, 8), window))) * 4
    monkeypatch.setattr(conv, "threaded", lambda: False)
    monkeypatch.setattr(conv, "COLUMN_BYTES", 3 * one_image + 1)
    assert conv.chunk_size((10, 4, 8, 8), window, 4) == 3
    assert conv.chunk_size((2, 4, 8, 8), window, 4) == 2    # never more than the batch
    monkeypatch.setattr(conv, "COLUMN_BYTES", 1)
    assert conv.chunk_size((10, 4, 8, 8), window, 4) == 1   # never less than one image


def test_on_several_threads_chunks_are_larger_and_one_gemm_each(monkeypatch):
    window = Window((32, 32), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    one_image = int(np.prod(im2col.columns_shape((1, 4, 32, 32), window))) * 4
    monkeypatch.setattr(conv, "COLUMN_BYTES", one_image)
    monkeypatch.setattr(conv, "COLUMN_BYTES_THREADED", 5 * one_image)
    monkeypatch.setattr(conv, "threaded", lambda: False)
    assert conv.chunk_size((10, 4, 32, 32), window, 4) == 1
    assert conv.choose_layout(window.out_size, 16, 1) == "batched"   # 32×32: a GEMM per image
    assert conv.choose_layout((8, 8), 16, 1) == "merged"              # 8×8: one per chunk
    monkeypatch.setattr(conv, "threaded", lambda: True)
    assert conv.chunk_size((10, 4, 32, 32), window, 4) == 5
    assert conv.choose_layout(window.out_size, 16, 1) == "merged"
    assert conv.choose_layout(window.out_size, 6, 1) == "batched"   # too small to split


def test_a_training_step_holds_no_columns_for_the_whole_batch(monkeypatch):
    """Between the forward pass and the backward nothing of the size of the batch's columns
    is kept; every scratch buffer is bounded by one chunk."""
    workspace.clear()
    window = Window((8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    one_image = int(np.prod(im2col.columns_shape((1, 4, 8, 8), window))) * 4
    monkeypatch.setattr(conv, "threaded", lambda: False)
    monkeypatch.setattr(conv, "COLUMN_BYTES", 2 * one_image)
    x = rng.standard_normal((16, 4, 8, 8)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    y = conv.forward(xp, x, w, None, window)
    conv.backward(xp, x, y, w, window)
    assert max(a.nbytes for a in workspace._buffers.values()) <= 2 * one_image
    workspace.clear()


# -- pooling ---------------------------------------------------------------------------------------
POOLS = [Window((6, 6), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
         Window((7, 6), (3, 3), (2, 2), (1, 1), (1, 2, 1, 1)),
         Window((7, 6), (2, 3), (1, 2), (2, 1), (1, 1, 0, 1))]


@pytest.mark.parametrize("window", POOLS, ids=window_id)
def test_numba_max_pool_matches_the_array_only_version_with_ties_and_nan(window):
    x = rng.integers(0, 3, (2, 3) + window.in_size).astype(np.float64)   # many ties
    x[0, 0, 1, 1] = x[1, 2, 3, 2] = x[1, 2, 3, 3] = np.nan
    values, indices = kernels.max_pool(xp, x, window)
    shape = x.shape[:2] + window.out_size
    slow_values, slow_indices = generic.max_pool_forward(xp, x, window, np.empty(shape),
                                                         np.empty(shape, np.int64))
    np.testing.assert_array_equal(values, slow_values)
    np.testing.assert_array_equal(indices, slow_indices)


@pytest.mark.parametrize("size", [(6, 8), (7, 5)], ids=["even", "odd"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_2x2_max_pool_keeps_the_rule_for_ties_and_nan(size, dtype):
    """The 2×2 stride-2 kernel (selects instead of branches) against the general one: the
    first of equal maxima, the last NaN of a window, an odd last row and column left out."""
    window = Window(size, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0))
    x = rng.integers(0, 3, (2, 3) + size).astype(dtype)   # many ties
    x[0, 0, 1, 1] = x[1, 2, 3, 2] = x[1, 2, 3, 3] = x[0, 1, 0, 0] = np.nan
    x[1, 1, 2, 2] = np.inf
    shape = x.shape[:2] + window.out_size
    values, indices = np.empty(shape, dtype), np.empty(shape, np.int32)
    maxpool.max_pool_2x2(x, values, indices)
    general_values, general_indices = np.empty(shape, dtype), np.empty(shape, np.int32)
    maxpool.max_pool_forward_inside(x, general_values, general_indices, 2, 2, 2, 2, 1, 1)
    np.testing.assert_array_equal(values, general_values)
    np.testing.assert_array_equal(indices, general_indices)
    assert indices[1, 2, 1, 1] == 3 * size[1] + 3   # the later of the window's two NaNs


@pytest.mark.parametrize("window", POOLS, ids=window_id)
def test_max_values_alone_agree_with_the_max_with_positions(window):
    x = rng.standard_normal((2, 3) + window.in_size).astype(np.float32)
    np.testing.assert_array_equal(kernels.max_pool_values(xp, x, window),
                                  kernels.max_pool(xp, x, window)[0])


def test_max_unpool_adds_at_repeated_positions_like_the_array_only_version():
    grad = rng.standard_normal((2, 3, 4, 4))
    indices = rng.integers(0, 9, (2, 3, 4, 4))
    fast = kernels.max_unpool_add(xp, grad, indices, (3, 3))
    slow = generic.scatter_add_last(xp, np.zeros((2, 3, 9)), indices.reshape(2, 3, -1),
                                    grad.reshape(2, 3, -1)).reshape(2, 3, 3, 3)
    np.testing.assert_allclose(fast, slow, atol=1e-12)


@pytest.mark.parametrize("window", POOLS, ids=window_id)
def test_average_pooling_and_its_adjoint_are_transposes(window):
    x = rng.standard_normal((2, 3) + window.in_size)
    divisor = rng.uniform(1, 3, window.out_size)
    y = kernels.avg_pool(xp, x, window, divisor)
    g = rng.standard_normal(y.shape)
    assert np.isclose((y * g).sum(), (x * kernels.avg_pool_adjoint(xp, g, window, divisor)).sum())


@pytest.mark.parametrize("window", [Window((7, 5), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
                                    Window((5, 6), (5, 6), (5, 6), (1, 1), (0, 0, 0, 0))],
                         ids=window_id)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_average_pooling_adjoint_of_disjoint_windows_spreads_each_gradient_over_its_window(
        window, dtype):
    """Disjoint windows (2×2 pooling with a remainder row and column, global pooling) take a
    broadcast, not col2im: each covered position holds its window's gradient / divisor, the
    uncovered ones 0, in the gradient's dtype."""
    g = rng.standard_normal((2, 3) + window.out_size).astype(dtype)
    divisor = rng.uniform(1, 3, window.out_size).astype(dtype)
    out = kernels.avg_pool_adjoint(xp, g, window, divisor)
    (kh, kw), (ho, wo) = window.kernel, window.out_size
    expected = np.zeros((2, 3) + window.in_size, dtype)
    for p in range(ho):
        for q in range(wo):
            expected[:, :, p * kh:(p + 1) * kh, q * kw:(q + 1) * kw] = \
                (g[:, :, p, q] / divisor[p, q])[:, :, None, None]
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_index_add_accumulates_repeats_like_the_array_only_version():
    index = np.array([0, 2, 2, 1, 0])
    src = rng.standard_normal((2, 5, 3))
    fast = index_add.add_at(xp, np.zeros((2, 3, 3)), 1, index, src)
    slow = generic.index_add(xp, np.zeros((2, 3, 3)), index, src)
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    expected = np.zeros((2, 3, 3))
    np.add.at(expected, (slice(None), index), src)
    np.testing.assert_allclose(fast, expected, atol=1e-12)


# -- the workspace cache ---------------------------------------------------------------------------
def test_a_workspace_is_reused_and_keeps_its_fill():
    a = workspace.get(xp, "test-fill", (3, 4), np.float32, fill=0)
    a[1:2, 1:3] = 5
    b = workspace.get(xp, "test-fill", (3, 4), np.float32, fill=0)
    assert b is a and b[0, 0] == 0
    assert workspace.get(xp, "test-fill", (3, 4), np.float64, fill=0) is not a


def test_a_stamp_is_held_weakly_and_only_its_owner_gets_the_buffer_back():
    buffer = workspace.get(xp, "test-stamp", (2, 2), np.float64)
    owner, other = conv.Stamp(), conv.Stamp()
    workspace.stamp(xp, "test-stamp", (2, 2), np.float64, owner)
    assert workspace.owned_by(xp, "test-stamp", (2, 2), np.float64, owner) is buffer
    assert workspace.owned_by(xp, "test-stamp", (2, 2), np.float64, other) is None
    ref = weakref.ref(owner)
    del owner
    assert ref() is None


def test_a_recycled_array_comes_back_only_once_nothing_references_it():
    key = ("test-recycled", (4, 3), np.float32)
    a = workspace.recycled(xp, *key)
    assert workspace.recycled(xp, *key) is not a          # a is still held here
    view = a[1:]
    ref = weakref.ref(a)
    del a
    assert workspace.recycled(xp, *key) is not ref()      # a view of it is still alive
    tensor = tg.from_numpy(view.base)
    del view
    assert workspace.recycled(xp, *key) is not ref()      # a tensor holds it
    del tensor
    assert workspace.recycled(xp, *key) is ref()          # nobody: it is handed out again
    assert workspace.recycled(xp, "test-recycled", (4, 3), np.float64) is not ref()
    workspace.clear()


def test_recycled_arrays_of_shapes_not_asked_for_lately_are_dropped_beyond_a_budget(monkeypatch):
    monkeypatch.setattr(workspace, "_RECYCLED_MAX_BYTES", 1000)
    first = weakref.ref(workspace.recycled(xp, "test-recycled-1", (100,), np.float64))
    assert workspace.recycled(xp, "test-recycled-1", (100,), np.float64) is first()   # kept
    workspace.recycled(xp, "test-recycled-2", (100,), np.float64)   # over budget: first goes
    assert first() is None
    workspace.clear()


def test_old_workspaces_are_dropped_beyond_the_memory_budget(monkeypatch):
    monkeypatch.setattr(workspace, "_MAX_BYTES", 1000)
    first = workspace.get(xp, "test-budget-1", (100,), np.float64)   # 800 bytes
    workspace.get(xp, "test-budget-2", (100,), np.float64)           # over budget: first goes
    assert workspace.get(xp, "test-budget-1", (100,), np.float64) is not first
    workspace.clear()


# -- the path a cuda tensor takes (array-only code, no numba) --------------------------------------
def _ArrayOnlyBackend():
    """numpy's namespace posing as a GPU backend: the kernels then take the path they take
    for cupy arrays (no numba loops)."""
    return Namespace("numpy posing as a GPU", is_gpu=True, numba_cpu=False, operations=vars(xp))


def test_the_array_only_path_computes_what_the_numba_path_computes(monkeypatch):
    monkeypatch.setattr(kernels, "_cuda", False)   # as if there were no kernels/cuda
    fake = _ArrayOnlyBackend()
    for window in WINDOWS:
        x = rng.standard_normal((2, 3) + window.in_size)
        w = rng.standard_normal((4, 3) + window.kernel)
        y = kernels.conv_forward(xp, x, w, None, window)
        np.testing.assert_allclose(kernels.conv_forward(fake, x, w, None, window), y, atol=1e-12)
        gy = rng.standard_normal(y.shape)
        np.testing.assert_allclose(kernels.conv_input_grad(fake, gy, w, window),
                                   kernels.conv_input_grad(xp, gy, w, window), atol=1e-12)
        np.testing.assert_allclose(kernels.conv_weight_grad(fake, x, gy, window),
                                   kernels.conv_weight_grad(xp, x, gy, window), atol=1e-12)
        columns = kernels.unfold(xp, x, window)
        np.testing.assert_allclose(kernels.fold(fake, columns, window),
                                   kernels.fold(xp, columns, window), atol=1e-12)
    for window in POOLS:
        x = rng.standard_normal((2, 3) + window.in_size)
        values, indices = kernels.max_pool(fake, x, window)
        expected_values, expected_indices = kernels.max_pool(xp, x, window)
        np.testing.assert_array_equal(values, expected_values)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(kernels.max_unpool_add(fake, values, indices, window.in_size),
                                   kernels.max_unpool_add(xp, values, indices, window.in_size))
        g = rng.standard_normal(values.shape)
        np.testing.assert_allclose(kernels.avg_pool_adjoint(fake, g, window, 4.0),
                                   kernels.avg_pool_adjoint(xp, g, window, 4.0), atol=1e-12)
    src, index = rng.standard_normal((2, 4, 3)), np.array([0, 1, 1, 2])
    np.testing.assert_allclose(kernels.add_at(fake, np.zeros((2, 3, 3)), 1, index, src),
                               kernels.add_at(xp, np.zeros((2, 3, 3)), 1, index, src))


def test_cupy_arrays_go_to_the_cuda_kernels_when_there_are_some(monkeypatch):
    class CudaKernels:
        def conv_forward(self, *args):
            return "cuda"
    monkeypatch.setattr(kernels, "_cuda", CudaKernels())
    assert kernels.conv_forward(_ArrayOnlyBackend(), None, None, None, None) == "cuda"
    window = Window((4, 4), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0))
    x = rng.standard_normal((1, 1, 4, 4))
    assert kernels.conv_forward(xp, x, np.ones((1, 1, 2, 2)), None, window).shape == (1, 1, 2, 2)


# -- add_scaled: y += a·x, the optimizers' last step ------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_scaled_is_the_two_pass_numpy_update_bit_for_bit(dtype):
    rng = np.random.default_rng(7)
    y, x = rng.standard_normal((2, 33, 17)).astype(dtype)
    expected = y + np.multiply(x, -0.0123)
    assert kernels.add_scaled(xp, y, x, -0.0123) is y
    np.testing.assert_array_equal(y, expected)


def test_add_scaled_of_strided_or_integer_arrays_takes_the_numpy_path():
    y = np.zeros((4, 3))
    kernels.add_scaled(xp, y.T, np.ones((3, 4)), 2.0)   # a transposed view is written through
    np.testing.assert_array_equal(y, np.full((4, 3), 2.0))
    counts = np.zeros(3, dtype=np.int64)
    kernels.add_scaled(xp, counts, np.array([1, 2, 3]), 2)
    np.testing.assert_array_equal(counts, [2, 4, 6])


def test_scratch_buffers_of_one_purpose_share_the_largest_allocation():
    workspace.clear()
    small = workspace.scratch(xp, "test-scratch", (3, 4), np.float32)
    large = workspace.scratch(xp, "test-scratch", (5, 6), np.float32)   # grows: a new buffer
    again = workspace.scratch(xp, "test-scratch", (2, 7), np.float32)   # fits: a view of it
    other = workspace.scratch(xp, "test-scratch", (3, 4), np.float64)   # another dtype
    assert small.shape == (3, 4) and large.shape == (5, 6) and again.shape == (2, 7)
    assert again.flags.c_contiguous and np.shares_memory(again, large)
    assert not np.shares_memory(small, large) and not np.shares_memory(other, large)
    assert workspace._total_bytes == 30 * 4 + 12 * 8   # the outgrown buffer was let go
    workspace.clear()


def test_convolutions_of_different_sizes_keep_one_product_buffer_between_them(monkeypatch):
    monkeypatch.setattr(conv, "choose_layout", lambda *args: "merged")   # (a product buffer)
    monkeypatch.setattr(conv, "threaded", lambda: False)   # one share of the batch: one buffer
    workspace.clear()
    for size in (12, 6):
        window = Window((size, size), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
        x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
        kernels.conv_forward(xp, x, rng.standard_normal((4, 3, 3, 3)).astype(np.float32), None,
                             window)
    products = [key for key in workspace._buffers if "conv-product" in str(key[2])]
    assert len(products) == 1
    workspace.clear()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subtracting_the_row_maximum_in_one_pass_matches_numpys_max_and_subtraction(dtype):
    a = rng.standard_normal((3, 5, 7)).astype(dtype)
    a[0, 1, 3] = np.nan                  # a NaN (not first in its row) makes the row NaN
    a[1, 2, 0] = np.nan                  # (also first in its row)
    a[2, 0, :] = -np.inf                 # -inf - -inf = NaN, as numpy
    a[2, 1, 4] = np.inf                  # inf - inf = NaN, -inf elsewhere
    with np.errstate(invalid="ignore"):
        expected = a - a.max(axis=-1, keepdims=True)
        out = kernels.subtract_max(xp, a, (2,))
        along_rows = kernels.subtract_max(xp, a, (1,))    # not the last axis: numpy's form
    assert out.dtype == dtype and not np.shares_memory(out, a)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(along_rows, a - a.max(axis=1, keepdims=True))
    strided = a[:, :, ::2]               # not C-contiguous: numpy's form too
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(kernels.subtract_max(xp, strided, (2,)),
                                      strided - strided.max(axis=-1, keepdims=True))
