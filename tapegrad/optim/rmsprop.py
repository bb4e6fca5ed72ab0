"""RMSprop: divide the gradient by a running root mean square of recent gradients.

For each parameter θ with gradient ∇ (α smoothing constant, λ weight_decay, μ momentum):

    g ← ∇ + λ·θ                             (−∇ + λ·θ with maximize)
    s ← α·s + (1 − α)·g²                     running mean of g²
    a ← α·a + (1 − α)·g                      running mean of g (centered only)
    d ← √s + ε,  or  √(s − a²) + ε centered  (an estimate of g's variance)
    b ← μ·b + g/d;  θ ← θ − lr·b            with momentum μ > 0
    θ ← θ − lr·g/d                           without
"""
from .. import kernels
from .optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    *, maximize=False)"""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative(options, "lr", "eps", "momentum", "weight_decay", "alpha")

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            self._buffer(p, state, "square_avg")
            if group["momentum"] > 0:
                self._buffer(p, state, "momentum_buffer")
            if group["centered"]:
                self._buffer(p, state, "grad_avg")
        state["step"] += 1
        s = state["square_avg"].array
        a = self._buffer(p, state, "grad_avg") if group["centered"] else None
        b = self._buffer(p, state, "momentum_buffer") if group["momentum"] > 0 else None
        # the whole rule above in one pass over θ, ∇ and the state (array operations off the cpu)
        kernels.rmsprop_step(p.device.xp, p.array, grad, s, a, b, lr=group["lr"],
                             alpha=group["alpha"], eps=group["eps"],
                             weight_decay=group["weight_decay"], momentum=group["momentum"],
                             maximize=group["maximize"])
