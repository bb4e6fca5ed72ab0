"""Lengths, angles and distances of vectors: ``normalize``, ``cosine_similarity``,
``pairwise_distance``.

Each is a short composition of tensor operations (a p-norm, a division, a sum), its
gradient coming from theirs. Each has an ε that keeps it finite where a vector is 0, each
in its own place, as PyTorch puts it:

* normalize:          x / max(‖x‖_p, ε)                     (ε = 1e-12)
* cosine_similarity:  x₁·x₂ / (max(‖x₁‖, ε)·max(‖x₂‖, ε))  (ε = 1e-8)
* pairwise_distance:  ‖x₁ - x₂ + ε‖_p                       (ε = 1e-6)

normalize's max is differentiable (no gradient flows to ‖x‖ where ε is taken);
cosine_similarity's is not: the norms are raised to ε as constants, so the gradient is
that of x₁·x₂ / (‖x₁‖·‖x₂‖) evaluated with the raised norms, as PyTorch's.
"""
from ...autograd.ops.arithmetic import div
from ...autograd.ops.out import with_out
from ...autograd.ops.reduction import single_dim
from .checks import require_float, require_tensor, shape_of


def _check_p(op, p):
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"{op}: p must be a number, got {p!r}")


def _norm(x, p, dim, keepdim):
    """‖x‖_p along dim: the norm's own op, whose float16 forward accumulates in float32 and
    rounds once and whose backward steps in float16 on that rounded norm, as PyTorch's."""
    return x.norm(p, dim, keepdim=keepdim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """y = x / max(‖x‖_p, ε), each slice along ``dim`` scaled to length 1;
    ∂y/∂x from the division and the norm (ε, where taken, is a constant)"""
    require_float("normalize", input)
    if isinstance(dim, int):   # (None, or a tuple of dims, is the norm's to check)
        single_dim(input, dim, "normalize")
    length = _norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is not None:   # written as tapegrad.div(input, length, out=out) writes it
        return with_out(div)(input, length, out=out)
    return input / length


def _broadcast_shape(op, x1, x2):
    try:
        return x1.device.xp.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"{op}: the shapes of x1 {shape_of(x1)} and x2 {shape_of(x2)} "
                           f"cannot be broadcast together") from None


def _broadcast(op, x1, x2):
    shape = _broadcast_shape(op, x1, x2)
    return x1.expand(shape), x2.expand(shape)


def _raised_to(length, eps):
    """max(‖x‖, ε) as a value, with the gradient of ‖x‖ itself (ε added as a constant,
    max(ε - ‖x‖, 0): an infinite ‖x‖ stays ∞, where max(‖x‖, ε) - ‖x‖ would be ∞ - ∞)."""
    return length + (eps - length.detach()).clamp_min(0)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """cos θ = x₁·x₂ / (max(‖x₁‖, ε)·max(‖x₂‖, ε)) along ``dim`` (x₁ and x₂ broadcast);
    ∂/∂x₁ = x₂/(‖x₁‖‖x₂‖) - cos θ·x₁/‖x₁‖², with the raised norms

    Where ‖x₁‖ < ε the value is x₁·x₂/(ε‖x₂‖), linear in x₁, but the gradient keeps the
    norm's own term (-x₁·x₂·x₁/(ε²‖x₁‖‖x₂‖)), as PyTorch's, which raises the norm without
    recording it: the gradient there is PyTorch's, not the slope of the value."""
    require_tensor("cosine_similarity", "x1", x1)
    require_tensor("cosine_similarity", "x2", x2)
    if not (x1.dtype.is_floating_point or x2.dtype.is_floating_point):
        raise TypeError(f"cosine_similarity: expected floating-point inputs, got dtypes "
                        f"{x1.dtype.name} and {x2.dtype.name} (as PyTorch); convert with "
                        f".float()")
    # an integer input takes the other's dtype; each is then scaled in its own dtype and the
    # product promotes them, as PyTorch (float16 scaled in float16, a 0-d one counting once
    # broadcast)
    if not x1.dtype.is_floating_point:
        x1 = x1.to(x2.dtype)
    if not x2.dtype.is_floating_point:
        x2 = x2.to(x1.dtype)
    x1, x2 = _broadcast("cosine_similarity", x1, x2)
    single_dim(x1, dim, "cosine_similarity")
    n1 = _raised_to(_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _raised_to(_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """d = ‖x₁ - x₂ + ε‖_p along the last dim (x₁ and x₂ broadcast; ε keeps the norm's
    gradient finite where x₁ = x₂);  ∂d/∂x₁ = -∂d/∂x₂ = the p-norm's gradient"""
    require_tensor("pairwise_distance", "x1", x1)
    require_tensor("pairwise_distance", "x2", x2)
    if "bool" in (x1.dtype.name, x2.dtype.name):
        raise RuntimeError(f"pairwise_distance: bool inputs are not supported (x1 - x2 of "
                           f"dtypes {x1.dtype.name} and {x2.dtype.name}, which PyTorch refuses "
                           f"too); convert them with .float()")
    _broadcast_shape("pairwise_distance", x1, x2)   # (checked here, to name this op)
    _check_p("pairwise_distance", p)
    difference = x1 - x2 + eps
    if difference.ndim == 0:   # a 0-d pair: the norm of the one number, as PyTorch
        return _norm(difference.reshape(1), p, 0, keepdim=False)
    return _norm(difference, p, -1, keepdim=keepdim)


__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]
