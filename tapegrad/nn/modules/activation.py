"""Activation layers: ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softmax, LogSoftmax,
Softplus, Hardtanh, ReLU6, LogSigmoid.

Each holds its options and calls its function in ``nn.functional`` (the math, and the
meaning of ``inplace=True``, are documented there); none has parameters.
"""
import warnings

from ..functional import activation as F
from ..module import Module


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


__all__ = ["ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "LogSigmoid",
           "Softmax", "LogSoftmax", "Softplus", "Hardtanh", "ReLU6"]
