"""tapegrad on an NVIDIA GPU: the CUDA convolution kernels against cuDNN, and training
steps against PyTorch.

Two tables, times in milliseconds (median of ``--repeats`` runs) and their ratios:

1. conv2d, 3×3, stride 1, padding 1, batch 32, float32, on the layers of a ResNet's
   stages (64 channels at 56×56, 128 at 28×28, 256 at 14×14; ``--all-sizes`` for every
   channel count at every size): forward, gradient w.r.t. the input, gradient w.r.t. the
   weight, and their sum, for tapegrad's two designs (im2col + cuBLAS, the main path;
   the implicit-GEMM teaching kernel) against cuDNN, called through PyTorch
   (``aten.convolution_backward`` for the gradients) or, without PyTorch, through
   ``cupy.cudnn`` where this cupy has it. Each kernel is timed with CUDA events on the
   stream it runs on, and its result is compared with cuDNN's (largest error relative to
   the largest value).
2. one training step (forward, cross-entropy, backward, SGD with momentum) of LeNet-5
   and of a ResNet-8, on CIFAR-sized inputs (3×32×32), tapegrad on the GPU against
   PyTorch on the GPU, timed by the wall clock over ``--steps`` steps (this includes
   Python's time: the tape, the launches), with the GPU synchronised at both ends.

TF32 is off on both sides unless ``--tf32`` (cupy's matmul does not use it by default).

    python benchmarks/gpu.py [--repeats 20] [--steps 20] [--all-sizes] [--tf32] [--json F]

Without a GPU (or without cupy) it says so and exits with status 0. ``--smoke`` checks
the script itself on a machine without a GPU: tiny shapes, the cpu, and the CUDA
kernels in numba's simulator (``NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu.py --smoke``);
its times mean nothing.
"""
import argparse
import json
import os
import statistics
import sys
import time


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per kernel")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per round")
    parser.add_argument("--batch", type=int, default=32, help="batch of the conv2d layers")
    parser.add_argument("--train-batch", type=int, default=64, help="batch of the training steps")
    parser.add_argument("--all-sizes", action="store_true",
                        help="every channel count (64, 128, 256) at every size (56, 28, 14)")
    parser.add_argument("--no-implicit", action="store_true",
                        help="leave out the implicit-GEMM teaching kernel")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on both sides")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--smoke", action="store_true",
                        help="check the script without a GPU (tiny shapes, cpu, simulator)")
    return parser.parse_args()


args = parse()
if args.tf32:
    os.environ.setdefault("CUPY_TF32", "1")   # read when cupy loads

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tapegrad as tg  # noqa: E402
from tapegrad.kernels import cuda as gpu_kernels  # noqa: E402
from tapegrad.kernels.geometry import Window  # noqa: E402

NO_GPU = ("benchmarks/gpu.py: no CUDA GPU to measure on (tg.cuda.is_available() is False: "
          "cupy is not installed, or finds no driver or no device). Run it on a machine with an "
          "NVIDIA GPU after installing the cuda extra: pip install -e \".[cuda]\"")


# -- the machine ----------------------------------------------------------------------------------
def gpu_module():
    """(tapegrad's cuda backend namespace, cupy itself): the kernels take the first, CUDA
    events and device queries need the second. In --smoke, the cpu's namespace and numpy;
    exits with a message when there is no GPU."""
    if args.smoke:
        if not gpu_kernels.launch.SIMULATOR:
            sys.exit("--smoke runs the CUDA kernels in the simulator: set NUMBA_ENABLE_CUDASIM=1")
        return tg.device("cpu").xp, np
    if not tg.cuda.is_available():
        print(NO_GPU)
        sys.exit(0)
    import cupy
    return tg.device("cuda").xp, cupy


def load_torch():
    """PyTorch set up for a fair comparison (cuDNN autotuning on, TF32 as asked), or None."""
    try:
        import torch
    except ImportError:
        return None
    if not args.smoke and not torch.cuda.is_available():
        return None
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    return torch


def describe(cupy, torch):
    if args.smoke:
        return "cpu (--smoke: the CUDA kernels in numba's simulator; times mean nothing)"
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    parts = [f"GPU: {name}", f"cupy {cupy.__version__}"]
    if torch is not None:
        parts.append(f"PyTorch {torch.__version__} (cuDNN {torch.backends.cudnn.version()})")
    parts.append("TF32 on" if args.tf32 else "TF32 off")
    return " · ".join(parts)


# -- timing ---------------------------------------------------------------------------------------
class Clock:
    """Times a function on the GPU with CUDA events of one library (cupy or torch) recorded
    on its current stream; with neither (--smoke), by the wall clock."""

    def __init__(self, library):
        self.library = library

    def median_ms(self, function, repeats, warmup=3):
        for _ in range(warmup):
            function()
        samples = []
        for _ in range(repeats):
            samples.append(self._once(function))
        return statistics.median(samples)

    def _once(self, function):
        name = getattr(self.library, "__name__", "")
        if name == "cupy":
            start, end = self.library.cuda.Event(), self.library.cuda.Event()
            start.record()
            function()
            end.record()
            end.synchronize()
            return self.library.cuda.get_elapsed_time(start, end)
        if name == "torch" and self.library.cuda.is_available():
            start = self.library.cuda.Event(enable_timing=True)
            end = self.library.cuda.Event(enable_timing=True)
            start.record()
            function()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        start = time.perf_counter()
        function()
        return (time.perf_counter() - start) * 1e3


# -- 1. the conv2d kernels against cuDNN ----------------------------------------------------------
def layers():
    if args.smoke:
        return [(4, 8)]
    sizes = [(64, 56), (128, 28), (256, 14)]
    if args.all_sizes:
        sizes = [(c, s) for c in (64, 128, 256) for s in (56, 28, 14)]
    return sizes


def reference_passes(xp, torch, x, w, gy):
    """cuDNN's forward, input gradient and weight gradient, as functions returning an array
    of the caller's module (and the library that times them), or None."""
    if torch is not None:
        device = "cpu" if args.smoke else "cuda"
        xt, wt, gyt = (torch.as_tensor(np.asarray(a.get() if hasattr(a, "get") else a),
                                       device=device) for a in (x, w, gy))
        aten = torch.ops.aten

        def backward(mask):
            return aten.convolution_backward(gyt, xt, wt, None, [1, 1], [1, 1], [1, 1], False,
                                             [0, 0], 1, mask)

        def as_array(t):
            return xp.asarray(t.detach().cpu().numpy())

        passes = {"forward": lambda: torch.nn.functional.conv2d(xt, wt, None, 1, 1),
                  "input gradient": lambda: backward([True, False, False])[0],
                  "weight gradient": lambda: backward([False, True, False])[1]}
        return passes, as_array, torch, "cuDNN (PyTorch)"
    cudnn = None
    if not args.smoke:
        try:
            from cupy import cudnn
        except ImportError:
            cudnn = None
    if cudnn is None:
        return None
    options = dict(auto_tune=True, tensor_core="always" if args.tf32 else "never")
    y = xp.empty((x.shape[0], w.shape[0]) + x.shape[2:], x.dtype)
    gx, gw = xp.empty_like(x), xp.empty_like(w)
    geometry = ((1, 1), (1, 1), (1, 1), 1)
    passes = {
        "forward": lambda: cudnn.convolution_forward(x, w, None, y, *geometry, **options) or y,
        "input gradient": lambda: cudnn.convolution_backward_data(
            w, gy, None, gx, *geometry, deterministic=False, **options) or gx,
        "weight gradient": lambda: cudnn.convolution_backward_filter(
            x, gy, gw, *geometry, deterministic=False, **options) or gw,
    }
    return passes, (lambda a: a), xp, "cuDNN (cupy.cudnn)"


def tapegrad_passes(xp, x, w, gy, window):
    return {"forward": lambda: gpu_kernels.conv_forward(xp, x, w, None, window),
            "input gradient": lambda: gpu_kernels.conv_input_grad(xp, gy, w, window),
            "weight gradient": lambda: gpu_kernels.conv_weight_grad(xp, x, gy, window)}


def relative_error(a, b):
    a, b = (np.asarray(v.get() if hasattr(v, "get") else v, dtype="float64") for v in (a, b))
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def bench_conv(xp, cupy, torch):
    rng = np.random.default_rng(0)
    algorithms = ["im2col"] + ([] if args.no_implicit else ["implicit_gemm"])
    clock = Clock(cupy)   # tapegrad's kernels launch on cupy's current stream
    rows, reference_name = [], None
    repeats = 1 if args.smoke else args.repeats
    for channels, size in layers():
        batch = 2 if args.smoke else args.batch
        x = xp.asarray(rng.standard_normal((batch, channels, size, size), dtype="float32"))
        w = xp.asarray((rng.standard_normal((channels, channels, 3, 3)) / (3 * channels ** 0.5))
                       .astype("float32"))
        gy = xp.asarray(rng.standard_normal((batch, channels, size, size), dtype="float32"))
        window = Window((size, size), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
        reference = reference_passes(xp, torch, x, w, gy)
        times = {}
        errors = {}
        for algorithm in algorithms:
            gpu_kernels.ALGORITHM = algorithm
            for name, function in tapegrad_passes(xp, x, w, gy, window).items():
                times[(algorithm, name)] = clock.median_ms(function, repeats)
                if reference is not None:
                    passes, as_array = reference[0], reference[1]
                    errors[(algorithm, name)] = relative_error(function(), as_array(passes[name]()))
        gpu_kernels.ALGORITHM = "im2col"
        if reference is not None:
            passes, _, library, reference_name = reference
            reference_clock = Clock(library)
            for name, function in passes.items():
                times[("cudnn", name)] = reference_clock.median_ms(function, repeats)
        for name in ("forward", "input gradient", "weight gradient", "forward + backward"):
            row = {"layer": f"{channels}ch {size}×{size}", "pass": name}
            for algorithm in algorithms + ["cudnn"]:
                if name == "forward + backward":
                    parts = [times.get((algorithm, p)) for p in
                             ("forward", "input gradient", "weight gradient")]
                    row[algorithm] = None if None in parts else sum(parts)
                else:
                    row[algorithm] = times.get((algorithm, name))
                    if algorithm != "cudnn" and (algorithm, name) in errors:
                        row[f"{algorithm} error"] = errors[(algorithm, name)]
            rows.append(row)
        del x, w, gy
    print_conv_table(rows, algorithms, reference_name)
    return rows


def ratio(a, b):
    return f"{a / b:6.2f}×" if a is not None and b else "     -"


def ms(value):
    return f"{value:9.3f}" if value is not None else "        -"


def print_conv_table(rows, algorithms, reference_name):
    batch = 2 if args.smoke else args.batch
    print(f"\nconv2d 3×3, stride 1, padding 1, batch {batch}, float32: ms (median of "
          f"{1 if args.smoke else args.repeats}); reference: {reference_name or 'none found'}")
    labels = {"im2col": "im2col+cuBLAS", "implicit_gemm": "implicit GEMM"}
    header = f"{'layer':<14}{'pass':<20}" + "".join(f"{labels[a]:>15}" for a in algorithms)
    header += f"{'cuDNN':>10}" + "".join(f"{labels[a] + '/cuDNN':>22}" for a in algorithms)
    header += f"{'max rel. error':>16}"
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row['layer']:<14}{row['pass']:<20}"
        line += "".join(f"{ms(row[a]):>15}" for a in algorithms)
        line += f"{ms(row['cudnn']):>10}"
        line += "".join(f"{ratio(row[a], row['cudnn']):>22}" for a in algorithms)
        error = max((row.get(f"{a} error") or 0.0) for a in algorithms)
        line += f"{error:>16.1e}" if row["pass"] != "forward + backward" else ""
        print(line)
    print("goal: forward + backward within 3× of cuDNN (the im2col+cuBLAS/cuDNN column)")


# -- 2. training steps against PyTorch -------------------------------------------------------------
def lenet5(nn):
    """LeNet-5 for 3×32×32 images: two 5×5 convolutions with max pooling, three linear layers."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def resnet8(nn, F):
    """A ResNet of 8 weight layers for 3×32×32 images: a 3×3 stem, three basic blocks (16, 32, 64
    channels; 1×1 projections where the shape changes), global average pooling, a linear layer.
    Written once for both libraries: tapegrad's nn has PyTorch's names."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(cout))
            else:
                self.shortcut = nn.Identity()

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def time_training(library, model, x, labels, synchronize):
    """ms per training step (median over rounds of ``--steps`` steps)."""
    F = library.nn.functional
    optimizer = library.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()

    steps = 1 if args.smoke else args.steps
    for _ in range(1 if args.smoke else 3):
        step()
    rounds = []
    for _ in range(1 if args.smoke else 5):
        synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        rounds.append((time.perf_counter() - start) * 1e3 / steps)
    return statistics.median(rounds)


def bench_training(xp, torch):
    rng = np.random.default_rng(1)
    batch = 4 if args.smoke else args.train_batch
    images = rng.standard_normal((batch, 3, 32, 32), dtype="float32")
    labels = rng.integers(0, 10, batch)
    device = "cpu" if args.smoke else "cuda"
    rows = []
    for name in ("LeNet-5", "ResNet-8"):
        tg.manual_seed(0)
        model = (lenet5(tg.nn) if name == "LeNet-5" else resnet8(tg.nn, tg.nn.functional))
        model.to(device)
        ours = time_training(tg, model, tg.tensor(images, device=device),
                             tg.tensor(labels, device=device), tg.cuda.synchronize)
        theirs = None
        if torch is not None:
            torch.manual_seed(0)
            reference = (lenet5(torch.nn) if name == "LeNet-5"
                         else resnet8(torch.nn, torch.nn.functional)).to(device)
            synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            theirs = time_training(torch, reference, torch.as_tensor(images, device=device),
                                   torch.as_tensor(labels, device=device), synchronize)
        rows.append({"model": name, "tapegrad": ours, "pytorch": theirs})
    print(f"\ntraining step (forward, cross-entropy, backward, SGD momentum), batch {batch} of "
          f"3×32×32, float32: ms per step")
    print(f"{'model':<12}{'tapegrad':>12}{'PyTorch':>12}{'tapegrad/PyTorch':>20}")
    for row in rows:
        print(f"{row['model']:<12}{ms(row['tapegrad']):>12}{ms(row['pytorch']):>12}"
              f"{ratio(row['tapegrad'], row['pytorch']):>20}")
    if torch is None:
        print("(PyTorch is not installed: no reference)")
    print("goal: the LeNet-5 step within 2× of PyTorch on the GPU")
    return rows


def main():
    xp, cupy = gpu_module()
    torch = load_torch()
    print(describe(cupy, torch))
    results = {"device": describe(cupy, torch), "conv2d": bench_conv(xp, cupy, torch),
               "training": bench_training(xp, torch)}
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
