"""LIME for tables: perturb a row by sampling from the training data's statistics.

Two ways to describe a sample, as in LIME's reference implementation:

* ``discretize_continuous=True`` (the default): each continuous feature is cut into
  quartiles (or deciles) of the training data. A sample draws each feature's *bin* with
  the training frequencies, then a value inside the bin from a normal with that bin's
  training mean and std, truncated to the bin. The interpretable row is binary: 1 where
  the sample falls in the same bin as the instance ("age ≤ 30" stays true). The weights
  then read "being in the instance's bin adds w to the output".
* ``discretize_continuous=False``: each continuous feature is drawn from a normal with the
  training mean and std (around the instance itself with ``sample_around_instance``), and
  the interpretable row is the standardised value (x − mean) / std: the weights are
  effects per training standard deviation.

Categorical features (``categorical_features``) are drawn with their training
frequencies and described as 1 = "same category as the instance". Distances are
euclidean on the interpretable rows, with the kernel width 0.75·sqrt(number of features).
"""
import numpy

from ...autograd.tensor import Tensor
from . import base
from .explanation import Explanation

DISCRETIZERS = {"quartile": (25, 50, 75), "decile": (10, 20, 30, 40, 50, 60, 70, 80, 90)}


def _host_table(op, data, name):
    if isinstance(data, Tensor):
        data = base.backend.to_numpy(data.detach().array)
    try:
        table = numpy.asarray(data, dtype=numpy.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be numeric (an array or a tensor)") from None
    return table


class Discretizer:
    """Percentile bins of the training data for some features (LIME's Quartile/Decile
    discretizers): ``discretize`` maps values to bin numbers, ``undiscretize`` draws
    values back inside the bins, and ``names`` describes each bin ("x <= 0.50")."""

    def __init__(self, training_data, features, feature_names, percentiles):
        self.features = list(features)
        self.borders, self.names = {}, {}
        self.means, self.stds, self.mins, self.maxs = {}, {}, {}, {}
        for f in self.features:
            column = training_data[:, f]
            borders = numpy.unique(numpy.percentile(column, percentiles))
            self.borders[f] = borders
            name = feature_names[f]
            names = [f"{name} <= {borders[0]:.2f}"]
            names += [f"{lo:.2f} < {name} <= {hi:.2f}" for lo, hi in zip(borders[:-1], borders[1:])]
            names.append(f"{name} > {borders[-1]:.2f}")
            self.names[f] = names
            bins = numpy.searchsorted(borders, column)
            counts = numpy.bincount(bins, minlength=len(borders) + 1)
            sums = numpy.bincount(bins, weights=column, minlength=len(borders) + 1)
            squares = numpy.bincount(bins, weights=column ** 2, minlength=len(borders) + 1)
            with numpy.errstate(divide="ignore", invalid="ignore"):
                means = numpy.where(counts > 0, sums / counts, 0.0)
                variances = numpy.where(counts > 0, squares / counts - means ** 2, 0.0)
            self.means[f] = means
            self.stds[f] = numpy.sqrt(numpy.maximum(variances, 0.0)) + 1e-11
            self.mins[f] = numpy.concatenate([[column.min()], borders])
            self.maxs[f] = numpy.concatenate([borders, [column.max()]])

    def discretize(self, data):
        """Bin numbers in place of the discretized features' values (1-D or 2-D data)."""
        out = numpy.array(data, dtype=numpy.float64, copy=True)
        for f in self.features:
            out[..., f] = numpy.searchsorted(self.borders[f], out[..., f])
        return out

    def undiscretize(self, data, rng):
        """Values drawn inside the bins named by ``data`` (2-D): a normal with the bin's
        training mean and std, truncated to the bin's range [min, max]."""
        out = numpy.array(data, dtype=numpy.float64, copy=True)
        for f in self.features:
            bins = out[:, f].astype(numpy.int64)
            out[:, f] = truncated_normal(rng, self.means[f][bins], self.stds[f][bins],
                                         self.mins[f][bins], self.maxs[f][bins])
        return out


def truncated_normal(rng, mean, std, low, high, max_rounds=100):
    """One draw per entry from N(mean, std²) restricted to [low, high], by rejection.

    Each bin's mean lies inside its range and its std is at most the range's width, so
    a normal draw lands inside with probability above 1/3 and a few rounds suffice; an
    empty range (low = high) gives low. (LIME's reference draws with scipy's truncnorm.)
    """
    out = numpy.where(low >= high, low, 0.0)
    pending = numpy.nonzero(low < high)[0]
    for _ in range(max_rounds):
        if pending.size == 0:
            break
        draw = rng.normal(mean[pending], std[pending])
        inside = (draw >= low[pending]) & (draw <= high[pending])
        out[pending[inside]] = draw[inside]
        pending = pending[~inside]
    out[pending] = numpy.clip(mean[pending], low[pending], high[pending])
    return out


class LimeTabular:
    """``LimeTabular(training_data, feature_names=None, categorical_features=None,
    discretize_continuous=True, discretizer="quartile", kernel_width=None,
    mode="classification", sample_around_instance=False, categorical_names=None,
    class_names=None).explain(row, predict_fn, labels=(1,), num_features=10,
    num_samples=5000, seed=None, feature_selection="auto", top_labels=None,
    batch_size=1000)``

    ``training_data`` (N, M) gives the statistics samples are drawn from;
    ``kernel_width`` defaults to 0.75·sqrt(M); ``discretizer`` is ``"quartile"`` or
    ``"decile"``; ``categorical_names`` maps a categorical column to the names of its
    integer values. In ``"classification"`` mode ``predict_fn`` returns (S, classes)
    scores (probabilities) and ``labels`` are columns; in ``"regression"`` mode it
    returns (S,) values and the explanation has the single label 0.
    """

    def __init__(self, training_data, feature_names=None, categorical_features=None,
                 discretize_continuous=True, discretizer="quartile", kernel_width=None,
                 mode="classification", sample_around_instance=False, categorical_names=None,
                 class_names=None):
        op = "LimeTabular"
        training = _host_table(op, training_data, "training_data")
        if training.ndim != 2 or training.shape[0] == 0 or training.shape[1] == 0:
            raise ValueError(f"{op}: training_data must be a non-empty 2-D table (rows, "
                             f"features), got shape {training.shape}")
        n_features = training.shape[1]
        if mode not in ("classification", "regression"):
            raise ValueError(f"{op}: mode must be 'classification' or 'regression', got "
                             f"{mode!r}")
        if discretize_continuous and discretizer not in DISCRETIZERS:
            raise ValueError(f"{op}: discretizer must be one of {tuple(DISCRETIZERS)}, got "
                             f"{discretizer!r}")
        if feature_names is None:
            feature_names = [str(j) for j in range(n_features)]
        feature_names = [str(name) for name in feature_names]
        if len(feature_names) != n_features:
            raise ValueError(f"{op}: {len(feature_names)} feature_names for "
                             f"{n_features} features")
        categorical = sorted({int(j) for j in (categorical_features or ())})
        if any(not 0 <= j < n_features for j in categorical):
            raise IndexError(f"{op}: categorical_features {categorical} out of range for "
                             f"{n_features} features")
        self.mode = mode
        self.feature_names = feature_names
        self.categorical_names = dict(categorical_names or {})
        self.class_names = class_names
        self.sample_around_instance = sample_around_instance
        self.kernel_width = (0.75 * numpy.sqrt(n_features) if kernel_width is None
                             else float(kernel_width))
        self.discretizer = None
        self.user_categorical = categorical
        self.categorical_features = categorical
        described = training
        if discretize_continuous:
            continuous = [j for j in range(n_features) if j not in categorical]
            self.discretizer = Discretizer(training, continuous, feature_names,
                                           DISCRETIZERS[discretizer])
            self.categorical_features = list(range(n_features))
            described = self.discretizer.discretize(training)
        # Standardisation of the continuous features (population std; a constant
        # feature keeps scale 1); categorical (and discretized) ones stay as they are.
        self.mean = training.mean(axis=0)
        self.scale = training.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        self.feature_values, self.feature_frequencies = {}, {}
        for j in self.categorical_features:
            values, counts = numpy.unique(described[:, j], return_counts=True)
            self.feature_values[j] = values
            self.feature_frequencies[j] = counts / counts.sum()
            self.mean[j], self.scale[j] = 0.0, 1.0
        self.n_features = n_features

    # -- sampling --------------------------------------------------------------------------
    def sample(self, row, num_samples, rng):
        """``(data, inverse)``: the interpretable rows and the samples in the original
        feature space, both (num_samples, M), row 0 the instance itself."""
        n = self.n_features
        if self.discretizer is None:
            data = rng.normal(0.0, 1.0, (num_samples, n)) * self.scale
            data += row if self.sample_around_instance else self.mean
            first = row
        else:
            data = numpy.zeros((num_samples, n))
            first = self.discretizer.discretize(row)
        data[0] = row
        inverse = data.copy()
        for j in self.categorical_features:
            drawn = rng.choice(self.feature_values[j], size=num_samples, replace=True,
                               p=self.feature_frequencies[j])
            same = (drawn == first[j]).astype(numpy.float64)
            same[0] = 1.0
            drawn[0] = row[j]
            data[:, j] = same
            inverse[:, j] = drawn
        if self.discretizer is not None:
            inverse[1:] = self.discretizer.undiscretize(inverse[1:], rng)
        inverse[0] = row
        return data, inverse

    def _names(self, row):
        names = []
        for j, name in enumerate(self.feature_names):
            if self.discretizer is not None and j in self.discretizer.borders:
                bin_ = int(numpy.searchsorted(self.discretizer.borders[j], row[j]))
                names.append(self.discretizer.names[j][bin_])
            elif j in self.user_categorical:
                value = row[j]
                value = int(value) if float(value).is_integer() else value
                shown = self.categorical_names.get(j, {})
                try:
                    shown = shown[value]
                except (KeyError, IndexError, TypeError):
                    shown = value
                names.append(f"{name}={shown}")
            else:
                names.append(name)
        return names

    # -- explaining -------------------------------------------------------------------------
    def explain(self, row, predict_fn, labels=(1,), num_features=10, num_samples=5000,
                seed=None, feature_selection="auto", top_labels=None, batch_size=1000):
        """Explain ``predict_fn`` at ``row`` (M,): an ``Explanation`` whose features are
        the columns (named by the bin or category of ``row``)."""
        op = "LimeTabular.explain"
        row = _host_table(op, row, "row").reshape(-1)
        if row.shape[0] != self.n_features:
            raise ValueError(f"{op}: row has {row.shape[0]} features, the training data "
                             f"has {self.n_features}")
        num_features = base.check_count(op, "num_features", num_features)
        num_samples = base.check_count(op, "num_samples", num_samples, minimum=2)
        batch_size = base.check_count(op, "batch_size", batch_size)
        predict = base._as_numpy_function(predict_fn, batch_size=batch_size, op=op)
        data, inverse = self.sample(row, num_samples, base.generator(seed))
        predictions = base.predict_in_batches(
            predict, num_samples, lambda start, stop: inverse[start:stop], batch_size, op)
        if self.mode == "classification":
            if predictions.ndim != 2:
                raise ValueError(f"{op}: in classification mode predict_fn must return "
                                 f"(samples, classes) scores, got shape "
                                 f"{predictions.shape}; use mode='regression' for one value")
            chosen = base.labels_to_explain(op, predictions, None if top_labels else labels,
                                            top_labels)
        else:
            if predictions.ndim == 2 and predictions.shape[1] == 1:
                predictions = predictions[:, 0]
            if predictions.ndim != 1:
                raise ValueError(f"{op}: in regression mode predict_fn must return one value "
                                 f"per sample, got shape {predictions.shape}")
            predictions = predictions[:, None]
            chosen = [0]
        scaled = (data - self.mean) / self.scale
        distances = numpy.sqrt(((scaled - scaled[0]) ** 2).sum(axis=1))
        weights = base.kernel(distances, self.kernel_width)
        explanation = Explanation(self.mode, feature_names=self._names(row),
                                  class_names=self.class_names, prediction=predictions[0])
        for label in chosen:
            explanation.add(label, base.explain_label(scaled, predictions[:, label], weights,
                                                      num_features, feature_selection))
        return explanation
