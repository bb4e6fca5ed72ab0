"""Host arrays in shared memory: the storage behind ``Tensor.share_memory_()``.

A shared array lives in a named POSIX shared-memory segment (``multiprocessing.shared_memory``).
Another process that knows the segment's name, and where in it the array starts, maps the
same physical memory: a write by one process is a write for all of them. That is all hogwild
training needs: every worker updates the one copy of the weights.

A segment lives as long as some array of this process still points into it: the arrays are
built on one ``_Storage`` object per segment and process (a ctypes byte array over the mapped
memory), and when the last array is gone the segment is closed here, and unlinked (its name
removed) if this process created it. A child that receives a handle must
therefore receive it while the sender still holds the tensor, as in PyTorch.
"""
import ctypes
import os
import weakref
from multiprocessing import shared_memory

import numpy

# id(storage) -> (segment name, weak reference to that storage, its start address),
# for every segment this process has created or attached and still uses.
_segments = {}
# segment name -> weak reference to the storage this process maps it through
_attached = {}


def _register(segment, created):
    """A storage over ``segment`` whose death closes (and, for its creator, unlinks) it."""
    start = numpy.frombuffer(segment.buf, dtype=numpy.uint8).ctypes.data
    # Built from the address, not from segment.buf: a buffer export would stop the segment
    # from closing. The finaliser below keeps ``segment`` (and so the mapping) alive instead.
    storage_type = type("_Storage", (ctypes.c_ubyte * segment.size,), {})
    view = storage_type.from_address(start)
    key, name, owner = id(view), segment.name, os.getpid() if created else None
    _segments[key] = (name, weakref.ref(view), start)
    _attached[name] = weakref.ref(view)

    def release(segment=segment, key=key, name=name, owner=owner):
        _segments.pop(key, None)
        _attached.pop(name, None)
        segment.close()
        if owner == os.getpid():   # a forked child inherits this finaliser: only the creator unlinks
            segment.unlink()
    weakref.finalize(view, release)
    return view


def _segment_of(array):
    """(segment name, start address) of the segment ``array`` lies in, or None."""
    base = array
    while isinstance(base, numpy.ndarray):
        base = base.base
    if base is None:
        return None
    entry = _segments.get(id(base))
    if entry is None or entry[1]() is not base:
        return None
    return entry[0], entry[2]


def is_shared(array):
    """True when ``array`` lies in a shared-memory segment."""
    return isinstance(array, numpy.ndarray) and _segment_of(array) is not None


def move_to_shared_memory(array):
    """A C-ordered copy of ``array`` (same shape, dtype and values) in a new shared segment."""
    array = numpy.asarray(array)
    segment = shared_memory.SharedMemory(create=True, size=max(array.nbytes, 1))
    view = _register(segment, created=True)
    shared = numpy.ndarray(array.shape, dtype=array.dtype, buffer=view)
    shared[...] = array
    return shared


def handle(array):
    """What another process needs to map ``array``: (segment name, offset, shape, strides, dtype)."""
    name, start = _segment_of(array)
    offset = array.__array_interface__["data"][0] - start
    return name, offset, array.shape, array.strides, array.dtype.str


def attach(name, offset, shape, strides, dtype):
    """The array described by ``handle(...)`` in another process, mapped here."""
    known = _attached.get(name)
    view = known() if known is not None else None
    if view is None:
        try:
            segment = shared_memory.SharedMemory(name=name)
        except FileNotFoundError:
            raise RuntimeError(
                f"the shared-memory segment {name!r} of a received tensor no longer exists: the "
                f"process that sent the tensor must keep it alive until it has been received"
            ) from None
        view = _register(segment, created=False)
    return numpy.ndarray(shape, dtype=numpy.dtype(dtype), buffer=view, offset=offset,
                         strides=strides)


def overlaps(a, b):
    """Whether two host arrays share memory (a view and the array it views)."""
    return numpy.shares_memory(a, b)


def same_place_in(new_base, old_base, view):
    """The array at ``view``'s place in ``old_base``, at the same place in ``new_base``."""
    offset = view.__array_interface__["data"][0] - old_base.__array_interface__["data"][0]
    return numpy.ndarray(view.shape, dtype=view.dtype, buffer=new_base, offset=offset,
                         strides=view.strides)
