"""Activation functions: relu, leaky_relu, prelu, elu, selu, celu, gelu, silu, mish,
sigmoid, tanh, softmax, softmin, log_softmax, softplus, hardtanh, relu6, hardsigmoid,
hardswish, logsigmoid, softsign, softshrink, hardshrink, tanhshrink, threshold, glu.

Each is a composition of tensor operations, so its gradient comes from theirs. Two
patterns recur:

* Piecewise functions use ``where(condition, a, b)``, whose backward sends the gradient
  to the chosen branch only. The unchosen branch is still computed, so it must stay
  finite (an ``exp`` that overflows there would give 0·inf = nan in backward): its input
  is clamped to the region where it is chosen.
* Where PyTorch defines the derivative at a kink (relu'(0) = 0, leaky_relu'(0) = slope,
  elu'(0) = alpha, hardtanh' = 0 at the bounds), the condition picks the branch that gives it.

``inplace=True`` (relu, leaky_relu, elu, selu, celu, silu, mish, hardtanh, relu6,
hardsigmoid, hardswish, threshold) behaves as in PyTorch:
the input tensor is overwritten and returned. Here the result is computed out of
place and written back with ``copy_``, which applies autograd's in-place rules (refused
on a leaf that requires grad; an op that saved the old values notices at backward).
When gradients are recorded, the result is computed from a clone, so that our own
op does not count as one that saved the old values. It saves no memory: it is there
so that PyTorch code runs unchanged.
"""
import warnings

from ...autograd import grad_mode, ops
from ...autograd.ops.arithmetic import where
from ...autograd.ops.inplace import check_inplace_allowed
from ...autograd.ops.reduction import single_dim
from ...dtypes import wrap_integer
from .checks import require_float, require_tensor



def _refuse_bool(op, input):
    """relu and hardtanh keep integer dtypes but, as in PyTorch, refuse bool."""
    require_tensor(op, "input", input)
    if input.dtype.name == "bool":
        raise TypeError(f"{op}: bool inputs are not supported (PyTorch refuses them too); "
                        f"convert with .float() or .long()")
    return input


def _apply(op, input, inplace, compute):
    """``compute(input)``, or with ``inplace=True`` the same values written into ``input``."""
    require_tensor(op, "input", input)
    if not inplace:
        return compute(input)
    check_inplace_allowed(input, f"{op}(inplace=True)")
    recording = grad_mode.is_grad_enabled() and input.requires_grad
    return input.copy_(compute(input.clone() if recording else input))


# -- rectifiers -----------------------------------------------------------------------------
def relu(input, inplace=False):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0"""
    return _apply("relu", _refuse_bool("relu", input), inplace, lambda x: x.relu())


def relu_(input):
    """relu, in place"""
    return relu(input, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """y = x where x > 0, else negative_slope·x;  dy/dx = 1 where x > 0, else negative_slope"""
    return _apply("leaky_relu", require_float("leaky_relu", input), inplace,
                  lambda x: where(x > 0, x, x * negative_slope))


def leaky_relu_(input, negative_slope=0.01):
    """leaky_relu, in place"""
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    """y = x where x > 0, else α(eˣ - 1);  dy/dx = 1 where x > 0, else αeˣ"""
    return _apply("elu", require_float("elu", input), inplace,
                  lambda x: ops.activation.elu(x, alpha, from_result=inplace))   # one operation


def elu_(input, alpha=1.0):
    """elu, in place"""
    return elu(input, alpha, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """y = min(max(x, min_val), max_val);  dy/dx = 1 where min_val < x < max_val, else 0
    (0 at the bounds themselves, as PyTorch: unlike clamp, whose gradient is 1 there;
    0 at NaN, as PyTorch's vectorised kernel gives)"""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    _refuse_bool("hardtanh", input)
    if input.dtype.name == "uint8" and min_val < 0:   # (-1 would wrap to 255 in clamp)
        raise RuntimeError(f"hardtanh: cannot do hardtanh on an unsigned type with negative "
                           f"limits (min_val={min_val}), as in PyTorch")
    if not input.dtype.is_floating_point:   # integers stay integers, as in PyTorch
        min_val, max_val = int(min_val), int(max_val)
    def compute(x):
        # float16 is compared in float32, as PyTorch's kernel: x = float16(2.1) = 2.0996 lies
        # inside max_val=2.1 (float16 would round the bound onto x and call it the bound)
        wide = x.detach().float() if x.dtype.itemsize == 2 else x
        inside = (wide > min_val) & (wide < max_val)
        bounds = x.detach().clamp(min_val, max_val)   # a constant: no gradient outside
        return where(inside, x, bounds)
    return _apply("hardtanh", input, inplace, compute)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """hardtanh, in place"""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """y = min(max(x, 0), 6);  dy/dx = 1 where 0 < x < 6, else 0"""
    return hardtanh(input, 0.0, 6.0, inplace)


def prelu(input, weight):
    """y = x where x > 0, else a·x, with a learnt slope per channel (dim 1) or one for all;
    dy/dx = 1 where x > 0, else a;  dy/da = 0 where x > 0, else x"""
    require_tensor("prelu", "input", input)
    require_tensor("prelu", "weight", weight)
    require_float("prelu", input)
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: expected weight to be a scalar or 1-d tensor, got shape "
                           f"{tuple(weight.shape)}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"prelu: input ({input.dtype.name}) and weight ({weight.dtype.name}) "
                           f"must have the same dtype (PyTorch does not promote here either)")
    count, channels = weight.numel(), (input.shape[1] if input.ndim >= 2 else 1)
    if count not in (1, channels):
        raise RuntimeError(f"prelu: weight has {count} values but the input of shape "
                           f"{tuple(input.shape)} has {channels} channels (dim 1); give one "
                           f"value or one per channel")
    per_channel = (channels,) + (1,) * (input.ndim - 2)   # broadcast along dim 1
    slope = weight.reshape(()) if count == 1 else weight.reshape(per_channel)
    # a·(0 where x > 0, else x): dy/da is 0 there even at x = ∞ (∞·0 would be NaN), and
    # dy/dx is a at NaN, as PyTorch (a clamp's slope would be 0 there)
    return where(input > 0, input, slope * where(input > 0, 0.0, input))


def threshold(input, threshold, value, inplace=False):
    """y = x where x > threshold, else value;  dy/dx = 1 where x > threshold, else 0
    (integer tensors stay integers: value is truncated to their dtype, as in PyTorch)"""
    return _thresholded(input, threshold, value, inplace)


def threshold_(input, threshold, value):
    """threshold, in place"""
    return _thresholded(input, threshold, value, inplace=True)


def _thresholded(input, limit, value, inplace):
    _refuse_bool("threshold", input)
    limit, value = _number("threshold", "threshold", limit), _number("threshold", "value", value)
    xp = input.device.xp
    if input.dtype.is_floating_point:
        info = xp.finfo(input.array.dtype)
        _fits("value", value, input.dtype, info)
        # a threshold beyond the dtype's range compares as PyTorch's wider one does: above
        # every finite x (but not +∞), below every x but -∞
        if abs(limit) != float("inf") and abs(limit) > float(info.max):
            limit = float(info.max) if limit > 0 else -float("inf")
    else:   # an integer tensor takes both numbers in its dtype, modulo 2ⁿ as PyTorch
        info = xp.iinfo(input.array.dtype)
        for name, number in (("threshold", limit), ("value", value)):
            _fits(name, number, input.dtype, info)
        limit, value = (wrap_integer(int(n), input.array.dtype) for n in (limit, value))
    def compute(x):
        # float16 is compared in float32, as PyTorch's kernel: x = 2.1016 lies above the
        # threshold 2.1008 (float16 would round the threshold onto x, and replace x)
        wide = x.detach().float() if x.dtype.itemsize == 2 and x.dtype.is_floating_point else x
        return where(wide <= limit, value, x)
    return _apply("threshold", input, inplace, compute)


def _fits(name, number, dtype, info):
    """PyTorch refuses a threshold or value beyond the input dtype's range (±∞ and NaN fit
    floats; -255 to 255 fit uint8 as ints, negative ones wrapping around, but -1.5 does not)."""
    if info.dtype.kind == "f" and (number != number or abs(number) == float("inf")):
        return
    wraps = info.dtype.kind == "u" and isinstance(number, int)
    low = -float(info.max) if wraps else float(info.min)
    if not low <= number <= float(info.max):
        raise RuntimeError(f"threshold: {name} {number!r} cannot be converted to "
                           f"{dtype.name} without overflow, as in PyTorch")


def _number(op, name, value):
    """A Python number (or a 0-d tensor that does not require grad, read as its number, as
    PyTorch takes it: no gradient reaches it)."""
    if hasattr(value, "shape") and value.ndim == 0 and not value.requires_grad:
        return value.item()
    if isinstance(value, (bool, int, float)):
        return value
    shape = (f" of shape {tuple(value.shape)}{' that requires grad' * value.requires_grad}"
             if hasattr(value, "shape") else "")
    raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}{shape}")


# -- smooth units ---------------------------------------------------------------------------
def gelu(input, approximate="none"):
    """y = x·Φ(x) = x·(1 + erf(x/√2))/2 (Φ the standard normal CDF);
    dy/dx = Φ(x) + x·φ(x), φ(x) = e^{-x²/2}/√(2π).
    ``approximate='tanh'``: y = x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2"""
    require_float("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got "
                       f"{approximate!r}")
    x = input if input.dtype.is_floating_point else input.float()
    return ops.activation.gelu(x, approximate)   # one operation (autograd/ops/activation.py)


def silu(input, inplace=False):
    """y = x·σ(x) (also called swish);  dy/dx = σ(x)(1 + x(1 - σ(x)))"""
    return _apply("silu", require_float("silu", input), inplace, ops.activation.silu)


def mish(input, inplace=False):
    """y = x·tanh(softplus(x));  dy/dx = t + x·σ(x)(1 - t²), t = tanh(softplus(x))"""
    return _apply("mish", require_float("mish", input), inplace, ops.activation.mish)


# the constants of "Self-Normalizing Neural Networks" (Klambauer et al., 2017): with them a
# layer's outputs keep mean 0 and variance 1 when its inputs have them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """y = s·x where x > 0, else s·α(eˣ - 1) (α ≈ 1.6733, s ≈ 1.0507);
    dy/dx = s where x > 0, else s·α·eˣ"""
    return _apply("selu", require_float("selu", input), inplace,
                  lambda x: ops.activation.elu(x, SELU_ALPHA, from_result=inplace,
                                               scale=SELU_SCALE))   # one operation


def selu_(input):
    """selu, in place"""
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """y = x where x > 0, else α(e^{x/α} - 1);  dy/dx = 1 where x > 0, else e^{x/α}"""
    require_float("celu", input)
    if alpha == 0:
        raise RuntimeError("celu: alpha cannot be 0 (x is divided by it), as in PyTorch")
    return _apply("celu", input, inplace,
                  lambda x: ops.activation.elu(x, alpha, from_result=inplace,
                                               input_scale=1 / alpha))   # one operation


def celu_(input, alpha=1.0):
    """celu, in place"""
    return celu(input, alpha, inplace=True)


def hardsigmoid(input, inplace=False):
    """y = min(max(x + 3, 0), 6)/6, a piecewise-linear σ;  dy/dx = 1/6 where -3 < x < 3, else 0"""
    return _apply("hardsigmoid", require_float("hardsigmoid", input), inplace,
                  ops.activation.hardsigmoid)


def hardswish(input, inplace=False):
    """y = x·min(max(x + 3, 0), 6)/6, a piecewise SiLU;  dy/dx = 0 where x ≤ -3,
    x/3 + 1/2 where -3 < x < 3, else 1"""
    return _apply("hardswish", require_float("hardswish", input), inplace,
                  ops.activation.hardswish)


def softsign(input):
    """y = x/(1 + |x|);  dy/dx = 1/(1 + |x|)²"""
    _refuse_bool("softsign", input)
    return input / (input.abs() + 1)


def tanhshrink(input):
    """y = x - tanh x;  dy/dx = tanh² x"""
    _refuse_bool("tanhshrink", input)
    return input - input.tanh()


def hardshrink(input, lambd=0.5):
    """y = x where |x| > λ, else 0;  dy/dx = 1 where |x| > λ, else 0"""
    require_float("hardshrink", input)
    return where((input >= -lambd) & (input <= lambd), 0.0, input)


def softshrink(input, lambd=0.5):
    """y = x - λ where x > λ, x + λ where x < -λ, else 0;  dy/dx = 1 where |x| > λ, else 0"""
    require_float("softshrink", input)
    if not lambd >= 0:
        raise RuntimeError(f"softshrink: lambd must be at least 0, got {lambd}")
    # (a NaN is in neither band: x + λ passes it on, as PyTorch)
    inside = (input >= -lambd) & (input <= lambd)
    if input.dtype.itemsize == 2:
        # float16, as PyTorch: its forward compares and shifts in float32 and rounds once
        # (2.1016 - 2.1 is 0.00156, not 2.1016 - 2.0996), its backward compares with λ
        # rounded to float16, so near λ a shrunk value can have a zero gradient
        wide = input.float()
        shrunk = where(wide > lambd, wide - lambd, wide + lambd).to(input.dtype)
        kept = ~((wide >= -lambd) & (wide <= lambd))   # (λ rounded is at least as wide)
        return where(inside, where(kept, shrunk, 0.0).detach(), shrunk)
    shrunk = where(input > lambd, input - lambd, input + lambd)
    return where(inside, 0.0, shrunk)


def glu(input, dim=-1):
    """The gated linear unit: a·σ(b), a and b the two halves of ``input`` along ``dim``;
    ∂/∂a = σ(b), ∂/∂b = a·σ(b)(1 - σ(b))"""
    require_tensor("glu", "input", input)
    if input.ndim == 0:
        raise RuntimeError("glu: does not support a 0-d input: there is no dimension to halve")
    dim, = single_dim(input, dim, "glu")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} of the "
                           f"input of shape {tuple(input.shape)} is size {size}")
    require_float("glu", input)
    half = input.dtype.name == "float16"   # computed in float32 and rounded once, as PyTorch
    wide = input.float() if half else input
    a, b = wide.chunk(2, dim)
    y = ops.activation.glu(a, b)
    return y.to(input.dtype) if half else y


def sigmoid(input):
    """y = 1/(1 + e⁻ˣ);  dy/dx = y(1 - y)"""
    return require_tensor("sigmoid", "input", input).sigmoid()


def tanh(input):
    """y = tanh x;  dy/dx = 1 - y²"""
    return require_tensor("tanh", "input", input).tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """y = log(1 + e^{βx})/β, and y = x where βx > threshold (where the two agree to
    within e^{-threshold});  dy/dx = σ(βx), and 1 above the threshold"""
    require_float("softplus", input)
    return ops.activation.softplus(input, beta, threshold)   # one operation (autograd/ops/activation.py)


def logsigmoid(input):
    """y = log σ(x) = -log(1 + e⁻ˣ);  dy/dx = 1 - σ(x) = σ(-x)

    Computed as min(x, 0) - log(1 + e^{-|x|}): the exponent is never positive (no overflow,
    exact at ±1e4). One operation (autograd/ops/activation.py), so that an infinite
    gradient is multiplied by σ(-x) once, as in PyTorch.
    """
    require_float("logsigmoid", input)
    return ops.activation.logsigmoid(input)


# -- normalised exponentials ----------------------------------------------------------------
def _get_softmax_dim(name, ndim, stacklevel):
    """PyTorch's deprecated implicit dim: 0 for 0-, 1- and 3-d inputs, else 1, with a warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """yᵢ = e^{xᵢ}/Σₖ e^{xₖ} along ``dim`` (each slice sums to 1);  ∂L/∂xᵢ = yᵢ(gᵢ - Σₖ gₖyₖ)"""
    require_tensor("softmax", "input", input)
    if dim is None:
        dim = _get_softmax_dim("softmax", input.ndim, _stacklevel)
    return input.softmax(dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """y = softmax(-x) along ``dim``: yᵢ = e^{-xᵢ}/Σₖ e^{-xₖ};  ∂L/∂xᵢ = -yᵢ(gᵢ - Σₖ gₖyₖ)"""
    require_tensor("softmin", "input", input)
    if input.dtype.name == "bool":
        raise TypeError("softmin: bool inputs are not supported (it negates them, which "
                        "PyTorch refuses too); convert with .float()")
    if dim is None:
        dim = _get_softmax_dim("softmin", input.ndim, _stacklevel)
    # checked here, before the negation, so that an error names softmin, not softmax
    single_dim(input, dim, "softmin")
    result_dtype = input.dtype if dtype is None else dtype
    if not getattr(result_dtype, "is_floating_point", True):
        raise RuntimeError(f"softmin: needs a floating point tensor, got {result_dtype}; pass "
                           f"dtype=tapegrad.float32 or convert it with .float()")
    return (-input).softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """yᵢ = xᵢ - log Σₖ e^{xₖ} along ``dim``;  ∂L/∂xᵢ = gᵢ - e^{yᵢ} Σₖ gₖ"""
    require_tensor("log_softmax", "input", input)
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "prelu", "elu", "elu_", "selu",
           "selu_", "celu", "celu_", "hardtanh", "hardtanh_", "relu6", "hardsigmoid",
           "hardswish", "threshold", "threshold_", "gelu", "silu", "mish", "sigmoid", "tanh",
           "softplus", "logsigmoid", "softsign", "tanhshrink", "hardshrink", "softshrink", "glu",
           "softmax", "softmin", "log_softmax"]
