"""Linear, polynomial and logistic regression from tensors and autograd alone.

No nn, no optim: the parameters are plain tensors with requires_grad=True, the loss is a
formula written with tensor operations, loss.backward() fills each parameter's .grad,
and one step of gradient descent is  θ ← θ − lr·∂L/∂θ,  done under no_grad so that the
update itself is not recorded on the tape. Each gradient is also written out by hand
below, and the script asserts that autograd agrees with the formula.

1. Linear regression, ŷ = w·x + b, mean squared error over N points. With X = [x, 1]
   (a column of ones for the bias) and θ = (w, b):
       L = 1/N ‖Xθ − y‖²           ∂L/∂θ = 2/N · Xᵀ(Xθ − y)
   The minimum, where the gradient is zero, is the least-squares solution
   θ* = (XᵀX)⁻¹Xᵀy; gradient descent should land on it.
2. Polynomial regression is the same linear model on the features φ(x) = (P₀(x), …, P_d(x)),
   the Legendre polynomials (the same polynomials as 1, x, …, x^d, in a basis that keeps
   gradient descent well-conditioned; with plain powers the curvature along the
   flattest and the steepest directions would differ by a factor of ~10⁷):
       L = 1/N ‖Φw − y‖²           ∂L/∂w = 2/N · Φᵀ(Φw − y)
   With 10 points, degree 1 underfits, 3 is about right, and 9 (10 coefficients) passes
   through every noisy point: it overfits.
3. Logistic regression, p = σ(z) with z = Xw + b, binary cross-entropy:
       L = −1/N Σ [y log p + (1 − y) log(1 − p)] = 1/N Σ [softplus(z) − y·z]
       ∂L/∂w = 1/N · Xᵀ(p − y)     ∂L/∂b = 1/N · Σ (p − y)
   (σ' = σ(1 − σ) cancels against the log's derivative, leaving p − y.)

Run:  python examples/regression.py            (about 5 s)
      python examples/regression.py --quick    (a smoke test)
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg


def check_gradient(what, autograd_grad, formula_grad):
    """Assert that autograd's gradient equals the hand-written formula (computed in numpy)."""
    autograd_grad = autograd_grad.numpy()
    diff = np.abs(autograd_grad - formula_grad).max()
    assert np.allclose(autograd_grad, formula_grad, rtol=1e-10, atol=1e-12), (
        f"{what}: autograd {autograd_grad} != formula {formula_grad}")
    print(f"  gradient check, {what}: autograd = formula (max |difference| {diff:.1e})")


def gradient_descent(params, loss_fn, lr, steps, on_first_step=None):
    """Plain gradient descent: the whole optimizer is the two lines under no_grad."""
    losses = []
    for step in range(steps):
        loss = loss_fn()
        loss.backward()                     # fills p.grad for every leaf p in params
        if step == 0 and on_first_step is not None:
            on_first_step()                 # check the gradient before we change θ
        with tg.no_grad():                  # the update is not part of the model
            for p in params:
                p -= lr * p.grad
                p.grad = None               # otherwise the next backward adds to it
        losses.append(loss.item())
    return losses


def linear_regression(rng, steps, out):
    print("1. linear regression: y = w·x + b")
    n = 60
    x = rng.uniform(-3, 3, n)
    y = 0.8 * x + 1.0 + rng.normal(0, 0.7, n)                  # the true rule, plus noise
    X = np.stack([x, np.ones(n)], axis=1)                      # (N, 2): [x, 1]
    Xt, yt = tg.from_numpy(X), tg.from_numpy(y)
    theta = tg.zeros(2, dtype=tg.float64, requires_grad=True)  # θ = (w, b)

    def loss_fn():
        return ((Xt @ theta - yt) ** 2).mean()

    def check():
        th = theta.detach().numpy()
        check_gradient("∂L/∂θ = 2/N·Xᵀ(Xθ − y)", theta.grad, 2 / n * X.T @ (X @ th - y))

    losses = gradient_descent([theta], loss_fn, lr=0.05, steps=steps, on_first_step=check)
    loss_fn().backward()                                        # check again at the end
    check()
    w, b = theta.detach().numpy()
    w_ls, b_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    print(f"  gradient descent: w = {w:.4f}, b = {b:.4f}, loss {losses[-1]:.4f}"
          f"   (least squares: w = {w_ls:.4f}, b = {b_ls:.4f}; true rule: w = 0.8, b = 1)")

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained",
                                      gridspec_kw={"width_ratios": [3, 2]})
    ax.scatter(x, y, s=15, color="tab:blue", alpha=0.7, label="data")
    line = np.array([-3.2, 3.2])
    ax.plot(line, 0.8 * line + 1.0, color="gray", ls="--", label="true rule: 0.8x + 1")
    ax.plot(line, w * line + b, color="tab:red", lw=2, label=f"fitted: {w:.2f}x + {b:.2f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Linear regression by gradient descent", fontsize=10)
    ax.legend(fontsize=8)
    ax_loss.plot(losses, color="tab:red")
    ax_loss.axhline(np.mean((X @ [w_ls, b_ls] - y) ** 2), color="gray", ls=":",
                    label="least-squares minimum")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("mean squared error")
    ax_loss.set_title("Loss", fontsize=10)
    ax_loss.legend(fontsize=8)
    path = os.path.join(out, "linear.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def polynomial_regression(rng, steps, out):
    print("2. polynomial regression: y = Σₖ wₖ·Pₖ(x), degrees 1, 3, 9")
    n = 10

    def truth(x):
        return np.sin(np.pi * x)

    x = np.linspace(-1, 1, n)
    y = truth(x) + rng.normal(0, 0.25, n)
    x_test = rng.uniform(-1, 1, 500)                        # fresh points to measure overfitting
    y_test = truth(x_test) + rng.normal(0, 0.25, 500)
    x_plot = np.linspace(-1, 1, 300)
    yt = tg.from_numpy(y)

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True, layout="constrained")
    for ax, degree in zip(axes, [1, 3, 9]):
        Phi = np.polynomial.legendre.legvander(x, degree)     # (N, d+1) features
        Phit = tg.from_numpy(Phi)
        w = tg.zeros(degree + 1, dtype=tg.float64, requires_grad=True)

        def loss_fn():
            return ((Phit @ w - yt) ** 2).mean()

        def check():
            check_gradient(f"degree {degree}, ∂L/∂w = 2/N·Φᵀ(Φw − y)", w.grad,
                           2 / n * Phi.T @ (Phi @ w.detach().numpy() - y))

        # Gradient descent on a quadratic converges when lr < 2/λ_max, λ_max the largest
        # eigenvalue of the Hessian 2/N·ΦᵀΦ; we take lr = 1/λ_max.
        lr = 1 / np.linalg.eigvalsh(2 / n * Phi.T @ Phi).max()
        losses = gradient_descent([w], loss_fn, lr=lr, steps=steps, on_first_step=check)
        coef = w.detach().numpy()
        test_mse = np.mean((np.polynomial.legendre.legval(x_test, coef) - y_test) ** 2)
        print(f"  degree {degree}: train MSE {losses[-1]:.4f}, test MSE {test_mse:.4f}")

        ax.plot(x_plot, truth(x_plot), color="gray", ls="--", label="sin(πx)")
        ax.plot(x_plot, np.polynomial.legendre.legval(x_plot, coef), color="tab:red", lw=2,
                label=f"degree {degree} fit")
        ax.scatter(x, y, s=25, color="tab:blue", zorder=3, label=f"{n} training points")
        ax.set_ylim(-2, 2)
        ax.set_xlabel("x")
        ax.set_title(f"degree {degree}: train MSE {losses[-1]:.3f}, test {test_mse:.3f}",
                     fontsize=9)
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Polynomial regression: underfitting, a good fit, overfitting", fontsize=10)
    path = os.path.join(out, "polynomial.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def logistic_regression(rng, steps, out):
    print("3. logistic regression: p = σ(w·x + b)")
    n = 100  # per class
    centers = np.array([[-1.0, -0.5], [1.0, 0.8]])
    X = np.concatenate([rng.normal(c, 0.9, (n, 2)) for c in centers])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    Xt, yt = tg.from_numpy(X), tg.from_numpy(y)
    w = tg.zeros(2, dtype=tg.float64, requires_grad=True)
    b = tg.zeros((), dtype=tg.float64, requires_grad=True)

    def loss_fn():
        z = Xt @ w + b
        # softplus(z) = log(1 + eᶻ) = log(e⁰ + eᶻ): logsumexp over (0, z), which never
        # overflows (it subtracts the max before exp) and whose gradient is σ(z) everywhere.
        softplus = tg.stack([tg.zeros_like(z), z]).logsumexp(dim=0)
        return (softplus - yt * z).mean()

    def check():
        p = 1 / (1 + np.exp(-(X @ w.detach().numpy() + b.item())))
        check_gradient("∂L/∂w = 1/N·Xᵀ(p − y)", w.grad, X.T @ (p - y) / len(y))
        check_gradient("∂L/∂b = mean(p − y)", b.grad, np.mean(p - y))

    losses = gradient_descent([w, b], loss_fn, lr=0.5, steps=steps, on_first_step=check)
    with tg.no_grad():
        accuracy = (((Xt @ w + b) > 0).double() == yt).double().mean().item()
    wn, bn = w.detach().numpy(), b.item()
    print(f"  w = ({wn[0]:.3f}, {wn[1]:.3f}), b = {bn:.3f}, loss {losses[-1]:.4f}, "
          f"training accuracy {accuracy:.1%}")

    fig, ax = plt.subplots(figsize=(5.4, 4.4), layout="constrained")
    lim = np.abs(X).max() + 0.3
    ticks = np.linspace(-lim, lim, 200)
    gx, gy = np.meshgrid(ticks, ticks)
    p_grid = 1 / (1 + np.exp(-(wn[0] * gx + wn[1] * gy + bn)))   # σ(w·x + b) on the grid
    filled = ax.contourf(gx, gy, p_grid, levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                         alpha=0.45)
    ax.contour(gx, gy, p_grid, levels=[0.5], colors="k", linewidths=1.5)
    for label, color in [(0, "tab:blue"), (1, "tab:red")]:
        ax.scatter(X[y == label, 0], X[y == label, 1], color=color, s=20, edgecolors="w",
                   linewidths=0.6, label=f"class {label}")
    ax.legend(loc="lower right", fontsize=8)
    fig.colorbar(filled, ax=ax, label="p(y = 1 | x) = σ(w·x + b)")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"Logistic regression: boundary w·x + b = 0 (black)\n"
                 f"training accuracy {accuracy:.1%}", fontsize=10)
    path = os.path.join(out, "logistic.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/regression", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)   # the data sets are drawn with numpy

    # The polynomial fits get more steps: for degree 9 the flattest direction of the loss
    # is ~600 times flatter than the steepest one, and gradient descent crawls along it.
    steps = (100, 300, 100) if args.quick else (150, 3000, 1000)
    paths = [linear_regression(rng, steps[0], args.out),
             polynomial_regression(rng, steps[1], args.out),
             logistic_regression(rng, steps[2], args.out)]
    print()
    for path in paths:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
