"""The derivative of a fused operation's backward, from its composition
(tapegrad/autograd/ops/twice.py): second and third derivatives of the fused operations
equal those of the compositions they replace, and a backward's derivative leads back to
the real inputs (so create_graph keeps working at every order)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import activation, normalization, recurrent

from ..support import leaf

PAIRS = {
    "gelu": (lambda x: activation.gelu(x, "none"),
             lambda x: activation._composed_gelu(x, "none")),
    "gelu_tanh": (lambda x: activation.gelu(x, "tanh"),
                  lambda x: activation._composed_gelu(x, "tanh")),
    "layer_norm": (lambda x: normalization.layer_norm(x, None, None, 1, 1e-5),
                   lambda x: normalization._composed_layer_norm(x, None, None, 1, 1e-5)),
    "lstm_gates": (lambda z: recurrent.lstm_gates(z, None)[0],
                   lambda z: recurrent._composed_lstm_gates(z, None)[0]),
}


def derivatives(fn, x, order):
    """The first ``order`` derivatives of Σ fn(x)·v (v fixed), each weighted by w, summed to
    a scalar and differentiated again."""
    y = fn(x)
    out = (y * tg.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape))).sum()
    weights = tg.tensor(np.linspace(-1, 1, x.numel()).reshape(x.shape))
    found = []
    for _ in range(order):
        g, = tg.autograd.grad(out, x, create_graph=True)
        found.append(g.detach().numpy().copy())
        out = (g * weights).sum()
    return found


@pytest.mark.parametrize("name", PAIRS)
def test_third_derivatives_of_the_fused_operation_equal_the_compositions(name):
    fused, composed = PAIRS[name]
    x = leaf(3, 8)
    for a, b in zip(derivatives(fused, x, 3), derivatives(composed, x, 3)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
