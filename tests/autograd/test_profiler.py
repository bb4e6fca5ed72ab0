"""The profiler counts every operation run, forward and backward, and restores them after."""
import tapegrad as tg
from tapegrad import autograd


def test_counts_match_the_operations_run_forward_and_backward():
    x = tg.randn(4, 3, requires_grad=True)
    w = tg.randn(3, 2, requires_grad=True)
    with autograd.profile() as prof:
        for _ in range(2):
            loss = (x @ w).tanh().sum()
            loss.backward()
    calls = {name: (s.calls, s.backward_calls) for name, s in prof.stats.items()}
    assert calls == {"matmul": (2, 2), "tanh": (2, 2), "sum": (2, 2)}


def test_operations_inside_other_operations_and_backwards_are_not_counted_twice():
    x = tg.randn(5, requires_grad=True)
    with autograd.profile() as prof:
        x.var().backward()      # var computes with mean/sub/… inside; its backward too
    assert prof.stats["var"].calls == 1 and prof.stats["var"].backward_calls == 1
    assert set(prof.stats) == {"var"}


def test_methods_operators_and_functions_are_all_seen():
    x = tg.ones(3)
    with autograd.profile() as prof:
        x.exp()
        tg.exp(x)
        x + x
        x[0]
        tg.ones(2, 2).mT
    assert prof.stats["exp"].calls == 2 and prof.stats["add"].calls == 1
    assert prof.stats["getitem"].calls == 1 and prof.stats["matrix_transpose"].calls == 1


def test_everything_is_restored_after_the_block():
    exp, method, operator = tg.exp, tg.Tensor.exp, tg.Tensor.__add__
    with autograd.profile():
        assert tg.exp is not exp
    assert tg.exp is exp and tg.Tensor.exp is method and tg.Tensor.__add__ is operator


def test_the_table_is_sorted_by_time_and_names_the_columns():
    x = tg.randn(200, 200, requires_grad=True)
    with autograd.profile() as prof:
        (x @ x).relu().sum().backward()
    lines = str(prof).splitlines()
    assert lines[0].split()[:2] == ["operation", "calls"]
    totals = [float(line.split()[-2]) for line in lines[1:]]
    assert totals == sorted(totals, reverse=True) and len(totals) == 3
