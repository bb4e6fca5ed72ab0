"""examples/ddp_mnist.py --quick on 2 processes through the launcher: LeNet-5 learns."""
import re

from ..distributed.launch import REPO, needs_mpi


def test_ddp_mnist_quick_learns_on_two_processes():
    import os
    import subprocess
    import sys
    needs_mpi()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "tapegrad.distributed.run", "--nproc-per-node",
                             "2", "examples/ddp_mnist.py", "--quick"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on 2 processes" in result.stdout
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", result.stdout).group(1))
    assert accuracy > 40, result.stdout   # one short epoch on 2,000 digits; guessing is 10%
