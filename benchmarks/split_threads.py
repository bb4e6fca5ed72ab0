"""Do the split kernels pay inside whole training steps? tapegrad's steps of ``models.py``
workloads on several threads, with the split kernels on and off, in one process.

Three variants of the same model take turns in blocks of steps (their order rotating each
round): "serial" runs every numba kernel on one thread (only OpenBLAS's products use the
others), "split" splits the elementwise kernels from --min-elements on (``kernels/cpu/
threads.py``'s PARALLEL_MIN_ELEMENTS), "split + im2col" also splits im2col and col2im from
--im2col-bytes on (``im2col.PARALLEL_MIN_BYTES``). The split kernels run on the calling
thread and threads.py's pool of sleeping threads. It prints each variant's median and best
step time and the ratio of back-to-back blocks to "serial" with its quartiles. OpenBLAS's
threads spin-wait for a while after each product: try ``OPENBLAS_THREAD_TIMEOUT=4`` in the
environment to see what that costs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. \\
        python benchmarks/split_threads.py --workloads resnet,cifar --rounds 7
"""
import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--workloads", default="resnet", help="comma-separated models.py keys")
parser.add_argument("--threads", type=int, default=2, help="OpenBLAS's and numba's (2)")
parser.add_argument("--rounds", type=int, default=7, help="rounds of blocks (7)")
parser.add_argument("--steps", type=int, default=3, help="timed steps per block (3)")
parser.add_argument("--min-elements", type=int, default=1 << 20,
                    help="PARALLEL_MIN_ELEMENTS of the split variants (1M, the default)")
parser.add_argument("--im2col-bytes", type=int, default=1 << 20,
                    help="PARALLEL_MIN_BYTES of the 'split + im2col' variant (1 MiB, the default)")
args = parser.parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(args.threads)   # before numpy and numba load

import time  # noqa: E402

import numpy as np  # noqa: E402

import tapegrad  # noqa: E402
from tapegrad.kernels.cpu import im2col, threads  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

OFF = 1 << 62
VARIANTS = {"serial": (OFF, OFF),
            "split": (args.min_elements, OFF),
            "split + im2col": (args.min_elements, args.im2col_bytes)}


def use(variant):
    """The variant's thresholds, whichever threads own the cores (threads.py): once a
    convolution has shared its batch, the elementwise passes split from POOL_MIN_ELEMENTS."""
    threads.PARALLEL_MIN_ELEMENTS, im2col.PARALLEL_MIN_BYTES = VARIANTS[variant]
    threads.POOL_MIN_ELEMENTS = threads.PARALLEL_MIN_ELEMENTS


def main():
    spin = {k: v for k, v in os.environ.items() if k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                                                         "OPENBLAS_THREAD_TIMEOUT")}
    print(f"{args.threads} threads, load average {os.getloadavg()[0]:.2f}, {spin or ''}")
    names = list(VARIANTS)
    for key in args.workloads.split(","):
        contender = models.Contender(tapegrad, key, models.sizes(False))
        for name in names:   # warm-up: numba compiles each variant's kernels
            use(name)
            contender.step()
            contender.step()
        blocks = {name: [] for name in names}
        for round_ in range(args.rounds):
            order = names[round_ % len(names):] + names[:round_ % len(names)]
            for name in order:
                use(name)
                contender.step()   # untimed: the other variant's threads settle
                start = time.perf_counter()
                for _ in range(args.steps):
                    contender.step()
                blocks[name].append((time.perf_counter() - start) / args.steps * 1e3)
        print(f"{models.WORKLOADS[key][0]} (load average {os.getloadavg()[0]:.2f})")
        base = np.array(blocks["serial"])
        for name in names:
            times = np.array(blocks[name])
            q1, q2, q3 = np.percentile(times / base, [25, 50, 75])
            print(f"  {name:15s} median {np.median(times):8.2f} ms  best {times.min():8.2f} ms  "
                  f"/ serial {q2:.2f} [{q1:.2f}–{q3:.2f}]", flush=True)


if __name__ == "__main__":
    main()
