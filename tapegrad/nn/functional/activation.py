"""Activation functions: relu, leaky_relu, elu, gelu, silu, sigmoid, tanh, softmax,
log_softmax, softplus, hardtanh, relu6, logsigmoid.

Each is a composition of tensor operations, so its gradient comes from theirs. Two
patterns recur:

* Piecewise functions use ``where(condition, a, b)``, whose backward sends the gradient
  to the chosen branch only. The unchosen branch is still computed, so it must stay
  finite (an ``exp`` that overflows there would give 0·inf = nan in backward): its input
  is clamped to the region where it is chosen.
* Where PyTorch defines the derivative at a kink (relu'(0) = 0, leaky_relu'(0) = slope,
  elu'(0) = alpha, hardtanh' = 0 at the bounds), the condition picks the branch that gives it.

``inplace=True`` (relu, leaky_relu, elu, silu, hardtanh, relu6) behaves as in PyTorch:
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
from .checks import require_tensor



def _require_float(op, input):
    """Smooth units are defined on floating-point tensors only, as in PyTorch."""
    require_tensor(op, "input", input)
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype.name} "
                        f"(PyTorch has no integer {op} either); convert it with .float()")
    return input


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
    return _apply("leaky_relu", _require_float("leaky_relu", input), inplace,
                  lambda x: where(x > 0, x, x * negative_slope))


def leaky_relu_(input, negative_slope=0.01):
    """leaky_relu, in place"""
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    """y = x where x > 0, else α(eˣ - 1);  dy/dx = 1 where x > 0, else αeˣ"""
    return _apply("elu", _require_float("elu", input), inplace,
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


# -- smooth units ---------------------------------------------------------------------------
def gelu(input, approximate="none"):
    """y = x·Φ(x) = x·(1 + erf(x/√2))/2 (Φ the standard normal CDF);
    dy/dx = Φ(x) + x·φ(x), φ(x) = e^{-x²/2}/√(2π).
    ``approximate='tanh'``: y = x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2"""
    _require_float("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got "
                       f"{approximate!r}")
    x = input if input.dtype.is_floating_point else input.float()
    return ops.activation.gelu(x, approximate)   # one operation (autograd/ops/activation.py)


def silu(input, inplace=False):
    """y = x·σ(x) (also called swish);  dy/dx = σ(x)(1 + x(1 - σ(x)))"""
    return _apply("silu", _require_float("silu", input), inplace, ops.activation.silu)


def sigmoid(input):
    """y = 1/(1 + e⁻ˣ);  dy/dx = y(1 - y)"""
    return require_tensor("sigmoid", "input", input).sigmoid()


def tanh(input):
    """y = tanh x;  dy/dx = 1 - y²"""
    return require_tensor("tanh", "input", input).tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """y = log(1 + e^{βx})/β, and y = x where βx > threshold (where the two agree to
    within e^{-threshold});  dy/dx = σ(βx), and 1 above the threshold"""
    _require_float("softplus", input)
    return ops.activation.softplus(input, beta, threshold)   # one operation (autograd/ops/activation.py)


def logsigmoid(input):
    """y = log σ(x) = -log(1 + e⁻ˣ);  dy/dx = 1 - σ(x) = σ(-x)

    Computed as min(x, 0) - log(1 + e^{-|x|}): the exponent is never positive (no overflow,
    exact at ±1e4). One operation (autograd/ops/activation.py), so that an infinite
    gradient is multiplied by σ(-x) once, as in PyTorch.
    """
    _require_float("logsigmoid", input)
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


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """yᵢ = xᵢ - log Σₖ e^{xₖ} along ``dim``;  ∂L/∂xᵢ = gᵢ - e^{yᵢ} Σₖ gₖ"""
    require_tensor("log_softmax", "input", input)
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "hardtanh",
           "hardtanh_", "relu6", "gelu", "silu", "sigmoid", "tanh", "softplus", "logsigmoid",
           "softmax", "log_softmax"]
