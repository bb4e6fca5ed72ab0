"""numpy's BLAS held to one thread while a recurrent time loop runs
(tapegrad/kernels/cpu/blas_threads.py).

Where numpy's BLAS is an OpenBLAS with its thread switch (numpy's own wheels), the switch
is found; inside ``one_thread`` the products run on one thread and afterwards on as many as
before, also when the block raises; a loop of kernels/recurrence.py leaves the count as it
found it and computes what it computes on one thread. Elsewhere these tests are skipped.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kernels import recurrence
from tapegrad.kernels.cpu import blas_threads

xp = tg.from_numpy(np.zeros(1)).device.xp


def _switch_or_skip():
    found = blas_threads.switch()
    if found is None:
        pytest.skip("numpy's BLAS has no OpenBLAS thread switch here")
    return found


@pytest.fixture
def two_threads():
    set_threads, get_threads = _switch_or_skip()
    before = get_threads()
    set_threads(2)
    if get_threads() != 2:
        set_threads(before)
        pytest.skip("this OpenBLAS was built for one thread")
    yield get_threads
    set_threads(before)


def test_one_thread_inside_and_the_count_restored_after(two_threads):
    with blas_threads.one_thread():
        assert two_threads() == 1
    assert two_threads() == 2
    with pytest.raises(ZeroDivisionError):
        with blas_threads.one_thread():
            1 / 0
    assert two_threads() == 2


def test_one_thread_changes_nothing_when_there_is_one_already():
    set_threads, get_threads = _switch_or_skip()
    before = get_threads()
    set_threads(1)
    try:
        with blas_threads.one_thread():
            assert get_threads() == 1
        assert get_threads() == 1
    finally:
        set_threads(before)


def test_a_time_loop_on_one_thread_computes_the_same_and_restores_the_count(two_threads,
                                                                          monkeypatch):
    counts, matmul = [], xp.matmul

    def counting_matmul(*args, **kwargs):
        counts.append(two_threads())
        return matmul(*args, **kwargs)
    monkeypatch.setattr(xp, "matmul", counting_matmul)
    rng = np.random.default_rng(0)
    p = rng.standard_normal((6, 4, 4 * 8)).astype(np.float32)
    w_hh = rng.standard_normal((4 * 8, 8)).astype(np.float32)
    grad_out = rng.standard_normal((6, 4, 8)).astype(np.float32)
    forward = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    backward = recurrence.lstm_backward(xp, grad_out, None, None, w_hh, *forward, False, False,
                                        False)
    assert two_threads() == 2
    # the steps' products on one thread; the weight gradient's, after the loop, on both
    assert counts[:-1] == [1] * (len(counts) - 1) and counts[-1] == 2 and len(counts) > 6
    two_threads_results = [a.copy() for a in forward + backward[:2]]
    blas_threads.switch()[0](1)
    forward = recurrence.lstm_forward(xp, p, w_hh, None, None, False)
    backward = recurrence.lstm_backward(xp, grad_out, None, None, w_hh, *forward, False, False,
                                        False)
    for a, b in zip(forward + backward[:2], two_threads_results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
