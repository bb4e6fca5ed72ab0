"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, SELU, CELU, GELU, SiLU, Mish, Sigmoid,
Tanh, Softmax, Softmin, LogSoftmax, Softplus, Hardtanh, ReLU6, Hardsigmoid, Hardswish,
LogSigmoid, Softsign, Softshrink, Hardshrink, Tanhshrink, Threshold, GLU.

Each holds its options and calls its function in ``nn.functional`` (the math, and the
meaning of ``inplace=True``, are documented there); only PReLU has a parameter (its slopes).
"""
import warnings

from ... import creation
from .. import init
from ..functional import activation as F
from ..module import Module
from ..parameter import Parameter


def _inplace_repr(inplace, first=False):
    """PyTorch shows inplace only when it is True: "" or ", inplace=True"."""
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class ReLU(Module):
    """``ReLU(inplace=False)``: y = max(x, 0)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace, first=True)


class LeakyReLU(Module):
    """``LeakyReLU(negative_slope=0.01, inplace=False)``: y = x where x > 0, else slope·x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_repr(self.inplace)}"


class ELU(Module):
    """``ELU(alpha=1.0, inplace=False)``: y = x where x > 0, else α(eˣ - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_repr(self.inplace)}"


class GELU(Module):
    """``GELU(approximate='none')``: y = x·Φ(x) (exact, with erf), or its tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``SiLU(inplace=False)``: y = x·σ(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace, first=True)


class Sigmoid(Module):
    """``Sigmoid()``: y = 1/(1 + e⁻ˣ)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """``Tanh()``: y = tanh x."""

    def forward(self, input):
        return F.tanh(input)


class LogSigmoid(Module):
    """``LogSigmoid()``: y = log σ(x), computed without overflow."""

    def forward(self, input):
        return F.logsigmoid(input)


class Softmax(Module):
    """``Softmax(dim=None)``: each slice along ``dim`` becomes positive and sums to 1
    (give ``dim``: without it PyTorch's deprecated implicit choice applies, with a warning)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``LogSoftmax(dim=None)``: y = x - log Σ eˣ along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softplus(Module):
    """``Softplus(beta=1.0, threshold=20.0)``: y = log(1 + e^{βx})/β (x where βx > threshold)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)``: x clipped to [min_val, max_val].

    (``min_value`` and ``max_value`` are PyTorch's deprecated spellings of the bounds.)
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and rename to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and rename to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        if not max_val > min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater than "
                             f"min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_repr(self.inplace)}"


class ReLU6(Hardtanh):
    """``ReLU6(inplace=False)``: y = min(max(x, 0), 6) (a Hardtanh from 0 to 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace, first=True)


class _Inplace(Module):
    """An activation whose only option is ``inplace`` (SELU, Mish, Hardsigmoid, Hardswish)."""
    function = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).function(input, inplace=self.inplace)


class SELU(_Inplace):
    """``SELU(inplace=False)``: y = s·x where x > 0, else s·α(eˣ - 1) (α ≈ 1.6733, s ≈ 1.0507)."""
    function = F.selu

    def extra_repr(self):
        return _inplace_repr(self.inplace, first=True)


class Mish(_Inplace):
    """``Mish(inplace=False)``: y = x·tanh(softplus(x))."""
    function = F.mish

    def extra_repr(self):
        return _inplace_repr(self.inplace, first=True)


class Hardsigmoid(_Inplace):
    """``Hardsigmoid(inplace=False)``: y = min(max(x + 3, 0), 6)/6."""
    function = F.hardsigmoid


class Hardswish(_Inplace):
    """``Hardswish(inplace=False)``: y = x·min(max(x + 3, 0), 6)/6."""
    function = F.hardswish


class CELU(Module):
    """``CELU(alpha=1.0, inplace=False)``: y = x where x > 0, else α(e^{x/α} - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_repr(self.inplace)}"


class PReLU(Module):
    """``PReLU(num_parameters=1, init=0.25)``: y = x where x > 0, else a·x, with a learnt:
    one slope for all channels, or one per channel (``num_parameters`` = the input's dim 1)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(creation.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Threshold(Module):
    """``Threshold(threshold, value, inplace=False)``: y = x where x > threshold, else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_repr(self.inplace)}"


class Softsign(Module):
    """``Softsign()``: y = x/(1 + |x|)."""

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """``Tanhshrink()``: y = x - tanh x."""

    def forward(self, input):
        return F.tanhshrink(input)


class Hardshrink(Module):
    """``Hardshrink(lambd=0.5)``: y = x where |x| > λ, else 0."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Module):
    """``Softshrink(lambd=0.5)``: x moved λ towards 0, and 0 where |x| ≤ λ."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class GLU(Module):
    """``GLU(dim=-1)``: a·σ(b), a and b the halves of the input along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """``Softmin(dim=None)``: softmax of -x along ``dim`` (the smallest gets the most)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "LogSigmoid", "Softmax", "Softmin", "LogSoftmax", "Softplus",
           "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "Softsign", "Tanhshrink",
           "Hardshrink", "Softshrink", "Threshold", "GLU"]
