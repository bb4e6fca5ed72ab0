"""Run on every process by tests/distributed/test_collectives.py: each collective, with each
reduction and each dtype, against numpy computing the same from every rank's inputs (every
process can make every other process's inputs, since they come from seeded generators).

Arguments: the backend ("mpi", "gloo" or "nccl"), and for "nccl" optionally "fake": run on
the fake cupy with the fake NCCL of fake_nccl.py (no GPU needed).
"""
import sys

import numpy as np

import tapegrad as tg
import tapegrad.distributed as dist
from tapegrad.distributed import ReduceOp

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "mpi"
FAKE = sys.argv[2:] == ["fake"]
DEVICE = "cuda" if BACKEND == "nccl" else "cpu"
if FAKE:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
    from tests.distributed.ranks import fake_nccl
    fake_nccl.install()
dist.init_process_group(BACKEND)
rank, size = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and (rank, size) != (-1, -1)


def data(r, shape=(2, 3), dtype="float64", salt=0):
    """Rank r's input: small integers (exact under every reduction), as ``dtype``."""
    values = np.random.default_rng(1000 * salt + r).integers(1, 4, size=shape)
    return values.astype(dtype)


def on_device(array):
    return tg.from_numpy(np.ascontiguousarray(array)).to(DEVICE)


def zeros(*shape, dtype=tg.float64):
    return tg.zeros(*shape, dtype=dtype, device=DEVICE)


def mine(shape=(2, 3), dtype="float64", salt=0):
    return on_device(data(rank, shape, dtype, salt).copy())


def everyone(shape=(2, 3), dtype="float64", salt=0):
    return np.stack([data(r, shape, dtype, salt) for r in range(size)])


def check(got, expected, what):
    got = got.cpu().numpy() if isinstance(got, tg.Tensor) else got
    assert got.dtype == np.asarray(expected).dtype, (what, got.dtype, np.asarray(expected).dtype)
    np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"rank {rank}: {what}")


NUMPY = {ReduceOp.SUM: np.sum, ReduceOp.PRODUCT: np.prod, ReduceOp.MIN: np.min,
         ReduceOp.MAX: np.max, ReduceOp.AVG: np.mean,
         ReduceOp.BAND: np.bitwise_and.reduce, ReduceOp.BOR: np.bitwise_or.reduce,
         ReduceOp.BXOR: np.bitwise_xor.reduce}

# all_reduce: every op, float and integer dtypes, blocking and async
for op, reduce_all in NUMPY.items():
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and BACKEND == "nccl":
        continue   # NCCL has no bitwise reductions (checked below)
    dtypes = ["int32", "int64", "uint8"] if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) \
        else ["float32", "float64"] if op is ReduceOp.AVG else ["float32", "float64", "int64"]
    for dtype in dtypes:
        for async_op in (False, True):
            t = mine(dtype=dtype, salt=3)
            work = dist.all_reduce(t, op=op, async_op=async_op)
            if async_op:
                assert work.wait() and work.is_completed()
            else:
                assert work is None
            expected = reduce_all(everyone(dtype=dtype, salt=3), axis=0).astype(dtype)
            check(t, expected, f"all_reduce {op} {dtype} async={async_op}")

# bool: SUM is a logical or, PRODUCT and MIN a logical and
for op, expected in ((ReduceOp.SUM, np.any), (ReduceOp.MAX, np.any), (ReduceOp.PRODUCT, np.all),
                     (ReduceOp.MIN, np.all)):
    flags = everyone(dtype="int64", salt=4) > 1
    t = on_device(flags[rank].copy())
    dist.all_reduce(t, op=op)
    check(t, expected(flags, axis=0), f"all_reduce {op} bool")

# float16 sums
t = mine(dtype="float16", salt=5)
dist.all_reduce(t)
check(t, everyone(dtype="float16", salt=5).sum(0).astype("float16"), "all_reduce float16")

# broadcast from every source
for src in range(size):
    for async_op in (False, True):
        t = mine(salt=6)
        work = dist.broadcast(t, src=src, async_op=async_op)
        if async_op:
            work.wait()
        check(t, everyone(salt=6)[src], f"broadcast src={src}")

# reduce to every destination: the others keep their input
for dst in range(size):
    for op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.AVG):
        t = mine(salt=7)
        dist.reduce(t, dst=dst, op=op)
        expected = NUMPY[op](everyone(salt=7), axis=0) if rank == dst else data(rank, salt=7)
        check(t, expected, f"reduce dst={dst} {op}")

# all_gather into a list, and into one tensor
for async_op in (False, True):
    outputs = [zeros(2, 3, dtype=tg.float64) for _ in range(size)]
    work = dist.all_gather(outputs, mine(salt=8), async_op=async_op)
    if async_op:
        work.wait()
    for r in range(size):
        check(outputs[r], everyone(salt=8)[r], f"all_gather [{r}] async={async_op}")
output = zeros(size * 2, 3, dtype=tg.float64)
dist.all_gather_into_tensor(output, mine(salt=8))
check(output, everyone(salt=8).reshape(size * 2, 3), "all_gather_into_tensor")

# gather to every destination
for dst in range(size):
    outputs = [zeros(2, 3, dtype=tg.float64) for _ in range(size)] if rank == dst else None
    dist.gather(mine(salt=9), outputs, dst=dst)
    if rank == dst:
        for r in range(size):
            check(outputs[r], everyone(salt=9)[r], f"gather dst={dst} [{r}]")

# scatter from every source: rank i gets src's i-th piece
for src in range(size):
    pieces = [on_device(data(100 * src + i, salt=10)) for i in range(size)]
    t = zeros(2, 3, dtype=tg.float64)
    dist.scatter(t, pieces if rank == src else None, src=src)
    check(t, data(100 * src + rank, salt=10), f"scatter src={src}")

# reduce_scatter: rank i gets op over every rank's i-th input
for op in (ReduceOp.SUM, ReduceOp.MIN, ReduceOp.AVG):
    inputs = [on_device(data(10 * rank + i, salt=11)) for i in range(size)]
    out = zeros(2, 3, dtype=tg.float64)
    dist.reduce_scatter(out, inputs, op=op)
    expected = NUMPY[op](np.stack([data(10 * r + rank, salt=11) for r in range(size)]), axis=0)
    check(out, expected, f"reduce_scatter {op}")
big = on_device(np.concatenate([data(10 * rank + i, salt=12) for i in range(size)]))
out = zeros(2, 3, dtype=tg.float64)
dist.reduce_scatter_tensor(out, big)
check(out, np.sum([data(10 * r + rank, salt=12) for r in range(size)], axis=0),
      "reduce_scatter_tensor")

if BACKEND == "nccl":
    try:
        dist.all_reduce(mine(dtype="int32"), op=ReduceOp.BAND)
    except ValueError as error:
        assert "no ReduceOp.BAND" in str(error), error
    else:
        raise AssertionError("NCCL has no BAND: all_reduce must say so")
    if FAKE:
        assert ("allGather", fake_nccl.NCCL_FLOAT64) in fake_nccl.calls, fake_nccl.calls
        assert ("allReduce", fake_nccl.NCCL_FLOAT32, fake_nccl.NCCL_AVG) in fake_nccl.calls

# barrier, blocking and async
dist.barrier()
dist.barrier(async_op=True).wait()

# a collective writes in place: the version counter moves, as after any in-place change
t = mine()
before = t._version
dist.all_reduce(t)
assert t._version == before + 1

# the differentiable all_reduce: forward sums, backward sums the gradients of every rank
x = on_device(data(rank, salt=13)).requires_grad_()
y = dist.nn.functional.all_reduce(x * (rank + 1))
check(y.detach(), (everyone(salt=13) * np.arange(1, size + 1)[:, None, None]).sum(0), "nn.all_reduce")
y.sum().backward()   # d/dx_rank of Σ_r Σ y_r = size·(rank + 1)
check(x.grad, np.full((2, 3), size * (rank + 1.0)), "nn.all_reduce backward")

# Python objects
objects = [None] * size
dist.all_gather_object(objects, {"rank": rank, "name": f"process {rank}"})
assert objects == [{"rank": r, "name": f"process {r}"} for r in range(size)], objects
sent = [f"from {rank}", rank] if rank == size - 1 else [None, None]
dist.broadcast_object_list(sent, src=size - 1)
assert sent == [f"from {size - 1}", size - 1], sent

dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank} of {size}: every collective agrees with numpy", flush=True)
