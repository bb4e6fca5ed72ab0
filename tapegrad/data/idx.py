"""Reading IDX files, the format of MNIST and Fashion-MNIST (usually gzip-compressed).

An IDX file is a big-endian header and then the raw values in row-major order::

    bytes 0-1   0x00 0x00
    byte  2     the value type: 0x08 = uint8 (the only one these data sets use)
    byte  3     the number of dimensions, ndim
    then        ndim uint32 sizes: images (N, 28, 28), labels (N,)
    then        N·28·28 (or N) uint8 values

So the magic number of an image file is 0x00000803 and of a label file 0x00000801.
Every part is checked, so a truncated or corrupt file gives an error that names it.
"""
import gzip
import struct
import zlib

import numpy  # files are parsed on the host

UINT8 = 0x08


class CorruptFile(RuntimeError):
    """A data set file that is truncated, damaged or not the expected kind of file."""


def _fail(path, problem):
    raise CorruptFile(f"{path}: {problem}. The file is truncated, corrupt or not the expected "
                      f"one: delete it and download it again (download=True fetches it)")


def _read_exactly(file, path, count, what):
    data = file.read(count)
    if len(data) != count:
        _fail(path, f"the file ends inside the {what} ({len(data)} of {count} bytes)")
    return data


def _read_into(file, array):
    """Fill ``array`` from ``file``; returns the number of bytes read (short at end of file)."""
    view, filled = memoryview(array.reshape(-1)), 0
    while filled < len(view):
        count = file.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def read_idx(path, ndim):
    """The uint8 array stored in the IDX file at ``path`` (gzip-compressed if it ends in .gz).

    ``ndim`` is the number of dimensions the caller expects (3 for images, 1 for labels).
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            header = _read_exactly(file, path, 4, "header")
            zero, kind, dims = struct.unpack(">HBB", header)
            if zero != 0 or kind != UINT8 or dims != ndim:
                expected = f"0x{UINT8 << 8 | ndim:08x}: uint8 values in {ndim} dimension(s)"
                _fail(path, f"bad magic number 0x{header.hex()} (expected {expected})")
            shape = struct.unpack(f">{ndim}I", _read_exactly(file, path, 4 * ndim, "header"))
            array = numpy.empty(shape, dtype=numpy.uint8)
            count = _read_into(file, array)
            if count != array.size:
                _fail(path, f"the header announces shape {shape} ({array.size} values) but the "
                            f"file holds only {count}")
            if file.read(1):
                _fail(path, f"there are bytes after the {array.size} values the header "
                            f"announces (shape {shape})")
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        _fail(path, f"the gzip stream is damaged ({error})")
    return array
