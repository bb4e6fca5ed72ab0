"""When does splitting a one-pass optimizer update between threads pay? Serial against
parallel numba kernels (kernels/cpu/optimizer_steps.py, axpy.py) over array sizes.

For each size it prints the median and the best of the serial and split kernels' wall
times (µs per call) and their ratio; the size from which the split one wins on an idle
machine is what ``kernels/cpu/threads.py``'s PARALLEL_MIN_ELEMENTS should be. On a busy
machine the split kernels wait for a free core and lose at every size: check ``uptime``.

    PYTHONPATH=. NUMBA_NUM_THREADS=2 python benchmarks/elementwise_threads.py
    PYTHONPATH=. python benchmarks/elementwise_threads.py --threading-layer workqueue
"""
import argparse
import os
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threading-layer", default=None,
                    help="numba's threading layer (omp, tbb, workqueue; default: numba's choice)")
parser.add_argument("--repeats", type=int, default=41)
args = parser.parse_args()
if args.threading_layer:
    os.environ["NUMBA_THREADING_LAYER"] = args.threading_layer

import numba  # noqa: E402
import numpy as np  # noqa: E402

from tapegrad.kernels.cpu import optimizer_steps  # noqa: E402
from tapegrad.kernels.cpu.axpy import axpy, axpy_parallel  # noqa: E402


def timings(function, calls):
    function()
    samples = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    samples.sort()
    return samples[len(samples) // 2], samples[0]


def main():
    f32 = np.float32
    threads = numba.get_num_threads()
    print(f"numba {numba.__version__}, {threads} threads; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("| elements | axpy serial | axpy split | ratio | Adam serial | Adam split | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in (1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 20, 1 << 22):
        rng = np.random.default_rng(0)
        x, y = rng.random(size, dtype=f32), rng.random(size, dtype=f32)
        m, v = np.zeros(size, f32), np.zeros(size, f32)
        calls = max(3, (1 << 20) // size)
        scalars = tuple(f32(s) for s in (0, 1, 0.1, 0.999, 0.001, 1e-3, 0.9, 1e-8))
        rows = [timings(lambda: axpy(f32(-1e-3), x, y), calls),
                timings(lambda: axpy_parallel(threads, f32(-1e-3), x, y), calls),
                timings(lambda: optimizer_steps.adam(y, x, m, v, v, False, False, *scalars),
                        calls),
                timings(lambda: optimizer_steps.adam_parallel(threads, y, x, m, v, v, False,
                                                              False, *scalars), calls)]
        (a, a_best), (b, b_best), (c, c_best), (d, d_best) = rows
        print(f"| {size:,} | {a:.1f} ({a_best:.1f}) | {b:.1f} ({b_best:.1f}) | {a / b:.2f} | "
              f"{c:.1f} ({c_best:.1f}) | {d:.1f} ({d_best:.1f}) | {c / d:.2f} |", flush=True)
    print(f"threading layer: {numba.threading_layer()}; µs per call, median (best); "
          f"ratio = serial / split (> 1: splitting pays)")


if __name__ == "__main__":
    main()
