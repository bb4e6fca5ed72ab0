"""PyTorch's checkpoint format from before PyTorch 1.6: pickles one after another in one file.

``torch.save(obj, f, _use_new_zipfile_serialization=False)`` still writes it:

    pickle   the magic number 0x1950a86a20f9469cfc6c
    pickle   the format's version, 1001
    pickle   {"little_endian": ..., ...}: the byte order of the storages below
    pickle   the object; tensors in it refer to storages by key, as in the zip format
    pickle   the list of storage keys, in the order their bytes follow
    then, for each key: its element count (8 bytes) and its raw bytes

The storages' bytes come after the pickle that uses them, so tensors are built first as
views of empty host buffers, which are then filled. That is why storages of this format
load on the cpu only.
"""
import pickletools
import sys

import numpy  # the host buffers storages are read into

from .. import backend
from .rebuild import Storage
from .safe_globals import globals_in_pickle
from .unpickler import CheckpointUnpickler

MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001


def is_legacy_torch(file):
    """True when ``file`` starts with the magic number pickle (decoded without running it)."""
    start = file.tell()
    try:
        values = [arg for opcode, arg, _ in pickletools.genops(file)
                  if opcode.name not in ("PROTO", "FRAME", "STOP")]
    except (ValueError, EOFError):
        return False
    finally:
        file.seek(start)
    return values == [MAGIC_NUMBER]


def read(file, size, refuse, weights_only, placement):
    """The object in a legacy PyTorch checkpoint; ``refuse(problem)`` makes the error to raise."""
    def plain_value():
        return CheckpointUnpickler(file, True, _no_storages(refuse)).load()

    if plain_value() != MAGIC_NUMBER:
        raise refuse("it does not start with PyTorch's magic number")
    version = plain_value()
    if version != PROTOCOL_VERSION:
        raise refuse(f"it uses PyTorch's legacy format version {version!r:.40}; tapegrad reads "
                     f"version {PROTOCOL_VERSION}")
    sys_info = plain_value()
    if not isinstance(sys_info, dict) or not isinstance(sys_info.get("little_endian"), bool):
        raise refuse("its system information does not say the byte order")
    byteorder = "little" if sys_info["little_endian"] else "big"

    pending = {}  # key -> Storage whose buffer is still to be filled

    def load_storage(dtype, key, location, numel):
        if key in pending:
            if pending[key].dtype is not dtype or pending[key].array.size != numel:
                raise refuse(f"storage {key!r} is used as {pending[key].array.size} × "
                             f"{pending[key].dtype} and as {numel} × {dtype}")
            return pending[key]
        target = placement.device_for(location, key)
        if target != backend.CPU:
            raise NotImplementedError(
                f"storage {key!r} would load on {target}, but files in PyTorch's legacy format "
                f"load on the cpu only: pass map_location='cpu' and move the tensors after")
        if numel * dtype.itemsize > size:  # before allocating: a forged count stays harmless
            raise refuse(f"storage {key!r} claims {numel} elements of {dtype}, more than the "
                         f"{size}-byte file holds")
        pending[key] = Storage(numpy.empty(numel, dtype.numpy), backend.CPU, dtype, key)
        return pending[key]

    # No checksum guards this format, so the object's pickle is first decoded without running
    # it: a truncated or garbled one fails there, before any of it runs.
    start = file.tell()
    for _ in pickletools.genops(file):
        pass
    file.seek(start)
    obj = CheckpointUnpickler(file, weights_only, load_storage).load()
    keys = plain_value()
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)
            and set(keys) == set(pending) and len(keys) == len(pending)):
        raise refuse(f"its list of storages {keys!r:.120} does not match the storages its "
                     f"tensors use")
    for key in keys:
        host = pending[key].array
        count = int.from_bytes(_read_exactly(file, 8, refuse, key), byteorder)
        if count != host.size:
            raise refuse(f"storage {key!r} holds {count} elements, but its tensors say "
                         f"{host.size}")
        _read_into(file, memoryview(host).cast("B"), refuse, key)
        if byteorder != sys.byteorder:
            host.byteswap(inplace=True)
    return obj


def globals_in_object_pickle(file):
    """The "module.name" globals the object's pickle names (nothing is run to find them)."""
    for _header in range(3):
        for _ in pickletools.genops(file):
            pass
    return globals_in_pickle(file)


def _no_storages(refuse):
    def load_storage(dtype, key, location, numel):
        raise refuse("a header pickle refers to a storage")
    return load_storage


def _read_exactly(file, n, refuse, key):
    data = file.read(n)
    if len(data) != n:
        raise refuse(f"it ends inside storage {key!r} (truncated?)")
    return data


def _read_into(file, buffer, refuse, key):
    filled = 0
    while filled < len(buffer):
        n = file.readinto(buffer[filled:])
        if not n:
            raise refuse(f"it ends inside storage {key!r} (truncated?)")
        filled += n
