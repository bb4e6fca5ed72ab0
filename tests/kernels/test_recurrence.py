"""The recurrent layers' time loops (tapegrad/kernels/recurrence.py).

An LSTM loop runs one of three ways: whole inside numba, a range of the batch's rows per
thread (float32, cpu/recurrent_rows.py); a numba loop per step around numpy's exp and tanh
(float64, or where numpy's BLAS cannot be called from numba); plain array calls (cupy). The
first two are checked against the plain loop they stand in for, forwards and backwards, in
both directions, with and without an initial state, at pre-activations large enough to
overflow e^{-z}, with a NaN that must spread, and near 0, where float32 must keep its
relative precision; the rows cut between threads against one range.
"""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kernels import recurrence
from tapegrad.kernels.cpu import blas_calls, threads

xp = tg.from_numpy(np.zeros(1)).device.xp
rng = np.random.default_rng(5)

STEPS, BATCH, HIDDEN = 4, 3, 5
LOOPS = ["whole in numba", "numba steps", "plain arrays"]


def use_loop(loop, monkeypatch):
    """Make recurrence.py take ``loop`` (one of LOOPS)."""
    if loop != "whole in numba":
        monkeypatch.setattr(recurrence, "_whole_in_numba", lambda *arrays: False)
    if loop == "plain arrays":
        monkeypatch.setattr(recurrence, "_numba", lambda *arrays: False)


def lstm_both_ways(p, w_hh, h0, c0, reverse, grad_out, grad_h, grad_c, loop, monkeypatch):
    """(forward results, backward results) of the LSTM loop, run the way ``loop`` names."""
    use_loop(loop, monkeypatch)
    h, c, act, tanh_c = recurrence.lstm_forward(xp, p, w_hh, h0, c0, reverse)
    grads = recurrence.lstm_backward(xp, grad_out, grad_h, grad_c, w_hh, h, c, act, tanh_c,
                                     reverse, True, True)
    monkeypatch.undo()
    return (h, c, act, tanh_c), grads


def lstm_arguments(dtype, with_state, batch=BATCH):
    p = rng.standard_normal((STEPS, batch, 4 * HIDDEN)).astype(dtype)
    p[0, 0, :] = 100.0        # saturated gates: e^{-z} underflows to 0
    p[1, 1, :] = -100.0       # e^{-z} overflows float32 (σ = 0), e^{-2z} too: tanh = -1
    w_hh = (0.5 * rng.standard_normal((4 * HIDDEN, HIDDEN))).astype(dtype)
    h0 = rng.standard_normal((batch, HIDDEN)).astype(dtype) if with_state else None
    c0 = rng.standard_normal((batch, HIDDEN)).astype(dtype) if with_state else None
    grad_out = rng.standard_normal((STEPS, batch, HIDDEN)).astype(dtype)
    grad_h, grad_c = (rng.standard_normal((batch, HIDDEN)).astype(dtype) for _ in range(2))
    return p, w_hh, h0, c0, grad_out, grad_h, grad_c


def test_float32_lstm_loops_run_whole_in_numba_where_blas_can_be_called():
    if blas_calls.gemm(np.dtype(np.float32)) is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS numba can call here")
    p, w_hh, h0, c0, *_ = lstm_arguments(np.float32, True)
    assert recurrence._whole_in_numba(xp, p, w_hh, h0, c0)
    assert not recurrence._whole_in_numba(xp, p.astype(np.float64), w_hh.astype(np.float64),
                                          None, None)
    assert not recurrence._whole_in_numba(xp, p[:, :0], w_hh, None, None)   # an empty batch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_state", [True, False], ids=["h0-c0", "zero-state"])
@pytest.mark.parametrize("loop", LOOPS[:2])
def test_lstm_loops_on_numba_equal_the_plain_array_loop(loop, dtype, reverse, with_state,
                                                        monkeypatch):
    p, w_hh, h0, c0, grad_out, grad_h, grad_c = lstm_arguments(dtype, with_state)
    args = (p, w_hh, h0, c0, reverse, grad_out, grad_h, grad_c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the overflow of e^{-z} is expected, not reported
        fast_forward, fast_backward = lstm_both_ways(*args, loop, monkeypatch)
    with np.errstate(over="ignore"):   # (the plain loop's σ reports the overflow)
        plain_forward, plain_backward = lstm_both_ways(*args, "plain arrays", monkeypatch)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    for fast, plain in zip(fast_forward + fast_backward, plain_forward + plain_backward):
        assert fast.dtype == dtype
        np.testing.assert_allclose(fast, plain, rtol=tol, atol=tol)
    act = fast_forward[2]   # step 1, sample 1 (z = -100 + h W_hhᵀ, h of |values| < 1)
    assert np.all(act[1, 1, :2 * HIDDEN] < 1e-30)             # σ(z) ≈ 0 (0 in float32)
    assert np.all(act[1, 1, 2 * HIDDEN:3 * HIDDEN] == -1)     # tanh(z) = -1


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("thread_count", [2, 3])
def test_an_lstm_loop_cut_into_ranges_of_rows_equals_one_range(thread_count, reverse,
                                                             monkeypatch):
    """13 rows: ranges of 6 and 7 rows for 2 threads, of 4, 4 and 5 for 3; a row's products,
    gates and states are those of one range (to float32 rounding: BLAS may block a product
    of 4 rows differently from one of 13)."""
    p, w_hh, h0, c0, grad_out, grad_h, grad_c = lstm_arguments(np.float32, True, batch=13)
    args = (p, w_hh, h0, c0, reverse, grad_out, grad_h, grad_c)
    monkeypatch.setattr(threads, "thread_count", lambda: 1)
    one_forward, one_backward = lstm_both_ways(*args, "whole in numba", monkeypatch)
    ranges = []
    split = threads.split
    monkeypatch.setattr(threads, "split",
                        lambda kernel, count, parts, *a: (ranges.append(parts),
                                                          split(kernel, count, parts, *a)))
    monkeypatch.setattr(threads, "thread_count", lambda: thread_count)
    use_loop("whole in numba", monkeypatch)
    h, c, act, tanh_c = recurrence.lstm_forward(xp, p, w_hh, h0, c0, reverse)
    assert threads.pool_owns_the_cores()    # a loop cut between threads took them
    backward = recurrence.lstm_backward(xp, grad_out, grad_h, grad_c, w_hh, h, c, act, tanh_c,
                                        reverse, True, True)
    monkeypatch.undo()
    assert ranges[:2] == [thread_count, thread_count]
    for cut, whole in zip((h, c, act, tanh_c) + backward, one_forward + one_backward):
        np.testing.assert_allclose(cut, whole, rtol=1e-6, atol=1e-6)


def test_a_batch_too_small_to_cut_runs_as_one_range(monkeypatch):
    p, w_hh, *_ = lstm_arguments(np.float32, False, batch=7)   # 7 // 4 = 1 range
    monkeypatch.setattr(threads, "thread_count", lambda: 2)
    recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    assert not threads.pool_owns_the_cores()


def test_without_a_callable_blas_float32_loops_take_the_numba_steps(monkeypatch):
    p, w_hh, *_ = lstm_arguments(np.float32, False)
    whole = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    monkeypatch.setattr(blas_calls, "_found", {"float32": None})
    assert not recurrence._whole_in_numba(xp, p, w_hh)
    steps = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    for a, b in zip(whole, steps):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)


def test_a_nan_pre_activation_spreads_through_the_numba_loop():
    p = rng.standard_normal((STEPS, BATCH, 4 * HIDDEN)).astype(np.float32)
    p[1, 2, 2 * HIDDEN] = np.nan   # a g gate
    w_hh = rng.standard_normal((4 * HIDDEN, HIDDEN)).astype(np.float32)
    h, c, _, _ = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    assert np.isnan(c[2, 2, 0]) and np.isnan(h[STEPS, 2]).all()   # W_hh mixes it into h
    assert not np.isnan(h[:, :2]).any()                               # other samples untouched


def test_small_pre_activations_keep_float32_relative_precision():
    """tanh z near 0 is about z: computed as 2σ(2z) - 1 it would keep only float32's absolute
    precision, 1e-3 relative error in h at pre-activations of 1e-2 (numpy's tanh: 5e-6)."""
    p = 1e-3 * rng.standard_normal((STEPS, BATCH, 4 * HIDDEN))
    w_hh = 1e-3 * rng.standard_normal((4 * HIDDEN, HIDDEN))
    exact = recurrence.lstm_forward(xp, p, w_hh, None, None, False)[0]
    h = recurrence.lstm_forward(xp, p.astype(np.float32), w_hh.astype(np.float32), None, None,
                                False)[0]
    np.testing.assert_allclose(h[1:], exact[1:], rtol=1e-4)


# -- GRU ------------------------------------------------------------------------------------
def gru_both_ways(p, w_hh, b_hh, h0, reverse, grad_out, grad_h, loop, monkeypatch):
    """(forward results, backward results) of the GRU loop, run the way ``loop`` names."""
    use_loop(loop, monkeypatch)
    h, q, act = recurrence.gru_forward(xp, p, w_hh, b_hh, h0, reverse)
    grads = recurrence.gru_backward(xp, grad_out, grad_h, w_hh, b_hh is not None, h, q, act,
                                    reverse, True)
    monkeypatch.undo()
    return (h, q, act), tuple(g for g in grads if g is not None)


def gru_arguments(with_bias, with_state, batch=BATCH):
    dtype = np.float32
    p = rng.standard_normal((STEPS, batch, 3 * HIDDEN)).astype(dtype)
    p[0, 0, :] = 100.0        # saturated gates
    p[1, 1, :] = -100.0
    w_hh = (0.5 * rng.standard_normal((3 * HIDDEN, HIDDEN))).astype(dtype)
    b_hh = rng.standard_normal(3 * HIDDEN).astype(dtype) if with_bias else None
    h0 = rng.standard_normal((batch, HIDDEN)).astype(dtype) if with_state else None
    grad_out = rng.standard_normal((STEPS, batch, HIDDEN)).astype(dtype)
    grad_h = rng.standard_normal((batch, HIDDEN)).astype(dtype)
    return p, w_hh, b_hh, h0, grad_out, grad_h


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_state", [True, False], ids=["h0", "zero-state"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("loop", LOOPS[:2])
def test_float32_gru_loops_on_numba_equal_the_plain_array_loop(loop, with_bias, with_state,
                                                               reverse, monkeypatch):
    p, w_hh, b_hh, h0, grad_out, grad_h = gru_arguments(with_bias, with_state)
    args = (p, w_hh, b_hh, h0, reverse, grad_out, grad_h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow reported at the saturated gates
        fast_forward, fast_backward = gru_both_ways(*args, loop, monkeypatch)
    with np.errstate(over="ignore"):
        plain_forward, plain_backward = gru_both_ways(*args, "plain arrays", monkeypatch)
    assert len(fast_backward) == len(plain_backward) == (4 if with_bias else 3)
    for fast, plain in zip(fast_forward + fast_backward, plain_forward + plain_backward):
        assert fast.dtype == np.float32
        np.testing.assert_allclose(fast, plain, rtol=2e-6, atol=2e-6)


def test_a_nan_spreads_through_the_gru_loop_whole_in_numba():
    p, w_hh, b_hh, h0, *_ = gru_arguments(True, True)
    p[1, 2, 2 * HIDDEN] = np.nan   # an n gate
    h, _, _ = recurrence.gru_forward(xp, p, w_hh, b_hh, h0, False)
    assert np.isnan(h[2, 2, 0]) and np.isnan(h[STEPS, 2]).all()
    assert not np.isnan(h[:, :2]).any()


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_a_gru_loop_cut_into_ranges_of_rows_equals_one_range(reverse, monkeypatch):
    p, w_hh, b_hh, h0, grad_out, grad_h = gru_arguments(True, True, batch=13)
    args = (p, w_hh, b_hh, h0, reverse, grad_out, grad_h)
    monkeypatch.setattr(threads, "thread_count", lambda: 1)
    one_forward, one_backward = gru_both_ways(*args, "whole in numba", monkeypatch)
    monkeypatch.setattr(threads, "thread_count", lambda: 3)
    cut_forward, cut_backward = gru_both_ways(*args, "whole in numba", monkeypatch)
    for cut, whole in zip(cut_forward + cut_backward, one_forward + one_backward):
        np.testing.assert_allclose(cut, whole, rtol=1e-6, atol=1e-6)


# -- a hidden size of 1 ----------------------------------------------------------------------
def one_row_views(gates):
    """W_hh of a hidden size of 1, (gates, 1): its data on a 64-byte boundary (so that the
    loops use W_hhᵀ as it is, without an aligned copy), and at an address 4 bytes past one.
    numpy gives a dimension of length 1 any stride: W_hhᵀ, (1, gates), then has rows 1
    element apart, a leading dimension below the width, which gemm refuses."""
    flat = np.empty(gates + 32, np.float32)
    start = (-flat.ctypes.data % 64) // 4
    views = [flat[start:start + gates].reshape(gates, 1),
             flat[start + 1:start + 1 + gates].reshape(gates, 1)]
    flat[:] = 0.5 * rng.standard_normal(flat.size)
    assert views[0].T.strides == (4, 4) and views[0].ctypes.data % 64 == 0
    return views


@pytest.mark.parametrize("layout", [0, 1], ids=["aligned", "unaligned"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_a_hidden_size_of_1_runs_whole_in_numba_as_the_plain_loop(layout, reverse, monkeypatch):
    batch = 6
    p = rng.standard_normal((STEPS, batch, 4)).astype(np.float32)
    h0, c0, grad_h, grad_c = (rng.standard_normal((batch, 1)).astype(np.float32)
                              for _ in range(4))
    grad_out = rng.standard_normal((STEPS, batch, 1)).astype(np.float32)
    w_hh = one_row_views(4)[layout]
    args = (p, w_hh, h0, c0, reverse, grad_out, grad_h, grad_c)
    fast = lstm_both_ways(*args, "whole in numba", monkeypatch)
    plain = lstm_both_ways(*args, "plain arrays", monkeypatch)
    for a, b in zip(fast[0] + fast[1], plain[0] + plain[1]):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)

    p = rng.standard_normal((STEPS, batch, 3)).astype(np.float32)
    w_hh, b_hh = one_row_views(3)[layout], rng.standard_normal(3).astype(np.float32)
    args = (p, w_hh, b_hh, h0, reverse, grad_out, grad_h)
    fast = gru_both_ways(*args, "whole in numba", monkeypatch)
    plain = gru_both_ways(*args, "plain arrays", monkeypatch)
    for a, b in zip(fast[0] + fast[1], plain[0] + plain[1]):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)
