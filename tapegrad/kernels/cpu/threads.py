"""When an elementwise kernel runs on several threads.

The kernels split this way: the optimizer updates and axpy (optimizer_steps.py, axpy.py),
relu forward and backward (relu.py, relu_gradient.py) and batch norm's three passes
(normalization.py). Each is a loop over a range written once, run whole by its serial
kernel or as one range per thread by its split one (``prange`` over the ranges).

Splitting a pass over an array between numba's threads pays, on its own, from about 64K
float32 elements: starting the threads and waiting for the last one costs a few
microseconds on an idle machine (``benchmarks/elementwise_threads.py``; idle 2-core VM,
y += a·x, µs per call serial / split: 64K elements 7.6 / 6.2, 256K 36 / 13.6, 1M 311 /
157; an Adam step, relu's and batch norm's backward pay from 16–64K). Inside training
steps it lost: numba's OpenMP thread spin-waits after each split pass, and OpenBLAS's
thread after each product, each on the core the other needs next. On the shared 2-core VM
(load average 4–6, ``benchmarks/split_threads.py``, 2 threads, splitting from 128K
elements against none) the MLP 784-256-128-10 step went from 1.04 to 44 ms (best blocks),
the Adam MLP 1.7× and the ResNet blocks 1.4× slower; with ``OMP_WAIT_POLICY=PASSIVE`` the
MLP's step stayed at 1.02 ms, but then a split pass no longer beat the serial one at any
size measured (each call wakes a sleeping thread). So ``PARALLEL_MIN_ELEMENTS`` stays
beyond what the models use (16M elements): lower it where ``split_threads.py`` shows that
splitting pays. With one thread (NUMBA_NUM_THREADS=1, or ``numba.set_num_threads(1)``)
nothing is split.
"""
import os

import numba

PARALLEL_MIN_ELEMENTS = 1 << 24
# GNU OpenMP cannot start threads in a child forked from a process that already ran them
# (the child is killed): a forked child (a DataLoader worker, multiprocessing's default on
# Linux) runs the serial kernels
_PARENT = os.getpid()


def can_split():
    """Whether split kernels may run here: not in a process forked from the one that
    imported tapegrad, and with more than one numba thread."""
    return os.getpid() == _PARENT and numba.get_num_threads() > 1


def chunks(size):
    """How many ranges to split ``size`` elements into: numba's thread count for arrays of at
    least PARALLEL_MIN_ELEMENTS, else 1 (run the serial kernel)."""
    if size < PARALLEL_MIN_ELEMENTS or not can_split():
        return 1
    return numba.get_num_threads()
