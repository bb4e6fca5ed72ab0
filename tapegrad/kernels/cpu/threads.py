"""When and how an elementwise kernel runs on several threads.

The kernels split this way: the optimizer updates and axpy (optimizer_steps.py, axpy.py),
relu forward and backward (relu.py, relu_gradient.py), batch norm's three passes
(normalization.py), im2col and col2im (im2col.py, col2im.py). Each is a numba loop over a
range (of elements, channels, images or planes) written once, compiled ``nogil``: run
whole by one thread, or cut into one range per thread by ``split``, which runs the last
range on the calling thread and the others on a small pool of Python threads. Those
threads sleep between calls on a lock (a futex: no spinning), and the loops release the
GIL, so the ranges run at once.

Why not numba's own ``prange``: its OpenMP threads spin-wait after each parallel loop,
and OpenBLAS's thread after each product, each on the core the other needs next. On a
shared 2-core VM that made the ResNet step 1.7× slower with splitting on (load 3.7). The
sleeping pool measured FIXME.

With one thread (NUMBA_NUM_THREADS=1, or ``numba.set_num_threads(1)`` in the calling
thread) nothing is split. A process forked from one that split (a DataLoader worker)
starts its own pool when it first splits: Python threads, unlike GNU OpenMP's, can be
started again after a fork.
"""
import os
import threading

import numba

PARALLEL_MIN_ELEMENTS = 1 << 24


def chunks(size):
    """How many ranges to split ``size`` elements into: numba's thread count for arrays of at
    least PARALLEL_MIN_ELEMENTS, else 1 (run the serial kernel)."""
    if size < PARALLEL_MIN_ELEMENTS:
        return 1
    return numba.get_num_threads()


class _Worker:
    """A daemon thread that runs one range of a kernel each time it is woken."""

    def __init__(self):
        self.wake, self.done = threading.Lock(), threading.Lock()
        self.wake.acquire()   # held: the thread sleeps in wake.acquire() until released
        self.done.acquire()   # released by the thread when its range is done
        self.job, self.error = None, None
        threading.Thread(target=self._loop, name="tapegrad-split", daemon=True).start()

    def _loop(self):
        while True:
            self.wake.acquire()
            kernel, start, stop, args = self.job
            self.job = None
            try:
                kernel(start, stop, *args)
            except BaseException as error:   # handed to the caller, raised there
                self.error = error
            self.done.release()

    def start(self, kernel, start, stop, args):
        self.job = (kernel, start, stop, args)
        self.wake.release()

    def join(self):
        self.done.acquire()
        error, self.error = self.error, None
        return error


_workers = []                 # started on first use, one fewer than the threads used
_in_use = threading.Lock()    # one split call at a time; a second caller runs serially


def _forget_workers():
    """In a forked child: the parent's threads do not exist here; start new ones if needed."""
    global _in_use
    _workers.clear()
    _in_use = threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


def split(kernel, count, parts, *args):
    """Run ``kernel(start, stop, *args)`` over [0, count) cut into ``parts`` ranges at once:
    ranges ``i·count//parts`` to ``(i+1)·count//parts``, the last on this thread, the others
    on the pool's. ``kernel`` is a numba function compiled with ``nogil=True``."""
    parts = min(parts, count)
    if parts <= 1 or not _in_use.acquire(blocking=False):
        kernel(0, count, *args)
        return
    try:
        while len(_workers) < parts - 1:
            _workers.append(_Worker())
        for i in range(parts - 1):
            _workers[i].start(kernel, i * count // parts, (i + 1) * count // parts, args)
        try:
            kernel((parts - 1) * count // parts, count, *args)
        finally:
            errors = [_workers[i].join() for i in range(parts - 1)]
        for error in errors:
            if error is not None:
                raise error
    finally:
        _in_use.release()
