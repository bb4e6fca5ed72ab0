"""safetensors, the format model hubs share weights in, with ``safetensors.torch``'s four functions.

A ``.safetensors`` file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range (plus optional string ``metadata``), then the raw bytes.
It holds only named tensors, never code, so loading one is always safe. The encoding itself is
done by the ``safetensors`` package; this module turns tapegrad tensors into its numpy arrays
and back::

    tapegrad.safetensors.save_file(model.state_dict(), "model.safetensors")
    model.load_state_dict(tapegrad.safetensors.load_file("model.safetensors"))

As in ``safetensors.torch``, saving refuses non-contiguous tensors (call ``.contiguous()``) and
tensors that share memory (each would be written, and load, separately).
"""
import json
import os
import struct

import numpy  # host-side conversion to and from the arrays the safetensors package writes
import safetensors
import safetensors.numpy

from . import backend, dtypes
from .autograd.tensor import Tensor, wrap

# safetensors' dtype codes for the dtypes tapegrad has.
_DTYPE_CODES = {"F16": "float16", "F32": "float32", "F64": "float64", "I8": "int8",
                "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8", "BOOL": "bool"}


def save(tensors, metadata=None):
    """The ``.safetensors`` bytes for ``tensors`` (a dict of name -> tensor); metadata: str -> str."""
    return safetensors.numpy.save(_host_arrays(tensors), metadata=_checked_metadata(metadata))


def save_file(tensors, filename, metadata=None):
    """Write ``tensors`` (a dict of name -> tensor) to the file ``filename``."""
    safetensors.numpy.save_file(_host_arrays(tensors), os.fspath(filename),
                                metadata=_checked_metadata(metadata))


def load(data):
    """The dict of name -> cpu tensor in ``data``, the bytes of a ``.safetensors`` file."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load() expects the bytes of a .safetensors file, got "
                        f"{type(data).__name__}; use load_file() for a path")
    data = bytes(data)
    _check_dtypes(_header(data, "the bytes given"), "the bytes given")
    try:
        arrays = safetensors.numpy.load(data)
    except safetensors.SafetensorError as error:
        raise ValueError(f"not an intact .safetensors file: {error}") from None
    return {name: wrap(_writable(array), backend.CPU) for name, array in arrays.items()}


def load_file(filename, device="cpu"):
    """The dict of name -> tensor in the file ``filename``, on ``device`` (a device, str or GPU index)."""
    target = backend.as_device(f"cuda:{device}" if isinstance(device, int)
                               and not isinstance(device, bool) else device)
    with open(filename, "rb") as file:
        head = file.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        header = head + file.read(max(0, min(length, 100_000_000)))  # headers are small
    _check_dtypes(_header(header, repr(os.fspath(filename))), repr(os.fspath(filename)))
    try:
        arrays = safetensors.numpy.load_file(os.fspath(filename))
    except safetensors.SafetensorError as error:
        raise ValueError(f"{os.fspath(filename)!r} is not an intact .safetensors file: "
                         f"{error}") from None
    return {name: wrap(backend.to_device(_writable(array), target), target)
            for name, array in arrays.items()}


def _host_arrays(tensors):
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of name -> tensor, got {type(tensors).__name__}")
    arrays, owners = {}, {}
    for name, tensor in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}")
        if not isinstance(tensor, Tensor):
            raise ValueError(f"Key `{name}` is invalid, expected a tapegrad Tensor but received "
                             f"{type(tensor).__name__}")
        if not tensor.array.flags.c_contiguous:
            raise ValueError(f"You are trying to save a non contiguous tensor: `{name}` (shape "
                             f"{tuple(tensor.shape)}, strides {tensor.array.strides}); call "
                             f".contiguous() on it first")
        owners.setdefault(id(_owner(tensor.array)), []).append(name)
        arrays[name] = backend.to_numpy(tensor.array)
    shared = [names for names in owners.values() if len(names) > 1]
    if shared:
        raise RuntimeError(f"Some tensors share memory, which would duplicate it on disk and "
                           f"load as separate tensors: {shared}. Save one of each (or "
                           f".clone() them) and tie them again after loading")
    return arrays


def _owner(array):
    while getattr(array, "base", None) is not None and hasattr(array.base, "shape"):
        array = array.base
    return array


def _checked_metadata(metadata):
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError(f"metadata must be a dict of str -> str, got {metadata!r:.120}")
    return metadata


def _header(data, where):
    """The JSON header at the start of ``data``, or a ValueError saying what is wrong."""
    if len(data) < 8:
        raise ValueError(f"{where} is not a .safetensors file: it is shorter than 8 bytes")
    length = struct.unpack("<Q", data[:8])[0]
    if 8 + length > len(data):
        raise ValueError(f"{where} is not an intact .safetensors file: its header claims "
                         f"{length} bytes, more than it has (truncated?)")
    try:
        header = json.loads(data[8:8 + length])
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{where} is not an intact .safetensors file: its header is not JSON "
                         f"({error})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{where} is not an intact .safetensors file: bad header")
    return header


def _check_dtypes(header, where):
    for name, entry in header.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        code = entry.get("dtype")
        if code not in _DTYPE_CODES:
            raise TypeError(f"{where} holds the tensor {name!r} as {code}, a dtype tapegrad does "
                            f"not have (it has {', '.join(d.name for d in dtypes.ALL)})")


def _writable(array):
    # Arrays read from a buffer may be read-only views of it; tensors own writable memory.
    return array if array.flags.writeable else numpy.array(array)


def is_safetensors(head, size):
    """True when a file starting with ``head`` (16+ bytes) of ``size`` bytes looks like safetensors."""
    if len(head) < 9:
        return False
    length = struct.unpack("<Q", head[:8])[0]
    return 2 <= length <= size - 8 and head[8:9] == b"{"
