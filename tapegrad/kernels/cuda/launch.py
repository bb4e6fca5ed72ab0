"""How a numba kernel is launched on cupy arrays: device views, the stream, the grid.

numba compiles a ``@cuda.jit`` function into a GPU kernel; ``kernel[blocks, threads,
stream](*args)`` runs it. tapegrad's GPU arrays are cupy's, and numba reads them
without a copy through the CUDA array interface (``__cuda_array_interface__``: a
pointer, a shape, strides and a dtype). Three details decide whether this is fast
and correct:

* **the stream.** cupy queues its work (matmul, elementwise operations) on its
  *current stream*. A numba kernel must go on that same stream, so that it runs after
  the cupy operation that produced its input and before the one that reads its output,
  with no synchronisation: ``cuda.external_stream(cupy.cuda.get_current_stream().ptr)``
  wraps cupy's stream for numba.
* **no hidden synchronisation.** Handed a cupy array directly, numba would, by the
  rules of the array interface, wait for the whole stream the array was made on before
  launching (a host-device round trip per kernel). ``cuda.as_cuda_array(a, sync=False)``
  makes the device view without waiting: safe here, because the kernel runs on the
  very stream that made the array.
* **the grid.** Every kernel of this package is a *grid-stride loop*: thread g of a grid
  of G threads handles the items g, g + G, g + 2G, … of the flat range [0, total). So
  any launch shape is correct; ``THREADS`` per block (256: eight warps) and at most
  ``MAX_BLOCKS`` blocks (enough to fill every multiprocessor many times over) are
  a good default for a GPU.

In numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, used by the tests on machines
without a GPU) kernels run as Python threads on numpy arrays: there is no stream and
no array interface, and every simulated thread is an operating-system thread, so a
launch uses few threads (``SIMULATOR_THREADS``) and the grid-stride loop does the rest.
The stream and the device views are the parts the simulator cannot check: tests/cuda
checks them on a GPU.

A small tensor makes a small grid, and numba then warns of low occupancy (fewer blocks
than the GPU has multiprocessors) at every launch: true, and no fault of the caller, so
launches here silence that one warning.
"""
import contextlib
import warnings

from numba import config, cuda
from numba.core.errors import NumbaPerformanceWarning

SIMULATOR = bool(config.ENABLE_CUDASIM)

THREADS = 256
MAX_BLOCKS = 65535
SIMULATOR_THREADS = 8      # per block, in the simulator: each one is a Python thread
SIMULATOR_BLOCKS = 2


def blocks_for(total, threads):
    """Enough blocks of ``threads`` for one item per thread, capped (the loop covers the rest)."""
    return max(1, min((total + threads - 1) // threads, MAX_BLOCKS))


def device_view(array):
    """What a kernel is given for a backend array: a numba device view of a cupy array (no
    copy, no synchronisation), or in the simulator a simulated device array around the
    numpy array (no copy either, and any strides: handed a plain numpy array, the
    simulator would copy it in and out, and refuse a non-contiguous one)."""
    if SIMULATOR:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        return FakeCUDAArray(array) if getattr(array, "ndim", 0) > 0 else array
    if not hasattr(array, "__cuda_array_interface__"):
        return array
    return cuda.as_cuda_array(array, sync=False)


def _device_index(arrays):
    for array in arrays:
        device = getattr(array, "device", None)
        if device is not None and hasattr(array, "__cuda_array_interface__"):
            return int(device.id)
    return None


def current_stream(xp):
    """cupy's current stream as a numba stream (None in the simulator or for numpy)."""
    if SIMULATOR or not xp.is_gpu:
        return None
    return cuda.external_stream(xp.current_stream().ptr)


def launch(kernel, xp, total, *args):
    """Run the grid-stride ``kernel`` over the flat range [0, total) on cupy's current
    stream, with the arrays among ``args`` passed as device views. Nothing is launched
    for total = 0."""
    if total <= 0:
        return
    if SIMULATOR:
        threads = SIMULATOR_THREADS
        blocks = min(blocks_for(total, threads), SIMULATOR_BLOCKS)
    else:
        threads = THREADS
        blocks = blocks_for(total, threads)
    run(kernel, xp, blocks, threads, *args)


def run(kernel, xp, blocks, threads, *args):
    """``kernel[blocks, threads, stream](*args)`` on the device of the array arguments."""
    views = [device_view(a) if _is_array(a) else a for a in args]
    index = None if SIMULATOR else _device_index(args)
    context = cuda.gpus[index] if index not in (None, 0) else contextlib.nullcontext()
    with context, warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        stream = current_stream(xp)
        if stream is None:
            kernel[blocks, threads](*views)
        else:
            kernel[blocks, threads, stream](*views)


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")
