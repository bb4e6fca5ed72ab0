"""Winograd F(2×2, 3×3) against im2col + GEMM and PyTorch: one Conv2d layer step (forward,
∂L/∂x, ∂L/∂w, ∂L/∂b), median ms of interleaved repeats, at the thread count given.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/winograd.py --threads 1
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/winograd.py --threads 2

"hybrid" runs the forward and the weight gradient by Winograd and the input gradient by
im2col; "winograd" runs all three by Winograd (tapegrad's default from
``winograd.min_channels()`` channels on: 16 with OpenBLAS's AVX-512 kernels, 64 with its
AVX2 ones); "im2col" none. PyTorch runs in the same process,
on as many threads.
"""
import argparse
import os
import sys
import timeit


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args()


ARGS = parse()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.kernels.cpu import winograd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import blas_core, machine, numba_target  # noqa: E402

torch.set_num_threads(ARGS.threads)
MODES = {"im2col": (False, False, False), "hybrid": (True, False, True),
         "winograd": (True, True, True)}
SHAPES = [(32, 32, 32, 32, 32), (32, 64, 32, 32, 32), (16, 16, 32, 32, 32), (64, 64, 16, 16, 32),
          (64, 128, 8, 8, 64), (128, 128, 8, 8, 32)]


def main():
    print(f"{machine()}; numba target {numba_target()}; numpy BLAS {blas_core()}; "
          f"{ARGS.threads} thread(s)")
    rng = np.random.default_rng(0)
    default_threshold = winograd.min_channels()
    winograd.min_channels = lambda: 1   # the modes decide, whatever the default threshold
    print(f"Winograd's default here: from {default_threshold} channels each way")
    print(f"{'C→O, H×W, batch':24s}" + "".join(f"{m:>10s}" for m in list(MODES) + ["torch"]))
    for c, o, h, w, b in SHAPES:
        conv = nn.Conv2d(c, o, 3, padding=1)
        x = tg.tensor(rng.normal(size=(b, c, h, w)).astype(np.float32), requires_grad=True)
        tconv = torch.nn.Conv2d(c, o, 3, padding=1)
        tx = torch.tensor(x.detach().numpy(), requires_grad=True)

        def step(mode):
            def run():
                winograd.PASSES.update(zip(("forward", "input_grad", "weight_grad"), MODES[mode]))
                conv.zero_grad()
                x.grad = None
                conv(x).sum().backward()
            return run

        def torch_step():
            tconv.zero_grad()
            tx.grad = None
            tconv(tx).sum().backward()
        runs = [step(m) for m in MODES] + [torch_step]
        for run in runs:
            run()
        times = [[] for _ in runs]
        for _ in range(ARGS.repeats):
            for k, run in enumerate(runs):
                times[k].append(timeit.timeit(run, number=3) / 3 * 1e3)
        print(f"{f'{c}→{o}, {h}×{w}, {b}':24s}" + "".join(f"{np.median(t):10.1f}" for t in times))
    winograd.PASSES.update(dict.fromkeys(winograd.PASSES, True))


if __name__ == "__main__":
    main()
