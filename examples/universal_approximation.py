"""The universal approximation theorem: one hidden layer can fit any continuous function.

A network with one hidden layer of N units computes

    g(x) = Σᵢ₌₁ᴺ aᵢ·tanh(wᵢx + bᵢ) + c.

The theorem (Cybenko 1989 for sigmoids; Hornik 1991; Leshno et al. 1993 for any
continuous activation that is not a polynomial), informally: for every continuous f on a
closed interval (or any closed, bounded set in ℝⁿ) and every tolerance ε > 0, there is a
width N and weights such that |f(x) − g(x)| < ε everywhere on it. Why: a steep tanh is
almost a step, two opposite steps make a bump, and a sum of narrow bumps is a histogram
of f, as close to f as we like. The theorem does not say how large N must be, nor that
gradient descent will find those weights; we check here what Adam finds in practice.

We fit sin(x) on [−π, π] and a step function (a square wave, +1/−1 on alternate quarters
of the interval) with N = 1, 2, 4, 16, 64 hidden units, minimising the mean squared error
with Adam. The figures show each fit, with the N terms aᵢ·tanh(wᵢx + bᵢ) it adds up (faint),
and the error against N. The step function is not continuous, so the theorem promises
less: g is continuous and must cross 0 at each jump from −1 to +1, so the largest error
there stays ≥ 1 (half the jump) whatever N. The root-mean-square error could still go to
0 as the units get steeper, but gradient descent sharpens them slowly (only the few points
inside a transition pull on its steepness), and in practice it levels off.

Run:  python examples/universal_approximation.py            (about 30 s)
      python examples/universal_approximation.py --quick    (a smoke test)
Options: --steps N, --widths 1 2 4 …, --out DIR, --seed N.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn


def square_wave(x):
    """+1, −1, +1, −1 on the four quarters of [−π, π]."""
    quarter = np.clip(np.floor((x + np.pi) / (np.pi / 2)), 0, 3)  # clip: x = π is in the last
    return np.where(quarter % 2 == 0, 1.0, -1.0)


TARGETS = {"sin(x)": np.sin, "step (square wave)": square_wave}


def fit(f, width, steps, x_train):
    """Train g(x) = Σ aᵢ·tanh(wᵢx + bᵢ) + c on f at the points x_train; return the model."""
    model = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, 1))
    optimizer = tg.optim.Adam(model.parameters(), lr=0.03)
    # Lower the step size along a cosine to 0, so the fit settles instead of jittering.
    schedule = tg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    x = tg.from_numpy(x_train.reshape(-1, 1))
    y = tg.from_numpy(f(x_train).astype(np.float32).reshape(-1, 1))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/universal_approximation",
                        help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument("--widths", type=int, nargs="+", default=None,
                        help="hidden-layer widths to try")
    args = parser.parse_args()
    steps = args.steps or (200 if args.quick else 4000)
    widths = args.widths or ([1, 4, 16] if args.quick else [1, 2, 4, 16, 64])
    os.makedirs(args.out, exist_ok=True)

    x_train = np.linspace(-np.pi, np.pi, 512, dtype=np.float32)
    # The error is measured on a finer grid than the training points, between them too.
    x_test = np.linspace(-np.pi, np.pi, 4001, dtype=np.float32)

    results = {}  # (target, width) -> (g on x_test, each unit's term aᵢ·tanh(wᵢx + bᵢ))
    errors = {}   # (target, width) -> (RMS error, max error)
    for name, f in TARGETS.items():
        for width in widths:
            tg.manual_seed(args.seed)
            model = fit(f, width, steps, x_train)
            with tg.no_grad():
                xt = tg.from_numpy(x_test.reshape(-1, 1))
                hidden = model[1](model[0](xt))                 # tanh(wᵢx + bᵢ): (4001, N)
                terms = (hidden * model[2].weight).numpy()      # aᵢ·tanh(wᵢx + bᵢ)
                g = model(xt).numpy().ravel()
            error = g - f(x_test)
            results[name, width] = (g, terms)
            errors[name, width] = (np.sqrt(np.mean(error ** 2)), np.abs(error).max())

    print(f"one hidden layer of tanh units, {steps} steps of Adam on {len(x_train)} points;"
          f" errors on {len(x_test)} points of [−π, π]")
    print("width   sin: RMS error  max error   step: RMS error  max error")
    for width in widths:
        (sin_rms, sin_max), (step_rms, step_max) = (errors[name, width] for name in TARGETS)
        print(f"{width:>5}   {sin_rms:>14.4f}  {sin_max:>9.4f}"
              f"   {step_rms:>15.4f}  {step_max:>9.4f}")

    # Figure 1: the fits, a row per target, a column per width.
    fig, axes = plt.subplots(len(TARGETS), len(widths), figsize=(2.3 * len(widths) + 0.6, 4.8),
                             sharex=True, sharey=True, layout="constrained")
    for row, (name, f) in enumerate(TARGETS.items()):
        for col, width in enumerate(widths):
            ax = axes[row, col]
            g, terms = results[name, width]
            # Each hidden unit's contribution: the fit is their sum plus a constant.
            ax.plot(x_test, terms, color="tab:green", lw=0.6, alpha=0.35)
            ax.plot(x_test, f(x_test), color="gray", ls="--", lw=1.2)
            ax.plot(x_test, g, color="tab:red", lw=1.8)
            rms = errors[name, width][0]
            ax.set_title(f"{width} unit{'s' if width > 1 else ''}: RMS error {rms:.2g}",
                         fontsize=9)
            ax.set_ylim(-1.7, 1.7)
            ax.set_xticks([-np.pi, 0, np.pi], ["−π", "0", "π"])
            if col == 0:
                ax.set_ylabel(name)
    axes[0, 0].plot([], [], color="gray", ls="--", label="target")
    axes[0, 0].plot([], [], color="tab:red", label="network")
    axes[0, 0].plot([], [], color="tab:green", alpha=0.5, label="one unit's term")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    formula = r"$g(x) = \sum_{i=1}^N a_i \tanh(w_i x + b_i) + c$"
    fig.suptitle(f"One hidden layer, growing width: {formula}", fontsize=10)
    fits_path = os.path.join(args.out, "fits.png")
    fig.savefig(fits_path, dpi=85)
    plt.close(fig)

    # Figure 2: the error against the width.
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    for (name, f), color in zip(TARGETS.items(), ["tab:blue", "tab:orange"]):
        ax.plot(widths, [errors[name, w][0] for w in widths], "o-", color=color,
                label=f"{name}: RMS error")
        ax.plot(widths, [errors[name, w][1] for w in widths], "s--", color=color,
                alpha=0.7, label=f"{name}: max error")
    ax.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax.text(widths[-1], 0.95, "half the jump ", ha="right", va="top", fontsize=8,
            color="gray")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.set_xlabel("hidden units N")
    ax.set_ylabel("error on [−π, π]")
    ax.set_title("Error against width", fontsize=10)
    ax.legend(fontsize=8, loc="center right", bbox_to_anchor=(1, 0.42))
    error_path = os.path.join(args.out, "error.png")
    fig.savefig(error_path, dpi=90)
    plt.close(fig)

    for path in [fits_path, error_path]:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
