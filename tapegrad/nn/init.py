"""Initial values for weights: ``nn.init``, as in PyTorch.

Every function fills its tensor in place, keeps its dtype and device, and returns it.
The random ones draw from tapegrad's generators (``tapegrad.manual_seed`` makes them
repeat; pass ``generator=`` for a private stream). Writing into ``tensor.array`` puts
nothing on the tape, so they work on parameters that require grad, as if under no_grad.

The scaled initialisations keep the variance of activations (forward) or gradients
(backward) roughly constant from layer to layer. For a weight with ``fan_in`` inputs per
output and ``fan_out`` outputs per input:

* Xavier/Glorot (tanh, sigmoid):  std = gain · √(2 / (fan_in + fan_out))
* Kaiming/He (ReLU family):       std = gain / √fan        (fan = fan_in or fan_out)

and a uniform distribution U(-b, b) has that std when b = √3 · std.
"""
import math
import warnings

from ..autograd.tensor import Tensor
from ..random import rng_for

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps the std of activations unchanged through ``nonlinearity``:

    linear and conv: 1, sigmoid: 1, tanh: 5/3, relu: √2,
    leaky_relu: √(2 / (1 + negative_slope²)) (``param`` is the slope, default 0.01), selu: 3/4.
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): each is multiplied by the
    kernel's size (the receptive field), since every kernel position is one more input."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive_field = 1
    for size in tensor.shape[2:]:
        receptive_field *= size
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# -- writing values in place -------------------------------------------------------------------
def _check(tensor, op, floating=True):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{op}: expected a Tensor, got {type(tensor).__name__}")
    if floating and not tensor.dtype.is_floating_point:
        raise TypeError(f"nn.init.{op}: needs a floating point tensor, got {tensor.dtype}")


def _write(tensor, values, op):
    """Put ``values`` into the tensor's own memory (cast to its dtype) and bump its version."""
    tensor.array[...] = values
    tensor._version_counter.bump(op)
    return tensor


def _draw_dtype(tensor):
    # numpy draws float32 and float64 directly; float16 is drawn as float32, then cast.
    return tensor.array.dtype if tensor.array.dtype.itemsize >= 4 else "float32"


def _uniform(tensor, low, high, generator, op):
    rng = rng_for(tensor.device, generator)
    values = rng.random(tensor.array.shape, dtype=_draw_dtype(tensor))
    values *= high - low
    values += low
    return _write(tensor, values, op)


def _normal(tensor, mean, std, generator, op):
    rng = rng_for(tensor.device, generator)
    values = rng.standard_normal(tensor.array.shape, dtype=_draw_dtype(tensor))
    values *= std
    values += mean
    return _write(tensor, values, op)


# -- plain distributions and constants ---------------------------------------------------------
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples of U(a, b)."""
    _check(tensor, "uniform_")
    if a > b:
        raise ValueError(f"nn.init.uniform_: expects a <= b, got a={a}, b={b}")
    return _uniform(tensor, a, b, generator, "uniform_")


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std²)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"nn.init.normal_: std must be non-negative, got {std}")
    return _normal(tensor, mean, std, generator, "normal_")


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with samples of N(mean, std²) conditioned on lying in [a, b] (values drawn
    outside are drawn again)."""
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"nn.init.trunc_normal_: expects a < b, got a={a}, b={b}")

    def cdf(x):   # of the standard normal
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))
    accepted = cdf((b - mean) / std) - cdf((a - mean) / std) if std > 0 else float(a <= mean <= b)
    if accepted < 1e-4:
        raise ValueError(f"nn.init.trunc_normal_: [a, b] = [{a}, {b}] holds only a fraction "
                         f"{accepted:.2g} of N({mean}, {std}²); bring mean closer to [a, b]")
    rng = rng_for(tensor.device, generator)
    values = rng.standard_normal(tensor.array.shape, dtype="float64") * std + mean
    outside = (values < a) | (values > b)
    while outside.any():   # each round redraws only the rejected values
        values[outside] = rng.standard_normal(int(outside.sum()), dtype="float64") * std + mean
        outside = (values < a) | (values > b)
    return _write(tensor, values, "trunc_normal_")


def constant_(tensor, val):
    """Fill with the value ``val``."""
    _check(tensor, "constant_", floating=False)
    return _write(tensor, val, "constant_")


def ones_(tensor):
    return constant_(tensor, 1)


def zeros_(tensor):
    return constant_(tensor, 0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, zeros elsewhere)."""
    _check(tensor, "eye_", floating=False)
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    rows, cols = tensor.shape
    return _write(tensor, tensor.device.xp.eye(rows, cols, dtype=tensor.array.dtype), "eye_")


def dirac_(tensor, groups=1):
    """Fill a convolution weight (out, in, *kernel) so the convolution is the identity:
    a 1 at the kernel's centre for output channel i and input channel i (per group)."""
    _check(tensor, "dirac_", floating=False)
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups:
        raise ValueError(f"dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    n = min(out_per_group, tensor.shape[1])
    values = tensor.device.xp.zeros(tensor.array.shape, dtype=tensor.array.dtype)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(n):
            values[(g * out_per_group + d, d) + centre] = 1
    return _write(tensor, values, "dirac_")


# -- scaled initialisations ---------------------------------------------------------------------
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Fill with U(-b, b), b = gain · √(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound, generator, "xavier_uniform_")


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Fill with N(0, std²), std = gain · √(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _normal(tensor, 0.0, std, generator, "xavier_normal_")


def _kaiming_std(tensor, a, mode, nonlinearity, op):
    _check(tensor, op)
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill with U(-b, b), b = gain · √(3 / fan) (He et al., 2015); ``a`` is the negative
    slope of the leaky_relu that follows (gain = √(2 / (1 + a²)))."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound, generator, "kaiming_uniform_")


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill with N(0, std²), std = gain / √fan (He et al., 2015)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return _normal(tensor, 0.0, std, generator, "kaiming_normal_")


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013): the Q of the
    QR decomposition of a Gaussian matrix, with signs fixed so it is uniformly distributed.
    Dimensions after the first are flattened: the result, as (rows, cols), has orthonormal
    rows (rows ≤ cols) or columns (rows ≥ cols)."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    if tensor.numel() == 0:
        return tensor
    xp = tensor.device.xp
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    rng = rng_for(tensor.device, generator)
    flat = rng.standard_normal((rows, cols), dtype=_draw_dtype(tensor))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q *= xp.sign(xp.diagonal(r))   # makes the decomposition unique, and Q uniform (Haar)
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor.array.shape), "orthogonal_")


__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_"]
