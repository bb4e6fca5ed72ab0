"""The array backend: numpy on the cpu, cupy on a CUDA GPU, chosen by a tensor's device.

Above this package nothing imports numpy or cupy to compute: operations call
``tensor.device.xp`` (or ``xp_for(device)``) and use the namespace that comes back, whose
operations are listed in ``contract.py``.
"""
import numpy

from . import cuda, errstate, heap
from . import device as _device
from .device import CPU, as_device, device, device_of_array

errstate.silence_floating_point_warnings_inside_tapegrad()
heap.keep_freed_memory()   # training steps reuse their freed arrays without page faults


def xp_for(spec):
    """The array namespace for a device (or device string)."""
    return as_device(spec).xp


def to_device(array, target):
    """``array`` moved to device ``target`` (no copy when it is already there)."""
    source = device_of_array(array)
    if source == target:
        return array
    if target.type == "cpu":
        return array.get()  # cupy -> numpy
    cupy = cuda.array_module(target.index)
    with cupy.cuda.Device(target.index):
        if source.type == "cuda":   # another GPU: asarray would hand back the array itself
            return array.copy()     # (cupy's copy() copies onto the current device)
        return cupy.asarray(array)


def to_numpy(array):
    """A numpy array with the same values (shares memory on cpu)."""
    if isinstance(array, numpy.ndarray):
        return numpy.asarray(array)   # (itself; a plain view of an ndarray subclass)
    if hasattr(array, "get"):
        return array.get()
    return numpy.asarray(array)


def host_array(data):
    """Python numbers or (nested) lists as a numpy array, with errors that say what is wrong."""
    try:
        array = numpy.asarray(data)
    except ValueError as error:
        raise ValueError(f"tensor(): the data is not rectangular (nested lists of different "
                         f"lengths): {error}") from None
    if array.dtype == object or array.dtype.kind in "USVc":
        raise TypeError(f"tensor(): cannot make a tensor from {type(data).__name__} data of "
                        f"mixed or non-numeric types ({array.dtype})")
    return array


def format_array(array, precision=6, separator=" ", prefix=""):
    """An array as readable text (for error messages and a tensor's repr)."""
    # no suppress_small: a gradient of 1e-5 must not print as 0 (PyTorch switches to e-notation)
    return numpy.array2string(to_numpy(array), precision=precision, suppress_small=False,
                              max_line_width=100, threshold=1000, separator=separator,
                              prefix=prefix)


# numpy gives a scalar, not an array, for many operations on 0-d arrays; a tensor holds an
# array (so that in-place operations work on it): such scalars are made 0-d arrays.
SCALAR_TYPES = frozenset(t for t in numpy.sctypeDict.values() if issubclass(t, numpy.generic))


def as_0d_array(value):
    """A numpy scalar as a 0-d array of the host backend (anything else as it is)."""
    return _device.HOST.asarray(value) if isinstance(value, numpy.generic) else value


def is_array(value):
    """True for numpy arrays and for arrays of a GPU library (anything with a CUDA interface)."""
    return isinstance(value, numpy.ndarray) or hasattr(value, "__cuda_array_interface__")


__all__ = ["CPU", "as_device", "cuda", "device", "device_of_array", "host_array", "is_array",
           "to_device", "to_numpy", "xp_for", "as_0d_array", "SCALAR_TYPES"]
