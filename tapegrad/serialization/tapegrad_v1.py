"""Reading files written by earlier tapegrad versions (a zip of .npy files and a JSON index).

``tapegrad.save`` now writes PyTorch's format; files in this older format still load, and
since they hold no pickle, loading them never runs code. The archive::

    index.json          what was saved: the nested dicts / lists / tuples and plain values
    tensors/0.npy       one numpy .npy file per tensor, referenced from index.json

``index.json`` looks like ``{"format": "tapegrad.save", "version": 1, "root": NODE}``. A NODE
is a JSON null, boolean, integer, finite float or string standing for itself, or an object:

    {"kind": "dict",   "items": [[key, NODE], ...]}    keys are strings or integers
    {"kind": "list",   "items": [NODE, ...]}
    {"kind": "tuple",  "items": [NODE, ...]}
    {"kind": "float",  "value": "nan" | "inf" | "-inf"}   (strict JSON cannot spell these)
    {"kind": "tensor", "file": "tensors/0.npy", "dtype": "float32", "shape": [2, 3],
     "requires_grad": false, "device": "cpu"}      device: where it was saved from (informational)

Its tensors load as saved from the cpu (map_location applies as to any cpu storage).
"""
import json
import math
import zipfile

import numpy  # for the .npy file format on the host, not for computing

from .. import dtypes
from ..autograd.tensor import wrap
from .torch_zip import unsafe_member_name

FORMAT_NAME = "tapegrad.save"
FORMAT_VERSION = 1
INDEX_NAME = "index.json"

_READ_PIECE = 16 << 20  # bytes read from a member at a time


def read(archive, members, refuse, placement):
    """The object in an archive holding ``index.json``; ``members``: its checked ZipInfos by name."""
    index = _read_index(archive, members[INDEX_NAME], refuse)
    used = {INDEX_NAME}
    try:
        obj = _decode(index["root"], "root", archive, members, used, placement, refuse)
    except RecursionError:
        raise refuse(f"{INDEX_NAME} is nested too deeply") from None
    unused = sorted(set(members) - used)
    if unused:
        raise refuse(f"the archive contains members that are not in the index: {unused}")
    return obj


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


def _decode(node, where, archive, members, used, placement, refuse):
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
        return _read_tensor(node, where, archive, members, used, placement, refuse)
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
                                  placement, refuse)
        return result
    values = [_decode(item, f"{where}[{i}]", archive, members, used, placement, refuse)
              for i, item in enumerate(items)]
    return tuple(values) if kind == "tuple" else values


def _read_tensor(node, where, archive, members, used, placement, refuse):
    def malformed(problem):
        return refuse(f"{INDEX_NAME} is malformed at {where}: {problem}")

    name, dtype_name, shape = node["file"], node["dtype"], node["shape"]
    if not isinstance(name, str) or unsafe_member_name(name):
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
    storage = placement.storage(array.reshape(-1), dtype, name, "cpu")
    tensor = wrap(storage.array.reshape(tuple(shape)), storage.device)
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
