"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter).

For each parameter θ with gradient ∇ (−∇ with maximize), at step t = 1, 2, …:

    θ ← θ·(1 − lr·λ)                       the decay acts on θ directly …
    m ← β₁·m + (1 − β₁)·∇                  … so it never enters m and v
    v ← β₂·v + (1 − β₂)·∇²
    v_max ← max(v_max, v)                   (amsgrad only)
    θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

With Adam's coupled L2 penalty, λ·θ is divided by √v like the gradient, so parameters with
large gradients are barely decayed; here every parameter shrinks by the same factor.
"""
from .adam import Adam


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    *, maximize=False)"""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # even a state dict saved by Adam stays AdamW
            group["decoupled_weight_decay"] = True
