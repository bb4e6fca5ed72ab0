"""Plots for training: loss and metric curves, a confusion matrix, images with their predicted
and true labels, first-layer filters, a learning-rate schedule.

Each function draws on a new ``matplotlib.figure.Figure`` attached to the Agg canvas (or on
the ``ax`` you pass), never through pyplot: no display is needed, no figure is added to
pyplot's global list of open figures (so none leaks, however many you draw), and
``plt.show()`` is never called. Each saves the figure to ``path`` when one is given (the
format follows the extension: .png, .pdf, .svg) and returns ``(fig, ax)``; in a notebook a
returned figure shows itself when it is the cell's value.

Inputs may be tensors (on any device), numpy arrays or lists; matplotlib draws from numpy
arrays on the host, so this file converts them there.
"""
import math

import numpy  # plotting happens on the host: matplotlib takes numpy arrays

from .. import backend
from ..autograd.tensor import Tensor

_SKIPPED = ("lr", "time")  # history entries that are not curves of plot_history


def _host(values):
    if isinstance(values, Tensor):
        return backend.to_numpy(values.array)
    return numpy.asarray(values)


def _figure(width, height):
    """A Figure on the Agg canvas, made without pyplot (matplotlib is imported on first use,
    so ``import tapegrad`` stays fast)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _figure_and_axes(ax, width, height):
    if ax is not None:
        return ax.figure, ax
    fig = _figure(width, height)
    return fig, fig.add_subplot()


# -- curves ------------------------------------------------------------------------------------
def _curve_names(history):
    """'loss', then each metric, from the keys of a history (val_x counts as x)."""
    names = []
    for key in history:
        name = key[4:] if key.startswith("val_") else key
        if name not in _SKIPPED and name not in names:
            names.append(name)
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
    return names


def plot_history(history, path=None, keys=None):
    """One panel per quantity (loss first, then each metric), training and validation curves
    against the epoch. ``history``: what ``fit`` returns, or any dict of per-epoch lists;
    ``keys`` picks the panels (e.g. ``["loss"]``).

    Returns ``(fig, axes)`` where ``axes`` is a list of Axes, one per panel.
    """
    names = list(keys) if keys is not None else _curve_names(history)
    if not names:
        raise ValueError(f"plot_history: nothing to plot; the history has the keys "
                         f"{sorted(history)}")
    for name in names:
        if name not in history and f"val_{name}" not in history:
            raise KeyError(f"plot_history: no {name!r} or 'val_{name}' in the history; it has "
                           f"{sorted(history)}")
    from matplotlib.ticker import MaxNLocator

    fig = _figure(4.2 * len(names), 3.2)
    axes = list(fig.subplots(1, len(names), squeeze=False)[0])
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "--")):
            if key in history:
                values = [float(v) for v in history[key]]
                marker = "o" if len(values) <= 30 else None
                ax.plot(range(1, len(values) + 1), values, style, marker=marker, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path), axes


def plot_lr_schedule(lrs, path=None, ax=None):
    """The learning rate against the epoch (from a ``History``'s ``"lr"``) or the step (from
    a list of values, e.g. collected with ``scheduler.get_last_lr()[0]`` after each step).
    Returns ``(fig, ax)``."""
    if isinstance(lrs, dict):
        if "lr" not in lrs:
            raise KeyError(f"plot_lr_schedule: the history has no 'lr'; it has {sorted(lrs)}")
        values, start, label = lrs["lr"], 1, "epoch"
    else:
        values, start, label = lrs, 0, "step"
    values = _host(values).astype("float64").reshape(-1)
    if values.size == 0:
        raise ValueError("plot_lr_schedule: no learning rates to plot")
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure_and_axes(ax, 5, 3.2)
    ax.plot(range(start, start + values.size), values, marker="o" if values.size <= 30 else None)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label)
    ax.set_ylabel("learning rate")
    ax.set_title("learning-rate schedule")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    return _finish(fig, path), ax


# -- confusion matrix --------------------------------------------------------------------------
def plot_confusion_matrix(matrix, class_names=None, normalize=False, path=None, ax=None,
                          cmap="Blues"):
    """The confusion matrix (rows: true class, columns: predicted, as ``confusion_matrix``
    makes it) as a heat map with the value in each cell (up to 30 classes).

    ``normalize=True`` divides each row by its total, so a cell is the fraction of that true
    class given that prediction and the diagonal shows each class's recall (a class with no
    samples keeps a row of zeros). Returns ``(fig, ax)``.
    """
    counts = _host(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square (C, C) matrix, got shape "
                         f"{counts.shape}")
    num_classes = counts.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    elif len(class_names) != num_classes:
        raise ValueError(f"plot_confusion_matrix: {len(class_names)} class names for a "
                         f"{num_classes}×{num_classes} matrix")
    values = counts.astype("float64")
    if normalize:
        totals = values.sum(1, keepdims=True)
        values = values / numpy.where(totals == 0, 1, totals)
    top = 1.0 if normalize else max(float(values.max()), 1.0)
    size = max(4.0, 0.45 * num_classes + 2.5)
    fig, ax = _figure_and_axes(ax, size + 0.8, size)
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=top)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    names = [str(name) for name in class_names]
    long_names = max(len(name) for name in names) > 2
    ax.set_xticks(range(num_classes), names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(range(num_classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion matrix" + (" (each row sums to 1)" if normalize else ""))
    if num_classes <= 30:
        fontsize = 9 if num_classes <= 12 else 6
        for (i, j), value in numpy.ndenumerate(values):
            text = f"{value:.2f}" if normalize else f"{int(counts[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if value > top / 2 else "black")
    return _finish(fig, path), ax


# -- grids of images ---------------------------------------------------------------------------
def _tiles(images, op):
    """Images as (N, H, W) grayscale or (N, H, W, 3) colour float arrays."""
    array = _host(images).astype("float32")
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4:
        if array.shape[1] in (1, 3):         # (N, C, H, W), PyTorch's layout
            array = array[:, 0] if array.shape[1] == 1 else array.transpose(0, 2, 3, 1)
        elif array.shape[3] in (1, 3):       # (N, H, W, C)
            array = array[..., 0] if array.shape[3] == 1 else array
        else:
            raise ValueError(f"{op}: expected images (N, 1 or 3, H, W), (N, H, W, 1 or 3) or "
                             f"(N, H, W), got shape {array.shape}")
    elif array.ndim != 3:
        raise ValueError(f"{op}: expected images (N, C, H, W) or (N, H, W), got shape "
                         f"{array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{op}: no images to show")
    return array


def _rescale(tiles, constant=0.0):
    """Each tile stretched to [0, 1] by its own min and max (a constant tile → ``constant``)."""
    axes = tuple(range(1, tiles.ndim))
    low = tiles.min(axis=axes, keepdims=True)
    span = tiles.max(axis=axes, keepdims=True) - low
    return numpy.where(span > 0, (tiles - low) / numpy.where(span > 0, span, 1), constant)


def _mosaic(tiles, ncols, band, gap):
    """The tiles laid out in rows of ``ncols`` on a white canvas, with ``gap`` pixels between
    them and a ``band`` of pixels above each (room for a label). Returns (canvas, cell height,
    cell width)."""
    n, h, w = tiles.shape[:3]
    nrows = math.ceil(n / ncols)
    colour = ((0, 0),) * (tiles.ndim - 3)
    padded = numpy.pad(tiles, ((0, nrows * ncols - n), (band, gap), (0, gap)) + colour,
                       constant_values=1.0)
    cell_h, cell_w = h + band + gap, w + gap
    canvas = padded.reshape((nrows, ncols, cell_h, cell_w) + tiles.shape[3:])
    canvas = canvas.swapaxes(1, 2).reshape((nrows * cell_h, ncols * cell_w) + tiles.shape[3:])
    return canvas, cell_h, cell_w


def _show(ax, canvas):
    gray = canvas.ndim == 2
    ax.imshow(canvas, cmap="gray" if gray else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()


def _classes(values, n, op, name):
    """Class indices (N,) from indices or from scores (N, C) (their argmax)."""
    if values is None:
        return None
    array = _host(values)
    if array.ndim == 2:
        array = array.argmax(1)
    if array.shape != (n,):
        raise ValueError(f"{op}: {name} must hold one class per image ({n}), got shape "
                         f"{array.shape}")
    return array.astype("int64")


def plot_image_grid(images, predicted=None, true=None, class_names=None, ncols=8, path=None,
                    normalize=None):
    """Images in a grid, each labelled with its predicted and/or true class; a wrong
    prediction gets a red label and a red frame.

    ``images``: (N, C, H, W) with C = 1 or 3, (N, H, W, C) or (N, H, W). ``predicted`` and
    ``true``: class indices (N,), or scores (N, num_classes) whose argmax is taken.
    ``normalize``: None shows images within [0, 1] as they are and stretches others (e.g.
    after a Normalize transform) each to its own min..max; True always stretches; False
    clips to [0, 1]. Returns ``(fig, ax)``, all images drawn in the one Axes.
    """
    op = "plot_image_grid"
    tiles = _tiles(images, op)
    n = tiles.shape[0]
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"{op}: ncols must be a positive integer, got {ncols!r}")
    predicted, true = _classes(predicted, n, op, "predicted"), _classes(true, n, op, "true")
    if normalize or (normalize is None and (tiles.min() < 0 or tiles.max() > 1)):
        tiles = _rescale(tiles)
    tiles = numpy.clip(tiles, 0, 1)
    ncols = min(ncols, n)
    h, w = tiles.shape[1:3]
    lines = (predicted is not None) + (true is not None)
    band = math.ceil(0.2 * h * lines) + (2 if lines else 0)  # room for 7-point labels
    gap = max(1, w // 14)
    canvas, cell_h, cell_w = _mosaic(tiles, ncols, band, gap)

    inches = 1.0 / cell_w  # each cell about an inch wide
    fig = _figure(canvas.shape[1] * inches + 0.2, canvas.shape[0] * inches + 0.4)
    ax = fig.add_subplot()
    _show(ax, canvas)

    def name(index):
        return str(class_names[index]) if class_names is not None else str(index)

    if lines:
        from matplotlib.patches import Rectangle
        for i in range(n):
            row, col = divmod(i, ncols)
            parts = ([f"pred: {name(predicted[i])}"] if predicted is not None else []) + \
                    ([f"true: {name(true[i])}"] if true is not None else [])
            wrong = predicted is not None and true is not None and predicted[i] != true[i]
            colour = "red" if wrong else "black"
            top = row * cell_h + band
            ax.text(col * cell_w + w / 2, top - 0.5, "\n".join(parts), ha="center",
                    va="bottom", fontsize=7, color=colour, linespacing=1.1)
            if wrong:
                ax.add_patch(Rectangle((col * cell_w - 0.5, top - 0.5), w, h, fill=False,
                                       edgecolor="red", linewidth=2))
    if predicted is not None and true is not None:
        errors = int((predicted != true).sum())
        ax.set_title(f"{errors} of {n} wrong (in red)", fontsize=9)
    return _finish(fig, path), ax


def plot_filters(weight, path=None, ncols=8):
    """A convolution's filters, ``weight`` (out_channels, in_channels, kh, kw), as a grid of
    small images, each stretched to [0, 1] by its own min and max (so the pattern shows, not
    the scale). With 3 input channels each filter is an RGB image, with 1 a grayscale one;
    with another number the filter's mean over its input channels is shown (pass
    ``weight[:, c:c + 1]`` to see channel c). Meant for a first layer, whose filters act on
    pixels. Returns ``(fig, ax)``.
    """
    op = "plot_filters"
    array = _host(weight).astype("float32")
    if array.ndim != 4:
        raise ValueError(f"{op}: expected a convolution weight (out_channels, in_channels, kh, "
                         f"kw), got shape {array.shape}")
    out_channels, in_channels, kh, kw = array.shape
    if out_channels == 0:
        raise ValueError(f"{op}: the weight has no filters (shape {array.shape})")
    if in_channels == 3:
        tiles = array.transpose(0, 2, 3, 1)
    elif in_channels == 1:
        tiles = array[:, 0]
    else:
        tiles = array.mean(1)
    tiles = _rescale(tiles, constant=0.5)
    ncols = min(ncols, out_channels)
    canvas, cell_h, cell_w = _mosaic(tiles, ncols, band=0, gap=1)
    inches = 0.7 / cell_w
    fig = _figure(canvas.shape[1] * inches + 0.2, canvas.shape[0] * inches + 0.5)
    ax = fig.add_subplot()
    _show(ax, canvas)
    ax.set_title(f"{out_channels} filters, {kh}×{kw}"
                 + ("" if in_channels in (1, 3) else f" (mean over {in_channels} inputs)"),
                 fontsize=9)
    return _finish(fig, path), ax


__all__ = ["plot_confusion_matrix", "plot_filters", "plot_history", "plot_image_grid",
           "plot_lr_schedule"]
