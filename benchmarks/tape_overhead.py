"""What the tape costs per operation, and what anomaly mode adds.

Times, in one process and interleaved (absolute times on small VMs drift; compare the
columns of one run):
  * one small elementwise multiply: plain numpy, tapegrad under no_grad, tapegrad
    recording on the tape, and recording with anomaly mode on;
  * a training step of an MLP 784-256-128-10 at batch 16 written with tensor operations
    (forward, loss, backward, SGD update), with anomaly mode off and on.

Anomaly mode off costs one flag check per operation; on, it checks every result for
NaN/inf and records the caller's line.

    python benchmarks/tape_overhead.py [--threads 1]
"""
import argparse
import os
import sys
import time


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args()


args = parse()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)  # before numpy loads its BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tapegrad as tg  # noqa: E402
from tapegrad import autograd  # noqa: E402


def median_time(function, number):
    samples = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number)
    return sorted(samples)[len(samples) // 2]


def interleaved(contenders, number):
    """Median seconds per call of each contender, measured in turns."""
    results = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, function in contenders.items():
            start = time.perf_counter()
            for _ in range(number):
                function()
            results[name].append((time.perf_counter() - start) / number)
    return {name: sorted(v)[len(v) // 2] for name, v in results.items()}


def one_multiply():
    a = np.random.rand(16, 128).astype(np.float32)
    b = np.random.rand(128).astype(np.float32)
    y = tg.from_numpy(b)
    x_recorded = tg.from_numpy(a.copy()).requires_grad_()

    def no_grad():
        with tg.no_grad():
            x_recorded * y

    def anomaly():
        with autograd.detect_anomaly():
            x_recorded * y

    return interleaved({"numpy a*b": lambda: a * b, "tapegrad, no_grad": no_grad,
                        "tapegrad, recording": lambda: x_recorded * y,
                        "tapegrad, recording + anomaly": anomaly}, 2000)


def mlp_step():
    tg.manual_seed(0)
    sizes = [784, 256, 128, 10]
    weights = [(tg.randn(o, i) * (1 / i) ** 0.5).requires_grad_() for i, o in zip(sizes, sizes[1:])]
    biases = [tg.zeros(o, requires_grad=True) for o in sizes[1:]]
    x = tg.randn(16, 784)
    labels = tg.randint(0, 10, (16,))

    def step():
        h = x
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = h @ w.mT + b
            if i < len(weights) - 1:
                h = h.relu()
        loss = -h.log_softmax(1)[tg.arange(16), labels].mean()
        for p in weights + biases:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in weights + biases:
                p -= 0.01 * p.grad

    def step_with_anomaly():
        with autograd.detect_anomaly():
            step()

    return interleaved({"MLP step, anomaly off": step, "MLP step, anomaly on": step_with_anomaly}, 50)


def the_flag_check():
    """What anomaly mode costs each operation when it is off: this test, in record()."""
    from tapegrad.autograd import anomaly

    def check():
        if anomaly._enabled:
            pass

    def nothing():
        pass

    times = interleaved({"check": check, "nothing": nothing}, 20000)
    return {"anomaly-off check, per op": max(times["check"] - times["nothing"], 0.0)}


if __name__ == "__main__":
    print(f"threads: {args.threads}, numpy {np.__version__}, {os.cpu_count()} cpus")
    for name, seconds in {**one_multiply(), **mlp_step(), **the_flag_check()}.items():
        unit, scale = (("ns", 1e9) if seconds < 1e-6 else ("µs", 1e6) if seconds < 1e-3
                       else ("ms", 1e3))
        print(f"{name:<32}{seconds * scale:>9.2f} {unit}")
