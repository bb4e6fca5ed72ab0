"""Cross entropy of logits and class indices as one operation (``F.cross_entropy``'s
common case: logits (N, C), targets (N,)).

    ℓᵢ = Σ_c a_{i,c}·(lseᵢ - x_{i,c}),   lseᵢ = log Σ_c e^{x_{i,c}}
    a_{i,c} = (1 - ε)·w_{yᵢ}·[c = yᵢ] + (ε/C)·w_c          (ε: label smoothing)
    ∂ℓᵢ/∂x_{i,c} = Aᵢ·softmax(xᵢ)_c - a_{i,c},   Aᵢ = Σ_c a_{i,c}

An ignored target gives 0 and does not count; the mean divides by Σ w_{yᵢ} over the
targets kept. The composition (log_softmax, gather, mul, mean) takes six passes over the
logits forwards; the kernel (``tapegrad/kernels/fused.py``) reads each row three times
forwards and once backwards, keeping only lse per row (and the probabilities, for rows of
more than a few dozen classes, where numpy's vectorised exp does the work). The class weights are constants
(PyTorch does not differentiate them either).
"""
from ...kernels import fused
from ..operands import sum_to_shape
from ..tape import record
from ..tensor import wrap
from .arithmetic import where
from .declare import operation
from .twice import derivative_of_backward


def _composed_cross_entropy(x, target, ignored, weight, reduction, smoothing):
    """The same loss from tensor operations (for the second derivative)."""
    classes = x.shape[1]
    log_p = x.log_softmax(1)
    index = wrap(target.reshape(-1, 1), x.device)
    w = wrap(weight, x.device)
    kept = wrap(1 - ignored.astype(x.array.dtype), x.device)
    target_weight = w[index.reshape(-1)] * kept
    picked = log_p.gather(1, index).reshape(-1) * target_weight
    if smoothing > 0:
        picked = picked * (1 - smoothing) + (log_p * w).sum(1) * kept * (smoothing / classes)
    if reduction == "none":
        return -picked
    if reduction == "sum":
        return -picked.sum()
    return -(picked.sum() / target_weight.sum())


def _quiet(xp):
    return xp.errstate(divide="ignore", invalid="ignore")   # (cupy never warns)


@operation()
def cross_entropy(input, target, ignored, weight, reduction, label_smoothing):
    """ℓ = Σᵢ ℓᵢ (reduction 'sum'), Σᵢ ℓᵢ / Σᵢ w_{yᵢ} ('mean') or ℓᵢ ('none') for logits
    x (N, C) and class indices ``target`` (int64 array (N,), 0 where ``ignored``, a bool
    array); ``weight`` (C,) an array of x's dtype (ones when not given);
    ∂ℓᵢ/∂x_{i,c} = Aᵢ·softmax(xᵢ)_c - a_{i,c} (see the module doc)"""
    xp = input.device.xp
    x = input.array
    target, ignored, weight = xp.asarray(target), xp.asarray(ignored), xp.asarray(weight, dtype=x.dtype)
    marked = xp.where(ignored, -1, target)
    loss, target_weight, lse = fused.cross_entropy_forward(xp, x, marked, weight, label_smoothing)
    if reduction == "none":
        result = loss
    elif reduction == "sum":
        result = loss.sum()
    else:
        denominator = target_weight.sum()
        with _quiet(xp):
            result = loss.sum() / denominator   # 0/0 = nan when every target is ignored, as PyTorch
            if label_smoothing and not denominator:
                # PyTorch divides the targets' part Σ w_y·(lse - x_y) and the smoothing part
                # by the total weight apart: a total of 0 gives the first 0/0 = NaN where the
                # weights are 0, not the smoothing part's ±inf alone
                top, log_sum = lse[0], lse[1]
                picked = target_weight * (log_sum - (x[xp.arange(x.shape[0]), target] - top))
                targets = (1 - label_smoothing) * xp.where(ignored, 0, picked).sum()
                result = targets / denominator + (loss.sum() - targets) / denominator

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return cross_entropy_backward(grad, x, target, ignored, weight, reduction,
                                      label_smoothing, lse, None if reduction != "mean"
                                      else denominator)
    return record("cross_entropy", xp.asarray(result, dtype=x.dtype), (input,), backward,
                  save=(input,), attrs={"reduction": reduction, "label_smoothing": label_smoothing})


@operation()
def cross_entropy_backward(grad, input, target, ignored, weight, reduction, label_smoothing,
                           lse, denominator):
    """∂ℓ/∂x of cross_entropy from its saved lse, as one operation; its own derivative is
    the composition's second derivative"""
    xp = input.device.xp
    x = input.array
    rows = x.shape[0]
    if reduction == "none":
        scale = grad.array.astype(x.dtype, copy=False)
    else:
        with _quiet(xp):
            g = grad.array / denominator if reduction == "mean" else grad.array
        scale = xp.broadcast_to(xp.asarray(g, dtype=x.dtype), (rows,))
    marked = xp.where(ignored, -1, target)
    dx = fused.cross_entropy_backward(xp, x, marked, weight, label_smoothing, lse,
                                      xp.ascontiguousarray(scale))

    def backward(ctx, grad_dx):
        g, x = ctx.saved_tensors
        return derivative_of_backward(
            lambda x: _composed_cross_entropy(x, target, ignored, weight, reduction,
                                              label_smoothing),
            [g], [x], [grad_dx], list(ctx.needs_input_grad))
    return record("cross_entropy_backward", dx, (grad, input), backward, save=(grad, input))


# -- mean squared error ---------------------------------------------------------------------------
# The composition (sub, pow, mean) makes three arrays the size of x forwards and two more
# backwards; as one operation it makes d = x - y and the gradient 2d·g, and sums the
# squares as one dot product (no array of squares).
def _composed_mse_loss(x, y, reduction):
    """The same loss from tensor operations (for the second derivative)."""
    d = x - y
    squares = d * d
    return squares.sum() if reduction == "sum" else squares.mean()


@operation()
def mse_loss(input, target, reduction):
    """ℓ = Σᵢ (xᵢ - yᵢ)² ('sum') or that over n ('mean'), for x and y of one shape and one
    floating dtype;  ∂ℓ/∂x = 2(x - y)·g (/n for the mean) = -∂ℓ/∂y

    float16 sums its squares and divides in float32, rounding once, as PyTorch (n and Σd²
    soon pass float16's largest value, 65504)."""
    xp = input.device.xp
    d = xp.subtract(input.array, target.array)
    flat = (d.astype(xp.float32) if d.dtype.itemsize == 2 else d).reshape(-1)
    with xp.errstate(over="ignore"):   # (Σ d² may overflow to inf, as in PyTorch)
        total = xp.matmul(flat, flat)   # Σ d², one pass (BLAS dot)
    with _quiet(xp):
        if reduction == "mean":
            total = total / flat.size if flat.size else total * float("nan")   # nothing: nan
        total = xp.asarray(total, dtype=d.dtype)   # (float16: past 65504 it is inf, silently)

    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        dx = mse_loss_backward(grad, x, y, reduction, d)
        return (dx if ctx.needs_input_grad[0] else None,
                -dx if ctx.needs_input_grad[1] else None)
    return record("mse_loss", total, (input, target), backward,
                  save=(input, target), attrs={"reduction": reduction})


@operation()
def mse_loss_backward(grad, input, target, reduction, difference):
    """∂ℓ/∂x = 2d·g (/n for the mean) of mse_loss from its kept difference d = x - y, as one
    operation (∂ℓ/∂y is its negative); its own derivative is the composition's second
    derivative"""
    xp = input.device.xp
    norm = 2.0 / difference.size if reduction == "mean" and difference.size else 2.0
    if reduction == "mean" and not difference.size:
        norm = float("nan")   # the mean of nothing
    # PyTorch's order, (2/n·d)·g, each product rounded to d's dtype: where 2g/n or 2d
    # overflows (float16) the result does exactly where PyTorch's does
    with _quiet(xp):
        dx = xp.asarray(xp.multiply(difference, xp.asarray(norm, dtype=difference.dtype)))
        xp.multiply(dx, grad.array.astype(difference.dtype, copy=False), out=dx)

    def backward(ctx, grad_dx):
        g, x, y = ctx.saved_tensors
        return derivative_of_backward(lambda x, y: _composed_mse_loss(x, y, reduction),
                                      [g], [x, y], [grad_dx, None], list(ctx.needs_input_grad))
    return record("mse_loss_backward", dx, (grad, input, target), backward,
                  save=(grad, input, target))


# -- binary cross entropy, of probabilities and of logits -------------------------------------
# Each is one operation so that its gradient is PyTorch's formula applied once: an infinite
# incoming gradient meets one factor (σ(x) - y, or -logit(x)), not a sum of two infinite
# terms, and the target's gradient at x = 0 or 1 is the unclamped ∓∞ of -logit(x), which
# the log clamped at -100 would flatten to a finite slope.
_BCE_MIN_LOG = -100.0     # PyTorch's clamp of each log
_BCE_MIN_VARIANCE = 1e-12  # PyTorch's floor under x(1 - x) in the input's gradient


@operation()
def binary_cross_entropy(input, target, weight=None, reduction="none"):
    """ℓ = -(y·max(log x, -100) + (1 - y)·max(log(1 - x), -100)) elementwise, for x and y
    of one shape and dtype, times ``weight`` (broadcast) and reduced ("none", "mean" or
    "sum");  ∂ℓ/∂x = (x - y)/max(x(1 - x), 1e-12),  ∂ℓ/∂y = -logit(x) (±∞ at x = 0 or 1),
    ∂ℓ/∂w = the unweighted loss. Each gradient is g times the slope, then times w, then
    divided by n for the mean: PyTorch's order, which float16 rounds step by step."""
    xp = input.device.xp
    x, y = input.array, target.array
    with _quiet(xp):
        log_x = xp.maximum(xp.log(x), _BCE_MIN_LOG)
        log_1mx = xp.maximum(xp.log1p(-x), _BCE_MIN_LOG)
        loss = (y - 1) * log_1mx - y * log_x
    value = wrap(loss.astype(x.dtype, copy=False), input.device)
    if weight is not None:
        value = value * weight.detach()
    if reduction != "none":
        value = value.mean() if reduction == "mean" else value.sum()
    count = input.numel()
    w_shape = None if weight is None else weight.shape

    def weighted(g):
        if weight is not None:
            g = g * weight
        return g / count if reduction == "mean" else g

    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = grad_y = grad_w = None
        if needs[0]:
            grad_x = weighted(grad * (x - y) / (x * (1 - x)).clamp(min=_BCE_MIN_VARIANCE))
        if needs[1]:
            grad_y = weighted(grad * -x.logit())
        if weight is not None and needs[2]:
            unweighted = binary_cross_entropy(x, y)
            grad_w = sum_to_shape((grad * unweighted / count if reduction == "mean"
                                   else grad * unweighted), w_shape)
        return grad_x, grad_y, grad_w
    return record("binary_cross_entropy", value.array, (input, target, weight), backward,
                  save=(input, target))


@operation()
def binary_cross_entropy_with_logits(input, target, pos_weight=None):
    """ℓ = (1 - y)·x - (1 + (p - 1)·y)·log σ(x) elementwise (p = ``pos_weight``, 1 when
    None, broadcast into x; x and y of one shape and dtype);
    ∂ℓ/∂x = (1 + (p - 1)·y)·σ(x) - p·y,  ∂ℓ/∂y = log σ(-x) - p·log σ(x) (-x when p = 1),
    ∂ℓ/∂p = -y·log σ(x)"""
    xp = input.device.xp
    x, y = input.array, target.array
    with _quiet(xp):
        log_sigmoid = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
        if pos_weight is None:
            loss = (1 - y) * x - log_sigmoid
        else:
            loss = (1 - y) * x - ((pos_weight.array - 1) * y + 1) * log_sigmoid
    p_shape = None if pos_weight is None else pos_weight.shape

    def backward(ctx, grad):
        x, y = ctx.saved_tensors[:2]
        needs = ctx.needs_input_grad
        if pos_weight is None:
            return (grad * (x.sigmoid() - y) if needs[0] else None,
                    grad * -x if needs[1] else None, None)
        p = ctx.saved_tensors[2]
        py = p * y
        grad_x = grad * ((py + 1 - y) * x.sigmoid() - py) if needs[0] else None
        grad_y = grad * (_log_sigmoid(-x) - p * _log_sigmoid(x)) if needs[1] else None
        grad_p = (sum_to_shape(grad * -y * _log_sigmoid(x), p_shape) if needs[2] else None)
        return grad_x, grad_y, grad_p
    saved = (input, target) if pos_weight is None else (input, target, pos_weight)
    return record("binary_cross_entropy_with_logits", loss.astype(x.dtype, copy=False),
                  (input, target, pos_weight), backward, save=saved)


def _log_sigmoid(x):
    """log σ(x) = n - log(1 + e^{2n - x}), n = min(x, 0), from tensor operations (so that it
    is differentiable): the exponent is never positive; x itself at -∞"""
    at_minus_inf = x == float("-inf")
    finite = where(at_minus_inf, 0.0, x)
    n = finite.clamp(max=0)
    return where(at_minus_inf, x, n - (n * 2 - finite).exp().log1p())
