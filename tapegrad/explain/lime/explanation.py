"""The result of a LIME explainer: one local linear model per explained label."""
import numpy


class Explanation:
    """What LIME found for one instance.

    Per explained label (an output column; 0 for a regression):

    - ``weights[label]``: ``[(feature, weight), …]`` sorted by decreasing |weight|, where
      ``feature`` is the interpretable feature's id (tabular: the column, image: the
      superpixel, text: the word's index in ``feature_names``);
    - ``intercept[label]``, ``score[label]`` (weighted R² of the local fit) and
      ``local_pred[label]`` (the local model's value at the instance, to compare with
      ``prediction[label]``, the model's own output).

    ``labels`` lists the explained labels (the top labels first when ``top_labels`` was
    used); ``as_list(label)`` gives the weights with readable feature names, ``as_map()``
    all the weights by id. Image explanations also hold ``image`` (H, W[, C]) and
    ``segments`` (H, W), and ``image_and_mask`` shows the most important superpixels.
    """

    def __init__(self, mode="classification", feature_names=None, class_names=None,
                 prediction=None, image=None, segments=None):
        self.mode = mode
        self.feature_names = feature_names
        self.class_names = class_names
        self.prediction = prediction
        self.image = image
        self.segments = segments
        self.labels = []
        self.weights = {}
        self.intercept = {}
        self.score = {}
        self.local_pred = {}

    def add(self, label, fit):
        """Record the local fit ``(intercept, pairs, score, local_pred)`` of ``label``."""
        self.labels.append(label)
        self.intercept[label], self.weights[label], self.score[label], \
            self.local_pred[label] = fit

    def _label(self, label):
        if label is None:
            if not self.labels:
                raise KeyError("Explanation: no label was explained")
            return self.labels[0]
        if label not in self.weights:
            raise KeyError(f"Explanation: label {label!r} was not explained; the explained "
                           f"labels are {self.labels}")
        return label

    def feature_name(self, feature):
        if self.feature_names is None:
            return feature
        return self.feature_names[feature]

    def as_list(self, label=None):
        """``[(feature name, weight), …]`` of ``label`` (default: the first explained),
        by decreasing |weight|."""
        label = self._label(label)
        return [(self.feature_name(f), w) for f, w in self.weights[label]]

    def as_map(self):
        """``{label: [(feature id, weight), …]}`` for every explained label."""
        return {label: list(pairs) for label, pairs in self.weights.items()}

    def image_and_mask(self, label, positive_only=True, negative_only=False, hide_rest=False,
                       num_features=5, min_weight=0.0):
        """The image with its ``num_features`` most important superpixels for ``label``,
        and a mask (H, W) of them, as LIME's ``get_image_and_mask``.

        ``positive_only``: the superpixels with weight > ``min_weight`` (mask 1);
        ``negative_only``: those with weight < −``min_weight``; neither: the strongest of
        either sign with |weight| ≥ ``min_weight`` (mask +1 or −1; in a colour image they
        are tinted: the green channel raised for positive, the red for negative).
        ``hide_rest`` blacks out every other pixel. Returns ``(image, mask)`` as numpy
        arrays, the image in (H, W[, C]) layout.
        """
        if self.segments is None:
            raise ValueError("Explanation.image_and_mask: this is not an image explanation")
        label = self._label(label)
        if positive_only and negative_only:
            raise ValueError("Explanation.image_and_mask: positive_only and negative_only "
                             "cannot both be True")
        segments, image = self.segments, self.image
        pairs = self.weights[label]
        mask = numpy.zeros(segments.shape, dtype=numpy.int64)
        shown = numpy.zeros(image.shape, dtype=image.dtype) if hide_rest else image.copy()
        if positive_only or negative_only:
            if positive_only:
                chosen = [f for f, w in pairs if w > 0 and w > min_weight][:num_features]
            else:
                chosen = [f for f, w in pairs if w < 0 and abs(w) > min_weight][:num_features]
            for f in chosen:
                region = segments == f
                shown[region] = image[region]
                mask[region] = 1
            return shown, mask
        for f, w in pairs[:num_features]:
            if abs(w) < min_weight:
                continue
            region = segments == f
            mask[region] = -1 if w < 0 else 1
            shown[region] = image[region]
            if image.ndim == 3 and image.shape[2] >= 2:
                shown[region, 0 if w < 0 else 1] = image.max()
        return shown, mask

    def __repr__(self):
        lines = [f"Explanation({self.mode}, labels={self.labels})"]
        for label in self.labels:
            top = ", ".join(f"{self.feature_name(f)!s}: {w:+.4g}"
                            for f, w in self.weights[label][:5])
            lines.append(f"  label {label}: score {self.score[label]:.3f}, intercept "
                         f"{self.intercept[label]:.4g}, local_pred "
                         f"{self.local_pred[label]:.4g}; {top}")
        return "\n".join(lines)
