"""Gradient clipping: rescale (``clip_grad_norm_``) or clamp (``clip_grad_value_``) the
gradients of parameters in place, typically between ``loss.backward()`` and ``optimizer.step()``.

Gradients are data here, not part of a graph: these functions work on their arrays.
"""
from ... import backend
from ...autograd.tensor import Tensor, wrap


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p._grad for p in parameters if p._grad is not None]


def _norm(xp, array, norm_type):
    """The ``norm_type``-norm of all the elements of ``array`` (0 for an empty array)."""
    if array.size == 0:
        return xp.zeros((), dtype=array.dtype)
    return xp.asarray(xp.linalg.vector_norm(array, ord=norm_type))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their total norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of all gradients seen as one vector (``inf``: the
    largest absolute value); each gradient is multiplied by
    min(1, max_norm / (total + 1e-6)). Returns the total norm (before clipping) as a 0-d
    tensor. ``foreach`` is accepted for PyTorch compatibility and ignored.
    """
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        from ...creation import tensor
        return tensor(0.0)
    device = grads[0].device
    xp = device.xp
    # ‖(g₁, g₂, …)‖ₚ = ‖(‖g₁‖ₚ, ‖g₂‖ₚ, …)‖ₚ: one norm per gradient, then the norm of those.
    norms = [backend.to_device(_norm(g.device.xp, g.array, norm_type), device) for g in grads]
    total = norms[0] if len(norms) == 1 else _norm(xp, xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    coefficient = xp.minimum(max_norm / (total + 1e-6), 1.0)
    # On a GPU, multiply even by 1 rather than wait for the value to decide.
    if device.type != "cpu" or not coefficient >= 1.0:
        for g in grads:
            g.array *= backend.to_device(coefficient, g.device)
            g._version_counter.bump("clip_grad_norm_")
    return wrap(total, device)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.device.xp.clip(g.array, -clip_value, clip_value, out=g.array)
        g._version_counter.bump("clip_grad_value_")


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
