"""The collectives, with PyTorch's names and arguments: each checks its tensors, then hands
their arrays to the backend, which works on them in place.

Every process of the group must call the same collectives in the same order, with tensors of
the same shape and dtype (MPI and NCCL match calls by order, not by name). With
``async_op=True`` a collective returns a ``Work`` at once; the tensors must not be read or
changed until ``work.wait()``. Without it, the call returns None once the result is there.
"""
from ..autograd.tensor import Tensor
from . import process_group
from .process_group import _check_group, default_backend
from .reduce_op import BITWISE, ReduceOp


# -- checks, each naming the collective and the values involved --------------------------------
def _array(op, name, tensor, backend):
    """The tensor's array, after checking it is one the backend can hand to MPI/NCCL."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: {name} must be a tapegrad Tensor, got {type(tensor).__name__}")
    if tensor.device.type != backend.device_type:
        other = "nccl" if backend.device_type == "cpu" else "mpi"
        raise RuntimeError(f"{op}: {name} is on {tensor.device}, but backend "
                           f"'{process_group._World.name}' works on {backend.device_type} tensors "
                           f"(use backend '{other}' for {tensor.device.type} tensors, or move the "
                           f"tensor with .to('{backend.device_type}'))")
    if not tensor.array.flags.c_contiguous:
        raise RuntimeError(f"{op}: {name} (shape {tuple(tensor.shape)}) is not contiguous; "
                           f"collectives work on one block of memory, so pass "
                           f"tensor.contiguous() (and copy the result back if you need to)")
    return tensor.array


def _check_op(op_name, op, array):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{op_name}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, BAND, "
                        f"BOR, BXOR), got {op!r}")
    kind = array.dtype.kind
    if op in BITWISE and kind not in "iub":
        raise RuntimeError(f"{op_name}: {op!r} is bitwise and needs an integer or bool tensor, "
                           f"got {array.dtype.name}")
    if op is ReduceOp.AVG and kind != "f":
        raise RuntimeError(f"{op_name}: ReduceOp.AVG needs a floating-point tensor, got "
                           f"{array.dtype.name}")


def _check_rank(op, name, value, size):
    if not isinstance(value, int) or not 0 <= value < size:
        raise ValueError(f"{op}: {name}={value!r} is not a rank of this group of {size} "
                         f"processes (expected 0 … {size - 1})")


def _check_list(op, name, tensors, like, size, backend):
    """A list of ``size`` tensors, each with ``like``'s shape and dtype; their arrays."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        got = f"{len(tensors)} tensors" if isinstance(tensors, (list, tuple)) else repr(tensors)
        raise ValueError(f"{op}: {name} must be a list of one tensor per process ({size}), "
                         f"got {got}")
    arrays = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name}[{i}] must be a Tensor, got {type(t).__name__}")
        if t.shape != like.shape or t.dtype is not like.dtype:
            raise ValueError(f"{op}: {name}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}, "
                             f"but the tensor has shape {tuple(like.shape)} and dtype "
                             f"{like.dtype}; every entry must match it")
        if t.device != like.device:
            raise RuntimeError(f"{op}: {name}[{i}] is on {t.device}, the tensor on {like.device}")
        arrays.append(t.array)
    return arrays


def _bump(*tensors):
    for t in tensors:
        t._version_counter.bump("distributed")


def _finish(work, async_op, then=None):
    """Return the Work for async_op, else wait and return None; ``then`` runs after the data
    has arrived (copies out of a contiguous buffer)."""
    if then is not None:
        inner = work._finish
        work._finish = (lambda: (inner(), then())) if inner is not None else then
        if work._done:   # a blocking call has completed before ``then`` was attached
            then()
    if async_op:
        return work
    work.wait()
    return None


# -- the collectives ---------------------------------------------------------------------------
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Every process's ``tensor`` becomes op(tensor of rank 0, …, tensor of rank n-1)."""
    _check_group(group)
    backend = default_backend("all_reduce")
    array = _array("all_reduce", "tensor", tensor, backend)
    _check_op("all_reduce", op, array)
    _bump(tensor)
    return _finish(backend.all_reduce(array, op, async_op), async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Every process's ``tensor`` becomes rank ``src``'s."""
    _check_group(group)
    backend = default_backend("broadcast")
    array = _array("broadcast", "tensor", tensor, backend)
    _check_rank("broadcast", "src", src, backend.size)
    _bump(tensor)
    return _finish(backend.broadcast(array, src, async_op), async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank ``dst``'s ``tensor`` becomes op over every process's; the others keep theirs."""
    _check_group(group)
    backend = default_backend("reduce")
    array = _array("reduce", "tensor", tensor, backend)
    _check_op("reduce", op, array)
    _check_rank("reduce", "dst", dst, backend.size)
    if backend.rank == dst:
        _bump(tensor)
    return _finish(backend.reduce(array, dst, op, async_op), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i]`` becomes rank i's ``tensor``, on every process."""
    _check_group(group)
    backend = default_backend("all_gather")
    array = _array("all_gather", "tensor", tensor, backend)
    outputs = _check_list("all_gather", "tensor_list", tensor_list, tensor, backend.size, backend)
    buffer = tensor.device.xp.empty((backend.size,) + array.shape, dtype=array.dtype)
    _bump(*tensor_list)

    def copy_out():
        for i, out in enumerate(outputs):
            out[...] = buffer[i]
    work = backend.all_gather(buffer, array, async_op)
    return _finish(work, async_op, copy_out)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world_size·n elements) becomes every rank's ``input_tensor`` (n
    elements) one after the other, rank 0 first; no extra copy."""
    _check_group(group)
    backend = default_backend("all_gather_into_tensor")
    output = _array("all_gather_into_tensor", "output_tensor", output_tensor, backend)
    input = _array("all_gather_into_tensor", "input_tensor", input_tensor, backend)
    if output.size != input.size * backend.size or output.dtype != input.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor (shape {output.shape}, "
                         f"{output.dtype}) must hold {backend.size} × the input_tensor (shape "
                         f"{input.shape}, {input.dtype}), of the same dtype")
    _bump(output_tensor)
    return _finish(backend.all_gather(output, input, async_op), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank ``dst``'s ``gather_list[i]`` becomes rank i's ``tensor``; the others pass no list."""
    _check_group(group)
    backend = default_backend("gather")
    array = _array("gather", "tensor", tensor, backend)
    _check_rank("gather", "dst", dst, backend.size)
    buffer, copy_out = None, None
    if backend.rank == dst:
        outputs = _check_list("gather", "gather_list", gather_list, tensor, backend.size, backend)
        buffer = tensor.device.xp.empty((backend.size,) + array.shape, dtype=array.dtype)
        _bump(*gather_list)

        def copy_out():
            for i, out in enumerate(outputs):
                out[...] = buffer[i]
    elif gather_list:
        raise ValueError(f"gather: gather_list is only for the destination rank {dst}; rank "
                         f"{backend.rank} must pass None")
    return _finish(backend.gather(array, buffer, dst, async_op), async_op, copy_out)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank i's ``tensor`` becomes rank ``src``'s ``scatter_list[i]``."""
    _check_group(group)
    backend = default_backend("scatter")
    array = _array("scatter", "tensor", tensor, backend)
    _check_rank("scatter", "src", src, backend.size)
    buffer = None
    if backend.rank == src:
        inputs = _check_list("scatter", "scatter_list", scatter_list, tensor, backend.size,
                             backend)
        buffer = tensor.device.xp.stack(inputs)   # MPI and NCCL send from one block
    elif scatter_list:
        raise ValueError(f"scatter: scatter_list is only for the source rank {src}; rank "
                         f"{backend.rank} must pass None")
    _bump(tensor)
    return _finish(backend.scatter(array, buffer, src, async_op), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank i's ``output`` becomes op over every process's ``input_list[i]``."""
    _check_group(group)
    backend = default_backend("reduce_scatter")
    array = _array("reduce_scatter", "output", output, backend)
    _check_op("reduce_scatter", op, array)
    inputs = _check_list("reduce_scatter", "input_list", input_list, output, backend.size,
                         backend)
    buffer = output.device.xp.stack(inputs)
    _bump(output)
    return _finish(backend.reduce_scatter(array, buffer, op, async_op), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank i's ``output`` (n elements) becomes op over every process's i-th block of n
    elements of ``input``; no extra copy."""
    _check_group(group)
    backend = default_backend("reduce_scatter_tensor")
    out = _array("reduce_scatter_tensor", "output", output, backend)
    into = _array("reduce_scatter_tensor", "input", input, backend)
    _check_op("reduce_scatter_tensor", op, out)
    if into.size != out.size * backend.size or into.dtype != out.dtype:
        raise ValueError(f"reduce_scatter_tensor: input (shape {into.shape}, {into.dtype}) must "
                         f"hold {backend.size} × the output (shape {out.shape}, {out.dtype}), of "
                         f"the same dtype")
    _bump(output)
    return _finish(backend.reduce_scatter(out, into, op, async_op), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Return once every process of the group has called barrier."""
    _check_group(group)
    backend = default_backend("barrier")
    return _finish(backend.barrier(async_op), async_op)


# -- Python objects (pickled by MPI; only between the processes of this job) -----------------
def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` becomes rank i's ``obj`` (any picklable object), on every process."""
    _check_group(group)
    default_backend("all_gather_object")
    gathered = process_group._World.mpi.allgather(obj)
    if not isinstance(object_list, list) or len(object_list) != len(gathered):
        raise ValueError(f"all_gather_object: object_list must be a list of one entry per "
                         f"process ({len(gathered)}), got {object_list!r}")
    object_list[:] = gathered


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Every process's ``object_list`` becomes rank ``src``'s (its entries, pickled)."""
    _check_group(group)
    backend = default_backend("broadcast_object_list")
    _check_rank("broadcast_object_list", "src", src, backend.size)
    received = process_group._World.mpi.bcast(list(object_list), root=src)
    if len(received) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(received)} objects, but "
                         f"this process's list has {len(object_list)} entries")
    object_list[:] = received
