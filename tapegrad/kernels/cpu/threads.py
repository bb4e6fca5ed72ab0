"""When an elementwise kernel runs on several threads.

The kernels split this way: the optimizer updates and axpy (optimizer_steps.py, axpy.py),
relu forward and backward (relu.py, relu_gradient.py) and batch norm's three passes
(normalization.py). Each is a loop over a range written once, run whole by its serial
kernel or as one range per thread by its split one (``prange`` over the ranges).

Splitting a pass over an array between numba's threads pays only when the array is large
enough: starting the threads and waiting for the last one costs a few microseconds on an
idle machine, and far more on a busy one, where a thread may wait milliseconds for a free
core. Measured on an idle 2-core VM (``benchmarks/elementwise_threads.py``, float32
y += a·x, µs per call serial / split): 64K elements 7.6 / 6.2, 256K 36 / 13.6, 1M 311 /
157; an Adam step pays from 16K elements. ``PARALLEL_MIN_ELEMENTS`` is twice axpy's
crossover (128K elements, 512 KiB of float32), so a kernel splits only where it wins
clearly on an idle machine. With one thread (NUMBA_NUM_THREADS=1, or
``numba.set_num_threads(1)``) nothing is split.
"""
import numba

PARALLEL_MIN_ELEMENTS = 1 << 17


def chunks(size):
    """How many ranges to split ``size`` elements into: numba's thread count for arrays of at
    least PARALLEL_MIN_ELEMENTS, else 1 (run the serial kernel)."""
    if size < PARALLEL_MIN_ELEMENTS:
        return 1
    return numba.get_num_threads()
