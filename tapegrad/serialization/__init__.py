"""Saving and loading: ``tapegrad.save`` and ``tapegrad.load``, with PyTorch's semantics and files.

``save(obj, f)`` stores whatever ``torch.save`` stores (tensors, with views still sharing
memory; containers; numpy arrays; numbers and strings; whole Modules; optimizer and scheduler
states) in PyTorch's own file format, so PyTorch loads what tapegrad saves and the reverse:

    pickler.py       the object -> a pickle in which tensors are storage descriptions
    torch_zip.py     the pickle and the storages' bytes -> PyTorch's zip archive, and back
    unpickler.py     which globals a pickle may name, and what PyTorch's names stand for
    rebuild.py       tensors rebuilt from storage, offset, size and stride
    safe_globals.py  the globals a user allows weights-only loading
    map_location.py  on which device each loaded storage goes
    legacy_torch.py  files torch.save wrote before PyTorch 1.6 (pickles one after another)
    tapegrad_v1.py   files from older tapegrad versions (a zip of .npy files, no pickle)

``load(f, map_location=None, weights_only=True)`` also reads ``.safetensors`` files (see
``tapegrad/safetensors.py``), recognised by their content, whatever their name.
"""
import os
import pickle
import struct

from .. import safetensors as _safetensors
from ..autograd.tensor import wrap
from . import legacy_torch, tapegrad_v1, torch_zip
from .atomic_file import atomic_write
from .map_location import MapLocationError, Placement
from .pickler import PROTOCOL, pickle_checkpoint
from .rebuild import UnsafeOrCorruptFile, UnsupportedDtype
from .safe_globals import (
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    globals_in_pickle,
    safe_globals,
)
from .unpickler import WeightsOnlyRefusal, is_known

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip


def save(obj, f, pickle_module=pickle, pickle_protocol=PROTOCOL,
         _use_new_zipfile_serialization=True):
    """Write ``obj`` to ``f`` (a path, or a binary file object open for writing) as ``torch.save`` does.

    Saving to a path is atomic: the file appears complete or not at all. An object that
    cannot be pickled raises before any file is created.
    """
    if pickle_module is not pickle:
        raise NotImplementedError(f"save() pickles with Python's pickle module; pickle_module="
                                  f"{getattr(pickle_module, '__name__', pickle_module)!r} is not "
                                  f"supported")
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("save() writes PyTorch's zip format only (every PyTorch since "
                                  "1.6 reads it); _use_new_zipfile_serialization=False is not "
                                  "supported")
    if not (isinstance(pickle_protocol, int) and 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL):
        raise ValueError(f"pickle_protocol must be an int from 2 to {pickle.HIGHEST_PROTOCOL}, "
                         f"got {pickle_protocol!r}")
    if not isinstance(f, (str, os.PathLike)) and not hasattr(f, "write"):
        raise TypeError(f"save() expects a path or a binary file object, got {type(f).__name__}")
    data, storages = pickle_checkpoint(obj, pickle_protocol)
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(f) as file:
            torch_zip.write(file, data, storages)
    else:
        torch_zip.write(f, data, storages)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None):
    """The object saved in ``f`` (a path, or a readable and seekable binary file object).

    Reads files written by ``tapegrad.save`` and ``torch.save``, ``.safetensors`` files and
    files of older tapegrad versions. ``weights_only`` admits only tensors, containers,
    primitives and the globals allowed with ``add_safe_globals``; ``weights_only=False`` loads
    anything, which can run code hidden in the file: only for files you trust. As in PyTorch
    2.6+, None means True, unless a ``pickle_module`` is given. ``map_location``: see
    ``map_location.py``. ``mmap=True`` maps the storages of a zip checkpoint from disk.
    """
    if weights_only is None:
        weights_only = pickle_module is None
    if not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be True, False or None, got {weights_only!r}")
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if pickle_module not in (None, pickle):
        raise NotImplementedError(f"load() unpickles with Python's pickle module; pickle_module="
                                  f"{getattr(pickle_module, '__name__', pickle_module)!r} is not "
                                  f"supported")
    placement = Placement(map_location)
    with _opened(f) as (file, filename):
        if mmap and not _has_fileno(file):
            raise ValueError(f"mmap=True needs a file on disk (a path, or a file with a fileno), "
                             f"got {type(f).__name__}")
        return _load_from(file, filename, weights_only, placement, file if mmap else None)


def _has_fileno(file):
    try:
        file.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def get_unsafe_globals_in_checkpoint(f):
    """The "module.name" globals in ``f`` that ``load(f)`` (weights only) would refuse."""
    with _opened(f) as (file, filename):
        refuse = _refuser(filename)
        kind = _kind_of(file, refuse)
        try:
            if kind == "legacy torch":
                names = legacy_torch.globals_in_object_pickle(file)
            elif kind == "zip":
                archive, members = torch_zip.open_checked(file, _size_of(file), refuse)
                with archive:
                    if tapegrad_v1.INDEX_NAME in members:
                        return []
                    names = globals_in_pickle(torch_zip.pickle_bytes(archive, refuse))
            else:
                return []   # safetensors files name no globals
        except (ValueError, EOFError, struct.error) as error:
            raise refuse(f"its pickle is damaged: {error}") from None
    return [name for name in names if not is_known(name)]


class _opened:
    """``with _opened(f) as (file, filename)``: a path is opened (and closed); a file is used as is."""

    def __init__(self, f):
        self.f = f
        self.file = None

    def __enter__(self):
        if isinstance(self.f, (str, os.PathLike)):
            self.file = open(self.f, "rb")
            return self.file, os.fspath(self.f)
        if hasattr(self.f, "read") and hasattr(self.f, "seek"):
            return self.f, getattr(self.f, "name", "<file object>")
        raise TypeError(f"load() expects a path or a readable, seekable binary file object, "
                        f"got {type(self.f).__name__}")

    def __exit__(self, *exc_info):
        if self.file is not None:
            self.file.close()
        return False


def _refuser(filename):
    def refuse(problem):
        return UnsafeOrCorruptFile(problem, filename)
    return refuse


def _load_from(file, filename, weights_only, placement, mmap_file):
    refuse = _refuser(filename)
    kind = _kind_of(file, refuse)
    if mmap_file is not None and kind != "zip":
        raise ValueError(f"mmap=True can only map PyTorch's zip format, and {filename!r} is "
                         f"{'a .safetensors file' if kind == 'safetensors' else 'in its legacy format'}")
    if kind == "safetensors":
        try:
            tensors = _safetensors.load(file.read())
        except ValueError as error:
            raise refuse(str(error)) from None
        return {name: _placed(tensor, name, placement) for name, tensor in tensors.items()}
    if kind == "legacy torch":
        return _unpickling(refuse, weights_only, legacy_torch.read, file, _size_of(file), refuse,
                           weights_only, placement)
    archive, members = torch_zip.open_checked(file, _size_of(file), refuse)
    with archive:
        if tapegrad_v1.INDEX_NAME in members:
            return tapegrad_v1.read(archive, members, refuse, placement)
        if not torch_zip.is_torch_zip(archive):
            raise refuse("the zip archive is neither a PyTorch nor a tapegrad checkpoint "
                         "(it has no data.pkl and no index.json)")
        return _unpickling(refuse, weights_only, torch_zip.read, archive, members, refuse,
                           weights_only, placement, mmap_file)


def _unpickling(refuse, weights_only, read, *args):
    """``read(*args)``, with every sign of a damaged file turned into UnsafeOrCorruptFile."""
    try:
        return read(*args)
    except (WeightsOnlyRefusal, UnsupportedDtype, MapLocationError):
        raise
    except UnsafeOrCorruptFile as error:
        if error.filename is not None:
            raise
        raise refuse(str(error)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError,
            struct.error, RecursionError, MemoryError, OverflowError) as error:
        raise refuse(f"its pickle is damaged ({type(error).__name__}: {error})") from None
    except (TypeError, AttributeError) as error:
        # With weights only, every callable is tapegrad's own: a wrong call means a forged
        # or damaged pickle. Otherwise the error may be the user's own classes' to report.
        if not weights_only:
            raise
        raise refuse(f"its pickle is damaged ({type(error).__name__}: {error})") from None


def _kind_of(file, refuse):
    """"zip", "safetensors" or "legacy torch", from the first bytes; else an error saying why."""
    start = file.tell()
    head = file.read(16)
    size = _size_of(file)
    file.seek(start)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if _safetensors.is_safetensors(head, size):
        return "safetensors"
    if head[:1] == b"\x80" and legacy_torch.is_legacy_torch(file):
        return "legacy torch"
    if head[:1] == b"\x80":   # the PROTO opcode that starts a pickle
        raise refuse("it is a bare pickle (as pickle.dump writes), not a checkpoint; tapegrad "
                     "loads files written by tapegrad.save or torch.save, and .safetensors files")
    if not head:
        raise refuse("the file is empty")
    raise refuse("it is neither a PyTorch or tapegrad checkpoint (a zip archive) nor a "
                 ".safetensors file (it may be truncated or corrupt)")


def _size_of(file):
    here = file.tell()
    size = file.seek(0, os.SEEK_END) - here
    file.seek(here)
    return size


def _placed(tensor, name, placement):
    storage = placement.storage(tensor.array.reshape(-1), tensor.dtype, name, "cpu")
    return wrap(storage.array.reshape(tuple(tensor.shape)), storage.device)


__all__ = [
    "UnsafeOrCorruptFile",
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "get_unsafe_globals_in_checkpoint",
    "load",
    "safe_globals",
    "save",
]
