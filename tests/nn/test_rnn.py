"""RNN, LSTM, GRU and their cells: PyTorch's parameters, equations, shapes, options and errors."""
import math
import warnings

import numpy as np
import pytest
import hypothesis
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

rng = np.random.default_rng(0)


def relu_rnn(*args, **kwargs):
    return RNN(*args, nonlinearity="relu", **kwargs)


MODELS = {"RNN_TANH": RNN, "RNN_RELU": relu_rnn, "LSTM": LSTM, "GRU": GRU}


def leaf(*shape):
    return tg.tensor(rng.uniform(-1, 1, size=shape), dtype=tg.float64, requires_grad=True)


def values(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# -- PyTorch's equations, written out in numpy (float64) -------------------------------------------
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's cell equations; returns (h', c') (c' None except for LSTM)."""
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
    if mode == "RNN_TANH":
        return np.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return np.maximum(gi + gh, 0), None
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    i_r, i_z, i_n = np.split(gi, 3, axis=-1)
    h_r, h_z, h_n = np.split(gh, 3, axis=-1)
    r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h, None


def numpy_rnn(mode, module, x, h0=None, c0=None):
    """The whole multi-layer (bi)directional network in numpy, from the module's state_dict."""
    p = {k: v.detach().numpy().astype(np.float64) for k, v in module.state_dict().items()}
    x = np.asarray(x, dtype=np.float64)
    if module.batch_first:
        x = x.transpose(1, 0, 2)
    seq, batch = x.shape[:2]
    directions = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    zeros = np.zeros((module.num_layers * directions, batch, hidden))
    h0 = zeros if h0 is None else np.asarray(h0, np.float64)
    c0 = zeros if c0 is None else np.asarray(c0, np.float64)
    h_n, c_n = [], []
    for layer in range(module.num_layers):
        outs = []
        for d in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [p.get(name + sfx) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[layer * directions + d], c0[layer * directions + d]
            out = [None] * seq
            for t in (reversed(range(seq)) if d else range(seq)):
                h, c = numpy_cell(mode, x[t], h, c, *w)
                out[t] = h
            outs.append(np.stack(out))
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outs, axis=-1)
    if module.batch_first:
        x = x.transpose(1, 0, 2)
    return x, np.stack(h_n), (np.stack(c_n) if mode == "LSTM" else None)


def run(module, x, h0=None, c0=None):
    """module(x, hx) with numpy inputs; returns (output, h_n, c_n or None) as numpy."""
    x = tg.from_numpy(x)
    if module.mode == "LSTM":
        hx = None if h0 is None else (tg.from_numpy(h0), tg.from_numpy(c0))
        out, (h, c) = module(x, hx)
        return out.detach().numpy(), h.detach().numpy(), c.detach().numpy()
    out, h = module(x, None if h0 is None else tg.from_numpy(h0))
    return out.detach().numpy(), h.detach().numpy(), None


# -- values against the equations ------------------------------------------------------------------
CONFIGS = [dict(), dict(num_layers=2), dict(bidirectional=True), dict(batch_first=True),
           dict(num_layers=3, bidirectional=True, batch_first=True), dict(bias=False),
           dict(num_layers=2, bias=False, bidirectional=True)]


@pytest.mark.parametrize("mode", MODELS)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in
                                                                  c.items()) or "default")
def test_values_follow_pytorchs_equations(mode, config):
    tg.manual_seed(1)
    module = MODELS[mode](5, 6, **config)
    seq, batch = 4, 3
    directions = 2 if module.bidirectional else 1
    x = values(batch, seq, 5) if module.batch_first else values(seq, batch, 5)
    h0, c0 = (values(module.num_layers * directions, batch, 6) for _ in range(2))
    for given in (False, True):
        hx = (h0, c0 if mode == "LSTM" else None) if given else (None, None)
        out, h, c = run(module, x, *hx)
        expected = numpy_rnn(mode, module, x, *hx)
        assert out.dtype == np.float32 and out.shape == expected[0].shape
        assert h.shape == (module.num_layers * directions, batch, 6)
        for got, want in zip((out, h, c), expected):
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_a_batch_cut_between_threads_follows_the_equations(mode, monkeypatch):
    """A float32 LSTM's or GRU's loop is cut by rows, one range per thread
    (kernels/cpu/recurrent_rows.py): 17 rows in 2 ranges give the equations' values, and the
    same gradients as one range."""
    from tapegrad.kernels.cpu import threads
    tg.manual_seed(2)
    module = MODELS[mode](5, 6, num_layers=2, bidirectional=True)
    x = values(4, 17, 5)
    results = {}
    for count in (1, 2):
        monkeypatch.setattr(threads, "thread_count", lambda: count)
        module.zero_grad()
        x_leaf = tg.from_numpy(x).requires_grad_()
        out, _ = module(x_leaf)
        np.testing.assert_allclose(out.detach().numpy(), numpy_rnn(mode, module, x)[0],
                                   rtol=1e-5, atol=1e-5)
        (out * out).sum().backward()
        results[count] = [x_leaf.grad.numpy()] + [p.grad.numpy() for p in module.parameters()]
    for cut, whole in zip(results[2], results[1]):
        np.testing.assert_allclose(cut, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODELS)
def test_an_unbatched_sequence_is_a_batch_of_one(mode):
    module = MODELS[mode](3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x, h0, c0 = values(5, 3), values(4, 4), values(4, 4)
    c0 = c0 if mode == "LSTM" else None
    out, h, c = run(module, x, h0, c0)
    assert out.shape == (5, 8) and h.shape == (4, 4)
    batched = run(module, x[None], h0[:, None], None if c0 is None else c0[:, None])
    np.testing.assert_allclose(out, batched[0][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, batched[1][:, 0], rtol=1e-6, atol=1e-7)
    if mode == "LSTM":
        assert c.shape == (4, 4)


def test_output_shapes_and_direction_layout():
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True)
    out, (h, c) = lstm(tg.randn(7, 2, 3))
    assert out.shape == (7, 2, 8) and h.shape == (4, 2, 4) and c.shape == (4, 2, 4)
    o, hn = out.detach().numpy(), h.detach().numpy()
    # The last layer's forward direction ends at t = L-1, its backward direction at t = 0.
    np.testing.assert_allclose(o[-1, :, :4], hn[2], rtol=1e-6)
    np.testing.assert_allclose(o[0, :, 4:], hn[3], rtol=1e-6)
    gru = GRU(3, 4, batch_first=True)
    out, h = gru(tg.randn(2, 7, 3))
    assert out.shape == (2, 7, 4) and h.shape == (1, 2, 4)
    np.testing.assert_allclose(out.detach().numpy()[:, -1], h.detach().numpy()[0], rtol=1e-6)


def test_float32_stays_float32_and_double_modules_compute_in_float64():
    rnn = RNN(3, 4)
    out, h = rnn(tg.randn(2, 1, 3))
    assert out.dtype == tg.float32 and h.dtype == tg.float32
    rnn.double()
    out, h = rnn(tg.randn(2, 1, 3, dtype=tg.float64))
    assert out.dtype == tg.float64 and h.dtype == tg.float64
    lstm = LSTM(3, 4, dtype=tg.float64)
    assert all(p.dtype == tg.float64 for p in lstm.parameters())


@pytest.mark.parametrize("cell_type,mode", [(RNNCell, "RNN_TANH"), (RNNCell, "RNN_RELU"),
                                            (LSTMCell, "LSTM"), (GRUCell, "GRU")])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_follow_pytorchs_equations(cell_type, mode, bias):
    kwargs = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    cell = cell_type(5, 6, bias=bias, **kwargs)
    w = [None if t is None else t.detach().numpy().astype(np.float64)
         for t in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    x, h, c = values(3, 5), values(3, 6), values(3, 6)
    for given in (True, False):
        h_in = h if given else np.zeros((3, 6), np.float32)
        c_in = c if given else np.zeros((3, 6), np.float32)
        want_h, want_c = numpy_cell(mode, x.astype(np.float64), h_in, c_in, *w)
        if mode == "LSTM":
            got_h, got_c = cell(tg.from_numpy(x), (tg.from_numpy(h), tg.from_numpy(c)) if given
                                else None)
            np.testing.assert_allclose(got_c.detach().numpy(), want_c, rtol=1e-5, atol=1e-6)
        else:
            got_h = cell(tg.from_numpy(x), tg.from_numpy(h) if given else None)
        assert got_h.dtype == tg.float32 and got_h.shape == (3, 6)
        np.testing.assert_allclose(got_h.detach().numpy(), want_h, rtol=1e-5, atol=1e-6)


def test_cells_accept_a_single_unbatched_input():
    cell = LSTMCell(3, 4)
    x, h, c = tg.randn(3), tg.randn(4), tg.randn(4)
    h1, c1 = cell(x, (h, c))
    assert h1.shape == (4,) and c1.shape == (4,)
    h2, c2 = cell(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
    np.testing.assert_allclose(h1.detach().numpy(), h2.detach().numpy()[0], rtol=1e-6)
    assert RNNCell(3, 4)(x).shape == (4,) and GRUCell(3, 4)(x, h).shape == (4,)


def test_a_cell_unrolled_by_hand_equals_the_sequence_layer():
    tg.manual_seed(0)
    lstm, cell = LSTM(3, 4), LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = tg.randn(5, 2, 3)
    state = None
    outs = []
    for t in range(5):
        state = cell(x[t], state)
        outs.append(state[0])
    out, (h, c) = lstm(x)
    np.testing.assert_allclose(tg.stack(outs).detach().numpy(), out.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(state[1].detach().numpy(), c.detach().numpy()[0], rtol=1e-6)


# -- parameters: names, shapes, order, initialisation ----------------------------------------------
def test_state_dict_keys_are_pytorchs_for_a_two_layer_bidirectional_lstm():
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True)
    assert list(lstm.state_dict()) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
        "bias_hh_l1_reverse"]
    shapes = {k: tuple(v.shape) for k, v in lstm.state_dict().items()}
    assert shapes["weight_ih_l0"] == (20, 3) and shapes["weight_hh_l0"] == (20, 5)
    assert shapes["weight_ih_l1_reverse"] == (20, 10) and shapes["bias_hh_l1"] == (20,)


def test_gate_counts_set_the_parameter_shapes():
    assert GRU(3, 5).weight_ih_l0.shape == (15, 3)
    assert RNN(3, 5, num_layers=2).weight_ih_l1.shape == (5, 5)
    assert GRUCell(3, 5).weight_hh.shape == (15, 5)
    assert [n for n, _ in LSTMCell(3, 5).named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_without_bias_there_are_only_weights():
    gru = GRU(3, 4, num_layers=2, bias=False)
    assert list(gru.state_dict()) == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1",
                                      "weight_hh_l1"]
    cell = RNNCell(3, 4, bias=False)
    assert cell.bias_ih is None and [n for n, _ in cell.named_parameters()] == [
        "weight_ih", "weight_hh"]


def test_all_weights_lists_the_parameters_per_layer_and_direction():
    rnn = RNN(3, 4, num_layers=2, bidirectional=True)
    assert len(rnn.all_weights) == 4
    assert rnn.all_weights[1][0] is rnn.weight_ih_l0_reverse
    assert rnn.all_weights[2][3] is rnn.bias_hh_l1


@pytest.mark.parametrize("make", [lambda: LSTM(50, 100, num_layers=2), lambda: GRUCell(20, 100)])
def test_default_init_is_uniform_in_plus_minus_one_over_sqrt_hidden(make):
    tg.manual_seed(0)
    module = make()
    bound = 1 / math.sqrt(100)
    for name, p in module.named_parameters():
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound, name
        assert a.dtype == np.float32
    w = module.state_dict()["weight_hh_l0" if isinstance(module, LSTM) else "weight_hh"].numpy()
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert np.abs(w).max() > 0.99 * bound


def test_init_is_reproducible_with_manual_seed():
    tg.manual_seed(3)
    a = GRU(3, 4).weight_hh_l0.detach().numpy().copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(GRU(3, 4).weight_hh_l0.detach().numpy(), a)


# -- gradients (float64) ---------------------------------------------------------------------------
def sequence_function(module, n_states):
    """f(x, [h_0, [c_0,]] *parameters) -> (output, h_n[, c_n]) for gradcheck, which perturbs
    the parameters in place: they are passed so that their gradients are checked too."""
    def f(x, *rest):
        states = rest[:n_states]
        hx = None if not states else states if module.mode == "LSTM" else states[0]
        out, hidden = module(x, hx)
        return (out, *hidden) if module.mode == "LSTM" else (out, hidden)
    return f


def check_along_random_directions(fn, inputs, directions=2, eps=1e-6, atol=1e-7, rtol=1e-5):
    """A cheaper gradcheck for the bigger configurations: for s = Σ r ⊙ fn(inputs) (r
    random), the analytical ∂s/∂T of every input T must match, along random directions u,
    the central difference (s(T + εu) - s(T - εu)) / 2ε. A wrong gradient in any entry of
    any input changes ⟨∂s/∂T, u⟩ (almost surely), for 2·directions forward passes per input
    tensor instead of gradcheck's 2 per element."""
    draw = np.random.default_rng(7)
    weights = [draw.standard_normal(tuple(o.shape)) for o in fn(*inputs)]

    def s():
        return sum((o * tg.from_numpy(w)).sum() for o, w in zip(fn(*inputs), weights))
    analytical = tg.autograd.grad(s(), inputs)
    with tg.no_grad():
        for i, (t, g) in enumerate(zip(inputs, analytical)):
            for _ in range(directions):
                u = draw.standard_normal(tuple(t.shape))
                original = t.array.copy()
                t.array[...] = original + eps * u
                plus = float(s())
                t.array[...] = original - eps * u
                minus = float(s())
                t.array[...] = original
                numerical = (plus - minus) / (2 * eps)
                predicted = float((g.numpy() * u).sum())
                assert abs(predicted - numerical) <= atol + rtol * abs(numerical), (
                    f"input {i} (shape {tuple(t.shape)}): analytical {predicted!r} against "
                    f"numerical {numerical!r}")


def module_inputs(module, x_shape, initial_states=True):
    """(f, inputs) for the module in float64: inputs are x, the initial states and every
    parameter, so that a check of f covers all their gradients."""
    module.double()
    directions = 2 if module.bidirectional else 1
    batch = x_shape[0 if module.batch_first else 1] if len(x_shape) == 3 else None
    state_shape = (module.num_layers * directions,) + ((batch,) if batch else ()) + (
        module.hidden_size,)
    n_states = (2 if module.mode == "LSTM" else 1) if initial_states else 0
    inputs = (leaf(*x_shape), *(leaf(*state_shape) for _ in range(n_states)),
              *module.parameters())
    return sequence_function(module, n_states), inputs


@pytest.mark.parametrize("mode", MODELS)
def test_gradcheck_with_every_option_at_once(mode):
    # Two layers, both directions, batch first, given initial states; every parameter.
    # (Tiny sizes: gradcheck costs two forward passes per element of every parameter.)
    module = MODELS[mode](2, 2, num_layers=2, bidirectional=True, batch_first=True)
    assert gradcheck(*module_inputs(module, (2, 3, 2)))


@pytest.mark.parametrize("mode", MODELS)
def test_gradients_along_random_directions_with_every_option_at_once(mode):
    # The same options at sizes I=3, H=4, L=3, N=2, checked along random directions.
    module = MODELS[mode](3, 4, num_layers=2, bidirectional=True, batch_first=True)
    check_along_random_directions(*module_inputs(module, (2, 3, 3)))
    module = MODELS[mode](3, 4, num_layers=2)
    check_along_random_directions(*module_inputs(module, (3, 2, 3), initial_states=False))


@pytest.mark.parametrize("mode", MODELS)
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_with_zero_initial_state(mode, bias):
    # No h_0: the first step skips h W_hhᵀ, which must not change any gradient.
    assert gradcheck(*module_inputs(MODELS[mode](3, 2, bias=bias), (3, 2, 3), False))


@pytest.mark.parametrize("mode", MODELS)
def test_gradcheck_unbatched(mode):
    assert gradcheck(*module_inputs(MODELS[mode](2, 2, num_layers=2), (3, 2)))


@pytest.mark.parametrize("cell_type,kwargs", [(RNNCell, {}), (RNNCell, {"nonlinearity": "relu"}),
                                              (LSTMCell, {}), (GRUCell, {}),
                                              (GRUCell, {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_gradcheck(cell_type, kwargs, batched):
    cell = cell_type(3, 4, **kwargs).double()
    lead = (2,) if batched else ()
    x, h, c = leaf(*lead, 3), leaf(*lead, 4), leaf(*lead, 4)
    params = tuple(cell.parameters())
    if cell_type is LSTMCell:
        assert gradcheck(lambda x, h, c, *p: cell(x, (h, c)), (x, h, c, *params))
        assert gradcheck(lambda x, *p: cell(x), (x, *params))
    else:
        assert gradcheck(lambda x, h, *p: cell(x, h), (x, h, *params))
        assert gradcheck(lambda x, *p: cell(x), (x, *params))


@pytest.mark.parametrize("make", [lambda: RNNCell(3, 4), lambda: LSTMCell(3, 4),
                                  lambda: GRUCell(3, 4), lambda: RNN(3, 4, bidirectional=True),
                                  lambda: LSTM(3, 4, num_layers=2), lambda: GRU(3, 4)])
@pytest.mark.parametrize("batched", [True, False])
def test_without_a_state_weight_hh_gets_a_zero_gradient_not_none(make, batched):
    # As PyTorch: h = 0 still takes part, so ∂loss/∂W_hh = 0 · … is a tensor of zeros.
    # (Optimizers differ on the two: a None gradient skips the parameter, weight decay and
    # momentum included.) A sequence layer meets this with a sequence of one step.
    module = make()
    is_cell = "Cell" in type(module).__name__
    batch = (2,) if batched else ()
    x = tg.randn(*batch, 3) if is_cell else tg.randn(1, *batch, 3)   # one step
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        if name.startswith("weight_hh"):
            assert not p.grad.numpy().any(), name
        else:
            assert p.grad.numpy().any(), name


# -- dropout between layers ------------------------------------------------------------------------
def test_dropout_acts_between_layers_in_training_only():
    tg.manual_seed(0)
    gru = GRU(3, 4, num_layers=2, dropout=0.5)
    x = tg.randn(5, 2, 3)
    gru.eval()
    out_eval, h_eval = (t.detach().numpy() for t in gru(x))
    expected = numpy_rnn("GRU", gru, x.numpy())
    np.testing.assert_allclose(out_eval, expected[0], rtol=1e-5, atol=1e-6)
    gru.train()
    out_train, h_train = (t.detach().numpy() for t in gru(x))
    assert not np.allclose(out_train, out_eval)
    # Layer 0's states come before any dropout: its final state is the same in training.
    np.testing.assert_allclose(h_train[0], h_eval[0], rtol=1e-6)


def test_dropout_is_not_applied_to_the_last_layers_output():
    # dropout=1 zeroes everything between the layers, so layer 1 sees only zeros, and its
    # output is what the equations give for a zero input; nothing is zeroed after it.
    rnn = RNN(3, 4, num_layers=2, dropout=1.0)
    x = tg.randn(4, 2, 3)
    out, h = rnn(x)
    top = RNN(4, 4)
    top.load_state_dict({k[:-1] + "0": v for k, v in rnn.state_dict().items() if k.endswith("l1")})
    expected, _, _ = numpy_rnn("RNN_TANH", top, np.zeros((4, 2, 4)))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.all(out.detach().numpy() != 0)


def test_dropout_masks_repeat_with_manual_seed():
    lstm = LSTM(3, 4, num_layers=3, dropout=0.3)
    x = tg.randn(4, 2, 3)
    tg.manual_seed(5)
    a = lstm(x)[0].detach().numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(lstm(x)[0].detach().numpy(), a)


def test_dropout_with_a_single_layer_warns_as_pytorch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1, "
                                         "but got dropout=0.5 and num_layers=1"):
        LSTM(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTM(3, 4, num_layers=2, dropout=0.5)


# -- speed: few operations per time step -----------------------------------------------------------
@pytest.mark.parametrize("mode,per_step", [("RNN_TANH", 3), ("LSTM", 11), ("GRU", 13)])
def test_operations_recorded_per_time_step(mode, per_step):
    # The input part of every step is one product before the loop; each step records only
    # h W_hhᵀ and the gates (see functional/rnn.py). Guards against per-step regressions.
    module = MODELS[mode](8, 16)
    steps = 20
    x, h0 = tg.randn(steps, 4, 8), tg.randn(1, 4, 16)
    hx = (h0, tg.randn(1, 4, 16)) if mode == "LSTM" else h0
    with tg.autograd.profile() as prof:
        module(x, hx)
    calls = sum(s.calls for s in prof.stats.values())
    assert calls <= per_step * steps + 12, prof.table()


# -- errors ----------------------------------------------------------------------------------------
def test_wrong_input_size_names_the_layer_and_both_sizes():
    lstm = LSTM(10, 20, num_layers=2)
    with pytest.raises(RuntimeError) as error:
        lstm(tg.zeros(5, 3, 7))
    assert str(error.value) == ("LSTM(10, 20, num_layers=2): input.size(-1) must be equal to "
                                "input_size. Expected 10, got 7 (input of shape (5, 3, 7))")


def test_wrong_input_ndim():
    with pytest.raises(ValueError, match=r"GRU\(3, 4, batch_first=True\): expected input to be "
                                         r"2-D \(L, input_size\) or 3-D \(N, L, input_size\), "
                                         r"got 4-D of shape \(1, 2, 3, 3\)"):
        GRU(3, 4, batch_first=True)(tg.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match="got 1-D of shape"):
        RNN(3, 4)(tg.zeros(3))
    with pytest.raises(TypeError, match=r"RNN\(3, 4\): input must be a Tensor, got ndarray"):
        RNN(3, 4)(np.zeros((2, 1, 3)))


def test_wrong_initial_state_shape_names_both_shapes():
    rnn = RNN(10, 20, num_layers=2, bidirectional=True)
    with pytest.raises(RuntimeError) as error:
        rnn(tg.zeros(5, 3, 10), tg.zeros(2, 3, 20))
    assert str(error.value) == ("RNN(10, 20, num_layers=2, bidirectional=True): expected h_0 of "
                                "shape (4, 3, 20) = (num_layers·num_directions, N, hidden_size), "
                                "got (2, 3, 20)")
    lstm = LSTM(10, 20)
    with pytest.raises(RuntimeError, match=r"expected c_0 of shape \(1, 3, 20\) .*, got "
                                           r"\(1, 4, 20\)"):
        lstm(tg.zeros(5, 3, 10), (tg.zeros(1, 3, 20), tg.zeros(1, 4, 20)))
    with pytest.raises(RuntimeError, match=r"expected h_0 of shape \(1, 20\) = \(num_layers·"
                                           r"num_directions, hidden_size\) for a 2-D, unbatched "
                                           r"input, got \(1, 1, 20\)"):
        lstm(tg.zeros(5, 10), (tg.zeros(1, 1, 20), tg.zeros(1, 1, 20)))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(tg.zeros(5, 3, 10), tg.zeros(1, 3, 20))
    with pytest.raises(TypeError, match="h_0 must be a Tensor, got ndarray"):
        GRU(10, 20)(tg.zeros(5, 3, 10), np.zeros((1, 3, 20)))


def test_batch_first_sets_which_dimension_is_the_batch_for_the_state():
    gru = GRU(3, 4, batch_first=True)
    out, h = gru(tg.zeros(2, 5, 3), tg.zeros(1, 2, 4))
    assert out.shape == (2, 5, 4)
    with pytest.raises(RuntimeError, match=r"expected h_0 of shape \(1, 2, 4\)"):
        gru(tg.zeros(2, 5, 3), tg.zeros(1, 5, 4))


def test_dtype_mismatch_and_empty_sequence():
    with pytest.raises(RuntimeError, match=r"LSTM\(3, 4\): input is float64 but the layer's "
                                           r"weights are float32"):
        LSTM(3, 4)(tg.zeros(2, 1, 3, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"the input sequence is empty \(input of shape "
                                           r"\(0, 2, 3\), length 0\)"):
        RNN(3, 4)(tg.zeros(0, 2, 3))


def test_constructor_errors_match_pytorch():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'. Select from 'tanh' or "
                                         "'relu'."):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
        GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        GRU(3, 4.0)
    with pytest.raises(NotImplementedError, match="proj_size"):
        LSTM(3, 4, proj_size=2)


def test_cell_errors_name_the_cell_and_the_shapes():
    cell = LSTMCell(3, 4)
    with pytest.raises(RuntimeError, match=r"LSTMCell\(3, 4\): input has inconsistent "
                                           r"input_size: got 5 expected 3 \(input of shape "
                                           r"\(2, 5\)\)"):
        cell(tg.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"LSTMCell\(3, 4\): expected c of shape \(2, 4\) for "
                                           r"an input of shape \(2, 3\), got \(3, 4\)"):
        cell(tg.zeros(2, 3), (tg.zeros(2, 4), tg.zeros(3, 4)))
    with pytest.raises(ValueError, match=r"RNNCell\(3, 4\): expected input to be 1-D "
                                         r"\(input_size,\) or 2-D \(N, input_size\), got 3-D"):
        RNNCell(3, 4)(tg.zeros(1, 2, 3))
    with pytest.raises(RuntimeError, match=r"GRUCell\(3, 4\): expected hx of shape \(4,\) for an "
                                           r"input of shape \(3,\), got \(2, 4\)"):
        GRUCell(3, 4)(tg.zeros(3), tg.zeros(2, 4))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h, c\)"):
        cell(tg.zeros(2, 3), tg.zeros(2, 4))


def test_an_error_changes_nothing():
    gru = GRU(3, 4)
    before = {k: v.numpy().copy() for k, v in gru.state_dict().items()}
    with pytest.raises(RuntimeError):
        gru(tg.zeros(2, 1, 3), tg.zeros(2, 1, 4))
    for k, v in gru.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


# -- repr ------------------------------------------------------------------------------------------
def test_repr_matches_pytorch():
    assert repr(LSTM(10, 20, num_layers=2, batch_first=True)) == (
        "LSTM(10, 20, num_layers=2, batch_first=True)")
    assert repr(GRU(3, 4)) == "GRU(3, 4)"
    # As in PyTorch, RNN's repr does not show the nonlinearity.
    assert repr(RNN(10, 20, 2, "relu", False, dropout=0.5, bidirectional=True)) == (
        "RNN(10, 20, num_layers=2, bias=False, dropout=0.5, bidirectional=True)")
    assert repr(RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(LSTMCell(3, 4, bias=False)) == "LSTMCell(3, 4, bias=False)"
    assert repr(GRUCell(3, 4)) == "GRUCell(3, 4)"


# -- learning --------------------------------------------------------------------------------------
def test_an_lstm_learns_to_recall_a_bit_after_a_delay():
    # The sign of the first input must be read out at the last of 8 steps; the inputs in
    # between are noise. A model without memory cannot beat chance (50%).
    tg.manual_seed(0)
    data = np.random.default_rng(0)

    def batch(n):
        bits = data.choice([-1.0, 1.0], size=n)
        x = data.uniform(-0.5, 0.5, size=(8, n, 1))
        x[0, :, 0] = bits
        return tg.tensor(x, dtype=tg.float32), tg.tensor(bits[:, None], dtype=tg.float32)

    lstm, head = LSTM(1, 16), tg.nn.Linear(16, 1)
    optimizer = tg.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.02)
    for _ in range(100):
        x, y = batch(32)
        out, _ = lstm(x)
        loss = ((head(out[-1]) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = batch(500)
    with tg.no_grad():
        prediction = head(lstm(x)[0][-1])
    accuracy = float((np.sign(prediction.numpy()) == y.numpy()).mean())
    assert accuracy > 0.97
    assert float(((prediction - y) ** 2).mean()) < 0.1


# -- PyTorch compatibility (only where PyTorch happens to be installed) ----------------------------
@pytest.mark.parametrize("name,kwargs", [
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(num_layers=2, nonlinearity="relu", batch_first=True)),
    ("LSTM", dict(bias=False))])
def test_pytorch_state_dict_loads_and_gives_the_same_outputs_and_gradients(name, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(5, 6, **kwargs)
    ours = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}[name](5, 6, **kwargs)
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state)
    layers = ours.num_layers * (2 if ours.bidirectional else 1)
    x = values(3, 4, 5)
    h0, c0 = values(layers, 3 if ours.batch_first else 4, 6), values(layers, 3 if
                                                                    ours.batch_first else 4, 6)
    tx = torch.from_numpy(x).requires_grad_()
    th = torch.from_numpy(h0).requires_grad_()
    gx, gh = tg.from_numpy(x).requires_grad_(), tg.from_numpy(h0).requires_grad_()
    if name == "LSTM":
        out_ref, (h_ref, _) = reference(tx, (th, torch.from_numpy(c0)))
        out, (h, _) = ours(gx, (gh, tg.from_numpy(c0)))
    else:
        out_ref, h_ref = reference(tx, th)
        out, h = ours(gx, gh)
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(h.detach().numpy(), h_ref.detach().numpy(), atol=1e-5)
    weights = values(*out.shape)
    (out_ref * torch.from_numpy(weights)).sum().backward()
    (out * tg.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(gh.grad.numpy(), th.grad.numpy(), atol=1e-5)
    for (key, p), p_ref in zip(ours.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_ref.grad.numpy(), atol=1e-5, err_msg=key)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_pytorch_agrees_on_a_batch_cut_between_threads(name, monkeypatch):
    """24 rows, hidden 32, two layers both ways: each loop cut into 2 ranges of rows
    (kernels/cpu/recurrent_rows.py), against PyTorch's float32 layer."""
    torch = pytest.importorskip("torch")
    from tapegrad.kernels.cpu import threads
    monkeypatch.setattr(threads, "thread_count", lambda: 2)
    torch.manual_seed(1)
    reference = getattr(torch.nn, name)(8, 32, num_layers=2, bidirectional=True)
    ours = {"LSTM": LSTM, "GRU": GRU}[name](8, 32, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = values(7, 24, 8)
    tx, gx = torch.from_numpy(x).requires_grad_(), tg.from_numpy(x).requires_grad_()
    out_ref, out = reference(tx)[0], ours(gx)[0]
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-5)
    weights = values(*out.shape)
    (out_ref * torch.from_numpy(weights)).sum().backward()
    (out * tg.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), atol=2e-5)
    for (key, p), p_ref in zip(ours.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_ref.grad.numpy(), atol=2e-5, rtol=1e-4,
                                   err_msg=key)


def test_pytorch_cells_state_dicts_load_and_give_the_same_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x, h, c = values(3, 5), values(3, 6), values(3, 6)
    for name, ours in (("LSTMCell", LSTMCell(5, 6)), ("GRUCell", GRUCell(5, 6)),
                       ("RNNCell", RNNCell(5, 6))):
        reference = getattr(torch.nn, name)(5, 6)
        ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
        if name == "LSTMCell":
            want = reference(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))[1]
            got = ours(tg.from_numpy(x), (tg.from_numpy(h), tg.from_numpy(c)))[1]
        else:
            want = reference(torch.from_numpy(x), torch.from_numpy(h))
            got = ours(tg.from_numpy(x), tg.from_numpy(h))
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_pytorch_cells_without_a_state_give_the_same_gradients(name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(5, 6)
    ours = {"RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}[name](5, 6)
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = values(3, 5)
    want, got = reference(torch.from_numpy(x)), ours(tg.from_numpy(x))
    if name == "LSTMCell":
        want, got = want[0] + want[1], got[0] + got[1]
    want.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-5)
    for (key, p), p_ref in zip(ours.named_parameters(), reference.parameters()):
        assert (p.grad is None) == (p_ref.grad is None), key
        np.testing.assert_allclose(p.grad.numpy(), p_ref.grad.numpy(), atol=1e-5, err_msg=key)


# -- a batch runs each layer's time loop as one operation ----------------------------------------
@pytest.mark.parametrize("mode", list(MODELS))
def test_a_batch_records_one_time_loop_per_layer_and_direction(mode):
    from ..support import ops_on_tape
    tg.manual_seed(0)
    model = MODELS[mode](3, 4, num_layers=2, bidirectional=True).double()
    out, _ = model(leaf(5, 2, 3))
    names = ops_on_tape(out)
    loop = {"RNN_TANH": "rnn_sequence", "RNN_RELU": "rnn_sequence", "LSTM": "lstm_sequence",
            "GRU": "gru_sequence"}[mode]
    assert loop in names and not names & {"lstm_gates", "gru_gates", "unbind"}
    # one addmm per layer and direction: the input parts of all steps, none inside the loop
    assert _count_on_tape(out, "addmm") == 2 * 2


def _count_on_tape(output, op):
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edge[0] for edge in node.next_edges if edge is not None)
    return sum(node.op == op for node in seen)


def test_a_kept_graph_is_untouched_by_the_steps_that_follow():
    # The loop's states and gradients are arrays recycled from step to step: those a graph
    # (or a tensor) still holds must never be handed to the next step.
    tg.manual_seed(0)
    model = LSTM(3, 4, num_layers=2)        # float32: the numba loop
    x1, x2 = (tg.tensor(rng.uniform(-1, 1, size=(5, 2, 3)), dtype=tg.float32) for _ in range(2))
    out1, (h1, c1) = model(x1)
    kept = [t.detach().numpy().copy() for t in (out1, h1, c1)]
    (out1.square().sum() + c1.sum()).backward(retain_graph=True)
    grads1 = [p.grad.numpy().copy() for p in model.parameters()]
    for _ in range(2):                      # more steps while the first graph is kept
        model.zero_grad()
        out2, _ = model(x2)
        out2.sum().backward()
    for t, expected in zip((out1, h1, c1), kept):
        np.testing.assert_array_equal(t.detach().numpy(), expected)
    model.zero_grad()
    (out1.square().sum() + c1.sum()).backward()
    for p, expected in zip(model.parameters(), grads1):
        np.testing.assert_array_equal(p.grad.numpy(), expected)


@pytest.mark.parametrize("mode", list(MODELS))
def test_the_time_loop_as_one_operation_equals_the_steps_recorded_one_by_one(mode):
    # An unbatched sample takes the step-by-step path: each sample of a batch must get the
    # same outputs, final states and gradients through the one-operation path.
    tg.manual_seed(0)
    model = MODELS[mode](3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = leaf(2, 5, 3)
    out, state = model(x)
    h_n = state[0] if mode == "LSTM" else state
    (out.square().sum() + h_n.sum()).backward()
    batch_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for b in range(2):
        sample_out, sample_state = model(x[b].detach())
        sample_h = sample_state[0] if mode == "LSTM" else sample_state
        np.testing.assert_allclose(sample_out.detach().numpy(), out[b].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(sample_h.detach().numpy(), h_n[:, b].detach().numpy(), atol=1e-12)
        (sample_out.square().sum() + sample_h.sum()).backward()
    for p, expected in zip(model.parameters(), batch_grads):
        np.testing.assert_allclose(p.grad.numpy(), expected.numpy(), atol=1e-12)


@hypothesis.settings(max_examples=25, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(name=st.sampled_from(["LSTM", "GRU"]), batch=st.integers(1, 20), hidden=st.integers(1, 24),
       inputs=st.integers(1, 6), length=st.integers(1, 5), layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       with_state=st.booleans(), threads=st.integers(1, 3), scale=st.sampled_from([0.1, 1.0, 8.0]),
       seed=st.integers(0, 2**16))
def test_float32_layers_agree_with_pytorch_over_drawn_shapes_and_options(
        monkeypatch, name, batch, hidden, inputs, length, layers, bidirectional, batch_first, bias,
        with_state, threads, scale, seed):
    """The float32 LSTM and GRU (their loops whole inside numba, cut between up to 3 threads'
    ranges of rows: kernels/cpu/recurrent_rows.py) against PyTorch's float32 layers, outputs,
    final states and every gradient, over drawn sizes and options; inputs up to 8σ saturate
    the gates."""
    torch = pytest.importorskip("torch")
    from tapegrad.kernels.cpu import threads as pool
    monkeypatch.setattr(pool, "thread_count", lambda: threads)
    torch.manual_seed(seed)
    options = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    reference = getattr(torch.nn, name)(inputs, hidden, **options)
    ours = {"LSTM": LSTM, "GRU": GRU}[name](inputs, hidden, **options)
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    draw = np.random.default_rng(seed)
    x = (scale * draw.standard_normal((batch, length, inputs) if batch_first
                                      else (length, batch, inputs))).astype(np.float32)
    state_shape = (layers * (2 if bidirectional else 1), batch, hidden)
    states = [draw.standard_normal(state_shape).astype(np.float32)
              for _ in range(2 if name == "LSTM" else 1)] if with_state else []
    theirs_in = [torch.from_numpy(a).requires_grad_() for a in [x, *states]]
    ours_in = [tg.from_numpy(a.copy()).requires_grad_() for a in [x, *states]]

    def run(module, tensors):
        if not states:
            return module(tensors[0])
        return module(tensors[0], tuple(tensors[1:]) if name == "LSTM" else tensors[1])

    out_ref, final_ref = run(reference, theirs_in)
    out, final = run(ours, ours_in)
    final_ref = final_ref if name == "LSTM" else (final_ref,)
    final = final if name == "LSTM" else (final,)
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=2e-5)
    for mine, theirs in zip(final, final_ref):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), atol=2e-5)
    weights = draw.standard_normal(tuple(out.shape)).astype(np.float32)
    state_weights = [draw.standard_normal(tuple(f.shape)).astype(np.float32) for f in final]
    loss_ref = (out_ref * torch.from_numpy(weights)).sum() + sum(
        (f * torch.from_numpy(w)).sum() for f, w in zip(final_ref, state_weights))
    loss = (out * tg.from_numpy(weights)).sum() + sum(
        (f * tg.from_numpy(w)).sum() for f, w in zip(final, state_weights))
    loss_ref.backward()
    loss.backward()
    for mine, theirs in zip(ours_in, theirs_in):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), atol=5e-5, rtol=1e-4)
    for (key, p), p_ref in zip(ours.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_ref.grad.numpy(), atol=5e-5, rtol=1e-4,
                                   err_msg=key)
