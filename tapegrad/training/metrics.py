"""Classification metrics: accuracy, top-k accuracy, the confusion matrix, precision/recall/F1.

Each function takes tensors (on any device; numpy arrays and lists are accepted too) and
works with array operations on their device (``xp = tensor.device.xp``), never a Python loop
over samples. Nothing here is recorded on the tape: metrics are measurements, not part of
the model.

Shapes follow ``nn.CrossEntropyLoss``: ``output`` holds one score per class in dim 1,
``(N, C)`` (or ``(N, C, d1, …)`` for per-pixel classes), as logits or probabilities (argmax
is the same for both); ``target`` holds class indices ``(N,)`` (or ``(N, d1, …)``), or class
probabilities / one-hot rows of ``output``'s shape.

``fit`` and ``evaluate`` take ``metrics=`` as a dict ``{name: function(output, target)}``
(or a list of functions or of the names in ``METRICS``); each function returns a number for
one batch, and the epoch's value is the mean over batches weighted by batch size. That is
exact for accuracy and top-k accuracy (means over samples); for precision, recall and F1,
which do not split over batches, collect the outputs with ``predict`` and call
``precision_recall_f1`` once.
"""
import functools
import numbers

from .. import creation
from ..autograd.tensor import Tensor, wrap
from ..nn.functional.checks import shape_of


def _tensor(value, op, name):
    if isinstance(value, Tensor):
        return value
    try:
        return creation.as_tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{op}: {name} must be a tensor (or an array), got "
                        f"{type(value).__name__}: {error}") from None


def _pair(op, output, target):
    output, target = _tensor(output, op, "output"), _tensor(target, op, "target")
    if output.device != target.device:
        raise RuntimeError(f"{op}: output is on {output.device} but target is on "
                           f"{target.device}; move one with .to(...)")
    return output, target



def _is_multiclass(output):
    """Scores for C > 1 classes in dim 1, as CrossEntropyLoss reads them."""
    return output.ndim >= 2 and output.shape[1] > 1


def _class_indices(op, output, target):
    """(predicted, true) class-index arrays of equal shape for multi-class scores.

    The predicted class is the argmax over dim 1; ties go to the lowest class index (the
    first maximum), as ``argmax`` does in numpy and PyTorch.
    """
    scores = output.array
    if shape_of(target) == shape_of(output):  # class probabilities or one-hot rows
        return scores.argmax(1), target.array.argmax(1)
    expected = shape_of(output)[:1] + shape_of(output)[2:]
    if shape_of(target) != expected:
        raise ValueError(f"{op}: output of shape {shape_of(output)} has scores for "
                         f"{output.shape[1]} classes in dim 1, so target must hold class "
                         f"indices of shape {expected} (or probabilities of shape "
                         f"{shape_of(output)}), got shape {shape_of(target)}")
    if target.dtype.is_floating_point:
        raise TypeError(f"{op}: target of shape {shape_of(target)} must hold integer class "
                        f"indices, got {target.dtype}")
    return scores.argmax(1), target.array


def _check_samples(op, array):
    if array.size == 0:
        raise ValueError(f"{op}: there are no samples (the output has 0 elements), so the "
                         f"metric is undefined")


def accuracy(output, target, threshold=0.5):
    """The fraction of samples whose predicted class is the target class (a Python float).

    - Multi-class, ``output`` of shape (N, C) with C > 1 (logits or probabilities): the
      prediction is ``output.argmax(1)``; ties go to the lowest class index. ``target``
      holds class indices (N,), or probabilities / one-hot rows (N, C) whose argmax is used.
    - Binary, ``output`` of shape (N,) or (N, 1): the prediction is ``output > threshold``
      and the target is true where it is >= 0.5 (labels 0/1, bools, or soft labels). The
      default threshold 0.5 is for probabilities (after a sigmoid); for logits (what
      ``BCEWithLogitsLoss`` takes) pass ``threshold=0.0``, since sigmoid(z) > 0.5 ⇔ z > 0,
      e.g. ``metrics={"accuracy": functools.partial(accuracy, threshold=0.0)}``.
    """
    output, target = _pair("accuracy", output, target)
    _check_samples("accuracy", output.array)
    if _is_multiclass(output):
        predicted, true = _class_indices("accuracy", output, target)
    else:
        scores, labels = output.array, target.array
        if output.ndim == 2 and target.ndim == 1:  # (N, 1) scores, (N,) labels
            scores = scores[:, 0]
        if scores.shape != labels.shape:
            raise ValueError(f"accuracy: binary output of shape {shape_of(output)} needs a target "
                             f"of shape {scores.shape}, got {shape_of(target)}")
        predicted, true = scores > threshold, labels >= 0.5
    return float((predicted == true).mean())


def top_k_accuracy(output, target, k=5):
    """The fraction of samples whose target class is among the k highest scores (a float).

    ``output`` (N, C) scores (or (N, C, d1, …)), ``target`` (N,) class indices.

    Ties: classes are ranked by score, and equal scores by class index, lowest first, the
    order of a stable descending sort. So a target tied with other classes at the k-th place
    counts as a hit only if enough of the tied classes have higher indices, and with k=1 this
    is exactly ``accuracy`` (whose argmax takes the first maximum). Scores should be finite.
    """
    output, target = _pair("top_k_accuracy", output, target)
    if not _is_multiclass(output):
        raise ValueError(f"top_k_accuracy: output must hold scores for C > 1 classes in dim 1, "
                         f"got shape {shape_of(output)}")
    num_classes = output.shape[1]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= num_classes:
        raise ValueError(f"top_k_accuracy: k must be an integer between 1 and the number of "
                         f"classes ({num_classes}), got k={k!r}")
    _check_samples("top_k_accuracy", output.array)
    _, true = _class_indices("top_k_accuracy", output, target)
    _check_range("top_k_accuracy", "target", true, num_classes)
    xp = output.device.xp
    scores = output.array
    true = xp.expand_dims(true, 1)                                # (N, 1, …)
    target_score = xp.take_along_axis(scores, true, axis=1)       # (N, 1, …)
    classes = xp.arange(num_classes).reshape((1, num_classes) + (1,) * (scores.ndim - 2))
    # the target's place in the ranking: classes scoring higher, plus equal ones listed first
    rank = (scores > target_score).sum(1) + ((scores == target_score) & (classes < true)).sum(1)
    return float((rank < k).mean())


def _check_range(op, name, labels, num_classes):
    """Raise ValueError naming a class index outside [0, num_classes)."""
    if labels.size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(f"{op}: {name} holds the class index {bad}, outside [0, {num_classes}) "
                         f"for num_classes={num_classes}")


def _labels(op, name, value, num_classes):
    """Class indices as an int64 array; (N, C) scores become their argmax over dim 1."""
    if value.dtype.is_floating_point:
        if value.ndim >= 2 and value.shape[1] == num_classes:
            return value.array.argmax(1)
        raise TypeError(f"{op}: {name} must hold integer class indices (or scores of shape "
                        f"(N, {num_classes}, …)), got {value.dtype} of shape {shape_of(value)}; "
                        f"for scores use output.argmax(1)")
    array = value.array.astype("int64", copy=False)
    _check_range(op, name, array, num_classes)
    return array


def confusion_matrix(predictions, targets, num_classes):
    """The (C, C) int64 tensor whose entry [i, j] counts samples of true class i predicted j.

    Rows are true classes and columns predicted ones (sklearn's layout), so row i sums to the
    number of samples of class i. ``predictions``: class indices of ``targets``' shape, or
    scores (N, C, …) whose argmax over dim 1 is taken.
    """
    op = "confusion_matrix"
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError(f"{op}: num_classes must be a positive integer, got {num_classes!r}")
    predictions, targets = _pair(op, predictions, targets)
    true = _labels(op, "targets", targets, num_classes)
    predicted = _labels(op, "predictions", predictions, num_classes)
    if predicted.shape != true.shape:
        raise ValueError(f"{op}: predictions of shape {shape_of(predictions)} do not match "
                         f"targets of shape {shape_of(targets)}")
    xp = targets.device.xp
    # each (true, predicted) pair becomes one number, true·C + predicted; counting them all
    # at once with bincount fills the matrix in row-major order
    codes = true.reshape(-1) * num_classes + predicted.reshape(-1)
    counts = xp.bincount(codes, minlength=num_classes * num_classes)
    return wrap(counts.reshape(num_classes, num_classes).astype("int64", copy=False),
                targets.device)


def _ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (the numerator is 0 there too)."""
    return numerator / (denominator + (denominator == 0))


def precision_recall_f1(predictions, targets, num_classes):
    """Precision, recall and F1 of each class, and their macro averages.

    Returns a dict: ``"precision"``, ``"recall"``, ``"f1"`` (float64 tensors (C,)),
    ``"support"`` (int64 tensor (C,), the number of samples of each true class) and
    ``"macro_precision"``, ``"macro_recall"``, ``"macro_f1"`` (Python floats, plain means
    over all C classes, including classes that never occur).

    For class c, with tp the samples of class c predicted c, fp the others predicted c and
    fn the samples of class c predicted otherwise: precision = tp / (tp + fp), recall =
    tp / (tp + fn), F1 = 2·tp / (2·tp + fp + fn) (the harmonic mean of the two). A ratio
    whose denominator is 0 (a class never predicted, or never present) is 0, as sklearn's
    ``zero_division=0``; the macro F1 is the mean of the per-class F1 scores, as sklearn's
    ``average="macro"``.
    """
    matrix = confusion_matrix(predictions, targets, num_classes)
    xp = matrix.device.xp
    counts = matrix.array.astype("float64")
    tp = xp.diagonal(counts)
    actual = counts.sum(1)     # tp + fn: samples of each class
    predicted = counts.sum(0)  # tp + fp: predictions of each class
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, actual)
    f1 = _ratio(2 * tp, actual + predicted)
    device = matrix.device
    return {"precision": wrap(precision, device), "recall": wrap(recall, device),
            "f1": wrap(f1, device),
            "support": wrap(matrix.array.sum(1).astype("int64", copy=False), device),
            "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
            "macro_f1": float(f1.mean())}


# -- metrics inside fit and evaluate -----------------------------------------------------------
METRICS = {"accuracy": accuracy, "top_k_accuracy": top_k_accuracy}
"""The metric names that ``fit(metrics=[...])`` accepts as strings (top_k_accuracy: k=5)."""

RESERVED = ("loss", "lr", "time")


def _name_of(fn):
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__name__", type(fn).__name__)


def resolve_metrics(metrics, op="fit"):
    """``metrics`` (None, a dict name → function, or a list of functions and names) as a
    dict name → function(output, target) → number."""
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        items = list(metrics.items())
    elif isinstance(metrics, (list, tuple)):
        items = []
        for metric in metrics:
            if isinstance(metric, str):
                if metric not in METRICS:
                    raise ValueError(f"{op}: unknown metric {metric!r}; the known names are "
                                     f"{sorted(METRICS)}, or pass a function(output, target)")
                items.append((metric, METRICS[metric]))
            else:
                items.append((_name_of(metric), metric))
    elif callable(metrics):
        items = [(_name_of(metrics), metrics)]
    else:
        raise TypeError(f"{op}: metrics must be a dict {{name: function(output, target)}} or a "
                        f"list of functions or names, got {type(metrics).__name__}")
    resolved = {}
    for name, fn in items:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{op}: metric names must be non-empty strings, got {name!r}")
        if name in RESERVED or name.startswith("val_"):
            raise ValueError(f"{op}: the metric name {name!r} is taken ({', '.join(RESERVED)} "
                             f"and names starting with 'val_' are the history's own); rename it")
        if not callable(fn):
            raise TypeError(f"{op}: metric {name!r} must be a function(output, target), got "
                            f"{type(fn).__name__}")
        if name in resolved:
            raise ValueError(f"{op}: two metrics are named {name!r}; pass a dict to name them")
        resolved[name] = fn
    return resolved


class RunningMeans:
    """Means over the batches seen so far, each batch weighted by its number of samples.

    ``add("loss", 0.7, 64)`` per batch and name; ``means()`` gives ``{"loss": …}``. With
    mean-reduced losses and per-batch accuracies this gives the exact mean over samples,
    also when the last batch is smaller.
    """

    def __init__(self):
        self.totals = {}
        self.counts = {}

    def add(self, name, value, n):
        self.totals[name] = self.totals.get(name, 0.0) + float(value) * n
        self.counts[name] = self.counts.get(name, 0) + n

    def means(self):
        return {name: self.totals[name] / self.counts[name] for name in self.totals
                if self.counts[name]}


__all__ = ["METRICS", "RunningMeans", "accuracy", "confusion_matrix", "precision_recall_f1",
           "resolve_metrics", "top_k_accuracy"]
