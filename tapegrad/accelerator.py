"""``torch.accelerator``: which accelerator (if any) this machine offers, device-agnostically.

tapegrad's only accelerator is CUDA (through cupy), so these ask ``tapegrad.cuda``.
"""
from . import cuda
from .backend.device import device


def is_available():
    """True when a CUDA device answers (cupy installed, a driver and a GPU)."""
    return cuda.is_available()


def device_count():
    """How many accelerator devices there are (0 on a CPU-only machine)."""
    return cuda.device_count()


def current_accelerator(check_available=False):
    """``device("cuda")`` when CUDA is usable, else None (as PyTorch on a CPU-only build)."""
    if cuda.is_available():
        return device("cuda")
    return None


def _require_accelerator(what):
    if not cuda.is_available():
        raise RuntimeError(f"torch.accelerator.{what}: cannot access an accelerator device when "
                           f"none is available (tapegrad's accelerator is a CUDA GPU)")


def current_device_index():
    """The index of the current accelerator device (PyTorch raises without one; so does this)."""
    _require_accelerator("current_device_index")
    return cuda.current_device()


def set_device_index(device):
    """Make ``device`` (an index, "cuda:1" or a device) the current accelerator device."""
    _require_accelerator("set_device_index")
    cuda.set_device(device)


def synchronize(device=None):
    """Wait for every kernel queued on the accelerator to finish."""
    _require_accelerator("synchronize")
    cuda.synchronize()


__all__ = ["current_accelerator", "current_device_index", "device_count", "is_available",
           "set_device_index", "synchronize"]
