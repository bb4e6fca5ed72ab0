"""Winograd F(2×2, 3×3) against im2col + GEMM and PyTorch: one Conv2d layer step
(forward, ∂L/∂x, ∂L/∂w, ∂L/∂b), 1 thread, median ms of interleaved repeats.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python benchmarks/winograd.py

"hybrid" runs the forward and the weight gradient by Winograd (they share the transformed
input) and the input gradient by im2col; "winograd" runs all three by Winograd.
"""
import os
import timeit

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.kernels.cpu import winograd  # noqa: E402

torch.set_num_threads(1)
MODES = {"im2col": (False, False, False), "hybrid": (True, False, True),
         "winograd": (True, True, True)}
SHAPES = [(32, 64, 32, 32, 32), (16, 16, 32, 32, 32), (64, 64, 16, 16, 32), (128, 128, 8, 8, 32)]


def main():
    rng = np.random.default_rng(0)
    winograd.MIN_CHANNELS = 1
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
        for _ in range(7):
            for k, run in enumerate(runs):
                times[k].append(timeit.timeit(run, number=2) / 2 * 1e3)
        print(f"{f'{c}→{o}, {h}×{w}, {b}':24s}" + "".join(f"{np.median(t):10.1f}" for t in times))


if __name__ == "__main__":
    main()
