"""numpy's BLAS product called from inside numba (tapegrad/kernels/cpu/blas_calls.py)."""
import numpy as np
import pytest
from numba import njit

from tapegrad.kernels.cpu import blas_calls, blas_threads

rng = np.random.default_rng(3)


@njit
def product(gemm, a, b, out, alpha, beta):
    """out = alpha a @ b + beta out, each matrix's rows contiguous, through ``gemm``."""
    size = a.itemsize
    gemm(blas_calls.ROW_MAJOR, blas_calls.NO_TRANSPOSE, blas_calls.NO_TRANSPOSE,
         a.shape[0], b.shape[1], a.shape[1], alpha, a.ctypes.data, a.strides[0] // size,
         b.ctypes.data, b.strides[0] // size, beta, out.ctypes.data, out.strides[0] // size)


def needs_openblas():
    if not blas_threads.loaded_openblas():
        pytest.skip("numpy's BLAS is not an OpenBLAS here")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_from_numba_is_numpys_product(dtype):
    needs_openblas()
    gemm = blas_calls.gemm(np.dtype(dtype))
    assert gemm is not None
    big_a = rng.standard_normal((9, 14)).astype(dtype)
    a, b = big_a[2:7, 3:11], rng.standard_normal((8, 6)).astype(dtype)   # a: rows 14 apart
    out = np.ones((5, 6), dtype)
    product(gemm, a, b, out, dtype(2), dtype(0.5))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, 2 * (a @ b) + 0.5, rtol=tol, atol=tol)


def test_gemm_is_looked_up_once_per_dtype():
    needs_openblas()
    assert blas_calls.gemm(np.dtype(np.float32)) is blas_calls.gemm(np.zeros(1, np.float32).dtype)


def test_no_gemm_for_other_dtypes_or_without_openblas(monkeypatch):
    assert blas_calls.gemm(np.dtype(np.int32)) is None
    monkeypatch.setattr(blas_calls, "_found", {})
    monkeypatch.setattr(blas_threads, "loaded_openblas", lambda: [])
    assert blas_calls.gemm(np.dtype(np.float32)) is None
