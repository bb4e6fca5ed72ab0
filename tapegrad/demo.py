"""The main job: LeNet-5 learns to read handwritten digits, then shows why it read them so.

    python -m tapegrad.demo                  # about a minute on a 2-core CPU, no network
    python -m tapegrad.demo --device cuda    # train on an NVIDIA GPU (needs cupy)
    python -m tapegrad.demo --data ~/mnist   # the full MNIST files (60,000 + 10,000 digits)

Read it top to bottom: the data (the MNIST subset that ships inside tapegrad, 10,000
training and 2,000 test digits), the model (LeNet-5), the training (``fit`` from
``tapegrad.training``: Adam with a one-cycle learning rate on the cross-entropy loss), the
results on the test digits (accuracy, confusion matrix, the digits it got wrong, the
filters it learned) and the explanations (``tapegrad.explain``: which pixels made it say
what it said). Every picture goes into ``--out`` (default ``tapegrad-demo/``).
"""
import os
import sys

# One BLAS thread unless you chose otherwise. LeNet's matrices are small, so a second
# thread gains little, and on a busy machine threads that wait for each other make training
# ten times slower. The setting is read when numpy loads, and `python -m tapegrad.demo` has
# imported tapegrad (so numpy) before this line runs: start again with it set.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if __name__ == "__main__" and not any(name in os.environ for name in BLAS_THREADS):
    os.environ.update(dict.fromkeys(BLAS_THREADS, "1"))
    if "numpy" in sys.modules and os.name == "posix":
        os.execv(sys.executable, [sys.executable, "-m", "tapegrad.demo", *sys.argv[1:]])

import argparse  # noqa: E402  (the imports wait for the thread setting above)
import time  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad import explain, nn  # noqa: E402
from tapegrad.data import MNIST, DataLoader, Subset, random_split  # noqa: E402
from tapegrad.nn.modules.conv import Conv2d  # noqa: E402
from tapegrad.nn.modules.pooling import MaxPool2d  # noqa: E402
from tapegrad.training import (confusion_matrix, fit, plot_confusion_matrix,  # noqa: E402
                               plot_filters, plot_history, plot_image_grid, predict)

TRAINING_SPEED = 7000  # training digits per second on one core of a 2-core Xeon (AVX-512) VM
EXPLAINED_DIGITS = (2, 4, 7)  # explain the first right answer for each, and a mistake


def lenet5():
    """LeNet-5 (LeCun et al. 1998) as PyTorch's tutorials write it, with ReLU and max-pooling.
    The shapes of one 28 × 28 digit on its way through are in the comments."""
    return nn.Sequential(
        Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),   # 6 × 28 × 28: stroke detectors
        MaxPool2d(2),                                        # 6 × 14 × 14
        Conv2d(6, 16, kernel_size=5), nn.ReLU(),             # 16 × 10 × 10: parts of digits
        MaxPool2d(2),                                        # 16 × 5 × 5
        nn.Flatten(),                                        # 400
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))                                   # one score (logit) per digit


def load_data(data, quick):
    """(train, validation, test) data sets of (image, label) pairs, and what they are."""
    train, test = MNIST(data), MNIST(data, train=False)   # data=None: the embedded subset
    if quick:  # a smoke run: a slice of each
        train, test = Subset(train, range(1200)), Subset(test, range(400))
    # A tenth of the training digits is held out to watch for overfitting while training;
    # the test digits stay unseen until the end.
    train, val = random_split(train, [0.9, 0.1])
    source = f"the MNIST files in {data}" if data else "the MNIST subset embedded in tapegrad"
    return train, val, test, (f"{source}: {len(train):,} digits to learn from, {len(val):,} "
                              f"held out to validate, {len(test):,} to test")


def digits_to_explain(labels, predicted, confidence):
    """Indices of the first right answer for each of EXPLAINED_DIGITS, then of the most
    confident mistake (why the model was sure of a wrong answer is the interesting part)."""
    labels, predicted, confidence = labels.tolist(), predicted.tolist(), confidence.tolist()
    pairs = list(zip(labels, predicted))
    rows = [pairs.index((digit, digit)) for digit in EXPLAINED_DIGITS if (digit, digit) in pairs]
    mistakes = [i for i, (truth, guess) in enumerate(pairs) if truth != guess]
    if mistakes:
        rows.append(max(mistakes, key=lambda i: confidence[i]))
    return rows


def pieces_of_strokes(pixels):
    """LIME's superpixels for a digit: quickshift with a small window cuts the strokes into
    short pieces (LIME's default settings, made for photos, see one piece), and the black
    background is one more piece (blacking it out changes nothing)."""
    pieces = explain.segment.quickshift(pixels, kernel_size=1, max_dist=5, ratio=0.5)
    pieces[(pixels < 0.1).all(axis=-1)] = pieces.max() + 1     # pixels: (28, 28, 1)
    return pieces


def grad_cam(model, images, targets):
    """Grad-CAM on the second convolution, laid over the pixels it looks at. Its map is
    10 × 10 and has no padding: cell i sits over pixels 2i+4 and 2i+5 (the pooling halves the
    image, the unpadded 5 × 5 kernel loses 2 cells on each side). So the map is enlarged ×2
    and framed by 4 empty pixels; stretched over the whole 28 × 28 image it would point
    beside the strokes."""
    cam = explain.GradCAM(model, model[3]).attribute(images, target=targets, upsample=False)
    cam = nn.functional.interpolate(cam, scale_factor=2, mode="bilinear")   # 20 × 20
    return nn.functional.pad(cam, (4, 4, 4, 4))                             # 28 × 28


def explain_digits(model, images, targets, quick, seed):
    """Saliency, Integrated Gradients, Grad-CAM and LIME of each image for its target class."""
    maps = {
        # |∂ score / ∂ pixel|: how strongly the class score reacts to each pixel
        "saliency": explain.Saliency(model).attribute(images, target=targets),
        # the gradient averaged on the straight path from a black image to the digit, times
        # the pixel: each pixel's share of score(digit) − score(black); green for, red against
        "Integrated Gradients": explain.IntegratedGradients(model).attribute(
            images, target=targets, n_steps=16 if quick else 64),
        # where the second convolution's maps hold evidence for the class
        "Grad-CAM": grad_cam(model, images, targets),
    }
    # LIME: black out random groups of pixels (superpixels), watch the class probability,
    # and fit a linear model to it; a superpixel's weight says how much it helps the class
    probabilities = nn.Sequential(model, nn.Softmax(dim=1))
    lime = [explain.LimeImage().explain(
                image, probabilities, labels=[target], hide_color=0.0, seed=seed,
                num_samples=200 if quick else 1000, segmentation=pieces_of_strokes)
            for image, target in zip(images, targets.tolist())]
    return maps, lime


def explanation_figure(images, labels, predicted, confidence, maps, lime, path):
    """One row per digit: the digit, then each method's map for the predicted class."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = 2 + len(maps)
    fig = Figure(figsize=(2.1 * columns, 2.2 * len(images) + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(images), columns, squeeze=False)
    styles = {"saliency": dict(sign="absolute_value", method="heat_map"),
              "Integrated Gradients": dict(sign="all", method="heat_map"),
              "Grad-CAM": dict(sign="positive", cmap="jet", alpha_overlay=0.5)}
    for row, image in enumerate(images):
        truth, guess = int(labels[row]), int(predicted[row])
        said = f"a {truth}" if guess == truth else f"a {truth}, read as {guess}"
        explain.plot.image_attr(None, image, method="original_image", ax=axes[row, 0],
                                title=f"{said} ({float(confidence[row]):.0%})")
        for col, (name, attribution) in enumerate(maps.items(), start=1):
            explain.plot.image_attr(attribution[row], image, ax=axes[row, col],
                                    title=name if row == 0 else None, **styles[name])
            if styles[name].get("method") == "heat_map":  # the digit's outline, to find it
                axes[row, col].contour(image[0].numpy(), levels=[0.5], colors="0.5",
                                       linewidths=0.5)
        explain.plot.lime_mask(lime[row], guess, num_features=4, ax=axes[row, -1],
                               title="LIME" if row == 0 else "", min_size=112)
    fig.suptitle("Why LeNet-5 read each test digit as it did (maps for the predicted digit)")
    fig.savefig(path, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tapegrad.demo",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--data", default=None, help="a folder with the MNIST IDX files "
                        "(default: the subset embedded in tapegrad)")
    parser.add_argument("--epochs", type=int, default=None, help="default 10 (1 with --quick)")
    parser.add_argument("--out", default="tapegrad-demo", help="folder for the pictures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few seconds: a slice of "
                        "the data, 1 epoch (a smoke test)")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else 10)
    if epochs < 1:
        parser.error(f"--epochs must be at least 1, got {epochs}")
    if args.device.startswith("cuda") and not tg.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU found (or cupy is missing: "
                     "pip install -e '.[cuda]')")
    started = time.perf_counter()
    tg.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    # 1. The data, the model, the training plan
    train, val, test, what = load_data(args.data, args.quick)
    train_loader = DataLoader(train, batch_size=64, shuffle=True)
    model = lenet5().to(args.device)
    optimizer = tg.optim.Adam(model.parameters(), lr=3e-3)
    # the learning rate rises to 3e-3 and then anneals to ~0: fast early, fine at the end
    scheduler = tg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3,
                                                 total_steps=epochs * len(train_loader))
    size = sum(p.numel() for p in model.parameters())
    estimate = epochs * len(train) / TRAINING_SPEED + 15
    print("tapegrad demo: LeNet-5 learns to read handwritten digits, then explains itself")
    print(f"  data      {what}")
    print(f"  model     LeNet-5: 2 convolutions and 3 linear layers, {size:,} parameters")
    print(f"  training  {epochs} epoch{'s' * (epochs > 1)} of {len(train_loader)} batches of 64 "
          f"on {args.device}: Adam, one-cycle learning rate up to 3e-3, cross-entropy loss")
    if args.device == "cpu":
        print(f"  time      about {estimate:.0f} s on a 2-core CPU; a bar per epoch shows "
              f"the running loss and accuracy")
    sys.stdout.flush()  # the plan before the bars (which go to stderr)

    # 2. Training: fit runs the loop (forward, loss, backward, step) and keeps the books
    history = fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs,
                  val_loader=DataLoader(val, batch_size=500), metrics=["accuracy"],
                  scheduler=scheduler, device=args.device)

    # 3. Results on the test digits, which the model never saw
    images, labels = next(iter(DataLoader(test, batch_size=len(test))))   # all at once
    probabilities = predict(model, images, device=args.device).softmax(1).to("cpu")
    confidence, predicted = probabilities.max(1)
    right = int((predicted == labels).sum())
    accuracy = right / len(labels)
    matrix = confusion_matrix(predicted, labels, num_classes=10)
    counts = matrix.tolist()
    mistakes = sorted(((counts[t][p], t, p) for t in range(10) for p in range(10)
                       if t != p and counts[t][p] > 0), reverse=True)[:3]
    print(f"\ntest accuracy: {100 * accuracy:.2f}% ({right:,} of {len(labels):,} test digits "
          f"read right)")
    if mistakes:
        print("most frequent mistakes: " + ", ".join(
            f"{t} read as {p} ({n}×)" for n, t, p in mistakes))

    # 4. Explanations for a few test digits
    pick = tg.tensor(digits_to_explain(labels, predicted, confidence))
    print(f"explaining {len(pick)} test digits with saliency, Integrated Gradients, Grad-CAM "
          f"and LIME…")
    maps, lime = explain_digits(model, images[pick].to(args.device), predicted[pick],
                                args.quick, args.seed)

    # 5. The pictures
    def path(name):
        return os.path.join(args.out, name)

    files = {"curves.png": "loss and accuracy per epoch, training vs validation digits",
             "confusion_matrix.png": "test digits by true (rows) and predicted (columns) digit",
             "misclassified.png": "the test digits it got wrong, predicted and true labels",
             "filters.png": "the 6 first-layer 5×5 filters it learned (stroke detectors)",
             "explanations.png": "why it read a few test digits as it did: saliency, "
                                 "Integrated Gradients, Grad-CAM, LIME",
             "lenet5.tg": "the trained weights: model.load_state_dict(tg.load(path))"}
    plot_history(history, path=path("curves.png"))
    plot_confusion_matrix(matrix, path=path("confusion_matrix.png"))
    wrong = (predicted != labels).nonzero().reshape(-1)[:60]
    if len(wrong):
        fig, ax = plot_image_grid(images[wrong], predicted[wrong], labels[wrong], ncols=10)
        shown = "the" if len(wrong) == len(labels) - right else f"the first {len(wrong)} of the"
        ax.set_title(f"{shown} {len(labels) - right} misread test digits (of {len(labels):,})",
                     fontsize=9)
    else:
        fig, ax = plot_image_grid(images[:10], predicted[:10], labels[:10], ncols=10)
        ax.set_title("no test digit was misread: the first 10", fontsize=9)
    fig.savefig(path("misclassified.png"), dpi=100)
    plot_filters(model[0].weight, path=path("filters.png"))
    explanation_figure(images[pick], labels[pick], predicted[pick], confidence[pick],
                       {name: m.to("cpu") for name, m in maps.items()}, lime,
                       path("explanations.png"))
    tg.save(model.state_dict(), path("lenet5.tg"))

    print(f"\ndone in {time.perf_counter() - started:.0f} s; wrote {len(files)} files:")
    width = max(len(path(name)) for name in files)
    for name, caption in files.items():
        print(f"  {path(name):<{width}}  {caption}")


if __name__ == "__main__":
    main()
