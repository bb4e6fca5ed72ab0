"""The LSTM and GRU gates as one operation each (tapegrad/autograd/ops/recurrent.py):
checked against finite differences to the second derivative with and without a state
(and, for the GRU, with q a bias row or absent), their backwards too. The same for a whole
layer's time loop as one operation (rnn_sequence, lstm_sequence, gru_sequence), forwards and in reverse,
which must also compute exactly what the step-by-step composition computes."""
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import recurrent as R
from tapegrad.kernels.cpu import small_products

from ..support import Case, leaf, noncontiguous


def backward_of(op, n_grads):
    def fn(*tensors):
        grads, inputs = tensors[:n_grads], tensors[n_grads:]
        return tg.autograd.grad(op(*inputs), inputs, grads, create_graph=True)
    return fn


def sequence(op, **options):
    return lambda *tensors: op(*tensors, **options)


def lstm_sequence_without_state(p, w):
    return R.lstm_sequence(p, w, None, None)


CASES = [
    Case("rnn_sequence", sequence(R.rnn_sequence), [leaf(3, 2, 3), leaf(3, 3), leaf(2, 3)]),
    Case("rnn_sequence", sequence(R.rnn_sequence, relu=True, reverse=True),
         [leaf(3, 2, 3), leaf(3, 3), leaf(2, 3)], name="relu_reverse"),
    Case("rnn_sequence", lambda p, w: R.rnn_sequence(p, w, None), [leaf(3, 2, 3), leaf(3, 3)],
         name="no_state"),
    Case("rnn_sequence", sequence(R.rnn_sequence, reverse=True),
         [noncontiguous(3, 2, 3), noncontiguous(3, 3), noncontiguous(2, 3)],
         name="noncontiguous"),
    Case("rnn_sequence_backward", backward_of(sequence(R.rnn_sequence, reverse=True), 2),
         [leaf(2, 1, 2), leaf(1, 2), leaf(2, 1, 2), leaf(2, 2), leaf(1, 2)]),
    Case("lstm_sequence", sequence(R.lstm_sequence),
         [leaf(3, 2, 8), leaf(8, 2), leaf(2, 2), leaf(2, 2)]),
    Case("lstm_sequence", sequence(R.lstm_sequence, reverse=True),
         [leaf(3, 2, 8), leaf(8, 2), leaf(2, 2), leaf(2, 2)], name="reverse"),
    Case("lstm_sequence", lstm_sequence_without_state, [leaf(3, 2, 8), leaf(8, 2)],
         name="no_state"),
    Case("lstm_sequence", sequence(R.lstm_sequence),
         [noncontiguous(2, 3, 8), noncontiguous(8, 2), noncontiguous(3, 2), noncontiguous(3, 2)],
         name="noncontiguous"),
    Case("lstm_sequence_backward", backward_of(sequence(R.lstm_sequence), 3),
         [leaf(2, 1, 1), leaf(1, 1), leaf(1, 1), leaf(2, 1, 4), leaf(4, 1), leaf(1, 1),
          leaf(1, 1)]),
    Case("lstm_sequence_backward", backward_of(lstm_sequence_without_state, 3),
         [leaf(2, 1, 1), leaf(1, 1), leaf(1, 1), leaf(2, 1, 4), leaf(4, 1)], name="no_state"),
    Case("lstm_gates", R.lstm_gates, [leaf(2, 12), leaf(2, 3)]),
    Case("lstm_gates", lambda z: R.lstm_gates(z, None), [leaf(2, 12)], name="no_state"),
    Case("lstm_gates", R.lstm_gates, [noncontiguous(3, 8), noncontiguous(3, 2)],
         name="noncontiguous"),
    Case("lstm_gates_backward", backward_of(R.lstm_gates, 2),
         [leaf(2, 3), leaf(2, 3), leaf(2, 12), leaf(2, 3)]),
    Case("gru_sequence", sequence(R.gru_sequence),
         [leaf(3, 2, 6), leaf(6, 2), leaf(6), leaf(2, 2)]),
    Case("gru_sequence", sequence(R.gru_sequence, reverse=True),
         [leaf(3, 2, 6), leaf(6, 2), leaf(6), leaf(2, 2)], name="reverse"),
    Case("gru_sequence", lambda p, w, h: R.gru_sequence(p, w, None, h),
         [leaf(3, 2, 6), leaf(6, 2), leaf(2, 2)], name="no_bias"),
    Case("gru_sequence", lambda p, w, b: R.gru_sequence(p, w, b, None),
         [leaf(3, 2, 6), leaf(6, 2), leaf(6)], name="no_state"),
    Case("gru_sequence", sequence(R.gru_sequence),
         [noncontiguous(2, 3, 6), noncontiguous(6, 2), noncontiguous(6), noncontiguous(3, 2)],
         name="noncontiguous"),
    Case("gru_sequence_backward", backward_of(sequence(R.gru_sequence, reverse=True), 2),
         [leaf(2, 1, 1), leaf(1, 1), leaf(2, 1, 3), leaf(3, 1), leaf(3), leaf(1, 1)]),
    Case("gru_sequence_backward", backward_of(lambda p, w, h: R.gru_sequence(p, w, None, h), 2),
         [leaf(2, 1, 1), leaf(1, 1), leaf(2, 1, 3), leaf(3, 1), leaf(1, 1)], name="no_bias"),
    Case("gru_gates", R.gru_gates, [leaf(2, 9), leaf(2, 9), leaf(2, 3)]),
    Case("gru_gates", lambda p, q: R.gru_gates(p, q, None), [leaf(2, 9), leaf(9)],
         name="bias_only"),
    Case("gru_gates", lambda p: R.gru_gates(p, None, None), [leaf(2, 9)], name="nothing"),
    Case("gru_gates", R.gru_gates, [noncontiguous(3, 6), noncontiguous(3, 6),
                                    noncontiguous(3, 2)], name="noncontiguous"),
    Case("gru_gates_backward", backward_of(R.gru_gates, 1),
         [leaf(2, 3), leaf(2, 9), leaf(2, 9), leaf(2, 3)]),
    Case("gru_gates_backward", backward_of(lambda p, h: R.gru_gates(p, None, h), 1),
         [leaf(2, 3), leaf(2, 9), leaf(2, 3)], name="no_q"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


@pytest.mark.parametrize("case", [c for c in CASES if c.op.endswith("sequence")], ids=repr)
def test_gradcheck_with_the_steps_products_in_blocks_of_one_row(case, monkeypatch):
    """The time loops cut a large step's product into blocks of rows (kernels/cpu/
    small_products.py); here every product of these small shapes is cut into single rows."""
    monkeypatch.setattr(small_products, "SMALL_PRODUCT", 16)
    monkeypatch.setattr(small_products, "MIN_ROWS", 1)
    cut = []   # for each product: was it cut into blocks?
    whole = small_products.matmul
    def watched(xp, a, b, out, size):
        cut.append(size < a.shape[0])
        return whole(xp, a, b, out, size)
    monkeypatch.setattr(small_products, "matmul", watched)
    case.check()
    assert any(cut)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_the_gates_compute_what_the_composition_computes(dtype):
    z, c = tg.randn(4, 20, dtype=dtype), tg.randn(4, 5, dtype=dtype)
    h, c2 = R.lstm_gates(z, c)
    i, f, g, o = z.chunk(4, -1)
    expected_c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    tol = 1e-6 if dtype is tg.float32 else 1e-14
    assert tg.allclose(c2, expected_c, rtol=tol, atol=tol)
    assert tg.allclose(h, o.sigmoid() * expected_c.tanh(), rtol=tol, atol=tol)
    p, q, state = tg.randn(4, 15, dtype=dtype), tg.randn(4, 15, dtype=dtype), tg.randn(4, 5, dtype=dtype)
    r, zz, _ = (p + q).sigmoid().chunk(3, -1)
    n = (p[:, 10:] + r * q[:, 10:]).tanh()
    assert tg.allclose(R.gru_gates(p, q, state), (1 - zz) * n + zz * state, rtol=tol, atol=tol)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_a_whole_sequence_computes_what_its_steps_compute(dtype, reverse):
    tol = 1e-6 if dtype is tg.float32 else 1e-14
    p, w = tg.randn(5, 3, 16, dtype=dtype), tg.randn(16, 4, dtype=dtype)
    h0, c0 = tg.randn(3, 4, dtype=dtype), tg.randn(3, 4, dtype=dtype)
    for got, expected in zip(R.lstm_sequence(p, w, h0, c0, reverse),
                             R._composed_lstm_sequence(p, w, h0, c0, reverse)):
        assert tg.allclose(got, expected, rtol=tol, atol=tol)
    p, w = tg.randn(5, 3, 4, dtype=dtype), tg.randn(4, 4, dtype=dtype)
    for relu in (False, True):
        for got, expected in zip(R.rnn_sequence(p, w, h0, relu, reverse),
                                 R._composed_rnn_sequence(p, w, h0, relu, reverse)):
            assert tg.allclose(got, expected, rtol=tol, atol=tol)
    p, w, b = tg.randn(5, 3, 12, dtype=dtype), tg.randn(12, 4, dtype=dtype), tg.randn(12, dtype=dtype)
    for bias, state in ((b, h0), (None, h0), (b, None)):
        for got, expected in zip(R.gru_sequence(p, w, bias, state, reverse),
                                 R._composed_gru_sequence(p, w, bias, state, reverse)):
            assert tg.allclose(got, expected, rtol=tol, atol=tol)


def test_a_whole_sequence_refuses_mismatched_shapes_by_name():
    p = tg.randn(5, 3, 16)
    with pytest.raises(ValueError, match=r"W_hh must be .*\(16, 4\).*got \(16, 5\)"):
        R.lstm_sequence(p, tg.randn(16, 5), None, None)
    with pytest.raises(ValueError, match=r"c0 must be \(batch, hidden\) = \(3, 4\), got \(2, 4\)"):
        R.lstm_sequence(p, tg.randn(16, 4), tg.randn(3, 4), tg.randn(2, 4))
    with pytest.raises(ValueError, match=r"input parts must be \(length >= 1"):
        R.rnn_sequence(tg.randn(3, 4), tg.randn(4, 4), None)
    with pytest.raises(ValueError, match="h0 is tapegrad.float64 on cpu, the input parts tapegrad.float32"):
        R.rnn_sequence(tg.randn(5, 3, 4), tg.randn(4, 4), tg.randn(3, 4, dtype=tg.float64))
