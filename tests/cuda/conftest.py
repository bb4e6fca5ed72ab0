"""Where the tests of tests/cuda run: on a real GPU with cupy, or else on the fake cupy.

With cupy and a CUDA device (``tg.cuda.is_available()`` before anything is faked), every
test here runs on the GPU. Without them, the ``cuda_backend`` fixture (used by every test
in this folder) puts ``fake_cupy.cupy`` in place of cupy for the length of each test, so
the same tests check tapegrad's cuda plumbing on any machine, CI included (see
fake_cupy.py for what that proves and what it does not). ``pytest -m "not cuda"`` leaves
the whole folder out.

Under the fake, the convolution and pooling kernels run on the array-only path of
``tapegrad/kernels`` (``kernels/cpu`` with ``kernels/generic.py``, the path tapegrad takes
when ``kernels/cuda`` cannot be imported): the numba.cuda kernels need a GPU, and are
checked in numba's CUDA simulator instead (tests/kernels/test_cuda_simulator.py).
"""
import sys

import pytest

import tapegrad as tg
from tapegrad import kernels
from tapegrad.backend import cuda as backend_cuda

from . import fake_cupy

REAL_GPU = tg.cuda.is_available()   # asked before any fake is installed
BACKEND = "cupy" if REAL_GPU else "fake cupy"

needs_real_gpu = pytest.mark.skipif(
    not REAL_GPU, reason="runs tapegrad's numba.cuda kernels, which need a real GPU (the fake "
                         "cupy cannot run them; tests/kernels/test_cuda_simulator.py checks them "
                         "in numba's CUDA simulator)")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/cuda/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.cuda)


def pytest_report_header(config):
    return f"tests/cuda run on: {BACKEND}"


@pytest.fixture(autouse=True)
def cuda_backend(monkeypatch):
    """"cupy" on a real GPU; else "fake cupy", installed for this test and removed after it."""
    if REAL_GPU:
        yield BACKEND
        return
    fake_cupy.reset()
    monkeypatch.setattr(backend_cuda, "_cupy", fake_cupy.cupy)
    monkeypatch.setattr(kernels, "_cuda", False)   # the array-only path (see above)
    for name, module in fake_cupy.MODULES.items():   # cupyx, for `import cupyx.scipy.special`
        monkeypatch.setitem(sys.modules, name, module)
    yield BACKEND
    fake_cupy.reset()
