"""Devices, and the array namespace (numpy's or cupy's) that computes on each.

A tensor holds one backend array and knows its device. Every operation asks the
device for its namespace, `device.xp` (the operations of `contract.py`), so the same
operation code runs on numpy arrays (cpu) and cupy arrays (cuda). This file and
`cuda.py` are the only places in tapegrad that decide which array library to use.
"""
import numpy

from . import contract
from . import cuda as _cuda

# The namespace of every cpu device. Tests put a stricter backend over numpy here
# (tests/backend/test_contract.py), to check that tapegrad uses nothing outside the contract.
HOST = contract.numpy_namespace(numpy)


class device:
    """Where a tensor's data lives: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")``."""

    __slots__ = ("type", "index", "_xp", "_gpu")

    def __init__(self, spec, index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        if not isinstance(spec, str):
            raise TypeError(f"device() expects a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {spec!r}: tapegrad knows 'cpu' and 'cuda'")
        if number:
            if not number.isdigit():
                raise ValueError(f"device index in {spec!r} must be a non-negative integer")
            index = int(number)
        if kind == "cpu":
            index = None
        self.type = kind  # device("cuda") keeps index None ("the current GPU"), as in PyTorch
        self.index = index
        self._xp = None   # a cuda device's namespace, made on first use
        self._gpu = None

    @property
    def xp(self):
        """The array namespace for this device: numpy's on cpu, cupy's on cuda (cupy is
        imported on first use).

        cupy makes arrays and runs kernels on its *current* GPU, so asking a cuda device for
        its module also makes that GPU current: every operation asks its tensors' device,
        and so computes where they live (cuda:1 tensors on cuda:1), whatever GPU was current.
        """
        if self.type == "cpu":
            return HOST
        if self._gpu is None or self.index is None:   # plain "cuda": the current GPU, asked anew
            index = _cuda.current_index() if self.index is None else self.index
            cupy = _cuda.array_module(index)
            self._xp = contract.cupy_namespace_of(cupy)
            self._gpu = cupy.cuda.Device(index)
        self._gpu.use()
        return self._xp

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):  # copy and deepcopy rebuild it from its name, not its module
        return (device, (self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def as_device(spec):
    """Where to put a tensor: ``None`` means cpu, and plain "cuda" means the current GPU
    (cuda:0 unless ``tapegrad.cuda.set_device`` chose another)."""
    if spec is None:
        return CPU
    if not isinstance(spec, device):
        spec = device(spec)
    if spec.type == "cuda" and spec.index is None:
        return device("cuda", _cuda.current_index())
    return spec


def device_of_array(array):
    """The device an existing backend array lives on."""
    if isinstance(array, numpy.ndarray) or numpy.isscalar(array):
        return CPU
    array_device = getattr(array, "device", None)
    if array_device is not None and hasattr(array, "__cuda_array_interface__"):
        return device("cuda", int(array_device.id))
    raise TypeError(f"tapegrad cannot hold arrays of type {type(array).__name__}")
