"""Two spirals: watching a decision boundary form during training.

Two interleaved spiral arms, one per class, are a classic problem that no straight line
(and no single bend) can separate. Point i of arm 0 sits at angle tᵢ and radius ∝ tᵢ:

    arm 0:  x = (t·cos t, t·sin t) / (2π·turns) + noise        arm 1:  −x

A multilayer perceptron with two hidden layers,

    h₁ = tanh(W₁x + b₁),   h₂ = tanh(W₂h₁ + b₂),   z = w₃·h₂ + b₃,   p(arm 1 | x) = σ(z),

is trained with the binary cross-entropy −[y log p + (1 − y) log(1 − p)] and Adam on the
whole training set at every step. Every few steps we evaluate p on a grid covering the
plane and draw it: the frames, saved as an animated GIF, show the boundary p = ½ first
cutting the plane in half with a line (what a linear model would do), then bending, then
winding along the arms as the network learns to use more of its tanh units.

Run:  python examples/two_spirals.py            (about 8 s)
      python examples/two_spirals.py --quick    (a smoke test)
Options: --steps N, --frames N, --hidden N, --out DIR, --seed N.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import PillowWriter

import tapegrad as tg
from tapegrad import nn


def two_spirals(n, rng, turns=2.0, noise=0.03):
    """n points per arm; returns x (2n, 2) float32 and y (2n,) float32 labels 0 / 1."""
    # sqrt spreads the points evenly along the arm (the arm is longer far from the centre).
    t = np.sqrt(rng.uniform(0, 1, n)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)])
    return x.astype(np.float32), y.astype(np.float32)


def draw(ax, gx, gy, p_grid, x, y, title):
    """The probability of arm 1 over the plane, the boundary p = ½, and the points."""
    ax.clear()
    ax.contourf(gx, gy, p_grid, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.4)
    ax.contour(gx, gy, p_grid, levels=[0.5], colors="k", linewidths=1.2)
    for label, color in [(0, "tab:blue"), (1, "tab:red")]:
        ax.scatter(x[y == label, 0], x[y == label, 1], s=10, color=color, edgecolors="w",
                   linewidths=0.3)
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/two_spirals", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps")
    parser.add_argument("--frames", type=int, default=None, help="frames in the GIF")
    parser.add_argument("--hidden", type=int, default=32, help="units per hidden layer")
    args = parser.parse_args()
    steps = args.steps or (200 if args.quick else 2000)
    n_frames = args.frames or (4 if args.quick else 45)
    grid_n = 50 if args.quick else 150
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    n = 100 if args.quick else 200
    x_train, y_train = two_spirals(n, rng)
    x_test, y_test = two_spirals(n, rng)          # fresh points from the same spirals
    x, y = tg.from_numpy(x_train), tg.from_numpy(y_train).reshape(-1, 1)

    model = nn.Sequential(nn.Linear(2, args.hidden), nn.Tanh(),
                          nn.Linear(args.hidden, args.hidden), nn.Tanh(),
                          nn.Linear(args.hidden, 1))
    optimizer = tg.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()

    ticks = np.linspace(-1.2, 1.2, grid_n, dtype=np.float32)
    gx, gy = np.meshgrid(ticks, ticks)
    grid = tg.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))

    def probabilities(points):
        with tg.no_grad():
            return model(points).sigmoid().numpy().ravel()

    def accuracy(points, labels):
        return np.mean((probabilities(tg.from_numpy(points)) > 0.5) == labels)

    # The boundary changes fastest at the start, so frames are spaced quadratically:
    # many early, fewer later.
    frame_steps = set(np.round(steps * np.linspace(0, 1, n_frames) ** 2).astype(int))
    losses, accuracies = [], []
    fig, ax = plt.subplots(figsize=(3.6, 3.8), layout="constrained")
    gif_path = os.path.join(args.out, "two_spirals.gif")
    writer = PillowWriter(fps=8)
    with writer.saving(fig, gif_path, dpi=70):
        for step in range(steps + 1):
            if step in frame_steps:  # the model before this step's update
                p_grid = probabilities(grid).reshape(grid_n, grid_n)
                loss_text = f", loss {losses[-1]:.3f}" if losses else ""
                draw(ax, gx, gy, p_grid, x_train, y_train, f"step {step}{loss_text}")
                writer.grab_frame()
            if step == steps:
                break
            optimizer.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            accuracies.append(np.mean((logits.detach().numpy() > 0) == y.numpy()))
        for _ in range(12):  # hold the last frame for 1.5 s before the GIF loops
            writer.grab_frame()
    plt.close(fig)

    train_acc, test_acc = accuracy(x_train, y_train), accuracy(x_test, y_test)
    print(f"MLP 2→{args.hidden}→{args.hidden}→1 (tanh), {steps} steps of Adam on "
          f"{len(x_train)} points")
    print(f"final loss {losses[-1]:.4f}, train accuracy {train_acc:.1%}, "
          f"test accuracy {test_acc:.1%} ({len(x_test)} fresh points)")

    # The final boundary, larger, with the test points as open circles.
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    draw(ax, gx, gy, probabilities(grid).reshape(grid_n, grid_n), x_train, y_train,
         f"After {steps} steps: train accuracy {train_acc:.1%}, test {test_acc:.1%}")
    for label, color in [(0, "tab:blue"), (1, "tab:red")]:
        pts = x_test[y_test == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=12, facecolors="none", edgecolors=color,
                   linewidths=0.6)
    ax.text(0.02, 0.02, "filled: training points, open: test points", fontsize=8,
            transform=ax.transAxes)
    boundary_path = os.path.join(args.out, "boundary.png")
    fig.savefig(boundary_path, dpi=90)
    plt.close(fig)

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    ax_loss.plot(losses, color="tab:red")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("binary cross-entropy")
    ax_loss.set_title("Training loss", fontsize=10)
    ax_acc.plot(accuracies, color="tab:green")
    ax_acc.set_ylim(0.4, 1.02)
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("Training accuracy", fontsize=10)
    loss_path = os.path.join(args.out, "loss.png")
    fig.savefig(loss_path, dpi=90)
    plt.close(fig)

    for path in [gif_path, boundary_path, loss_path]:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
