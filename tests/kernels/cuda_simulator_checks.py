"""Checks of the CUDA kernels (tapegrad/kernels/cuda), run in numba's CUDA simulator.

numba reads ``NUMBA_ENABLE_CUDASIM`` once, when it is first imported, and the test
process has imported numba long before (the cpu kernels use it). So
``test_cuda_simulator.py`` runs this file in a fresh interpreter with the flag set:

    NUMBA_ENABLE_CUDASIM=1 python tests/kernels/cuda_simulator_checks.py [NAME ...]

Every check compares a GPU kernel, run by the simulator on numpy arrays, with the cpu
kernels of tapegrad/kernels (themselves tested against the definitions) and, for the
forward convolution, with the definition written here with loops. The last line of
the output is a JSON object {check name: "ok" or the failure's traceback}.

This module can be imported without the simulator (the test file reads ``CHECKS`` from
it): the CUDA kernels are imported only inside ``main``.
"""
import json
import os
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tapegrad.backend.device import HOST as xp  # noqa: E402  (numpy's backend namespace)
from tapegrad.kernels.geometry import Window  # noqa: E402  (no numba.cuda in here)

rng = np.random.default_rng(11)
DTYPES = ("float32", "float64")
TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-12, atol=1e-12)}


def conv_case(x_shape, w_shape, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1,
              bias=True):
    window = Window(tuple(x_shape[2:]), tuple(w_shape[2:]), stride, dilation, padding, groups)
    return dict(x_shape=x_shape, w_shape=w_shape, window=window, bias=bias)


# name -> convolution; padding is (top, bottom, left, right)
CONV_CASES = {
    "plain": conv_case((2, 3, 5, 5), (4, 3, 3, 3)),
    "padding 1": conv_case((2, 2, 5, 6), (3, 2, 3, 3), padding=(1, 1, 1, 1), bias=False),
    "stride (2, 3), asymmetric padding": conv_case((2, 2, 7, 6), (2, 2, 3, 2), stride=(2, 3),
                                                   padding=(1, 0, 2, 1)),
    "dilation (2, 3)": conv_case((2, 2, 7, 7), (3, 2, 3, 2), dilation=(2, 3),
                                 padding=(2, 2, 1, 1)),
    "groups 2": conv_case((2, 4, 6, 5), (4, 2, 3, 3), stride=(2, 1), padding=(1, 1, 1, 1),
                          groups=2),
    "depthwise": conv_case((2, 4, 5, 5), (4, 1, 3, 3), stride=(2, 2), padding=(1, 1, 1, 1),
                           groups=4),
    "depthwise, 2 outputs per channel": conv_case((2, 2, 5, 6), (4, 1, 2, 2), groups=2),
    "1x1 stride 2": conv_case((2, 3, 5, 5), (2, 3, 1, 1), stride=(2, 2)),
    "one image": conv_case((1, 3, 5, 5), (2, 3, 3, 3), padding=(1, 1, 1, 1)),
    "kernel covers the image": conv_case((2, 2, 3, 3), (2, 2, 3, 3)),
    "height 1 (conv1d)": conv_case((2, 2, 1, 7), (3, 2, 1, 3), dilation=(1, 2),
                                   padding=(0, 0, 1, 1)),
    "empty batch": conv_case((0, 2, 5, 5), (2, 2, 3, 3), padding=(1, 1, 1, 1)),
}
# the implicit GEMM (teaching kernel) on the cases that exercise every index path
IMPLICIT_CASES = ["plain", "stride (2, 3), asymmetric padding", "dilation (2, 3)", "groups 2",
                  "depthwise", "one image"]

POOL_CASES = {
    "kernel 2 stride 2": Window((6, 6), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
    "kernel 3 stride 2 padding 1": Window((7, 5), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    "dilation 2 padding 2": Window((7, 7), (3, 3), (1, 2), (2, 2), (2, 2, 2, 2)),
    "ceil mode (bottom/right padding grown)": Window((5, 5), (2, 2), (2, 2), (1, 1), (0, 1, 0, 1)),
    "overlapping windows": Window((5, 6), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
    "height 1 (max_pool1d)": Window((1, 7), (1, 3), (1, 2), (1, 1), (0, 0, 1, 1)),
    "windows of padding alone": Window((1, 1), (2, 2), (1, 1), (2, 2), (1, 1, 1, 1)),
}

FOLD_WINDOWS = {
    "kernel 2": Window((4, 5), (2, 2), (1, 1), (1, 1), (0, 0, 0, 0)),
    "every option": Window((5, 5), (2, 3), (1, 2), (2, 1), (1, 1, 1, 1)),
}


def _names():
    names = []
    for case in CONV_CASES:
        names += [f"conv {case} [{dtype}]" for dtype in DTYPES]
    names += [f"implicit gemm {case} [float64]" for case in IMPLICIT_CASES]
    names += ["implicit gemm plain [float32]", "implicit gemm at the GPU's tile size 16",
              "grid-stride loops with more threads than items and with one block",
              "the weight gradient reuses the forward's columns only while it owns them"]
    for case in POOL_CASES:
        names += [f"max pool {case} [{dtype}]" for dtype in DTYPES]
    names += ["max pool ties go to the first maximum and NaN wins",
              "max pool of integers", "max pool with int32 indices",
              "max pool of an empty batch"]
    names += [f"unfold and fold {case}" for case in FOLD_WINDOWS]
    names += ["conv2d op gradcheck through the CUDA kernels",
              "max_pool2d op gradcheck through the CUDA kernels"]
    return names


CHECKS = _names()


# -- references -----------------------------------------------------------------------------------
def conv_direct(x, w, b, window):
    """y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_padded[n, g·Cg + c, p·sh + i·dh, q·sw + j·dw]."""
    batch, channels, height, width = x.shape
    out_channels, cg, kh, kw = w.shape
    top, bottom, left, right = window.padding
    padded = np.zeros((batch, channels, height + top + bottom, width + left + right), x.dtype)
    padded[:, :, top:top + height, left:left + width] = x
    (sh, sw), (dh, dw) = window.stride, window.dilation
    ho, wo = window.out_size
    og = out_channels // window.groups
    y = np.zeros((batch, out_channels, ho, wo), "float64")
    for o in range(out_channels):
        g = o // og
        for p in range(ho):
            for q in range(wo):
                patch = padded[:, g * cg:(g + 1) * cg, p * sh:p * sh + dh * (kh - 1) + 1:dh,
                               q * sw:q * sw + dw * (kw - 1) + 1:dw]
                y[:, o, p, q] = (patch * w[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b[None, :, None, None]
    return y


def close(actual, expected, dtype, what):
    assert actual.dtype == np.dtype(dtype), f"{what}: dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOLERANCE[dtype])


# -- the checks -----------------------------------------------------------------------------------
def check_conv(gpu, cpu, case, dtype):
    """forward, input gradient and weight gradient, alone and from one backward pass, against
    the cpu kernels (and the forward against the definition)."""
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    w = rng.standard_normal(case["w_shape"]).astype(dtype)
    b = rng.standard_normal(case["w_shape"][0]).astype(dtype) if case["bias"] else None
    window = case["window"]
    y = gpu.conv_forward(xp, x, w, b, window)
    close(y, cpu.conv_forward(xp, x, w, b, window), dtype, "forward vs cpu")
    close(y, conv_direct(x, w, b, window).astype(dtype), dtype, "forward vs definition")
    grad = rng.standard_normal(y.shape).astype(dtype)
    close(gpu.conv_input_grad(xp, grad, w, window), cpu.conv_input_grad(xp, grad, w, window),
          dtype, "input gradient")
    close(gpu.conv_weight_grad(xp, x, grad, window), cpu.conv_weight_grad(xp, x, grad, window),
          dtype, "weight gradient")
    dx, dw = gpu.conv_backward(xp, x, grad, w, window)
    close(dx, cpu.conv_input_grad(xp, grad, w, window), dtype, "input gradient of backward")
    close(dw, cpu.conv_weight_grad(xp, x, grad, window), dtype, "weight gradient of backward")


def check_grid_shapes(gpu, cpu, launch):
    """Any launch shape is right: 64 threads × 4 blocks for a few items (most threads idle),
    and 1 block of 1 thread (one thread walks every item)."""
    saved = launch.SIMULATOR_THREADS, launch.SIMULATOR_BLOCKS
    try:
        for threads, blocks in ((64, 4), (1, 1)):
            launch.SIMULATOR_THREADS, launch.SIMULATOR_BLOCKS = threads, blocks
            check_conv(gpu, cpu, CONV_CASES["groups 2"], "float64")
            check_pool(gpu, cpu, POOL_CASES["kernel 3 stride 2 padding 1"], "float64")
    finally:
        launch.SIMULATOR_THREADS, launch.SIMULATOR_BLOCKS = saved


def check_stamps(gpu, cpu, stamp_class):
    """Forward with a stamp, then another convolution of the same shape with its own stamp:
    the first one's weight gradient must recompute its columns (and be right)."""
    case = CONV_CASES["padding 1"]
    window = case["window"]
    x1, x2 = (rng.standard_normal(case["x_shape"]) for _ in range(2))
    w = rng.standard_normal(case["w_shape"])
    first, second = stamp_class(), stamp_class()
    gpu.conv_forward(xp, x1, w, None, window, first)
    grad = rng.standard_normal((2, 3, 5, 6))
    close(gpu.conv_weight_grad(xp, x1, grad, window, first),
          cpu.conv_weight_grad(xp, x1, grad, window), "float64", "reused columns")
    gpu.conv_forward(xp, x2, w, None, window, second)
    close(gpu.conv_weight_grad(xp, x1, grad, window, first),
          cpu.conv_weight_grad(xp, x1, grad, window), "float64", "columns overwritten since")
    close(gpu.conv_weight_grad(xp, x2, grad, window, second),
          cpu.conv_weight_grad(xp, x2, grad, window), "float64", "the second convolution")


def check_pool(gpu, cpu, window, dtype, x=None, index_dtype="int64"):
    """values and positions against the cpu kernel; the backward (with atomic additions where
    windows overlap) against the cpu scatter; the values-only kernel against the values."""
    if x is None:
        x = rng.standard_normal((2, 3) + window.in_size).astype(dtype)
    values, indices = gpu.max_pool(xp, x, window, index_dtype)
    expected_values, expected_indices = cpu.max_pool(xp, x, window, index_dtype)
    assert indices.dtype == np.dtype(index_dtype), f"indices are {indices.dtype}"
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(indices, expected_indices)
    assert values.dtype == x.dtype
    np.testing.assert_array_equal(gpu.max_pool_values(xp, x, window), expected_values)
    if x.dtype.kind == "f":
        grad = rng.standard_normal(values.shape).astype(dtype)
        close(gpu.max_unpool_add(xp, grad, indices, window.in_size),
              cpu.max_unpool_add(xp, grad, expected_indices, window.in_size), dtype, "backward")


def check_ties_and_nan(gpu, cpu):
    window = POOL_CASES["overlapping windows"]
    x = rng.integers(0, 3, (2, 2) + window.in_size).astype("float64")   # many ties
    check_pool(gpu, cpu, window, "float64", x)
    x[0, 0, 1, 2] = x[1, 1, 3, 4] = x[1, 1, 3, 5] = np.nan
    values, indices = gpu.max_pool(xp, x, window)
    expected_values, expected_indices = cpu.max_pool(xp, x, window)
    np.testing.assert_array_equal(values, expected_values)   # (NaN == NaN here)
    np.testing.assert_array_equal(indices, expected_indices)
    assert np.isnan(values[0, 0, 0, 0]) and indices[0, 0, 0, 0] == 1 * 6 + 2


def check_unfold_fold(gpu, cpu, window):
    for dtype in DTYPES:
        x = rng.standard_normal((2, 3) + window.in_size).astype(dtype)
        columns = gpu.unfold(xp, x, window)
        close(columns, cpu.unfold(xp, x, window), dtype, "unfold")
        y = rng.standard_normal(columns.shape).astype(dtype)
        close(gpu.fold(xp, y, window), cpu.fold(xp, y, window), dtype, "fold")


def check_op_gradcheck(gpu, op):
    """The differentiable operations, with tapegrad.kernels' functions swapped (in this
    process only) for the CUDA ones: the signatures fit what the ops call, and first and
    second derivatives agree with finite differences."""
    import tapegrad as tg
    from tapegrad import kernels
    from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck
    from tapegrad.autograd.ops.convolution import conv2d
    from tapegrad.autograd.ops.pooling import max_pool2d

    names = ["conv_forward", "conv_input_grad", "conv_weight_grad", "unfold", "fold", "max_pool",
             "max_pool_values", "max_unpool_add"]
    saved = {name: getattr(kernels, name) for name in names}
    try:
        for name in names:
            setattr(kernels, name, getattr(gpu, name))

        def leaf(*shape):
            return tg.tensor(rng.uniform(-2, 2, shape), dtype=tg.float64, requires_grad=True)

        if op == "conv2d":
            inputs = (leaf(2, 2, 3, 3), leaf(2, 1, 2, 2), leaf(2))
            fn = lambda x, w, b: conv2d(x, w, b, padding=1, stride=(2, 1), groups=2)  # noqa
        else:
            inputs = (leaf(2, 1, 4, 4),)
            fn = lambda x: max_pool2d(x, 3, stride=2, padding=1)  # noqa
        assert gradcheck(fn, inputs)
        assert gradgradcheck(fn, inputs)
    finally:
        for name, function in saved.items():
            setattr(kernels, name, function)


def run(name):
    from tapegrad import kernels as cpu
    from tapegrad.kernels import cuda as gpu
    from tapegrad.kernels.cuda import implicit_gemm, launch

    assert launch.SIMULATOR, "run with NUMBA_ENABLE_CUDASIM=1"
    dtype = name[name.rfind("[") + 1:-1] if name.endswith("]") else "float64"
    base = name[:name.rfind(" [")] if name.endswith("]") else name
    if base.startswith("conv "):
        check_conv(gpu, cpu, CONV_CASES[base[5:]], dtype)
    elif base.startswith("implicit gemm ") or name == "implicit gemm at the GPU's tile size 16":
        saved = gpu.ALGORITHM, implicit_gemm.TILE
        gpu.ALGORITHM = "implicit_gemm"
        # a small tile keeps the simulator fast (every simulated thread is a Python thread)
        implicit_gemm.TILE = 16 if name.endswith("16") else 4
        try:
            case = "one image" if name.endswith("16") else base[len("implicit gemm "):]
            check_conv(gpu, cpu, CONV_CASES[case], dtype)
        finally:
            gpu.ALGORITHM, implicit_gemm.TILE = saved
    elif base.startswith("grid-stride"):
        check_grid_shapes(gpu, cpu, launch)
    elif base.startswith("the weight gradient reuses"):
        check_stamps(gpu, cpu, gpu.Stamp)
    elif base.startswith("max pool ties"):
        check_ties_and_nan(gpu, cpu)
    elif base == "max pool of integers":
        window = POOL_CASES["kernel 3 stride 2 padding 1"]
        check_pool(gpu, cpu, window, "int32", rng.integers(-50, 50, (2, 2) + window.in_size,
                                                            dtype="int32"))
    elif base == "max pool with int32 indices":
        check_pool(gpu, cpu, POOL_CASES["dilation 2 padding 2"], "float32", index_dtype="int32")
    elif base == "max pool of an empty batch":
        check_pool(gpu, cpu, POOL_CASES["kernel 2 stride 2"], "float64",
                   np.zeros((0, 2, 6, 6)))
    elif base.startswith("max pool "):
        check_pool(gpu, cpu, POOL_CASES[base[len("max pool "):]], dtype)
    elif base.startswith("unfold and fold "):
        check_unfold_fold(gpu, cpu, FOLD_WINDOWS[base[len("unfold and fold "):]])
    elif base.endswith("through the CUDA kernels"):
        check_op_gradcheck(gpu, base.split()[0])
    else:
        raise KeyError(f"no check named {name!r}")


def main(names):
    sys.setswitchinterval(5e-4)   # simulated threads hand over the interpreter more often
    results, times = {}, {}
    for name in names or CHECKS:
        start = time.perf_counter()
        try:
            run(name)
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc()
        times[name] = round(time.perf_counter() - start, 3)
    if os.environ.get("TAPEGRAD_SIM_TIMES"):
        for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
            print(f"{seconds:7.2f} s  {name}", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
