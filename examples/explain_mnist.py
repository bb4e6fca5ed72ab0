"""Explaining a digit classifier: five ways to ask "which pixels made you say that?", and a
number that checks each answer.

A small CNN learns the embedded MNIST subset. For a few test digits we explain the score
F_c(x) of the predicted class c (a logit) with five methods:

    saliency              |∂F_c/∂x|: how strongly the score reacts to each pixel
    Integrated Gradients  (x − b) · ∫₀¹ ∂F_c/∂x(b + α(x − b)) dα, with b a black image: the
                          pixels' shares of F_c(x) − F_c(b) (they add up to it exactly)
    SmoothGrad            the mean of |∂F_c/∂x| at x + ε over 50 draws of ε ~ N(0, σ²),
                          σ = 15% of the image's range: saliency without the pixel noise
    Grad-CAM              ReLU(Σₖ αₖ Aₖ), αₖ = mean over positions of ∂F_c/∂Aₖ, where Aₖ are
                          the last convolution's maps (14 × 14, enlarged to 28 × 28)
    LIME                  the digit cut into superpixels (pieces of stroke); 1000 copies
                          with random pieces blacked out; a linear model of p(c) fitted to
                          them, weighted by closeness to the whole digit: one weight a piece

Which one tells the truth about the model? The deletion metric (RISE, Petsiuk et al.
2018) asks the model itself: set pixels to black from the most to the least important,
follow p(c), and take the area under that curve. A faithful explanation points at the
pixels the model needs, so p(c) collapses early and the area (deletion AUC) is small; a
random order of the pixels is the reference to beat. Each panel's title has its AUC, and
the example prints the mean over 100 test digits. Expect Integrated Gradients and LIME to
score best: deletion paints pixels black, the very reference they compare the digit with.
Saliency and SmoothGrad also mark background pixels (adding ink there would change the
score), whose deletion changes nothing, and Grad-CAM's coarse map spills onto the
background. A low deletion AUC is needed, not enough: look at an explanation several ways.

Run it:

    python examples/explain_mnist.py --quick     # seconds: a smoke test
    python examples/explain_mnist.py             # about a minute on a 2-core CPU

It saves explain_mnist.png (one row per digit, one column per method).
"""
import os

# One BLAS thread unless you chose otherwise (read when numpy loads): the matrices of a small
# CNN are small, and on a busy 2-core machine two threads that wait for each other make
# training several times slower.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import matplotlib  # noqa: E402
matplotlib.use("Agg")   # no display needed: figures go straight to PNG files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad import explain, nn  # noqa: E402
from tapegrad.data import MNIST, DataLoader, Subset  # noqa: E402
from tapegrad.nn.modules.conv import Conv2d  # noqa: E402
from tapegrad.nn.modules.pooling import MaxPool2d  # noqa: E402
from tapegrad.training import fit, predict  # noqa: E402

METHODS = ["saliency", "Integrated Gradients", "SmoothGrad", "Grad-CAM", "LIME"]


def small_cnn():
    """Two 5 × 5 convolutions with max-pooling, then one linear layer: 28 × 28 → 10 logits."""
    return nn.Sequential(
        Conv2d(1, 8, 5, padding=2), nn.ReLU(), MaxPool2d(2),     # 8 × 14 × 14
        Conv2d(8, 16, 5, padding=2), nn.ReLU(), MaxPool2d(2),    # 16 × 7 × 7
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def stroke_pieces(pixels):
    """LIME's superpixels for a digit (pixels: (28, 28, 1)): quickshift with a small window
    cuts the strokes into short pieces, about 30 per digit (LIME's default settings, made
    for photos, leave the whole digit in one piece); the black background is one more
    piece, whose blacking out changes nothing."""
    pieces = explain.segment.quickshift(pixels, kernel_size=1, max_dist=5, ratio=0.5)
    pieces[(pixels < 0.1).all(axis=-1)] = pieces.max() + 1
    return pieces


def lime_maps(model, images, targets, num_samples, seed):
    """LIME's explanations, and their weights painted on the pixels (N, 1, H, W): each pixel
    gets the weight of its superpixel, so deletion can rank pixels as for the other maps."""
    probabilities = nn.Sequential(model, nn.Softmax(dim=1))
    explanations, maps = [], []
    for image, target in zip(images, targets.tolist()):
        e = explain.LimeImage().explain(image, probabilities, labels=[target], hide_color=0.0,
                                        num_samples=num_samples, segmentation=stroke_pieces,
                                        seed=seed)
        weight_of = np.zeros(e.segments.max() + 1)
        for piece, weight in e.as_map()[target]:
            weight_of[piece] = weight
        explanations.append(e)
        maps.append(weight_of[e.segments][None].astype(np.float32))
    return explanations, tg.tensor(np.stack(maps))


def attribute(model, images, targets, quick, seed):
    """{method: attributions (N, 1, 28, 28)} for the target class of each image, and the
    LIME explanations (for their superpixel pictures)."""
    maps = {
        "saliency": explain.Saliency(model).attribute(images, target=targets),
        "Integrated Gradients": explain.IntegratedGradients(model).attribute(
            images, target=targets, n_steps=16 if quick else 64),
        "SmoothGrad": explain.NoiseTunnel(explain.Saliency(model)).attribute(
            images, target=targets, nt_samples=10 if quick else 50, seed=seed),
        # on the last convolution (before its ReLU), as Captum's LayerGradCam on conv2; its
        # padding keeps its 14 × 14 map aligned with the image, each cell over 2 × 2 pixels
        "Grad-CAM": explain.GradCAM(model, model[3]).attribute(images, target=targets),
    }
    explanations, maps["LIME"] = lime_maps(model, images, targets, 200 if quick else 1000, seed)
    return maps, explanations


def deletion(model, images, maps, targets):
    """{method: deletion AUC per image (numpy)}, and the AUC of random pixel orders."""
    aucs = {name: explain.metrics.deletion_auc(model, images, attr, target=targets,
                                               n_steps=56).numpy()
            for name, attr in maps.items()}
    # a random order of the pixels, averaged over 5 draws: what any explanation must beat
    aucs["random order"] = np.mean([explain.metrics.deletion_auc(
        model, images, tg.rand(images.shape[0], 1, 28, 28), target=targets, n_steps=56).numpy()
        for _ in range(5)], axis=0)
    return aucs


def figure(images, labels, predicted, confidence, maps, explanations, aucs, path):
    styles = {"saliency": dict(sign="absolute_value", method="heat_map"),
              "Integrated Gradients": dict(sign="all", method="heat_map"),
              "SmoothGrad": dict(sign="absolute_value", method="heat_map"),
              "Grad-CAM": dict(sign="positive", cmap="jet", alpha_overlay=0.5)}
    rows = images.shape[0]
    fig, axes = plt.subplots(rows, 1 + len(METHODS), figsize=(2.0 * (1 + len(METHODS)),
                             2.25 * rows + 0.6), layout="constrained", squeeze=False)
    for r in range(rows):
        truth, guess = int(labels[r]), int(predicted[r])
        said = f"a {truth}" if truth == guess else f"a {truth} read as {guess}"
        explain.plot.image_attr(None, images[r], method="original_image", ax=axes[r, 0],
                                title=f"{said}\np({guess}) = {float(confidence[r]):.2f}")
        for c, name in enumerate(METHODS, start=1):
            title = f"{name}\ndeletion AUC {aucs[name][r]:.2f}"
            if name == "LIME":
                explain.plot.lime_mask(explanations[r], guess, num_features=5,
                                       ax=axes[r, c], title=title, min_size=112)
            else:
                explain.plot.image_attr(maps[name][r], images[r], ax=axes[r, c], title=title,
                                        **styles[name])
            if styles.get(name, {}).get("method") == "heat_map":  # the digit's outline
                axes[r, c].contour(images[r, 0].numpy(), levels=[0.5], colors="0.5",
                                   linewidths=0.5)
    for ax in axes.flat:
        ax.title.set_fontsize(9)
    fig.suptitle("Which pixels made the CNN say its digit? Deletion AUC: the area under p(class) "
                 "as pixels go black,\nmost important first (lower = more faithful); a random "
                 f"order gives {aucs['random order'].mean():.2f} on these digits", fontsize=10)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def digit_list(text):
    """"2,4,5,9" → [2, 4, 5, 9] (for --digits)."""
    try:
        digits = [int(d) for d in text.split(",")]
    except ValueError:
        digits = []
    if not digits or not all(0 <= d <= 9 for d in digits):
        raise argparse.ArgumentTypeError(f"expected digits 0-9 separated by commas, got {text!r}")
    return digits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--out", default="out/explain_mnist", help="folder for the figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default 6 (1 with --quick)")
    parser.add_argument("--digits", default="2,4,5,9", type=digit_list,
                        help="explain the first test digit of each of these classes")
    parser.add_argument("--n-eval", type=int, default=None,
                        help="test digits for the mean deletion AUCs (default 100; 10 quick)")
    args = parser.parse_args()
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else 6)
    n_eval = args.n_eval if args.n_eval is not None else (10 if args.quick else 100)
    if epochs < 1 or n_eval < 1:
        parser.error("--epochs and --n-eval must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)

    # 1. Train the CNN on the embedded subset (10,000 digits; 2,000 in --quick mode)
    train, test = MNIST(), MNIST(train=False)
    if args.quick:
        train = Subset(train, range(2000))
    loader = DataLoader(train, batch_size=64, shuffle=True)
    model = small_cnn()
    optimizer = tg.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = tg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3,
                                                 total_steps=epochs * len(loader))
    start = time.time()
    fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs, scheduler=scheduler,
        progress=False)
    model.eval()
    images, labels = next(iter(DataLoader(test, batch_size=len(test))))
    probabilities = predict(model, images).softmax(1)
    confidence, predicted = probabilities.max(1)
    accuracy = (predicted == labels).float().mean().item()
    print(f"trained a small CNN on {len(train):,} digits for {epochs} epoch(s) in "
          f"{time.time() - start:.0f} s: test accuracy {accuracy:.1%} on {len(test):,} digits")

    # 2. Explain the first test digit of each chosen class, for its predicted class
    digits = args.digits
    rows = tg.tensor([labels.tolist().index(d) for d in digits])
    start = time.time()
    maps, explanations = attribute(model, images[rows], predicted[rows], args.quick, args.seed)
    aucs = deletion(model, images[rows], maps, predicted[rows])
    print(f"explained {len(digits)} digits with {', '.join(METHODS)} in "
          f"{time.time() - start:.0f} s")
    path = os.path.join(args.out, "explain_mnist.png")
    figure(images[rows], labels[rows], predicted[rows], confidence[rows], maps, explanations,
           aucs, path)
    print(f"saved {path}")

    # 3. The mean deletion AUC over more test digits (spread over the classes), per method
    start = time.time()
    spread = tg.tensor(np.linspace(0, len(test) - 1, n_eval).round().astype(np.int64))
    more, _ = attribute(model, images[spread], predicted[spread], args.quick, args.seed)
    mean = {name: auc.mean() for name, auc in
            deletion(model, images[spread], more, predicted[spread]).items()}
    print(f"mean deletion AUC over {n_eval} test digits (lower = more faithful), "
          f"in {time.time() - start:.0f} s:")
    for name, value in sorted(mean.items(), key=lambda item: item[1]):
        print(f"  {name:<22} {value:.3f}")


if __name__ == "__main__":
    main()
