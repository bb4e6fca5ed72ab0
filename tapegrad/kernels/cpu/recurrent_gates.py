"""The elementwise part of a GRU step, after its matrix products (numba).

From p = W_ih x + b_ih and q = W_hh h + b_hh (N, 3H each) and the state h:

    r = σ(p_r + q_r);  z = σ(p_z + q_z);  n = tanh(p_n + r·q_n);  h' = (1 - z)·n + z·h

Composed from tensor operations a step is 12 recorded operations, each
a pass over memory; here it is one loop forwards and one backwards. The activations are
kept (``act``) so the backward recomputes no exponential. σ(x) = 1/(1 + e^{-x}) and
tanh x = 2σ(2x) - 1 are written with exp: numba's own tanh is several times slower.
(The LSTM's gates, with five exponentials per element, run faster as numpy array code on
its vectorised exp: ``kernels/fused.py``.)
"""
import math

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, nogil=True, inline="always")
def _tanh(x):
    return 1.0 - 2.0 / (math.exp(2.0 * x) + 1.0)


@njit(cache=True, nogil=True)
def gru_forward(p, q, has_q, h, has_h, act, h_out):
    """Fills act = [r, z, n] (N, 3H) and h' (N, H); without q (no state, no bias) r is unused."""
    rows, width = p.shape
    hidden = width // 3
    for k in range(rows):
        for j in range(hidden):
            if has_q:
                r = _sigmoid(p[k, j] + q[k, j])
                z = _sigmoid(p[k, hidden + j] + q[k, hidden + j])
                n = _tanh(p[k, 2 * hidden + j] + r * q[k, 2 * hidden + j])
            else:
                r = 0.0
                z = _sigmoid(p[k, hidden + j])
                n = _tanh(p[k, 2 * hidden + j])
            act[k, j], act[k, hidden + j], act[k, 2 * hidden + j] = r, z, n
            out = n - z * n
            if has_h:
                out += z * h[k, j]
            h_out[k, j] = out


@njit(cache=True, nogil=True)
def gru_backward(grad, act, q, has_q, h, has_h, dp, dq, dh):
    """dp, dq (N, 3H) and dh (N, H) from the gradient of h'."""
    rows, width = act.shape
    hidden = width // 3
    for k in range(rows):
        for j in range(hidden):
            r, z, n = act[k, j], act[k, hidden + j], act[k, 2 * hidden + j]
            g = grad[k, j]
            state = h[k, j] if has_h else 0.0
            dn = g * (1.0 - z) * (1.0 - n * n)
            dz = g * (state - n) * z * (1.0 - z)
            dp[k, 2 * hidden + j] = dn
            dp[k, hidden + j] = dz
            if has_q:
                dr = dn * q[k, 2 * hidden + j] * r * (1.0 - r)
                dp[k, j] = dr
                dq[k, j] = dr
                dq[k, hidden + j] = dz
                dq[k, 2 * hidden + j] = dn * r
            else:
                dp[k, j] = 0.0
            if has_h:
                dh[k, j] = g * z
