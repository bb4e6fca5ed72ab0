"""Logic gates: why XOR needs a hidden layer.

Each gate (AND, OR, XOR) is a tiny classification problem with four examples, the
corners of the unit square, labelled by the gate's truth table. We fit two models to
each gate with the binary cross-entropy loss on the logit z:

    linear model:   z = w·x + b                          (2 → 1, logistic regression)
    small MLP:      h = tanh(W₁x + b₁),  z = w₂·h + b₂    (2 → 4 → 1)
    loss:           L = −mean[ y·log σ(z) + (1 − y)·log(1 − σ(z)) ],  σ(z) = 1/(1 + e⁻ᶻ)

The linear model predicts 1 where w·x + b > 0: one side of a straight line. AND and OR
are separable by a line, XOR is not. If a line put (0,1) and (1,0) on the positive side
and (0,0), (1,1) on the negative side, we would need b < 0, w₁ + b > 0, w₂ + b > 0 and
w₁ + w₂ + b < 0; adding the middle two gives w₁ + w₂ + b > −b > 0, a contradiction. The
best the linear model can do on XOR is σ(z) = ½ everywhere, a loss of ln 2 ≈ 0.693.
The hidden layer bends the input space first (each tanh unit is a soft line), so the
output layer can cut it with a line: the MLP learns all three gates.

Run:  python examples/logic_gates.py            (about 6 s)
      python examples/logic_gates.py --quick    (a smoke test)
Options: --activation tanh|sigmoid, --optimizer adam|sgd, --steps N, --out DIR, --seed N.
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn

# The four corners of [0,1]² and each gate's truth table on them.
INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def make_model(kind, activation):
    if kind == "linear":
        return nn.Linear(2, 1)
    act = nn.Tanh() if activation == "tanh" else nn.Sigmoid()
    return nn.Sequential(nn.Linear(2, 4), act, nn.Linear(4, 1))


def make_optimizer(name, params):
    # Four examples, full batch: a large step size is fine.
    if name == "adam":
        return tg.optim.Adam(params, lr=0.1)
    return tg.optim.SGD(params, lr=1.0, momentum=0.9)


def train(model, x, y, optimizer, steps):
    loss_fn = nn.BCEWithLogitsLoss()  # sigmoid + cross-entropy in one stable formula
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/logic_gates", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument("--activation", choices=["tanh", "sigmoid"], default="tanh")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    args = parser.parse_args()
    steps = args.steps or (150 if args.quick else 1000)
    grid_n = 40 if args.quick else 200  # resolution of the contour plots
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)

    x = tg.tensor(INPUTS)
    # A grid over [0,1]² (a little beyond, so the corners are not on the edge).
    ticks = np.linspace(-0.25, 1.25, grid_n, dtype=np.float32)
    gx, gy = np.meshgrid(ticks, ticks)
    grid = tg.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))

    kinds = ["linear", "mlp"]
    results = {}  # (kind, gate) -> (losses, probabilities at the corners, on the grid)
    for kind in kinds:
        for gate, table in GATES.items():
            y = tg.tensor(table, dtype=tg.float32).reshape(4, 1)
            model = make_model(kind, args.activation)
            losses = train(model, x, y, make_optimizer(args.optimizer, model.parameters()),
                           steps)
            with tg.no_grad():
                p_corners = model(x).sigmoid().numpy().ravel()
                p_grid = model(grid).sigmoid().numpy().reshape(grid_n, grid_n)
            results[kind, gate] = (losses, p_corners, p_grid)

    # The truth tables the models learned: a row per corner, a threshold at ½.
    names = {"linear": "linear 2→1", "mlp": f"MLP 2→4→1 ({args.activation})"}
    for kind in kinds:
        print(f"\n{names[kind]}, {steps} steps of {args.optimizer}:")
        for gate, table in GATES.items():
            losses, p, _ = results[kind, gate]
            learned = (p > 0.5).astype(int)
            ok = "learned" if list(learned) == table else "NOT learned"
            print(f"  {gate:<3}  x1 x2 | target  p(y=1)  output")
            for (x1, x2), t, pi, o in zip(INPUTS, table, p, learned):
                print(f"        {x1:.0f}  {x2:.0f} |   {t}     {pi:.3f}     {o}")
            print(f"  {gate} {ok} by {kind}: final loss {losses[-1]:.4f}"
                  f" (ln 2 = {math.log(2):.4f})")

    # Figure 1: the decision contours, a row per model, a column per gate.
    fig, axes = plt.subplots(2, 3, figsize=(9, 6.2), sharex=True, sharey=True,
                             layout="constrained")
    levels = np.linspace(0, 1, 11)
    for row, kind in enumerate(kinds):
        for col, (gate, table) in enumerate(GATES.items()):
            ax = axes[row, col]
            losses, p, p_grid = results[kind, gate]
            filled = ax.contourf(gx, gy, p_grid, levels=levels, cmap="RdBu_r", alpha=0.8)
            ax.contour(gx, gy, p_grid, levels=[0.5], colors="k", linewidths=1.5)
            corners = np.array(INPUTS)
            ax.scatter(corners[:, 0], corners[:, 1], c=table, cmap="RdBu_r", vmin=0, vmax=1,
                       s=140, edgecolors="k", linewidths=1.5, zorder=3)
            right = list((p > 0.5).astype(int)) == table
            ax.set_title(f"{gate}: {'learned' if right else 'not learned'}"
                         f" (loss {losses[-1]:.3f})", fontsize=10,
                         color="k" if right else "firebrick")
            ax.set_xticks([0, 1])
            ax.set_yticks([0, 1])
            ax.set_aspect("equal")
            if col == 0:
                ax.set_ylabel(f"{names[kind]}\n$x_2$")
            if row == 1:
                ax.set_xlabel("$x_1$")
    fig.colorbar(filled, ax=axes, shrink=0.8, label="p(y = 1)  (black line: p = ½)")
    path = os.path.join(args.out, "decision_contours.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"\nsaved {path}")

    # Figure 2: the loss curves; the linear model's XOR loss stalls at ln 2.
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    colors = {"AND": "tab:blue", "OR": "tab:green", "XOR": "tab:red"}
    for kind, style in zip(kinds, ["--", "-"]):
        for gate in GATES:
            ax.plot(results[kind, gate][0], style, color=colors[gate],
                    label=f"{gate}, {'linear' if kind == 'linear' else 'MLP'}")
    ax.axhline(math.log(2), color="gray", lw=0.8, ls=":")
    ax.text(steps, math.log(2), "ln 2 ", ha="right", va="bottom", color="gray")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("binary cross-entropy")
    ax.set_title("Training loss: the linear model never gets below ln 2 on XOR", fontsize=10)
    ax.legend(ncol=2, fontsize=8, loc="upper right", bbox_to_anchor=(1, 0.86))
    path = os.path.join(args.out, "loss.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
