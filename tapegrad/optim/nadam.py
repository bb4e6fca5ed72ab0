"""NAdam: Adam with Nesterov momentum, and a momentum schedule μ_t (Dozat).

For each parameter θ with gradient ∇, at step t = 1, 2, … (ψ momentum_decay, λ weight_decay):

    g ← ∇ + λ·θ   (−∇ with maximize; with decoupled_weight_decay: θ ← θ·(1 − lr·λ), g ← ∇)
    μ_t ← β₁·(1 − ½·0.96^(t·ψ)),   μ_{t+1} ← β₁·(1 − ½·0.96^((t+1)·ψ))
    Π_t ← μ_1·μ_2·…·μ_t                           (kept in state as mu_product)
    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
    d ← √(v / (1 − β₂ᵗ)) + ε
    θ ← θ − lr·(1 − μ_t)/(1 − Π_t) · g/d − lr·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d
"""
from .optimizer import Optimizer, check_betas, check_non_negative


class NAdam(Optimizer):
    """NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, maximize=False)"""

    _scalar_state = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative(options, "lr", "eps")
        check_betas(options)
        check_non_negative(options, "weight_decay", "momentum_decay")

    def _update(self, p, grad, state, group):
        xp = p.device.xp
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        psi = group["momentum_decay"]
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
        state["step"] += 1
        t = state["step"]
        m = self._buffer(p, state, "exp_avg")
        v = self._buffer(p, state, "exp_avg_sq")

        g = self._decayed_gradient(p, grad, group)

        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu                             # Π_t
        mu_product = state["mu_product"]

        work, update = self._scratch(p, 1), self._scratch(p, 2)
        xp.subtract(g, m, out=work)                           # m ← m + (1 − β₁)·(g − m)
        work *= 1 - beta1
        m += work
        v *= beta2                                            # v ← β₂·v + (1 − β₂)·g²
        xp.multiply(g, g, out=work)
        work *= 1 - beta2
        v += work
        denominator = xp.divide(v, 1 - beta2 ** t, out=work)  # d ← √(v / (1 − β₂ᵗ)) + ε
        xp.sqrt(denominator, out=denominator)
        denominator += eps

        xp.divide(g, denominator, out=update)                 # the gradient's part …
        update *= -lr * (1 - mu) / (1 - mu_product)
        p.array += update
        xp.divide(m, denominator, out=update)                 # … and the momentum's part
        update *= -lr * mu_next / (1 - mu_product * mu_next)
        p.array += update
