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


# -- one step of a whole LSTM sequence (kernels/recurrence.py) ----------------------------------
# ``one`` is 1 in the arrays' dtype: the arithmetic stays in float32 for float32 arrays (a
# float literal would promote it to float64), which rounds as the array code of
# ``kernels/fused.py`` does, value for value. error_model="numpy": no Python check per
# division (1 + e >= 1 never divides by zero).
@njit(cache=True, nogil=True, error_model="numpy")
def lstm_step_forward(e, tanh_g, c_prev, act, c_out, one):
    """From e = exp(-z) of the step's pre-activations z (N, 4H) and tanh_g = tanh z_g:
    act = [i, f, g, o] with σ(z) = 1/(1 + e), and c' = f·c + i·g. The exponentials and
    tanh run before, on numpy's vectorised functions."""
    rows, width = e.shape
    hidden = width // 4
    for k in range(rows):
        for j in range(hidden):
            i = one / (one + e[k, j])
            f = one / (one + e[k, hidden + j])
            g = tanh_g[k, j]
            act[k, j] = i
            act[k, hidden + j] = f
            act[k, 2 * hidden + j] = g
            act[k, 3 * hidden + j] = one / (one + e[k, 3 * hidden + j])
            c_out[k, j] = f * c_prev[k, j] + i * g


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_step_backward(grad_out, carried_h, has_h, act, tanh_c, c_prev, carried_c, delta, one):
    """δ = ∂L/∂z (N, 4H) of one step from ∂L/∂h_t = grad_out + carried_h (the latter
    only with has_h) and ∂L/∂c_t = ∂h·o·(1 - tanh² c_t) + carried_c; carried_c becomes
    ∂L/∂c_{t-1} = ∂c·f."""
    rows, width = act.shape
    hidden = width // 4
    for k in range(rows):
        for j in range(hidden):
            dh = grad_out[k, j]
            if has_h:
                dh += carried_h[k, j]
            i, f = act[k, j], act[k, hidden + j]
            g, o = act[k, 2 * hidden + j], act[k, 3 * hidden + j]
            tc = tanh_c[k, j]
            dc = dh * o * (one - tc * tc) + carried_c[k, j]
            delta[k, j] = dc * g * i * (one - i)
            delta[k, hidden + j] = dc * c_prev[k, j] * f * (one - f)
            delta[k, 2 * hidden + j] = dc * i * (one - g * g)
            delta[k, 3 * hidden + j] = dh * tc * o * (one - o)
            carried_c[k, j] = dc * f
