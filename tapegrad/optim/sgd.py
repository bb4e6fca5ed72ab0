"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

For each parameter θ with gradient ∇, at step t (λ weight_decay, μ momentum, τ dampening):

    g ← ∇ + λ·θ                        (−∇ + λ·θ with maximize)
    b ← g  at t = 1,  else  b ← μ·b + (1 − τ)·g      (only with momentum μ ≠ 0)
    d ← g + μ·b  (nesterov),  b  (momentum),  g  (no momentum)
    θ ← θ − lr·d

As in PyTorch, the buffer b starts as the first gradient itself, and lr multiplies the
whole step (Sutskever et al. put lr inside b; with a constant lr the two agree).
"""
from .. import kernels
from .optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)"""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative(options, "lr", "momentum", "weight_decay")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"Nesterov momentum requires a momentum and zero dampening, got "
                             f"momentum={options['momentum']}, dampening={options['dampening']}")

    def _update(self, p, grad, state, group):
        xp = p.device.xp
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        g = self._gradient(p, grad, group["maximize"], group["weight_decay"])
        direction = g
        if momentum != 0:
            first_step = state.get("momentum_buffer") is None
            b = self._buffer(p, state, "momentum_buffer")
            if first_step:
                xp.copyto(b, g)                               # b ← g
            else:
                b *= momentum                                 # b ← μ·b + (1 − τ)·g
                if dampening == 0:
                    b += g
                else:
                    b += xp.multiply(g, 1 - dampening, out=self._scratch(p, 1))
            if group["nesterov"]:
                direction = xp.multiply(b, momentum, out=self._scratch(p, 1))
                direction += g                                # d ← g + μ·b
            else:
                direction = b
        kernels.add_scaled(xp, p.array, direction, -lr)      # θ ← θ − lr·d, in one pass
