"""A custom autograd.Function: your own operation with a hand-derived backward.

Autograd differentiates any composition of tapegrad's operations. Writing your own
Function is for when you want one node on the tape instead of several (less memory,
fewer steps), a backward that is cheaper or more stable than the composed one, or a
gradient that is not the true derivative. You write two methods:

    forward(ctx, x)       computes y = f(x) and saves what backward needs (ctx.save_for_backward)
    backward(ctx, grad)   returns grad · dy/dx, the vector-Jacobian product, for each input

Here the op is SiLU (swish), y = x·σ(x) with σ(x) = 1/(1 + e⁻ˣ). Its derivative, by the
product rule with σ'(x) = σ(x)(1 − σ(x)):

    dy/dx   = σ(x) + x·σ(x)(1 − σ(x)) = σ(x)·(1 + x·(1 − σ(x)))
    d²y/dx² = σ(x)(1 − σ(x))·(2 + x·(1 − 2σ(x)))

Composed from operations (x * x.sigmoid()), autograd puts two nodes on the tape and keeps
x, σ(x) and the product alive for backward; the fused Function keeps only x. Because its
backward is written with tensor operations, backward itself can be differentiated
(create_graph=True), so second derivatives work too.

How do you know a hand-derived backward is right? `gradcheck` compares it, entry by entry,
with central finite differences (f(x + ε) − f(x − ε))/2ε in float64, and `gradgradcheck`
does the same for the backward's own derivative. We also plant a classic mistake (the
product rule forgotten: dy/dx = σ(x)) and watch gradcheck catch it. Then the Function
trains a small MLP, step for step like the library's own nn.SiLU (itself one operation).

Run:  python examples/custom_function.py            (a few seconds)
      python examples/custom_function.py --quick    (a smoke test)
Options: --steps N (training steps), --out DIR, --seed N.
Writes: silu_derivatives.png, training.png.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.autograd import Function, GradcheckError, gradcheck, gradgradcheck


class SiLU(Function):
    """y = x·σ(x);  dy/dx = σ(x)·(1 + x·(1 − σ(x)))"""

    @staticmethod
    def forward(ctx, x):
        # forward runs with recording off: these operations leave nothing on the tape.
        ctx.save_for_backward(x)  # only x: σ(x) is cheap to recompute in backward
        return x * x.sigmoid()

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        s = x.sigmoid()
        # Tensor operations, not raw arrays: with create_graph=True they are recorded,
        # so this backward can itself be differentiated.
        return grad * s * (1 + x * (1 - s))


class WrongSiLU(Function):
    """The same forward with a planted bug: the product rule forgotten (dy/dx = σ(x))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x.sigmoid()

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.sigmoid()  # missing: + x·σ(x)(1 − σ(x))


class FusedSiLU(nn.Module):
    """A layer around the Function, so it can go into nn.Sequential like nn.SiLU."""

    def forward(self, x):
        return SiLU.apply(x)


def silu_numpy(x):
    return x / (1 + np.exp(-x))


def analytic_derivatives(x):
    s = 1 / (1 + np.exp(-x))
    return s * (1 + x * (1 - s)), s * (1 - s) * (2 + x * (1 - 2 * s))


def check_gradients():
    """gradcheck and gradgradcheck on float64 inputs, then the planted bug."""
    tg.manual_seed(0)
    print("gradcheck / gradgradcheck of SiLU (float64, central differences):")
    inputs = {"(5,)": tg.randn(5, dtype=tg.float64, requires_grad=True),
              "(3, 4)": tg.randn(3, 4, dtype=tg.float64, requires_grad=True),
              "() 0-d": tg.tensor(0.7, dtype=tg.float64, requires_grad=True),
              "large |x|": tg.tensor([-30.0, -8.0, 8.0, 30.0], dtype=tg.float64,
                                     requires_grad=True)}
    for name, x in inputs.items():
        print(f"  {name:<10} gradcheck {gradcheck(SiLU.apply, x)}, "
              f"gradgradcheck {gradgradcheck(SiLU.apply, x)}")

    print("gradcheck of WrongSiLU (backward forgets the product rule):")
    x = tg.tensor([-2.0, -0.5, 0.5, 2.0], dtype=tg.float64, requires_grad=True)
    try:
        gradcheck(WrongSiLU.apply, x)
        print("  not caught!")
    except GradcheckError as error:
        lines = str(error).splitlines()
        for line in lines[:4]:
            print(f"  | {line}")
        print(f"  | ... ({len(lines) - 4} more lines: the full numerical and analytical Jacobians)")
    return gradcheck(WrongSiLU.apply, x, raise_exception=False)


def derivative_curves(x_grid):
    """dy/dx and d²y/dx² three ways: the formulas, autograd, and finite differences."""
    x = tg.tensor(x_grid, dtype=tg.float64, requires_grad=True)
    y = SiLU.apply(x)
    # Elementwise op: the gradient of y.sum() is dy/dx at every point. create_graph=True
    # records our backward, so we can differentiate the derivative once more.
    first, = tg.autograd.grad(y.sum(), x, create_graph=True)
    second, = tg.autograd.grad(first.sum(), x)

    h = 1e-5  # central differences: error O(h²) from the formula, O(1e-16/h) from rounding
    def silu_at(values):
        return SiLU.apply(tg.tensor(values, dtype=tg.float64)).numpy()
    def first_at(values):
        v = tg.tensor(values, dtype=tg.float64, requires_grad=True)
        SiLU.apply(v).sum().backward()
        return v.grad.numpy()
    finite_first = (silu_at(x_grid + h) - silu_at(x_grid - h)) / (2 * h)
    finite_second = (first_at(x_grid + h) - first_at(x_grid - h)) / (2 * h)
    return (first.detach().numpy(), second.numpy()), (finite_first, finite_second)


def plot_derivatives(x_grid, autograd_d, finite_d, path):
    exact = analytic_derivatives(x_grid)
    marks = slice(None, None, 12)  # markers on every 12th point so the lines stay visible
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    ax = axes[0]
    ax.plot(x_grid, silu_numpy(x_grid), color="C0", linewidth=2, label="SiLU  x·σ(x)")
    ax.plot(x_grid, np.maximum(x_grid, 0), color="gray", linestyle=":", label="ReLU")
    ax.set_title("the function")
    for k, (ax, name) in enumerate(zip(axes[1:3], ["dy/dx", "d²y/dx²"])):
        ax.plot(x_grid, exact[k], color="black", linewidth=2, label="formula")
        ax.plot(x_grid[marks], autograd_d[k][marks], "o", color="C1", markersize=8,
                markerfacecolor="none", markeredgewidth=1.5,
                label="autograd" + (" (backward, twice)" if k else " (our backward)"))
        ax.plot(x_grid[marks], finite_d[k][marks], "x", color="C2", markersize=6,
                label="finite differences")
        ax.set_title(name)
    ax = axes[3]
    for k, (name, style) in enumerate([("dy/dx", "-"), ("d²y/dx²", "--")]):
        ax.semilogy(x_grid, np.abs(autograd_d[k] - exact[k]) + 1e-18, style, color="C1",
                    label=f"autograd {name}")
        ax.semilogy(x_grid, np.abs(finite_d[k] - exact[k]) + 1e-18, style, color="C2",
                    label=f"finite diff. {name}")
    ax.set_ylim(1e-18, 1e-2)
    ax.set_title("|error| against the formula (float64)")
    ax.legend(fontsize=8, ncol=2, loc="upper right", title="(exact zeros drawn at 1e-18)",
              title_fontsize=8)
    axes[2].set_ylim(-0.07, 0.7)  # room for the legend above the peak
    for ax in axes[:3]:
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes:
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


def make_mlp(make_activation, seed):
    """A 1-32-32-1 MLP; the same seed gives the same initial weights."""
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 32), make_activation(), nn.Linear(32, 32),
                         make_activation(), nn.Linear(32, 1))


def gradient_difference(x, y, seed):
    """The largest difference between the weight gradients with our SiLU and with nn.SiLU,
    from the same weights, relative to the largest gradient."""
    grads = []
    for make_activation in (FusedSiLU, nn.SiLU):
        model = make_mlp(make_activation, seed)
        ((model(x) - y) ** 2).mean().backward()
        grads.append(np.concatenate([p.grad.numpy().ravel() for p in model.parameters()]))
    return np.abs(grads[0] - grads[1]).max() / np.abs(grads[1]).max()


def train(make_activation, x, y, steps, seed):
    """Fit the MLP by full-batch Adam on the mean squared error."""
    model = make_mlp(make_activation, seed)
    optimizer = tg.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, np.array(losses)


def plot_training(x, y, model, losses, reference_losses, path):
    fig, (ax_fit, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    grid = np.linspace(-3.5, 3.5, 300, dtype=np.float32)[:, None]
    with tg.no_grad():
        prediction = model(tg.tensor(grid)).numpy()
    ax_fit.plot(x.numpy(), y.numpy(), ".", color="gray", markersize=4, label="noisy samples")
    ax_fit.plot(grid, np.sin(2 * grid) + 0.3 * grid, color="black", linestyle=":",
                label="sin 2x + 0.3x")
    ax_fit.plot(grid, prediction, color="C0", linewidth=2, label="MLP with our SiLU")
    ax_fit.set_title("the fit")
    ax_fit.legend(fontsize=8)
    ax_loss.semilogy(reference_losses, color="gray", linewidth=4, alpha=0.5,
                     label="the library's nn.SiLU")
    ax_loss.semilogy(losses, color="C0", linewidth=1.2, label="our SiLU Function")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("mean squared error")
    ax_loss.set_title("training loss from the same initial weights")
    ax_loss.legend(fontsize=8)
    for ax in (ax_fit, ax_loss):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/custom_function", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps")
    args = parser.parse_args()
    steps = args.steps or (150 if args.quick else 1000)
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)

    # 1. Is the backward right? gradcheck, gradgradcheck, and a bug they must catch.
    wrong_passes = check_gradients()
    print(f"WrongSiLU passes gradcheck: {wrong_passes}")

    # 2. One node on the tape instead of two.
    x = tg.randn(4, requires_grad=True)
    composed = (x * x.sigmoid()).grad_fn  # a mul fed by a sigmoid
    print(f"on the tape: SiLU.apply(x) leaves one node, {SiLU.apply(x).grad_fn.name()}; "
          f"x * x.sigmoid() leaves two, {composed.name()} and "
          f"{composed.next_functions[1][0].name()}")

    # 3. The derivatives on a grid, three ways.
    x_grid = np.linspace(-6, 6, 241)
    autograd_d, finite_d = derivative_curves(x_grid)
    exact = analytic_derivatives(x_grid)
    for k, name in enumerate(["dy/dx", "d²y/dx²"]):
        print(f"{name:<8} max |autograd − formula| {np.abs(autograd_d[k] - exact[k]).max():.1e}, "
              f"max |finite differences − formula| {np.abs(finite_d[k] - exact[k]).max():.1e}")

    # 4. The Function inside a model: fit y = sin 2x + 0.3x + noise on [−3, 3], and train the
    #    same network with the library's nn.SiLU from the same weights, for comparison.
    rng = np.random.default_rng(args.seed)
    x_data = rng.uniform(-3, 3, size=(200, 1)).astype(np.float32)
    y_data = (np.sin(2 * x_data) + 0.3 * x_data
              + 0.1 * rng.standard_normal(x_data.shape)).astype(np.float32)
    x_train, y_train = tg.tensor(x_data), tg.tensor(y_data)
    difference = gradient_difference(x_train, y_train, args.seed)
    print(f"weight gradients, our SiLU vs nn.SiLU from the same weights: largest difference "
          f"{difference:.1e} of the largest gradient (float32 rounding)")
    # The two runs agree to rounding at first; Adam amplifies float32 rounding differences
    # over hundreds of steps, so their small late bumps need not line up.
    model, losses = train(FusedSiLU, x_train, y_train, steps, args.seed)
    _, reference = train(nn.SiLU, x_train, y_train, steps, args.seed)
    print(f"training ({steps} Adam steps): loss {losses[0]:.3f} → {losses[-1]:.4f} "
          f"(nn.SiLU: {reference[-1]:.4f}; the floor is the noise variance 0.1² = 0.01)")
    print(f"final training loss {losses[-1]:.4f}")

    files = [os.path.join(args.out, name) for name in ("silu_derivatives.png", "training.png")]
    plot_derivatives(x_grid, autograd_d, finite_d, files[0])
    plot_training(x_train, y_train, model, losses, reference, files[1])
    print("figures:")
    for file in files:
        print(f"  {file}")


if __name__ == "__main__":
    main()
