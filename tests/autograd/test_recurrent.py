"""The LSTM and GRU gates as one operation each (tapegrad/autograd/ops/recurrent.py):
checked against finite differences to the second derivative with and without a state
(and, for the GRU, with q a bias row or absent), their backwards too."""
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import recurrent as R

from ..support import Case, leaf, noncontiguous


def backward_of(op, n_grads):
    def fn(*tensors):
        grads, inputs = tensors[:n_grads], tensors[n_grads:]
        return tg.autograd.grad(op(*inputs), inputs, grads, create_graph=True)
    return fn


CASES = [
    Case("lstm_gates", R.lstm_gates, [leaf(2, 12), leaf(2, 3)]),
    Case("lstm_gates", lambda z: R.lstm_gates(z, None), [leaf(2, 12)], name="no_state"),
    Case("lstm_gates", R.lstm_gates, [noncontiguous(3, 8), noncontiguous(3, 2)],
         name="noncontiguous"),
    Case("lstm_gates_backward", backward_of(R.lstm_gates, 2),
         [leaf(2, 3), leaf(2, 3), leaf(2, 12), leaf(2, 3)]),
    Case("gru_gates", R.gru_gates, [leaf(2, 9), leaf(2, 9), leaf(2, 3)]),
    Case("gru_gates", lambda p, q: R.gru_gates(p, q, None), [leaf(2, 9), leaf(9)],
         name="bias_only"),
    Case("gru_gates", lambda p: R.gru_gates(p, None, None), [leaf(2, 9)], name="nothing"),
    Case("gru_gates", R.gru_gates, [noncontiguous(3, 6), noncontiguous(3, 6),
                                    noncontiguous(3, 2)], name="noncontiguous"),
    Case("gru_gates_backward", backward_of(R.gru_gates, 1),
         [leaf(2, 3), leaf(2, 9), leaf(2, 9), leaf(2, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


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
