"""A convolution's pass over the batch shared between threads (tapegrad/kernels/cpu/batch_split.py).

* the shared convolution computes what the one-thread convolution computes (forward, input
  and weight gradients, the one-pass backward) for every geometry (stride, padding,
  dilation, groups), both layouts, chunks of one or more images, batches that do not split
  evenly, float32 and float64, with a bias or none, and the forward on row-shifted copies;
* the shares really run on different threads, each on its own images, and the result is
  the same from run to run (the weight gradient's partial sums are added in a fixed order);
* meanwhile numpy's BLAS runs on one thread, and afterwards on as many as before, also when
  a share raises (the error reaches the caller);
* a caller that finds the thread pool busy runs every share itself;
* a forked child computes the shared convolution correctly;
* ``concurrent_parts`` shares only where it can: several numba threads, an image per thread,
  enough multiply-adds, numba's loops (not float16), an OpenBLAS that can be held to one
  thread; sharing is on by default, and a shared pass hands the cores to tapegrad's pool
  (threads.py); a pass too small to share runs on one BLAS thread, and so does any unshared
  pass while the pool owns the cores;
* conv2d passes gradcheck and gradgradcheck with its passes shared;
* a CNN's training step on two threads, the pool owning the cores, computes what one
  thread computes.
"""
import os
import signal
import threading

import numba
import numpy as np
import pytest

from tapegrad.autograd.ops import convolution as C
from tapegrad.backend.device import HOST as xp
from tapegrad.kernels.cpu import batch_split, blas_threads, conv, im2col, shifted_rows, threads
from tapegrad.kernels.geometry import Window

from ..support import Case, leaf, noncontiguous
from .test_cpu_kernels import WINDOWS, conv_direct, window_id

rng = np.random.default_rng(5)

GROUPED = Window((6, 6), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), groups=3)
SAME = Window((6, 7), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def one_thread(monkeypatch):
    monkeypatch.setattr(conv, "threaded", lambda: False)


def shared(monkeypatch, parts):
    """Every pass with at least ``parts`` images shared between ``parts`` threads."""
    monkeypatch.setattr(conv, "threaded", lambda: True)
    monkeypatch.setattr(batch_split, "concurrent_parts",
                        lambda xp, x, multiply_adds: parts if x.shape[0] >= parts else 1)


def convolve(x, w, b, window):
    """(y, dx, dw, dx and dw of the one-pass backward) for dy = a fixed random array."""
    y = conv.forward(xp, x, w, b, window)
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    dx, dw = conv.input_grad(xp, gy, w, window), conv.weight_grad(xp, x, gy, window)
    return (y, dx, dw) + conv.backward(xp, x, gy, w, window)


def operands(batch, window, dtype, out_channels=6, channels=3, bias=True):
    x = rng.standard_normal((batch, channels) + window.in_size).astype(dtype)
    w = rng.standard_normal((out_channels, channels // window.groups) + window.kernel)
    b = rng.standard_normal(out_channels).astype(dtype) if bias else None
    return x, w.astype(dtype), b


@pytest.mark.parametrize("window", WINDOWS + [GROUPED], ids=window_id)
@pytest.mark.parametrize("layout", ["merged", "batched"])
@pytest.mark.parametrize("batch, parts, images_per_chunk", [(5, 2, 1), (7, 3, 2), (2, 2, 4)])
def test_shared_passes_compute_what_one_thread_computes(window, layout, batch, parts,
                                                       images_per_chunk, monkeypatch):
    monkeypatch.setattr(conv, "choose_layout", lambda *args: layout)
    monkeypatch.setattr(conv, "chunk_size", lambda *args: images_per_chunk)
    x, w, b = operands(batch, window, np.float64)
    one_thread(monkeypatch)
    expected = convolve(x, w, b, window)
    np.testing.assert_allclose(expected[0], conv_direct(x, w, window) + b[:, None, None],
                               atol=1e-12)
    shared(monkeypatch, parts)
    for result, serial in zip(convolve(x, w, b, window), expected):
        np.testing.assert_allclose(result, serial, **tolerance(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [1, 2, 9])
def test_shared_passes_in_both_dtypes_and_any_batch(dtype, bias, batch, monkeypatch):
    window = Window((10, 9), (3, 3), (2, 1), (1, 1), (1, 1, 0, 2))
    x, w, b = operands(batch, window, dtype, out_channels=5, channels=4, bias=bias)
    one_thread(monkeypatch)
    expected = convolve(x, w, b, window)
    shared(monkeypatch, 2)
    for result, serial in zip(convolve(x, w, b, window), expected):
        assert result.dtype == dtype and result.flags.c_contiguous
        np.testing.assert_allclose(result, serial, **tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parts", [2, 3])
def test_the_forward_on_row_shifted_copies_is_shared_too(dtype, parts, monkeypatch):
    monkeypatch.setattr(shifted_rows, "MIN_CHANNELS", 1)
    monkeypatch.setattr(shifted_rows, "MIN_POSITIONS", 1)
    calls = []
    original = shifted_rows.forward
    monkeypatch.setattr(shifted_rows, "forward", lambda *a: calls.append(a[-1]) or original(*a))
    x, w, b = operands(7, SAME, dtype, out_channels=5, channels=4)
    shared(monkeypatch, parts)
    y = conv.forward(xp, x, w, b, SAME)
    assert calls == [parts]
    expected = conv_direct(x.astype(np.float64), w.astype(np.float64), SAME) + b[:, None, None]
    np.testing.assert_allclose(y, expected, **tolerance(dtype))
    assert y.dtype == dtype


def test_each_share_runs_on_its_own_thread_over_its_own_images(monkeypatch):
    seen, lock = [], threading.Lock()
    forward_images = conv._forward_images

    def recording(xp, x, w, bias, window, y, start, stop, *rest):
        with lock:
            seen.append((start, stop, threading.get_ident()))
        return forward_images(xp, x, w, bias, window, y, start, stop, *rest)

    monkeypatch.setattr(conv, "_forward_images", recording)
    monkeypatch.setattr(shifted_rows, "suits", lambda *args: False)
    shared(monkeypatch, 3)
    x, w, b = operands(8, SAME, np.float32)
    conv.forward(xp, x, w, b, SAME)
    seen.sort()
    assert [(start, stop) for start, stop, _ in seen] == [(0, 2), (2, 5), (5, 8)]
    assert len({thread for _, _, thread in seen}) == 3
    assert seen[-1][2] == threading.get_ident()   # the last share: the calling thread's


def test_the_shared_result_is_the_same_in_every_run(monkeypatch):
    x, w, b = operands(9, WINDOWS[0], np.float32, out_channels=8, channels=6)
    shared(monkeypatch, 2)
    first = convolve(x, w, b, WINDOWS[0])
    for _ in range(3):
        for again, result in zip(convolve(x, w, b, WINDOWS[0]), first):
            np.testing.assert_array_equal(again, result)


def test_the_products_run_on_one_blas_thread_and_the_count_is_restored(two_blas_threads,
                                                                       monkeypatch):
    counts, backward_images = [], conv._backward_images

    def counting(*args):
        counts.append(two_blas_threads())
        return backward_images(*args)

    monkeypatch.setattr(conv, "_backward_images", counting)
    shared(monkeypatch, 2)
    x, w, _ = operands(4, WINDOWS[0], np.float32)
    conv.backward(xp, x, conv.forward(xp, x, w, None, WINDOWS[0]), w, WINDOWS[0])
    assert counts == [1, 1] and two_blas_threads() == 2


@pytest.mark.parametrize("failing_start", [0, 2])   # a pool thread's share, the caller's
def test_an_error_in_a_share_reaches_the_caller_and_the_count_is_restored(
        failing_start, two_blas_threads, monkeypatch):
    backward_images = conv._backward_images

    def failing(xp, x, grad, w_t, window, dx, dw_t, start, stop, *rest):
        if start == failing_start:
            raise MemoryError(f"share from image {start}")
        return backward_images(xp, x, grad, w_t, window, dx, dw_t, start, stop, *rest)

    monkeypatch.setattr(conv, "_backward_images", failing)
    shared(monkeypatch, 2)
    x, w, _ = operands(4, WINDOWS[0], np.float32)
    with pytest.raises(MemoryError, match=f"share from image {failing_start}"):
        conv.backward(xp, x, np.ones((4, 6) + WINDOWS[0].out_size, np.float32), w, WINDOWS[0])
    assert two_blas_threads() == 2
    monkeypatch.setattr(conv, "_backward_images", backward_images)
    y = conv.forward(xp, x, w, None, WINDOWS[0])   # the pool works on
    np.testing.assert_allclose(y, conv_direct(x, w, WINDOWS[0]), rtol=1e-4, atol=1e-4)


def test_a_caller_finding_the_pool_busy_runs_every_share_itself(monkeypatch):
    x, w, b = operands(5, WINDOWS[3], np.float64)
    one_thread(monkeypatch)
    expected = convolve(x, w, b, WINDOWS[3])
    shared(monkeypatch, 2)
    with threads._in_use:   # as while another thread's split call runs
        results = convolve(x, w, b, WINDOWS[3])
    for result, serial in zip(results, expected):
        np.testing.assert_allclose(result, serial, **tolerance(np.float64))


def test_a_forked_child_computes_the_shared_convolution(monkeypatch):
    x, w, b = operands(6, WINDOWS[0], np.float64)
    one_thread(monkeypatch)
    expected = convolve(x, w, b, WINDOWS[0])
    shared(monkeypatch, 2)
    convolve(x, w, b, WINDOWS[0])   # the parent's pool and OpenBLAS switch have run
    pid = os.fork()
    if pid == 0:   # the child: report by exit code, never return into pytest
        code = 1
        signal.alarm(30)   # a child waiting on its parent's threads would hang: kill it
        try:
            results = convolve(x, w, b, WINDOWS[0])
            code = 0 if all(np.allclose(r, e, rtol=1e-12, atol=1e-12)
                            for r, e in zip(results, expected)) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_passes_are_shared_only_where_they_can_be(monkeypatch):
    x = np.zeros((4, 3, 5, 5), np.float32)
    large = batch_split.SHARE_FROM
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3)
    monkeypatch.setattr(blas_threads, "switch", lambda: (None, None))
    monkeypatch.setattr(batch_split, "SHARE_THE_BATCH", False)
    assert batch_split.concurrent_parts(xp, x, large) == 1   # turned off
    monkeypatch.setattr(batch_split, "SHARE_THE_BATCH", True)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 1)
    assert batch_split.concurrent_parts(xp, x, large) == 1   # one thread
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3)
    assert batch_split.concurrent_parts(xp, x[:2], large) == 1   # fewer images than threads
    assert batch_split.concurrent_parts(xp, x, large - 1) == 1   # too little work to share
    assert batch_split.concurrent_parts(xp, x.astype(np.float16), large) == 1   # no numba loops
    assert not im2col.compiled(xp, x.astype(np.float16))
    monkeypatch.setattr(blas_threads, "switch", lambda: None)   # another BLAS
    assert batch_split.concurrent_parts(xp, x, large) == 1
    assert not threads.pool_owns_the_cores()   # nothing shared yet: OpenBLAS keeps the cores
    monkeypatch.setattr(blas_threads, "switch", lambda: (None, None))
    assert batch_split.concurrent_parts(xp, x, large) == 3
    assert threads.pool_owns_the_cores()   # a shared pass hands them to the pool


def test_a_pass_counts_its_multiply_adds_to_choose(monkeypatch):
    seen = []
    monkeypatch.setattr(batch_split, "concurrent_parts",
                        lambda xp, x, multiply_adds: seen.append(multiply_adds) or 1)
    window = Window((6, 5), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))   # (6, 5) outputs
    x, w, _ = operands(4, window, np.float32, out_channels=8, channels=3)
    monkeypatch.setattr(conv, "threaded", lambda: True)
    conv.forward(xp, x, w, None, window)
    conv.backward(xp, x, np.ones((4, 8, 6, 5), np.float32), w, window)
    assert seen == [4 * 6 * 5 * 8 * 3 * 9] * 2   # images · positions · O · C · taps


def test_an_unshared_pass_runs_on_one_blas_thread_unless_it_is_large_and_alone(
        two_blas_threads, monkeypatch):
    counts, forward_images = [], conv._forward_images

    def counting(*args):
        counts.append(two_blas_threads())
        return forward_images(*args)
    monkeypatch.setattr(conv, "_forward_images", counting)
    monkeypatch.setattr(conv, "threaded", lambda: True)
    monkeypatch.setattr(batch_split, "concurrent_parts", lambda xp, x, multiply_adds: 1)
    x, w, b = operands(4, WINDOWS[0], np.float32)
    y = conv.forward(xp, x, w, b, WINDOWS[0])   # far below SHARE_FROM: one thread
    monkeypatch.setattr(batch_split, "SHARE_FROM", 0)
    np.testing.assert_allclose(conv.forward(xp, x, w, b, WINDOWS[0]), y, **tolerance(np.float32))
    threads.take_the_cores()   # as after another convolution's shared pass
    np.testing.assert_allclose(conv.forward(xp, x, w, b, WINDOWS[0]), y, **tolerance(np.float32))
    # a large pass that cannot share (here: sharing refused) uses OpenBLAS's threads, unless
    # the pool owns the cores
    assert counts == [1, 2, 1] and two_blas_threads() == 2


def test_sharing_is_on_by_default():
    assert batch_split.SHARE_THE_BATCH


@pytest.mark.parametrize("case", [
    Case("conv2d", lambda x, w, b: C.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
         [leaf(3, 2, 6, 7), leaf(3, 2, 3, 3), leaf(3)], name="strided, dilated, odd batch"),
    Case("conv2d", lambda x, w: C.conv2d(x, w, padding="same", groups=2),
         [noncontiguous(3, 4, 5, 4), leaf(4, 2, 2, 3)], name="groups, non-contiguous"),
    Case("conv2d", lambda x, w, b: C.conv2d(x, w, b, padding=1),
         [leaf(2, 2, 4, 5), leaf(3, 2, 3, 3), leaf(3)], name="row-shifted forward"),
], ids=repr)
def test_conv2d_gradcheck_with_its_passes_shared(case, monkeypatch):
    monkeypatch.setattr(shifted_rows, "MIN_CHANNELS", 1)
    monkeypatch.setattr(shifted_rows, "MIN_POSITIONS", 1)
    shared(monkeypatch, 2)
    case.check()


def test_a_cnns_step_with_the_pool_owning_the_cores_computes_what_one_thread_computes(
        two_blas_threads, monkeypatch):
    """Two threads, nothing patched but the thresholds: the convolution shares its batch, which
    hands the cores to the pool; the Linear layer's products are then cut between the pool's
    threads, and the gradients are those of one thread."""
    import tapegrad as tg
    rng = np.random.default_rng(11)
    x0 = rng.standard_normal((4, 3, 6, 6))

    def gradients():
        tg.manual_seed(0)
        model = tg.nn.Sequential(tg.nn.Conv2d(3, 4, 3, padding=1, dtype=tg.float64),
                                 tg.nn.ReLU(), tg.nn.Flatten(),
                                 tg.nn.Linear(4 * 6 * 6, 5, dtype=tg.float64))
        x = tg.tensor(x0, requires_grad=True)
        model(x).pow(2).sum().backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]

    monkeypatch.setattr(numba, "get_num_threads", lambda: 1)
    expected = gradients()
    assert not threads.pool_owns_the_cores()
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(batch_split, "SHARE_FROM", 0)
    monkeypatch.setattr(blas_threads, "POOL_SPLIT_ABOVE", 0)
    monkeypatch.setattr(threads, "POOL_MIN_ELEMENTS", 0)
    cuts = []
    split = threads.split
    def watched(kernel, count, parts, *args):
        cuts.append(getattr(kernel, "__name__", ""))
        return split(kernel, count, parts, *args)
    monkeypatch.setattr(threads, "split", watched)
    monkeypatch.setattr(batch_split, "split", watched)
    got = gradients()
    assert threads.pool_owns_the_cores()
    assert {"shares", "rows"} <= set(cuts)   # shared convolutions, products cut by rows
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
