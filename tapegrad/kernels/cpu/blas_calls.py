"""numpy's BLAS matrix product as a function a numba loop can call.

A loop that runs whole inside numba (``recurrent_rows.py``: every step of a recurrent layer,
for a range of the batch, on one thread of the pool) cannot call ``numpy.matmul``. It
calls the same OpenBLAS that numpy has loaded, through its C interface:

    gemm(order, trans_a, trans_b, M, N, K, α, A, lda, B, ldb, β, C, ldc):  C = α A B + β C

with A (M, K), B (K, N), C (M, N) given by the address of their first element and the
distance in elements between the starts of two rows (row-major: ``ROW_MAJOR``). numba
calls a ctypes function with its argument types declared, without the GIL, and keeps the
compiled loop in its on-disk cache when the function is one of the loop's arguments, as
``gemm`` below is (the compiled code then depends on its signature, not on its address).

numpy's wheels bundle OpenBLAS built with 64-bit integers and their names prefixed
``scipy_`` and suffixed ``64_`` (``scipy_cblas_sgemm64_``); a system OpenBLAS names them
``cblas_sgemm`` with 32-bit integers. Where numpy's BLAS is neither (MKL, Accelerate, a
platform without /proc), ``gemm`` answers None and the loops run as before, one numpy
call at a time (``kernels/recurrence.py``).
"""
import ctypes

from . import blas_threads

ROW_MAJOR = 101   # CblasRowMajor
NO_TRANSPOSE = 111   # CblasNoTrans

_NAMES = {   # dtype name: [(symbol, integer type)], the likeliest first
    "float32": [("scipy_cblas_sgemm64_", ctypes.c_int64), ("cblas_sgemm64_", ctypes.c_int64),
                ("scipy_cblas_sgemm", ctypes.c_int), ("cblas_sgemm", ctypes.c_int)],
    "float64": [("scipy_cblas_dgemm64_", ctypes.c_int64), ("cblas_dgemm64_", ctypes.c_int64),
                ("scipy_cblas_dgemm", ctypes.c_int), ("cblas_dgemm", ctypes.c_int)],
}
_SCALARS = {"float32": ctypes.c_float, "float64": ctypes.c_double}
_found = {}   # dtype name: the function, or None where there is none


def gemm(dtype):
    """OpenBLAS's gemm for an array's ``dtype`` (float32 or float64) as a ctypes function,
    or None."""
    name = str(dtype)
    if name not in _found:
        _found[name] = _find(name)
    return _found[name]


def _find(name):
    if name not in _NAMES:
        return None
    for library in blas_threads.opened_openblas():
        for symbol, integer in _NAMES[name]:
            function = getattr(library, symbol, None)
            if function is not None:
                scalar, address = _SCALARS[name], ctypes.c_void_p
                function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                     integer, integer, integer, scalar, address, integer,
                                     address, integer, scalar, address, integer]
                function.restype = None
                return function
    return None
