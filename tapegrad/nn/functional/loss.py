"""Loss functions: mse_loss, l1_loss, huber_loss, smooth_l1_loss, binary_cross_entropy,
binary_cross_entropy_with_logits, cross_entropy, nll_loss, kl_div, cosine_embedding_loss,
margin_ranking_loss.

Each computes one loss per element (or per sample) with tensor operations, then reduces
them: ``reduction='mean'`` (the default) averages, ``'sum'`` adds, ``'none'`` returns them
all. Gradients come from the operations, so a loss is differentiable in every tensor
argument whose formula is (the target of mse_loss, of kl_div, of binary_cross_entropy, the
class probabilities of cross_entropy…).

Losses of logits never exponentiate a large positive number: cross_entropy goes through
log_softmax (x - max x inside), binary_cross_entropy_with_logits through log σ(x) =
min(x, 0) - log(1 + e^{-|x|}); both are finite and exact at logits of ±1e4. The two binary
cross entropies are each one operation (``tapegrad/autograd/ops/loss.py``), so that their
gradients are PyTorch's formulas at the edges too (x = 0 or 1, an infinite gradient).
"""
import warnings

from ... import dtypes
from ...autograd import ops
from ...autograd.ops.arithmetic import where
from ...autograd.ops.indexing import gather_along
from ...autograd.tensor import wrap
from ...autograd.operands import promote
from .checks import require_float, require_tensor, shape_of

_REDUCTIONS = ("mean", "sum", "none")


# -- arguments ------------------------------------------------------------------------------


def _legacy_reduction(size_average, reduce, stacklevel=3):
    """PyTorch's deprecated pair: size_average and reduce (each True when None) mean 'mean';
    reduce alone 'sum'; reduce=False 'none'."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{reduction}' instead.", stacklevel=stacklevel)
    return reduction


def _reduction(op, reduction, size_average=None, reduce=None, allowed=_REDUCTIONS):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, stacklevel=4)
    if reduction not in allowed:
        expected = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected one "
                         f"of {expected})")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _fits(shape, into):
    """True when an array of ``shape`` broadcasts to exactly ``into``."""
    return len(shape) <= len(into) and all(s in (1, t) for s, t in zip(shape[::-1], into[::-1]))


def _check_broadcastable(op, a, b):
    """A RuntimeError naming both shapes when ``a`` and ``b`` cannot be broadcast together."""
    sa, sb = shape_of(a), shape_of(b)
    if any(x != y and 1 not in (x, y) for x, y in zip(sa[::-1], sb[::-1])):
        raise RuntimeError(f"{op}: the input of shape {sa} and the target of shape {sb} cannot "
                           f"be broadcast together")


def _check_target_shape(op, input, target):
    """Regression losses broadcast a target of another shape, with PyTorch's warning."""
    require_tensor(op, "input", input)
    require_tensor(op, "target", target)
    if shape_of(target) != shape_of(input):
        _check_broadcastable(op, input, target)
        warnings.warn(f"{op}: using a target of shape {shape_of(target)} that is different to "
                      f"the input's shape {shape_of(input)}. This will likely lead to incorrect "
                      f"results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)


def _bool_as_float(input, target):
    """A bool input or target against a floating one is cast to its dtype, as PyTorch's
    mse, huber and smooth_l1 losses promote the pair (a bool tensor has no subtraction)."""
    for a, b in ((input, target), (target, input)):
        if a.dtype.name == "bool" and b.dtype.is_floating_point:
            a = a.to(b.dtype)
            return (a, b) if b is target else (b, a)
    return input, target


def _as_broadcast(input, target):
    """input and target in the dtype PyTorch gives them: it broadcasts the two first, so a
    0-d target promotes as a dimensioned one would (uint8 input, int64 0-d target: int64)."""
    if input.dtype is target.dtype or (input.ndim and target.ndim) or "bool" in (
            input.dtype.name, target.dtype.name):   # (a bool is refused by the subtraction)
        return input, target
    common = dtypes.result_type([input.dtype, target.dtype])
    return input.to(common), target.to(common)


def _require_float_input(op, input):
    """huber_loss and smooth_l1_loss write their result in a floating dtype: PyTorch refuses
    an integer or bool input (its result could not be cast back to it)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype.name} "
                           f"(convert it with .float())")


def _elementwise_weight(op, input, weight):
    if weight is not None and shape_of(require_tensor(op, "weight", weight)) != shape_of(input):
        raise ValueError(f"{op}: weights and input must have the same size, got a weight of "
                         f"shape {shape_of(weight)} for an input of shape {shape_of(input)}")


def _weighted_reduce(loss, weight, reduction, mean_over_weights):
    """Reduce ``loss`` (times ``weight``, if given). PyTorch's weighted means differ by loss:
    mse and l1 divide by the sum of the weights, huber by the number of elements."""
    if weight is None:
        return _reduce(loss, reduction)
    loss = loss * weight
    if reduction == "mean" and mean_over_weights:
        with loss.device.xp.errstate(divide="ignore", invalid="ignore"):   # 0/0: the intended nan
            return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# -- regression -----------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """ℓᵢ = (xᵢ - yᵢ)²;  ∂ℓᵢ/∂xᵢ = 2(xᵢ - yᵢ) = -∂ℓᵢ/∂yᵢ
    (with ``weight``: wᵢℓᵢ, and the mean is Σ wᵢℓᵢ / Σ wᵢ)"""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    _check_target_shape("mse_loss", input, target)
    _elementwise_weight("mse_loss", input, weight)
    input, target = _bool_as_float(input, target)
    input, target = _as_broadcast(input, target)
    # reduced without weights, as one operation, in the dtype and shape the two broadcast
    # to: its gradient is (2/n·d)·g, so a float16 2d past 65504 does not overflow
    common = dtypes.result_type([input.dtype, target.dtype])
    if (weight is None and reduction != "none" and common.is_floating_point
            and input.device is target.device):
        shape = input.device.xp.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        return ops.loss.mse_loss(input.to(common).expand(shape), target.to(common).expand(shape),
                                 reduction)
    return _weighted_reduce((input - target).pow(2), weight, reduction, mean_over_weights=True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """ℓᵢ = |xᵢ - yᵢ|;  ∂ℓᵢ/∂xᵢ = sign(xᵢ - yᵢ) (0 where they are equal)
    (with ``weight``: wᵢℓᵢ, and the mean is Σ wᵢℓᵢ / Σ wᵢ)"""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    _check_target_shape("l1_loss", input, target)
    _elementwise_weight("l1_loss", input, weight)
    input, target = _as_broadcast(input, target)
    return _weighted_reduce((input - target).abs(), weight, reduction, mean_over_weights=True)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """ℓᵢ = dᵢ²/2 where |dᵢ| < δ, else δ(|dᵢ| - δ/2), for dᵢ = xᵢ - yᵢ;
    ∂ℓᵢ/∂xᵢ = dᵢ, clipped to [-δ, δ]  (with ``weight``: wᵢℓᵢ, averaged over the elements)"""
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    _check_target_shape("huber_loss", input, target)
    _require_float_input("huber_loss", input)
    _elementwise_weight("huber_loss", input, weight)
    input, target = _bool_as_float(input, target)
    d = input - target
    if d.dtype is not input.dtype:   # the loss is in the input's dtype, as in PyTorch
        d = d.to(input.dtype)
    size = d.abs()
    # c = d clipped to [-δ, δ]: the square is taken of c (only chosen inside, and an
    # infinite d in the other branch would give 0·∞ = NaN in backward); outside, δ|d| is
    # written d·c with c held fixed, whose slope c is NaN where d is NaN, as PyTorch's (and
    # c, not 2c, at |d| = δ)
    small = d.clamp(-delta, delta)
    loss = where(size < delta, small * small * 0.5, d * small.detach() - 0.5 * delta * delta)
    return _weighted_reduce(loss, weight, reduction, mean_over_weights=False)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """ℓᵢ = dᵢ²/(2β) where |dᵢ| < β, else |dᵢ| - β/2, for dᵢ = xᵢ - yᵢ (huber_loss / β);
    ∂ℓᵢ/∂xᵢ = dᵢ/β, clipped to [-1, 1].  β = 0 is l1_loss."""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    if beta == 0:   # l1_loss, which (as in PyTorch) takes no bool
        return l1_loss(input, target, reduction=reduction)
    _check_target_shape("smooth_l1_loss", input, target)
    input, target = _bool_as_float(input, target)
    d = input - target
    # c = d clipped to [-β, β]: the square is taken of c (only chosen inside, and an
    # infinite d in the other branch would give 0·∞ = NaN in backward); outside, |d| is
    # written d·c/β with c held fixed (c/β = ±1), whose slope c/β is NaN where d is NaN, as
    # PyTorch's (the slope of |d|, sign(NaN) = 0, would give 0), and c/β, not 2c/β, at |d| = β
    small = d.clamp(-beta, beta)
    inside = d.abs() < beta
    outside = d * (small / beta).detach() - 0.5 * beta
    return _reduce(where(inside, small * small * (0.5 / beta), outside), reduction)


# -- binary classification ------------------------------------------------------------------
def _check_same_shape(op, input, target, error=ValueError):
    require_tensor(op, "input", input)
    require_tensor(op, "target", target)
    if shape_of(target) != shape_of(input):
        raise error(f"{op}: the target must have the input's shape, got a target of shape "
                    f"{shape_of(target)} for an input of shape {shape_of(input)}")


def _check_broadcasts_into(op, name, value, input):
    """``value`` (a weight) must broadcast to the input's shape; cast to the input's dtype."""
    require_tensor(op, name, value)
    if not _fits(shape_of(value), shape_of(input)):
        raise RuntimeError(f"{op}: {name} of shape {shape_of(value)} cannot be broadcast to the "
                           f"input's shape {shape_of(input)}")
    return value if value.dtype is input.dtype else value.to(input.dtype)


def _check_probabilities(op, name, t, hint=""):
    if not t.dtype.is_floating_point:
        raise TypeError(f"{op}: {name} must be a floating-point tensor (probabilities), got "
                        f"dtype {t.dtype.name}")
    a = t.array
    if a.size and not (a.min() >= 0 and a.max() <= 1):   # (nan fails both)
        raise RuntimeError(f"{op}: all elements of {name} should be between 0 and 1, got values "
                           f"in [{float(a.min()):g}, {float(a.max()):g}]{hint}")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """ℓᵢ = -wᵢ (yᵢ log xᵢ + (1 - yᵢ) log(1 - xᵢ)), each log clamped at -100 (as PyTorch);
    ∂ℓᵢ/∂xᵢ = wᵢ (xᵢ - yᵢ)/(xᵢ(1 - xᵢ)),  ∂ℓᵢ/∂yᵢ = -wᵢ log(xᵢ/(1 - xᵢ))

    ``input`` holds probabilities; for logits, binary_cross_entropy_with_logits is exact
    where sigmoid followed by this loss saturates.
    """
    op = "binary_cross_entropy"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_same_shape(op, input, target)
    _check_probabilities(op, "input", input, " (they are probabilities; for logits use "
                                             "binary_cross_entropy_with_logits)")
    _check_probabilities(op, "target", target)
    if weight is not None:
        weight = _check_broadcasts_into(op, "weight", weight, input)
    input, target = _same_float_dtype(op, input, target)
    if weight is not None and weight.dtype is not input.dtype:   # (target was the wider)
        weight = weight.to(input.dtype)
    return ops.loss.binary_cross_entropy(input, target, weight, reduction)


def _same_float_dtype(op, input, target):
    """input and target in their common dtype (PyTorch asks for one dtype; promoting is
    the rule everywhere else)"""
    if input.dtype is target.dtype:
        return input, target
    return promote(op, input, target)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """ℓᵢ = -wᵢ (p yᵢ log σ(xᵢ) + (1 - yᵢ) log(1 - σ(xᵢ))) (p = pos_weight of xᵢ's class),
    computed as wᵢ ((1 - yᵢ) xᵢ - (1 + (p - 1) yᵢ) log σ(xᵢ)), since log(1 - σ(x)) = log σ(x) - x;
    ∂ℓᵢ/∂xᵢ = wᵢ ((1 + (p - 1) yᵢ) σ(xᵢ) - p yᵢ)  (= wᵢ (σ(xᵢ) - yᵢ) without pos_weight)"""
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_same_shape(op, input, target)
    if weight is not None:
        weight = _check_broadcasts_into(op, "weight", weight, input)
    if pos_weight is not None:
        pos_weight = _check_broadcasts_into(op, "pos_weight", pos_weight, input)
    require_float(op, input)
    if not target.dtype.is_floating_point:
        target = target.to(input.dtype)
    input, target = _same_float_dtype(op, input, target)
    if pos_weight is not None and pos_weight.dtype is not input.dtype:
        pos_weight = pos_weight.to(input.dtype)
    loss = ops.loss.binary_cross_entropy_with_logits(input, target, pos_weight)
    return _reduce(loss if weight is None else loss * weight, reduction)


# -- classification over C classes ----------------------------------------------------------
def _class_dim(op, input):
    """Inputs are (C,), (N, C) or (N, C, d1, d2, …): the classes are dim 1, or 0 for (C,)."""
    require_tensor(op, "input", input)
    if input.ndim == 0:
        raise ValueError(f"{op}: the input must have a class dimension: shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")
    return 0 if input.ndim == 1 else 1


def _class_weight(op, weight, input, n_classes):
    if weight is None:
        return None
    require_tensor(op, "weight", weight)
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(f"{op}: weight should hold one value for each of the {n_classes} "
                           f"classes (shape ({n_classes},)), got a weight of shape "
                           f"{shape_of(weight)}")
    return weight if weight.dtype is input.dtype else weight.to(input.dtype)


def _class_indices(op, input, target, class_dim, ignore_index):
    """Check a target of class indices against the input; give it as (the int64 index
    array for gather, ignored entries pointing at class 0; the bool mask of the ignored
    entries, or None when there are none), both with the class dim kept, of size 1."""
    shape = shape_of(input)
    n_classes = shape[class_dim]
    expected = shape[:class_dim] + shape[class_dim + 1:]
    if target.dtype.is_floating_point or target.dtype is dtypes.bool_:
        raise RuntimeError(f"{op}: a target of dtype {target.dtype} and shape {shape_of(target)} "
                           f"is neither class indices (an integer tensor of shape {expected}) "
                           f"nor class probabilities (a float tensor of the input's shape "
                           f"{shape})")
    if shape_of(target) != expected:
        if len(shape) > 1 and target.ndim > 0 and target.shape[0] != shape[0]:
            raise ValueError(f"{op}: expected the input's batch size ({shape[0]}) to match the "
                             f"target's ({target.shape[0]}): input of shape {shape}, target of "
                             f"shape {shape_of(target)} (class indices of shape {expected})")
        raise RuntimeError(f"{op}: expected a target of class indices of shape {expected} for "
                           f"an input of shape {shape}, got a target of shape {shape_of(target)}")
    xp = input.device.xp
    t = target.array
    ignored = None
    if t.size:
        low, high = t.min(), t.max()
        if low <= ignore_index <= high:
            ignored = t == ignore_index
            if not ignored.any():
                ignored = None
        if low < 0 or high >= n_classes:
            outside = (t < 0) | (t >= n_classes)
            if ignored is not None:
                outside &= ~ignored
            bad = t[outside]
            if bad.size:
                raise IndexError(f"{op}: target class index {int(bad[0])} is out of range for "
                                 f"{n_classes} classes (expected values in [0, "
                                 f"{n_classes - 1}], or ignore_index={ignore_index})")
    kept = t.shape[:class_dim] + (1,) + t.shape[class_dim:]   # the class dim, of size 1
    if ignored is not None:
        t = xp.where(ignored, 0, t)
        ignored = ignored.reshape(kept)
    return t.astype("int64", copy=False).reshape(kept), ignored


def _nll(op, log_probs, target, class_dim, weight, ignore_index, reduction, label_smoothing=0.0):
    """ℓᵢ = -w_{yᵢ} log p_{i,yᵢ}, smoothed: (1 - ε) ℓᵢ - (ε/C) Σ_c w_c log p_{i,c};
    0 for ignored targets; the mean divides by Σ w_{yᵢ} over the targets not ignored.

    Everything keeps the class dimension (with size 1) until the end, so that the
    per-target values line up with the gathered ones without reshaping.
    """
    n_classes = log_probs.shape[class_dim]
    smoothing = None   # the smoothing term, apart for the weighted mean (below)
    index, ignored = _class_indices(op, log_probs, target, class_dim, ignore_index)
    device = log_probs.device
    if ignored is not None:
        ignored = wrap(ignored, device)
    # One gather picks log p of each target class (no one-hot matrix): -ℓᵢ without weights.
    # (gather_along is gather without its checks, which _class_indices has made already.)
    if n_classes == 0:   # no classes, so every target is ignore_index: each ℓᵢ is 0
        picked = log_probs.sum(class_dim, keepdim=True)
        target_weight = None if weight is None else picked.detach()
    else:
        picked = gather_along("gather", log_probs, class_dim, index)
    if weight is not None and n_classes > 0:
        target_weight = weight[wrap(index, device)]   # w_{yᵢ}
        if ignored is not None:
            target_weight = target_weight.masked_fill(ignored, 0)
        picked = picked * target_weight
    if label_smoothing > 0:
        if weight is None:
            all_classes = log_probs.sum(class_dim, keepdim=True)
        else:
            along = (n_classes,) + (1,) * (log_probs.ndim - class_dim - 1)
            all_classes = (log_probs * weight.reshape(along)).sum(class_dim, keepdim=True)
        # (no classes: the sum over them is empty, and ε/C has nothing to multiply)
        smoothing = all_classes * (label_smoothing / max(n_classes, 1))
        picked = picked * (1 - label_smoothing)
        if not (reduction == "mean" and weight is not None):
            picked, smoothing = picked + smoothing, None
    if reduction == "none":
        loss = -picked.squeeze(class_dim)
        return loss if ignored is None else loss.masked_fill(ignored.squeeze(class_dim), 0)
    if ignored is not None:
        picked = picked.masked_fill(ignored, 0)
    # picked holds -ℓᵢ: the negation is done last, on the reduced value.
    if reduction == "sum":
        return -picked.sum()
    if weight is not None:
        total = target_weight.sum()
        with device.xp.errstate(divide="ignore", invalid="ignore"):
            if smoothing is None:
                return -(picked.sum() / total)
            # each part divided by the total weight, as PyTorch: a total of 0 then gives the
            # targets' part 0/0 = NaN, not the smoothing part's ±inf alone
            if ignored is not None:
                smoothing = smoothing.masked_fill(ignored, 0)
            return -(picked.sum() / total + smoothing.sum() / total)
    counted = picked.numel() if ignored is None else int(ignored.numel() - ignored.array.sum())
    if counted == 0:
        return -picked.sum() * float("nan")   # nothing counted (all ignored, or no targets): nan
    return -picked.mean() if ignored is None else -(picked.sum() / counted)


def _check_label_smoothing(op, label_smoothing):
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                           f"{label_smoothing}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """ℓᵢ = -w_{yᵢ} x_{i,yᵢ} for log-probabilities x (N, C, …) and class indices y (N, …);
    ∂ℓᵢ/∂x_{i,c} = -w_c where c = yᵢ, else 0. Targets equal to ``ignore_index`` give 0 and
    do not count; the mean is Σ ℓᵢ / Σ w_{yᵢ} over the others."""
    op = "nll_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    class_dim = _class_dim(op, input)
    require_tensor(op, "target", target)
    weight = _class_weight(op, weight, input, input.shape[class_dim])
    return _nll(op, input, target, class_dim, weight, ignore_index, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """ℓᵢ = -w_{yᵢ} log softmax(xᵢ)_{yᵢ} (= nll_loss(log_softmax(x), y));
    ∂ℓᵢ/∂x_{i,c} = w_{yᵢ} (softmax(xᵢ)_c - [c = yᵢ])

    ``input``: logits (C,), (N, C) or (N, C, d1, …), the classes along dim 1 (0 for (C,)).
    ``target``: class indices (N, d1, …) (ignore_index, weighted mean Σ ℓᵢ / Σ w_{yᵢ}), or
    class probabilities of the input's shape: ℓᵢ = -Σ_c w_c y_{i,c} log softmax(xᵢ)_c, the
    mean dividing by N·d1·… . ``label_smoothing`` ε mixes the target with the uniform
    distribution: (1 - ε)·target + ε/C.
    """
    op = "cross_entropy"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_label_smoothing(op, label_smoothing)
    class_dim = _class_dim(op, input)
    require_tensor(op, "target", target)
    n_classes = input.shape[class_dim]
    weight = _class_weight(op, weight, input, n_classes)
    if (shape_of(target) != shape_of(input) and input.ndim == 2 and input.dtype.is_floating_point
            and n_classes > 0 and (weight is None or not weight.requires_grad)):
        # The common case, logits (N, C) and class indices (N,), is one operation.
        index, ignored = _class_indices(op, input, target, class_dim, ignore_index)
        xp = input.device.xp
        ignored = xp.zeros(index.shape[0], bool) if ignored is None else ignored.reshape(-1)
        weights = xp.ones(n_classes, input.array.dtype) if weight is None else weight.array
        return ops.loss.cross_entropy(input, index.reshape(-1), ignored, weights, reduction,
                                      label_smoothing)
    if shape_of(target) != shape_of(input):   # class indices
        return _nll(op, input.log_softmax(class_dim), target, class_dim, weight, ignore_index,
                    reduction, label_smoothing)
    # class probabilities
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"{op}: a target of the input's shape {shape_of(input)} holds class "
                           f"probabilities and must be floating point, got {target.dtype} (a "
                           f"target of class indices has shape "
                           f"{shape_of(input)[:class_dim] + shape_of(input)[class_dim + 1:]})")
    if ignore_index >= 0:
        raise RuntimeError(f"{op}: ignore_index is not supported for a target of class "
                           f"probabilities (got ignore_index={ignore_index})")
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / max(n_classes, 1)
    weighted = input.log_softmax(class_dim) * target
    if weight is not None:
        weighted = weighted * weight.reshape((n_classes,) + (1,) * (input.ndim - class_dim - 1))
    return -_reduce(weighted.sum(class_dim), reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """ℓᵢ = yᵢ (log yᵢ - xᵢ) for log-probabilities x and probabilities y (0 where yᵢ = 0);
    with ``log_target``, y is given as log y: ℓᵢ = e^{yᵢ}(yᵢ - xᵢ).  ∂ℓᵢ/∂xᵢ = -yᵢ (-e^{yᵢ}).

    ``reduction='batchmean'`` divides the sum by the batch size (the KL divergence per
    sample); 'mean' divides it by the number of elements, as PyTorch does (with its warning).
    """
    op = "kl_div"
    reduction = _reduction(op, reduction, size_average, reduce,
                           allowed=_REDUCTIONS + ("batchmean",))
    require_tensor(op, "input", input)
    require_tensor(op, "target", target)
    if not (input.dtype.is_floating_point and target.dtype.is_floating_point):
        raise RuntimeError(f"kl_div: integer and bool inputs are not supported, as in PyTorch "
                           f"(log-probabilities and probabilities are floating point), got an "
                           f"input of {input.dtype.name} and a target of {target.dtype.name}")
    _check_broadcastable(op, input, target)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # y log y is 0 at y = 0 (its limit); its slope there, ln y + 1, has none: NaN, as
        # in PyTorch
        loss = ops.arithmetic.xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


# -- embeddings and rankings ----------------------------------------------------------------
_COSINE_EPSILON = 1e-12   # added to each squared norm, as PyTorch does


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """ℓᵢ = 1 - cos(x1ᵢ, x2ᵢ) where yᵢ = 1, max(0, cos(x1ᵢ, x2ᵢ) - margin) where yᵢ = -1
    (0 for any other y), with cos(a, b) = a·b / √((|a|² + ε)(|b|² + ε)), ε = 1e-12"""
    op = "cosine_embedding_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    for name, value in (("input1", input1), ("input2", input2), ("target", target)):
        require_tensor(op, name, value)
    if target.ndim > 1:
        raise RuntimeError(f"{op}: 0-d or 1-d target tensor expected, multi-target not "
                           f"supported (got a target of shape {shape_of(target)})")
    # the inputs broadcast against each other (and the target against their rows), as in
    # PyTorch; each norm is taken over its own input
    if input1.ndim != target.ndim + 1 or input2.ndim != input1.ndim:
        raise RuntimeError(f"{op}: a {target.ndim}-d target of shape {shape_of(target)} expects "
                           f"two {target.ndim + 1}-d inputs, got input1 of shape "
                           f"{shape_of(input1)} and input2 of shape {shape_of(input2)}")
    if any(a != b and 1 not in (a, b) for a, b in zip(input1.shape, input2.shape)):
        raise RuntimeError(f"{op}: input1 of shape {shape_of(input1)} and input2 of shape "
                           f"{shape_of(input2)} cannot be broadcast together")
    rows = input1.shape[0] if input2.shape[0] == 1 else input2.shape[0]
    if target.ndim and target.shape[0] != rows and 1 not in (target.shape[0], rows):
        raise RuntimeError(f"{op}: the target of shape {shape_of(target)} must hold one value per "
                           f"row of the inputs of shape {shape_of(input1)}")
    dim = input1.ndim - 1
    dot = (input1 * input2).sum(dim)
    norms = ((input1 * input1).sum(dim) + _COSINE_EPSILON) * (
        (input2 * input2).sum(dim) + _COSINE_EPSILON)
    cos = dot / norms.sqrt()
    loss = where(target == 1, 1 - cos, where(target == -1, (cos - margin).clamp(min=0), 0.0))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """ℓᵢ = max(0, -yᵢ (x1ᵢ - x2ᵢ) + margin), y = 1 when x1 should rank higher, -1 when x2;
    ∂ℓᵢ/∂x1ᵢ = -yᵢ where the margin is violated (or met exactly), else 0"""
    op = "margin_ranking_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    for name, value in (("input1", input1), ("input2", input2), ("target", target)):
        require_tensor(op, name, value)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"{op}: all input tensors should have the same number of dimensions, "
                           f"got input1 of shape {shape_of(input1)}, input2 of shape "
                           f"{shape_of(input2)} and target of shape {shape_of(target)}")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
           "cosine_embedding_loss", "margin_ranking_loss"]
