"""The GPU backend: NVIDIA's NCCL through cupy (``cupy.cuda.nccl``), set up through MPI.

NCCL needs every process to hold the same unique id before the communicator can be made:
rank 0 asks NCCL for one and MPI broadcasts it (the way ChainerMN and Horovod start NCCL).
After that, MPI carries no data; the collectives run as NCCL kernels on the GPU, on a
stream of their own:

* before a collective, that stream waits for the work already queued on the current
  stream (which produced the tensor);
* afterwards, the current stream waits for the collective, so later kernels see the
  result while the host goes on. ``async_op=True`` postpones that last step to ``wait()``,
  so computation queued in between overlaps the transfer.

Tensors are handed to NCCL as device pointers (``array.data.ptr``), so nothing is copied
except where the API needs one contiguous buffer (the lists of all_gather, gather,
scatter and reduce_scatter).
"""
from .reduce_op import ReduceOp
from .work import Work, divide_in_place


class NCCLBackend:
    """The collectives of one NCCL communicator over every process of the MPI job."""

    name = "nccl"
    device_type = "cuda"

    def __init__(self, mpi_comm, rank, size, local_rank, cupy):
        from cupy.cuda import nccl  # the cuda extra: cupy built with NCCL
        self.cupy, self.nccl = cupy, nccl
        self.rank, self.size = rank, size
        count = cupy.cuda.runtime.getDeviceCount()
        if count == 0:
            raise RuntimeError("backend 'nccl' needs a CUDA GPU, and cupy finds none; use "
                               "backend='mpi' for CPU tensors")
        # One GPU per process on each machine: local rank i drives GPU i (mod the count).
        self.device_id = local_rank % count
        cupy.cuda.Device(self.device_id).use()
        unique_id = nccl.get_unique_id() if rank == 0 else None
        unique_id = mpi_comm.bcast(unique_id, root=0)
        self.comm = nccl.NcclCommunicator(size, unique_id, rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self._types = {"float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
                       "float64": nccl.NCCL_FLOAT64, "int8": nccl.NCCL_INT8,
                       "uint8": nccl.NCCL_UINT8, "bool": nccl.NCCL_UINT8,
                       "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64}
        # NCCL ≥ 2.10 averages by itself; before that AVG is a SUM and a division.
        native = getattr(nccl, "NCCL_AVG", None) is not None and nccl.get_version() >= 21000
        self._native_avg = nccl.NCCL_AVG if native else None

    def close(self):
        self.stream.synchronize()
        self.comm.destroy()

    # -- how a collective is queued and finished ---------------------------------------------
    def _type(self, array):
        return self._types[array.dtype.name]

    def _op(self, op, dtype):
        nccl = self.nccl
        if dtype.kind == "b":   # bools travel as bytes 0/1: OR is MAX, AND is MIN
            op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.BOR: ReduceOp.MAX,
                  ReduceOp.PRODUCT: ReduceOp.MIN, ReduceOp.BAND: ReduceOp.MIN}.get(op, op)
        if op is ReduceOp.AVG:
            return self._native_avg if self._native_avg is not None else nccl.NCCL_SUM
        table = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
                 ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}
        if op not in table:
            raise ValueError(f"backend 'nccl' has no {op!r} (NCCL reduces with SUM, AVG, "
                             f"PRODUCT, MIN and MAX)")
        return table[op]

    def _start(self):
        """Make the collective's stream wait for what the current stream has queued."""
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())

    def _work(self, async_op, finish=None, keep_alive=()):
        """Queue ``finish`` after the collective on its stream; the current stream then waits
        for it (at once, or in ``wait()`` with async_op)."""
        if finish is not None:
            with self.stream:
                finish()
        done = self.stream.record()
        work = Work(lambda: self.cupy.cuda.get_current_stream().wait_event(done),
                    lambda: done.done, None, keep_alive)
        if not async_op:
            work.wait()
        return work

    def _divide_if_avg(self, array, op):
        if op is ReduceOp.AVG and self._native_avg is None:
            return lambda: divide_in_place(array, self.size)
        return None

    # -- the collectives --------------------------------------------------------------------
    def all_reduce(self, array, op, async_op):
        self._start()
        pointer = array.data.ptr
        self.comm.allReduce(pointer, pointer, array.size, self._type(array),
                            self._op(op, array.dtype), self.stream.ptr)
        return self._work(async_op, self._divide_if_avg(array, op), (array,))

    def broadcast(self, array, src, async_op):
        self._start()
        pointer = array.data.ptr
        self.comm.broadcast(pointer, pointer, array.size, self._type(array), src, self.stream.ptr)
        return self._work(async_op, None, (array,))

    def reduce(self, array, dst, op, async_op):
        self._start()
        pointer = array.data.ptr
        self.comm.reduce(pointer, pointer, array.size, self._type(array),
                         self._op(op, array.dtype), dst, self.stream.ptr)
        finish = self._divide_if_avg(array, op) if self.rank == dst else None
        return self._work(async_op, finish, (array,))

    def all_gather(self, output, input, async_op):
        self._start()
        self.comm.allGather(input.data.ptr, output.data.ptr, input.size, self._type(input),
                            self.stream.ptr)
        return self._work(async_op, None, (output, input))

    def reduce_scatter(self, output, input, op, async_op):
        self._start()
        self.comm.reduceScatter(input.data.ptr, output.data.ptr, output.size,
                                self._type(output), self._op(op, output.dtype), self.stream.ptr)
        return self._work(async_op, self._divide_if_avg(output, op), (output, input))

    def gather(self, input, output, dst, async_op):
        """NCCL has no gather: the root receives one message from each rank (a group call)."""
        self._start()
        nccl, count, kind, stream = self.nccl, input.size, self._type(input), self.stream.ptr
        nccl.groupStart()
        if self.rank == dst:
            for peer in range(self.size):
                if peer != dst:
                    self.comm.recv(output[peer].data.ptr, count, kind, peer, stream)
        else:
            self.comm.send(input.data.ptr, count, kind, dst, stream)
        nccl.groupEnd()
        if self.rank == dst:
            with self.stream:
                output[dst][...] = input
        return self._work(async_op, None, (output, input))

    def scatter(self, output, input, src, async_op):
        """NCCL has no scatter: the root sends one message to each rank (a group call)."""
        self._start()
        nccl, count, kind, stream = self.nccl, output.size, self._type(output), self.stream.ptr
        nccl.groupStart()
        if self.rank == src:
            for peer in range(self.size):
                if peer != src:
                    self.comm.send(input[peer].data.ptr, count, kind, peer, stream)
        else:
            self.comm.recv(output.data.ptr, count, kind, src, stream)
        nccl.groupEnd()
        if self.rank == src:
            with self.stream:
                output[...] = input[src]
        return self._work(async_op, None, (output, input))

    def barrier(self, async_op):
        """An all_reduce of one number, waited for on the host (as PyTorch's NCCL barrier)."""
        flag = self.cupy.zeros(1, dtype=self.cupy.float32)
        work = self.all_reduce(flag, ReduceOp.SUM, async_op=True)
        if async_op:
            return work
        self.stream.synchronize()
        return work
