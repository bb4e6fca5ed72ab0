"""Optimizers race: six update rules on two hard 2-D functions and on MNIST.

Every optimizer gets the same gradient g = ∇f(θ) and turns it into a step differently
(lr the learning rate, μ = 0.9 the momentum, all operations per coordinate):

    SGD        θ ← θ − lr·g
    Momentum   b ← μ·b + g;  θ ← θ − lr·b                   (a heavy ball: speed builds up)
    Nesterov   b ← μ·b + g;  θ ← θ − lr·(g + μ·b)           (looks one step ahead)
    RMSprop    s ← α·s + (1 − α)·g²;  θ ← θ − lr·g/(√s + ε)  (a recent RMS of g, α = 0.99)
    Adagrad    s ← s + g²;  θ ← θ − lr·g/(√s + ε)           (ALL past g²: steps shrink)
    Adam       m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − lr·m̂/(√v̂ + ε)

where Adam's m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ) undo the zero start (β₁ = 0.9,
β₂ = 0.999): momentum and RMSprop in one rule.

The race tracks are two classic test functions, each from one start shared by all six:

    Rosenbrock  f(x, y) = (1 − x)² + 100·(y − x²)²                       minimum 0 at (1, 1)
    Beale       f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²
                                                                        minimum 0 at (3, ½)

Rosenbrock's minimum lies at the bottom of a long, curved, nearly flat valley with steep
walls: plain SGD needs a small lr to survive the walls and then crawls along the floor.
Beale has flat plateaus and sharp ridges, where gradients range over orders of magnitude.
Each lr below was tuned once, so the race compares each rule at its best rather than at
one shared lr: the lowest final f over a grid 1e-4, 2e-4, 5e-4, … 1 after 1,000 steps,
backed off one notch where that one bounced wildly (SGD and Adagrad on Rosenbrock). The
same six rules then train one small MLP on the embedded MNIST subset, from the same
initial weights on the same batches (lr: the lowest loss over the last 40 of 400 steps on
a grid 1e-4, 3e-4, 1e-3, … 0.3).

Run:  python examples/optimizers_race.py            (about 20 s on 2 cores)
      python examples/optimizers_race.py --quick    (a smoke test)
Options: --steps N (race steps), --mnist-steps N, --out DIR, --seed N.
Writes: trajectories.png, race.gif (Rosenbrock, animated), mnist_loss.png.
"""
import argparse
import math
import os
import time

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import PillowWriter
from matplotlib.colors import LogNorm

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import MNIST


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


# name: function, start, where its minimum is, the window to draw
FUNCTIONS = {
    "Rosenbrock": dict(f=rosenbrock, start=(-1.5, 2.0), minimum=(1.0, 1.0),
                       xlim=(-2.0, 2.0), ylim=(-2.0, 3.0)),  # room below for the legend
    "Beale": dict(f=beale, start=(1.0, 1.5), minimum=(3.0, 0.5),
                  xlim=(-0.5, 4.0), ylim=(-1.6, 2.0)),
}

# The six contestants: how to build each, and its tuned learning rate per task.
OPTIMIZERS = {
    "SGD": lambda params, lr: tg.optim.SGD(params, lr=lr),
    "Momentum": lambda params, lr: tg.optim.SGD(params, lr=lr, momentum=0.9),
    "Nesterov": lambda params, lr: tg.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True),
    "RMSprop": lambda params, lr: tg.optim.RMSprop(params, lr=lr),
    "Adagrad": lambda params, lr: tg.optim.Adagrad(params, lr=lr),
    "Adam": lambda params, lr: tg.optim.Adam(params, lr=lr),
}
LEARNING_RATES = {
    #              SGD    Momentum Nesterov RMSprop Adagrad Adam
    "Rosenbrock": (1e-3, 1e-3, 1e-3, 1e-2, 0.5, 0.1),
    "Beale":      (2e-2, 2e-3, 2e-3, 1e-2, 0.5, 0.05),
    "MNIST":      (0.3, 0.1, 0.1, 3e-3, 0.1, 1e-2),
}
COLORS = dict(zip(OPTIMIZERS, ["#444444", "#1f77b4", "#17becf", "#d62728", "#2ca02c", "#ff7f0e"]))


def lr_of(task, name):
    return LEARNING_RATES[task][list(OPTIMIZERS).index(name)]


def race(f, start, name, lr, steps):
    """Minimize f from start with one optimizer; return the path (steps + 1, 2) and f along it."""
    theta = tg.tensor(start, dtype=tg.float64, requires_grad=True)  # the two coordinates (x, y)
    optimizer = OPTIMIZERS[name]([theta], lr)
    path, values = [list(start)], []
    for _ in range(steps):
        loss = f(theta[0], theta[1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(theta.tolist())
        values.append(loss.item())
    values.append(f(theta[0], theta[1]).item())
    return np.array(path), np.array(values)


def contour_grid(f, xlim, ylim, n=300):
    # The same f, evaluated on numpy arrays for the background (no gradients needed).
    x, y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    return x, y, f(x, y)


def draw_contours(ax, spec):
    x, y, z = contour_grid(spec["f"], spec["xlim"], spec["ylim"])
    # Log-spaced levels: the interesting structure (valley floors) is many decades below the walls.
    levels = np.logspace(math.log10(max(z.min(), 1e-3)), math.log10(z.max()), 20)
    ax.contourf(x, y, z, levels=levels, norm=LogNorm(), cmap="Greys_r", alpha=0.55)
    ax.plot(*spec["minimum"], marker="*", color="gold", markersize=16, markeredgecolor="black",
            zorder=5)
    ax.plot(*spec["start"], marker="o", color="white", markersize=7, markeredgecolor="black",
            zorder=5)
    ax.set_xlim(spec["xlim"])
    ax.set_ylim(spec["ylim"])
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def plot_trajectories(paths, steps, path):
    # Top: the paths over the contours. Bottom: f along each path (who gets low, how fast).
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.4), gridspec_kw=dict(height_ratios=[3, 1.3]))
    for column, (fname, spec) in enumerate(FUNCTIONS.items()):
        ax, curve_ax = axes[0, column], axes[1, column]
        draw_contours(ax, spec)
        for rank, (name, (trajectory, values)) in enumerate(paths[fname].items()):
            # Paths share the valley floors: draw each one thinner than the one under it,
            # and mark where it ended.
            ax.plot(trajectory[:, 0], trajectory[:, 1], color=COLORS[name],
                    linewidth=3.4 - 0.4 * rank,
                    label=f"{name} (lr {lr_of(fname, name):g}): f = {values[-1]:.1e}")
            ax.plot(*trajectory[-1], "o", color=COLORS[name], markeredgecolor="black", zorder=6)
            curve_ax.plot(values, color=COLORS[name], linewidth=1.5)
        ax.set_title(f"{fname}, {steps} steps from {spec['start']}")
        ax.legend(fontsize=8, loc="lower right" if fname == "Rosenbrock" else "upper right",
                  framealpha=0.85)
        curve_ax.set_yscale("log")
        curve_ax.set_xlabel("step")
        curve_ax.set_ylabel("f(x, y)")
        curve_ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def animate_race(paths, steps, path, frames, dpi):
    spec = FUNCTIONS["Rosenbrock"]
    fig, ax = plt.subplots(figsize=(6, 5))
    draw_contours(ax, spec)
    lines, heads = {}, {}
    for rank, name in enumerate(paths):
        lines[name], = ax.plot([], [], color=COLORS[name], linewidth=3.4 - 0.4 * rank, label=name)
        heads[name], = ax.plot([], [], "o", color=COLORS[name], markersize=6,
                               markeredgecolor="black")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.85)
    title = ax.set_title("Rosenbrock race, step 0")  # a placeholder, so the layout keeps room
    fig.tight_layout()
    # Most of the action is early: space the frames quadratically in the step number.
    shown = np.unique(np.round(steps * np.linspace(0, 1, frames) ** 2).astype(int))

    def draw(frame):
        step = shown[frame]
        for name, (trajectory, _) in paths.items():
            lines[name].set_data(trajectory[:step + 1, 0], trajectory[:step + 1, 1])
            heads[name].set_data(trajectory[step:step + 1, 0], trajectory[step:step + 1, 1])
        title.set_text(f"Rosenbrock race, step {step}")

    writer = PillowWriter(fps=12)
    with writer.saving(fig, path, dpi):  # one drawing per frame, appended to the GIF
        for frame in range(len(shown)):
            draw(frame)
            writer.grab_frame()
    plt.close(fig)


def train_mnist(name, images, labels, batches, seed):
    """Train the same small MLP from the same initial weights; return the loss at every step."""
    tg.manual_seed(seed)  # same seed, so every optimizer starts from the same weights
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = OPTIMIZERS[name](model.parameters(), lr_of("MNIST", name))
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for index in batches:  # the same batches, in the same order, for everyone
        optimizer.zero_grad()
        loss = loss_fn(model(images[index]), labels[index])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses)


def smooth(values, width):
    # A trailing moving average: single-batch losses are noisy.
    kernel = np.ones(width) / width
    padded = np.concatenate([np.full(width - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_mnist(curves, steps, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = max(1, steps // 25)
    for name, losses in curves.items():
        ax.plot(losses, color=COLORS[name], alpha=0.18, linewidth=0.8)
        ax.plot(smooth(losses, width), color=COLORS[name], linewidth=2,
                label=f"{name} (lr {lr_of('MNIST', name):g})")
    ax.set_yscale("log")
    ax.set_xlabel("step (batch of 64)")
    ax.set_ylabel("training cross-entropy")
    ax.set_title(f"MLP 784-128-10 on the embedded MNIST subset (moving average of {width})")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/optimizers_race", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="race steps on each function")
    parser.add_argument("--mnist-steps", type=int, default=None, help="MNIST steps per optimizer")
    args = parser.parse_args()
    steps = args.steps or (200 if args.quick else 1000)
    mnist_steps = args.mnist_steps or (30 if args.quick else 400)
    frames, dpi = (12, 50) if args.quick else (70, 75)
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    started = time.perf_counter()

    # 1. The race on the two functions.
    paths = {fname: {} for fname in FUNCTIONS}
    print(f"race: {steps} steps on each function; final f (0 is the minimum)")
    print(f"  {'optimizer':<10} {'Rosenbrock':>12} {'Beale':>12}")
    for name in OPTIMIZERS:
        for fname, spec in FUNCTIONS.items():
            paths[fname][name] = race(spec["f"], spec["start"], name, lr_of(fname, name), steps)
        print(f"  {name:<10} {paths['Rosenbrock'][name][1][-1]:>12.3e} "
              f"{paths['Beale'][name][1][-1]:>12.3e}")

    # 2. The same rules on MNIST: same initial weights, same batches.
    data = MNIST()
    images = data.data.reshape(len(data), 784).float() / 255  # (10000, 784) in [0, 1]
    labels = data.targets
    rng = np.random.default_rng(args.seed)
    batches = [rng.choice(len(data), 64, replace=False) for _ in range(mnist_steps)]
    curves = {}
    print(f"MNIST: {mnist_steps} steps per optimizer; mean loss of the last 10% of steps")
    for name in OPTIMIZERS:
        curves[name] = train_mnist(name, images, labels, batches, args.seed)
        tail = curves[name][-max(1, mnist_steps // 10):].mean()
        print(f"  {name:<10} {tail:.3f}")

    # 3. The figures.
    files = [os.path.join(args.out, name)
             for name in ("trajectories.png", "race.gif", "mnist_loss.png")]
    plot_trajectories(paths, steps, files[0])
    animate_race(paths["Rosenbrock"], steps, files[1], frames, dpi)
    plot_mnist(curves, mnist_steps, files[2])
    print(f"done in {time.perf_counter() - started:.1f} s; figures:")
    for file in files:
        print(f"  {file}")


if __name__ == "__main__":
    main()
