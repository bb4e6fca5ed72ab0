"""The process group in this one process (a world of one), and the errors of misuse."""
import sys

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.distributed as dist


@pytest.fixture
def world_of_one(monkeypatch):
    pytest.importorskip("mpi4py")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    dist.init_process_group("gloo")
    yield
    dist.destroy_process_group()


def test_importing_tapegrad_and_the_package_loads_neither_mpi4py_nor_cupy():
    import subprocess
    code = ("import sys, tapegrad, tapegrad.distributed, tapegrad.nn.parallel, "
            "tapegrad.data.distributed; print('mpi4py' in sys.modules, 'cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_before_init_the_rank_is_minus_one_and_collectives_say_what_to_call():
    if dist.is_initialized():
        pytest.skip("a process group is up in this process")
    assert dist.get_rank() == -1 and dist.get_world_size() == -1
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(tg.ones(2))


def test_a_world_of_one_process(world_of_one):
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "gloo")
    x = tg.tensor([1.0, 2.0])
    dist.all_reduce(x, op=dist.ReduceOp.AVG)
    work = dist.broadcast(x, src=0, async_op=True)
    assert work.wait() and work.is_completed()
    np.testing.assert_allclose(x.numpy(), [1.0, 2.0])
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group("mpi")


def test_misuse_is_named_before_anything_is_sent(world_of_one):
    with pytest.raises(RuntimeError, match="not contiguous"):
        dist.all_reduce(tg.ones(3, 4).T)
    with pytest.raises(RuntimeError, match="AVG needs a floating-point"):
        dist.all_reduce(tg.ones(3, dtype=tg.int64), op=dist.ReduceOp.AVG)
    with pytest.raises(RuntimeError, match="bitwise"):
        dist.all_reduce(tg.ones(3), op=dist.ReduceOp.BAND)
    with pytest.raises(ValueError, match="src=1 is not a rank"):
        dist.broadcast(tg.ones(3), src=1)
    with pytest.raises(ValueError, match="one tensor per process"):
        dist.all_gather([tg.ones(3), tg.ones(3)], tg.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        dist.all_gather([tg.ones(2)], tg.ones(3))
    with pytest.raises(TypeError, match="must be a tapegrad Tensor"):
        dist.all_reduce(np.ones(3))
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(tg.ones(3), op="sum")


def test_unknown_backend_and_disagreeing_environment(monkeypatch):
    pytest.importorskip("mpi4py")
    if dist.is_initialized():
        pytest.skip("a process group is up in this process")
    with pytest.raises(ValueError, match="unknown backend 'tcp'"):
        dist.init_process_group("tcp")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(RuntimeError, match="alone in its MPI job.*tapegrad.distributed.run"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_the_nccl_backend_needs_a_gpu(monkeypatch):
    pytest.importorskip("mpi4py")
    if tg.cuda.is_available():
        pytest.skip("this machine has a GPU: tests/distributed/test_nccl.py runs NCCL for real")
    with pytest.raises(RuntimeError, match="cupy|CUDA|cuda"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()
