"""kernels/cpu/threads.py: a loop over a range run split between the calling thread and a
pool of sleeping threads.

* ``split`` runs the kernel on ranges that cover [0, count) once each, in order, however
  the count divides (odd counts, more parts than elements, an empty range);
* the last range runs on the calling thread, the others on the pool's threads, and a
  second caller while the pool is in use runs the whole range itself;
* an error raised in any range reaches the caller, and the pool works on afterwards; a
  wait interrupted (Ctrl-C) leaves the next call new threads; a sleeping pool thread holds
  no reference to its last range's arrays;
* a process forked after the pool ran splits correctly (with threads of its own);
* ``chunks`` splits from PARALLEL_MIN_ELEMENTS on, into numba's thread count (1: never);
  while the pool owns the cores (for POOL_HOLDS_THE_CORES_FOR seconds after each
  ``take_the_cores``), from POOL_MIN_ELEMENTS on.
"""
import gc
import os
import signal
import threading
import weakref

import numba
import numpy as np
import pytest

from tapegrad.kernels.cpu import threads
from tapegrad.kernels.cpu.axpy import _axpy_range, axpy, axpy_parallel


@numba.njit(nogil=True)
def _count_visits(start, stop, visits):
    for i in range(start, stop):
        visits[i] += 1


def recorded_split(count, parts):
    """The (start, stop, thread) of each range ``split`` runs, sorted by start."""
    ranges, lock = [], threading.Lock()

    def kernel(start, stop):
        with lock:
            ranges.append((start, stop, threading.get_ident()))

    threads.split(kernel, count, parts)
    return sorted(ranges)


@pytest.mark.parametrize("count", [0, 1, 2, 7, 1001])
@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_split_visits_every_index_once(count, parts):
    visits = np.zeros(count, np.int64)
    threads.split(_count_visits, count, parts, visits)
    np.testing.assert_array_equal(visits, np.ones(count, np.int64))


@pytest.mark.parametrize("count, parts", [(1001, 2), (1001, 3), (5, 8), (10, 4)])
def test_split_cuts_the_ranges_evenly_and_runs_the_last_on_the_caller(count, parts):
    ranges = recorded_split(count, parts)
    used = min(parts, count)
    assert [(start, stop) for start, stop, _ in ranges] == [
        (i * count // used, (i + 1) * count // used) for i in range(used)]
    me = threading.get_ident()
    assert ranges[-1][2] == me
    assert all(thread != me for _, _, thread in ranges[:-1])
    assert len({thread for _, _, thread in ranges}) == used


def test_one_part_runs_the_whole_range_on_the_caller():
    assert recorded_split(1001, 1) == [(0, 1001, threading.get_ident())]


def test_a_caller_finding_the_pool_in_use_runs_the_whole_range_itself():
    with threads._in_use:   # as while another thread's split call runs
        assert recorded_split(1001, 2) == [(0, 1001, threading.get_ident())]
    assert len(recorded_split(1001, 2)) == 2   # released: split again


@pytest.mark.parametrize("failing_start", [0, 500])   # a pool thread's range, the caller's
def test_an_error_in_any_range_reaches_the_caller_after_every_range_ran(failing_start):
    ran = []

    def kernel(start, stop):
        ran.append(start)
        if start == failing_start:
            raise ValueError(f"range from {start}")

    with pytest.raises(ValueError, match=f"range from {failing_start}"):
        threads.split(kernel, 1000, 2)
    assert sorted(ran) == [0, 500]
    visits = np.zeros(1000, np.int64)
    threads.split(_count_visits, 1000, 2, visits)   # the pool works on
    assert (visits == 1).all()


def test_a_sleeping_pool_thread_holds_nothing_of_its_last_range():
    """An array a range read is freed when the caller lets go of it, not at the next call."""
    array = np.ones(1000)
    seen = []

    def reading(start, stop, values):
        seen.append(float(values[start:stop].sum()))
    threads.split(reading, array.size, 2, array)
    assert sorted(seen) == [500.0, 500.0]
    gone = weakref.ref(array)
    del array
    gc.collect()
    assert gone() is None


def test_a_wait_interrupted_by_ctrl_c_leaves_the_next_call_fresh_threads(monkeypatch):
    recorded_split(10, 2)   # the pool has a thread
    finish = threads._Worker.join

    def interrupted(worker):
        finish(worker)
        raise KeyboardInterrupt

    monkeypatch.setattr(threads._Worker, "join", interrupted)
    with pytest.raises(KeyboardInterrupt):
        threads.split(_count_visits, 10, 2, np.zeros(10, np.int64))
    monkeypatch.undo()
    assert threads._workers == []
    visits = np.zeros(1001, np.int64)
    threads.split(_count_visits, 1001, 2, visits)
    assert (visits == 1).all() and len(threads._workers) == 1


def test_split_axpy_is_the_serial_result_bit_for_bit():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(100_003).astype(np.float32), rng.standard_normal(100_003)
    y = y.astype(np.float32)
    serial, alpha = y.copy(), np.float32(-0.37)
    axpy(alpha, x, serial)
    for parts in (2, 3):
        split_y = y.copy()
        axpy_parallel(parts, alpha, x, split_y)
        np.testing.assert_array_equal(split_y, serial)


def test_a_forked_child_splits_correctly_on_threads_of_its_own():
    x = np.arange(10_001, dtype=np.float64)
    threads.split(_axpy_range, x.size, 2, 1.0, x, np.zeros_like(x))   # the parent's pool runs
    pid = os.fork()
    if pid == 0:   # the child: report by exit code, never return into pytest
        code = 1
        signal.alarm(30)   # a child waiting on its parent's threads would hang: kill it
        try:
            y = np.zeros_like(x)
            ranges = recorded_split(x.size, 2)
            threads.split(_axpy_range, x.size, 2, 2.0, x, y)
            code = 0 if (np.array_equal(y, 2 * x) and len(ranges) == 2) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_arrays_from_the_threshold_on_are_split_into_numbas_thread_count(monkeypatch):
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 1000)
    assert threads.chunks(999) == 1
    assert threads.chunks(1000) == numba.get_num_threads()


def test_while_the_pool_owns_the_cores_arrays_split_from_its_own_threshold(monkeypatch):
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 1000)
    monkeypatch.setattr(threads, "POOL_MIN_ELEMENTS", 100)
    assert not threads.pool_owns_the_cores()
    assert threads.chunks(999) == 1 and threads.min_elements() == 1000
    threads.take_the_cores()
    assert threads.pool_owns_the_cores() and threads.min_elements() == 100
    assert threads.chunks(99) == 1
    assert threads.chunks(100) == numba.get_num_threads()
    threads.give_back_the_cores()
    assert not threads.pool_owns_the_cores() and threads.min_elements() == 1000


def test_the_pool_holds_the_cores_for_a_while_after_the_last_shared_pass(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(threads, "POOL_HOLDS_THE_CORES_FOR", 1.0)
    threads.take_the_cores()
    now[0] += 0.9
    assert threads.pool_owns_the_cores()
    threads.take_the_cores()   # another shared pass: another second
    now[0] += 0.9
    assert threads.pool_owns_the_cores()
    now[0] += 0.2
    assert not threads.pool_owns_the_cores()   # OpenBLAS's threads have them back


def test_one_numba_thread_splits_nothing(monkeypatch):
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 0)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert threads.chunks(1 << 30) == 1
    finally:
        numba.set_num_threads(before)
