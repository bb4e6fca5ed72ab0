"""Shared test tools: float64 leaves of many layouts, and gradcheck cases.

A gradcheck ``Case`` names the operation it checks. Running it checks the backward
(and, unless ``gradgrad=False``, the second derivative) against finite differences,
and checks that the named operation really is on the tape, so a mislabelled case
fails. ``tests/autograd/test_registry.py`` fails when an operation of tapegrad has no
case at all.
"""
import numpy as np

import tapegrad as tg
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck

_rng = np.random.default_rng(1234)


def values(*shape, low=-2.0, high=2.0):
    return _rng.uniform(low, high, size=shape)


def leaf(*shape, low=-2.0, high=2.0):
    """A float64 leaf that requires grad, with values drawn from [low, high)."""
    return tg.tensor(values(*shape, low=low, high=high), dtype=tg.float64, requires_grad=True)


def positive(*shape):
    """A float64 leaf with values in [0.5, 2) (for log, sqrt, pow…)."""
    return leaf(*shape, low=0.5, high=2.0)


def noncontiguous(*shape, low=-2.0, high=2.0):
    """A float64 leaf of ``shape`` whose memory is a transposed view (not C-contiguous)."""
    base = values(*reversed(shape), low=low, high=high) if len(shape) > 1 else values(
        shape[0] * 2, low=low, high=high)
    array = base.T if len(shape) > 1 else base[::2]
    assert not array.flags.c_contiguous
    return tg.from_numpy(array).requires_grad_()


def constant(*shape, low=-2.0, high=2.0):
    """A float64 tensor that does not require grad."""
    return tg.tensor(values(*shape, low=low, high=high), dtype=tg.float64)


def ops_on_tape(outputs):
    """The names of every operation recorded behind ``outputs``."""
    if isinstance(outputs, tg.Tensor):
        outputs = (outputs,)
    seen, stack, names = set(), [o.grad_fn for o in outputs if o.grad_fn is not None], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        names.add(node.op)
        stack.extend(edge[0] for edge in node.next_edges if edge is not None)
    return names


class Case:
    """``fn(*inputs)`` checked by gradcheck; ``op`` is the operation it is about."""

    def __init__(self, op, fn, inputs, gradgrad=True, name="", atol=1e-5, rtol=1e-3):
        self.op, self.fn, self.inputs = op, fn, tuple(inputs)
        self.gradgrad, self.name, self.atol, self.rtol = gradgrad, name, atol, rtol

    def __repr__(self):
        shapes = ",".join("x".join(map(str, t.shape)) or "0d" for t in self.inputs
                          if isinstance(t, tg.Tensor))
        return f"{self.op}[{self.name or shapes}]"

    def check(self):
        recorded = ops_on_tape(self.fn(*self.inputs))
        assert self.op in recorded, f"case {self!r} does not record '{self.op}' (got {recorded})"
        assert gradcheck(self.fn, self.inputs, atol=self.atol, rtol=self.rtol)
        if self.gradgrad:
            assert gradgradcheck(self.fn, self.inputs, atol=self.atol, rtol=self.rtol)
