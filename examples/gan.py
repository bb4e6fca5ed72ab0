"""A generative adversarial network (GAN): two MLPs trained against each other.

The generator G turns noise z ~ N(0, I) into a sample G(z); the discriminator D scores a
sample with a logit, D(x) = σ(logit) being its estimate of "x is real". Goodfellow et al.
(2014) train them on the minimax game

    min_G max_D  V(D, G) = E_x~data[ log D(x) ] + E_z[ log(1 − D(G(z))) ]

For a fixed G the best D is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and then
V = 2·JS(p_data ‖ p_G) − log 4: G wins when its samples are distributed like the data.

In practice both take turns, one Adam step each (β₁ = 0.5, the usual choice for GANs:
less momentum, since the target keeps moving), with BCEWithLogitsLoss (binary
cross-entropy on logits, ℓ(s, y) = −[y log σ(s) + (1 − y) log(1 − σ(s))]):

    D step:  minimise ℓ(D(x), 1) + ℓ(D(G(z)), 0)             (G(z) detached: D's turn only)
    G step:  minimise ℓ(D(G(z)), 1) = −log D(G(z))          (the non-saturating loss)

The G step does not minimise log(1 − D(G(z))) as the game says: early on D rejects G's
samples easily, D(G(z)) ≈ 0, where log(1 − D) is flat and gives G almost no gradient.
−log D(G(z)) has the same fixed point but is steepest exactly there.

Two data sets:
- ``--dataset mixture`` (default): 8 Gaussians on a ring in the plane. Real and generated
  points are drawn at a few steps of training (mixture.png): G first moves its whole blob
  towards wherever D currently says "real", overshoots, spreads out, and only then
  settles on the ring and splits between the 8 modes (a GAN can also get stuck on a few
  of them: mode collapse).
- ``--dataset mnist``: the digits of the embedded MNIST subset, pixels scaled to [−1, 1];
  G an MLP 100→256→784 ending in tanh, D an MLP 784→512→256→1 with dropout (which keeps
  D from winning too easily). An 8 × 8 grid of samples from the same noise is saved after
  every epoch (mnist_epoch01.png, …), and one row of them per epoch 1, 2, 4, 8, … in
  mnist_progress.png.

Run it:

    python examples/gan.py --quick                     # seconds
    python examples/gan.py                             # the mixture, under a minute
    python examples/gan.py --dataset mnist             # MNIST, about two minutes
"""
import argparse
import math
import os
import time

import matplotlib
matplotlib.use("Agg")   # no display needed: figures go straight to PNG files
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import MNIST, DataLoader, Subset


def train_step(G, D, opt_G, opt_D, real, z_dim, loss_fn):
    """One D step then one G step on a batch of real samples; returns both losses."""
    n = real.shape[0]
    ones, zeros = tg.ones(n, 1), tg.zeros(n, 1)
    # D: real → 1, fake → 0. The fakes are detached: this step must not change G.
    fake = G(tg.randn(n, z_dim))
    loss_D = loss_fn(D(real), ones) + loss_fn(D(fake.detach()), zeros)
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()
    # G: make D say 1 on fakes (non-saturating loss). The gradient flows through D into G;
    # D's parameters get gradients too, but only opt_G steps, and opt_D zeroes them next time.
    loss_G = loss_fn(D(fake), ones)
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    return loss_D.item(), loss_G.item()


# -- the 2-D mixture ------------------------------------------------------------------------
RADIUS, STD, MODES = 2.0, 0.05, 8
CENTRES = np.array([[RADIUS * math.cos(2 * math.pi * k / MODES),
                     RADIUS * math.sin(2 * math.pi * k / MODES)] for k in range(MODES)])


def mixture_batch(n, rng):
    """n points: a random ring centre each, plus N(0, STD²) noise."""
    centres = CENTRES[rng.integers(0, MODES, n)]
    return tg.tensor((centres + STD * rng.standard_normal((n, 2))).astype(np.float32))


def mode_coverage(points):
    """How many of the 8 modes get at least 1/4 of their fair share of points within 3σ of
    their centre, and the share of points that are within 3σ of any centre."""
    distances = np.linalg.norm(points[:, None, :] - CENTRES[None], axis=2)    # (n, 8)
    nearest, close = distances.argmin(axis=1), distances.min(axis=1) < 3 * STD
    counts = np.bincount(nearest[close], minlength=MODES)
    return int((counts >= 0.25 * len(points) / MODES).sum()), float(close.mean())


def run_mixture(args, out):
    steps = args.steps or (300 if args.quick else 5000)
    batch, z_dim, width = 256, 16, 128
    rng = np.random.default_rng(args.seed)
    G = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                      nn.Linear(width, 2))
    D = nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                      nn.LeakyReLU(0.2), nn.Linear(width, 1))
    opt_G = tg.optim.Adam(G.parameters(), lr=args.lr or 1e-3, betas=(0.5, 0.999))
    opt_D = tg.optim.Adam(D.parameters(), lr=args.lr or 1e-3, betas=(0.5, 0.999))
    loss_fn = nn.BCEWithLogitsLoss()
    print(f"mixture: {MODES} Gaussians (σ = {STD}) on a circle of radius {RADIUS}; "
          f"{steps} steps of batch {batch}")

    # Snapshots, denser early on, where most of the change happens.
    marks = sorted({0, *(int(round(steps * f)) for f in (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1))})
    z_fixed = tg.randn(1000, z_dim)        # the same noise at every snapshot
    real_fixed = mixture_batch(1000, rng).numpy()
    snapshots, history = {}, []
    start = time.time()
    for step in range(steps + 1):
        if step in marks:
            with tg.no_grad():
                snapshots[step] = G(z_fixed).numpy()
            covered, share = mode_coverage(snapshots[step])
            radius = np.linalg.norm(snapshots[step], axis=1).mean()
            print(f"step {step:5d}: {covered}/{MODES} modes covered, {share:.0%} of samples "
                  f"within 3σ of a mode, mean distance from the origin {radius:.2f}, "
                  f"{time.time() - start:.0f} s")
        if step == steps:
            break
        history.append(train_step(G, D, opt_G, opt_D, mixture_batch(batch, rng), z_dim, loss_fn))

    # A grid of snapshots: real points in grey, generated in colour.
    cols = 4
    rows = math.ceil(len(marks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows))
    for ax, step in zip(axes.flat, marks):
        ax.scatter(real_fixed[:, 0], real_fixed[:, 1], s=2, color="0.6", label="real")
        ax.scatter(snapshots[step][:, 0], snapshots[step][:, 1], s=2, color="tab:red",
                   alpha=0.5, label="generated")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"step {step}", fontsize=10)
    for ax in list(axes.flat)[len(marks):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower left", fontsize=7, markerscale=3)
    fig.suptitle("GAN on 8 Gaussians: real (grey) and generated (red) points")
    fig.tight_layout()
    paths = [os.path.join(out, "mixture.png"), os.path.join(out, "mixture_losses.png")]
    fig.savefig(paths[0], dpi=80)
    plt.close(fig)
    plot_losses(history, "step", paths[1], "GAN on 8 Gaussians: losses")
    covered, share = mode_coverage(snapshots[steps])
    print(f"done in {time.time() - start:.0f} s: final {covered}/{MODES} modes covered, "
          f"{share:.0%} of samples near a mode")
    return paths


# -- MNIST -----------------------------------------------------------------------------------
def image_grid(images, path):
    """An 8 × 8 grid of (64, 784) images in [−1, 1], saved pixel for pixel, with a
    2-pixel grey border between the digits."""
    tiles = np.pad((images.reshape(8, 8, 28, 28) + 1) / 2, ((0, 0), (0, 0), (1, 1), (1, 1)),
                   constant_values=0.5)
    grid = tiles.transpose(0, 2, 1, 3).reshape(8 * 30, 8 * 30)
    grid = np.round(grid * 31) / 31   # 32 grey levels: looks the same, half the file size
    plt.imsave(path, grid, cmap="gray", vmin=0, vmax=1)


def run_mnist(args, out):
    epochs = args.epochs or (1 if args.quick else 30)
    z_dim, batch = 100, 64
    data = MNIST()                                       # the embedded 10,000 training digits
    if args.quick:
        data = Subset(data, list(range(1000)))
    loader = DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    G = nn.Sequential(nn.Linear(z_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))
    opt_G = tg.optim.Adam(G.parameters(), lr=args.lr or 2e-4, betas=(0.5, 0.999))
    opt_D = tg.optim.Adam(D.parameters(), lr=args.lr or 2e-4, betas=(0.5, 0.999))
    loss_fn = nn.BCEWithLogitsLoss()
    print(f"mnist: {len(data)} digits, {epochs} epochs of {len(loader)} batches of {batch}")
    z_fixed = tg.randn(64, z_dim)          # the same 64 noise vectors after every epoch
    paths, history, rows, start = [], [], {}, time.time()
    for epoch in range(1, epochs + 1):
        for images, _ in loader:
            real = images.reshape(images.shape[0], 784) * 2 - 1   # tanh's range, [−1, 1]
            history.append(train_step(G, D, opt_G, opt_D, real, z_dim, loss_fn))
        with tg.no_grad():
            samples = G(z_fixed).numpy()
        path = os.path.join(out, f"mnist_epoch{epoch:02d}.png")
        image_grid(samples, path)
        paths.append(path)
        rows[epoch] = samples[:10]
        recent = np.mean(history[-len(loader):], axis=0)
        print(f"epoch {epoch}/{epochs}: loss D {recent[0]:.3f}, loss G {recent[1]:.3f}, "
              f"{time.time() - start:.0f} s")
    # The same 10 noise vectors at epochs 1, 2, 4, 8, … and the last: one row each.
    shown = sorted({e for e in rows if e & (e - 1) == 0} | {epochs})
    fig, axes = plt.subplots(len(shown), 1, figsize=(6, 0.75 * len(shown) + 0.3))
    for ax, epoch in zip(np.atleast_1d(axes), shown):
        strip = rows[epoch].reshape(10, 28, 28).transpose(1, 0, 2).reshape(28, 280)
        ax.imshow((strip + 1) / 2, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"epoch {epoch}", rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("the same noise vectors through training", fontsize=10)
    fig.tight_layout()
    paths.append(os.path.join(out, "mnist_progress.png"))
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    paths.append(os.path.join(out, "mnist_losses.png"))
    plot_losses(history, "step", paths[-1], "GAN on MNIST: losses")
    print(f"done in {time.time() - start:.0f} s")
    return paths


def plot_losses(history, xlabel, path, title):
    history = np.array(history)
    window = max(1, len(history) // 50)      # a moving average: GAN losses are noisy
    kernel = np.ones(window) / window
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for column, name in ((0, "discriminator"), (1, "generator")):
        ax.plot(history[:, column], alpha=0.2, linewidth=0.6)
        ax.plot(np.arange(window - 1, len(history)),
                np.convolve(history[:, column], kernel, mode="valid"), label=name,
                color=ax.lines[-1].get_color())
    # At the game's equilibrium D(x) = ½ everywhere: loss D = 2 ln 2, loss G = ln 2.
    ax.axhline(2 * math.log(2), color="0.5", linestyle=":", linewidth=1)
    ax.axhline(math.log(2), color="0.5", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("BCE loss")
    ax.set_title(title + "  (dotted: 2 ln 2, dashed: ln 2)", fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("mixture", "mnist"), default="mixture")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--out", default="out/gan", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="mixture: training steps (default 5000; "
                                                  "quick 300)")
    parser.add_argument("--epochs", type=int, help="mnist: epochs (default 30; quick 1)")
    parser.add_argument("--lr", type=float, help="Adam's learning rate for both networks "
                                                 "(default 1e-3 mixture, 2e-4 mnist)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    paths = (run_mixture if args.dataset == "mixture" else run_mnist)(args, args.out)
    for path in paths:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
