"""``torch.accelerator``: which accelerator (if any) this machine offers, device-agnostically.

tapegrad's only accelerator is CUDA (through cupy), so these ask ``tapegrad.cuda``.
"""
from .backend import cuda
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


__all__ = ["current_accelerator", "device_count", "is_available"]
