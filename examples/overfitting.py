"""Overfitting, and two cures: an L2 penalty (weight decay) and dropout.

A network with ~17,000 weights is trained on 60 noisy points (two interleaving half
moons whose classes overlap). It can memorise them all: the training loss goes to zero
while the loss on 1,000 fresh validation points from the same distribution rises, and
its decision boundary twists around individual noisy points. That is overfitting.

L2 regularisation adds λ/2·‖θ‖² to the loss, so every step also pulls each weight towards
zero: the gradient becomes ∇L(θ) + λθ. The optimizers take this as `weight_decay=λ`.
Large weights are what a network needs for sharp, twisted boundaries, so the penalty
favours smooth ones; too large a λ and the model can no longer fit the data at all
(underfitting). Dropout zeroes each hidden unit with probability p during training and
scales the survivors by 1/(1 − p), so no unit can rely on a particular other one; at
evaluation (model.eval()) it does nothing.

We train the same 2 → 128 → 128 → 1 ReLU network with Adam for λ ∈ {0, 10⁻³, 10⁻², 10⁻¹},
each without and with dropout (p = 0.5), and plot the boundaries and the loss curves.

Run:  python examples/overfitting.py            (about 30 s)
      python examples/overfitting.py --quick    (a smoke test)
Options: --steps N, --width N, --out DIR, --seed N.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn

WEIGHT_DECAYS = [0.0, 1e-3, 1e-2, 1e-1]
DROPOUTS = [0.0, 0.5]


def moons(n, rng, noise=0.3):
    """n points of two half moons with Gaussian noise; x (n, 2) float32, y (n,) float32."""
    t = rng.uniform(0, np.pi, n)
    y = rng.integers(0, 2, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(y[:, None] == 0, upper, lower) + rng.normal(0, noise, (n, 2))
    x = (x - [0.5, 0.25]) / 0.8          # centre the data around 0
    return x.astype(np.float32), y.astype(np.float32)


def make_model(width, p):
    # nn.Dropout(0.0) keeps every unit: the same network with and without dropout.
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(width, width), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(width, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/overfitting", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument("--width", type=int, default=None, help="units per hidden layer")
    args = parser.parse_args()
    steps = args.steps or (100 if args.quick else 2000)
    width = args.width or (64 if args.quick else 128)
    eval_every = 5 if args.quick else 10
    grid_n = 40 if args.quick else 150
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    x_train, y_train = moons(60, rng)
    x_val, y_val = moons(1000, rng)
    x, y = tg.from_numpy(x_train), tg.from_numpy(y_train).reshape(-1, 1)
    xv, yv = tg.from_numpy(x_val), tg.from_numpy(y_val).reshape(-1, 1)
    loss_fn = nn.BCEWithLogitsLoss()

    # A grid over the training points' range (plus a margin), where we draw p(class 1 | x).
    lo, hi = x_train.min(axis=0) - 0.3, x_train.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid_n, dtype=np.float32),
                         np.linspace(lo[1], hi[1], grid_n, dtype=np.float32))
    grid = tg.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))

    results = {}  # (dropout p, weight decay λ) -> dict of curves, final numbers, boundary
    for p in DROPOUTS:
        for wd in WEIGHT_DECAYS:
            tg.manual_seed(args.seed)  # the same initial weights for every setting
            model = make_model(width, p)
            optimizer = tg.optim.Adam(model.parameters(), lr=0.003, weight_decay=wd)
            curve_steps, train_curve, val_curve = [], [], []
            for step in range(steps + 1):
                if step % eval_every == 0 or step == steps:
                    model.eval()  # dropout off: measure the network itself
                    with tg.no_grad():
                        curve_steps.append(step)
                        train_curve.append(loss_fn(model(x), y).item())
                        val_curve.append(loss_fn(model(xv), yv).item())
                if step == steps:
                    break
                model.train()     # dropout on while learning
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
            model.eval()
            with tg.no_grad():
                p_grid = model(grid).sigmoid().numpy().reshape(grid_n, grid_n)
                val_acc = ((model(xv) > 0).float() == yv).float().mean().item()
            results[p, wd] = dict(steps=curve_steps, train=train_curve, val=val_curve,
                                  p_grid=p_grid, val_acc=val_acc)

    print(f"2→{width}→{width}→1 ReLU network, Adam lr 0.003, {steps} full-batch steps, "
          f"{len(x_train)} training and {len(x_val)} validation points")
    print("dropout  L2 (λ)   train loss  val loss  best val loss (step)  val accuracy")
    for (p, wd), r in results.items():
        best = int(np.argmin(r["val"]))
        print(f"  {p:.1f}    {wd:<6g}     {r['train'][-1]:.4f}    {r['val'][-1]:.4f}"
              f"      {r['val'][best]:.4f} ({r['steps'][best]:>4})        {r['val_acc']:.1%}")
    plain = results[0.0, 0.0]
    print(f"without regularisation the validation loss rose from {min(plain['val']):.3f} to "
          f"{plain['val'][-1]:.3f} while the training loss fell to {plain['train'][-1]:.4f}")

    def label(p, wd):
        return f"λ = {wd:g}" + (f", dropout {p}" if p else "")

    # Figure 1: the decision boundaries, a row per dropout setting, a column per λ.
    fig, axes = plt.subplots(len(DROPOUTS), len(WEIGHT_DECAYS), figsize=(11, 4.4),
                             sharex=True, sharey=True, layout="constrained")
    for row, p in enumerate(DROPOUTS):
        for col, wd in enumerate(WEIGHT_DECAYS):
            ax, r = axes[row, col], results[p, wd]
            ax.contourf(gx, gy, r["p_grid"], levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                        alpha=0.4)
            ax.contour(gx, gy, r["p_grid"], levels=[0.5], colors="k", linewidths=1.2)
            for cls, color in [(0, "tab:blue"), (1, "tab:red")]:
                pts = x_train[y_train == cls]
                ax.scatter(pts[:, 0], pts[:, 1], s=16, color=color, edgecolors="w",
                           linewidths=0.5)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label(p, wd)}\ntrain loss {r['train'][-1]:.3f}, "
                         f"val {r['val'][-1]:.3f}", fontsize=9)
    fig.suptitle("Decision boundaries on 60 noisy training points (more λ: smoother; "
                 "too much: underfits)", fontsize=10)
    boundary_path = os.path.join(args.out, "boundaries.png")
    fig.savefig(boundary_path, dpi=80)
    plt.close(fig)

    # Figure 2: train and validation loss during training, same layout.
    fig, axes = plt.subplots(len(DROPOUTS), len(WEIGHT_DECAYS), figsize=(11, 5),
                             sharex=True, sharey=True, layout="constrained")
    for row, p in enumerate(DROPOUTS):
        for col, wd in enumerate(WEIGHT_DECAYS):
            ax, r = axes[row, col], results[p, wd]
            ax.plot(r["steps"], r["train"], color="tab:blue", label="train")
            ax.plot(r["steps"], r["val"], color="tab:orange", label="validation")
            ax.set_yscale("log")
            ax.set_title(label(p, wd), fontsize=9)
            if row == len(DROPOUTS) - 1:
                ax.set_xlabel("step")
            if col == 0:
                ax.set_ylabel("loss (BCE)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Overfitting: validation loss rising while training loss falls", fontsize=10)
    curves_path = os.path.join(args.out, "curves.png")
    fig.savefig(curves_path, dpi=80)
    plt.close(fig)

    for path in [boundary_path, curves_path]:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
