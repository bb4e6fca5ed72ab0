"""Training-step speed of tapegrad against PyTorch (CPU) and a hand-written numpy floor.

One step = forward, loss, backward, SGD update. The contenders run in ONE process and
INTERLEAVED: after a warm-up, each round times a block of steps of tapegrad, then of
PyTorch, then of plain numpy (blocks of about --block-ms each), for --rounds rounds.
A contender's time is the median over rounds of its per-step time; a ratio is the
median over rounds of the ratio of two back-to-back blocks (absolute times on small
shared VMs drift, ratios of neighbouring blocks much less).

Workloads (float32, issue 3 item 5):
  mlp128   MLP 784-256-128-10 (ReLU), cross entropy, batch 128
  mlp16    the same at batch 16
  lenet    LeNet-5 on 1×28×28, batch 64: conv 6@5×5 pad 2, relu, maxpool 2, conv 16@5×5,
           relu, maxpool 2, fc 120, relu, fc 84, relu, fc 10; cross entropy
  conv     one Conv2d 32→64 3×3 padding 1 on 32×32, batch 32; loss Σ y²; the input's
           gradient is computed too (as for a layer inside a network)
  rnn      RNN (tanh), input 64, hidden 128, length 32, batch 32; MSE on all outputs
  lstm     LSTM, same sizes

All contenders start from the same weights (tapegrad's default init, copied), and before
timing the script checks that the three agree on the loss and every gradient.

BLAS threads are pinned to the same count for numpy and PyTorch: OPENBLAS/OMP/MKL_NUM_THREADS
are set before numpy is imported, and torch.set_num_threads(N),
torch.set_num_interop_threads(1). Without --threads the script runs itself twice, with
2 threads and with 1.

    PYTHONPATH=. /tmp/torchvenv/bin/python benchmarks/train_step.py
    python benchmarks/train_step.py --threads 1 --workloads mlp16,rnn
    python benchmarks/train_step.py --threads 1 --profile lenet     # where tapegrad's time goes

Without PyTorch installed its column reads "n/a".
"""
import argparse
import os
import subprocess
import sys
import time

BARS = {  # issue 3's "Done when": tapegrad / PyTorch at most (2 threads, 1 thread)
    "mlp128": (1.2, 1.15), "mlp16": (1.6, 1.6), "lenet": (2.0, 1.4), "conv": (2.1, 1.7),
    "rnn": (1.2, 1.6), "lstm": None}
TITLES = {"mlp128": "MLP 784-256-128-10, batch 128", "mlp16": "MLP 784-256-128-10, batch 16",
          "lenet": "LeNet-5, 1×28×28, batch 64", "conv": "Conv2d 32→64 3×3, 32×32, batch 32",
          "rnn": "RNN tanh, 64→128, T 32, batch 32", "lstm": "LSTM, 64→128, T 32, batch 32"}
LR = 1e-3
LR_CONV = 1e-9   # loss Σ y² has gradients ~1e4× larger: keeps the weights from blowing up or
                 # shrinking into denormals over the run


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads; without it, run with 2 and then with 1")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (default 40)")
    parser.add_argument("--block-ms", type=float, default=30.0,
                        help="length of one contender's block of steps (default 30 ms)")
    parser.add_argument("--warmup-s", type=float, default=0.3,
                        help="warm-up per contender and workload (default 0.3 s)")
    parser.add_argument("--gap-ms", type=float, default=None,
                        help="pause before each block, then 2 untimed steps (default: 200 ms "
                             "with 2+ threads, 0 with 1; see measure())")
    parser.add_argument("--workloads", default=",".join(BARS),
                        help=f"comma-separated subset of {','.join(BARS)}")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--profile", metavar="WORKLOAD", default=None,
                        help="instead of timing, profile tapegrad's step of one workload "
                             "(tapegrad.autograd.profile() and cProfile)")
    return parser.parse_args()


args = parse()

if args.threads is None and args.profile is None:   # the parent: one child per thread count
    for threads in (2, 1):
        command = [sys.executable, os.path.abspath(__file__), "--threads", str(threads)]
        command += [a for a in sys.argv[1:]]
        print(flush=True)
        result = subprocess.run(command)
        if result.returncode:
            sys.exit(result.returncode)
    sys.exit(0)

THREADS = args.threads if args.threads is not None else 1
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(THREADS)   # before numpy (and torch) load their BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy_floor  # noqa: E402
import tapegrad as tg  # noqa: E402
import tapegrad.nn as tnn  # noqa: E402

try:
    Conv2d = tnn.Conv2d
    MaxPool2d = tnn.MaxPool2d
except AttributeError:   # not yet exported from tapegrad.nn
    from tapegrad.nn.modules.conv import Conv2d
    from tapegrad.nn.modules.pooling import MaxPool2d

torch = None
if not args.no_torch:
    try:
        import torch
        torch.set_num_threads(THREADS)
        torch.set_num_interop_threads(1)
    except ImportError:
        torch = None


# -- the three versions of each workload ------------------------------------------------------
class Workload:
    """The contenders' step functions, and how to get each one's loss and gradients."""

    def __init__(self, key):
        self.key = key
        self.steps = {}       # name -> step()
        self.gradients = {}   # name -> () -> (loss, {parameter name: gradient array})


def _tg_model(key):
    tg.manual_seed(0)
    if key in ("mlp128", "mlp16"):
        return tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(),
                              tnn.Linear(128, 10))
    if key == "lenet":
        return tnn.Sequential(Conv2d(1, 6, 5, padding=2), tnn.ReLU(), MaxPool2d(2),
                              Conv2d(6, 16, 5), tnn.ReLU(), MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                              tnn.Linear(84, 10))
    if key == "conv":
        return Conv2d(32, 64, 3, padding=1)
    if key == "rnn":
        return tnn.RNN(64, 128)
    if key == "lstm":
        return tnn.LSTM(64, 128)
    raise ValueError(f"unknown workload {key!r}; choose from {', '.join(BARS)}")


def _torch_model(key):
    nn = torch.nn
    if key in ("mlp128", "mlp16"):
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if key == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, 10))
    if key == "conv":
        return nn.Conv2d(32, 64, 3, padding=1)
    if key == "rnn":
        return nn.RNN(64, 128)
    return nn.LSTM(64, 128)


def _data(key):
    """Inputs (and labels or targets) as float32 / int64 numpy arrays, fixed by a seed."""
    rng = np.random.default_rng(1)
    if key in ("mlp128", "mlp16"):
        batch = 128 if key == "mlp128" else 16
        return (rng.standard_normal((batch, 784), dtype=np.float32),
                rng.integers(0, 10, batch).astype(np.int64))
    if key == "lenet":
        return (rng.standard_normal((64, 1, 28, 28), dtype=np.float32),
                rng.integers(0, 10, 64).astype(np.int64))
    if key == "conv":
        return rng.standard_normal((32, 32, 32, 32), dtype=np.float32), None
    return (rng.standard_normal((32, 32, 64), dtype=np.float32),
            rng.standard_normal((32, 32, 128), dtype=np.float32) * np.float32(0.5))


def _output(key, out):
    return out[0] if key in ("rnn", "lstm") else out


def build(key):
    """The workload with its three (or two) contenders, all from the same weights."""
    work = Workload(key)
    x_np, y_np = _data(key)
    model = _tg_model(key)
    weights = {name: t.numpy().copy() for name, t in model.state_dict().items()}

    # tapegrad
    x = tg.from_numpy(x_np.copy())
    if key == "conv":
        x.requires_grad_()
    y = tg.from_numpy(y_np.copy()) if y_np is not None else None
    loss_fn = {"rnn": tnn.MSELoss(), "lstm": tnn.MSELoss()}.get(key, tnn.CrossEntropyLoss())
    lr = LR_CONV if key == "conv" else LR
    opt = tg.optim.SGD(model.parameters(), lr=lr)

    def tg_loss():
        out = _output(key, model(x))
        return out.pow(2).sum() if key == "conv" else loss_fn(out, y)

    def tg_step():
        opt.zero_grad()
        if key == "conv":
            x.grad = None
        tg_loss().backward()
        opt.step()

    def tg_gradients():
        opt.zero_grad()
        x.grad = None
        loss = tg_loss()
        loss.backward()
        grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
        if key == "conv":
            grads["input"] = x.grad.numpy().copy()
        return float(loss.item()), grads

    work.steps["tapegrad"] = tg_step
    work.gradients["tapegrad"] = tg_gradients
    work.tg = (model, tg_step, tg_loss)

    # PyTorch
    if torch is not None:
        tmodel = _torch_model(key)
        tmodel.load_state_dict({n: torch.from_numpy(a.copy()) for n, a in weights.items()})
        tx = torch.from_numpy(x_np.copy())
        if key == "conv":
            tx.requires_grad_()
        ty = torch.from_numpy(y_np.copy()) if y_np is not None else None
        tloss_fn = (torch.nn.MSELoss() if key in ("rnn", "lstm")
                    else torch.nn.CrossEntropyLoss())
        topt = torch.optim.SGD(tmodel.parameters(), lr=lr)

        def torch_loss():
            out = _output(key, tmodel(tx))
            return out.pow(2).sum() if key == "conv" else tloss_fn(out, ty)

        def torch_step():
            topt.zero_grad()
            if key == "conv":
                tx.grad = None
            torch_loss().backward()
            topt.step()

        def torch_gradients():
            topt.zero_grad()
            tx.grad = None
            loss = torch_loss()
            loss.backward()
            grads = {n: p.grad.numpy().copy() for n, p in tmodel.named_parameters()}
            if key == "conv":
                grads["input"] = tx.grad.numpy().copy()
            return float(loss.item()), grads

        work.steps["PyTorch"] = torch_step
        work.gradients["PyTorch"] = torch_gradients

    # plain numpy
    floor = _numpy_floor(key, weights, x_np.copy(), None if y_np is None else y_np.copy())

    def numpy_gradients():
        loss = floor.forward_backward()
        if key == "conv":
            grads = {n: g.copy() for n, g in floor.named_grads.items()}
            grads["input"] = np.array(floor.input_grad)
        else:
            grads = {n: g.copy() for n, g in floor.grads.items()}
        return loss, grads

    work.steps["numpy"] = floor.step
    work.gradients["numpy"] = numpy_gradients
    work.floor = floor
    return work


def _numpy_floor(key, weights, x, y):
    if key in ("mlp128", "mlp16"):
        return numpy_floor.MLP(weights, x, y, LR)
    if key == "rnn":
        return numpy_floor.RNNTanh(weights, x, y, LR)
    if key == "lstm":
        return numpy_floor.LSTM(weights, x, y, LR)
    # convolutions: the floor takes the faster im2col layout for this machine and thread count
    if key == "lenet":
        candidates = [numpy_floor.LeNet5(weights, x, y, LR, layouts)
                      for layouts in (("batched", "merged"), ("batched", "batched"),
                                      ("merged", "merged"))]
    else:
        candidates = [numpy_floor.ConvLayer(weights, x, LR_CONV, 1, layout)
                      for layout in ("merged", "batched")]
    best = min(candidates, key=lambda c: _quick_time(c.forward_backward))
    return best


def _quick_time(function, repeats=7):
    function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return sorted(samples)[len(samples) // 2]


# -- checking that the contenders do the same work -----------------------------------------------
def check(work):
    """Loss and every gradient of each contender against tapegrad's; returns the worst
    relative difference (max |a - b| / max |b| per gradient)."""
    reference_loss, reference = work.gradients["tapegrad"]()
    worst = 0.0
    for name, gradients in work.gradients.items():
        if name == "tapegrad":
            continue
        loss, grads = gradients()
        if set(grads) != set(reference):
            raise AssertionError(f"{work.key}: {name} has gradients {sorted(grads)}, tapegrad "
                                 f"{sorted(reference)}")
        worst = max(worst, abs(loss - reference_loss) / max(abs(reference_loss), 1e-12))
        for parameter, g in grads.items():
            r = reference[parameter]
            if g.shape != r.shape:
                raise AssertionError(f"{work.key}: {name}'s gradient of {parameter} has shape "
                                     f"{g.shape}, tapegrad's {r.shape}")
            difference = float(np.abs(g - r).max() / max(np.abs(r).max(), 1e-12))
            if difference > 1e-3:
                raise AssertionError(f"{work.key}: {name}'s gradient of {parameter} differs "
                                     f"from tapegrad's by {difference:.2e} (relative)")
            worst = max(worst, difference)
    return worst


# -- timing ---------------------------------------------------------------------------------------
def measure(steps):
    """({name: [wall seconds per step in each round]}, {name: [CPU seconds …]}): warm-up,
    then interleaved blocks. The CPU time is the calling thread's (time.thread_time): with
    one BLAS thread every contender computes on that thread, so it leaves out the time the
    process waited for a core on a busy machine (with more threads it would not count the
    BLAS workers: it is only reported for 1 thread).

    With 2+ threads each block starts after a pause (--gap-ms) and 2 untimed steps: the
    idle worker threads of the library that ran the block before keep spinning for up to
    ~0.1 s (OpenBLAS's thread timeout; libgomp's spin count), and on a 2-core machine they
    steal a core from the next contender's threads (measured: PyTorch's MLP-128 step took
    3.1-3.6 ms right after a numpy block against 1.4-1.6 ms on its own). The pause lets
    them go to sleep, the untimed steps wake this contender's own threads up, so each
    block measures a contender in its steady state, as if it ran alone."""
    per_step = {}
    for name, step in steps.items():
        start, count = time.perf_counter(), 0
        while count < 5 or time.perf_counter() - start < args.warmup_s:
            step()
            count += 1
        # the block size comes from warm steps only: one-time costs of the first calls (numba
        # loading its compiled kernels, ~0.5 s) would otherwise shrink the blocks to 1 step
        start = time.perf_counter()
        for _ in range(5):
            step()
        per_step[name] = (time.perf_counter() - start) / 5
    block = {name: max(1, round(args.block_ms / 1e3 / s)) for name, s in per_step.items()}
    gap = gap_ms() / 1e3
    times = {name: [] for name in steps}
    cpu_times = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():   # A, B, C, A, B, C, …
            n = block[name]
            if gap:
                time.sleep(gap)
                step()
                step()
            start, cpu_start = time.perf_counter(), time.thread_time()
            for _ in range(n):
                step()
            cpu_times[name].append((time.thread_time() - cpu_start) / n)
            times[name].append((time.perf_counter() - start) / n)
    return times, cpu_times


def gap_ms():
    return args.gap_ms if args.gap_ms is not None else 200.0 if THREADS > 1 else 0.0


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def quartiles(values):
    values = sorted(values)
    return values[len(values) // 4], values[(3 * len(values)) // 4]


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "?"
    try:
        info = np.__config__.CONFIG["Build Dependencies"]["blas"]
        blas = f"{info['name']} {info['version']}"
    except (AttributeError, KeyError, TypeError):
        pass
    torch_part = (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads, "
                  f"{torch.get_num_interop_threads()} interop)" if torch is not None
                  else "PyTorch not installed")
    return (f"{model}, {os.cpu_count()} cpus; Python {sys.version.split()[0]}, numpy "
            f"{np.__version__} ({blas}), {torch_part}")


def run():
    keys = [k.strip() for k in args.workloads.split(",") if k.strip()]
    for key in keys:
        if key not in BARS:
            sys.exit(f"unknown workload {key!r}; choose from {', '.join(BARS)}")
    print(f"## {THREADS} thread{'s' if THREADS != 1 else ''}")
    print(f"machine: {machine()}")
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"{args.rounds} rounds of ~{args.block_ms:g} ms blocks per contender"
          + (f", each after a {gap_ms():g} ms pause and 2 untimed steps" if gap_ms() else ""),
          flush=True)
    rows, cpu_rows = [], []
    notes = []
    from tapegrad.kernels.cpu import threads as tapegrads_threads
    for key in keys:
        # each workload as in a process of its own: OpenBLAS's threads own the other cores
        # until a convolution shares its batch (tapegrad/kernels/cpu/threads.py)
        tapegrads_threads.give_back_the_cores()
        work = build(key)
        difference = check(work)
        times, cpu_times = measure(work.steps)
        rows.append(summarise(key, times))
        cpu_rows.append(summarise(key, cpu_times))
        if key == "lenet":
            notes.append(f"lenet: numpy im2col layouts {work.floor.layouts}")
        elif key == "conv":
            notes.append(f"conv: numpy im2col layout {work.floor.layout}")
        print(f"  {key}: done (gradients agree to {difference:.1e})", flush=True)
    load_after = os.getloadavg()
    print()
    print(f"wall-clock time, {THREADS} thread{'s' if THREADS != 1 else ''}:")
    table(rows)
    if THREADS == 1:
        print()
        print("CPU time of the calling thread (leaves out waiting for a core), 1 thread:")
        table(cpu_rows)
    print()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
          + (f"; {'; '.join(notes)}" if notes else ""), flush=True)


def summarise(key, times):
    """Median ms of each contender, and median [quartiles] of the per-round ratios."""
    row = {"key": key, "ms": {name: 1e3 * median(t) for name, t in times.items()}}
    for other in ("PyTorch", "numpy"):
        if other in times:
            ratios = [a / b for a, b in zip(times["tapegrad"], times[other])]
            row[other] = (median(ratios), *quartiles(ratios))
    return row


def table(rows):
    print("| workload | tapegrad ms | PyTorch ms | numpy ms | tapegrad/PyTorch [IQR] | "
          "tapegrad/numpy [IQR] | bar | |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        key, ms = row["key"], row["ms"]
        bar = BARS[key][0 if THREADS >= 2 else 1] if BARS[key] else None

        def ratio(other):
            if other not in row:
                return "n/a"
            m, low, high = row[other]
            return f"{m:.2f} [{low:.2f}–{high:.2f}]"

        if bar is None:
            verdict = ""
        elif "PyTorch" not in row:
            verdict = "(no PyTorch)"
        else:
            verdict = "pass" if row["PyTorch"][0] <= bar else "FAIL"
        torch_ms = f"{ms['PyTorch']:.3f}" if "PyTorch" in ms else "n/a"
        print(f"| {TITLES[key]} | {ms['tapegrad']:.3f} | {torch_ms} | {ms['numpy']:.3f} | "
              f"{ratio('PyTorch')} | {ratio('numpy')} | {'—' if bar is None else f'≤ {bar}'} | "
              f"{verdict} |")


def profile(key):
    """tapegrad.autograd.profile() and cProfile over many steps of tapegrad's step."""
    import cProfile
    import pstats
    work = build(key)
    model, step, loss_fn = work.tg
    for _ in range(20):
        step()
    n = max(20, round(2.0 / _quick_time(step)))
    with tg.autograd.profile() as prof:
        for _ in range(n):
            step()
    print(f"## tapegrad.autograd.profile(), {key}, {THREADS} thread(s), {n} steps (totals)")
    print(prof)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        step()
    profiler.disable()
    print(f"## cProfile, {key}, {n} steps")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    if args.profile:
        profile(args.profile)
    else:
        run()
