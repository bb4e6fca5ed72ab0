"""The recurrent layers' time loops (tapegrad/kernels/recurrence.py).

The LSTM loop on numba (numba loops around numpy's exp and tanh) is checked against the
plain array loop it stands in for, forwards and backwards, in both float dtypes, in both
directions, with and without an initial state, at pre-activations large enough to
overflow e^{-z}, with a NaN that must spread, and near 0, where float32 must keep its
relative precision.
"""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kernels import recurrence

xp = tg.from_numpy(np.zeros(1)).device.xp
rng = np.random.default_rng(5)

STEPS, BATCH, HIDDEN = 4, 3, 5


def lstm_both_ways(p, w_hh, h0, c0, reverse, grad_out, grad_h, grad_c, numba_loop, monkeypatch):
    """(forward results, backward results) of the LSTM loop, on numba or on plain arrays."""
    if not numba_loop:
        monkeypatch.setattr(recurrence, "_numba", lambda *arrays: False)
    h, c, act, tanh_c = recurrence.lstm_forward(xp, p, w_hh, h0, c0, reverse)
    grads = recurrence.lstm_backward(xp, grad_out, grad_h, grad_c, w_hh, h, c, act, tanh_c,
                                     reverse, True, True)
    monkeypatch.undo()
    return (h, c, act, tanh_c), grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_state", [True, False], ids=["h0-c0", "zero-state"])
def test_lstm_loop_on_numba_equals_the_plain_array_loop(dtype, reverse, with_state, monkeypatch):
    p = rng.standard_normal((STEPS, BATCH, 4 * HIDDEN)).astype(dtype)
    p[0, 0, :] = 100.0        # saturated gates: e^{-z} underflows to 0
    p[1, 1, :] = -100.0       # e^{-z} overflows float32 (σ = 0), e^{-2z} too: tanh = -1
    w_hh = (0.5 * rng.standard_normal((4 * HIDDEN, HIDDEN))).astype(dtype)
    h0 = rng.standard_normal((BATCH, HIDDEN)).astype(dtype) if with_state else None
    c0 = rng.standard_normal((BATCH, HIDDEN)).astype(dtype) if with_state else None
    grad_out = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(dtype)
    grad_h, grad_c = (rng.standard_normal((BATCH, HIDDEN)).astype(dtype) for _ in range(2))
    args = (p, w_hh, h0, c0, reverse, grad_out, grad_h, grad_c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the overflow of e^{-z} is expected, not reported
        fast_forward, fast_backward = lstm_both_ways(*args, True, monkeypatch)
    with np.errstate(over="ignore"):   # (the plain loop's σ reports the overflow)
        plain_forward, plain_backward = lstm_both_ways(*args, False, monkeypatch)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    for fast, plain in zip(fast_forward + fast_backward, plain_forward + plain_backward):
        assert fast.dtype == dtype
        np.testing.assert_allclose(fast, plain, rtol=tol, atol=tol)
    act = fast_forward[2]   # step 1, sample 1 (z = -100 + h W_hhᵀ, h of |values| < 1)
    assert np.all(act[1, 1, :2 * HIDDEN] < 1e-30)             # σ(z) ≈ 0 (0 in float32)
    assert np.all(act[1, 1, 2 * HIDDEN:3 * HIDDEN] == -1)     # tanh(z) = -1


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
