"""Recurrent networks as functions of their weights: one step of each cell, and a whole
sequence through stacked, optionally bidirectional, layers.

The cells, with PyTorch's equations (x the input, h the previous hidden state, and
"W x" meaning x Wᵀ, so W is (gates·hidden_size, in) as PyTorch stores it):

    RNN    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)                 (or relu)

    LSTM   i, f, g, o = the four quarters of W_ih x + b_ih + W_hh h + b_hh
           c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
           h' = σ(o) ⊙ tanh(c')

    GRU    r, z = σ of the first two thirds of W_ih x + b_ih + W_hh h + b_hh
           n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))           (the last thirds)
           h' = (1 - z) ⊙ n + z ⊙ h

Everything is a composition of tensor operations: the gradients (backpropagation
through time) come from the tape, like those of any other layer.

Speed. The L steps of a sequence cannot run in parallel and each is a handful of small
operations, so the NUMBER of recorded operations per step decides the speed (each one
costs microseconds of Python forwards and again backwards). Hence:

* the input part of every step, W_ih x + b_ih (+ b_hh), does not depend on h: it is ONE
  matrix product over all L·N rows of a layer before its time loop (the bias added in
  place into it);
* for a batch of sequences the time loop itself is then ONE recorded operation
  (``rnn_sequence``, ``lstm_sequence``, ``gru_sequence`` in ``autograd/ops/recurrent.py``):
  it runs the steps on arrays, and its backward computes W_hh's gradient as one product
  over all L·N rows rather than one per step;
* otherwise (an unbatched sample, mixed dtypes) the input parts are cut into
  steps with one ``unbind``, and inside the loop only p + h W_hhᵀ (one fused ``addmm``)
  and the gates remain: 2 recorded operations per step, the LSTM's and the GRU's gates
  being one operation each for a batch (an unbatched sample composes them from 10 and 12
  operations); with no initial state given, step 0 skips h W_hhᵀ (h = 0 makes it 0); the
  outputs of a layer are put together with one ``stack`` after its loop.
"""
from ...autograd import ops
from .dropout import dropout as _dropout

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# -- one time step, given the input part p = W_ih x + b_ih (+ b_hh) already computed --------
# ``w_hh_t`` is W_hhᵀ (a view), made once per sequence rather than once per step.
# A state of None stands for zeros.

def _plus_product(p, h, w_hh_t):
    """p + h W_hhᵀ: one fused ``addmm`` for a batch of states (h of shape (N, hidden))"""
    return ops.linalg.addmm(p, h, w_hh_t) if h.ndim == 2 else p + h @ w_hh_t


def _rnn_tanh_step(p, h, w_hh_t, b_hh):
    """h' = tanh(p + h W_hhᵀ), with b_hh already in p"""
    return (p if h is None else _plus_product(p, h, w_hh_t)).tanh()


def _rnn_relu_step(p, h, w_hh_t, b_hh):
    """h' = relu(p + h W_hhᵀ), with b_hh already in p"""
    return (p if h is None else _plus_product(p, h, w_hh_t)).relu()


def _lstm_step(p, state, w_hh_t, b_hh):
    """(h', c') from (h, c): one product for all four gates i, f, g, o, and one σ for all of
    them too (σ of the g quarter is computed but not used: cheaper than a fourth cut)"""
    gates = p if state is None else _plus_product(p, state[0], w_hh_t)
    if gates.ndim == 2:   # a batch: the gates are one operation (autograd/ops/recurrent.py)
        return ops.recurrent.lstm_gates(gates, None if state is None else state[1])
    hidden = gates.shape[-1] // 4
    i, f, _, o = gates.sigmoid().chunk(4, -1)
    g = gates.narrow(-1, 2 * hidden, hidden).tanh()
    c = i * g if state is None else f * state[1] + i * g   # h = c = 0: f ⊙ c vanishes
    return o * c.tanh(), c


def _gru_step(p, h, w_hh_t, b_hh):
    """h' from h, with p = W_ih x + b_ih. q = W_hh h + b_hh adds to p for r and z but enters
    n only as r ⊙ q_n, which is why b_hh is not folded into p as for RNN and LSTM."""
    hidden = p.shape[-1] // 3
    if h is None:           # h = 0: q is b_hh alone (or 0 without bias)
        q = b_hh
    else:
        q = h @ w_hh_t if b_hh is None else _plus_product(b_hh, h, w_hh_t)
    if p.ndim == 2:   # a batch: the gates are one operation (autograd/ops/recurrent.py)
        return ops.recurrent.gru_gates(p, q, h)
    if q is None:
        _, z, _ = p.sigmoid().chunk(3, -1)
        n = p.narrow(-1, 2 * hidden, hidden).tanh()
    else:
        # One σ for all three thirds (the n third's is not used) costs less than cutting first.
        r, z, _ = (p + q).sigmoid().chunk(3, -1)
        n = (p.narrow(-1, 2 * hidden, hidden) + r * q.narrow(-1, 2 * hidden, hidden)).tanh()
    if h is None:
        return n - z * n          # (1 - z) ⊙ n
    return n + z * (h - n)        # (1 - z) ⊙ n + z ⊙ h, with one product fewer


STEPS = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step,
         "GRU": _gru_step}


def _input_part(mode, x, w_ih, b_ih, b_hh):
    """W_ih x + b_ih (+ b_hh for RNN and LSTM, where it simply adds), for x of shape (*, in):
    for a batch of rows (a cell), one ``addmm`` with the bias added in place."""
    if b_ih is None:
        return x @ w_ih.mT
    bias = b_ih if mode == "GRU" else b_ih + b_hh
    if x.ndim == 2:
        return ops.linalg.addmm(bias, x, w_ih.mT)
    if (x.ndim == 3 and x.shape[-1] == w_ih.shape[-1] and x.dtype is w_ih.dtype is bias.dtype
            and x.device is w_ih.device is bias.device):
        # a sequence: one GEMM over its L·N rows, the bias added in place (no second array)
        return ops.linalg.stacked_addmm(bias, x, w_ih.mT)
    return x @ w_ih.mT + bias


# -- the cells: one step, from the raw input ---------------------------------------------------
def _cell(mode, input, hx, w_ih, w_hh, b_ih, b_hh):
    p = _input_part(mode, input, w_ih, b_ih, b_hh)
    return STEPS[mode](p, hx, w_hh.mT, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), for x (N, in) and h (N, hidden) (None: 0)"""
    return _cell("RNN_TANH", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), for x (N, in) and h (N, hidden) (None: 0)"""
    return _cell("RNN_RELU", input, hx, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') from x and hx = (h, c) (None: zeros), gates i, f, g, o; see the module docstring"""
    return _cell("LSTM", input, hx, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' from x and h (None: 0), gates r, z, n; see the module docstring"""
    return _cell("GRU", input, hx, w_ih, w_hh, b_ih, b_hh)


# -- whole sequences -------------------------------------------------------------------------------
def _one_direction(mode, steps, state, w_hh, b_hh, reverse):
    """Run one direction of one layer over the per-step input parts ``steps``;
    returns (the outputs h_t in time order, the final state)."""
    step = STEPS[mode]
    w_hh_t = w_hh.mT
    outputs = [None] * len(steps)
    for t in (reversed(range(len(steps))) if reverse else range(len(steps))):
        state = step(steps[t], state, w_hh_t, b_hh)
        outputs[t] = state[0] if mode == "LSTM" else state
    return outputs, state


def _whole_sequence(mode, parts, w_hh, b_hh, state):
    """True when one operation can run the layer's whole time loop: a batch, and one dtype
    and device throughout (else the steps are recorded one by one, with the promotions of
    the separate operations)."""
    if parts.ndim != 3 or parts.shape[0] == 0 or parts.shape[1] == 0:
        return False
    tensors = [w_hh] + ([] if state is None else list(state) if mode == "LSTM" else [state])
    if mode == "GRU" and b_hh is not None:
        tensors.append(b_hh)
    return all(t.dtype == parts.dtype and t.device == parts.device for t in tensors)


def _sequence(mode, parts, w_hh, b_hh, state, reverse, time_dim):
    """(outputs, final state) of one direction of one layer as one operation
    (``autograd/ops/recurrent.py``); ``parts`` are the input parts of every step."""
    if time_dim == 1:
        parts = parts.transpose(0, 1)
    if mode == "LSTM":
        h0, c0 = (None, None) if state is None else state
        output, h_n, c_n = ops.recurrent.lstm_sequence(parts, w_hh, h0, c0, reverse)
        final = (h_n, c_n)
    elif mode == "GRU":
        output, final = ops.recurrent.gru_sequence(parts, w_hh, b_hh, state, reverse)
    else:
        output, final = ops.recurrent.rnn_sequence(parts, w_hh, state, mode == "RNN_RELU",
                                                   reverse)
    return (output.transpose(0, 1) if time_dim == 1 else output), final


def rnn(mode, input, hx, weights, num_layers=1, dropout=0.0, training=False,
        bidirectional=False, batch_first=False):
    """A whole sequence through ``num_layers`` stacked layers of the cell ``mode``
    ("RNN_TANH", "RNN_RELU", "LSTM" or "GRU").

    ``input`` is (L, N, in), or (N, L, in) with ``batch_first``. ``weights`` lists
    (w_ih, w_hh, b_ih, b_hh) for each layer and direction in PyTorch's order (layer 0,
    layer 0 reverse, layer 1, …); biases may be None. ``hx`` is the initial hidden state
    (num_layers·directions, N, hidden), for LSTM the pair (h_0, c_0), or None for zeros.
    Layer k > 0 reads the outputs of layer k-1 (both directions side by side), after
    dropout with probability ``dropout`` when ``training``.

    Returns (output, h_n), for LSTM (output, (h_n, c_n)): output is (L, N, directions·hidden)
    (batch first with ``batch_first``), h_n and c_n are (num_layers·directions, N, hidden).
    """
    directions = 2 if bidirectional else 1
    time_dim = 1 if batch_first else 0
    if hx is None:
        initial = [None] * (num_layers * directions)
    elif mode == "LSTM":
        initial = list(zip(hx[0].unbind(0), hx[1].unbind(0)))
    else:
        initial = list(hx.unbind(0))
    x = input
    finals = []
    for layer in range(num_layers):
        if layer > 0:   # between layers only, never on the last layer's output
            x = _dropout(x, dropout, training)
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            w_ih, w_hh, b_ih, b_hh = weights[k]
            # One product for the input part of every time step, then the time loop.
            parts = _input_part(mode, x, w_ih, b_ih, b_hh)
            if _whole_sequence(mode, parts, w_hh, b_hh, initial[k]):
                output, final = _sequence(mode, parts, w_hh, b_hh, initial[k], direction == 1,
                                          time_dim)
                outputs.append(output)
                finals.append(final)
                continue
            steps = parts.unbind(time_dim)
            hs, final = _one_direction(mode, steps, initial[k], w_hh, b_hh, direction == 1)
            outputs.append(ops.shape.stack(hs, time_dim))
            finals.append(final)
        x = outputs[0] if directions == 1 else ops.shape.cat(outputs, 2)
    if mode == "LSTM":
        return x, (ops.shape.stack([h for h, _ in finals]), ops.shape.stack([c for _, c in finals]))
    return x, ops.shape.stack(finals)


__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "rnn"]
