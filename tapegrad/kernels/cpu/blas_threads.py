"""numpy's BLAS held to one thread where a second one does not pay: the small products of a
time loop, and thin products anywhere.

A recurrent step's product, h W_hhᵀ at (32, 128) @ (128, 512), is large enough for
OpenBLAS to split it between its threads, and far too small for that to pay: the step's
next elementwise loop (one thread) then waits for the other core to finish and hand its
half back, and on a busy machine for that core to be free at all. Measured on a 2-core
VM with other jobs running: 1.1 ms per product on 2 threads, 45 µs on one. So the time
loops of ``kernels/recurrence.py`` run their products on one thread, and the large
products before and after the loop (all steps' rows at once) keep every thread.

Outside time loops, every product of ``autograd/ops/linalg.py`` goes through ``matmul``,
which runs a *thin* product (a side of at most 32: the batch of a small-batch MLP) below
2²³ multiply-adds on one thread. OpenBLAS splits products above 2¹⁹ multiply-adds itself
(16-256-128 it keeps on one thread, 128-512-10 it splits). Measured alone (2-core Xeon,
SkylakeX kernels, µs on 1 / 2 threads), a batch-16 Linear 784→256 gains from the split
forwards, W xᵀ (256, 784) @ (784, 16), 67 / 39, and not backwards, gᵀ x (256, 16) @
(16, 784), 65 / 64–85; a 128-row product of 128-256-128 (4.2·10⁶) 60 / 49; from 1.6·10⁷
on mostly 0.5–0.65×. Inside training steps on two threads, handing a split product's
halves over to the next one-threaded op costs more than the thin products gain: the
batch-16 MLP's step took 0.93–0.94× as long with its two thin products on one thread
(and 1.01–1.02× longer for the batch-128 MLP when its 128-wide products, not thin, went to
one thread too: the rule spares them). ``SPLIT_ABOVE`` spares the switch (2.5 µs a
product) where OpenBLAS would not split anyway; with BLAS on one thread a product costs
one call of the count's getter more (the batch-16 MLP's step 1% more CPU time).

While tapegrad's own pool of threads owns the cores (``threads.py``: for a second after
each convolution pass or recurrent loop that shares its batch between threads),
``matmul`` runs every product with OpenBLAS on one thread, and the larger ones cut into
blocks of rows (or of a batch's matrices, or of a weight gradient's sum), one per pool
thread (``_on_the_pool``). A product on OpenBLAS's
threads leaves its worker spin-waiting on the second core for milliseconds after it; the
next convolution's share of the batch then waits for that core. On the idle 2-core AMD
EPYC (2-thread training steps, the convolutions sharing their batch, ms): with the other
products on OpenBLAS's threads / with OpenBLAS held to one thread throughout, the CIFAR
CNN 80.0 / 48.4, the Conv2d layer 36.5 / 28.8, ResNet 88.4 / 88.2; and every product and
convolution on OpenBLAS's threads / as here, the CIFAR CNN 62.9 / 44.4, ResNet 182 / 83.
Without convolutions OpenBLAS's threads keep the cores: there the pool's products lost
(2-thread steps, OpenBLAS's threads / the pool's: the batch-128 MLP 1.23 / 2.20 ms, the
Adam MLP 3.9 / 6.7, the LSTM 6.8 / 8.6): each of the pool's blocks packs the whole
right-hand matrix again, where OpenBLAS's threads share one packed copy ((128, 784) @
(784, 256)ᵀ-view: 310 µs on OpenBLAS's two threads, 410 in the pool's two blocks).

OpenBLAS's own switch (``openblas_set_num_threads``) is found in the library numpy has
loaded, by the name OpenBLAS gives it (numpy's wheels bundle it as ``scipy_openblas``, with
a ``64_`` suffix for 64-bit integers). Where there is none (another BLAS, another system),
``one_thread`` and ``matmul`` change nothing. The setting is the process's: another
thread's products run on one thread too while a loop or a thin product runs.
"""
import contextlib
import ctypes

import numba

from . import threads

_NAMES = [(f"{prefix}_set_num_threads{suffix}", f"{prefix}_get_num_threads{suffix}")
          for prefix in ("scipy_openblas", "openblas") for suffix in ("64_", "")]
_switch = []   # [(set, get)] once looked up; [None] if there is none


def loaded_openblas():
    """The paths of the OpenBLAS libraries this process has loaded (Linux's /proc)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps
                           if "openblas" in line.lower() and line.split()[-1].startswith("/")})
    except OSError:
        return []


def opened_openblas():
    """Each loaded OpenBLAS library (``loaded_openblas``) opened through ctypes, in turn; one
    that cannot be opened is skipped. Its functions are found by name and given their C
    signatures by the caller."""
    for path in loaded_openblas():
        try:
            yield ctypes.CDLL(path)
        except OSError:
            continue


def _find_switch():
    for library in opened_openblas():
        for set_name, get_name in _NAMES:
            setter, getter = getattr(library, set_name, None), getattr(library, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


_CORE_NAMES = [f"{prefix}_get_corename{suffix}" for prefix in ("scipy_openblas", "openblas")
               for suffix in ("64_", "")]
_core = []   # [name] once looked up; [None] if there is none


def core_name():
    """The kernels OpenBLAS chose for this CPU, lower case ("skylakex", "haswell", "zen", …;
    ``OPENBLAS_CORETYPE`` can force them), or None where numpy's BLAS is not an OpenBLAS."""
    if not _core:
        _core.append(_find_core_name())
    return _core[0]


def _find_core_name():
    for library in opened_openblas():
        for name in _CORE_NAMES:
            getter = getattr(library, name, None)
            if getter is not None:
                getter.argtypes, getter.restype = [], ctypes.c_char_p
                return getter().decode().lower()
    return None


def switch():
    """(set, get) of OpenBLAS's thread count, or None where numpy's BLAS has no such switch.
    Looked up on first use, from a time loop over arrays: the backend has loaded numpy (and
    with it its BLAS) by then."""
    if not _switch:
        _switch.append(_find_switch())
    return _switch[0]


ONE_THREAD_BELOW = 2**23   # multiply-adds (M·N·K) of a thin product: below, one thread
THIN_SIDE = 32             # a product is thin when one of M, N, K is at most this
SPLIT_ABOVE = 2**19        # OpenBLAS itself runs products up to this on one thread


def matmul(xp, a, b):
    """a @ b, on one BLAS thread when it is thin (a side of at most ``THIN_SIDE``) and smaller
    than ``ONE_THREAD_BELOW`` multiply-adds, on all of them otherwise. (Up to ``SPLIT_ABOVE``
    OpenBLAS keeps a product on one thread itself: the switch would only cost its calls.)
    With BLAS on one thread, the first test settles it: the cost is one call of its getter.
    While tapegrad's pool owns the cores (threads.py), the pool shares the product instead."""
    if (_thread_count or _find_thread_count())() > 1 and a.ndim > 1 and b.ndim > 1 \
            and xp.numba_cpu:
        if threads.pool_owns_the_cores():
            return _on_the_pool(xp, a, b)
        rows, inner, columns = a.shape[-2], a.shape[-1], b.shape[-1]
        thin = THIN_SIDE
        if ((rows <= thin or inner <= thin or columns <= thin)
                and SPLIT_ABOVE < rows * inner * columns < ONE_THREAD_BELOW):
            return _on_one_thread(xp, a, b)
    return xp.matmul(a, b)


_thread_count = None   # OpenBLAS's thread count getter, once found; ``lambda: 1`` if none


def _find_thread_count():
    global _thread_count
    found = switch()
    _thread_count = found[1] if found is not None else (lambda: 1)
    return _thread_count


def _on_one_thread(xp, a, b):
    """a @ b with OpenBLAS set to one thread, and set back to its count after (also on error)."""
    set_threads, get_threads = _switch[0]
    threads = get_threads()
    set_threads(1)
    try:
        return xp.matmul(a, b)
    finally:
        set_threads(threads)


POOL_SPLIT_ABOVE = 2**24   # multiply-adds from which the pool's threads share a product


def _on_the_pool(xp, a, b):
    """a @ b with OpenBLAS on one thread, shared between the pool's threads from
    ``POOL_SPLIT_ABOVE`` multiply-adds on: a matrix's rows, or a batch's matrices, cut into
    one block per thread, each block's product written into its rows of the result, or
    where the inner dimension is the longest, that one (``_inner_blocks``). The cut depends
    on the shapes only, so a product gives the same result in every run.
    Measured alone (idle 2-core AMD EPYC, µs, OpenBLAS's 2 threads / the pool's): (128,
    784) @ (784, 512) 694 / 628, (512, 128) @ (128, 512) 680 / 419, (700, 128) @ (128,
    2000) 2000 / 1870; below ~16M multiply-adds waking a thread costs more than it gains
    ((1024, 64) @ (64, 64): 50 / 112, and 88 on one thread)."""
    parts = numba.get_num_threads()
    with one_thread():
        if a.dtype != b.dtype or a.shape[-2] * a.shape[-1] * b.shape[-1] * (
                a.shape[0] if a.ndim == 3 else 1) < POOL_SPLIT_ABOVE:
            return xp.matmul(a, b)
        if a.ndim == 2 and b.ndim == 2 and a.shape[1] > max(a.shape[0], b.shape[1]):
            return _inner_blocks(xp, a, b, parts)
        if a.ndim == 2 and b.ndim == 2 and a.shape[0] >= parts:
            out = xp.empty((a.shape[0], b.shape[1]), a.dtype)

            def rows(start, stop):
                xp.matmul(a[start:stop], b, out=out[start:stop])
            threads.split(rows, a.shape[0], parts)
            return out
        if a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0] >= parts:
            out = xp.empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)

            def matrices(start, stop):
                xp.matmul(a[start:stop], b[start:stop], out=out[start:stop])
            threads.split(matrices, a.shape[0], parts)
            return out
        return xp.matmul(a, b)


def _inner_blocks(xp, a, b, parts):
    """a @ b for a product whose inner dimension is its longest (a weight gradient, the sum
    over a batch's rows): the inner dimension cut into one block per pool thread, each
    block's product into a matrix of its own, added in a fixed order. Each block packs
    only its share of both matrices, where blocks of rows would each pack all of b: an
    LSTM's ∂L/∂W_hh, (512, 1024) @ (1024, 128), took 865 µs this way, 1102 in blocks of
    rows, 779 on OpenBLAS's two threads and 1698 on one (idle 2-core AMD EPYC)."""
    inner = a.shape[1]
    sums = [xp.empty((a.shape[0], b.shape[1]), a.dtype) for _ in range(parts)]
    part_at = {i * inner // parts: i for i in range(parts)}   # threads.split's cut

    def block(start, stop):
        xp.matmul(a[:, start:stop], b[start:stop], out=sums[part_at[start]])
    threads.split(block, inner, parts)
    for other in sums[1:]:
        sums[0] += other
    return sums[0]


@contextlib.contextmanager
def one_thread():
    """Within: numpy's BLAS products run on one thread; after: as many as before."""
    found = switch()
    threads = found[1]() if found is not None else 1
    if threads <= 1:
        yield
        return
    found[0](1)
    try:
        yield
    finally:
        found[0](threads)
