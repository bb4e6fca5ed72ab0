"""Whole-model training steps, tapegrad against PyTorch (CPU): time, peak memory, start-up.

Every model is written once, against the PyTorch API that both libraries share
(``lib.nn.Conv2d``, ``lib.optim.Adam``, …), and built in each library from the same
weights. Before timing, the script checks that the two agree on the loss and every
gradient.

* Time: per thread count (2, then 1), one process per contender, the two alive side by
  side: OPENBLAS/OMP/MKL/NUMBA_NUM_THREADS set before numpy or torch load,
  torch.set_num_threads(N). After a warm-up, the parent asks the two for blocks of steps in
  turn (tapegrad, PyTorch, tapegrad, …) for --rounds rounds; a contender's time is the
  median of its blocks, the ratio the median of the ratios of back-to-back blocks, with
  its quartiles (how noisy the machine was). Separate processes keep each library's
  process-wide settings its own: tapegrad fixes glibc's malloc thresholds at import
  (tapegrad/backend/heap.py), and in a shared process that also spared PyTorch's ResNet
  step 5,700–7,500 page faults (12–14 ms of kernel time) that it pays on its own.
* Peak memory: one process per contender and model (the other library never imported),
  1 thread. It reads VmRSS once the library is imported (the baseline) and again after one
  step of a 2→2 linear layer (the runtime's fixed cost: numba's compiler and its first
  kernels, PyTorch's engine; the second table column), builds the model,
  runs 2 steps (gradients, optimizer state, workspaces exist from then on), resets the
  kernel's high-water mark (``/proc/self/clear_refs``), runs 3 more steps and reads VmHWM.
  "peak" is VmHWM − baseline: weights, gradients, optimizer state, saved activations,
  workspaces and temporaries at the worst moment of a step (and the pages of code loaded
  on first use: numba's compiled kernels, oneDNN's). Resident memory counts every
  allocator's pages, which tracemalloc (Python's allocator only) would miss for torch.
* Start-up: fresh processes time ``import tapegrad`` (and ``import torch``) and the first
  and second training steps of the CIFAR-style CNN (numba's on-disk cache warm; one run
  also with an empty cache, what a fresh install pays once).

The BLAS variables some machines set (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) are removed
from the children's environment: users' machines don't set them.

``--isa avx2`` runs the children as on an AVX2 machine without AVX-512: each library is
told to use no more than AVX2 (numpy's OpenBLAS: OPENBLAS_CORETYPE=Haswell; numba:
NUMBA_CPU_NAME=haswell; PyTorch's kernels: ATEN_CPU_CAPABILITY=avx2; oneDNN:
ONEDNN_MAX_CPU_ISA=AVX2; MKL: MKL_ENABLE_INSTRUCTIONS=AVX2). The caches, core count and
clock stay those of the machine at hand, so it stands in for a real AVX2 machine's
instruction mix, not for its memory system.

    PYTHONPATH=. python benchmarks/models.py                    # everything (about 15 min)
    PYTHONPATH=. python benchmarks/models.py --workloads cifar,resnet --rounds 10
    PYTHONPATH=. python benchmarks/models.py --skip memory,startup --threads 1
    PYTHONPATH=. python benchmarks/models.py --smoke            # tiny sizes, one round
    PYTHONPATH=. python benchmarks/models.py --isa avx2 --skip memory,startup
"""
import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time

WORKLOADS = {   # key: (title, optimizer)
    "mlp128": ("MLP 784-256-128-10, batch 128", "SGD"),
    "mlp16": ("MLP 784-256-128-10, batch 16", "SGD"),
    "lenet": ("LeNet-5, 1×28×28, batch 64", "SGD"),
    "conv": ("Conv2d 32→64 3×3, 32×32, batch 32", "SGD"),
    "rnn": ("RNN tanh 64→128, T 32, batch 32", "SGD"),
    "lstm": ("LSTM 64→128, T 32, batch 32", "SGD"),
    "cifar": ("CIFAR CNN conv 32-64-128, batch 64", "SGD momentum"),
    "resnet": ("ResNet blocks + BatchNorm, 32 ch, 32×32, batch 32", "SGD momentum"),
    "lstm_lm": ("2-layer LSTM LM, vocab 2000, T 35, batch 20", "Adam"),
    "transformer": ("2-layer Transformer encoder, d 128, seq 64, batch 16", "AdamW"),
    "mlp_adam": ("MLP 784-512-512-10, batch 128", "Adam"),
}
BARS = {1: 1.2, 2: 1.3, "memory": 1.5}   # tapegrad / PyTorch at most
# Untimed steps after each 2-thread block's pause. After an idle pause, Linux wakes
# tapegrad's sleeping pool thread on the core of the thread that woke it, and the two share
# that core until the scheduler moves one away: on the 2-core AMD EPYC the LSTM's first
# steps after a 200 ms pause took 10.9, 9.8 and 8.6 ms, then 7.4–7.9 (8.2–8.7 throughout
# with the two threads pinned to separate cores); LeNet's first four 10.0–10.4, then 7.1–7.3.
# PyTorch's OpenMP threads spin instead of sleeping and pay nothing there.
SETTLE = 0.05
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
AVX2_ONLY = {   # each library's own switch to stay within AVX2
    "OPENBLAS_CORETYPE": "Haswell",
    "NUMBA_CPU_NAME": "haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--threads", default="2,1", help="thread counts to time (default 2,1)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--block-ms", type=float, default=60.0,
                        help="one contender's block of steps (default 60 ms)")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: "
                        "time, memory, startup")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, one round, no PyTorch needed: checks the script runs")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--isa", choices=("native", "avx2"), default="native",
                        help="avx2: every library limited to AVX2 instructions (default: native)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    parser.add_argument("--child", choices=("contender", "memory", "startup"), help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    return parser.parse_args()


# -- the models, written once for both libraries ---------------------------------------------
def sizes(smoke):
    """Batch and layer sizes; --smoke shrinks them so the whole script runs in seconds."""
    if smoke:
        return dict(batch=4, image=8, length=3, vocab=50, hidden=16, d_model=16, seq=5)
    return dict(batch=None, image=32, length=None, vocab=2000, hidden=200, d_model=128, seq=64)


def build_model(lib, key, s):
    nn, F = lib.nn, lib.nn.functional
    if key in ("mlp128", "mlp16"):
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if key == "mlp_adam":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10))
    if key == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, 10))
    if key == "conv":
        return nn.Conv2d(32, 64, 3, padding=1)
    if key == "rnn":
        return nn.RNN(64, 128)
    if key == "lstm":
        return nn.LSTM(64, 128)
    if key == "cifar":
        side = s["image"] // 8
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(128 * side * side, 256), nn.ReLU(), nn.Linear(256, 10))
    if key == "resnet":
        class Block(nn.Module):
            """x + BN(conv(ReLU(BN(conv(x))))), then ReLU: a ResNet basic block."""

            def __init__(self, channels):
                super().__init__()
                self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(channels)
                self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(channels)

            def forward(self, x):
                y = F.relu(self.bn1(self.conv1(x)))
                return F.relu(x + self.bn2(self.conv2(y)))

        return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                             nn.ReLU(), Block(32), Block(32), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(32, 10))
    if key == "lstm_lm":
        class LanguageModel(nn.Module):
            """Embedding → 2-layer LSTM → Linear over the vocabulary (tokens are (T, B))."""

            def __init__(self, vocab, hidden):
                super().__init__()
                self.embedding = nn.Embedding(vocab, hidden)
                self.lstm = nn.LSTM(hidden, hidden, num_layers=2)
                self.decoder = nn.Linear(hidden, vocab)

            def forward(self, tokens):
                out, _ = self.lstm(self.embedding(tokens))
                return self.decoder(out).reshape(-1, self.decoder.out_features)

        return LanguageModel(s["vocab"], s["hidden"])
    if key == "transformer":
        class Encoder(nn.Module):
            """2 encoder layers (dropout 0: both libraries compute the same), mean over the
            sequence, a linear classifier."""

            def __init__(self, d_model):
                super().__init__()
                layer = nn.TransformerEncoderLayer(d_model, 4, dim_feedforward=4 * d_model,
                                                   dropout=0.0, batch_first=True)
                self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.head = nn.Linear(d_model, 10)

            def forward(self, x):
                return self.head(self.encoder(x).mean(dim=1))

        return Encoder(s["d_model"])
    raise ValueError(f"unknown workload {key!r}; choose from {', '.join(WORKLOADS)}")


def build_data(key, s):
    """Inputs and targets as numpy arrays (float32 / int64), fixed by a seed."""
    import numpy as np
    rng = np.random.default_rng(1)

    def labels(n, classes=10):
        return rng.integers(0, classes, n).astype(np.int64)

    b = s["batch"]
    if key in ("mlp128", "mlp16", "mlp_adam"):
        n = b or (16 if key == "mlp16" else 128)
        return rng.standard_normal((n, 784), dtype=np.float32), labels(n)
    if key == "lenet":
        n = b or 64
        return rng.standard_normal((n, 1, 28, 28), dtype=np.float32), labels(n)
    if key == "conv":
        return rng.standard_normal((b or 32, 32, s["image"], s["image"]), dtype=np.float32), None
    if key in ("rnn", "lstm"):
        t, n = s["length"] or 32, b or 32
        return (rng.standard_normal((t, n, 64), dtype=np.float32),
                rng.standard_normal((t, n, 128), dtype=np.float32) * np.float32(0.5))
    if key in ("cifar", "resnet"):
        n = b or (64 if key == "cifar" else 32)
        return rng.standard_normal((n, 3, s["image"], s["image"]), dtype=np.float32), labels(n)
    if key == "lstm_lm":
        t, n = s["length"] or 35, b or 20
        return labels(t * n, s["vocab"]).reshape(t, n), labels(t * n, s["vocab"])
    if key == "transformer":
        n = b or 16
        return rng.standard_normal((n, s["seq"], s["d_model"]), dtype=np.float32), labels(n)
    raise ValueError(key)


def build_optimizer(lib, key, parameters):
    kind = WORKLOADS[key][1]
    if kind == "SGD":
        return lib.optim.SGD(parameters, lr=1e-9 if key == "conv" else 1e-3)
    if kind == "SGD momentum":
        return lib.optim.SGD(parameters, lr=0.01, momentum=0.9)
    if kind == "Adam":
        return lib.optim.Adam(parameters, lr=1e-3)
    return lib.optim.AdamW(parameters, lr=1e-3, weight_decay=0.01)


class Contender:
    """One library's model, data and optimizer for one workload; ``step()`` trains once."""

    def __init__(self, lib, key, s, weights=None):
        import numpy as np
        self.lib, self.key = lib, key
        if lib.__name__ == "tapegrad":
            lib.manual_seed(0)
        self.model = build_model(lib, key, s)
        if weights is not None:   # the other library's initial weights, copied
            self.model.load_state_dict({n: lib.from_numpy(np.array(a)) for n, a in weights.items()})
        x, y = build_data(key, s)
        self.x = lib.from_numpy(x.copy())
        self.y = None if y is None else lib.from_numpy(y.copy())
        if key == "conv":
            self.x.requires_grad_()
        self.loss_fn = lib.nn.MSELoss() if key in ("rnn", "lstm") else lib.nn.CrossEntropyLoss()
        self.optimizer = build_optimizer(lib, key, self.model.parameters())

    def weights(self):
        return {n: t.detach().numpy().copy() for n, t in self.model.state_dict().items()}

    def loss(self):
        out = self.model(self.x)
        if self.key in ("rnn", "lstm"):
            out = out[0]
        return out.pow(2).sum() if self.key == "conv" else self.loss_fn(out, self.y)

    def step(self):
        self.optimizer.zero_grad()
        if self.key == "conv":
            self.x.grad = None
        self.loss().backward()
        self.optimizer.step()

    def gradients(self):
        self.optimizer.zero_grad()
        self.x.grad = None
        loss = self.loss()
        loss.backward()
        grads = {n: p.grad.numpy().copy() for n, p in self.model.named_parameters()}
        if self.key == "conv":
            grads["input"] = self.x.grad.numpy().copy()
        return float(loss.item()), grads


def check(key, ours, theirs):
    """The worst relative difference of loss and gradients, each side's ``(loss, {name:
    gradient})``; raises beyond 1e-3 (1e-2 through BatchNorm, whose float32 batch statistics
    amplify rounding: in float64 the ResNet's gradients agree to 1e-13)."""
    tolerance = 1e-2 if key == "resnet" else 1e-3
    import numpy as np
    (loss, grads), (their_loss, their_grads) = ours, theirs
    worst = abs(loss - their_loss) / max(abs(their_loss), 1e-12)
    for name, g in grads.items():
        r = their_grads[name]
        difference = float(np.abs(g - r).max() / max(np.abs(r).max(), 1e-12))
        if difference > tolerance or g.shape != r.shape:
            raise AssertionError(f"{key}: the gradient of {name} differs from PyTorch's by "
                                 f"{difference:.2e} (shapes {g.shape}, {r.shape})")
        worst = max(worst, difference)
    if worst > tolerance:
        raise AssertionError(f"{key}: losses {loss} and {their_loss} differ")
    return worst


# -- the children -------------------------------------------------------------------------------
def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def quartiles(values):
    values = sorted(values)
    return values[len(values) // 4], values[(3 * len(values)) // 4]


def warm_up(step, smoke):
    """Steps for at least 0.3 s (3 steps when smoke), then the seconds per step of 3 more."""
    start, count = time.perf_counter(), 0
    while count < 3 or (time.perf_counter() - start < 0.3 and not smoke):
        step()
        count += 1
    start = time.perf_counter()
    for _ in range(3):
        step()
    return (time.perf_counter() - start) / 3


def run_block(step, count, gap):
    """(wall seconds, CPU seconds of the calling thread) per step of ``count`` steps. With 1
    thread all the work is on the calling thread, so its CPU time leaves out waiting for a
    core on a busy machine. A ``gap`` pause and SETTLE seconds of untimed steps (at least 2)
    come first (see measure)."""
    if gap:
        time.sleep(gap)
        start, settled = time.perf_counter(), 0
        while settled < 2 or time.perf_counter() - start < SETTLE:
            step()
            settled += 1
    start, cpu_start = time.perf_counter(), time.thread_time()
    for _ in range(count):
        step()
    return (time.perf_counter() - start) / count, (time.thread_time() - cpu_start) / count


def libraries_loaded():
    return [name for name in ("tapegrad", "torch") if name in sys.modules]


def contender_child(args, threads):
    """One library's side of the timing, in a process of its own: it builds each workload and
    runs what the parent asks, requests and answers pickled over its stdin and stdout."""
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr   # nothing else may write into the answers

    def answer(value):
        pickle.dump(value, answers)
        answers.flush()

    if args.contender == "tapegrad":
        import tapegrad as lib
        from tapegrad.kernels.cpu import threads as pool
        answer({"blas": blas_core(), "instructions": f"numba target {numba_target()}",
                "libraries": libraries_loaded()})
    else:
        import torch as lib
        lib.set_num_threads(threads)
        lib.set_num_interop_threads(1)
        pool = None
        answer({"instructions": f"PyTorch kernels {lib.backends.cpu.get_cpu_capability()}",
                "libraries": libraries_loaded()})
    s = sizes(args.smoke)
    contender = None
    while True:
        try:
            kind, *arguments = pickle.load(requests)
        except EOFError:   # the parent stopped (a failed check): its error is the one to read
            return
        if kind == "build":   # (key, the other library's weights or None): answers the weights
            contender = None   # (the last workload's model freed before the next is built)
            if pool is not None:   # each workload as in a fresh process: OpenBLAS's threads own
                pool.give_back_the_cores()   # the cores until a convolution shares its batch
            contender = Contender(lib, arguments[0], s, arguments[1])
            answer(contender.weights())
        elif kind == "gradients":
            answer(contender.gradients())
        elif kind == "warm up":
            answer(warm_up(contender.step, args.smoke))
        elif kind == "block":
            answer(run_block(contender.step, *arguments))
        elif kind == "pool owns the cores":
            answer(pool is not None and pool.pool_owns_the_cores())
        elif kind == "stop":
            return


# -- the parent's side of the timing ------------------------------------------------------------
class ContenderProcess:
    """A contender's child process (``contender_child``), asked in turn for its work."""

    def __init__(self, args, name, threads):
        self.name = name
        self.process = subprocess.Popen(child_command(args, ["--child", "contender", "--contender", name]),
                                        env=child_env(threads, isa_env(args)),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.about = self.answer()

    def ask(self, *request):
        pickle.dump(request, self.process.stdin)
        self.process.stdin.flush()
        return self.answer()

    def answer(self):
        try:
            return pickle.load(self.process.stdout)
        except EOFError:
            sys.exit(f"the {self.name} process ended (exit {self.process.wait()})")

    def stop(self):
        pickle.dump(("stop",), self.process.stdin)
        self.process.stdin.close()
        self.process.wait()


def time_contenders(args, names, threads):
    """Times every workload with each contender in its own process, interleaved."""
    processes = {name: ContenderProcess(args, name, threads) for name in names}
    ours = processes["tapegrad"]
    theirs = processes.get("PyTorch")
    results = {"threads": threads, "blas": ours.about["blas"], "load_before": os.getloadavg()[0],
               "instructions": ", ".join(p.about["instructions"] for p in processes.values()),
               "libraries": {name: p.about["libraries"] for name, p in processes.items()},
               "workloads": {}}
    for key in args.workloads.split(","):
        weights = ours.ask("build", key, None)
        difference = None
        if theirs is not None:
            theirs.ask("build", key, weights)
            difference = check(key, ours.ask("gradients"), theirs.ask("gradients"))
        times, cpu_times = measure(processes, args, threads)
        row = {"ms": {n: 1e3 * median(t) for n, t in times.items()}, "difference": difference,
               "cpu_ms": {n: 1e3 * median(t) for n, t in cpu_times.items()}}
        if "PyTorch" in times:
            ratios = [a / b for a, b in zip(times["tapegrad"], times["PyTorch"])]
            row["ratio"] = (median(ratios), *quartiles(ratios))
            ratios = [a / b for a, b in zip(cpu_times["tapegrad"], cpu_times["PyTorch"])]
            row["cpu_ratio"] = (median(ratios), *quartiles(ratios))
        row["pool_owns_the_cores"] = ours.ask("pool owns the cores")
        results["workloads"][key] = row
        print(f"  {threads} thread(s) {key}: " + ", ".join(
            f"{n} {v:.2f} ms" for n, v in row["ms"].items())
            + (" (tapegrad's pool owned the cores)" if row["pool_owns_the_cores"] else ""),
            file=sys.stderr, flush=True)
    for process in processes.values():
        process.stop()
    results["load_after"] = os.getloadavg()[0]
    return results


def measure(processes, args, threads):
    """({name: [wall seconds per step of each round's block]}, {name: [CPU seconds of the
    calling thread …]}): warm-up, then alternating blocks, each in its contender's process.
    With 2+ threads each block starts after a 200 ms pause, so that the other library's
    idle BLAS/OpenMP threads, which spin for up to ~0.1 s after its block, do not steal a
    core (see benchmarks/README.md); then SETTLE seconds of untimed steps, so that the
    block measures steps of a training loop at its steady pace, not steps right after an
    idle pause (below)."""
    per_step = {name: p.ask("warm up") for name, p in processes.items()}
    block = {n: max(1, round(args.block_ms / 1e3 / t)) for n, t in per_step.items()}
    gap = 0.2 if threads > 1 and not args.smoke else 0.0
    times = {name: [] for name in processes}
    cpu_times = {name: [] for name in processes}
    for _ in range(1 if args.smoke else args.rounds):
        for name, process in processes.items():
            wall, cpu = process.ask("block", block[name], gap)
            times[name].append(wall)
            cpu_times[name].append(cpu)
    return times, cpu_times


def resident_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(args):
    """Peak resident memory of one contender's training steps; prints one JSON line."""
    key, name = args.workloads, args.contender
    lib = __import__("tapegrad" if name == "tapegrad" else "torch")
    if name == "PyTorch":
        lib.set_num_threads(1)
    imported = resident_kib("VmRSS")
    tiny = lib.nn.Linear(2, 2)   # wakes the runtime: numba's compiler, PyTorch's engine
    lib.optim.SGD(tiny.parameters(), lr=0.1).zero_grad()
    tiny(lib.ones(1, 2)).sum().backward()
    lib.optim.SGD(tiny.parameters(), lr=0.1).step()
    runtime = resident_kib("VmRSS")
    contender = Contender(lib, key, sizes(args.smoke))
    for _ in range(2):
        contender.step()
    resting = resident_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:   # VmHWM := VmRSS from here on
        f.write("5")
    for _ in range(3):
        contender.step()
    peak = resident_kib("VmHWM")
    print(json.dumps({"peak_mib": (peak - imported) / 1024, "runtime_mib": (runtime - imported) / 1024,
                      "peak_above_runtime_mib": (peak - runtime) / 1024,
                      "resting_mib": (resting - runtime) / 1024}))


def startup_child(args):
    """import time and the first two training steps of the CIFAR CNN; one JSON line."""
    name = args.contender
    start = time.perf_counter()
    lib = __import__("tapegrad" if name == "tapegrad" else "torch")
    imported = time.perf_counter() - start
    if name == "PyTorch":
        lib.set_num_threads(1)
    key = "mlp16" if args.smoke else "cifar"
    contender = Contender(lib, key, sizes(args.smoke))
    laps = []
    for _ in range(2):
        start = time.perf_counter()
        contender.step()
        laps.append(time.perf_counter() - start)
    print(json.dumps({"import_s": imported, "first_step_s": laps[0], "second_step_s": laps[1]}))


def blas_core():
    """numpy's BLAS library, version and the kernels it chose for this CPU (OpenBLAS's own
    name for them, asked through ctypes: neither library imports the other's code here)."""
    import ctypes

    import numpy as np
    info = np.__config__.CONFIG["Build Dependencies"]["blas"]
    about = f"{info['name']} {info['version']}"
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        paths = []
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            getter = getattr(library, name, None)
            if getter is not None:
                getter.restype = ctypes.c_char_p
                return f"{about}, kernels {getter().decode()}"
    return f"{about} (kernels not known: not an OpenBLAS)"


def numba_target():
    """The CPU numba compiles tapegrad's kernels for (its vector instructions)."""
    import numba.core.config
    from llvmlite import binding
    return numba.core.config.CPU_NAME or binding.get_host_cpu_name()


# -- the parent -----------------------------------------------------------------------------------
def child_env(threads=1, extra=None):
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS"):
        env[variable] = str(threads)
    env.update(extra or {})
    return env


def isa_env(args):
    return AVX2_ONLY if args.isa == "avx2" else {}


def child_command(args, arguments):
    command = [sys.executable, os.path.abspath(__file__), "--workloads", args.workloads,
               "--rounds", str(args.rounds), "--block-ms", str(args.block_ms)]
    command += ["--smoke"] if args.smoke else []
    command += ["--no-torch"] if args.no_torch else []
    return command + arguments


def run_child(args, arguments, threads=1, extra_env=None):
    result = subprocess.run(child_command(args, arguments),
                            env=child_env(threads, {**isa_env(args), **(extra_env or {})}),
                            stdout=subprocess.PIPE, text=True)
    if result.returncode:
        sys.exit(f"child {' '.join(arguments)} failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def torch_available():
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def machine():
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vector = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                          "avx512_bf16", "avx512_fp16", "amx_tile") if f in flags]
    return f"{model}, {os.cpu_count()} cpus, vector extensions: {' '.join(vector) or '?'}"


def main():
    args = parse()
    if args.child == "contender":
        return contender_child(args, int(os.environ["OPENBLAS_NUM_THREADS"]))
    if args.child == "memory":
        return memory_child(args)
    if args.child == "startup":
        return startup_child(args)

    keys = [k.strip() for k in args.workloads.split(",") if k.strip()]
    for key in keys:
        if key not in WORKLOADS:
            sys.exit(f"unknown workload {key!r}; choose from {', '.join(WORKLOADS)}")
    args.workloads = ",".join(keys)
    skip = set(filter(None, args.skip.split(",")))
    with_torch = not args.no_torch and torch_available()
    contenders = ["tapegrad"] + (["PyTorch"] if with_torch else [])
    print(f"machine: {machine()}")
    print(f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}; "
          f"{'smoke run' if args.smoke else f'{args.rounds} rounds of ~{args.block_ms:g} ms blocks'}",
          flush=True)
    results = {"machine": machine(), "time": {}, "memory": {}, "startup": {}}

    if "startup" not in skip:
        runs = 1 if args.smoke else 3
        for name in contenders:
            laps = [run_child(args, ["--child", "startup", "--contender", name])
                    for _ in range(runs)]
            results["startup"][name] = {k: median([lap[k] for lap in laps]) for k in laps[0]}
        if not args.smoke:
            with tempfile.TemporaryDirectory() as empty:
                results["startup"]["tapegrad, empty numba cache"] = run_child(
                    args, ["--child", "startup", "--contender", "tapegrad"],
                    extra_env={"NUMBA_CACHE_DIR": empty})
        print(f"\nstart-up (median of {runs} fresh processes; the CIFAR CNN's steps, 1 thread):")
        print("| | import | first step | second step |\n|---|---:|---:|---:|")
        for name, r in results["startup"].items():
            print(f"| {name} | {r['import_s']:.2f} s | {r['first_step_s']:.3f} s | "
                  f"{r['second_step_s']:.3f} s |")

    if "memory" not in skip:
        for key in keys:
            one = argparse.Namespace(**{**vars(args), "workloads": key})
            results["memory"][key] = {
                name: run_child(one, ["--child", "memory", "--contender", name])
                for name in contenders}
        print("\npeak resident memory of training steps (MiB; each in its own process, 1 thread): "
              "above the imported library, and above the runtime woken by one step of a 2→2 "
              "linear layer (numba's compiler, PyTorch's engine):")
        print("| workload | tapegrad | PyTorch | tapegrad / PyTorch | above the runtime | "
              "ratio | bar |\n|---|---:|---:|---:|---:|---:|---|")
        for key, r in results["memory"].items():
            ours, theirs = r["tapegrad"], r.get("PyTorch")
            if theirs is None:
                print(f"| {WORKLOADS[key][0]} | {ours['peak_mib']:.1f} | n/a | | "
                      f"{ours['peak_above_runtime_mib']:.1f} | | |")
                continue
            ratio = ours["peak_mib"] / theirs["peak_mib"]
            above = ours["peak_above_runtime_mib"] / max(theirs["peak_above_runtime_mib"], 0.1)
            verdict = "✓" if max(ratio, above) <= BARS["memory"] else "✗"
            print(f"| {WORKLOADS[key][0]} | {ours['peak_mib']:.1f} | {theirs['peak_mib']:.1f} | "
                  f"{ratio:.2f} | {ours['peak_above_runtime_mib']:.1f} / "
                  f"{theirs['peak_above_runtime_mib']:.1f} | {above:.2f} | "
                  f"≤ {BARS['memory']} {verdict} |")

    if "time" not in skip:
        for threads in [int(t) for t in args.threads.split(",")]:
            r = results["time"][threads] = time_contenders(args, contenders, threads)
            print(f"\ntraining step, {threads} thread{'s' if threads > 1 else ''} (median ms; "
                  f"ratio: median [quartiles] of back-to-back blocks); numpy BLAS: {r['blas']}; "
                  f"{r['instructions']}; "
                  f"load average {r['load_before']:.2f} → {r['load_after']:.2f}")
            cpu = threads == 1
            print("| workload | optimizer | tapegrad | PyTorch | tapegrad / PyTorch | bar |"
                  + (" CPU-time ratio |" if cpu else "") + "\n|---|---|---:|---:|---:|---|"
                  + ("---:|" if cpu else ""))
            bar = BARS.get(threads, BARS[2])
            for key, row in r["workloads"].items():
                ms = row["ms"]
                if "ratio" in row:
                    m, low, high = row["ratio"]
                    ratio = f"{m:.2f} [{low:.2f}–{high:.2f}]"
                    verdict = "✓" if m <= bar else "✗"
                    c, c_low, c_high = row["cpu_ratio"]
                    cpu_ratio = f" {c:.2f} [{c_low:.2f}–{c_high:.2f}] |"
                else:
                    ratio, verdict, cpu_ratio = "n/a", "", " n/a |"
                torch_ms = f"{ms['PyTorch']:.2f}" if "PyTorch" in ms else "n/a"
                print(f"| {WORKLOADS[key][0]} | {WORKLOADS[key][1]} | {ms['tapegrad']:.2f} | "
                      f"{torch_ms} | {ratio} | ≤ {bar} {verdict} |" + (cpu_ratio if cpu else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
