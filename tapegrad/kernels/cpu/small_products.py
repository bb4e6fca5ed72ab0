"""The small matrix products of a recurrent time loop, cut to the size OpenBLAS runs fastest.

Each step of a recurrent layer multiplies a batch of states by the same weight, h W_hhᵀ
forwards and δ W_hh backwards: (32, 128) @ (128, 512) and (32, 512) @ (512, 128) for an
LSTM of hidden size 128 at batch 32. OpenBLAS has kernels for small products that skip
the packing of its general GEMM, and takes them when M·N·K is at most about 10⁶; this
product's 2.1·10⁶ is above that. Measured (2-core Xeon, AVX-512, numpy 2.4's OpenBLAS
0.3.31, 1 thread, CPU time per product):

    forwards   (32, 128) @ (128, 512)   whole 29–31 µs;  four blocks of 8 rows 21.6 µs
    backwards  (32, 512) @ (512, 128)   whole 32 µs;     four blocks of 8 rows 21.1 µs

but only when the right-hand matrix starts on a 64-byte boundary: 16 bytes past one,
where numpy's larger arrays usually start, the blocks take 31–32 µs. (Where the left
matrix and the output start made no difference.) Blocks of 11 rows took 24.8 µs, of 4
rows 25.1 µs, of 16 rows (M·N·K above 10⁶) 37 µs; at (32, 256) @ (256, 1024) blocks
small enough would be 3 rows, and took 170 µs against 123 µs for the whole product.

So a time loop copies its weight once per sequence into a 64-byte aligned array
(``aligned_copy``) and runs each step's product as blocks of rows (``block_rows``,
``matmul``): the largest power of two of rows that keeps M·N·K within the limit, and
the whole product where that would be fewer than ``MIN_ROWS`` rows. On other BLAS
libraries and other processors the blocks cost numpy a short loop of calls at worst.
"""
SMALL_PRODUCT = 10**6   # the most M·N·K OpenBLAS takes its small-matrix kernels for
MIN_ROWS = 4            # blocks of fewer rows cost more than the whole product
ALIGNMENT = 64          # bytes: the start the small-matrix kernels want of the weight
TRANSPOSE_COLUMNS = 64  # columns per block of aligned_copy's copy


def aligned_copy(xp, a):
    """``a`` as a C-contiguous array whose data starts on a 64-byte boundary: ``a`` itself
    if it is one, else a copy (on other backends than host numpy: C-contiguous only)."""
    if not xp.numba_cpu:
        return xp.ascontiguousarray(a)
    if a.flags.c_contiguous and a.ctypes.data % ALIGNMENT == 0:
        return a
    spare = ALIGNMENT // a.itemsize
    flat = xp.empty(a.size + spare, a.dtype)
    start = (-flat.ctypes.data % ALIGNMENT) // a.itemsize
    copy = flat[start:start + a.size].reshape(a.shape)
    # in blocks of 64 columns: from a transposed weight (512, 128)ᵀ, 25 µs against 62 µs
    # for numpy's copy of the whole (its reads jump a row of the source per value)
    for column in range(0, a.shape[-1], TRANSPOSE_COLUMNS):
        copy[..., column:column + TRANSPOSE_COLUMNS] = a[..., column:column + TRANSPOSE_COLUMNS]
    return copy


def block_rows(rows, inner, columns):
    """The rows of each block for an (rows, inner) @ (inner, columns) product: all of them
    unless blocks of at least ``MIN_ROWS`` rows bring M·N·K within the limit, then the
    largest power of two that does."""
    fitting = SMALL_PRODUCT // max(1, inner * columns)
    if fitting >= rows or fitting < MIN_ROWS:
        return rows
    return 1 << (fitting.bit_length() - 1)


def matmul(xp, a, b, out, size):
    """out = a @ b in blocks of ``size`` rows (``block_rows``). The blocks are one batched
    ``matmul`` on (rows / size, size, ·) views where a and out are C-contiguous: numpy
    then calls BLAS for each block itself, 19 µs for the LSTM's forward product above
    against 23 µs for a Python loop of four calls."""
    rows = a.shape[0]
    if size >= rows or not xp.numba_cpu:
        return xp.matmul(a, b, out=out)
    if not (a.flags.c_contiguous and out.flags.c_contiguous):
        for start in range(0, rows, size):
            xp.matmul(a[start:start + size], b, out=out[start:start + size])
        return out
    whole = rows - rows % size   # the rows of the full blocks
    xp.matmul(a[:whole].reshape(-1, size, a.shape[1]), b,
              out=out[:whole].reshape(-1, size, out.shape[1]))
    if whole < rows:
        xp.matmul(a[whole:], b, out=out[whole:])
    return out
