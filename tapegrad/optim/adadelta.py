"""Adadelta: steps sized by the ratio of recent update sizes to recent gradient sizes.

For each parameter θ with gradient ∇ (ρ decay rate, λ weight_decay):

    g ← ∇ + λ·θ                                  (−∇ + λ·θ with maximize)
    s ← ρ·s + (1 − ρ)·g²                          running mean of g²
    Δ ← √(u + ε) / √(s + ε) · g                   u: running mean of Δ² (before this step)
    u ← ρ·u + (1 − ρ)·Δ²
    θ ← θ − lr·Δ

The step has the units of θ (√u/√s carries them), so lr = 1.0 is the natural default.
"""
from .optimizer import Optimizer, check_non_negative, check_unit_interval


class Adadelta(Optimizer):
    """Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)"""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative(options, "lr")
        check_unit_interval(options, "rho")
        check_non_negative(options, "eps", "weight_decay")

    def _update(self, p, grad, state, group):
        xp = p.device.xp
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
        state["step"] += 1
        s = self._buffer(p, state, "square_avg")
        u = self._buffer(p, state, "acc_delta")
        g = self._gradient(p, grad, group["maximize"], group["weight_decay"])

        work, delta = self._scratch(p, 1), self._scratch(p, 2)
        s *= rho                                              # s ← ρ·s + (1 − ρ)·g²
        xp.multiply(g, g, out=work)
        work *= 1 - rho
        s += work
        std = xp.sqrt(xp.add(s, eps, out=work), out=work)     # √(s + ε)
        xp.add(u, eps, out=delta)                             # Δ ← √(u + ε) / √(s + ε) · g
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        u *= rho                                              # u ← ρ·u + (1 − ρ)·Δ²
        xp.multiply(delta, delta, out=work)
        work *= 1 - rho
        u += work
        delta *= -group["lr"]                                 # θ ← θ − lr·Δ
        p.array += delta
