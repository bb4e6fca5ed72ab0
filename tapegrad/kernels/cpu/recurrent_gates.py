"""The elementwise part of an LSTM or GRU step, after its matrix products (numba).

LSTM, from the pre-activations z = [z_i, z_f, z_g, z_o] (N, 4H) and the cell state c:

    i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g);  c' = f·c + i·g;  h' = o·tanh(c')

GRU, from p = W_ih x + b_ih and q = W_hh h + b_hh (N, 3H each) and the state h:

    r = σ(p_r + q_r);  z = σ(p_z + q_z);  n = tanh(p_n + r·q_n);  h' = (1 - z)·n + z·h

Composed from tensor operations a step is 10 (LSTM) or 12 (GRU) recorded operations, each
a pass over memory; here it is one loop forwards and one backwards. The activations are
kept (``act``) so the backward recomputes no exponential. σ(x) = 1/(1 + e^{-x}) and
tanh x = 2σ(2x) - 1 are written with exp: numba's own tanh is several times slower.
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
def lstm_forward(z, c, has_c, act, h_out, c_out, tanh_c):
    """Fills act = [i, f, g, o] (N, 4H), h' and c' (N, H), and tanh(c')."""
    rows, width = z.shape
    hidden = width // 4
    for n in range(rows):
        for j in range(hidden):
            i = _sigmoid(z[n, j])
            f = _sigmoid(z[n, hidden + j])
            g = _tanh(z[n, 2 * hidden + j])
            o = _sigmoid(z[n, 3 * hidden + j])
            cell = i * g
            if has_c:
                cell += f * c[n, j]
            t = _tanh(cell)
            act[n, j], act[n, hidden + j], act[n, 2 * hidden + j], act[n, 3 * hidden + j] = i, f, g, o
            c_out[n, j] = cell
            tanh_c[n, j] = t
            h_out[n, j] = o * t


@njit(cache=True, nogil=True)
def lstm_backward(grad_h, grad_c, act, tanh_c, c, has_c, dz, dc):
    """dz (N, 4H) and dc (N, H) from the gradients of h' and c'."""
    rows, width = act.shape
    hidden = width // 4
    for n in range(rows):
        for j in range(hidden):
            i, f = act[n, j], act[n, hidden + j]
            g, o = act[n, 2 * hidden + j], act[n, 3 * hidden + j]
            t = tanh_c[n, j]
            d_cell = grad_h[n, j] * o * (1.0 - t * t) + grad_c[n, j]
            dz[n, j] = d_cell * g * i * (1.0 - i)
            dz[n, hidden + j] = d_cell * c[n, j] * f * (1.0 - f) if has_c else 0.0
            dz[n, 2 * hidden + j] = d_cell * i * (1.0 - g * g)
            dz[n, 3 * hidden + j] = grad_h[n, j] * t * o * (1.0 - o)
            dc[n, j] = d_cell * f


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
