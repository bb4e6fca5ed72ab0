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
# A step is: z = h W_hhᵀ (BLAS), then ``lstm_step_exponents`` (e = -(z + p) of the i, f and
# o quarters, side by side; z_g + p_g into a buffer of its own), numpy's vectorised exp of e
# and tanh of z_g + p_g, then ``lstm_step_forward`` (the gates, over z, and c'; o once more
# into a buffer of its own), numpy's tanh of c' and o·tanh c'. numba's exp and tanh are
# scalar calls per element, several times slower than numpy's. tanh g stays numpy's tanh, not
# 2σ(2 z_g) - 1 from the same exp: near z_g = 0 that difference keeps only the absolute
# precision (float32 h off by 1e-3 relative at pre-activations of 1e-2, against 5e-6). The
# separate buffers keep every numpy call on contiguous arrays and the exp off the g quarter
# (measured, float32, hidden 128, batch 32, CPU time: 24.4 µs per step's elementwise work
# against 27.6 with e over all four quarters and numpy working on strided quarters of z).
#
# The loops walk one row of the batch at a time, over 1-D slices of each gate's quarter: the
# compiler then sees unit-stride loops it vectorises (indexing the 2-D arrays with the four
# quarter offsets ran twice as slowly, and indexing a row with j - offset, which numba must
# check for a negative index, 1.6 times as slowly).
# ``one`` is 1 in the arrays' dtype: the arithmetic stays in float32 for float32 arrays (a
# float literal would promote it to float64). error_model="numpy": no Python check per
# division (1 + e >= 1 never divides by zero).
@njit(cache=True, nogil=True, error_model="numpy")
def lstm_step_exponents(z, p, e, z_g):
    """From the product z and the input part p (N, 4H): e = -(z + p) of the i, f and o
    quarters (N, 3H: the arguments of σ's exponentials) and z_g = the g quarter of z + p
    (N, H). z itself is left as it is: the gates overwrite it next."""
    rows, width = z.shape
    hidden = width // 4
    for k in range(rows):
        z_if, p_if, e_if = z[k, :2 * hidden], p[k, :2 * hidden], e[k, :2 * hidden]
        for j in range(2 * hidden):           # i and f
            e_if[j] = -(z_if[j] + p_if[j])
        z_gate, p_g, g_row = z[k, 2 * hidden:3 * hidden], p[k, 2 * hidden:3 * hidden], z_g[k]
        for j in range(hidden):
            g_row[j] = z_gate[j] + p_g[j]
        z_o, p_o, e_o = z[k, 3 * hidden:], p[k, 3 * hidden:], e[k, 2 * hidden:]
        for j in range(hidden):               # o, after i and f in e
            e_o[j] = -(z_o[j] + p_o[j])


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_step_forward(e, tanh_g, c_prev, act, c_out, o_out, one):
    """From e = exp(-z) of the i, f and o quarters (N, 3H) and tanh_g = tanh z_g (N, H):
    act = [i, f, g, o] (N, 4H) with σ(z) = 1/(1 + e), c' = f·c + i·g and o (N, H)."""
    rows, width = act.shape
    hidden = width // 4
    for k in range(rows):
        e_i, e_f, e_o = e[k, :hidden], e[k, hidden:2 * hidden], e[k, 2 * hidden:]
        a_i, a_f = act[k, :hidden], act[k, hidden:2 * hidden]
        a_g, a_o = act[k, 2 * hidden:3 * hidden], act[k, 3 * hidden:]
        g_row, c, c_new, o_row = tanh_g[k], c_prev[k], c_out[k], o_out[k]
        for j in range(hidden):
            i = one / (one + e_i[j])
            f = one / (one + e_f[j])
            g = g_row[j]
            o = one / (one + e_o[j])
            a_i[j], a_f[j], a_g[j], a_o[j] = i, f, g, o
            o_row[j] = o
            c_new[j] = f * c[j] + i * g


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_step_backward(grad_out, carried_h, has_h, act, tanh_c, c_prev, carried_c, delta, one):
    """δ = ∂L/∂z (N, 4H) of one step from ∂L/∂h_t = grad_out + carried_h (the latter
    only with has_h) and ∂L/∂c_t = ∂h·o·(1 - tanh² c_t) + carried_c; carried_c becomes
    ∂L/∂c_{t-1} = ∂c·f."""
    rows, width = act.shape
    hidden = width // 4
    for k in range(rows):
        a_i, a_f = act[k, :hidden], act[k, hidden:2 * hidden]
        a_g, a_o = act[k, 2 * hidden:3 * hidden], act[k, 3 * hidden:]
        d_i, d_f = delta[k, :hidden], delta[k, hidden:2 * hidden]
        d_g, d_o = delta[k, 2 * hidden:3 * hidden], delta[k, 3 * hidden:]
        g_out, g_h, g_c = grad_out[k], carried_h[k], carried_c[k]
        tc_row, c = tanh_c[k], c_prev[k]
        for j in range(hidden):
            dh = g_out[j] + g_h[j] if has_h else g_out[j]
            i, f, g, o = a_i[j], a_f[j], a_g[j], a_o[j]
            tc = tc_row[j]
            dc = dh * o * (one - tc * tc) + g_c[j]
            d_i[j] = dc * g * i * (one - i)
            d_f[j] = dc * c[j] * f * (one - f)
            d_g[j] = dc * i * (one - g * g)
            d_o[j] = dh * tc * o * (one - o)
            g_c[j] = dc * f
