"""The gates of an LSTM and a GRU step as one operation each (after the matrix products).

    LSTM  i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g);  c' = f·c + i·g;  h' = o·tanh(c')
    GRU   r = σ(p_r + q_r);  z = σ(p_z + q_z);  n = tanh(p_n + r·q_n);  h' = (1 - z)·n + z·h

Composed, a step records 10 (LSTM) or 12 (GRU) operations, and a sequence's speed is
decided by how many a step records. Here the gates are one operation forwards and one
backwards (``tapegrad/kernels/fused.py``), which keeps the activations rather than
recomputing them. The backwards are operations too; their own derivatives come from the
composition (``twice.py``).
"""
from ...kernels import fused
from ..tape import record, record_many
from .declare import operation
from .twice import derivative_of_backward


def _composed_lstm_gates(z, c):
    hidden = z.shape[-1] // 4
    i, f, _, o = z.sigmoid().chunk(4, -1)
    g = z.narrow(-1, 2 * hidden, hidden).tanh()
    c_out = i * g if c is None else f * c + i * g
    return o * c_out.tanh(), c_out


def _composed_gru_gates(p, q, h):
    hidden = p.shape[-1] // 3
    if q is None:
        z = p.narrow(-1, hidden, hidden).sigmoid()
        n = p.narrow(-1, 2 * hidden, hidden).tanh()
    else:
        r, z, _ = (p + q).sigmoid().chunk(3, -1)
        n = (p.narrow(-1, 2 * hidden, hidden) + r * q.narrow(-1, 2 * hidden, hidden)).tanh()
    return n - z * n if h is None else n + z * (h - n)


@operation()
def lstm_gates(gates, cell):
    """(h', c') from the pre-activations z = [z_i, z_f, z_g, z_o] (N, 4H) and c (N, H)
    (None: zeros); ∂L/∂c' = g_h·o·(1 - tanh² c') + g_c,  ∂L/∂c = ∂L/∂c'·f,
    ∂L/∂z = [∂c'·g·i(1-i), ∂c'·c·f(1-f), ∂c'·i(1-g²), g_h·tanh c'·o(1-o)]"""
    xp = gates.device.xp
    h_out, c_out, act, tanh_c = fused.lstm_gates_forward(xp, gates.array,
                                                         None if cell is None else cell.array)

    def backward(ctx, grad_h, grad_c):
        z, c = ctx.saved_tensors
        return lstm_gates_backward(grad_h, grad_c, z, c, act, tanh_c)
    return tuple(record_many("lstm_gates", [h_out, c_out], (gates, cell), backward,
                             save=(gates, cell)))


@operation()
def lstm_gates_backward(grad_h, grad_c, gates, cell, act, tanh_c):
    """(∂L/∂z, ∂L/∂c) of lstm_gates from its kept activations, as one operation"""
    xp = gates.device.xp
    dz, dc = fused.lstm_gates_backward(xp, grad_h.array, grad_c.array, act, tanh_c,
                                       None if cell is None else cell.array)

    def backward(ctx, grad_dz, grad_dc=None):
        gh, gc, z, c = ctx.saved_tensors
        return derivative_of_backward(_composed_lstm_gates, [gh, gc], [z, c],
                                      [grad_dz, grad_dc], list(ctx.needs_input_grad))
    if cell is None:
        return record("lstm_gates_backward", dz, (grad_h, grad_c, gates, None), backward,
                      save=(grad_h, grad_c, gates, None)), None
    return tuple(record_many("lstm_gates_backward", [dz, dc], (grad_h, grad_c, gates, cell),
                             backward, save=(grad_h, grad_c, gates, cell)))


@operation()
def gru_gates(p, q, state):
    """h' from p = W_ih x + b_ih, q = W_hh h + b_hh (N, 3H) (None: zero) and h (N, H)
    (None: zeros); with δ_n = g(1-z)(1-n²): ∂L/∂p = [δ_n·q_n·r(1-r), g(h-n)·z(1-z), δ_n],
    ∂L/∂q = the same with δ_n·r last, ∂L/∂h = g·z"""
    xp = p.device.xp
    q_array = None if q is None else q.array
    if q_array is not None and q_array.shape != p.array.shape:   # a bias (3H,) for q
        q_array = xp.ascontiguousarray(xp.broadcast_to(q_array, p.array.shape))
    h_out, act = fused.gru_gates_forward(xp, p.array, q_array,
                                         None if state is None else state.array)

    def backward(ctx, grad):
        p, q, h = ctx.saved_tensors
        return gru_gates_backward(grad, p, q, h, act, q_array)
    return record("gru_gates", h_out, (p, q, state), backward, save=(p, q, state))


@operation()
def gru_gates_backward(grad, p, q, state, act, q_array):
    """(∂L/∂p, ∂L/∂q, ∂L/∂h) of gru_gates from its kept activations, as one operation"""
    xp = p.device.xp
    dp, dq, dh = fused.gru_gates_backward(xp, grad.array, act, q_array,
                                          None if state is None else state.array)
    if dq is not None and dq.shape != q.shape:
        dq = dq.sum(axis=0)
    results = [dp] + [a for a in (dq, dh) if a is not None]

    def backward(ctx, *cotangents):
        g, p, q, h = ctx.saved_tensors
        present = iter(cotangents)
        per_primal = [next(present), None if q is None else next(present),
                      None if h is None else next(present)]
        return derivative_of_backward(_composed_gru_gates, [g], [p, q, h], per_primal,
                                      list(ctx.needs_input_grad))
    outs = iter(record_many("gru_gates_backward", results, (grad, p, q, state), backward,
                            save=(grad, p, q, state)))
    return (next(outs), None if q is None else next(outs), None if state is None else next(outs))


__all__ = ["gru_gates", "gru_gates_backward", "lstm_gates", "lstm_gates_backward"]
