"""Every collective, reduction and dtype on real processes (3 on the MPI backend, 2 on the NCCL
path), against numpy; ranks/collectives.py does the checking on each process."""
import pytest

from .launch import assert_succeeded, launch


def test_every_collective_agrees_with_numpy_on_every_rank_of_three():
    # "gloo" is PyTorch's CPU name; tapegrad serves it with the MPI backend. (The NCCL test
    # below runs the same checks on 2 processes.)
    result = launch("collectives.py", 3, "gloo")
    assert_succeeded(result, 3, "rank {rank} of {size}: every collective agrees with numpy")


def test_the_nccl_path_on_a_fake_cupy_and_a_fake_nccl_over_mpi():
    # No GPU needed: tapegrad's NCCL backend (unique id over MPI, device pointers, counts,
    # datatypes, reduction codes, group calls) drives ranks/fake_nccl.py, which moves the
    # bytes behind those pointers with MPI. NCCL itself is not exercised (see the next test).
    result = launch("collectives.py", 2, "nccl", "fake")
    assert_succeeded(result, 2, "rank {rank} of {size}: every collective agrees with numpy")


def test_every_collective_on_nccl_with_one_gpu_per_process():
    import tapegrad as tg
    if tg.cuda.device_count() < 2:
        pytest.skip("the NCCL backend needs one CUDA GPU per process, so 2 GPUs for this test "
                    "(the fake-NCCL test above covers its plumbing without a GPU)")
    result = launch("collectives.py", 2, "nccl", timeout=180)
    assert_succeeded(result, 2, "rank {rank} of {size}: every collective agrees with numpy")
