"""Rebuilding tensors from what a checkpoint says about them.

A saved tensor is a *description*: which storage (a flat block of elements of one dtype),
where in it the tensor starts (``storage_offset``), its ``size`` and its ``stride`` (how many
elements to step per index along each dimension). Element ``[i, j]`` of a tensor is
``storage[offset + i*stride[0] + j*stride[1]]``, so tensors that share one storage (a weight
and its transposed view, say) come back sharing memory, as they were saved.

These functions are what the names in ``torch_names.py`` stand for when a file is read.
Everything they get comes from the file, so each value is checked before it is used.
"""
import math

import numpy  # host memory of loaded cpu storages

from ..autograd.tensor import Size, Tensor, wrap
from ..backend import device as Device
from ..nn.parameter import Parameter


class UnsafeOrCorruptFile(RuntimeError):
    """``load`` was given a file it cannot trust to be intact: truncated, corrupt or forged."""

    def __init__(self, problem, filename=None):
        super().__init__(problem if filename is None else f"cannot load {filename!r}: {problem}")
        self.filename = filename


class UnsupportedDtype(TypeError):
    """The file holds data of a dtype tapegrad does not have (bfloat16, complex, ...)."""


class Storage:
    """A loaded storage: a flat backend array (``numel`` elements of ``dtype``) on a device."""

    __slots__ = ("array", "device", "dtype", "key")

    def __init__(self, array, device, dtype, key):
        self.array = array
        self.device = device
        self.dtype = dtype
        self.key = key


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                      backward_hooks=None, metadata=None):
    """The tensor ``storage[storage_offset + Σ index·stride]`` of shape ``size`` (a view, no copy)."""
    if not isinstance(storage, Storage):
        raise UnsafeOrCorruptFile(f"a tensor is rebuilt from {type(storage).__name__}, "
                                  f"not from a storage")
    size, stride = tuple(size), tuple(stride)
    if not (_is_int(storage_offset) and storage_offset >= 0 and len(size) == len(stride)
            and all(_is_int(n) and n >= 0 for n in size + stride)):
        raise UnsafeOrCorruptFile(f"a tensor has an invalid layout: offset {storage_offset!r}, "
                                  f"size {size!r}, stride {stride!r}")
    numel = storage.array.size
    # The last element the view reaches must lie inside the storage: otherwise as_strided
    # would read memory that is not the file's (a forged file could aim anywhere).
    if math.prod(size) > 0:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= numel:
            raise UnsafeOrCorruptFile(
                f"a tensor of size {size} with stride {stride} at offset {storage_offset} "
                f"reaches element {last} of storage {storage.key!r}, which has only {numel}")
    elif storage_offset > numel:
        raise UnsafeOrCorruptFile(f"an empty tensor starts at offset {storage_offset}, past the "
                                  f"end of storage {storage.key!r} ({numel} elements)")
    itemsize = storage.array.itemsize
    strides = tuple(s * itemsize for s in stride)
    if storage.device.type == "cpu":
        # A numpy array over the storage's memory: its .base is the storage, so saving these
        # tensors again finds that they share it.
        view = numpy.ndarray(size, storage.array.dtype, buffer=storage.array,
                             offset=storage_offset * itemsize, strides=strides)
    else:
        view = storage.device.xp.as_strided(storage.array[storage_offset:], size, strides)
    tensor = wrap(view, storage.device)
    if _checked_flag(requires_grad, "requires_grad"):
        _check_can_require_grad(storage.dtype)
        tensor.requires_grad_(True)
    return tensor


def rebuild_tensor(storage, storage_offset, size, stride):
    """PyTorch's first tensor description, from before requires_grad was saved."""
    return rebuild_tensor_v2(storage, storage_offset, size, stride)


def rebuild_parameter(data, requires_grad, backward_hooks):
    """``nn.Parameter(data, requires_grad)``; PyTorch never saves hooks, so they are ignored."""
    if not isinstance(data, Tensor):
        raise UnsafeOrCorruptFile(f"a Parameter is rebuilt from {type(data).__name__}, "
                                  f"not from a tensor")
    if _checked_flag(requires_grad, "requires_grad"):
        _check_can_require_grad(data.dtype)
    return Parameter(data, requires_grad)


def rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """A Parameter that had Python attributes; tapegrad's Parameters have none to restore."""
    if state:
        raise UnsafeOrCorruptFile(f"a Parameter carries extra attributes {sorted(state)!r:.200}, "
                                  f"which tapegrad's Parameter cannot hold")
    return rebuild_parameter(data, requires_grad, backward_hooks)


class _TensorType:
    """What the name ``torch.Tensor`` stands for in a weights-only file: the type a tensor is
    rebuilt as, and nothing to call (``Tensor(2**40)`` from a forged pickle would allocate)."""

    def __repr__(self):
        return "torch.Tensor"


TENSOR_TYPE = _TensorType()


def rebuild_from_type_v2(func, new_type, args, state):
    """``func(*args)`` seen as ``new_type``: PyTorch's route for tensors with extra state."""
    result = func(*args)
    if new_type is Parameter and not isinstance(result, Parameter):
        result = Parameter(result, requires_grad=result.requires_grad)
    elif new_type is not TENSOR_TYPE and new_type is not Parameter:
        raise UnsafeOrCorruptFile(f"a tensor is rebuilt as {new_type!r:.80}, which tapegrad "
                                  f"does not have")
    if state:
        raise UnsafeOrCorruptFile(f"a tensor carries extra attributes {state!r:.200}, which "
                                  f"tapegrad's tensors cannot hold")
    return result


def _check_can_require_grad(dtype):
    if not dtype.is_floating_point:
        raise UnsafeOrCorruptFile(f"a {dtype} tensor is marked requires_grad, which only floating "
                                  f"point tensors can be")


def _checked_flag(value, what):
    if not isinstance(value, bool):
        raise UnsafeOrCorruptFile(f"{what} must be True or False, got {value!r:.80}")
    return value


def make_size(values=()):
    """``torch.Size(values)``."""
    values = tuple(values)
    if not all(_is_int(n) for n in values):
        raise UnsafeOrCorruptFile(f"a Size holds non-integers: {values!r:.200}")
    return Size(values)


def make_device(kind, index=None):
    """``torch.device(kind, index)``, as a tapegrad device (checked: 'cpu' or 'cuda')."""
    if not isinstance(kind, str) or not (index is None or _is_int(index)):
        raise UnsafeOrCorruptFile(f"a device is given as ({kind!r:.80}, {index!r:.80})")
    try:
        return Device(kind, index)
    except ValueError as error:
        problem = f"the file names a device tapegrad does not have: {error}"
    raise UnsafeOrCorruptFile(problem)


def encode_bytes(text, encoding="latin1"):
    """How protocol 2 pickles spell ``bytes``: ``_codecs.encode(text, 'latin1')``; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeOrCorruptFile(f"_codecs.encode is only allowed as (str, 'latin1'), got "
                                  f"({type(text).__name__}, {encoding!r:.40})")
    return text.encode("latin1")


def make_bytearray(data=b""):
    """``bytearray(data)`` for the bytes a pickle holds; never ``bytearray(n)``, which a forged
    file would use to allocate as much memory as it likes."""
    if not isinstance(data, (bytes, bytearray, str)):
        raise UnsafeOrCorruptFile(f"bytearray is only allowed of bytes, got "
                                  f"{type(data).__name__}")
    return bytearray(data, "latin1") if isinstance(data, str) else bytearray(data)
