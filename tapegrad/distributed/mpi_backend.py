"""The CPU backend: MPI through mpi4py, on the tensors' own numpy buffers.

mpi4py reads and writes a numpy array's memory directly (the buffer protocol), and takes
the MPI datatype from the array's dtype, so a collective here costs what MPI's costs: no
copy through Python lists, no pickling. ``async_op=True`` uses MPI's nonblocking
collectives (``Iallreduce`` …); MPI moves them forward whenever any MPI call runs,
which is why the DistributedDataParallel hooks ask ``is_completed()`` as backward goes on.

Every collective takes C-contiguous arrays (``collectives.py`` checks), works in place in
the output, and returns a ``Work``.
"""
from .reduce_op import ReduceOp
from .work import Work, divide_in_place


def _mpi():
    from mpi4py import MPI  # imported here: `import tapegrad` never loads MPI
    return MPI


class MPIBackend:
    """The collectives of one MPI communicator (a duplicate of COMM_WORLD: tapegrad's
    messages never mix with those of a script that uses mpi4py itself)."""

    name = "mpi"
    device_type = "cpu"

    def __init__(self, comm):
        self.MPI = _mpi()
        self.comm = comm.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def close(self):
        self.comm.Free()

    # -- reductions: MPI's operation for a ReduceOp, and AVG's division afterwards -----------
    def _mpi_op(self, op, dtype):
        MPI = self.MPI
        if dtype.kind == "b":   # MPI reduces C booleans only with logical operations
            return {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                    ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND,
                    ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}[op]
        return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
                ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]

    def _averaged(self, array, op):
        """What to run once a SUM standing in for AVG has arrived: divide by the world size."""
        if op is not ReduceOp.AVG or self.size == 1:
            return None
        return lambda: divide_in_place(array, self.size)

    def _work(self, request, finish, keep_alive):
        if request is None:   # the blocking call has already finished
            work = Work(lambda: None, finish=finish)
            work.wait()
            return work
        return Work(request.Wait, request.Test, finish, keep_alive)

    # -- the collectives --------------------------------------------------------------------
    def all_reduce(self, array, op, async_op):
        IN_PLACE, mpi_op = self.MPI.IN_PLACE, self._mpi_op(op, array.dtype)
        if async_op:
            request = self.comm.Iallreduce(IN_PLACE, array, op=mpi_op)
        else:
            request = self.comm.Allreduce(IN_PLACE, array, op=mpi_op)
        return self._work(request, self._averaged(array, op), (array,))

    def broadcast(self, array, src, async_op):
        request = (self.comm.Ibcast if async_op else self.comm.Bcast)(array, root=src)
        return self._work(request, None, (array,))

    def reduce(self, array, dst, op, async_op):
        mpi_op = self._mpi_op(op, array.dtype)
        send, receive = (self.MPI.IN_PLACE, array) if self.rank == dst else (array, None)
        call = self.comm.Ireduce if async_op else self.comm.Reduce
        request = call(send, receive, op=mpi_op, root=dst)
        finish = self._averaged(array, op) if self.rank == dst else None
        return self._work(request, finish, (array,))

    def all_gather(self, output, input, async_op):
        call = self.comm.Iallgather if async_op else self.comm.Allgather
        return self._work(call(input, output), None, (output, input))

    def gather(self, input, output, dst, async_op):
        call = self.comm.Igather if async_op else self.comm.Gather
        return self._work(call(input, output, root=dst), None, (output, input))

    def scatter(self, output, input, src, async_op):
        call = self.comm.Iscatter if async_op else self.comm.Scatter
        return self._work(call(input, output, root=src), None, (output, input))

    def reduce_scatter(self, output, input, op, async_op):
        mpi_op = self._mpi_op(op, output.dtype)
        call = self.comm.Ireduce_scatter_block if async_op else self.comm.Reduce_scatter_block
        request = call(input, output, op=mpi_op)
        return self._work(request, self._averaged(output, op), (output, input))

    def barrier(self, async_op):
        return self._work(self.comm.Ibarrier() if async_op else self.comm.Barrier(), None, ())
