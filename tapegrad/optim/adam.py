"""Adam: steps scaled by running averages of the gradient and of its square.

For each parameter θ with gradient ∇, at step t = 1, 2, …:

    g ← ∇ + λ·θ   (coupled L2 weight decay λ; −∇ with maximize)
        or, with decoupled_weight_decay (AdamW):  θ ← θ·(1 − lr·λ)  and  g ← ∇
    m ← β₁·m + (1 − β₁)·g                  first moment
    v ← β₂·v + (1 − β₂)·g²                 second moment
    v_max ← max(v_max, v)                   (amsgrad only; the max of the raw v)
    θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)      (v_max in place of v with amsgrad)

m and v start at zero; dividing by 1 − βᵗ undoes the pull toward zero of the first steps.
"""
from .. import kernels
from .optimizer import Optimizer, check_betas, check_non_negative


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    *, maximize=False, decoupled_weight_decay=False)"""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative(options, "lr", "eps")
        check_betas(options)
        check_non_negative(options, "weight_decay")

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
        state["step"] += 1
        m = self._buffer(p, state, "exp_avg")
        v = self._buffer(p, state, "exp_avg_sq")
        v_max = self._buffer(p, state, "max_exp_avg_sq") if group["amsgrad"] else None
        beta1, beta2 = group["betas"]
        # the whole rule above in one pass over θ, ∇, m, v (array operations off the cpu)
        kernels.adam_step(p.device.xp, p.array, grad, m, v, v_max, step=state["step"],
                          lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                          weight_decay=group["weight_decay"],
                          decoupled_weight_decay=group["decoupled_weight_decay"],
                          maximize=group["maximize"])
