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
images): 0.31-0.39; LeNet's 1→6 on 28×28 (a tiny product per image): 0.98-1.00. Whole
training steps (load 3-4): the Conv2d layer 0.39-0.40, ResNet 0.12-0.25, the CIFAR CNN
0.46-0.87, LeNet 0.24-0.27. On the same machine idle (load average 0.9, 5 rounds, 2
threads, ms per step with shares / with OpenBLAS's threads) only ResNet gained: ResNet 65.3 /
78.7, the Conv2d layer 25.2 / 23.3, the CIFAR CNN 45.5 / 38.6, LeNet 7.0 / 5.4. Idle, the
second core is free for OpenBLAS's threads, and a pool thread can meet OpenBLAS's worker
still spinning after the previous product. So sharing is off by default
(``SHARE_THE_BATCH``); a machine shared with other jobs gains by turning it on.

``run`` gives thread ``part`` of ``parts`` the images [part·B/parts, (part+1)·B/parts): a
fixed share, so that the sums over the batch (the weight gradient) are added in
the same order in every run, whichever thread finishes first. The threads are threads.py's
sleeping pool; the work releases the GIL in its numba loops (``nogil``) and products.
"""
import numba

from . import blas_threads, workspace
from .im2col import compiled
from .threads import split


SHARE_THE_BATCH = False   # on: passes share the batch between threads (see above)


def concurrent_parts(xp, x):
    """How many threads share a pass over the batch of ``x`` (B, C, H, W): numba's thread count
    where sharing is on (``SHARE_THE_BATCH``), that is several, the batch has an image for
    each, the loops are numba's (numpy arrays, not float16) and numpy's BLAS can be held to
    one thread (OpenBLAS's switch); else 1 (one thread, or OpenBLAS's threads inside each
    product)."""
    threads = numba.get_num_threads()
    if not SHARE_THE_BATCH or threads <= 1 or x.shape[0] < threads or not compiled(xp, x):
        return 1
    return threads if blas_threads.switch() is not None else 1


def run(parts, batch, work):
    """``work(part, start, stop)`` for each of ``parts`` shares of the batch's images, at once
    on as many threads, numpy's BLAS on one thread meanwhile (restored after, also after an
    error). One part: ``work(0, 0, batch)`` here, as it is. ``work`` must use buffers of its
    own part only."""
    if parts == 1:
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
