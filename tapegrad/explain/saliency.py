"""The simplest attributions: the gradient itself, and the gradient times the input.

Saliency (Simonyan et al. 2014): how much the explained output F changes per unit change
of each input element, |∂F/∂xᵢ|. InputXGradient (Shrikumar et al. 2016): xᵢ · ∂F/∂xᵢ,
which for a linear model F(x) = Σ wᵢxᵢ is exactly each element's contribution wᵢxᵢ.

Both take one forward and one backward pass over the whole batch (see _attribution.py
for why the gradient of the summed outputs is every example's own gradient).
"""
import numpy

from . import _attribution as A


class Saliency:
    """``Saliency(model).attribute(inputs, target=None, abs=True)``: ∂F/∂x (its absolute
    value by default), with the inputs' shape, dtype and device."""

    def __init__(self, model):
        if not callable(model):
            raise TypeError(f"Saliency: model must be callable, got {type(model).__name__}")
        self.model = model

    def attribute(self, inputs, target=None, abs=True):
        gradient = _gradient("Saliency", self.model, inputs, target)
        if abs:
            gradient = A.result(gradient.device.xp.abs(gradient.array), inputs)
        return gradient


class InputXGradient:
    """``InputXGradient(model).attribute(inputs, target=None)``: x · ∂F/∂x."""

    def __init__(self, model):
        if not callable(model):
            raise TypeError(f"InputXGradient: model must be callable, got "
                            f"{type(model).__name__}")
        self.model = model

    def attribute(self, inputs, target=None):
        gradient = _gradient("InputXGradient", self.model, inputs, target)
        return A.result(gradient.array * inputs.array, inputs)


def _gradient(op, model, inputs, target):
    """∂F/∂x of the whole batch, as a tensor with the inputs' shape, dtype and device."""
    inputs = A.check_inputs(op, inputs)
    rows, _ = A.prepared(op, model, inputs)
    n = inputs.shape[0]
    target = A.Target.parse(op, target, n)
    gradient = A.input_gradients(op, model, rows, target, numpy.arange(n))
    return A.result(gradient, inputs)
