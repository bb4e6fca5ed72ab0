"""The CUDA kernels (tapegrad/kernels/cuda) run in numba's CUDA simulator, on every CI run.

The simulator executes a ``@cuda.jit`` kernel as Python, one thread per simulated GPU
thread, on numpy arrays: it checks the index arithmetic, the thread layouts and the
shared-memory tiling of every kernel without a GPU. numba reads the switch
``NUMBA_ENABLE_CUDASIM=1`` when it is first imported, and this process imported it
long ago (the cpu kernels use it), so the checks run in a fresh interpreter
(``cuda_simulator_checks.py``, which lists them and says what each compares) and each
test below reports one of them.

What the simulator cannot check: cupy's stream, the device views of cupy arrays, and
speed. The tests marked ``cuda`` (tests/cuda) run the operations on a GPU, where one
exists. ``test_the_kernels_compile_to_ptx`` compiles every kernel with numba's real
CUDA compiler where it is installed (it needs no GPU), and is skipped elsewhere.
"""
import json
import os
import subprocess
import sys

import pytest

from . import cuda_simulator_checks as checks

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(script, simulator, timeout):
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.run([sys.executable, os.path.join(HERE, script)], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def results():
    """{check name: "ok" or its traceback}, from one run of every check in the simulator."""
    done = _run("cuda_simulator_checks.py", simulator=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(f"the simulator run failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", checks.CHECKS)
def test_the_cuda_kernel_agrees_with_the_cpu_in_the_simulator(name, results):
    outcome = results.get(name, "was not run")
    assert outcome == "ok", f"{name}:\n{outcome}"


def test_every_check_has_a_distinct_name():
    assert len(set(checks.CHECKS)) == len(checks.CHECKS)


def test_the_kernels_compile_to_ptx():
    done = _run("cuda_ptx_check.py", simulator=False, timeout=600)
    if done.returncode == 77:
        pytest.skip(done.stdout.strip() or "numba cannot compile PTX here")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
