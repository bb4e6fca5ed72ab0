"""Second derivatives: Hessian-vector products, Newton's method and a gradient penalty.

backward() computes a gradient with tensor operations. With create_graph=True those
operations are recorded on the tape like any others, so the gradient is itself a
differentiable function of the inputs and can be differentiated again:

    g(x)  = ∇f(x)                          autograd.grad(f, x, create_graph=True)
    H·v   = ∇ₓ (g(x)·v)                     a second autograd.grad, of the scalar g·v
    H[i]  = ∇ₓ g_i(x)                      row i of the Hessian: n backward passes for all n rows

A Hessian-vector product costs about two backward passes whatever the size of x, while
the full Hessian needs n of them. Three uses, each checked against independent numbers:

1. H·v for f(x) = ½ xᵀAx + ⅓ Σ xᵢ³, whose Hessian is known: H = ½(A + Aᵀ) + diag(2x). It is
   compared with the Hessian built row by row and with finite differences of gradients,
   H·v ≈ (∇f(x + εv) − ∇f(x − εv)) / 2ε.
2. Newton's method on Rosenbrock's f(x, y) = (1 − x)² + 100·(y − x²)²: each step jumps to
   the minimum of the local quadratic model, x ← x − H⁻¹∇f, using the full 2 × 2 Hessian
   from autograd; gradient descent x ← x − lr·∇f takes thousands of steps instead. Far
   from the minimum the quadratic model can mislead (step 2 overshoots to y ≈ −3.2, where
   f ≈ 1,400); close to it, each Newton step squares the error.
3. A WGAN-GP gradient penalty (Gulrajani et al., 2017) on a tiny MLP critic D:
   P = mean over x̂ of (‖∇ₓ D(x̂)‖ − 1)², x̂ between real and fake samples. P depends on the
   weights only through the gradient ∇ₓD, so dP/dweights exists only if that gradient was
   recorded: create_graph=True.

Run:  python examples/second_derivatives.py            (a few seconds)
      python examples/second_derivatives.py --quick    (a smoke test)
Options: --gd-steps N, --critic-steps N, --out DIR, --seed N.
Writes: newton_vs_gd.png, gradient_penalty.png.
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")  # draw into files, no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

import tapegrad as tg
from tapegrad import nn
from tapegrad.autograd import grad


def hessian(f, x):
    """The full Hessian of a scalar f at x (a 1-D tensor), one row per backward pass."""
    g, = grad(f(x), x, create_graph=True)  # ∇f, still on the tape
    rows = [grad(g[i], x, retain_graph=True)[0] for i in range(x.shape[0])]
    return tg.stack(rows), g


def hessian_vector_product(f, x, v):
    """H·v with two backward passes: the gradient of the scalar ∇f(x)·v."""
    g, = grad(f(x), x, create_graph=True)
    hv, = grad((g * v).sum(), x)
    return hv


# 1. A Hessian-vector product, checked three ways ----------------------------------------

def check_hessian_vector_product(n, seed):
    tg.manual_seed(seed)
    a = tg.randn(n, n, dtype=tg.float64)
    def f(x):
        return 0.5 * (x @ (a @ x)) + (x ** 3).sum() / 3

    x = tg.randn(n, dtype=tg.float64, requires_grad=True)
    v = tg.randn(n, dtype=tg.float64)
    hv = hessian_vector_product(f, x, v).numpy()

    h_autograd, _ = hessian(f, x)
    a_np, x_np, v_np = a.numpy(), x.detach().numpy(), v.numpy()
    h_formula = 0.5 * (a_np + a_np.T) + np.diag(2 * x_np)

    eps = 1e-5
    def gradient_at(point):
        p = tg.tensor(point, dtype=tg.float64, requires_grad=True)
        return grad(f(p), p)[0].numpy()
    hv_finite = (gradient_at(x_np + eps * v_np) - gradient_at(x_np - eps * v_np)) / (2 * eps)

    print(f"1. Hessian-vector product for f(x) = ½xᵀAx + ⅓Σxᵢ³, n = {n} (float64)")
    print(f"   max |H·v (2 backward passes) − H_formula·v|      "
          f"{np.abs(hv - h_formula @ v_np).max():.1e}")
    print(f"   max |H·v − H_rows·v| (Hessian built row by row)   "
          f"{np.abs(hv - h_autograd.numpy() @ v_np).max():.1e}")
    print(f"   max |H·v − finite differences of ∇f|             {np.abs(hv - hv_finite).max():.1e}")
    print(f"   max |H_rows − H_formula|                        "
          f"{np.abs(h_autograd.numpy() - h_formula).max():.1e}")
    return np.abs(hv - h_formula @ v_np).max()


# 2. Newton's method against gradient descent --------------------------------------------

def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def newton(start, steps):
    """Pure Newton: p ← p − H⁻¹∇f, with H and ∇f from autograd."""
    p = tg.tensor(start, dtype=tg.float64, requires_grad=True)
    path, values = [list(start)], [rosenbrock(p).item()]
    print("2. Newton's method on Rosenbrock from", tuple(start))
    print(f"   {'step':>4} {'x':>10} {'y':>10} {'f':>11} {'|∇f|':>10}")
    for step in range(steps):
        h, g = hessian(rosenbrock, p)
        # tapegrad has no linear solver: solve the 2 × 2 system H·d = ∇f with numpy.
        d = np.linalg.solve(h.numpy(), g.detach().numpy())
        print(f"   {step:>4} {path[-1][0]:>10.6f} {path[-1][1]:>10.6f} {values[-1]:>11.3e} "
              f"{np.linalg.norm(g.detach().numpy()):>10.2e}")
        with tg.no_grad():
            p -= tg.tensor(d, dtype=tg.float64)
        path.append(p.tolist())
        values.append(rosenbrock(p).item())
    print(f"   {steps:>4} {path[-1][0]:>10.6f} {path[-1][1]:>10.6f} {values[-1]:>11.3e}")
    return np.array(path), np.array(values)


def gradient_descent(start, steps, lr):
    p = tg.tensor(start, dtype=tg.float64, requires_grad=True)
    path, values = [list(start)], []
    for _ in range(steps):
        f = rosenbrock(p)
        g, = grad(f, p)
        with tg.no_grad():
            p -= lr * g
        path.append(p.tolist())
        values.append(f.item())
    values.append(rosenbrock(p).item())
    return np.array(path), np.array(values)


def plot_newton_vs_gd(newton_run, gd_run, lr, path):
    fig, (ax, ax_f) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw=dict(width_ratios=[1.1, 1]))
    x, y = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-3.5, 3, 300))
    z = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2
    levels = np.logspace(-2, math.log10(z.max()), 20)
    ax.contourf(x, y, z, levels=levels, norm=LogNorm(), cmap="Greys_r", alpha=0.55)
    gd_path, gd_values = gd_run
    newton_path, newton_values = newton_run
    ax.plot(gd_path[:, 0], gd_path[:, 1], color="C0", linewidth=2.5,
            label=f"gradient descent, lr {lr:g}: {len(gd_values) - 1} steps")
    ax.plot(newton_path[:, 0], newton_path[:, 1], "o-", color="C3", linewidth=1.5,
            markersize=6, markeredgecolor="black", label=f"Newton: {len(newton_values) - 1} steps")
    # Number the Newton iterates (4, 5 and 6 sit on top of each other at the minimum).
    offsets = [(-14, -12), (-4, 7), (8, 2), (-14, 0), (8, -14)]
    for k, ((px, py), offset) in enumerate(zip(newton_path, offsets)):
        ax.annotate(str(k), (px, py), textcoords="offset points", xytext=offset, color="C3",
                    fontsize=11, fontweight="bold")
    ax.plot(1, 1, "*", color="gold", markersize=16, markeredgecolor="black", zorder=5)
    ax.set_xlim(-2, 2)
    ax.set_ylim(-3.5, 3)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Rosenbrock: paths from (−1.2, 1) to the minimum ★ (1, 1)")
    ax.legend(loc="lower left", fontsize=9, framealpha=0.9)

    # f at each step; the x axis is log-scaled so 5 Newton steps and 3000 GD steps both show.
    floor = 1e-22  # should f reach exactly 0, draw it at the floor of the plot
    ax_f.loglog(np.arange(1, len(gd_values) + 1), np.maximum(gd_values, floor), color="C0",
                linewidth=2, label="gradient descent")
    ax_f.loglog(np.arange(1, len(newton_values) + 1), np.maximum(newton_values, floor), "o-",
                color="C3", markeredgecolor="black", label="Newton")
    ax_f.set_ylim(floor / 10, 1e4)
    ax_f.set_xlabel("step + 1")
    ax_f.set_ylabel("f(x, y)")
    ax_f.set_title("f at each step: near (1, 1) Newton squares the error")
    ax_f.grid(alpha=0.3, which="both")
    ax_f.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


# 3. A WGAN-GP gradient penalty ----------------------------------------------------------

def gradient_penalty(critic, real, fake, t):
    """mean (‖∇ₓ D(x̂)‖ − 1)² at x̂ = t·real + (1 − t)·fake, recorded for a further backward."""
    x_hat = (t * real + (1 - t) * fake).detach().requires_grad_()
    scores = critic(x_hat)
    # Each score depends only on its own row of x_hat, so the gradient of the sum gives every
    # row's ∇ₓD at once. create_graph=True keeps this gradient on the tape.
    g, = grad(scores.sum(), x_hat, create_graph=True)
    norms = ((g * g).sum(1) + 1e-12).sqrt()  # the small constant keeps sqrt's slope finite at 0
    return ((norms - 1) ** 2).mean(), norms


def l2(t):
    """The Euclidean norm of all entries, as a float."""
    return (t * t).sum().sqrt().item()


def sample_data(rng, n):
    real = rng.normal(loc=(2.0, 2.0), scale=0.5, size=(n, 2))   # the "data"
    fake = rng.normal(loc=(0.0, 0.0), scale=1.0, size=(n, 2))   # a fixed "generator"
    t = rng.uniform(size=(n, 1))
    return (tg.tensor(a, dtype=tg.float32) for a in (real, fake, t))


def make_critic():
    return nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 1))


def check_penalty_gradient(critic, real, fake, t):
    names = [name for name, _ in critic.named_parameters()]
    params = list(critic.parameters())
    penalty, _ = gradient_penalty(critic, real, fake, t)
    grads = grad(penalty, params, allow_unused=True)
    print("3. WGAN-GP gradient penalty P on an MLP critic 2-32-32-1 (tanh)")
    print(f"   P = {penalty.item():.4f}; ‖dP/dparameter‖ through ∇ₓD (create_graph=True):")
    for name, g in zip(names, grads):
        shown = "None: ∇ₓD does not depend on it" if g is None else f"{l2(g):.3e}"
        print(f"     {name:<10} {shown}")

    # Is dP/dW right? Nudge one weight up and down and recompute P, in a float64 copy of D.
    critic64 = make_critic().double()
    critic64.load_state_dict(critic.state_dict())
    real64, fake64, t64 = real.double(), fake.double(), t.double()
    weight = critic64[0].weight
    g, = grad(gradient_penalty(critic64, real64, fake64, t64)[0], weight)
    def penalty_with(value):
        with tg.no_grad():
            weight[0, 0] = value
        return gradient_penalty(critic64, real64, fake64, t64)[0].item()
    eps, old = 1e-6, weight[0, 0].item()
    finite = (penalty_with(old + eps) - penalty_with(old - eps)) / (2 * eps)
    print(f"   dP/d(0.weight[0, 0]): autograd {g[0, 0].item():.10f}, "
          f"finite differences {finite:.10f}")

    # Without create_graph the gradient is a constant: P would not reach the weights at all.
    x_hat = (t * real + (1 - t) * fake).requires_grad_()
    g_constant, = grad(critic(x_hat).sum(), x_hat)
    print(f"   without create_graph: ∇ₓD.requires_grad = {g_constant.requires_grad}, "
          f"so P would be a constant for the optimizer")
    return grads


def train_critic(critic, rng, steps, batch, penalty_weight=10.0):
    """WGAN critic steps: maximize D(real) − D(fake) while keeping ‖∇ₓD‖ near 1."""
    optimizer = tg.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    history = {"wasserstein": [], "penalty": [], "norm": []}
    print(f"   training the critic {steps} steps (λ = {penalty_weight:g}):")
    for step in range(steps):
        real, fake, t = sample_data(rng, batch)
        penalty, norms = gradient_penalty(critic, real, fake, t)
        wasserstein = critic(real).mean() - critic(fake).mean()
        loss = -wasserstein + penalty_weight * penalty
        optimizer.zero_grad()
        loss.backward()  # through the penalty's recorded gradient into the weights
        optimizer.step()
        history["wasserstein"].append(wasserstein.item())
        history["penalty"].append(penalty.item())
        history["norm"].append(norms.mean().item())
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            print(f"     step {step:>4}: D(real) − D(fake) {wasserstein.item():7.3f}, "
                  f"P {penalty.item():.4f}, mean ‖∇ₓD‖ {norms.mean().item():.3f}")
    return history


def plot_critic(critic, rng, history, path):
    fig, (ax, ax_h) = plt.subplots(1, 2, figsize=(12, 4.8))
    grid = np.linspace(-3, 4.5, 120)
    gx, gy = np.meshgrid(grid, grid)
    points = tg.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=tg.float32)
    with tg.no_grad():
        values = critic(points).numpy().reshape(gx.shape)
    image = ax.contourf(gx, gy, values, levels=20, cmap="RdBu_r")
    fig.colorbar(image, ax=ax, label="D(x)")
    real, fake, _ = sample_data(rng, 200)
    ax.scatter(*real.numpy().T, s=8, color="black", label="real")
    ax.scatter(*fake.numpy().T, s=8, color="white", edgecolor="black", linewidth=0.5,
               label="fake")
    ax.set_title("the trained critic: high on real, low on fake, slope ≈ 1")
    ax.legend(loc="upper left")
    ax.set_aspect("equal")
    steps = np.arange(len(history["norm"]))
    ax_h.plot(steps, history["wasserstein"], color="C0", label="D(real) − D(fake)")
    ax_h.plot(steps, history["norm"], color="C2", label="mean ‖∇ₓD(x̂)‖")
    ax_h.plot(steps, history["penalty"], color="C3", label="penalty P")
    ax_h.axhline(1, color="gray", linestyle=":", linewidth=1)
    ax_h.set_xlabel("critic step")
    ax_h.set_title("critic training with the gradient penalty")
    ax_h.grid(alpha=0.3)
    ax_h.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/second_derivatives", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gd-steps", type=int, default=None, help="gradient descent steps")
    parser.add_argument("--critic-steps", type=int, default=None, help="critic training steps")
    args = parser.parse_args()
    gd_steps = args.gd_steps or (300 if args.quick else 3000)
    critic_steps = args.critic_steps or (20 if args.quick else 300)
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    check_hessian_vector_product(6, args.seed)

    start, lr = (-1.2, 1.0), 1e-3  # the classic start; lr near the largest stable step
    newton_run = newton(start, steps=6)
    gd_run = gradient_descent(start, gd_steps, lr)
    print(f"   gradient descent (lr {lr:g}) after {gd_steps} steps: f = {gd_run[1][-1]:.3e} "
          f"at ({gd_run[0][-1][0]:.4f}, {gd_run[0][-1][1]:.4f})")

    tg.manual_seed(args.seed)
    critic = make_critic()
    check_penalty_gradient(critic, *sample_data(rng, 64))
    history = train_critic(critic, rng, critic_steps, batch=64)

    files = [os.path.join(args.out, name)
             for name in ("newton_vs_gd.png", "gradient_penalty.png")]
    plot_newton_vs_gd(newton_run, gd_run, lr, files[0])
    plot_critic(critic, rng, history, files[1])
    print("figures:")
    for file in files:
        print(f"  {file}")


if __name__ == "__main__":
    main()
