"""The derivative of a fused operation's backward, from the composition it replaces.

A fused operation (``layer_norm``, ``batch_norm``, ``cross_entropy``, ``gelu``, the LSTM and
GRU gates) runs its forward and its backward as one kernel each. Its backward is an
operation of its own (``layer_norm_backward`` …), so ``create_graph=True`` records it; the
derivative of *that* operation is only needed for second derivatives, and comes from the
plain composition of tensor operations the fused one stands for: differentiated once
(with ``create_graph=True``) the composition gives the backward as a graph, and
differentiating that graph gives the backward's derivative. Slower than a hand-written
formula, but it cannot disagree with the first derivative, and it is itself recorded
when asked (third derivatives work too).
"""
from .. import grad_mode
from .shape import view_as


def _stand_in(t, connect):
    """A tensor with t's values to differentiate the composition at: a recorded view of t
    when the result must lead back to t (create_graph), else a fresh leaf."""
    if connect and (t.requires_grad or t.grad_fn is not None):
        return view_as(t, t)
    return t.detach().requires_grad_()


def derivative_of_backward(composed, grads, primals, cotangents, needs):
    """Gradients of ⟨cotangents, B(grads, primals)⟩, B the backward of ``composed``.

    ``composed(*primals)`` gives the forward output (or a tuple of outputs, one per entry
    of ``grads``); B gives one gradient per primal that is not None, and ``cotangents``
    (tensors, or None for zero) are those gradients' own gradients. ``needs`` has one flag
    per entry of ``grads + primals``; the result has one gradient (or None) for each.
    """
    from ..engine import grad as autograd_grad
    create_graph = grad_mode.is_grad_enabled()
    with grad_mode.enable_grad():
        grads_ = [_stand_in(g, create_graph) for g in grads]
        primals_ = [None if p is None else _stand_in(p, create_graph) for p in primals]
        outputs = composed(*primals_)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        present = [p for p in primals_ if p is not None]
        pairs = [(o, g) for o, g in zip(outputs, grads_) if o.requires_grad]
        first = autograd_grad([o for o, _ in pairs], present, [g for _, g in pairs],
                              create_graph=True, allow_unused=True)
        used = [(f, v) for f, v in zip(first, cotangents)
                if f is not None and v is not None and f.requires_grad]
        wanted = [t for t, need in zip(grads_ + primals_, needs) if need and t is not None]
        if not used or not wanted:
            return (None,) * len(needs)
        second = iter(autograd_grad([f for f, _ in used], wanted, [v for _, v in used],
                                    create_graph=create_graph, allow_unused=True))
    return tuple(next(second) if need and t is not None else None
                 for t, need in zip(grads_ + primals_, needs))
