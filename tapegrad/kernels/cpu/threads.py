"""When an elementwise kernel runs on several threads.

Splitting a pass over an array between numba's threads pays only when the array is large:
starting the threads and waiting for the last one costs tens of microseconds on an idle
machine, and far more on a busy one, where a thread may wait milliseconds for a free core
(on a 2-core VM shared with other processes the split kernels were 4–15× slower than the
serial ones at every size measured, up to 4 million elements). ``PARALLEL_MIN_ELEMENTS``
is the size from which the split versions run, set beyond what was measured (16 million
elements, 64 MiB of float32); ``benchmarks/elementwise_threads.py`` measures both on the
machine at hand, so lower it where splitting pays. With NUMBA_NUM_THREADS=1 nothing is
split.
"""
import numba

PARALLEL_MIN_ELEMENTS = 1 << 24


def chunks(size):
    """How many ranges to split ``size`` elements into: numba's thread count for arrays of at
    least PARALLEL_MIN_ELEMENTS, else 1 (run the serial kernel)."""
    if size < PARALLEL_MIN_ELEMENTS:
        return 1
    return numba.get_num_threads()
