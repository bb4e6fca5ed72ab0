"""When does splitting an elementwise kernel between threads pay? Serial against split
numba kernels (``kernels/cpu/threads.py``: the calling thread and a pool of sleeping ones)
over array sizes: the one-pass optimizer updates (kernels/cpu/axpy.py,
optimizer_steps.py), relu's backward (relu_gradient.py) and batch norm's backward
(normalization.py, 32 channels).

For each size it prints the median and the best of the serial and split kernels' wall
times (µs per call) and their ratio; the size from which the split ones win on an idle
machine is what ``kernels/cpu/threads.py``'s PARALLEL_MIN_ELEMENTS should be. On a busy
machine a split kernel waits for a free core and can lose at every size: check ``uptime``,
and read the best times as what an idle machine gives.

    PYTHONPATH=. NUMBA_NUM_THREADS=2 python benchmarks/elementwise_threads.py
"""
import argparse
import os
import time

import numba
import numpy as np

from tapegrad.kernels.cpu import normalization, optimizer_steps
from tapegrad.kernels.cpu.axpy import axpy, axpy_parallel
from tapegrad.kernels.cpu.relu_gradient import relu_gradient, relu_gradient_split

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--repeats", type=int, default=41)
args = parser.parse_args()


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


def kernels(size, threads):
    """(name, serial call, split call) of each kernel on arrays of ``size`` elements."""
    f32 = np.float32
    rng = np.random.default_rng(0)
    x, y = rng.random(size, dtype=f32), rng.random(size, dtype=f32)
    m, v, out = np.zeros(size, f32), np.zeros(size, f32), np.empty(size, f32)
    scalars = tuple(f32(s) for s in (0, 1, 0.1, 0.999, 0.001, 1e-3, 0.9, 1e-8))
    g, h = x.reshape(-1, 32, size // 32 // 8), y.reshape(-1, 32, size // 32 // 8)  # (8, 32, S)
    mean, rstd, dw, db = (np.ones(32, f32) for _ in range(4))
    bn = (g, h, mean, rstd, dw, True, out.reshape(g.shape), dw, db)
    return [("axpy", lambda: axpy(f32(-1e-3), x, y),
             lambda: axpy_parallel(threads, f32(-1e-3), x, y)),
            ("Adam", lambda: optimizer_steps.adam(y, x, m, v, v, False, False, *scalars),
             lambda: optimizer_steps.adam_parallel(threads, y, x, m, v, v, False, False,
                                                   *scalars)),
            ("relu backward", lambda: relu_gradient(x, y, out),
             lambda: relu_gradient_split(threads, x, y, out)),
            ("batch norm backward", lambda: normalization.batch_norm_backward(*bn),
             lambda: normalization.batch_norm_backward_split(threads, *bn))]


def main():
    threads = numba.get_num_threads()
    sizes = (1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 20, 1 << 22)
    print(f"numba {numba.__version__}, {threads} threads; load average "
          f"{os.getloadavg()[0]:.2f}")
    names = [name for name, _, _ in kernels(sizes[0], threads)]
    print("| elements | " + " | ".join(f"{n} serial | {n} split | ratio" for n in names) + " |")
    print("|---:|" + "---:|---:|---:|" * len(names))
    for size in sizes:
        calls = max(3, (1 << 20) // size)
        cells = []
        for _, serial, split in kernels(size, threads):
            (a, a_best), (b, b_best) = timings(serial, calls), timings(split, calls)
            cells.append(f"{a:.1f} ({a_best:.1f}) | {b:.1f} ({b_best:.1f}) | {a / b:.2f}")
        print(f"| {size:,} | " + " | ".join(cells) + " |", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}; "
          "µs per call, median (best); ratio = serial / split (> 1: splitting pays)")


if __name__ == "__main__":
    main()
