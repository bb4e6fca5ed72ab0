"""Adamax: Adam with the second moment replaced by a running maximum of |g| (the ∞-norm).

For each parameter θ with gradient ∇, at step t = 1, 2, … (λ weight_decay):

    g ← ∇ + λ·θ                                  (−∇ + λ·θ with maximize)
    m ← β₁·m + (1 − β₁)·g
    u ← max(β₂·u, |g| + ε)
    θ ← θ − lr/(1 − β₁ᵗ) · m / u

u needs no bias correction: a maximum is not pulled toward its zero start.
"""
from .optimizer import Optimizer, check_betas, check_non_negative


class Adamax(Optimizer):
    """Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False)"""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative(options, "lr", "eps")
        check_betas(options)
        check_non_negative(options, "weight_decay")

    def _update(self, p, grad, state, group):
        xp = p.device.xp
        (beta1, beta2), eps = group["betas"], group["eps"]
        if not state:
            state["step"] = 0
        state["step"] += 1
        t = state["step"]
        m = self._buffer(p, state, "exp_avg")
        u = self._buffer(p, state, "exp_inf")
        g = self._gradient(p, grad, group["maximize"], group["weight_decay"])

        work = self._scratch(p, 1)
        xp.subtract(g, m, out=work)                           # m ← m + (1 − β₁)·(g − m)
        work *= 1 - beta1
        m += work
        u *= beta2                                            # u ← max(β₂·u, |g| + ε)
        xp.abs(g, out=work)
        work += eps
        xp.maximum(u, work, out=u)
        update = xp.divide(m, u, out=work)                    # θ ← θ − lr/(1 − β₁ᵗ) · m / u
        update *= -group["lr"] / (1 - beta1 ** t)
        p.array += update
