"""A convolution's pass over the batch, shared between threads image by image.

With several threads, a convolution can use them two ways: each product on all of
OpenBLAS's threads while the copies between products (im2col, col2im, the row-shifted
copies, the bias) run on one, or each thread taking a share of the images and doing all of
their work, products included, with OpenBLAS held to one thread. The second keeps every
core busy for the whole pass, and each share's columns stay in its own core's cache from
the copy to the product that reads them; a thread done with its share sleeps (threads.py)
where OpenBLAS's threads spin-wait inside every product.

Measured on a 2-core VM shared with other jobs (one process, interleaved blocks, 7
rounds), the time with shares over the time with OpenBLAS's two threads. One layer's
forward and backward (load 7-8): 32→64 channels on 32×32, batch 32: 0.24-0.31 (and
0.65-0.88 of one thread's time); 32→32: 0.15-0.16; 64→128 on 8×8, batch 64: 0.37-0.38;
256→256 on 16×16, batch 8: 0.36-0.38; 128→128 on 32×32, batch 3 (shares of 1 and 2
images): 0.31-0.39; LeNet's 1→6 on 28×28 (a tiny product per image): 0.98-1.00.

Idle, a share's thread can meet OpenBLAS's worker still spinning after a product of the
step outside the convolutions (a Linear layer's), and wait for the core. So each shared
pass hands the other cores to tapegrad's pool for the next second
(``threads.take_the_cores``): meanwhile every product runs on one OpenBLAS thread, the
large ones cut between the pool's threads (blas_threads.py), and nothing spins. On the
idle 2-core AMD EPYC, where OpenBLAS's second thread gains nothing at the convolutions'
shapes, 2-thread training steps took (ms, everything on OpenBLAS's threads / shared as
here): the Conv2d layer 40.9 / 35.3, the CIFAR CNN 62.9 / 44.4, ResNet 182 / 83.
``SHARE_THE_BATCH = False`` leaves every pass's products to OpenBLAS's threads.

``run`` gives thread ``part`` of ``parts`` the images [part·B/parts, (part+1)·B/parts): a
fixed share, so that the sums over the batch (the weight gradient) are added in
the same order in every run, whichever thread finishes first. The threads are threads.py's
sleeping pool; the work releases the GIL in its numba loops (``nogil``) and products.
"""
import numba

from . import blas_threads, workspace
from .im2col import compiled
from .threads import split, take_the_cores


SHARE_THE_BATCH = True   # off: each product runs on OpenBLAS's threads instead (see above)
# Passes of fewer multiply-adds run whole on one thread, products included (conv.py; none of
# the benchmarks' passes is that small). LeNet's passes (7.5M and 15M at batch 64) are
# shared: alone, its second convolution's forward and backward took 1.74 ms shared against
# 2.84 on one thread; in the benchmark (idle 2-core AMD EPYC, five runs of each, 2-thread
# step, ms, median of the runs) 6.15 shared and 7.14 on one thread with AVX-512 (three of
# five runs beyond 1.3× PyTorch's step on one thread, one shared), 7.19 and 6.57 with AVX2
# (0.86 and 1.04 of PyTorch's). On OpenBLAS's threads they lost (9.01 ms, AVX2).
SHARE_FROM = 2**22


def concurrent_parts(xp, x, multiply_adds):
    """How many threads share a pass over the batch of ``x`` (B, C, H, W) that takes
    ``multiply_adds``: numba's thread count where sharing is on (``SHARE_THE_BATCH``), that
    is several, the batch has an image for each, the pass has at least ``SHARE_FROM``
    multiply-adds, the loops are numba's (numpy arrays, not float16) and numpy's BLAS can be
    held to one thread (OpenBLAS's switch); else 1 (one thread, or OpenBLAS's threads inside
    each product). A pass that is shared hands the cores to the pool (``take_the_cores``)."""
    threads = numba.get_num_threads()
    if (not SHARE_THE_BATCH or threads <= 1 or x.shape[0] < threads
            or multiply_adds < SHARE_FROM or not compiled(xp, x)
            or blas_threads.switch() is None):
        return 1
    take_the_cores()
    return threads


def run(parts, batch, work, one_blas_thread=False):
    """``work(part, start, stop)`` for each of ``parts`` shares of the batch's images, at once
    on as many threads, numpy's BLAS on one thread meanwhile (restored after, also after an
    error). One part: ``work(0, 0, batch)`` here, with numpy's BLAS on one thread if
    ``one_blas_thread``. ``work`` must use buffers of its own part only."""
    if parts == 1:
        if one_blas_thread:
            with blas_threads.one_thread():
                work(0, 0, batch)
        else:
            work(0, 0, batch)
        return

    def shares(first, last):   # a range of parts: one each, or all of them where the pool
        for part in range(first, last):   # is busy with another caller's split
            work(part, part * batch // parts, (part + 1) * batch // parts)

    with blas_threads.one_thread():
        split(shares, parts, parts)


def scratch(xp, purpose, part, shape, dtype):
    """A scratch buffer (workspace.scratch) for ``purpose``, one per share (``part``; part 0's
    is the buffer a pass on one thread uses), so that threads never share one. Taken on the
    calling thread before the shares run: the workspace cache is not thread-safe."""
    return workspace.scratch(xp, purpose if part == 0 else (purpose, part), shape, dtype)
