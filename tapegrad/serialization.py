"""Saving and loading tensors and checkpoints: ``tapegrad.save`` and ``tapegrad.load``.

The file is an ordinary zip archive that can be opened with any zip tool::

    index.json          what was saved: the nested dicts / lists / tuples and plain values
    tensors/0.npy       one numpy .npy file per tensor, referenced from index.json
    tensors/1.npy
    ...

``index.json`` looks like ``{"format": "tapegrad.save", "version": 1, "root": NODE}``. A NODE
is a JSON null, boolean, integer, finite float or string standing for itself, or an object:

    {"kind": "dict",   "items": [[key, NODE], ...]}    keys are strings or integers
    {"kind": "list",   "items": [NODE, ...]}
    {"kind": "tuple",  "items": [NODE, ...]}
    {"kind": "float",  "value": "nan" | "inf" | "-inf"}   (strict JSON cannot spell these)
    {"kind": "tensor", "file": "tensors/0.npy", "dtype": "float32", "shape": [2, 3],
     "requires_grad": false, "device": "cpu"}      device: where it was saved from (informational)

Unlike ``torch.save`` this uses no pickle, so loading a file can never run code hidden in it;
``load`` checks everything it reads and refuses anything else with ``UnsafeOrCorruptFile``.
"""
import json
import math
import os
import tempfile
import zipfile

import numpy  # for the .npy file format on the host, not for computing

from . import backend, dtypes
from .autograd.tensor import Tensor, wrap

FORMAT_NAME = "tapegrad.save"
FORMAT_VERSION = 1
INDEX_NAME = "index.json"

# A fixed timestamp makes saving the same values twice give byte-identical files
# (handy for hashing and caching checkpoints); the zip format cannot store dates before 1980.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# zipfile refuses to grow a member past 2 GiB unless told up front that it may need zip64;
# below 1 GiB of data (plus a small .npy header) that can never happen.
_ZIP64_THRESHOLD = 1 << 30

_READ_PIECE = 16 << 20  # bytes read from a member at a time

_SUPPORTED = "Tensor, dict, list, tuple, str, int, float, bool and None"


class UnsafeOrCorruptFile(RuntimeError):
    """``load`` was given something that is not an intact file written by ``tapegrad.save``."""


# -- saving ------------------------------------------------------------------------------------

def save(obj, path):
    """Write ``obj`` (a tensor, or dicts / lists / tuples of tensors and plain values) to ``path``.

    ``path`` is a path (str or os.PathLike) or a binary file object open for writing. Saving to a
    path is atomic: the file appears complete or not at all, and an existing file is only
    replaced once the new one is fully on disk. An unsupported object raises TypeError before
    any file is created.
    """
    tensors = []  # (member name, Tensor), filled in by _encode
    root = _encode(obj, "obj", tensors, set())
    index = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "root": root}
    # Encoding the index before opening anything means an unencodable value fails early too.
    index_bytes = json.dumps(index, allow_nan=False, indent=1).encode("utf-8")

    if isinstance(path, (str, os.PathLike)):
        _save_atomically(index_bytes, tensors, os.fspath(path))
    elif hasattr(path, "write"):
        _write_archive(path, index_bytes, tensors)
    else:
        raise TypeError(f"save() expects a path or a binary file object, "
                        f"got {type(path).__name__}")


def _encode(obj, where, tensors, open_containers):
    """The JSON node for ``obj``; ``where`` (e.g. ``obj['layers'][2]``) names it in errors."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return int(obj)  # int() turns an IntEnum or similar subclass into a plain number
    if isinstance(obj, float):
        if math.isfinite(obj):
            return float(obj)
        return {"kind": "float", "value": repr(float(obj))}  # 'nan', 'inf' or '-inf'
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, Tensor):
        name = f"tensors/{len(tensors)}.npy"
        tensors.append((name, obj))
        return {"kind": "tensor", "file": name, "dtype": obj.dtype.name,
                "shape": list(obj.shape), "requires_grad": bool(obj.requires_grad),
                "device": str(obj.device)}
    if not isinstance(obj, (dict, list, tuple)):
        hint = ""
        if isinstance(obj, (numpy.ndarray, numpy.generic)):
            hint = " (convert numpy values with tapegrad.tensor(...) or .item() first)"
        raise TypeError(f"save() cannot store an object of type {type(obj).__name__} at {where}; "
                        f"it supports {_SUPPORTED}{hint}")

    # A container that holds itself would otherwise recurse until Python gives up.
    if id(obj) in open_containers:
        raise TypeError(f"save() cannot store {where}: it contains itself")
    open_containers.add(id(obj))
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save() can only store dicts whose keys are str or int, but "
                                f"{where} has the key {key!r} of type {type(key).__name__}")
            key = str(key) if isinstance(key, str) else int(key)
            items.append([key, _encode(value, f"{where}[{key!r}]", tensors, open_containers)])
        node = {"kind": "dict", "items": items}
    else:
        kind = "tuple" if isinstance(obj, tuple) else "list"
        node = {"kind": kind, "items": [_encode(value, f"{where}[{i}]", tensors, open_containers)
                                        for i, value in enumerate(obj)]}
    open_containers.discard(id(obj))
    return node


def _save_atomically(index_bytes, tensors, path):
    # Write through a symlink (as open() would) instead of replacing the link itself.
    path = os.path.realpath(path)
    directory, base = os.path.split(path)
    # The temporary file must be in the same directory: os.replace is only atomic within
    # one file system.
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_archive(file, index_bytes, tensors)
            file.flush()
            os.fsync(file.fileno())  # the data must be on disk before the name points at it
        # mkstemp creates files readable only by their owner; give the checkpoint the
        # permissions open() would have given it.
        os.chmod(temp_path, 0o666 & ~_current_umask())
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass
        raise


def _current_umask():
    # Python can only read the umask by setting it; set a common safe value for the instant
    # in between, in case another thread creates a file right then.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _write_archive(file, index_bytes, tensors):
    # ZIP_STORED (no compression): trained weights hardly compress, so deflate would only cost
    # time; and with stored members a member's size is its size on disk, which lets load()
    # refuse "zip bombs" that would expand to far more memory than the file's own size.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_member_info(INDEX_NAME), index_bytes)
        for name, tensor in tensors:
            # Host memory, native layout, little-endian: any machine, with or without a GPU,
            # can read it. order="C" also stops numpy writing transposed tensors in Fortran order.
            array = backend.to_numpy(tensor.array)
            array = numpy.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
            with archive.open(_member_info(name), "w",
                              force_zip64=array.nbytes > _ZIP64_THRESHOLD) as member:
                numpy.lib.format.write_array(member, array, allow_pickle=False)


def _member_info(name):
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # so unzip makes readable files, not mode 000
    return info


# -- loading -----------------------------------------------------------------------------------

def load(path, map_location=None):
    """Read what ``save`` wrote to ``path`` (a path or a binary file object open for reading).

    Tensors come back as leaves with their saved dtype and requires_grad, on the cpu, or on
    ``map_location`` (None, "cpu", "cuda:0", a tapegrad device) when given. Anything that is
    not an intact tapegrad file raises UnsafeOrCorruptFile; nothing is ever written to disk.
    """
    if map_location is not None and not isinstance(map_location, (str, backend.device)):
        raise TypeError(f"load() expects map_location to be None, a device or a device string, "
                        f"got {type(map_location).__name__}")
    target = backend.as_device(map_location)
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as file:
            return _load_archive(file, os.fspath(path), target)
    if hasattr(path, "read") and hasattr(path, "seek"):
        return _load_archive(path, getattr(path, "name", "<file object>"), target)
    raise TypeError(f"load() expects a path or a readable, seekable binary file object, "
                    f"got {type(path).__name__}")


def _load_archive(file, filename, target):
    def refuse(problem):
        return UnsafeOrCorruptFile(f"cannot load {filename!r}: {problem}")

    start = file.tell()
    head = file.read(2)
    file_size = file.seek(0, os.SEEK_END) - start
    file.seek(start)
    # Pickle protocols 2 to 5 begin with the PROTO opcode 0x80 and the protocol number.
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise refuse("it is a pickle file (as written by pickle.dump or an old torch.save). "
                     "tapegrad never loads pickles, because unpickling can run arbitrary code")

    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as error:
        raise refuse(f"it is not a zip archive, so not a file written by tapegrad.save "
                     f"(it may be truncated or corrupt: {error})") from None
    with archive:
        members = {}
        for info in archive.infolist():
            name = info.filename
            if _unsafe_member_name(name):
                raise refuse(f"the archive contains a member with an unsafe name {name!r}")
            if name in members:
                raise refuse(f"the archive contains the member {name!r} twice")
            if info.flag_bits & 0x1:
                raise refuse(f"the member {name!r} is encrypted")
            if info.compress_type != zipfile.ZIP_STORED:
                # tapegrad.save never compresses; see _write_archive for why load insists.
                raise refuse(f"the member {name!r} is compressed; tapegrad files store members "
                             f"uncompressed")
            if info.file_size != info.compress_size or info.file_size > file_size:
                raise refuse(f"the member {name!r} claims a size of {info.file_size} bytes, "
                             f"which this {file_size}-byte file cannot hold")
            members[name] = info

        if INDEX_NAME not in members:
            if any(name.endswith("data.pkl") for name in members):
                raise refuse(f"it has no {INDEX_NAME}; it looks like a PyTorch checkpoint made "
                             f"by torch.save, which holds pickled data that tapegrad will not load")
            raise refuse(f"the archive has no {INDEX_NAME}, so it was not written by tapegrad.save")
        index = _read_index(archive, members[INDEX_NAME], refuse)

        used = {INDEX_NAME}
        try:
            obj = _decode(index["root"], "root", archive, members, used, target, refuse)
        except RecursionError:
            raise refuse(f"{INDEX_NAME} is nested too deeply") from None
        unused = sorted(set(members) - used)
        if unused:
            raise refuse(f"the archive contains members that are not in the index: {unused}")
        return obj


def _unsafe_member_name(name):
    # load() never extracts, but such names only appear in archives crafted to attack tools
    # that do, so they are refused rather than ignored.
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ":" in name or ".." in parts
            or "\x00" in name or name == "")


def _read_index(archive, info, refuse):
    try:
        text = archive.read(info).decode("utf-8")  # read() checks the CRC
        index = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise refuse(f"{INDEX_NAME} is not valid JSON: {error}") from None
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise refuse(f"{INDEX_NAME} cannot be read (truncated or corrupt?): {error}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT_NAME:
        raise refuse(f"{INDEX_NAME} does not say format {FORMAT_NAME!r}, so this is some other "
                     f"kind of zip archive")
    version = index.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise refuse(f"{INDEX_NAME} has no valid format version")
    if version != FORMAT_VERSION:
        raise refuse(f"it uses format version {version}, but this tapegrad reads version "
                     f"{FORMAT_VERSION}" + (" (was it written by a newer tapegrad?)"
                                           if version > FORMAT_VERSION else ""))
    if set(index) != {"format", "version", "root"}:
        raise refuse(f"{INDEX_NAME} has unexpected keys {sorted(index)}")
    return index


def _refuse_constant(name):
    # json.loads accepts NaN and Infinity, which are not JSON; save() never writes them.
    raise ValueError(f"{name} is not allowed in strict JSON")


def _decode(node, where, archive, members, used, target, refuse):
    """The Python value for a JSON node of the index (see the module docstring)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
        raise refuse(f"{INDEX_NAME} is malformed at {where}: expected a value or an object "
                     f"with a 'kind', got {type(node).__name__}")
    kind = node["kind"]
    expected_keys = {"dict": {"kind", "items"}, "list": {"kind", "items"},
                     "tuple": {"kind", "items"}, "float": {"kind", "value"},
                     "tensor": {"kind", "file", "dtype", "shape", "requires_grad", "device"}}
    if kind not in expected_keys:
        raise refuse(f"{INDEX_NAME} is malformed at {where}: unknown kind {kind!r}")
    if set(node) != expected_keys[kind]:
        raise refuse(f"{INDEX_NAME} is malformed at {where}: a {kind} node has the keys "
                     f"{sorted(node)}, expected {sorted(expected_keys[kind])}")

    if kind == "float":
        if node["value"] not in ("nan", "inf", "-inf"):
            raise refuse(f"{INDEX_NAME} is malformed at {where}: bad float {node['value']!r}")
        return float(node["value"])
    if kind == "tensor":
        return _read_tensor(node, where, archive, members, used, target, refuse)
    items = node["items"]
    if not isinstance(items, list):
        raise refuse(f"{INDEX_NAME} is malformed at {where}: 'items' is not a list")
    if kind == "dict":
        result = {}
        for pair in items:
            if (not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool)
                    or not isinstance(pair[0], (str, int))):
                raise refuse(f"{INDEX_NAME} is malformed at {where}: a dict item must be a "
                             f"[key, value] pair with a str or int key, got {pair!r:.80}")
            key = pair[0]
            if key in result:
                raise refuse(f"{INDEX_NAME} is malformed at {where}: key {key!r} appears twice")
            result[key] = _decode(pair[1], f"{where}[{key!r}]", archive, members, used,
                                  target, refuse)
        return result
    values = [_decode(item, f"{where}[{i}]", archive, members, used, target, refuse)
              for i, item in enumerate(items)]
    return tuple(values) if kind == "tuple" else values


def _read_tensor(node, where, archive, members, used, target, refuse):
    def malformed(problem):
        return refuse(f"{INDEX_NAME} is malformed at {where}: {problem}")

    name, dtype_name, shape = node["file"], node["dtype"], node["shape"]
    if not isinstance(name, str) or _unsafe_member_name(name):
        raise malformed(f"bad tensor file name {name!r:.80}")
    try:
        dtype = dtypes.from_name(dtype_name)
    except (KeyError, TypeError):
        dtype = None
    if dtype is None or dtype.name != dtype_name:
        raise malformed(f"unknown dtype {dtype_name!r:.80}")
    if not isinstance(shape, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise malformed(f"a shape must be a list of non-negative integers, got {shape!r:.80}")
    requires_grad = node["requires_grad"]
    if not isinstance(requires_grad, bool) or (requires_grad and not dtype.is_floating_point):
        raise malformed(f"bad requires_grad {requires_grad!r} for a {dtype_name} tensor")
    if not isinstance(node["device"], str):
        raise malformed(f"bad device {node['device']!r:.80}")
    if name not in members:
        raise refuse(f"the index refers to {name!r}, which is not in the archive")

    used.add(name)
    array = _read_npy(archive, members[name], dtype.numpy, tuple(shape),
                      lambda problem: refuse(f"the member {name!r} (at {where}) {problem}"))
    tensor = wrap(array, backend.CPU)
    if target != backend.CPU:
        tensor = tensor.to(target)  # still a leaf: it does not require grad yet
    return tensor.requires_grad_(requires_grad)


def _read_npy(archive, info, dtype, shape, refuse):
    """The array in one .npy member, after checking its header against the index."""
    try:
        with archive.open(info) as member:
            version = numpy.lib.format.read_magic(member)
            if version == (1, 0):
                header = numpy.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                header = numpy.lib.format.read_array_header_2_0(member)
            else:
                raise refuse(f"is a .npy file of unsupported version {version}")
            file_shape, fortran_order, file_dtype = header
            if file_dtype.hasobject:
                raise refuse("holds Python objects (object dtype), which only pickle can load")
            # save() writes little-endian, so that is the only byte order accepted.
            if file_dtype != dtype.newbyteorder("<") or tuple(file_shape) != shape:
                raise refuse(f"holds a {file_dtype} array of shape {tuple(file_shape)}, but the "
                             f"index says {dtype} of shape {shape}")
            nbytes = math.prod(shape) * dtype.itemsize
            # Checked before allocating, so a small file cannot make us reserve huge memory
            # (the member's size was checked against the file's size already).
            if nbytes > info.file_size:
                raise refuse(f"is truncated: its header promises {nbytes} bytes of data, but the "
                             f"member holds only {info.file_size} bytes")
            data = numpy.empty(nbytes, dtype=numpy.uint8)
            _read_into(member, memoryview(data), refuse)
            # Reading to the end also makes zipfile check the CRC, catching flipped bits.
            if member.read():
                raise refuse("has unexpected bytes after the array data")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as error:
        raise refuse(f"cannot be read (truncated or corrupt?): {error}") from None
    array = data.view(file_dtype).reshape(shape, order="F" if fortran_order else "C")
    # No copy for what save() writes (little-endian, C order) on a little-endian machine.
    return array.astype(dtype, order="C", copy=False)


def _read_into(member, buffer, refuse):
    # zipfile's read(n) is several times slower than this for large n (it keeps
    # concatenating bytes); reading in pieces straight into the array also saves a copy.
    filled = 0
    while filled < len(buffer):
        piece = member.read(min(_READ_PIECE, len(buffer) - filled))
        if not piece:
            raise refuse(f"is truncated: expected {len(buffer)} bytes of data, found {filled}")
        buffer[filled:filled + len(piece)] = piece
        filled += len(piece)
