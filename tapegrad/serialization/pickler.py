"""Turning any object into PyTorch's checkpoint pickle plus the raw bytes of its storages.

``save`` pickles the object as ``torch.save`` does. Everything but tensors pickles the usual
way (a whole Module is its class's name plus its ``__dict__``). A tensor pickles as a
*description* (see ``rebuild.py``): ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, OrderedDict())``, where ``storage`` is a *persistent id*, a small tuple
``('storage', torch.FloatStorage, key, location, numel)``. The storage's bytes do not go into
the pickle: they become the zip member ``data/<key>`` (see ``torch_zip.py``).

Tensors that are views of one numpy array (a weight and ``weight.T``, the rows of a matrix)
point into one storage, so they still share memory after loading.
"""
import collections
import io
import pickle

import numpy  # host-side: the memory behind cpu tensors, and copies of cuda ones

from .. import backend, dtypes
from ..autograd.tensor import Size, Tensor
from ..backend import device as Device
from ..nn.parameter import Parameter
from . import torch_names

PROTOCOL = 2  # torch.save's default; every PyTorch since 1.0 reads it


class SavedStorage:
    """One storage to write: ``numel`` elements of ``dtype`` (as bytes), saved from ``location``."""

    __slots__ = ("data", "dtype", "key", "location")

    def __init__(self, key, dtype, location, data):
        self.key = key
        self.dtype = dtype
        self.location = location
        self.data = data  # a 1-d numpy array in the storage's memory order

    @property
    def numel(self):
        return self.data.size


def pickle_checkpoint(obj, protocol=PROTOCOL):
    """``(pickle bytes, [SavedStorage, ...])`` for ``obj``; raises before anything is written."""
    buffer = io.BytesIO()
    pickler = _CheckpointPickler(buffer, protocol)
    pickler.dump(obj)
    return buffer.getvalue(), list(pickler.storages.values())


# The standard (C) pickler writes a global only after importing it to check that the name
# is right, and "torch._utils" cannot be imported here. The pure-Python pickler lets a
# subclass write such names itself; the pickle it writes is the same.
class _CheckpointPickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}   # (id of the memory, dtype) -> SavedStorage
        self._alive = []     # keeps every array whose id is a key above alive until the end

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, Size):
            return (torch_names.SIZE, (tuple(obj),))
        if isinstance(obj, Device):
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return (torch_names.DEVICE, args)
        return NotImplemented

    def _reduce_tensor(self, tensor):
        hooks = collections.OrderedDict()  # PyTorch never saves hooks: always empty
        if isinstance(tensor, Parameter):
            # The data as a plain tensor inside, as PyTorch writes it.
            data = tensor.detach()
            return (torch_names.REBUILD_PARAMETER, (data, tensor.requires_grad, hooks))
        storage, offset, stride = self._storage_of(tensor)
        return (torch_names.REBUILD_TENSOR_V2,
                (storage, offset, tuple(tensor.shape), stride, tensor.requires_grad, hooks))

    def _storage_of(self, tensor):
        """``(SavedStorage, offset, stride)`` placing ``tensor`` in a (maybe shared) storage."""
        array, dtype = tensor.array, tensor.dtype
        if tensor.device.type == "cpu":
            root = _owner(array)
            layout = _layout_within(array, root, dtype.itemsize)
            if layout is not None:
                storage = self._storage_for(root, dtype, "cpu",
                                            lambda: numpy.ravel(root, order="K").view(dtype.numpy))
                return (storage, *layout)
        # Elsewhere (cuda tensors, negative strides, odd layouts) the tensor gets a storage of
        # its own: a contiguous copy on the host (tensors sharing one array still share it).
        storage = self._storage_for(array, dtype, str(tensor.device),
                                    lambda: numpy.ascontiguousarray(
                                        backend.to_numpy(array)).reshape(-1))
        return storage, 0, _contiguous_stride(array.shape)

    def _storage_for(self, memory, dtype, location, host_elements):
        key = (id(memory), dtype)
        if key not in self.storages:
            self._alive.append(memory)
            self.storages[key] = SavedStorage(str(len(self.storages)), dtype, location,
                                              host_elements())
        return self.storages[key]

    def persistent_id(self, obj):
        if isinstance(obj, SavedStorage):
            return ("storage", torch_names.STORAGE[obj.dtype], obj.key, obj.location, obj.numel)
        return None

    def _save_torch_name(self, obj):
        # Written as pickle writes any global (a GLOBAL opcode, or STACK_GLOBAL from protocol 4).
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    def _save_dtype(self, obj):
        self._save_torch_name(torch_names.DTYPE[obj])

    dispatch[torch_names.TorchName] = _save_torch_name
    dispatch[dtypes.dtype] = _save_dtype


def _owner(array):
    """The numpy array at the root of ``array``'s chain of views: the memory it lives in."""
    while isinstance(array.base, numpy.ndarray):
        array = array.base
    return array


def _layout_within(array, root, itemsize):
    """``(offset, stride)`` in elements of ``array`` inside ``root``'s memory, or None if it has none.

    PyTorch's layouts are non-negative whole elements, and the storage is ``root``'s memory
    read in order, so ``root`` must be one contiguous block.
    """
    if not (root.flags.c_contiguous or root.flags.f_contiguous) or root.nbytes % itemsize:
        return None
    offset = array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if offset < 0 or offset % itemsize or any(s < 0 or s % itemsize for s in array.strides):
        return None
    return offset // itemsize, tuple(s // itemsize for s in array.strides)


def _contiguous_stride(shape):
    stride, step = [], 1
    for n in reversed(shape):
        stride.append(step)
        step *= max(n, 1)
    return tuple(reversed(stride))

