"""Starting real multi-process jobs from tests: through tapegrad's launcher, with a timeout."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

RANKS = Path(__file__).parent / "ranks"
REPO = Path(__file__).resolve().parents[2]


def needs_mpi():
    pytest.importorskip("mpi4py", reason="the distributed tests need mpi4py and an MPI "
                                         "(pip install -e \".[test]\" brings both)")


def launch(script, nproc, *args, timeout=60, extra=()):
    """Run ``ranks/script`` on ``nproc`` processes; the CompletedProcess (text output)."""
    needs_mpi()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "tapegrad.distributed.run", "--nproc-per-node", str(nproc),
           *extra, str(RANKS / script), *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def assert_succeeded(result, nproc, line):
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for r in range(nproc):
        assert line.format(rank=r, size=nproc) in result.stdout, output
