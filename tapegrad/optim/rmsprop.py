"""RMSprop: divide the gradient by a running root mean square of recent gradients.

For each parameter θ with gradient ∇ (α smoothing constant, λ weight_decay, μ momentum):

    g ← ∇ + λ·θ                             (−∇ + λ·θ with maximize)
    s ← α·s + (1 − α)·g²                     running mean of g²
    a ← α·a + (1 − α)·g                      running mean of g (centered only)
    d ← √s + ε,  or  √(s − a²) + ε centered  (an estimate of g's variance)
    b ← μ·b + g/d;  θ ← θ − lr·b            with momentum μ > 0
    θ ← θ − lr·g/d                           without
"""
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
        xp = p.device.xp
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        if not state:
            state["step"] = 0
            self._buffer(p, state, "square_avg")
            if momentum > 0:
                self._buffer(p, state, "momentum_buffer")
            if group["centered"]:
                self._buffer(p, state, "grad_avg")
        state["step"] += 1
        s = state["square_avg"].array
        g = self._gradient(p, grad, group["maximize"], group["weight_decay"])

        work = self._scratch(p, 1)
        s *= alpha                                            # s ← α·s + (1 − α)·g²
        xp.multiply(g, g, out=work)
        work *= 1 - alpha
        s += work
        if group["centered"]:
            a = self._buffer(p, state, "grad_avg")            # a ← a + (1 − α)·(g − a)
            xp.subtract(g, a, out=work)
            work *= 1 - alpha
            a += work
            xp.multiply(a, a, out=work)                       # d ← √(s − a²) + ε
            xp.subtract(s, work, out=work)
            denominator = xp.sqrt(work, out=work)
        else:
            denominator = xp.sqrt(s, out=work)                # d ← √s + ε
        denominator += eps

        if momentum > 0:
            b = self._buffer(p, state, "momentum_buffer")     # b ← μ·b + g/d
            b *= momentum
            b += xp.divide(g, denominator, out=work)
            update = xp.multiply(b, -lr, out=work)            # θ ← θ − lr·b
        else:
            update = xp.divide(g, denominator, out=work)      # θ ← θ − lr·g/d
            update *= -lr
        p.array += update
