"""What every LIME explainer does once it has its samples (Ribeiro, Singh & Guestrin 2016).

LIME explains one prediction f(x) with a linear model that is faithful *near* x:

1. draw ``num_samples`` perturbations of x, each described by an interpretable row zᵢ
   (which words are kept, which superpixels are shown, which bins the features fall
   in…); row 0 is x itself;
2. ask the model for its outputs on the perturbed inputs, in batches;
3. weigh each sample by its proximity to x, πᵢ = sqrt(exp(−dᵢ² / w²)) (the reference's
   exponential kernel on a distance dᵢ, with a kernel width w);
4. keep at most K interpretable features (``select_features``) and fit the weighted
   ridge regression  g(z) = b + β·z  (α = 1) to the model's output for one label.

The explanation is β (one weight per kept feature), the intercept b, the weighted R² of
the fit (how linear the model is near x: trust the weights more when it is high), and
g's prediction for x itself (compare it with f(x)).

The sampling differs per data type (tabular.py, image.py, text.py); steps 3 and 4 are
here, together with the helpers that call the model in batches.
"""
import numpy

from ... import backend, random
from ...autograd.tensor import Tensor
from .._attribution import chunks, model_device
from .._callable import as_batched_function
from ..linear_models import Ridge, lars_path

FEATURE_SELECTIONS = ("auto", "forward_selection", "highest_weights", "lasso_path", "none")


def kernel(distances, kernel_width):
    """The proximity weight π(d) = sqrt(exp(−d² / w²)) of LIME's reference code (an
    exponential kernel whose *squared* weight is Gaussian in d)."""
    return numpy.sqrt(numpy.exp(-(distances ** 2) / kernel_width ** 2))


def generator(seed):
    """A numpy Generator: seeded with ``seed``, or tapegrad's default one (which
    ``tg.manual_seed`` makes reproducible) when ``seed`` is None."""
    if seed is None:
        return random.rng_for("cpu")
    return random.Generator().manual_seed(seed).for_device("cpu")


# -- feature selection --------------------------------------------------------------------
def select_features(data, labels, weights, num_features, method):
    """The columns of ``data`` the local model may use (an int array), by LIME's rules:

    - ``"none"``: all of them;
    - ``"forward_selection"``: greedily add the column that most improves the weighted R²
      of an (unregularised) weighted least-squares fit, K times;
    - ``"highest_weights"``: the K largest |βⱼ·zⱼ| of a weighted ridge (α = 0.01) on all
      columns, z the instance's row;
    - ``"lasso_path"``: the last point of the weighted lasso path (from no feature to the
      full fit) that has at most K non-zero coefficients;
    - ``"auto"``: forward selection when K ≤ 6, else highest weights.
    """
    n_columns = data.shape[1]
    if method not in FEATURE_SELECTIONS:
        raise ValueError(f"LIME: feature_selection must be one of {FEATURE_SELECTIONS}, "
                         f"got {method!r}")
    if method == "auto":
        method = "forward_selection" if num_features <= 6 else "highest_weights"
    if method == "none":
        return numpy.arange(n_columns)
    if method == "forward_selection":
        return _forward_selection(data, labels, weights, num_features)
    if method == "highest_weights":
        coef = Ridge(alpha=0.01).fit(data, labels, weights).coef_
        contribution = abs(coef * data[0])
        order = sorted(range(n_columns), key=lambda j: contribution[j], reverse=True)
        return numpy.array(order[:num_features], dtype=numpy.int64)
    # lasso_path: centre on the weighted means and scale rows by sqrt(w), so the plain
    # path of the transformed problem is the weighted lasso path.
    root = numpy.sqrt(weights)[:, None]
    centred = (data - numpy.average(data, axis=0, weights=weights)) * root
    target = (labels - numpy.average(labels, weights=weights)) * root[:, 0]
    _, _, coefs = lars_path(centred, target, method="lasso")
    nonzero = numpy.arange(0)
    for k in range(coefs.shape[1] - 1, 0, -1):
        nonzero = coefs[:, k].nonzero()[0]
        if len(nonzero) <= num_features:
            break
    return nonzero


def _forward_selection(data, labels, weights, num_features):
    used = []
    model = Ridge(alpha=0.0)
    for _ in range(min(num_features, data.shape[1])):
        best, best_score = None, -numpy.inf
        for j in range(data.shape[1]):
            if j in used:
                continue
            columns = data[:, used + [j]]
            score = model.fit(columns, labels, weights).score(columns, labels, weights)
            if score > best_score:
                best, best_score = j, score
        used.append(best)
    return numpy.array(used, dtype=numpy.int64)


def explain_label(data, labels, weights, num_features, feature_selection="auto"):
    """Fit the local model of one label. ``data`` (S, F) holds the interpretable rows (row
    0 the instance), ``labels`` (S,) the model's output for the label, ``weights`` (S,) the
    proximities. Returns ``(intercept, [(feature, weight)…] sorted by |weight|, score,
    local_pred)``."""
    used = select_features(data, labels, weights, num_features, feature_selection)
    columns = data[:, used]
    model = Ridge(alpha=1.0).fit(columns, labels, weights)
    score = model.score(columns, labels, weights)
    local_pred = float(model.predict(columns[:1])[0])
    pairs = sorted(zip((int(j) for j in used), (float(c) for c in model.coef_)),
                   key=lambda pair: abs(pair[1]), reverse=True)
    return float(model.intercept_), pairs, score, local_pred


# -- calling the model ---------------------------------------------------------------------
def _as_numpy_function(fn, like=None, batch_size=None, op="LIME"):
    """``fn`` as a function from a numpy batch to a float64 numpy array of outputs, through
    ``_callable.as_batched_function``: a tapegrad model gets Tensors on its device (made
    under ``no_grad``); so does any ``fn`` when ``like`` (the explained input) is a Tensor
    (on ``like``'s device, with its dtype, unless ``fn`` is a model with parameters);
    anything else gets the numpy batch itself."""
    if not callable(fn):
        raise TypeError(f"{op}: the model must be callable, got {type(fn).__name__}")
    device = dtype = takes_tensors = None
    if isinstance(like, Tensor):
        takes_tensors = True
        if model_device(fn) is None:
            device, dtype = like.device, like.dtype
    batched = as_batched_function(fn, device=device, batch_size=batch_size,
                                  takes_tensors=takes_tensors, dtype=dtype)
    return lambda batch: to_host(batched(batch), op)


def to_host(output, op="LIME"):
    """A model's output (Tensor, array, list…) as a float64 numpy array."""
    if isinstance(output, Tensor):
        output = backend.to_numpy(output.detach().array)
    elif backend.is_array(output):
        output = backend.to_numpy(output)
    try:
        return numpy.asarray(output, dtype=numpy.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: the model must return numbers (an array or a tensor), got "
                        f"{type(output).__name__}") from None


def predict_in_batches(fn, n_rows, make_batch, batch_size, op="LIME"):
    """fn(make_batch(start, stop)) over ``batch_size`` rows at a time, concatenated (the
    batches are built one at a time, so all the perturbed inputs never exist at once)."""
    batch_size = check_count(op, "batch_size", batch_size)
    pieces = []
    for start, stop in chunks(n_rows, batch_size):
        out = fn(make_batch(start, stop))
        if out.ndim == 0 or out.shape[0] != stop - start:
            raise ValueError(f"{op}: the model returned shape {tuple(out.shape)} for a batch "
                             f"of {stop - start} inputs; it must return one row per input")
        pieces.append(out)
    return numpy.concatenate(pieces, axis=0)


def check_count(op, name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < minimum:
        raise ValueError(f"{op}: {name} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


def labels_to_explain(op, predictions, labels, top_labels):
    """The label ids to explain: the ``top_labels`` highest outputs for the instance when
    ``labels`` is None, else ``labels``, checked against the number of outputs."""
    n_outputs = predictions.shape[1]
    if labels is None:
        if not top_labels:
            raise ValueError(f"{op}: give labels=… or top_labels=k to say what to explain")
        k = check_count(op, "top_labels", top_labels)
        return [int(j) for j in numpy.argsort(predictions[0], kind="stable")[::-1][:k]]
    if isinstance(labels, (int, numpy.integer)):
        labels = (labels,)
    result = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (int, numpy.integer)):
            raise TypeError(f"{op}: labels must be ints (output columns), got {label!r}")
        if not -n_outputs <= label < n_outputs:
            raise IndexError(f"{op}: label {label} is out of range for a model with "
                             f"{n_outputs} outputs")
        result.append(int(label) % n_outputs)
    return result


def cosine_distance_to_first(data):
    """1 − cos(zᵢ, z₀) for every row zᵢ of ``data`` (a row of zeros is at distance 1, as
    scikit-learn)."""
    norms = numpy.sqrt((data * data).sum(axis=1))
    dots = data @ data[0]
    with numpy.errstate(divide="ignore", invalid="ignore"):
        cosine = numpy.where(norms > 0, dots / (norms * norms[0]), 0.0)
    return numpy.clip(1.0 - cosine, 0.0, 2.0)
