"""The row blocks and aligned weights of the recurrent time loops' small products
(tapegrad/kernels/cpu/small_products.py): blocks within the size limit, the aligned copy
is the same matrix starting on a 64-byte boundary, and a product computed in blocks (one
batched call, a remainder, or a loop for strided arrays) is the whole product."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kernels.cpu import small_products as small

xp = tg.from_numpy(np.zeros(1)).device.xp
rng = np.random.default_rng(11)


def test_an_lstm_step_of_hidden_128_at_batch_32_runs_in_blocks_of_8_rows():
    # forwards (32, 128) @ (128, 512) and backwards (32, 512) @ (512, 128): M·N·K = 2.1·10⁶
    assert small.block_rows(32, 128, 512) == 8
    assert small.block_rows(32, 512, 128) == 8


def test_a_product_within_the_limit_stays_whole():
    assert small.block_rows(32, 128, 128) == 32     # an RNN step: 524 288
    assert small.block_rows(1, 4096, 4096) == 1


def test_blocks_below_the_minimum_rows_leave_the_product_whole():
    # (32, 256) @ (256, 1024): blocks within the limit would have 3 rows
    assert small.block_rows(32, 256, 1024) == 32


@pytest.mark.parametrize("rows, inner, columns", [(20, 200, 800), (33, 128, 512), (7, 100, 1000),
                                                   (64, 128, 384), (5, 1, 1)])
def test_blocks_are_a_power_of_two_of_rows_within_the_limit(rows, inner, columns):
    size = small.block_rows(rows, inner, columns)
    if size < rows:
        assert size & (size - 1) == 0 and size >= small.MIN_ROWS
        assert size * inner * columns <= small.SMALL_PRODUCT < 2 * size * inner * columns
    else:
        assert size == rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(20, 12), (70, 130)])   # one block of columns, several
def test_the_aligned_copy_is_the_same_matrix_on_a_64_byte_boundary(dtype, shape):
    size = shape[0] * shape[1]
    for offset in range(4):   # whatever the source's own alignment
        source = rng.standard_normal(size + 4).astype(dtype)[offset:offset + size].reshape(shape)
        for a in (source, source.T, source[:, 1:]):
            copy = small.aligned_copy(xp, a)
            assert copy.ctypes.data % small.ALIGNMENT == 0
            assert copy.flags.c_contiguous and copy.dtype == dtype
            np.testing.assert_array_equal(copy, a)
            if a.flags.c_contiguous and a.ctypes.data % small.ALIGNMENT == 0:
                assert copy is a
            else:
                assert not np.shares_memory(copy, source)


def test_an_aligned_contiguous_array_is_taken_as_it_is():
    a = small.aligned_copy(xp, rng.standard_normal((8, 16)).astype(np.float32))
    assert small.aligned_copy(xp, a) is a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, size", [(20, 4), (23, 4), (3, 1), (6, 8)],
                         ids=["whole-blocks", "with-remainder", "single-rows", "one-block"])
def test_a_product_in_row_blocks_is_the_whole_product(dtype, rows, size):
    a = rng.standard_normal((rows, 200)).astype(dtype)
    b = small.aligned_copy(xp, rng.standard_normal((800, 200)).astype(dtype).T)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    out = np.full((rows, 800), np.nan, dtype)
    assert small.matmul(xp, a, b, out, size) is out
    np.testing.assert_allclose(out, exact, rtol=tol, atol=tol)
    strided_out = np.full((rows, 1600), np.nan, dtype)[:, ::2]   # block by block, in place
    strided_a = np.repeat(a, 2, axis=1)[:, ::2]
    assert small.matmul(xp, strided_a, b, strided_out, size) is strided_out
    np.testing.assert_allclose(strided_out, exact, rtol=tol, atol=tol)
