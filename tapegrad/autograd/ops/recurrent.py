"""The gates of an LSTM and a GRU step as one operation each (after the matrix products).

    LSTM  i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g);  c' = f·c + i·g;  h' = o·tanh(c')
    GRU   r = σ(p_r + q_r);  z = σ(p_z + q_z);  n = tanh(p_n + r·q_n);  h' = (1 - z)·n + z·h

Composed, a step records 10 (LSTM) or 12 (GRU) operations, and a sequence's speed is
decided by how many a step records. Here the gates are one operation forwards and one
backwards (``tapegrad/kernels/fused.py``), which keeps the activations rather than
recomputing them. The backwards are operations too; their own derivatives come from the
composition (``twice.py``).
"""
from ...kernels import fused, recurrence
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

    def backward(ctx, *cotangents):   # one per gradient computed: per primal that is not None
        g, p, q, h = ctx.saved_tensors
        return derivative_of_backward(_composed_gru_gates, [g], [p, q, h], list(cotangents),
                                      list(ctx.needs_input_grad))
    outs = iter(record_many("gru_gates_backward", results, (grad, p, q, state), backward,
                            save=(grad, p, q, state)))
    return (next(outs), None if q is None else next(outs), None if state is None else next(outs))


# -- a whole layer's time loop (one direction) as one operation ------------------------------
# With the input parts p_t = W_ih x_t + b of every step computed by one product before the
# loop, the rest of a layer is its recurrence: T small products and T gates. As separate
# operations that is 2T recorded operations forwards and 4T products and passes backwards,
# each costing microseconds of bookkeeping; as one operation the loop runs on arrays
# (``kernels/recurrence.py``) and W_hh's gradient is one product over all steps.

def _check_sequence(op, inputs, w_hh, states, gates):
    """Errors naming the shapes, before anything is computed."""
    if inputs.ndim != 3 or inputs.shape[0] < 1:
        raise ValueError(f"{op}: the input parts must be (length >= 1, batch, {gates}·hidden), "
                         f"got shape {tuple(inputs.shape)}")
    steps, batch, width = inputs.shape
    hidden = width // gates
    if w_hh.ndim != 2 or tuple(w_hh.shape) != (width, hidden) or width != gates * hidden:
        raise ValueError(f"{op}: W_hh must be ({gates}·hidden, hidden) = ({width}, {hidden}) for "
                         f"input parts of shape {tuple(inputs.shape)}, got {tuple(w_hh.shape)}")
    for name, t in states:
        if t is not None and tuple(t.shape) != (batch, hidden):
            raise ValueError(f"{op}: {name} must be (batch, hidden) = ({batch}, {hidden}), "
                             f"got {tuple(t.shape)}")
    for name, t in (("W_hh", w_hh),) + tuple(states):
        if t is not None and (t.dtype != inputs.dtype or t.device != inputs.device):
            raise ValueError(f"{op}: {name} is {t.dtype} on {t.device}, the input parts "
                             f"{inputs.dtype} on {inputs.device}; they must agree")


def _array(t):
    return None if t is None else t.array


def _step_order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _composed_rnn_sequence(inputs, w_hh, h0, relu, reverse):
    """The composition rnn_sequence stands for (its second derivative comes from this)."""
    from . import shape
    steps, w_t, h = inputs.unbind(0), w_hh.mT, h0
    outputs = [None] * len(steps)
    for t in _step_order(len(steps), reverse):
        z = steps[t] if h is None else steps[t] + h @ w_t
        h = z.relu() if relu else z.tanh()
        outputs[t] = h
    return shape.stack(outputs), h


def _composed_lstm_sequence(inputs, w_hh, h0, c0, reverse):
    """The composition lstm_sequence stands for (its second derivative comes from this)."""
    from . import shape
    steps, w_t, h, c = inputs.unbind(0), w_hh.mT, h0, c0
    outputs = [None] * len(steps)
    for t in _step_order(len(steps), reverse):
        z = steps[t] if h is None else steps[t] + h @ w_t
        h, c = _composed_lstm_gates(z, c)
        outputs[t] = h
    return shape.stack(outputs), h, c


@operation()
def rnn_sequence(inputs, w_hh, h0, relu=False, reverse=False):
    """(h_1…h_T (T, N, H), h_T (N, H)) with h_t = act(p_t + h_{t-1} W_hhᵀ), act tanh (relu
    with ``relu``), from the input parts p (T, N, H) and h0 (N, H) (None: zeros), the steps
    taken from last to first with ``reverse``; δ_t = (∂L/∂h_t)·act'(·):
    ∂L/∂p_t = δ_t,  ∂L/∂W_hh = Σ_t δ_tᵀ h_{t-1},  ∂L/∂h_{t-1} += δ_t W_hh"""
    _check_sequence("rnn_sequence", inputs, w_hh, (("h0", h0),), 1)
    xp = inputs.device.xp
    h = recurrence.rnn_forward(xp, inputs.array, w_hh.array, _array(h0), relu, reverse)
    final = h[0 if reverse else -1].copy()

    def backward(ctx, grad_out, grad_h):
        p, w, state = ctx.saved_tensors
        return rnn_sequence_backward(grad_out, grad_h, p, w, state, h, relu, reverse)
    return tuple(record_many("rnn_sequence", [recurrence.outputs_of(h, reverse), final],
                             (inputs, w_hh, h0), backward, save=(inputs, w_hh, h0),
                             attrs={"relu": relu, "reverse": reverse}))


@operation()
def rnn_sequence_backward(grad_out, grad_h, inputs, w_hh, h0, h, relu, reverse):
    """(∂L/∂p, ∂L/∂W_hh, ∂L/∂h0) of rnn_sequence from its kept states, as one operation"""
    xp = inputs.device.xp
    dp, dw, dh0 = recurrence.rnn_backward(xp, grad_out.array, grad_h.array, w_hh.array, h,
                                          relu, reverse, h0 is not None)
    results = [dp, dw] + ([] if h0 is None else [dh0])

    def composed(p, w, state):
        return _composed_rnn_sequence(p, w, state, relu, reverse)

    def backward(ctx, *cotangents):   # one per gradient computed: per primal that is not None
        g_out, g_h, p, w, state = ctx.saved_tensors
        return derivative_of_backward(composed, [g_out, g_h], [p, w, state], list(cotangents),
                                      list(ctx.needs_input_grad))
    outs = iter(record_many("rnn_sequence_backward", results, (grad_out, grad_h, inputs, w_hh, h0),
                            backward, save=(grad_out, grad_h, inputs, w_hh, h0)))
    return next(outs), next(outs), None if h0 is None else next(outs)


@operation()
def lstm_sequence(inputs, w_hh, h0, c0, reverse=False):
    """(h_1…h_T (T, N, H), h_T, c_T (N, H)) of an LSTM layer from its input parts
    p (T, N, 4H) (gates i, f, g, o), W_hh (4H, H) and h0, c0 (N, H) (None: zeros), the
    steps taken from last to first with ``reverse``: each step is lstm_gates(p_t +
    h_{t-1} W_hhᵀ, c_{t-1}); with δ_t its gates' gradient, ∂L/∂p_t = δ_t,
    ∂L/∂W_hh = Σ_t δ_tᵀ h_{t-1},  ∂L/∂h_{t-1} += δ_t W_hh"""
    _check_sequence("lstm_sequence", inputs, w_hh, (("h0", h0), ("c0", c0)), 4)
    xp = inputs.device.xp
    h, c, act, tanh_c = recurrence.lstm_forward(xp, inputs.array, w_hh.array, _array(h0),
                                                _array(c0), reverse)
    last = 0 if reverse else -1
    results = [recurrence.outputs_of(h, reverse), h[last].copy(), c[last].copy()]

    def backward(ctx, grad_out, grad_h, grad_c):
        p, w, h_0, c_0 = ctx.saved_tensors
        return lstm_sequence_backward(grad_out, grad_h, grad_c, p, w, h_0, c_0,
                                      (h, c, act, tanh_c), reverse)
    return tuple(record_many("lstm_sequence", results, (inputs, w_hh, h0, c0), backward,
                             save=(inputs, w_hh, h0, c0), attrs={"reverse": reverse}))


@operation()
def lstm_sequence_backward(grad_out, grad_h, grad_c, inputs, w_hh, h0, c0, kept, reverse):
    """(∂L/∂p, ∂L/∂W_hh, ∂L/∂h0, ∂L/∂c0) of lstm_sequence from its kept states and gates
    ``kept``, as one operation"""
    xp = inputs.device.xp
    h, c, act, tanh_c = kept
    dp, dw, dh0, dc0 = recurrence.lstm_backward(
        xp, grad_out.array, grad_h.array, grad_c.array, w_hh.array, h, c, act, tanh_c,
        reverse, h0 is not None, c0 is not None)
    results = [dp, dw] + [a for a in (dh0, dc0) if a is not None]

    def composed(p, w, h_0, c_0):
        return _composed_lstm_sequence(p, w, h_0, c_0, reverse)

    def backward(ctx, *cotangents):   # one per gradient computed: per primal that is not None
        g_out, g_h, g_c, p, w, h_0, c_0 = ctx.saved_tensors
        return derivative_of_backward(composed, [g_out, g_h, g_c], [p, w, h_0, c_0],
                                      list(cotangents), list(ctx.needs_input_grad))
    outs = iter(record_many("lstm_sequence_backward", results,
                            (grad_out, grad_h, grad_c, inputs, w_hh, h0, c0), backward,
                            save=(grad_out, grad_h, grad_c, inputs, w_hh, h0, c0)))
    return (next(outs), next(outs), None if h0 is None else next(outs),
            None if c0 is None else next(outs))


def _composed_gru_sequence(inputs, w_hh, b_hh, h0, reverse):
    """The composition gru_sequence stands for (its second derivative comes from this)."""
    from . import shape
    steps, w_t, h = inputs.unbind(0), w_hh.mT, h0
    outputs = [None] * len(steps)
    for t in _step_order(len(steps), reverse):
        if h is None:
            q = b_hh
        else:
            q = h @ w_t if b_hh is None else h @ w_t + b_hh
        h = _composed_gru_gates(steps[t], q, h)
        outputs[t] = h
    return shape.stack(outputs), h


@operation()
def gru_sequence(inputs, w_hh, b_hh, h0, reverse=False):
    """(h_1…h_T (T, N, H), h_T (N, H)) of a GRU layer from its input parts p (T, N, 3H)
    (gates r, z, n, with b_ih), W_hh (3H, H), b_hh (3H,) (None: none) and h0 (N, H)
    (None: zeros), the steps taken from last to first with ``reverse``: each step is
    gru_gates(p_t, q_t, h_{t-1}) with q_t = h_{t-1} W_hhᵀ + b_hh; ∂L/∂W_hh = Σ_t ∂q_tᵀ h_{t-1},
    ∂L/∂b_hh = Σ_t ∂q_t, ∂L/∂h_{t-1} = ∂q_t W_hh + ∂h_t·z"""
    _check_sequence("gru_sequence", inputs, w_hh, (("h0", h0),), 3)
    width = inputs.shape[-1]
    if b_hh is not None and (tuple(b_hh.shape) != (width,) or b_hh.dtype != inputs.dtype):
        raise ValueError(f"gru_sequence: b_hh must be ({width},) of {inputs.dtype}, got shape "
                         f"{tuple(b_hh.shape)} of {b_hh.dtype}")
    xp = inputs.device.xp
    h, q, act = recurrence.gru_forward(xp, inputs.array, w_hh.array, _array(b_hh), _array(h0),
                                       reverse)
    final = h[0 if reverse else -1].copy()

    def backward(ctx, grad_out, grad_h):
        p, w, b, state = ctx.saved_tensors
        return gru_sequence_backward(grad_out, grad_h, p, w, b, state, (h, q, act), reverse)
    return tuple(record_many("gru_sequence", [recurrence.outputs_of(h, reverse), final],
                             (inputs, w_hh, b_hh, h0), backward, save=(inputs, w_hh, b_hh, h0),
                             attrs={"reverse": reverse}))


@operation()
def gru_sequence_backward(grad_out, grad_h, inputs, w_hh, b_hh, h0, kept, reverse):
    """(∂L/∂p, ∂L/∂W_hh, ∂L/∂b_hh, ∂L/∂h0) of gru_sequence from its kept states, products
    and gates ``kept``, as one operation"""
    xp = inputs.device.xp
    h, q, act = kept
    dp, dw, db, dh0 = recurrence.gru_backward(xp, grad_out.array, grad_h.array, w_hh.array,
                                              b_hh is not None, h, q, act, reverse,
                                              h0 is not None)
    results = [dp, dw] + [a for a in (db, dh0) if a is not None]

    def composed(p, w, b, state):
        return _composed_gru_sequence(p, w, b, state, reverse)

    def backward(ctx, *cotangents):   # one per gradient computed: per primal that is not None
        g_out, g_h, p, w, b, state = ctx.saved_tensors
        return derivative_of_backward(composed, [g_out, g_h], [p, w, b, state],
                                      list(cotangents), list(ctx.needs_input_grad))
    outs = iter(record_many("gru_sequence_backward", results,
                            (grad_out, grad_h, inputs, w_hh, b_hh, h0), backward,
                            save=(grad_out, grad_h, inputs, w_hh, b_hh, h0)))
    return (next(outs), next(outs), None if b_hh is None else next(outs),
            None if h0 is None else next(outs))


__all__ = ["gru_gates", "gru_gates_backward", "gru_sequence", "gru_sequence_backward",
           "lstm_gates", "lstm_gates_backward", "lstm_sequence", "lstm_sequence_backward",
           "rnn_sequence", "rnn_sequence_backward"]
