"""Every collective, reduction and dtype on 2 and 3 real processes, against numpy
(ranks/collectives.py does the checking on each process)."""
import pytest

from .launch import assert_succeeded, launch


@pytest.mark.parametrize("nproc, backend", [(2, "mpi"), (3, "gloo")])
def test_every_collective_agrees_with_numpy_on_every_rank(nproc, backend):
    result = launch("collectives.py", nproc, backend)
    assert_succeeded(result, nproc, "rank {rank} of {size}: every collective agrees with numpy")
