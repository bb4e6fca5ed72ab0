"""Adagrad: each coordinate's step shrinks with the sum of all its squared gradients so far.

For each parameter θ with gradient ∇, at step t = 1, 2, … (λ weight_decay):

    g ← ∇ + λ·θ                                  (−∇ + λ·θ with maximize)
    lr_t ← lr / (1 + (t − 1)·lr_decay)
    s ← s + g²                                   s starts at initial_accumulator_value
    θ ← θ − lr_t · g / (√s + ε)

Coordinates that have seen large gradients get small steps, rarely-updated ones large steps.
"""
from .. import kernels
from .optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, *, maximize=False)"""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)
        # As in PyTorch the state exists from the start, so state_dict() shows it before any step.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    def _check_options(self, options):
        check_non_negative(options, "lr", "lr_decay", "weight_decay",
                           "initial_accumulator_value", "eps")

    def _init_state(self, p, state, group):
        state["step"] = 0
        self._buffer(p, state, "sum", fill=group["initial_accumulator_value"])

    def _update(self, p, grad, state, group):
        if not state:  # a parameter added with add_param_group after construction
            self._init_state(p, state, group)
        state["step"] += 1
        t = state["step"]
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        # the whole rule above in one pass over θ, ∇ and s (array operations off the cpu)
        kernels.adagrad_step(p.device.xp, p.array, grad, state["sum"].array, lr=lr_t,
                             weight_decay=group["weight_decay"], eps=group["eps"],
                             maximize=group["maximize"])
