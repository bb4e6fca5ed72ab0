"""Debugging a network: a NaN hunt, an in-place mistake, a slow step, and the tape drawn.

Backpropagation fails in three common ways, and tapegrad has a tool for each:

1. A NaN appears in the loss. One operation made it (here e^800 overflows float32 to
   infinity, then inf/inf = nan) and every later value inherited it.
   `tg.autograd.detect_anomaly()` stops at the FIRST operation that turns finite inputs
   into NaN or infinity, and names your line.
2. A value that backward needs was changed in place. The chain rule needs the values
   the forward pass saw: d(sigmoid)/dx = y(1 - y) reads y. Every tensor has a version
   counter, and backward refuses a saved value whose version moved.
3. A step is slow. `tg.autograd.profile()` times every operation, forward and backward,
   so you see where the time goes (here: a Python loop over the batch).

Finally `draw_graph` draws the tape behind a loss: the chain that backward walks in reverse.

    python examples/debugging.py [--quick] [--out out/debugging]
"""
import argparse
import os
import time
import warnings

import numpy as np

import tapegrad as tg
from tapegrad import autograd, nn


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    parser.add_argument("--out", default=os.path.join("out", "debugging"))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def section(title):
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def nan_hunt():
    section("1. A NaN hunt")
    logits = tg.tensor([[2.0, -1.0, 0.5], [800.0, 0.0, -800.0]], requires_grad=True)
    # A hand-written cross entropy: softmax, then log. For the second row e^800 overflows
    # float32 (its largest value is about 3.4e38 = e^88.7): inf / inf is nan.
    probabilities = logits.exp() / logits.exp().sum(1, keepdim=True)
    loss = -probabilities.log().mean()
    print(f"loss without anomaly mode: {loss.item()} (no hint where it came from)")

    with autograd.detect_anomaly():
        try:
            probabilities = logits.exp() / logits.exp().sum(1, keepdim=True)
            loss = -probabilities.log().mean()
        except autograd.AnomalyError as report:
            print("anomaly mode stops at the first bad operation:\n")
            print(report)
    # The fix: log_softmax computes log(e^x / Σe^x) as x - max - log Σ e^(x - max), whose
    # exponents are all ≤ 0: nothing overflows, nothing underflows to log(0).
    loss = -logits.log_softmax(1).mean()
    loss.backward()
    finite = bool(np.isfinite(logits.grad.numpy()).all())
    print(f"\nwith log_softmax: loss {loss.item():.4f}, finite gradient: {finite}")


def inplace_mistake():
    section("2. An in-place mistake")
    x = tg.randn(4, requires_grad=True)
    y = x.sigmoid()          # sigmoid saves y: its derivative is y(1 - y)
    y.mul_(2)                # ... and this changes y in place
    try:
        y.sum().backward()
    except RuntimeError as error:
        print("backward refuses the changed value:\n")
        print(error)
    y = x.sigmoid() * 2      # the fix: an out-of-place multiply keeps y intact
    y.sum().backward()
    print(f"\nout of place: gradient {x.grad.tolist()}")


class SlowNorm(nn.Module):
    """Normalises each example separately, in a Python loop (the slow spelling)."""

    def forward(self, x):
        rows = [(row - row.mean()) / (row.std() + 1e-5) for row in x]
        return tg.stack(rows)


class FastNorm(nn.Module):
    """The same computation on the whole batch at once."""

    def forward(self, x):
        return (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-5)


def slow_step(quick):
    section("3. A slow step")
    batch = 16 if quick else 128
    x, y = tg.randn(batch, 64), tg.randint(0, 10, (batch,))
    timings = {}
    for norm in (SlowNorm(), FastNorm()):
        model = nn.Sequential(nn.Linear(64, 64), norm, nn.ReLU(), nn.Linear(64, 10))
        loss_fn = nn.CrossEntropyLoss()
        with autograd.profile() as prof:
            start = time.perf_counter()
            loss_fn(model(x), y).backward()
            timings[type(norm).__name__] = time.perf_counter() - start
        print(f"\n{type(norm).__name__}: one training step took "
              f"{timings[type(norm).__name__] * 1e3:.1f} ms")
        print(prof.table(limit=6))
    print(f"\nthe loop over {batch} examples records {batch}× more operations; batched, the "
          f"step is {timings['SlowNorm'] / timings['FastNorm']:.0f}× faster")
    return timings


def profile_training_steps(steps=10):
    """The profile of ``steps`` SGD steps of a 784-256-10 MLP on a batch of 64."""
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    loss_fn, optimizer = nn.CrossEntropyLoss(), tg.optim.SGD(model.parameters(), lr=0.1)
    x, y = tg.randn(64, 784), tg.randint(0, 10, (64,))
    with autograd.profile() as prof:
        for _ in range(steps):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    return prof


def small_network_loss():
    """A two-layer network's cross-entropy loss on 5 examples, and the network."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loss = nn.CrossEntropyLoss()(model(tg.randn(5, 4)), tg.tensor([0, 1, 2, 0, 1]))
    return loss, model


def draw_the_tape(out):
    section("4. The tape behind a loss")
    loss, model = small_network_loss()
    autograd.print_graph(loss, params=model)
    fig, _ = autograd.draw_graph(loss, params=model)
    path = os.path.join(out, "graph.png")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings: we hunt them
    nan_hunt()
    inplace_mistake()
    slow_step(args.quick)
    path = draw_the_tape(args.out)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
