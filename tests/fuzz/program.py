"""A program: the seeded random source, the leaves and the steps drawn from it.

The driver (``run.py``) draws its steps one by one; the judges replay it or a prefix of it.
"""
import numpy as np

from .generate import Context
from .compare import _show


class Program:
    def __init__(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.special_values = self.rng.random() < 0.4
        self.leaves = []
        self.steps = []

    def context(self, shape, dtype):
        ctx = Context(self.rng, shape, dtype, self.special_values)
        ctx.leaves = self.leaves
        return ctx

    def describe(self):
        lines = [f"seed {self.seed}:"]
        for i, leaf in enumerate(self.leaves):
            lines.append(f"  leaf{i}: {leaf.values.dtype} {leaf.view_shape} {leaf.layout} "
                         f"requires_grad={leaf.requires_grad} {_show(leaf.values)}")
        for step in self.steps:
            lines.append(f"  {step.entry.name}(*{step.args!r}, **{step.kwargs!r})")
        return "\n".join(lines)
