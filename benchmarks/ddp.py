"""Data-parallel scaling: training steps of LeNet-5 (or a wide MLP) on 1 and 2 processes, and
how much of the gradient averaging DistributedDataParallel hides behind backward.

    python benchmarks/ddp.py                      # 1 and 2 processes, batch 64 per process
    python benchmarks/ddp.py --model mlp          # 7.5 MB of gradients: communication shows
    python benchmarks/ddp.py --procs 1,2,4 --batch 32 --steps 40

For each number of processes P it launches P processes (tapegrad's launcher, one BLAS
thread each) and times the same training step three ways, interleaved in rounds:

* ``ddp``: DistributedDataParallel as it is (buckets all_reduced as backward fills them);
* ``after``: the same gradients averaged by one all_reduce after backward has finished
  (no_sync during backward), i.e. no overlap;
* ``local``: no averaging at all (the compute alone).

It prints samples per second over all processes (batch × P / DDP step time), the scaling
efficiency (samples/s at P ÷ (P × samples/s of one process training without DDP)), the
all_reduce time of all gradients on its own, what averaging adds to a step with and without
overlap (``ddp`` − ``local``, ``after`` − ``local``), and the time a DDP step blocks at the
end of backward (``waited``).

On a machine with fewer cores than processes × BLAS threads, processes share cores and the
efficiency says more about the machine than about the communication.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def lenet5(nn):
    """62,000 weights (0.24 MB of gradients), convolutions: mostly computation."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def wide_mlp(nn):
    """1.9 million weights (7.5 MB of gradients) for little computation: communication shows."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                         nn.ReLU(), nn.Linear(1024, 10))


MODELS = {"lenet": lenet5, "mlp": wide_mlp}


def worker(args):
    """One process of the job: time the three kinds of step; rank 0 prints a JSON line."""
    import numpy as np

    import tapegrad as tg
    import tapegrad.distributed as dist
    from tapegrad import nn
    from tapegrad.nn import functional as F
    from tapegrad.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    tg.manual_seed(0)
    model = DistributedDataParallel(MODELS[args.model](nn), bucket_cap_mb=args.bucket_mb)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = tg.from_numpy(rng.standard_normal((args.batch, 1, 28, 28)).astype("float32"))
    y = tg.from_numpy(rng.integers(0, 10, args.batch))
    params = list(model.parameters())
    flat = tg.zeros(sum(p.numel() for p in params))

    def step(kind):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if kind == "ddp":
            loss.backward()
        else:
            with model.no_sync():
                loss.backward()
            if kind == "after":   # one all_reduce of every gradient, once backward is done
                flat.array[...] = np.concatenate([p.grad.array.ravel() for p in params])
                dist.all_reduce(flat, op=dist.ReduceOp.AVG)
        optimizer.step()

    def all_reduce_alone():
        dist.all_reduce(flat, op=dist.ReduceOp.AVG)

    kinds = {"ddp": lambda: step("ddp"), "after": lambda: step("after"),
             "local": lambda: step("local"), "allreduce": all_reduce_alone}
    for kind in kinds.values():   # warm up
        for _ in range(3):
            kind()
    times = {k: [] for k in kinds}
    exposed = []
    for _ in range(args.rounds):
        for name, run in kinds.items():
            dist.barrier()
            waited = model.comm_wait_seconds
            begin = time.perf_counter()
            for _ in range(args.steps):
                run()
            elapsed = (time.perf_counter() - begin) / args.steps
            # the slowest process sets the pace
            t = tg.tensor([elapsed], dtype=tg.float64)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            times[name].append(t.item())
            if name == "ddp":
                exposed.append((model.comm_wait_seconds - waited) / args.steps)
    median = {k: float(np.median(v)) for k, v in times.items()}
    median["exposed"] = float(np.median(exposed))
    if rank == 0:
        print("RESULT " + json.dumps({"procs": world, **median}), flush=True)
    dist.destroy_process_group()


def launch(procs, args):
    here = Path(__file__).resolve()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(here.parents[1]),
                                                        os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "tapegrad.distributed.run", "--nproc-per-node", str(procs),
           str(here), "--worker", "--batch", str(args.batch), "--steps", str(args.steps),
           "--rounds", str(args.rounds), "--bucket-mb", str(args.bucket_mb), "--model", args.model]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800,
                         check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"the {procs}-process run failed:\n{out.stdout}\n{out.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", default="1,2", help="numbers of processes, comma-separated")
    parser.add_argument("--batch", type=int, default=64, help="samples per process per step")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=5, help="timed blocks of each kind")
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet",
                        help="lenet: LeNet-5; mlp: 784-1024-1024-10, 7.5 MB of gradients")
    parser.add_argument("--bucket-mb", type=float, default=None,
                        help="DDP's bucket_cap_mb (default: 0.05 for lenet, 1 for mlp, so that "
                             "each has several buckets)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bucket_mb is None:
        args.bucket_mb = 0.05 if args.model == "lenet" else 1.0
    if args.worker:
        return worker(args)
    results = [launch(int(p), args) for p in args.procs.split(",")]
    base = results[0]["local"] / args.batch   # seconds per sample: one process, no DDP
    print(f"{args.model}, batch {args.batch} per process, median ms per step "
          f"({args.rounds} rounds of {args.steps} steps)")
    print("procs  ddp ms  samples/s  efficiency  after ms  local ms  all_reduce ms  "
          "ddp-local  after-local  waited")
    for r in results:
        p = r["procs"]
        rate = p * args.batch / r["ddp"]
        efficiency = rate * base / p
        ms = {k: v * 1e3 for k, v in r.items() if k != "procs"}
        print(f"{p:5d}  {ms['ddp']:6.1f}  {rate:9.0f}  {efficiency:10.0%}  {ms['after']:8.1f}  "
              f"{ms['local']:8.1f}  {ms['allreduce']:13.2f}  {ms['ddp'] - ms['local']:9.1f}  "
              f"{ms['after'] - ms['local']:11.1f}  {ms['exposed']:6.1f}")
    print("ddp-local and after-local: what averaging the gradients adds to a step, with and "
          "without overlap; waited: time a DDP step blocks at the end of backward (the last "
          "bucket's transfer, and any wait for a slower process)")

if __name__ == "__main__":
    main()
