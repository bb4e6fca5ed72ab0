"""Real processes: tensors in shared memory reach children (fork and spawn) as the same
memory, `spawn` runs fn(i, *args) and raises a child's error in the parent, and hogwild
workers train one model together (tapegrad/multiprocessing)."""
import time

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.multiprocessing as mp
from tapegrad import nn

START_METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]
# A spawned child starts a fresh interpreter (seconds here); what does not depend on the
# start method is tested with the quickest one.
QUICK = START_METHODS[0]
TIMEOUT = 90   # seconds for any child: spawn starts a fresh interpreter that imports tapegrad


def run(target, args, method, n=1):
    context = mp.get_context(method)
    processes = [context.Process(target=target, args=(i,) + args) for i in range(n)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(TIMEOUT)
        assert p.exitcode == 0, f"child ended with exit code {p.exitcode}"


def wait(context):
    deadline = time.monotonic() + TIMEOUT
    while not context.join(timeout=1):
        assert time.monotonic() < deadline, "spawned processes did not finish in time"


# -- what the children run (top-level functions: spawn imports them by name) ----------------
def add_rank_plus_one(i, x):
    x.array[i] += i + 1            # in place, as an optimizer step is


def take_from_queue_and_fill(i, inbox, outbox):
    shared, private = inbox.get(timeout=TIMEOUT)
    shared.array[...] = 5.0
    private.array[...] = 5.0
    outbox.put(private.sum().item())


def record_rank(i, out, tag):
    out.array[i] = 100 * tag + i


def fail_in_child(i):
    if i == 1:
        raise ValueError("child 1 could not go on")


def fail_with_a_long_message(i):
    raise ValueError("x" * 1_000_000)   # far more than a pipe's buffer holds


def exit_in_child(i):
    import os
    os._exit(3)


def sgd_steps(i, model, steps):
    tg.manual_seed(i)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        model(tg.randn(8, 3)).pow(2).mean().backward()
        optimizer.step()


def fit_line(i, model, steps):
    tg.manual_seed(100 + i)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        x = tg.randn(16, 2)
        y = x @ tg.tensor([[2.0], [-3.0]]) + 0.5
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


# -- shared memory across real processes ------------------------------------------------------
def test_a_childs_in_place_update_of_a_shared_tensor_is_seen_by_the_parent(method=QUICK):
    # (with spawn too: test_hogwild_workers_update_the_parents_model[spawn])
    x = tg.zeros(2).share_memory_()
    run(add_rank_plus_one, (x,), method, n=2)
    assert x.tolist() == [1.0, 2.0]


def test_tensors_through_a_queue_shared_by_handle_others_by_copy(method=QUICK):
    context = mp.get_context(method)
    inbox, outbox = context.Queue(), context.Queue()
    shared, private = tg.zeros(3).share_memory_(), tg.ones(3)
    inbox.put((shared, private))
    run(take_from_queue_and_fill, (inbox, outbox), method)
    assert outbox.get(timeout=TIMEOUT) == 15.0      # the child filled its copy …
    assert private.tolist() == [1.0, 1.0, 1.0]      # … which is not the parent's tensor
    assert shared.tolist() == [5.0, 5.0, 5.0]


# -- spawn ---------------------------------------------------------------------------------
def test_spawn_calls_fn_with_the_process_index_then_the_args():
    out = tg.zeros(3).share_memory_()
    wait(mp.spawn(record_rank, args=(out, 7), nprocs=3, join=False, start_method=QUICK))
    assert out.tolist() == [700.0, 701.0, 702.0]


def test_spawn_raises_a_childs_exception_with_its_traceback_in_the_parent():
    with pytest.raises(mp.ProcessRaisedException) as raised:
        mp.spawn(fail_in_child, nprocs=2, start_method=QUICK)
    message = str(raised.value)
    assert "Process 1 terminated with the following error" in message
    assert "ValueError: child 1 could not go on" in message and "fail_in_child" in message
    assert raised.value.error_index == 1


def test_a_traceback_longer_than_a_pipes_buffer_reaches_the_parent():
    # the parent reads while the child writes: waiting for the child's exit first would hang
    with pytest.raises(mp.ProcessRaisedException) as raised:
        mp.spawn(fail_with_a_long_message, nprocs=1, start_method=QUICK)
    assert "x" * 1_000_000 in str(raised.value)


def test_spawn_reports_a_child_that_exits_without_an_exception():
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3"):
        mp.spawn(exit_in_child, nprocs=1, start_method=QUICK)


def test_the_standard_names_are_there():
    assert mp.Process and mp.Queue and mp.get_context
    assert mp.get_start_method(allow_none=True) in (None, *mp.get_all_start_methods())
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()


# -- hogwild ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", START_METHODS)
def test_hogwild_workers_update_the_parents_model(method):
    tg.manual_seed(0)
    model = nn.Linear(3, 2)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    model.share_memory()
    run(sgd_steps, (model, 3), method, n=2)
    after = [p.detach().numpy() for p in model.parameters()]
    # Minimising the mean of squared outputs shrinks the weights towards zero.
    assert all(np.abs(a).sum() < np.abs(b).sum() for a, b in zip(after, before))


def test_two_hogwild_workers_train_a_regression_to_low_loss():
    tg.manual_seed(0)
    model = nn.Linear(2, 1)
    model.share_memory()
    x = tg.randn(64, 2)
    y = x @ tg.tensor([[2.0], [-3.0]]) + 0.5
    start = nn.functional.mse_loss(model(x), y).item()
    wait(mp.spawn(fit_line, args=(model, 150), nprocs=2, join=False,
                  start_method=QUICK))
    with tg.no_grad():
        end = nn.functional.mse_loss(model(x), y).item()
    assert start > 1.0 and end < 1e-3 * start
    np.testing.assert_allclose(model.weight.detach().numpy(), [[2.0, -3.0]], atol=0.02)
