"""When and how an elementwise kernel runs on several threads.

The kernels split this way: the optimizer updates and axpy (optimizer_steps.py, axpy.py),
relu forward and backward (relu.py, relu_gradient.py), batch norm's three passes
(normalization.py), im2col and col2im (im2col.py, col2im.py). (A convolution's pass shares
its batch between the same threads, whole chunks each, copies and products: batch_split.py;
a float32 LSTM's or GRU's time loop its batch's rows, every step: recurrent_rows.py.)
Each is a numba loop over a range (of elements, channels, images or planes) written once,
compiled ``nogil``: run whole by one thread, or cut into one range per thread by ``split``,
which runs the last range on the calling thread and the others on a small pool of Python
threads. Those threads sleep between calls on a lock (a futex: no spinning), and the loops
release the GIL, so the ranges run at once.

Why not numba's ``prange``: its OpenMP worker spin-waits after each parallel loop, and
OpenBLAS's worker after each product (measured: about 30 ms of CPU time in the 50 ms after
one 2-thread product; setting its thread count to 1 and back only shortens that to 19 ms),
each on the core the other needs next. Inside 2-thread training steps on a shared 2-core
VM (``benchmarks/split_threads.py``, splitting from 128K elements and 1 MiB of im2col
columns, against the serial kernels; median of back-to-back blocks, load average 4–6),
the ResNet step took 1.70× as long with the elementwise kernels split and 2.39× with
im2col split too, the CIFAR CNN 1.54× and 1.71×; with ``OMP_WAIT_POLICY=PASSIVE`` alone
ResNet took 1.09× and 1.19×, with ``OPENBLAS_THREAD_TIMEOUT=4`` alone 1.16× and 1.36×:
OpenMP's spinning is most of the loss. A library must not set those variables, so the
split loops do not use OpenMP at all. With this pool and no variable set, the same
comparison gave ResNet 0.96× and 0.87× (load 4.5), CIFAR 1.82× and 0.94× (load 4.9), and
splitting from 1M elements and 1 MiB (the defaults) ResNet 0.95× [0.67–1.08] and 0.85×
[0.74–1.27], CIFAR 0.86× [0.68–1.22] and 0.94× [0.76–1.85] (quartiles; load 9–9.5), and
in a later run ResNet 1.19× [0.80–1.94] and 1.50× [1.05–1.96], CIFAR 1.07× [1.01–1.67] and
0.95× [0.47–0.96] (load 6). Seven of those eight medians with im2col split are below 1;
with only the elementwise passes split they go either way.

A split call costs 7–13 µs more than the serial one when the second core is free (waking
the thread, handing over the GIL; median 54 µs at load 6.5), so a pass under about 100K
float32 elements cannot gain; from 256K on a split pass paid or lost, by up to 2.5× either
way, from one run to the next on the shared machine (``benchmarks/elementwise_threads.py``,
load 6–7, relu's backward at 256K elements, serial / split µs: 100 / 39 in one run, 100 /
120 in another).

On the quiet machine (load average 1.1–1.5, 9 rounds of 5 steps) the same comparison at
the 1M / 1 MiB thresholds gave ResNet 1.03× [1.03–1.05] and 1.07×, the CIFAR CNN 1.00× and
1.00×, the Adam MLP 1.00×: what the busy machine gained was the second core left idle by
the other jobs, not a faster step. So PARALLEL_MIN_ELEMENTS stays beyond these models
(16M elements) and im2col's PARALLEL_MIN_BYTES off; lower them where split_threads.py
shows that splitting pays on the machine at hand. That holds while OpenBLAS's threads own
the other cores; while the pool owns them (for a second after each convolution pass or
recurrent loop that shared its batch, below), no OpenBLAS worker spins, and elementwise passes
split from POOL_MIN_ELEMENTS (1M) on.

With one thread (NUMBA_NUM_THREADS=1, or ``numba.set_num_threads(1)`` in the calling
thread) nothing is split. A process forked from one that split (a DataLoader worker)
starts its own pool when it first splits: Python threads, unlike GNU OpenMP's, can be
started again after a fork.
"""
import math
import os
import threading
import time

import numba

PARALLEL_MIN_ELEMENTS = 1 << 24

# Who uses the other cores: OpenBLAS's threads, inside each product (where a process starts),
# or this pool, for a second after each convolution pass or recurrent loop that shared its batch
# (batch_split.py, recurrence.py): meanwhile the products share their rows through the pool as well
# (blas_threads.py), OpenBLAS runs on one thread, and no OpenBLAS worker is left spinning on
# the core the pool needs next. A CNN's training steps keep the cores with the pool; a
# process that goes on to other models hands them back to OpenBLAS a second after its last
# convolution (at their shapes OpenBLAS's threads run a product faster than the pool's
# blocks: each block packs the whole right-hand matrix again). With nothing spinning,
# elementwise passes pay from a smaller size (POOL_MIN_ELEMENTS: on the idle 2-core AMD
# EPYC, the Conv2d layer's 2-thread step took 29.2 ms with them split from 1M elements and
# 37.4 ms without, the CIFAR CNN 42.9 and 46.7, ResNet 74.4 and 76.7).
POOL_HOLDS_THE_CORES_FOR = 1.0   # seconds after the last shared pass
POOL_MIN_ELEMENTS = 1 << 20
_cores_taken_at = -math.inf       # time.monotonic() of the last shared pass


def take_the_cores():
    """The pool runs the work of the other cores from now on, for POOL_HOLDS_THE_CORES_FOR."""
    global _cores_taken_at
    _cores_taken_at = time.monotonic()


def give_back_the_cores():
    """OpenBLAS's threads run the work of the other cores from now on (as in a new process)."""
    global _cores_taken_at
    _cores_taken_at = -math.inf


def pool_owns_the_cores():
    """True within POOL_HOLDS_THE_CORES_FOR seconds of the last ``take_the_cores``."""
    return time.monotonic() - _cores_taken_at < POOL_HOLDS_THE_CORES_FOR


def min_elements():
    """The fewest elements an elementwise pass splits between threads: POOL_MIN_ELEMENTS while
    the pool owns the cores, else PARALLEL_MIN_ELEMENTS."""
    return POOL_MIN_ELEMENTS if pool_owns_the_cores() else PARALLEL_MIN_ELEMENTS


def thread_count():
    """The threads a split may use: numba's count (NUMBA_NUM_THREADS, numba.set_num_threads)."""
    return numba.get_num_threads()


def chunks(size):
    """How many ranges to split ``size`` elements into: numba's thread count for arrays of at
    least ``min_elements()``, else 1 (run the serial kernel)."""
    if size < min_elements():
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
            # let go of the job before sleeping: its arrays (a convolution's output, a
            # product's operands) are freed when the caller drops them, not at the next job
            kernel = args = None
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
    on the pool's. ``kernel`` is a numba function compiled with ``nogil=True``, or a Python
    function whose work is in such functions and numpy calls that release the GIL (a
    convolution's share of the batch, batch_split.py)."""
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
            errors = _join(parts - 1)
        for error in errors:
            if error is not None:
                raise error
    finally:
        _in_use.release()


def _join(count):
    """The errors of the first ``count`` workers' ranges, once every one is done."""
    try:
        return [worker.join() for worker in _workers[:count]]
    except BaseException:
        # interrupted (Ctrl-C) while a range may still run: such a worker's "done" would
        # answer the next call too early, so the next call starts fresh threads
        _workers.clear()
        raise
