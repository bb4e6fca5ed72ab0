"""The time loop of one recurrent layer (one direction), forwards and backwards, on arrays.

With the input parts p_t = W_ih x_t + b already computed for every step (one product
before the loop), a step is one matrix product and the gates:

    RNN   h_t = act(p_t + h_{t-1} W_hhᵀ)                    act = tanh or relu
    LSTM  z_t = p_t + h_{t-1} W_hhᵀ;  i, f, o = σ(z_i, z_f, z_o);  g = tanh z_g
          c_t = f·c_{t-1} + i·g;  h_t = o·tanh c_t
    GRU   q_t = h_{t-1} W_hhᵀ + b_hh;  h_t = the GRU gates of (p_t, q_t, h_{t-1})

Backwards through time (δ_t = ∂L/∂z_t, the gradient arriving at h_t being the output's
own plus δ_{t+1} W_hh):

    ∂L/∂p_t = δ_t;   ∂L/∂W_hh = Σ_t δ_tᵀ h_{t-1};   ∂L/∂h_0 = δ_1 W_hh

The sum over t is ONE product of the stacked δ (T·N, G) with the stacked previous
states (T·N, H) after the loop, not T small ones; only δ_t W_hh stays inside it.

The states are kept in buffers of T + 1 rows: row 0 holds the initial state and row
t + 1 the state after step t (forwards). A reverse direction walks the steps from the
last to the first and keeps the initial state in row T, the state after step t in row t,
so that the outputs (rows 1…T or 0…T-1) and the previous states (the others) are both
contiguous slices in time order.

Written with the array module ``xp``: the same code runs on numpy and cupy. Every step
works in place in buffers made once per sequence; the LSTM's are recycled from one
training step to the next once nothing holds them (``cpu/workspace.py``): fresh ones would
come from the system as new pages every step, a page fault each 4 KiB.

On numpy, a float32 LSTM's or GRU's loops run whole inside numba, one call per range of
the batch's rows, one range per thread (``cpu/recurrent_rows.py``: a batch's rows never meet
inside the loop); every other loop on numpy runs step by step, a numpy product and the
elementwise work (for the LSTM and GRU one numba loop, ``cpu/recurrent_gates.py``, with
numpy's exp and tanh: a handful of array calls per step instead of twenty). A plain RNN's
loop stays step by step: whole in numba and cut between two threads its two loops took
0.68 ms against 0.93 (T 32, batch 32, hidden 128), but its training step 2.17–2.38 ms
against 1.80–2.19, the products around the loop then running on the pool (threads.py).

The time loops run their per-step products on one BLAS thread (``cpu/blas_threads.py``),
in blocks of rows small enough for OpenBLAS's small-matrix kernels, on a 64-byte aligned
copy of the weight (``cpu/small_products.py``); ∂L/∂W_hh, one product over every step's
rows, runs after the loop on all the threads.

The benchmarks' LSTM (64→128, T 32, batch 32, one SGD step; idle 2-core AMD EPYC, ms):
the two loops took 4.0 as numba steps and 3.3 whole in numba on one thread, 2.3 cut
between two threads (the whole step 6.1–6.9 before, 4.3–5.0 now; PyTorch's 4.2–5.0).
"""
import functools

from . import fused
from .cpu import blas_calls, blas_threads, recurrent_rows, threads, workspace
from .cpu import recurrent_gates as _gates
from .cpu import small_products as small


def _one_blas_thread(loop):
    """``loop(xp, …)`` with numpy's BLAS on one thread: a step's product is too small to
    share between cores (``cpu/blas_threads.py``)."""
    @functools.wraps(loop)
    def run(xp, *args):
        if xp.is_gpu:
            return loop(xp, *args)
        with blas_threads.one_thread():
            return loop(xp, *args)
    return run


def _weight_gradient(xp, delta, states, reverse):
    """∂L/∂W_hh = Σ_t δ_tᵀ h_{t-1}: one product over the (T·N) rows of every step (after
    the loop, on every thread: cpu/blas_threads.py's ``matmul``)."""
    flat = delta.reshape(-1, delta.shape[-1])
    return blas_threads.matmul(xp, flat.T, _previous(states, reverse).reshape(flat.shape[0], -1))


def _incoming(xp, grad_out, t, carried, out):
    """∂L/∂h_t into ``out``: the output's gradient at step t plus what came back from step
    t + 1, either of which may be absent (None)."""
    if grad_out is None:
        if carried is None:
            out[...] = 0
        else:
            out[...] = carried
    elif carried is None:
        out[...] = grad_out[t]
    else:
        xp.add(grad_out[t], carried, out=out)


def _numba(xp, *arrays):
    """True when the numba loops can take these arrays (float32/float64 numpy, one dtype)."""
    dtype = arrays[0].dtype
    return (xp.numba_cpu and dtype.kind == "f" and dtype.itemsize >= 4
            and all(a.dtype == dtype for a in arrays))


def _whole_in_numba(xp, *arrays):
    """True when an LSTM or GRU loop can run whole inside numba, a range of rows per thread
    (cpu/recurrent_rows.py): non-empty float32 numpy arrays, and numpy's BLAS callable from numba."""
    present = [a for a in arrays if a is not None]
    return (_numba(xp, *present) and present[0].dtype.itemsize == 4 and present[0].size > 0
            and blas_calls.gemm(present[0].dtype) is not None)


def _split_rows(kernel, batch, *args):
    """``kernel(start, stop, *args)`` over the batch's rows, cut into one range per thread
    (``recurrent_rows.parts``). A loop cut between threads hands them the cores (cpu/threads.py):
    an OpenBLAS worker left spinning on the other core would compete with the range there."""
    parts = recurrent_rows.parts(batch, threads.thread_count())
    if parts > 1:
        threads.take_the_cores()
    threads.split(kernel, batch, parts, *args)


def _rows(steps, reverse):
    """(the order of the steps, the row of step t's output, the row of its previous state)"""
    if reverse:
        return range(steps - 1, -1, -1), (lambda t: t), (lambda t: t + 1)
    return range(steps), (lambda t: t + 1), (lambda t: t)


def _states(xp, initial, steps, shape, dtype, reverse, purpose=None):
    """A (T + 1, N, H) buffer with the initial state (zeros for None) in its row (a recycled
    array for a ``purpose``)."""
    shape = (steps + 1,) + shape
    states = xp.empty(shape, dtype) if purpose is None else workspace.recycled(xp, purpose,
                                                                                shape, dtype)
    row = steps if reverse else 0
    if initial is None:
        states[row] = 0
    else:
        states[row] = initial
    return states


def outputs_of(states, reverse):
    return states[:-1] if reverse else states[1:]


def _previous(states, reverse):
    return states[1:] if reverse else states[:-1]


def _sigmoid_in_place(xp, a):
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)


# -- plain RNN ------------------------------------------------------------------------------
@_one_blas_thread
def rnn_forward(xp, p, w_hh, h0, relu, reverse):
    """The states buffer (T + 1, N, H) for p (T, N, H), W_hh (H, H), h0 (N, H) or None."""
    steps, batch, hidden = p.shape
    h = _states(xp, h0, steps, (batch, hidden), p.dtype, reverse)
    w_t = small.aligned_copy(xp, w_hh.T)    # read T times: an aligned contiguous copy once
    block = small.block_rows(batch, hidden, hidden)
    order, out_row, prev_row = _rows(steps, reverse)
    for n, t in enumerate(order):
        out = h[out_row(t)]
        if n == 0 and h0 is None:           # h = 0: the product is 0
            out[...] = p[t]
        else:
            small.matmul(xp, h[prev_row(t)], w_t, out, block)
            out += p[t]
        if relu:
            xp.maximum(out, 0, out=out)
        else:
            xp.tanh(out, out=out)
    return h


def rnn_backward(xp, grad_out, grad_last, w_hh, h, relu, reverse, need_h0):
    """(∂L/∂p (T, N, H), ∂L/∂W_hh, ∂L/∂h0 or None) from the gradients of the outputs
    (T, N, H) and of the final state (N, H) (either may be None: zero)."""
    delta, grad_h0 = _rnn_backward_loop(xp, grad_out, grad_last, w_hh, h, relu, reverse,
                                        need_h0)
    return delta, _weight_gradient(xp, delta, h, reverse), grad_h0


@_one_blas_thread
def _rnn_backward_loop(xp, grad_out, grad_last, w_hh, h, relu, reverse, need_h0):
    steps = h.shape[0] - 1
    out = outputs_of(h, reverse)
    delta = xp.empty(out.shape, out.dtype)
    order, _, _ = _rows(steps, reverse)
    carried = grad_last            # ∂L/∂h_t from later steps (and from h_n)
    first = order[0]           # the last step backwards: ∂L/∂h0 only if wanted
    batch, hidden = out.shape[1:]
    product = xp.empty((batch, hidden), out.dtype)   # δ_t W_hh, written in place each step
    w_hh = small.aligned_copy(xp, w_hh)
    block = small.block_rows(batch, hidden, hidden)
    for t in _backwards(order):
        d = delta[t]
        _incoming(xp, grad_out, t, carried, d)
        if relu:
            d *= out[t] > 0
        else:                       # tanh' = 1 - h²
            d *= 1 - out[t] * out[t]
        if t != first or need_h0:
            carried = small.matmul(xp, d, w_hh, product, block)
    return delta, carried if need_h0 else None


def _backwards(order):
    """The steps of ``order`` in the opposite order (the backward pass walks back in time)."""
    return order[::-1]


# -- LSTM -----------------------------------------------------------------------------------
@_one_blas_thread
def lstm_forward(xp, p, w_hh, h0, c0, reverse):
    """(h states (T + 1, N, H), c states (T + 1, N, H), act (T, N, 4H) = [i, f, g, o],
    tanh c (T, N, H)) for p (T, N, 4H), W_hh (4H, H), h0 and c0 (N, H) or None."""
    steps, batch, width = p.shape
    hidden = width // 4
    h = _states(xp, h0, steps, (batch, hidden), p.dtype, reverse, "lstm h")
    c = _states(xp, c0, steps, (batch, hidden), p.dtype, reverse, "lstm c")
    act = workspace.recycled(xp, "lstm gates", p.shape, p.dtype)
    tanh_c = workspace.recycled(xp, "lstm tanh c", (steps, batch, hidden), p.dtype)
    w_t = small.aligned_copy(xp, w_hh.T)    # read T times: an aligned contiguous copy once
    block = small.block_rows(batch, hidden, width)
    order, out_row, prev_row = _rows(steps, reverse)
    g_part = slice(2 * hidden, 3 * hidden)
    if _whole_in_numba(xp, p, w_hh, h0, c0):
        _split_rows(recurrent_rows.lstm_forward, batch, blas_calls.gemm(p.dtype), p, w_t, h, c, act,
                    tanh_c, reverse, h0 is None, block, xp.empty(p.shape[1:], p.dtype),
                    xp.empty(p.shape[1:], xp.int32))
        return h, c, act, tanh_c
    if _numba(xp, p, w_hh, *(a for a in (h0, c0) if a is not None)):
        e = xp.empty((batch, 3 * hidden), p.dtype)   # -z, then e^{-z}, of i, f and o
        tanh_g = xp.empty((batch, hidden), p.dtype)    # z_g, then tanh z_g
        o = xp.empty((batch, hidden), p.dtype)
        one = p.dtype.type(1)
        with xp.errstate(over="ignore"):   # e^{-z} = inf for z far below 0 gives σ = 0
            for n, t in enumerate(order):
                z = act[t]
                if n == 0 and h0 is None:   # h = 0: the product is 0
                    z[...] = 0
                else:
                    small.matmul(xp, h[prev_row(t)], w_t, z, block)
                _gates.lstm_step_exponents(z, p[t], e, tanh_g)
                xp.exp(e, out=e)
                xp.tanh(tanh_g, out=tanh_g)
                _gates.lstm_step_forward(e, tanh_g, c[prev_row(t)], z, c[out_row(t)], o, one)
                xp.tanh(c[out_row(t)], out=tanh_c[t])
                xp.multiply(o, tanh_c[t], out=h[out_row(t)])
        return h, c, act, tanh_c
    for n, t in enumerate(order):
        z = act[t]
        if n == 0 and h0 is None:
            z[...] = p[t]
        else:
            small.matmul(xp, h[prev_row(t)], w_t, z, block)
            z += p[t]
        g = xp.tanh(z[:, g_part])
        _sigmoid_in_place(xp, z)            # the g quarter's σ is overwritten next
        z[:, g_part] = g
        i, f, o = z[:, :hidden], z[:, hidden:2 * hidden], z[:, 3 * hidden:]
        c_t = c[out_row(t)]
        xp.multiply(f, c[prev_row(t)], out=c_t)
        c_t += i * g
        xp.tanh(c_t, out=tanh_c[t])
        xp.multiply(o, tanh_c[t], out=h[out_row(t)])
    return h, c, act, tanh_c


def lstm_backward(xp, grad_out, grad_h_last, grad_c_last, w_hh, h, c, act, tanh_c, reverse,
                  need_h0, need_c0):
    """(∂L/∂p (T, N, 4H), ∂L/∂W_hh (4H, H), ∂L/∂h0, ∂L/∂c0 (None unless needed)) from the
    gradients of the outputs (T, N, H), of h_n and of c_n (each may be None: zero)."""
    delta, grad_h0, grad_c0 = _lstm_backward_loop(xp, grad_out, grad_h_last, grad_c_last, w_hh,
                                                  c, act, tanh_c, reverse, need_h0, need_c0)
    return delta, _weight_gradient(xp, delta, h, reverse), grad_h0, grad_c0


@_one_blas_thread
def _lstm_backward_loop(xp, grad_out, grad_h_last, grad_c_last, w_hh, c, act, tanh_c, reverse,
                        need_h0, need_c0):
    steps, batch, width = act.shape
    hidden = width // 4
    delta = workspace.recycled(xp, "lstm delta", act.shape, act.dtype)
    previous_c = _previous(c, reverse)
    order, _, _ = _rows(steps, reverse)
    carried_h, carried_c = grad_h_last, grad_c_last
    first = order[0]           # the last step backwards: ∂L/∂h0 only if wanted
    if _whole_in_numba(xp, act, w_hh, grad_out, grad_h_last, grad_c_last):
        def state(given):      # ∂L/∂h_T or ∂L/∂c_T, written over by the loop: a copy
            return xp.zeros((batch, hidden), act.dtype) if given is None else given.copy()
        carried_h, carried_c = state(grad_h_last), state(grad_c_last)
        incoming = xp.zeros((1, batch, hidden), act.dtype) if grad_out is None else grad_out
        _split_rows(recurrent_rows.lstm_backward, batch, blas_calls.gemm(act.dtype), incoming,
                    grad_out is not None, carried_h, grad_h_last is not None, carried_c, act,
                    tanh_c, previous_c, small.aligned_copy(xp, w_hh), delta, reverse, need_h0,
                    small.block_rows(batch, width, hidden))
        return delta, carried_h if need_h0 else None, carried_c if need_c0 else None
    if _numba(xp, act, w_hh, *(a for a in (grad_out, grad_h_last, grad_c_last) if a is not None)):
        zeros = xp.zeros((batch, hidden), act.dtype)
        carried_c = zeros.copy() if grad_c_last is None else grad_c_last.copy()
        product = xp.empty((batch, hidden), act.dtype)   # δ_t W_hh, written in place each step
        w_hh = small.aligned_copy(xp, w_hh)
        block = small.block_rows(batch, width, hidden)
        one = act.dtype.type(1)
        for t in _backwards(order):
            _gates.lstm_step_backward(
                zeros if grad_out is None else grad_out[t],
                zeros if carried_h is None else carried_h, carried_h is not None,
                act[t], tanh_c[t], previous_c[t], carried_c, delta[t], one)
            if t != first or need_h0:
                carried_h = small.matmul(xp, delta[t], w_hh, product, block)
        return delta, carried_h if need_h0 else None, carried_c if need_c0 else None
    d_h = xp.empty((batch, hidden), act.dtype)
    d_c = xp.empty((batch, hidden), act.dtype)
    for t in _backwards(order):
        z, tc, d = act[t], tanh_c[t], delta[t]
        i, f, g, o = (z[:, k * hidden:(k + 1) * hidden] for k in range(4))
        # ∂L/∂h_t: the output's own gradient plus what came back from step t + 1
        _incoming(xp, grad_out, t, carried_h, d_h)
        # δ_o = ∂h·tanh c·o(1 - o)
        d_o = d[:, 3 * hidden:]
        xp.multiply(d_h, tc, out=d_o)
        d_o *= o
        d_o *= 1 - o
        # ∂L/∂c_t = ∂h·o·(1 - tanh² c) + what came back from step t + 1
        xp.multiply(tc, tc, out=d_c)
        xp.subtract(1, d_c, out=d_c)
        d_c *= o
        d_c *= d_h
        if carried_c is not None:
            d_c += carried_c
        # δ_i = ∂c·g·i(1 - i),  δ_f = ∂c·c_{t-1}·f(1 - f),  δ_g = ∂c·i·(1 - g²)
        d_i, d_f, d_g = d[:, :hidden], d[:, hidden:2 * hidden], d[:, 2 * hidden:3 * hidden]
        xp.multiply(d_c, g, out=d_i)
        d_i *= i
        d_i *= 1 - i
        xp.multiply(d_c, previous_c[t], out=d_f)
        d_f *= f
        d_f *= 1 - f
        xp.multiply(g, g, out=d_g)
        xp.subtract(1, d_g, out=d_g)
        d_g *= i
        d_g *= d_c
        carried_c = d_c * f
        if t != first or need_h0:
            carried_h = xp.matmul(d, w_hh)
    return delta, carried_h if need_h0 else None, carried_c if need_c0 else None


# -- GRU ------------------------------------------------------------------------------------
#   q_t = h_{t-1} W_hhᵀ + b_hh;  h_t = gru_gates(p_t, q_t, h_{t-1})   (kernels/fused.py)
#   ∂L/∂W_hh = Σ_t ∂q_tᵀ h_{t-1},  ∂L/∂b_hh = Σ_t ∂q_t,  ∂L/∂h_{t-1} = ∂q_t W_hh + g·z
# A missing initial state is a row of zeros here: z·0 adds nothing to h_1.
@_one_blas_thread
def gru_forward(xp, p, w_hh, b_hh, h0, reverse):
    """(h states (T + 1, N, H), q (T, N, 3H), act (T, N, 3H) = [r, z, n]) for p (T, N, 3H),
    W_hh (3H, H), b_hh (3H,) or None and h0 (N, H) or None."""
    steps, batch, width = p.shape
    hidden = width // 3
    h = _states(xp, h0, steps, (batch, hidden), p.dtype, reverse)
    q, act = xp.empty(p.shape, p.dtype), xp.empty(p.shape, p.dtype)
    w_t = small.aligned_copy(xp, w_hh.T)
    block = small.block_rows(batch, hidden, width)
    if _whole_in_numba(xp, p, w_hh, b_hh, h0):
        _split_rows(recurrent_rows.gru_forward, batch, blas_calls.gemm(p.dtype), p, w_t,
                    xp.zeros(width, p.dtype) if b_hh is None else b_hh, b_hh is not None, h, q,
                    act, reverse, block, xp.empty((batch, width), p.dtype),
                    xp.empty((batch, width), xp.int32))
        return h, q, act
    fast = _numba(xp, p, w_hh, *(a for a in (b_hh, h0) if a is not None))
    order, out_row, prev_row = _rows(steps, reverse)
    for t in order:
        previous = h[prev_row(t)]
        small.matmul(xp, previous, w_t, q[t], block)
        if b_hh is not None:
            q[t] += b_hh
        if fast:
            _gates.gru_forward(p[t], q[t], True, previous, True, act[t], h[out_row(t)])
        else:
            h[out_row(t)], act[t] = fused.gru_gates_forward(xp, p[t], q[t], previous)
    return h, q, act


def gru_backward(xp, grad_out, grad_h_last, w_hh, has_bias, h, q, act, reverse, need_h0):
    """(∂L/∂p (T, N, 3H), ∂L/∂W_hh, ∂L/∂b_hh or None, ∂L/∂h0 or None) from the gradients of
    the outputs (T, N, H) and of h_n (N, H)."""
    d_p, d_q, grad_h0 = _gru_backward_loop(xp, grad_out, grad_h_last, w_hh, h, q, act, reverse,
                                           need_h0)
    grad_b = d_q.reshape(-1, d_q.shape[-1]).sum(axis=0) if has_bias else None
    return d_p, _weight_gradient(xp, d_q, h, reverse), grad_b, grad_h0


@_one_blas_thread
def _gru_backward_loop(xp, grad_out, grad_h_last, w_hh, h, q, act, reverse, need_h0):
    steps, batch, width = act.shape
    previous = _previous(h, reverse)
    d_p, d_q = xp.empty(act.shape, act.dtype), xp.empty(act.shape, act.dtype)
    d_h = xp.empty((batch, width // 3), act.dtype)
    if (grad_out is not None and grad_h_last is not None
            and _whole_in_numba(xp, act, w_hh, grad_out, grad_h_last)):
        carried = grad_h_last.copy()   # ∂L/∂h_T, written over by the loop
        _split_rows(recurrent_rows.gru_backward, batch, blas_calls.gemm(act.dtype), grad_out,
                    carried, act, q, previous, small.aligned_copy(xp, w_hh), d_p, d_q,
                    xp.empty((batch, width // 3), act.dtype), d_h, reverse, need_h0,
                    small.block_rows(batch, width, width // 3))
        return d_p, d_q, carried if need_h0 else None
    fast = _numba(xp, grad_out, grad_h_last, w_hh, act)
    product = xp.empty((batch, width // 3), act.dtype)   # ∂q_t W_hh, in place each step
    w_hh = small.aligned_copy(xp, w_hh)
    block = small.block_rows(batch, width, width // 3)
    order, _, _ = _rows(steps, reverse)
    first = order[0]
    carried = grad_h_last
    for t in _backwards(order):
        g = grad_out[t] + carried
        if fast:
            _gates.gru_backward(g, act[t], q[t], True, previous[t], True, d_p[t], d_q[t], d_h)
        else:
            d_p[t], d_q[t], d_h[...] = fused.gru_gates_backward(xp, g, act[t], q[t], previous[t])
        if t != first or need_h0:
            carried = small.matmul(xp, d_q[t], w_hh, product, block)
            carried += d_h
    return d_p, d_q, carried if need_h0 else None
