"""The tape's observers: functions that ``record`` and ``record_many`` call for every
operation, with or without a Node, while they are installed. And the nodes as PyTorch
shows them: ``grad_fn.name()`` and ``grad_fn.next_functions``, operands in PyTorch's
order, leaves reached through ``AccumulateGrad`` nodes, ``(None, 0)`` for inputs that
need no gradient."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import tape


@pytest.fixture
def seen():
    events = []
    def observer(op, inputs, outputs, node, attrs):
        events.append((op, inputs, outputs, node, attrs))
    tape.add_observer(observer)
    yield events
    tape.remove_observer(observer)


def test_an_observer_sees_each_operation_with_its_tensors_node_and_attributes(seen):
    x = tg.randn(2, 3, requires_grad=True)
    y = x.sum(dim=1)
    (op, inputs, outputs, node, attrs), = seen
    assert op == "sum" and inputs == (x,) and outputs == (y,) and node is y.grad_fn
    assert attrs == {"dims": (1,), "keepdim": False}


def test_operations_that_record_no_node_are_seen_with_node_none(seen):
    x = tg.randn(2, 3)                     # requires no grad: nothing goes on the tape
    with tg.no_grad():
        y = x.exp()
    z = x.transpose(0, 1)
    assert [(op, node) for op, _, _, node, _ in seen] == [("exp", None), ("transpose", None)]
    assert seen[0][2] == (y,) and seen[1][4] == {"dims": (0, 1)}
    assert z.grad_fn is None


def test_several_results_arrive_together(seen):
    x = tg.randn(6, requires_grad=True)
    a, b = x.chunk(2)
    (op, _, outputs, node, attrs), = seen
    assert op == "chunk" and outputs == (a, b) and node is a.grad_fn is b.grad_fn
    assert attrs == {"dim": 0, "sizes": [3, 3]}


def test_comparisons_are_seen_though_they_are_not_on_the_tape(seen):
    x = tg.randn(3)
    mask = x > 0
    (op, inputs, outputs, node, _), = seen
    assert op == "gt" and inputs[0] is x and outputs == (mask,) and node is None


def test_without_observers_nothing_is_called():
    assert tape.observers == []
    calls = []
    observer = lambda *event: calls.append(event)
    tape.add_observer(observer)
    tape.remove_observer(observer)
    tg.randn(3).exp()
    assert calls == []


# -- the nodes as PyTorch shows them ---------------------------------------------------------
X = np.arange(12.0).reshape(3, 4) / 10 - 0.5
M = np.linspace(-1, 1, 16).reshape(4, 4)

# expressions over x (a leaf), c (a constant) and m (a leaf), in both libraries' spelling
EXPRESSIONS = [
    "2 * x", "x * 2", "x + 2", "2 + x", "2 - x", "x - 2", "x - c", "c - x", "c * x", "x / 2",
    "2 / x", "2 ** x", "x ** 2", "x ** m[:3]", "x @ m", "c @ m", "lib.cat([c, x])",
    "lib.stack([x, c])", "lib.where(c > 0, x, c)", "x[1:]", "x[0]", "x[:, 1]", "x[..., 2]",
    "x[None]", "x[[0, 1]]", "x[x > 0]", "x[:]", "x.sum()", "x.sum(0)", "x.mean()",
    "x.max()", "x.max(0)[0]", "x.exp()", "-x", "x.t()", "x.T", "x.reshape(12)", "x.view(12)",
    "x.flatten()", "x.unsqueeze(0)", "x.transpose(0, 1)", "x.float()", "x.relu()",
    "x.clamp(0)", "x.softmax(-1)", "x.split(2)[0]", "x.chunk(2)[1]", "x[0] @ m[0]",
    "m @ x[0]", "F.linear(x, m, m[0])", "F.linear(x, m)", "x.tanh().sigmoid()",
]


def describe(node):
    """A node as (name, [its next functions, described the same way]); leaves by name."""
    if node is None:
        return None
    name = node.name().replace("torch::autograd::", "")   # PyTorch's C++ namespace
    if name == "AccumulateGrad":
        return name
    return (name, [(describe(next_node), index) for next_node, index in node.next_functions])


def build(lib, expression):
    names = {"lib": lib, "F": lib.nn.functional, "x": lib.tensor(X, requires_grad=True),
             "c": lib.tensor(X), "m": lib.tensor(M, requires_grad=True)}
    return eval(expression, names)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_graph_is_pytorchs(expression):
    torch = pytest.importorskip("torch")
    ours = describe(build(tg, expression).grad_fn)
    theirs = describe(build(torch, expression).grad_fn)
    assert ours == theirs


def test_a_small_network_has_pytorchs_graph():
    torch = pytest.importorskip("torch")
    graphs = []
    for lib in (tg, torch):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 3),
                                  lib.nn.Tanh())
        x, target = lib.tensor(X, dtype=lib.float32), lib.tensor(X[:, :3], dtype=lib.float32)
        loss = ((model(x) - target) ** 2).mean() + 0.01 * model[0].weight.abs().sum()
        graphs.append(describe(loss.grad_fn))
    assert graphs[0] == graphs[1]
    assert graphs[0][0] == "AddBackward0"


def test_accumulate_grad_nodes_hold_their_leaf_and_are_shared():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    (first, _), (second, _) = y.grad_fn.next_functions
    assert first is second and first.name() == "AccumulateGrad" and first.variable is x
    assert first.next_functions == ()


def test_an_input_that_needs_no_gradient_is_none_in_its_place():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = tg.tensor([3.0, 4.0])
    assert (c * x).grad_fn.next_functions[0] == (None, 0)
    assert (x * c).grad_fn.next_functions[1] == (None, 0)
    assert tg.cat([c, x]).grad_fn.next_functions[0] == (None, 0)


def test_names_follow_pytorchs_spelling():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    assert (x * 2).grad_fn.name() == "MulBackward0"
    assert repr((x * 2).grad_fn) == "<MulBackward0>"
    assert x.log_softmax(1).grad_fn.name() == "LogSoftmaxBackward0"
    assert (2 - x).grad_fn.name() == "RsubBackward1" and (x - 2).grad_fn.name() == "SubBackward0"
    assert (2 ** x).grad_fn.name() == "PowBackward2" and (x ** x).grad_fn.name() == "PowBackward1"
    # x[1:, 0] is one node here (PyTorch records a select of a slice): named by its last step
    assert x[0:, 0].grad_fn.name() == "SelectBackward0" and x[0, 1:].grad_fn.name() == (
        "SliceBackward0")


def test_reflected_operators_compute_the_same_values():
    x = tg.tensor([0.5, -2.0, 4.0])
    assert (2 - x).tolist() == [1.5, 4.0, -2.0]
    assert (3 * x).tolist() == (x * 3).tolist() and (3 + x).tolist() == (x + 3).tolist()
    np.testing.assert_allclose((2 / x).numpy(), [4.0, -1.0, 0.5])
    assert (2 / tg.tensor([4])).dtype is tg.float32
    np.testing.assert_allclose((2 ** x).numpy(), 2 ** np.array([0.5, -2.0, 4.0]), rtol=1e-6)
    assert (2 ** tg.tensor([3])).tolist() == [8]
