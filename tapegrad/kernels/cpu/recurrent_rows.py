"""A recurrent layer's time loop, forwards and backwards, for a range of the batch's rows,
run whole inside numba: the LSTM's and the GRU's.

The rows of a batch never meet inside a recurrent layer: row k of h_t depends on row k of
h_{t-1} and on the weights only. So the loop over the steps can be cut by rows, each range
running every step on its own thread (``threads.split``), with no meeting between the
threads until the sequence ends. A Python loop cannot do that: each step is a handful of
numpy calls, and the GIL passes between the threads at every one (measured: the two loops
of the benchmarks' LSTM took 3.2 ms that way against 4.0 on one thread). Here a range's
whole loop is one call of a compiled function that holds no GIL: the step's product
through OpenBLAS's C interface (``blas_calls.py``: blocks of rows for its small-matrix
kernels, as in ``small_products.py``, each on the calling thread, OpenBLAS held to one),
the gates with exp, σ and tanh written to vectorise (``vector_math.py``).

    LSTM forwards   z_t = p_t + h_{t-1} W_hhᵀ;  i, f, o = σ(z_i, z_f, z_o);  g = tanh z_g
                    c_t = f·c_{t-1} + i·g;  h_t = o·tanh c_t
         backwards  δ_t = the gates' gradient (recurrent_gates.lstm_step_backward);
                    ∂L/∂h_{t-1} += δ_t W_hh
    GRU  forwards   q_t = h_{t-1} W_hhᵀ + b_hh;  r, z = σ(p_r + q_r, p_z + q_z)
                    n = tanh(p_n + r·q_n);  h_t = (1 - z)·n + z·h_{t-1}
         backwards  ∂p_t, ∂q_t, z·∂h_t = the gates' gradient (recurrent_gates.gru_backward);
                    ∂L/∂h_{t-1} = ∂q_t W_hh + z·∂h_t

The arrays are those of ``kernels/recurrence.py``'s loops: the states (T + 1, N, H) with
the initial state in row 0 (row T when ``reverse``), the gates ``act`` (T, N, 4H or 3H),
and W_hhᵀ as a 64-byte aligned contiguous copy. float32 only: ``vector_math``'s exp is a
float32 one (float64 loops take the numpy path).
"""
from numba import float32, njit

from .blas_calls import NO_TRANSPOSE, ROW_MAJOR
from .recurrent_gates import gru_backward as gru_step_backward
from .recurrent_gates import lstm_step_backward
from .vector_math import sigmoid_into, tanh_into

# A range has at least this many rows: an LSTM's two loops (T 32, H 128, idle 2-core AMD
# EPYC, ms, one range / two) took 0.54 / 0.69 at batch 4, 0.87 / 0.76 at batch 8, 1.85 / 1.08
# at batch 16.
MIN_ROWS_PER_THREAD = 4


def parts(batch, threads):
    """How many ranges of rows to cut a batch into: one per thread, each of at least
    MIN_ROWS_PER_THREAD rows."""
    return max(1, min(threads, batch // MIN_ROWS_PER_THREAD))


@njit(cache=True, nogil=True)
def _leading(matrix):
    """gemm's leading dimension of a matrix with contiguous rows: the distance between its
    rows in elements, or its width where it has one row. numpy may give a dimension of
    length 1 any stride (a hidden size of 1 made W_hhᵀ a (1, 4) view with rows 1 apart),
    and gemm refuses a leading dimension below the width and computes nothing."""
    rows, columns = matrix.shape
    return matrix.strides[0] // matrix.itemsize if rows > 1 else max(columns, 1)


@njit(cache=True, nogil=True)
def _product(gemm, a, b, out, block):
    """out = a @ b (a (M, K), b (K, N), out (M, N), each with contiguous rows) in blocks of
    ``block`` rows, each one call of ``gemm``."""
    rows, inner = a.shape
    columns = b.shape[1]
    one, zero = float32(1), float32(0)
    for start in range(0, rows, block):
        m = min(block, rows - start)
        gemm(ROW_MAJOR, NO_TRANSPOSE, NO_TRANSPOSE, m, columns, inner, one,
             a[start:].ctypes.data, _leading(a), b.ctypes.data, _leading(b),
             zero, out[start:].ctypes.data, _leading(out))


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_forward(start, stop, gemm, p, w_t, h, c, act, tanh_c, reverse, zero_state, block,
                 pre, bits):
    """Rows [start, stop) of every step forwards: act, c, tanh c and h from p (T, N, 4H),
    W_hhᵀ (H, 4H) and the initial states in h and c (zeros when ``zero_state``: the first
    step's product is then 0 and is skipped). ``pre`` (N, 4H) float32 and ``bits`` (N, 4H)
    int32 are scratch: a row's z_t + p_t, and vector_math's."""
    steps, _, width = p.shape
    hidden = width // 4
    for n in range(steps):
        t = steps - 1 - n if reverse else n
        out, previous = (t, t + 1) if reverse else (t + 1, t)
        z = act[t]
        if n == 0 and zero_state:
            z[start:stop] = 0
        else:
            _product(gemm, h[previous, start:stop], w_t, z[start:stop], block)
        for k in range(start, stop):
            z_k, p_k, pre_k, bits_k = z[k], p[t, k], pre[k], bits[k]
            for j in range(width):
                pre_k[j] = z_k[j] + p_k[j]
            sigmoid_into(pre_k[:2 * hidden], z_k[:2 * hidden], bits_k)                  # i, f
            tanh_into(pre_k[2 * hidden:3 * hidden], z_k[2 * hidden:3 * hidden], bits_k)  # g
            sigmoid_into(pre_k[3 * hidden:], z_k[3 * hidden:], bits_k)                  # o
            i, f, g, o = (z_k[:hidden], z_k[hidden:2 * hidden], z_k[2 * hidden:3 * hidden],
                          z_k[3 * hidden:])
            c_previous, c_new, h_new, tanh_c_k = c[previous, k], c[out, k], h[out, k], tanh_c[t, k]
            for j in range(hidden):
                c_new[j] = f[j] * c_previous[j] + i[j] * g[j]
            tanh_into(c_new, tanh_c_k, bits_k)
            for j in range(hidden):
                h_new[j] = o[j] * tanh_c_k[j]


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_backward(start, stop, gemm, grad_out, has_grad_out, carried_h, has_carried_h,
                  carried_c, act, tanh_c, previous_c, w_hh, delta, reverse, need_h0, block):
    """Rows [start, stop) of every step backwards: δ (T, N, 4H), and in carried_h and
    carried_c (N, H), which hold ∂L/∂h_T and ∂L/∂c_T on entry, ∂L/∂h0 (when ``need_h0``)
    and ∂L/∂c0. grad_out is the outputs' gradient (T, N, H), or zeros (1, N, H) without
    ``has_grad_out``; carried_h is read only with ``has_carried_h`` until the first
    product writes it."""
    steps = act.shape[0]
    first = steps - 1 if reverse else 0      # the last step backwards
    one = float32(1)
    has_h = has_carried_h
    for n in range(steps):
        t = n if reverse else steps - 1 - n
        incoming = grad_out[t] if has_grad_out else grad_out[0]
        lstm_step_backward(incoming[start:stop], carried_h[start:stop], has_h,
                           act[t, start:stop], tanh_c[t, start:stop], previous_c[t, start:stop],
                           carried_c[start:stop], delta[t, start:stop], one)
        if t != first or need_h0:
            _product(gemm, delta[t, start:stop], w_hh, carried_h[start:stop], block)
            has_h = True


@njit(cache=True, nogil=True, error_model="numpy")
def gru_forward(start, stop, gemm, p, w_t, b_hh, has_bias, h, q, act, reverse, block, pre,
                bits):
    """Rows [start, stop) of every step forwards: q, act = [r, z, n] and h from p (T, N, 3H),
    W_hhᵀ (H, 3H), b_hh (3H,) (read with ``has_bias``) and the initial state in h (zeros for
    none). ``pre`` (N, 3H) float32 and ``bits`` (N, 3H) int32 are scratch."""
    steps, _, width = p.shape
    hidden = width // 3
    for n in range(steps):
        t = steps - 1 - n if reverse else n
        out, previous = (t, t + 1) if reverse else (t + 1, t)
        _product(gemm, h[previous, start:stop], w_t, q[t, start:stop], block)
        for k in range(start, stop):
            q_k, p_k, a_k, pre_k, bits_k = q[t, k], p[t, k], act[t, k], pre[k], bits[k]
            if has_bias:
                for j in range(width):
                    q_k[j] += b_hh[j]
            for j in range(2 * hidden):
                pre_k[j] = p_k[j] + q_k[j]
            sigmoid_into(pre_k[:2 * hidden], a_k[:2 * hidden], bits_k)              # r, z
            for j in range(hidden):
                pre_k[2 * hidden + j] = p_k[2 * hidden + j] + a_k[j] * q_k[2 * hidden + j]
            tanh_into(pre_k[2 * hidden:], a_k[2 * hidden:], bits_k)                 # n
            z, g = a_k[hidden:2 * hidden], a_k[2 * hidden:]
            h_previous, h_new = h[previous, k], h[out, k]
            for j in range(hidden):
                h_new[j] = g[j] - z[j] * g[j] + z[j] * h_previous[j]


@njit(cache=True, nogil=True, error_model="numpy")
def gru_backward(start, stop, gemm, grad_out, carried, act, q, previous_h, w_hh, d_p, d_q,
                 incoming, d_h, reverse, need_h0, block):
    """Rows [start, stop) of every step backwards: ∂L/∂p and ∂L/∂q (T, N, 3H), and in
    ``carried`` (N, H), which holds ∂L/∂h_T on entry, ∂L/∂h0 (when ``need_h0``).
    ``incoming`` and ``d_h`` (N, H) are scratch: the gradient arriving at h_t, z·∂h_t."""
    steps, _, width = act.shape
    hidden = width // 3
    first = steps - 1 if reverse else 0      # the last step backwards
    for n in range(steps):
        t = n if reverse else steps - 1 - n
        for k in range(start, stop):
            g_out, c_k, in_k = grad_out[t, k], carried[k], incoming[k]
            for j in range(hidden):
                in_k[j] = g_out[j] + c_k[j]
        gru_step_backward(incoming[start:stop], act[t, start:stop], q[t, start:stop], True,
                          previous_h[t, start:stop], True, d_p[t, start:stop],
                          d_q[t, start:stop], d_h[start:stop])
        if t != first or need_h0:
            _product(gemm, d_q[t, start:stop], w_hh, carried[start:stop], block)
            for k in range(start, stop):
                c_k, d_k = carried[k], d_h[k]
                for j in range(hidden):
                    c_k[j] += d_k[j]
