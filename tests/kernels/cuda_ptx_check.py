"""Compile every CUDA kernel of tapegrad/kernels/cuda to PTX, without a GPU.

The simulator runs the kernels as Python, so it cannot catch what only the real
compiler rejects (a type it cannot infer, a Python feature the CUDA target lacks).
numba can compile a kernel to PTX, the GPU's assembly, on a machine with no GPU when it
finds the CUDA compiler libraries (NVVM and NVRTC: the CUDA toolkit, or the pip packages
``numba-cuda nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12``). This script does that for
float32 and float64 and the index types the kernels are launched with, and prints one
line per kernel.

    python tests/kernels/cuda_ptx_check.py

Exit status: 0 when everything compiled, 1 when a kernel failed, 77 when this numba
cannot compile PTX here at all (no CUDA compiler libraries, or numba's older built-in
CUDA target, which needs a driver to compile calls), which the test suite
(test_cuda_simulator.py) reports as a skip.
"""
import os
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

SKIP = 77


def main():
    os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
    try:
        from numba import cuda, types

        @cuda.jit(device=True, inline=True)
        def plus_one(x):
            return x + 1

        def probe(a):   # an (inlined) device function and min(), as in the kernels:
            a[0] = min(plus_one(a[1]), 2)   # numba's older built-in target needs a driver

        cuda.compile_ptx(probe, (types.float32[:],), cc=(8, 0))
    except Exception as error:   # no NVVM/NVRTC, or numba without its CUDA target
        print(f"cannot compile PTX here: {type(error).__name__}: {error}".splitlines()[0])
        return SKIP

    from numba import cuda, types
    from tapegrad.kernels.cuda import col2im, im2col, implicit_gemm, maxpool

    i64, boolean = types.int64, types.boolean
    failures = 0
    for dtype in (types.float32, types.float64):
        a4, a3 = types.Array(dtype, 4, "A"), types.Array(dtype, 3, "A")
        signatures = {
            "im2col": (im2col.im2col_kernel, (a4, a3) + (i64,) * 9),
            "col2im": (col2im.col2im_kernel, (a3, a4) + (i64,) * 10 + (dtype,)),
            "max_pool (int64 indices)": (maxpool.max_pool_kernel,
                                         (a4, a4, types.Array(i64, 4, "C"), boolean) + (i64,) * 8),
            "max_pool (int32 indices)": (maxpool.max_pool_kernel,
                                         (a4, a4, types.Array(types.int32, 4, "C"), boolean)
                                         + (i64,) * 8),
            "max_unpool_add": (maxpool.max_unpool_add_kernel,
                               (a3, types.Array(types.int32, 3, "A"), types.Array(dtype, 3, "C"))),
        }
        for product, parts in implicit_gemm._PRODUCTS.items():
            kernel = implicit_gemm._tiled_product(*parts, dtype, implicit_gemm.TILE)
            signatures[f"implicit_gemm {product}"] = (
                kernel, (a4, a4, a4, i64, i64, i64, types.UniTuple(i64, 14), dtype))
        for name, (kernel, signature) in signatures.items():
            function = getattr(kernel, "py_func", kernel)
            try:
                ptx, _ = cuda.compile_ptx(function, signature, cc=(8, 0))
                print(f"ok    {name} [{dtype}]: {len(ptx.splitlines())} lines of PTX")
            except Exception:
                failures += 1
                print(f"FAIL  {name} [{dtype}]\n{traceback.format_exc()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
