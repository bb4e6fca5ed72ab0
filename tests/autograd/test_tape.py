"""The tape's observers: functions that ``record`` and ``record_many`` call for every
operation, with or without a Node, while they are installed."""
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
