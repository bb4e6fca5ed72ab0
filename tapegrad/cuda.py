"""``torch.cuda``: the CUDA devices this machine has, which one is current, their seeds and
their memory.

tapegrad computes on NVIDIA GPUs through cupy (``tapegrad.backend.cuda`` imports it on first
use). On a machine without cupy or a GPU, the questions answer "none" (``is_available()``
is False, ``device_count()`` 0, ``memory_allocated()`` 0), seeding and emptying the cache do
nothing, as in PyTorch, and ``current_device``, ``set_device`` and ``get_device_name`` raise
an error that says why.
"""
from . import random
from .backend import cuda as _backend
from .backend.device import device as _device


def is_available():
    """True when cupy imports and at least one CUDA device answers."""
    return _backend.is_available()


def device_count():
    """How many CUDA devices cupy sees (0 without cupy, a driver or a GPU)."""
    return _backend.device_count()


def synchronize(device=None):
    """Wait until every kernel queued on the GPU has finished (nothing to wait for without one)."""
    _backend.synchronize()


def _require_gpu(what):
    if not is_available():
        raise RuntimeError(f"torch.cuda.{what}: this machine has no usable CUDA device "
                           f"({_backend.INSTALL_HINT}, and run on a machine with an NVIDIA GPU)")


def _index_of(what, device):
    """The GPU index named by ``device``: an int, "cuda:1", a tapegrad device, or None (the
    current one)."""
    if device is None:
        return _backend.current_index()
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    device = _device(device)
    if device.type != "cuda":
        raise ValueError(f"torch.cuda.{what}: expected a cuda device, got {device}")
    return _backend.current_index() if device.index is None else device.index


def current_device():
    """The index of the GPU that plain ``"cuda"`` means."""
    _require_gpu("current_device")
    return _backend.current_index()


def set_device(device):
    """Make plain ``"cuda"`` mean this GPU (an index, "cuda:1" or a device) from now on."""
    _require_gpu("set_device")
    index = _index_of("set_device", device)
    if not 0 <= index < device_count():
        raise RuntimeError(f"torch.cuda.set_device: cuda:{index} was asked for, but this machine "
                           f"has {device_count()} CUDA device(s)")
    _backend.set_current_index(index)


def get_device_name(device=None):
    """The GPU's name, as its driver reports it ("NVIDIA H100 80GB HBM3")."""
    _require_gpu("get_device_name")
    cupy = _backend.array_module(0)
    name = cupy.cuda.runtime.getDeviceProperties(_index_of("get_device_name", device))["name"]
    return name.decode() if isinstance(name, bytes) else name


def manual_seed(seed):
    """Reseed the default generator's draws on CUDA devices (its CPU draws keep their seed)."""
    random.default_generator._manual_seed_device_type("cuda", seed)


manual_seed_all = manual_seed   # one seed serves every GPU: each device keeps its own stream


def _memory_pool(device):
    if not is_available():
        return None
    cupy = _backend.array_module(0)
    with cupy.cuda.Device(_index_of("memory", device)):
        return cupy.get_default_memory_pool()


def memory_allocated(device=None):
    """Bytes that tensors hold on the GPU now (cupy's memory pool in use; 0 without a GPU)."""
    pool = _memory_pool(device)
    return 0 if pool is None else int(pool.used_bytes())


def memory_reserved(device=None):
    """Bytes the memory pool holds on the GPU, in use or cached for reuse (0 without a GPU)."""
    pool = _memory_pool(device)
    return 0 if pool is None else int(pool.total_bytes())


def empty_cache():
    """Give the GPU memory the pool caches but no tensor uses back to the driver."""
    pool = _memory_pool(None)
    if pool is not None:
        pool.free_all_blocks()


__all__ = ["current_device", "device_count", "empty_cache", "get_device_name", "is_available",
           "manual_seed", "manual_seed_all", "memory_allocated", "memory_reserved", "set_device",
           "synchronize"]
