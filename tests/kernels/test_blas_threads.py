"""numpy's BLAS held to one thread where a second does not pay
(tapegrad/kernels/cpu/blas_threads.py).

Where numpy's BLAS is an OpenBLAS with its thread switch (numpy's own wheels), the switch
is found; inside ``one_thread`` the products run on one thread and afterwards on as many as
before, also when the block raises; a loop of kernels/recurrence.py leaves the count as it
found it and computes what it computes on one thread. ``matmul`` runs a thin product below
its size on one thread and every other on all of them, gives numpy's product either way,
and leaves the count as it found it, also when the product fails. While tapegrad's pool owns
the cores (threads.py), ``matmul`` runs every product with OpenBLAS on one thread, and
from its threshold on cuts a matrix's rows or a batch's matrices between the pool's
threads: numpy's product still, to rounding, with the count restored. (Who owns the
cores when is tests/kernels/test_threads.py's and test_batch_split.py's.) Elsewhere these
tests are skipped (but one: without a switch, ``matmul`` is numpy's product).
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kernels import recurrence
from tapegrad.kernels.cpu import blas_threads, threads

xp = tg.from_numpy(np.zeros(1)).device.xp


def _switch_or_skip():
    found = blas_threads.switch()
    if found is None:
        pytest.skip("numpy's BLAS has no OpenBLAS thread switch here")
    return found


def test_one_thread_inside_and_the_count_restored_after(two_blas_threads):
    with blas_threads.one_thread():
        assert two_blas_threads() == 1
    assert two_blas_threads() == 2
    with pytest.raises(ZeroDivisionError):
        with blas_threads.one_thread():
            1 / 0
    assert two_blas_threads() == 2


def test_one_thread_changes_nothing_when_there_is_one_already():
    set_threads, get_threads = _switch_or_skip()
    before = get_threads()
    set_threads(1)
    try:
        with blas_threads.one_thread():
            assert get_threads() == 1
        assert get_threads() == 1
    finally:
        set_threads(before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32],
                         ids=["numba steps", "whole in numba"])
def test_a_time_loop_on_one_thread_computes_the_same_and_restores_the_count(dtype,
                                                                          two_blas_threads,
                                                                          monkeypatch):
    """A float64 loop's products are numpy calls, each seen here; a float32 loop runs whole
    inside numba (cpu/recurrent_rows.py), its count seen as the loop starts."""
    counts, matmul, split = [], xp.matmul, threads.split

    def counting_matmul(*args, **kwargs):
        counts.append(two_blas_threads())
        return matmul(*args, **kwargs)

    def counting_split(*args):
        counts.append(two_blas_threads())
        return split(*args)
    monkeypatch.setattr(xp, "matmul", counting_matmul)
    monkeypatch.setattr(threads, "split", counting_split)
    rng = np.random.default_rng(0)
    p = rng.standard_normal((6, 4, 4 * 8)).astype(dtype)
    w_hh = rng.standard_normal((4 * 8, 8)).astype(dtype)
    grad_out = rng.standard_normal((6, 4, 8)).astype(dtype)
    forward = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    backward = recurrence.lstm_backward(xp, grad_out, None, None, w_hh, *forward, False, False,
                                        False)
    assert two_blas_threads() == 2
    # the steps' products on one thread; the weight gradient's, after the loop, on both
    assert counts[:-1] == [1] * (len(counts) - 1) and counts[-1] == 2 and len(counts) >= 3
    two_threads_results = [a.copy() for a in forward + backward[:2]]
    blas_threads.switch()[0](1)
    forward = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    backward = recurrence.lstm_backward(xp, grad_out, None, None, w_hh, *forward, False, False,
                                        False)
    for a, b in zip(forward + backward[:2], two_threads_results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


# -- each product on as many threads as pay for its size -------------------------------------
def test_a_small_thin_product_runs_on_one_thread_the_others_on_all(two_blas_threads, monkeypatch):
    seen, matmul = [], np.matmul

    def counting_matmul(a, b, *args, **kwargs):
        seen.append(two_blas_threads())
        return matmul(a, b, *args, **kwargs)
    monkeypatch.setattr(xp, "matmul", counting_matmul)
    monkeypatch.setattr(blas_threads, "SPLIT_ABOVE", 100)
    monkeypatch.setattr(blas_threads, "ONE_THREAD_BELOW", 2000)
    monkeypatch.setattr(blas_threads, "THIN_SIDE", 4)
    rng = np.random.default_rng(0)
    cases = [((4, 5), (5, 4), 2),      #   80 multiply-adds: BLAS keeps it on one thread itself
             ((4, 20), (20, 20), 1),   # 1600, thin (4 rows): one thread
             ((20, 4), (4, 20), 1),    # 1600, thin (4 inner): one thread
             ((10, 10), (10, 11), 2),  # 1100, no side of 4 or fewer: all threads
             ((4, 25), (25, 25), 2),   # 2500, thin but large enough: all threads
             ((3, 4, 20), (3, 20, 20), 1)]   # a batch: each product counts
    for a_shape, b_shape, count in cases:
        a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
        np.testing.assert_array_equal(blas_threads.matmul(xp, a, b), a @ b)
        assert seen.pop() == count, (a_shape, b_shape)
    assert two_blas_threads() == 2


def test_the_count_is_restored_when_a_product_fails(two_blas_threads, monkeypatch):
    monkeypatch.setattr(blas_threads, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(blas_threads, "ONE_THREAD_BELOW", 1000)
    with pytest.raises(ValueError):
        blas_threads.matmul(xp, np.zeros((2, 3)), np.zeros((4, 5)))
    assert two_blas_threads() == 2


def test_one_thread_product_is_left_alone_when_there_is_one_thread(monkeypatch):
    set_threads, get_threads = _switch_or_skip()
    before = get_threads()
    set_threads(1)
    try:
        a = np.arange(6.0).reshape(2, 3)
        np.testing.assert_array_equal(blas_threads.matmul(xp, a, a.T), a @ a.T)
        assert get_threads() == 1
    finally:
        set_threads(before)


def test_without_a_switch_every_product_is_numpys_own(monkeypatch):
    monkeypatch.setattr(blas_threads, "_switch", [None])
    monkeypatch.setattr(blas_threads, "_thread_count", None)
    monkeypatch.setattr(blas_threads, "SPLIT_ABOVE", 0)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(blas_threads.matmul(xp, a, a.T), a @ a.T)
    assert blas_threads._thread_count() == 1


@pytest.mark.parametrize("shapes", [((16, 784), (784, 256)), ((256, 16), (16, 784)),
                                    ((4, 64, 32), (4, 32, 64)), ((64, 32), (3, 32, 5)),
                                    ((7,), (7, 3)), ((3, 7), (7,))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_equal_numpys_product_at_any_threshold(two_blas_threads, monkeypatch, shapes, dtype):
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    transposed = rng.standard_normal(shapes[1][::-1]).astype(dtype).T   # a transposed view
    # (one thread and two sum in different orders: float32 agrees to its rounding over k terms)
    close = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-10)
    monkeypatch.setattr(blas_threads, "SPLIT_ABOVE", 0)
    for threshold in (0, 10**12):
        monkeypatch.setattr(blas_threads, "ONE_THREAD_BELOW", threshold)
        np.testing.assert_allclose(blas_threads.matmul(xp, a, b), a @ b, **close)
        np.testing.assert_allclose(blas_threads.matmul(xp, a, transposed), a @ transposed, **close)
    assert two_blas_threads() == 2


@pytest.mark.parametrize("one_thread_below", [0, 10**12])
def test_a_linear_layers_gradients_are_the_same_whichever_way_its_products_run(
        two_blas_threads, monkeypatch, one_thread_below):
    rng = np.random.default_rng(3)
    x0, w0, b0, g0 = (rng.standard_normal(s) for s in ((24, 40), (16, 40), (16,), (24, 16)))

    def gradients():
        x, w, b = (tg.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        tg.nn.functional.linear(x, w, b).backward(tg.tensor(g0))
        return x.grad.numpy(), w.grad.numpy(), b.grad.numpy()
    expected = (g0 @ w0, g0.T @ x0, g0.sum(0))
    monkeypatch.setattr(blas_threads, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(blas_threads, "ONE_THREAD_BELOW", one_thread_below)
    for got, want in zip(gradients(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert got.flags.c_contiguous   # W's gradient in W's own layout, as the plain path
    assert two_blas_threads() == 2


# -- once tapegrad's pool owns the cores ----------------------------------------------------
def _pool_product(two_blas_threads, monkeypatch, threshold):
    """blas_threads.matmul with the pool owning the cores and splitting from ``threshold``
    multiply-adds; gives it and a list of (OpenBLAS's count, rows) of each block's product."""
    monkeypatch.setattr(threads, "pool_owns_the_cores", lambda: True)
    monkeypatch.setattr(blas_threads, "POOL_SPLIT_ABOVE", threshold)
    monkeypatch.setattr(blas_threads.numba, "get_num_threads", lambda: 2)
    blocks, matmul = [], np.matmul

    def recording_matmul(a, b, *args, **kwargs):
        blocks.append((two_blas_threads(), a.shape[-2] if a.ndim == 2 else a.shape[0]))
        return matmul(a, b, *args, **kwargs)
    monkeypatch.setattr(xp, "matmul", recording_matmul)
    return blocks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_pool_cuts_a_matrixs_rows_into_blocks_and_gives_numpys_product(two_blas_threads, monkeypatch,
                                                                            dtype):
    blocks = _pool_product(two_blas_threads, monkeypatch, 1000)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((65, 40)).astype(dtype)
    b = rng.standard_normal((30, 40)).astype(dtype).T   # a transposed view
    product = blas_threads.matmul(xp, a, b)
    assert sorted(blocks) == [(1, 32), (1, 33)]   # two blocks of rows, each on one BLAS thread
    assert product.dtype == dtype and product.flags.c_contiguous
    assert two_blas_threads() == 2
    close = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(product, a @ b, **close)


@pytest.mark.parametrize("parts", [2, 3])
def test_the_pool_cuts_the_inner_dimension_where_it_is_the_longest(two_blas_threads,
                                                                   monkeypatch, parts):
    """A weight gradient's shape, (12, 101) @ (101, 9): the 101 terms of the sum cut into
    50 + 51 (or 33 + 34 + 34), each block's product on one BLAS thread, the sums added."""
    _pool_product(two_blas_threads, monkeypatch, 1000)
    monkeypatch.setattr(blas_threads.numba, "get_num_threads", lambda: parts)
    seen, matmul = [], np.matmul

    def recording_matmul(a, b, *args, **kwargs):
        seen.append((two_blas_threads(), a.shape[1]))
        return matmul(a, b, *args, **kwargs)
    monkeypatch.setattr(xp, "matmul", recording_matmul)
    rng = np.random.default_rng(8)
    a = rng.standard_normal((101, 12)).T     # a transposed view, as δᵀ is
    b = rng.standard_normal((101, 9))
    product = blas_threads.matmul(xp, a, b)
    assert sorted(seen) == [(1, n) for n in ([50, 51] if parts == 2 else [33, 34, 34])]
    assert two_blas_threads() == 2
    np.testing.assert_allclose(product, a @ b, rtol=1e-12, atol=1e-12)


def test_the_pool_cuts_a_batch_into_its_matrices(two_blas_threads, monkeypatch):
    blocks = _pool_product(two_blas_threads, monkeypatch, 1000)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((5, 8, 16)), rng.standard_normal((5, 16, 12))
    product = blas_threads.matmul(xp, a, b)
    assert sorted(blocks) == [(1, 2), (1, 3)]   # matrices 0-1 and 2-4
    np.testing.assert_allclose(product, a @ b, rtol=1e-12, atol=1e-12)
    assert two_blas_threads() == 2


@pytest.mark.parametrize("a_shape, b_shape, why", [
    ((4, 5), (5, 4), "below the threshold"),
    ((1, 400), (400, 400), "one row, two threads"),
    ((3, 40, 40), (40, 40), "a batch beside a matrix"),
    ((2, 2, 20, 20), (2, 2, 20, 20), "two batch axes"),
])
def test_what_the_pool_does_not_cut_runs_whole_on_one_blas_thread(
        two_blas_threads, monkeypatch, a_shape, b_shape, why):
    blocks = _pool_product(two_blas_threads, monkeypatch, 1000)
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    np.testing.assert_allclose(blas_threads.matmul(xp, a, b), a @ b, rtol=1e-12, atol=1e-12)
    assert len(blocks) == 1 and blocks[0][0] == 1, why
    assert two_blas_threads() == 2


def test_the_pool_does_not_cut_a_product_of_two_dtypes(two_blas_threads, monkeypatch):
    blocks = _pool_product(two_blas_threads, monkeypatch, 0)
    a, b = np.ones((40, 40), np.float32), np.ones((40, 40))
    product = blas_threads.matmul(xp, a, b)
    assert product.dtype == np.float64 and len(blocks) == 1   # numpy's promotion, whole


def test_an_error_in_a_pools_block_reaches_the_caller_with_the_count_restored(
        two_blas_threads, monkeypatch):
    _pool_product(two_blas_threads, monkeypatch, 0)
    with pytest.raises(ValueError):
        blas_threads.matmul(xp, np.zeros((4, 3)), np.zeros((5, 2)))
    assert two_blas_threads() == 2


def test_the_lstms_weight_gradient_goes_through_the_pool(two_blas_threads, monkeypatch):
    blocks = _pool_product(two_blas_threads, monkeypatch, 1000)
    rng = np.random.default_rng(7)
    # T = 6 steps of a batch of 4: δ (T, 4, 4·8), the states h_0 … h_T (T + 1, 4, 8)
    delta, states = rng.standard_normal((6, 4, 32)), rng.standard_normal((7, 4, 8))
    gradient = recurrence._weight_gradient(xp, delta, states, False)
    assert [count for count, _ in blocks] == [1, 1]
    previous = states[:-1]
    np.testing.assert_allclose(gradient, delta.reshape(-1, 32).T @ previous.reshape(-1, 8),
                               rtol=1e-12, atol=1e-12)
