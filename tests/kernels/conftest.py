"""Fixtures shared by the kernel tests."""
import math

import pytest

from tapegrad.kernels.cpu import blas_threads, threads


@pytest.fixture
def two_blas_threads():
    """numpy's OpenBLAS set to 2 threads for the test, then back (skipped where it has no
    thread switch, or was built for one thread); gives the thread count's getter."""
    found = blas_threads.switch()
    if found is None:
        pytest.skip("numpy's BLAS has no OpenBLAS thread switch here")
    set_threads, get_threads = found
    before = get_threads()
    set_threads(2)
    if get_threads() != 2:
        set_threads(before)
        pytest.skip("this OpenBLAS was built for one thread")
    yield get_threads
    set_threads(before)


@pytest.fixture(autouse=True)
def openblas_owns_the_cores(monkeypatch):
    """Each kernel test starts as a fresh process does: OpenBLAS's threads own the other
    cores until a convolution shares its batch (threads.py), whatever an earlier test ran."""
    monkeypatch.setattr(threads, "_cores_taken_at", -math.inf)
