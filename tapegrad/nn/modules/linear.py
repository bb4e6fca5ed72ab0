"""Affine layers: ``Identity``, ``Linear`` (y = x Wᵀ + b), ``Bilinear`` (yₒ = x₁ᵀ Wₒ x₂ + bₒ)."""
import math

from ... import creation
from .. import functional as F, init
from ..module import Module
from ..parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (ignores any constructor arguments): a placeholder layer."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``Linear(in_features, out_features, bias=True)``: y = x Wᵀ + b.

    ``weight`` has shape (out_features, in_features), PyTorch's layout, and starts as
    U(-1/√in_features, 1/√in_features) (kaiming_uniform_ with a=√5); ``bias`` likewise.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(creation.empty((out_features, in_features), device=device,
                                               dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_ with a=√5 gives bound = √(6 / (1 + 5)) / √fan_in = 1/√fan_in.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        shape = getattr(input, "shape", None)
        if shape is None or len(shape) == 0 or shape[-1] != self.in_features:
            raise RuntimeError(f"{self._get_name()}(in_features={self.in_features}, "
                               f"out_features={self.out_features}) got an input of shape "
                               f"{tuple(shape) if shape is not None else type(input).__name__}: "
                               f"its last dimension must be {self.in_features}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``Bilinear(in1_features, in2_features, out_features, bias=True)``:
    yₒ = x₁ᵀ Wₒ x₂ + bₒ, with ``weight`` (out, in1, in2), initialised U(-1/√in1, 1/√in1)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(creation.empty((out_features, in1_features, in2_features),
                                               device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        for name, x, size in (("input1", input1, self.in1_features),
                              ("input2", input2, self.in2_features)):
            shape = getattr(x, "shape", None)
            if shape is None or len(shape) == 0 or shape[-1] != size:
                raise RuntimeError(f"{self._get_name()}({self.extra_repr()}) got {name} of shape "
                                   f"{tuple(shape) if shape is not None else type(x).__name__}: "
                                   f"its last dimension must be {size}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


__all__ = ["Identity", "Linear", "Bilinear"]
