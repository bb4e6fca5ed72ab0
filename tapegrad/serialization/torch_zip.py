"""PyTorch's checkpoint file (``torch.save`` since PyTorch 1.6): a zip archive of records.

    archive/data.pkl       the pickled object; tensors in it refer to storages by key
    archive/byteorder      "little" or "big": the byte order of the storages
    archive/data/0         the raw bytes of storage "0" (numel × itemsize bytes)
    archive/data/1         ...
    archive/version        "3": the record format's version

Every record sits under one top-level folder (PyTorch names it after the file; any name
reads). Records are stored uncompressed, and each storage's bytes start at a multiple of
64 bytes in the file, which lets a reader map them straight from disk.
"""
import io
import struct
import sys
import zipfile

import numpy  # the host-side buffers storages are read into

from .unpickler import CheckpointUnpickler

ARCHIVE_NAME = "archive"
RECORD_VERSION = b"3\n"
ALIGNMENT = 64

# A fixed timestamp makes saving the same values twice give byte-identical files.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_READ_PIECE = 16 << 20  # bytes read from a member at a time


# -- opening any zip checkpoint -----------------------------------------------------------------

def open_checked(file, size, refuse):
    """``(ZipFile, {name: ZipInfo})`` after checking every member is plain and fits the file."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as error:
        raise refuse(f"it is not an intact zip archive (it may be truncated or corrupt: "
                     f"{error})") from None
    members = {}
    for info in archive.infolist():
        name = info.filename
        if unsafe_member_name(name):
            raise refuse(f"the archive contains a member with an unsafe name {name!r}")
        if name in members:
            raise refuse(f"the archive contains the member {name!r} twice")
        if info.flag_bits & 0x1:
            raise refuse(f"the member {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            # Neither tapegrad nor PyTorch compresses; with stored members a member's size is
            # its size on disk, which rules out "zip bombs" that expand far past the file.
            raise refuse(f"the member {name!r} is compressed; checkpoints store members "
                         f"uncompressed")
        if info.file_size != info.compress_size or info.file_size > size:
            raise refuse(f"the member {name!r} claims a size of {info.file_size} bytes, "
                         f"which this {size}-byte file cannot hold")
        members[name] = info
    return archive, members


def unsafe_member_name(name):
    # load() never extracts, but such names only appear in archives crafted to attack tools
    # that do, so they are refused rather than ignored.
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ":" in name or ".." in parts
            or "\x00" in name or name == "")


# -- writing -------------------------------------------------------------------------------------

def write(file, pickle_bytes, storages):
    """Write the records for a pickle and its storages (see ``pickler.py``) to ``file``."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        _write_record(archive, "data.pkl", pickle_bytes)
        _write_record(archive, "byteorder", sys.byteorder.encode("ascii"))
        for storage in storages:
            _write_record(archive, f"data/{storage.key}", storage.data.view(numpy.uint8))
        _write_record(archive, "version", RECORD_VERSION)


def _write_record(archive, name, data):
    info = zipfile.ZipInfo(f"{ARCHIVE_NAME}/{name}", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # so unzip makes readable files, not mode 000
    nbytes = len(memoryview(data).cast("B"))
    if nbytes < zipfile.ZIP64_LIMIT:
        # Pad the local header's "extra" field so the data after it starts on a multiple of
        # ALIGNMENT (header: 30 bytes, the name, then the extra field: 4 bytes + padding).
        # (zipfile's own fp also counts bytes written to streams that cannot tell.)
        start = archive.fp.tell() + 30 + len(info.filename.encode("utf-8")) + 4
        padding = -start % ALIGNMENT
        info.extra = struct.pack("<HH", 0x4246, padding) + b"Z" * padding  # tag "FB", as PyTorch
    info.file_size = nbytes
    with archive.open(info, "w", force_zip64=nbytes >= zipfile.ZIP64_LIMIT) as member:
        member.write(data)


# -- reading -------------------------------------------------------------------------------------

def is_torch_zip(archive):
    return any(name.endswith("/data.pkl") and name.count("/") == 1 for name in archive.namelist())


def read(archive, members, refuse, weights_only, placement, mmap_file=None):
    """The object in a PyTorch zip checkpoint; ``refuse(problem)`` makes the error to raise.

    With ``mmap_file`` (the archive's file, open for reading), storages are not read but
    mapped from it, copy-on-write: pages load when used, and writes stay in memory.
    """
    prefix = _archive_prefix(archive, refuse)
    byteorder = "little"
    if f"{prefix}byteorder" in members:
        byteorder = _read_member(archive, members[f"{prefix}byteorder"], refuse).decode("ascii",
                                                                                       "replace")
        if byteorder not in ("little", "big"):
            raise refuse(f"its byteorder record says {byteorder!r:.40}, not 'little' or 'big'")
    loaded = {}  # key -> Storage: tensors that share a storage share it after loading

    def load_storage(dtype, key, location, numel):
        if key in loaded:
            storage = loaded[key]
            if storage.dtype is not dtype or storage.array.size != numel:
                raise refuse(f"storage {key!r} is used as {storage.array.size} × "
                             f"{storage.dtype} and as {numel} × {dtype}")
            return storage
        name = f"{prefix}data/{key}"
        if name not in members or "/" in key or key in ("", ".", ".."):
            raise refuse(f"the pickle refers to the storage {key!r}, which is not in the archive")
        info = members[name]
        nbytes = numel * dtype.itemsize
        # Checked before allocating, so a small forged file cannot make us reserve huge memory.
        if info.file_size != nbytes:
            raise refuse(f"the record {name!r} holds {info.file_size} bytes, but the pickle "
                         f"describes it as {numel} elements of {dtype} ({nbytes} bytes)")
        if mmap_file is not None and numel > 0:
            host = numpy.memmap(mmap_file, dtype=dtype.numpy, mode="c", shape=(numel,),
                                offset=_data_start(mmap_file, info, refuse))
        else:
            host = numpy.empty(numel, dtype=dtype.numpy)
            _read_member_into(archive, info, memoryview(host).cast("B"), refuse)
        if byteorder != sys.byteorder:
            host = host.byteswap()
        loaded[key] = placement.storage(host, dtype, key, location)
        return loaded[key]

    # Read whole first, so that zipfile checks its CRC before a single opcode runs.
    data_pkl = _read_member(archive, members[f"{prefix}data.pkl"], refuse)
    return CheckpointUnpickler(io.BytesIO(data_pkl), weights_only, load_storage).load()


def pickle_bytes(archive, refuse):
    """The raw pickle of a PyTorch zip checkpoint (for listing the globals it names)."""
    prefix = _archive_prefix(archive, refuse)
    return _read_member(archive, archive.getinfo(f"{prefix}data.pkl"), refuse)


def _data_start(file, info, refuse):
    """Where a stored member's bytes begin in the file: after its local header."""
    file.seek(info.header_offset)
    header = file.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise refuse(f"the record {info.filename!r} has no valid local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    if start + info.file_size > file.seek(0, 2):
        raise refuse(f"the record {info.filename!r} runs past the end of the file (truncated?)")
    return start


def _archive_prefix(archive, refuse):
    prefixes = {name.split("/", 1)[0] for name in archive.namelist()}
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")
               and name.count("/") == 1]
    if len(pickles) != 1 or len(prefixes) != 1:
        raise refuse(f"a PyTorch checkpoint has one top-level folder holding data.pkl; this "
                     f"archive has the folders {sorted(prefixes)[:5]}")
    return pickles[0][:-len("data.pkl")]


def _read_member(archive, info, refuse):
    try:
        return archive.read(info)  # read() checks the CRC
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise refuse(f"the record {info.filename!r} cannot be read (truncated or corrupt?): "
                     f"{error}") from None


def _read_member_into(archive, info, buffer, refuse):
    # Reading in pieces straight into the array saves a copy, and zipfile's read(n) is
    # slow for large n.
    try:
        with archive.open(info) as member:
            filled = 0
            while filled < len(buffer):
                piece = member.read(min(_READ_PIECE, len(buffer) - filled))
                if not piece:
                    break
                buffer[filled:filled + len(piece)] = piece
                filled += len(piece)
            extra = member.read(1)  # reading to the end makes zipfile check the CRC
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise refuse(f"the record {info.filename!r} cannot be read (truncated or corrupt?): "
                     f"{error}") from None
    if filled != len(buffer) or extra:
        raise refuse(f"the record {info.filename!r} holds {filled}{'+' if extra else ''} bytes, "
                     f"not the {len(buffer)} its header promises")


