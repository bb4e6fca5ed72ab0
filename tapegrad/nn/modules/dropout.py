"""Dropout layers: ``Dropout`` (single elements) and ``Dropout2d`` (whole channels).

They zero activations at random while ``training`` (scaling the survivors by 1/(1 - p))
and pass them through unchanged after ``model.eval()``.
"""
from ..functional.dropout import _check_p, dropout, dropout2d
from ..module import Module


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_p(type(self).__name__, p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """``Dropout(p=0.5)``: in training each element is zeroed with probability p and the
    others are multiplied by 1/(1 - p); in evaluation the input is returned unchanged."""

    def forward(self, input):
        return dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """``Dropout2d(p=0.5)`` for (N, C, H, W): whole channels (feature maps) of each sample are
    zeroed with probability p, the others multiplied by 1/(1 - p), in training only."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training, self.inplace)


__all__ = ["Dropout", "Dropout2d"]
