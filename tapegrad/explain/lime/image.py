"""LIME for images: switch superpixels on and off.

The image is cut into superpixels (quickshift by default, as LIME). A sample keeps each
superpixel with probability ½ (sample 0 keeps them all) and paints the others with a
"hidden" colour: by default each superpixel's own mean colour, which removes its texture
but not its average. The interpretable row is the on/off vector;
its distance to the all-on vector is the cosine distance, with kernel width 0.25.

Layouts: a numpy image is (H, W, C) or (H, W) and ``classifier_fn`` receives numpy
batches (S, H, W, C) / (S, H, W), as LIME's; a tapegrad Tensor image is (C, H, W) or
(H, W) and ``classifier_fn`` (a tapegrad model) receives Tensors (S, C, H, W) / (S, H, W)
on its device with the image's dtype (a tapegrad model given a numpy image gets Tensors
in the numpy layout). Segmentation always sees the (H, W, C) image; its labels are
renumbered 0..K−1 in increasing order, and these numbers are the explanation's features.
"""
import numpy

from ...autograd.tensor import Tensor
from .. import segment
from . import base
from .explanation import Explanation

SEGMENTATIONS = {"quickshift": lambda image: segment.quickshift(image, kernel_size=4,
                                                               max_dist=200, ratio=0.2),
                 "slic": lambda image: segment.slic(image)}


class LimeImage:
    """``LimeImage(kernel_width=0.25).explain(image, classifier_fn, labels=None,
    top_labels=5, hide_color=None, num_samples=1000, segmentation="quickshift",
    num_features=100000, batch_size=100, seed=None, feature_selection="auto")``

    ``labels``: the output columns to explain; when None, the ``top_labels`` highest
    outputs for the image (LIME instead lets ``top_labels`` override ``labels``).
    ``hide_color``: None (each superpixel's mean colour), a number, or one value per
    channel. ``segmentation``: ``"quickshift"`` or ``"slic"`` (with their defaults), a
    function of the (H, W, C) numpy image returning an int label map (H, W), or such a
    label map itself. ``classifier_fn`` is called on ``batch_size`` images at a time (the
    reference uses 10; larger batches amortise per-call costs).
    """

    def __init__(self, kernel_width=0.25):
        self.kernel_width = float(kernel_width)

    def explain(self, image, classifier_fn, labels=None, top_labels=5, hide_color=None,
                num_samples=1000, segmentation="quickshift", num_features=100000,
                batch_size=100, seed=None, feature_selection="auto"):
        op = "LimeImage.explain"
        pixels, channels_first = _host_image(op, image)          # (H, W, C) or (H, W)
        num_samples = base.check_count(op, "num_samples", num_samples, minimum=2)
        num_features = base.check_count(op, "num_features", num_features)
        segments = _segments(op, segmentation, pixels)
        ids, segments = numpy.unique(segments, return_inverse=True)  # ids → 0..K−1
        segments = segments.reshape(pixels.shape[:2])
        n_segments = ids.shape[0]
        hidden = _hidden_image(op, pixels, segments, n_segments, hide_color)
        rng = base.generator(seed)
        data = rng.integers(0, 2, (num_samples, n_segments))
        data[0] = 1
        batch_size = base.check_count(op, "batch_size", batch_size)
        predict = base._as_numpy_function(classifier_fn, like=image, batch_size=batch_size,
                                          op=op)

        def batch(start, stop):
            off = data[start:stop][:, segments] == 0                 # (b, H, W)
            if pixels.ndim == 3:
                off = off[..., None]
            images = numpy.where(off, hidden, pixels)
            if channels_first:
                images = images.transpose(0, 3, 1, 2)
            return images

        predictions = base.predict_in_batches(predict, num_samples, batch, batch_size, op)
        if predictions.ndim != 2:
            raise ValueError(f"{op}: classifier_fn must return (images, classes) scores, got "
                             f"shape {predictions.shape}")
        chosen = base.labels_to_explain(op, predictions, labels, top_labels)
        weights = base.kernel(base.cosine_distance_to_first(data.astype(numpy.float64)),
                              self.kernel_width)
        explanation = Explanation("classification", prediction=predictions[0],
                                  image=pixels, segments=segments)
        table = data.astype(numpy.float64)
        for label in chosen:
            explanation.add(label, base.explain_label(table, predictions[:, label], weights,
                                                      num_features, feature_selection))
        return explanation


def _host_image(op, image):
    """The image as a host array in (H, W, C) or (H, W) layout, and whether the model
    expects channels first (a Tensor image)."""
    if isinstance(image, Tensor):
        array = base.backend.to_numpy(image.detach().array)
        if array.ndim == 3:
            return numpy.ascontiguousarray(array.transpose(1, 2, 0)), True
        if array.ndim == 2:
            return array, False
        raise ValueError(f"{op}: a tensor image must be (C, H, W) or (H, W), got shape "
                         f"{tuple(array.shape)}")
    array = numpy.asarray(image)
    if array.ndim not in (2, 3) or array.dtype.kind not in "biuf":
        raise ValueError(f"{op}: an image must be a numeric array (H, W, C) or (H, W), got "
                         f"shape {array.shape} and dtype {array.dtype}")
    return array, False


def _segments(op, segmentation, pixels):
    if isinstance(segmentation, str):
        if segmentation not in SEGMENTATIONS:
            raise ValueError(f"{op}: segmentation must be one of {tuple(SEGMENTATIONS)}, a "
                             f"function or a label map, got {segmentation!r}")
        labels = SEGMENTATIONS[segmentation](pixels)
    elif callable(segmentation):
        labels = segmentation(pixels)
    else:
        labels = segmentation
    if isinstance(labels, Tensor):
        labels = base.backend.to_numpy(labels.array)
    labels = numpy.asarray(labels)
    if labels.shape != pixels.shape[:2] or labels.dtype.kind not in "iu":
        raise ValueError(f"{op}: the segmentation must be an int label map of shape "
                         f"{pixels.shape[:2]}, got shape {labels.shape} and dtype "
                         f"{labels.dtype}")
    return labels


def _hidden_image(op, pixels, segments, n_segments, hide_color):
    """What a hidden superpixel looks like: its mean colour, or ``hide_color``."""
    if hide_color is None:
        flat = pixels.reshape(segments.size, -1).astype(numpy.float64)
        counts = numpy.bincount(segments.ravel(), minlength=n_segments)
        means = numpy.stack([numpy.bincount(segments.ravel(), weights=flat[:, c],
                                            minlength=n_segments) / counts
                             for c in range(flat.shape[1])], axis=1)
        hidden = means[segments].reshape(pixels.shape)
    else:
        try:
            hidden = numpy.broadcast_to(numpy.asarray(hide_color, dtype=numpy.float64),
                                        pixels.shape)
        except ValueError:
            raise ValueError(f"{op}: hide_color of shape {numpy.shape(hide_color)} does not "
                             f"fit an image of shape {pixels.shape}") from None
    return hidden.astype(pixels.dtype)
