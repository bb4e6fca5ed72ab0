"""A stand-in for ``cupy.cuda.nccl`` on machines without a GPU, over MPI, for the NCCL
backend's plumbing: it runs tapegrad's NCCL code path (unique id broadcast, communicator,
device pointers, element counts, NCCL datatypes and reduction codes, roots, the
groupStart/send/recv/groupEnd of gather and scatter, streams and events) on the fake
cupy of tests/cuda, whose arrays are numpy arrays: each "device pointer" is the numpy
array's address, and the fake communicator reads and writes the memory behind it with
MPI. What it cannot show: anything about NCCL itself or real GPU streams.
"""
import ctypes
import sys
import types

import numpy as np
from mpi4py import MPI

from tests.cuda import fake_cupy

NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = 0, 1, 2, 3, 4, 5
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4
DTYPES = {NCCL_INT8: "int8", NCCL_UINT8: "uint8", NCCL_INT32: "int32", NCCL_INT64: "int64",
          NCCL_FLOAT16: "float16", NCCL_FLOAT32: "float32", NCCL_FLOAT64: "float64"}
OPS = {NCCL_SUM: MPI.SUM, NCCL_PROD: MPI.PROD, NCCL_MAX: MPI.MAX, NCCL_MIN: MPI.MIN,
       NCCL_AVG: MPI.SUM}
calls = []   # what tapegrad asked NCCL for, for the test to look at


def _memory(pointer, count, datatype):
    """The numpy array of ``count`` elements of ``datatype`` at address ``pointer``."""
    dtype = np.dtype(DTYPES[datatype])
    raw = (ctypes.c_byte * (count * dtype.itemsize)).from_address(pointer)
    return np.frombuffer(raw, dtype=dtype)


def get_version():
    return 21805   # 2.18.5: averages natively (NCCL_AVG)


def get_unique_id():
    return tuple(np.random.default_rng().integers(-128, 128, 128).tolist())


_group = []   # send/recv calls between groupStart and groupEnd


def groupStart():
    _group.append([])


def groupEnd():
    requests = _group.pop()
    MPI.Request.Waitall([start() for start in requests])


class NcclCommunicator:
    def __init__(self, ndev, commId, rank):
        self.mpi = MPI.COMM_WORLD.Dup()
        ids = self.mpi.allgather(commId)
        assert all(i == ids[0] for i in ids), "every rank must get rank 0's unique id"
        assert (ndev, rank) == (self.mpi.Get_size(), self.mpi.Get_rank())
        self.size = ndev

    def destroy(self):
        self.mpi.Free()

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        calls.append(("allReduce", datatype, op))
        send, recv = _memory(sendbuf, count, datatype), _memory(recvbuf, count, datatype)
        self.mpi.Allreduce(MPI.IN_PLACE if sendbuf == recvbuf else send, recv, op=OPS[op])
        if op == NCCL_AVG:
            recv /= self.size

    def broadcast(self, sendbuff, recvbuff, count, datatype, root, stream):
        calls.append(("broadcast", datatype, root))
        assert sendbuff == recvbuff
        self.mpi.Bcast(_memory(recvbuff, count, datatype), root=root)

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        calls.append(("reduce", datatype, op))
        assert sendbuf == recvbuf
        buf = _memory(recvbuf, count, datatype)
        if self.mpi.Get_rank() == root:
            self.mpi.Reduce(MPI.IN_PLACE, buf, op=OPS[op], root=root)
            if op == NCCL_AVG:
                buf /= self.size
        else:
            self.mpi.Reduce(buf, None, op=OPS[op], root=root)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        calls.append(("allGather", datatype))
        self.mpi.Allgather(_memory(sendbuf, count, datatype),
                           _memory(recvbuf, count * self.size, datatype))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        calls.append(("reduceScatter", datatype, op))
        recv = _memory(recvbuf, recvcount, datatype)
        self.mpi.Reduce_scatter_block(_memory(sendbuf, recvcount * self.size, datatype), recv,
                                      op=OPS[op])
        if op == NCCL_AVG:
            recv /= self.size

    def send(self, sendbuf, count, datatype, peer, stream):
        assert _group, "send outside groupStart/groupEnd"
        _group[-1].append(lambda: self.mpi.Isend(_memory(sendbuf, count, datatype), dest=peer))

    def recv(self, recvbuf, count, datatype, peer, stream):
        assert _group, "recv outside groupStart/groupEnd"
        _group[-1].append(lambda: self.mpi.Irecv(_memory(recvbuf, count, datatype), source=peer))


class _Event:
    done = True

    def synchronize(self):
        pass


def install():
    """Put the fake cupy (with this fake NCCL, pointers, events) where tapegrad finds cupy."""
    from tapegrad import kernels
    from tapegrad.backend import cuda as backend_cuda
    nccl = types.ModuleType("cupy.cuda.nccl")
    nccl.__dict__.update({k: v for k, v in globals().items()
                          if k.startswith("NCCL_") or k in ("get_unique_id", "get_version",
                                                            "groupStart", "groupEnd",
                                                            "NcclCommunicator")})
    cupy = fake_cupy.cupy
    cupy.cuda.nccl = nccl
    fake_cupy.Stream.record = lambda self, event=None: _Event()
    fake_cupy.Stream.wait_event = lambda self, event: None
    fake_cupy.ndarray.data = property(lambda self: types.SimpleNamespace(ptr=self._a.ctypes.data))
    backend_cuda._cupy = cupy
    kernels._cuda = False
    sys.modules.update({"cupy": cupy, "cupy.cuda": cupy.cuda, "cupy.cuda.nccl": nccl})
