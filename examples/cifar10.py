"""CIFAR-10: LeNet-5 and a small residual network (ResNet) on colour images, with augmentation.

CIFAR-10 (Krizhevsky, 2009) has 60,000 colour images of 32×32 pixels in 10 classes
(airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck): 50,000 to train
and 10,000 to test. Objects appear at any place, size and pose, so it is much harder
than MNIST.

Two models:

- LeNet-5 (``--model lenet``), as in examples/mnist.py but with 3 input channels:
  3×32×32 → conv 5×5 (6) → pool → conv 5×5 (16) → pool → 400 → 120 → 84 → 10.
- A ResNet with 8 weight layers (``--model resnet``, He et al. 2016): a 3×3 conv stem
  (16 channels), three stages of one residual block each (16, 32, 64 channels; the last two
  halve the size with stride 2: 32×32 → 16×16 → 8×8), global average pooling (the mean of
  each channel over all positions) and one linear layer 64 → 10. A residual block computes

      y = ReLU( F(x) + s(x) ),   F = conv 3×3 → BatchNorm → ReLU → conv 3×3 → BatchNorm

  where the shortcut s is the identity (or a 1×1 conv + BatchNorm where the shape changes).
  The block only has to learn the change F(x) = y − x, and the gradient reaches early layers
  through the shortcuts' "+" unweakened (∂y/∂x contains the identity), which is what lets
  very deep networks train.

Data augmentation: each epoch sees each training image randomly shifted (RandomCrop 32 of
the image padded by 4 pixels on each side) and mirrored with probability ½
(RandomHorizontalFlip): a cat is still a cat, so the network learns that, rather than the
exact pixels of 50,000 images. Training: SGD with Nesterov momentum 0.9, weight decay 5e-4
and the one-cycle learning-rate schedule (OneCycleLR).

Not yet measured on CIFAR-10 itself (written on a machine without the files or a network).
Timed on stand-in data of the real size (50,000 + 10,000 images, augmentation included) on a
2-core VM, one epoch takes about 26 s for LeNet-5 and 190 s for the ResNet: 30 epochs take
about 13 minutes and 95 minutes.

Run it (from the repository root):

    python examples/cifar10.py --data /path/to/folder     # holding cifar-10-batches-py/
    python examples/cifar10.py --download                 # fetch it into data/ (170 MB)
    python examples/cifar10.py --model lenet --data ...   # LeNet-5 instead of the ResNet
    python examples/cifar10.py --quick                    # a seconds-long smoke test

Without the data set (no ``--data`` nor ``--download``) it trains on a STAND-IN: random
3×32×32 images whose average colour depends on the class (so there is something to learn),
``--fake-size`` of them (256 with ``--quick``, else 5,000). That exercises every line of the
code and times an epoch, nothing more, and the output says so. Figures go to
``out/cifar10`` (``--out``): curves.png, confusion_matrix.png, predictions.png,
augmentation.png and filters.png.
"""
import argparse
import os
import time

import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import CIFAR10, DataLoader, ImageDataset
from tapegrad.data.transforms import (Compose, Normalize, RandomCrop, RandomHorizontalFlip,
                                      ToTensor)
from tapegrad.training import (confusion_matrix, fit, plot_confusion_matrix, plot_filters,
                               plot_history, plot_image_grid, predict)

try:                                  # the convolution layers, wherever this version keeps them
    from tapegrad.nn import AdaptiveAvgPool2d, Conv2d, MaxPool2d
except ImportError:
    from tapegrad.nn.modules.conv import Conv2d
    from tapegrad.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
MEAN = (0.4914, 0.4822, 0.4465)       # of CIFAR-10's training pixels, per channel (R, G, B)
STD = (0.2470, 0.2435, 0.2616)


# -- the models --------------------------------------------------------------------------------
def make_lenet():
    return nn.Sequential(
        Conv2d(3, 6, kernel_size=5), nn.ReLU(), MaxPool2d(2),     # → 6×28×28 → 6×14×14
        Conv2d(6, 16, kernel_size=5), nn.ReLU(), MaxPool2d(2),    # → 16×10×10 → 16×5×5
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def conv_bn(in_channels, out_channels, kernel_size, stride=1):
    """A convolution without bias (BatchNorm's β replaces it) followed by BatchNorm."""
    return nn.Sequential(
        Conv2d(in_channels, out_channels, kernel_size, stride=stride,
               padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels))


class ResidualBlock(nn.Module):
    """y = ReLU(F(x) + shortcut(x)), F = conv-BN-ReLU-conv-BN (3×3 each)."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.residual = nn.Sequential(conv_bn(in_channels, out_channels, 3, stride), nn.ReLU(),
                                      conv_bn(out_channels, out_channels, 3))
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:  # the shape changes: a 1×1 convolution matches channels and size
            self.shortcut = conv_bn(in_channels, out_channels, 1, stride)

    def forward(self, x):
        return (self.residual(x) + self.shortcut(x)).relu()


def make_resnet():
    return nn.Sequential(
        conv_bn(3, 16, 3), nn.ReLU(),               # stem: 16×32×32
        ResidualBlock(16, 16),                      # stage 1: 16×32×32
        ResidualBlock(16, 32, stride=2),            # stage 2: 32×16×16
        ResidualBlock(32, 64, stride=2),            # stage 3: 64×8×8
        AdaptiveAvgPool2d(1),                       # global average pooling: 64×1×1
        nn.Flatten(),
        nn.Linear(64, 10))


# -- the data ----------------------------------------------------------------------------------
class StandIn(ImageDataset):
    """Random uint8 images (N, 32, 32, 3) laid out as CIFAR10's, each the average of uniform
    noise and a colour that depends on its class: learnable, but nothing like CIFAR-10."""

    def __init__(self, n, train, transform, seed):
        rng = np.random.default_rng(seed * 2 + (0 if train else 1))
        colours = np.random.default_rng(1234).integers(0, 256, (10, 3))  # the same each split
        labels = rng.integers(0, 10, n)
        noise = rng.integers(0, 256, (n, 32, 32, 3))
        self.data = ((noise + colours[labels][:, None, None, :]) // 2).astype(np.uint8)
        self.targets = labels.tolist()
        self.classes = CLASSES
        self.transform = transform
        self.target_transform = None


def load_data(args):
    """(train, test, description, is_stand_in)."""
    normalize = [ToTensor(), Normalize(MEAN, STD)]   # (H, W, 3) uint8 → (3, H, W) float32
    # augmentation on the training images only: the test images are taken as they are
    train_transform = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), *normalize])
    test_transform = Compose(normalize)
    if args.data is not None or args.download:
        root = args.data or "data"
        train = CIFAR10(root, train=True, transform=train_transform, download=args.download)
        test = CIFAR10(root, train=False, transform=test_transform)
        return train, test, f"CIFAR-10 from {root}", False
    n = args.fake_size or (256 if args.quick else 5000)
    print(f"NOTE: no --data given, so this run uses a STAND-IN for CIFAR-10: {n} random "
          f"3×32×32 training images (and {n // 5} test images) whose mean colour depends on "
          f"the class. It exercises the code and times it; its accuracy means nothing about "
          f"CIFAR-10.")
    train = StandIn(n, True, train_transform, args.seed)
    test = StandIn(n // 5, False, test_transform, args.seed)
    return train, test, "STAND-IN DATA: random images, not CIFAR-10", True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["lenet", "resnet"], default="resnet")
    parser.add_argument("--data", default=None,
                        help="a folder holding cifar-10-batches-py/ (default: random stand-in "
                             "data)")
    parser.add_argument("--download", action="store_true",
                        help="fetch CIFAR-10 into --data (default data/) first")
    parser.add_argument("--fake-size", type=int, default=None,
                        help="stand-in training images when there is no data (default 5000, "
                             "256 with --quick)")
    parser.add_argument("--epochs", type=int, default=None, help="default 30 (1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default 128 (64 with --quick)")
    parser.add_argument("--max-lr", type=float, default=None,
                        help="peak learning rate (default 0.1 for resnet, 0.05 for lenet)")
    parser.add_argument("--quick", action="store_true", help="a little stand-in data, 1 epoch")
    parser.add_argument("--out", default="out/cifar10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    epochs = args.epochs or (1 if args.quick else 30)
    args.batch_size = args.batch_size or (64 if args.quick else 128)
    max_lr = args.max_lr or (0.1 if args.model == "resnet" else 0.05)
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    start = time.perf_counter()

    train, test, what, stand_in = load_data(args)
    print(f"data: {what}: {len(train)} training, {len(test)} test images")
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test, batch_size=500)

    model = make_resnet() if args.model == "resnet" else make_lenet()
    n_weights = sum(p.numel() for p in model.parameters())
    print(f"model: {args.model}, {n_weights:,} parameters\n{model}")
    optimizer = tg.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9, nesterov=True,
                             weight_decay=5e-4)
    scheduler = tg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr,
                                                 total_steps=epochs * len(train_loader))
    print(f"training: {epochs} epochs of {len(train_loader)} batches of {args.batch_size}, "
          f"SGD (Nesterov momentum 0.9, weight decay 5e-4) with OneCycleLR (max_lr={max_lr:g}), "
          f"augmentation: random crop (padding 4) and horizontal flip; seed {args.seed}")
    # The test set doubles as the validation set here, as in most CIFAR-10 write-ups; hold
    # out part of the training set instead if you tune anything on it.
    history = fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs,
                  val_loader=test_loader, metrics=["accuracy"], scheduler=scheduler)
    for i, e in enumerate(history.epochs):
        print(f"epoch {e}: loss {history['loss'][i]:.4f}, accuracy "
              f"{history['accuracy'][i]:.2%}, test loss {history['val_loss'][i]:.4f}, "
              f"test accuracy {history['val_accuracy'][i]:.2%}, {history['time'][i]:.1f} s")
    train_time = sum(history["time"])
    per_epoch = train_time / epochs
    print(f"test accuracy: {history['val_accuracy'][-1]:.2%} after {epochs} epochs; training "
          f"took {train_time:.0f} s ({per_epoch:.1f} s per epoch) [{what}]")
    if stand_in:  # the time of an epoch grows linearly with the number of images
        print(f"estimated time of one epoch on the real 50,000 + 10,000 images: "
              f"{per_epoch * 50000 / len(train):.0f} s ({args.model}, from this run's "
              f"{per_epoch:.1f} s for {len(train)} + {len(test)})")

    tag = " (STAND-IN: random images)" if stand_in else ""
    logits = predict(model, test_loader)
    predicted = logits.argmax(1)
    labels = tg.tensor(test.targets)
    raw_test = test.data[:24].astype(np.float32) / 255           # (24, 32, 32, 3) for drawing
    paths = {}

    paths["curves"] = os.path.join(args.out, "curves.png")
    fig, _ = plot_history(history)
    fig.suptitle(f"{args.model} on CIFAR-10{tag} (validation = test set)")
    fig.savefig(paths["curves"], dpi=90)

    paths["confusion_matrix"] = os.path.join(args.out, "confusion_matrix.png")
    fig, ax = plot_confusion_matrix(confusion_matrix(predicted, labels, num_classes=10),
                                    class_names=CLASSES, normalize=True)
    ax.set_title(f"{args.model}: test confusion matrix{tag}\n(each row sums to 1)",
                 fontsize=10)
    fig.savefig(paths["confusion_matrix"], dpi=80)

    paths["predictions"] = os.path.join(args.out, "predictions.png")
    fig, ax = plot_image_grid(raw_test, predicted=predicted.numpy()[:24],
                              true=labels.numpy()[:24], class_names=CLASSES)
    ax.set_title(f"{args.model}: the first 24 test images, mistakes in red{tag}", fontsize=9)
    fig.savefig(paths["predictions"], dpi=80)

    # Eight random augmentations of each of the first four training images (the first
    # column is the original): what the network sees in eight different epochs.
    paths["augmentation"] = os.path.join(args.out, "augmentation.png")
    augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])
    tiles = []
    for image in train.data[:4]:
        tiles += [image] + [augment(image) for _ in range(7)]
    fig, ax = plot_image_grid(np.stack(tiles).astype(np.float32) / 255, ncols=8)
    ax.set_title(f"random crop (padding 4) + horizontal flip: original, then 7 draws{tag}",
                 fontsize=9)
    fig.savefig(paths["augmentation"], dpi=90)

    paths["filters"] = os.path.join(args.out, "filters.png")
    first = model[0] if args.model == "lenet" else model[0][0]     # the stem's convolution
    fig, ax = plot_filters(first.weight.detach())
    ax.set_title(f"{args.model}: first-layer filters as RGB images{tag}", fontsize=9)
    fig.savefig(paths["filters"], dpi=90)

    for name, path in paths.items():
        print(f"saved {name}: {path}")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
