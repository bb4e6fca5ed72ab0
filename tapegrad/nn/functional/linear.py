"""Affine maps: ``linear`` (y = x Wᵀ + b) and ``bilinear`` (yₒ = x₁ᵀ Wₒ x₂ + bₒ).

Both are compositions of tensor operations, so their gradients come from the
operations' own backwards (matmul's gives W's gradient already in W's layout). For a
batch of rows, ``linear`` is the single operation ``addmm(b, x, Wᵀ)``, which adds the
bias into the fresh product in place: the layer every network has costs one recorded
operation (and one transpose view) instead of two.
"""
import math

from ...autograd.operands import check_same_device
from ...autograd.ops.linalg import addmm, stacked_addmm
from .checks import require_tensor, shape_of




def linear(input, weight, bias=None):
    """y = x Wᵀ + b, for x (*, in), W (out, in), b (out,);
    ∂L/∂x = ∂L/∂y W,  ∂L/∂W = ∂L/∂yᵀ x (summed over *),  ∂L/∂b = ∂L/∂y summed over *"""
    require_tensor("linear", "input", input)
    require_tensor("linear", "weight", weight)
    if weight.ndim not in (1, 2):
        raise RuntimeError(f"linear: weight must be 1-D or 2-D (out_features, in_features), "
                           f"got shape {shape_of(weight)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: an input of shape {shape_of(input)} does not fit a weight of "
                           f"shape {shape_of(weight)}: the input's last dimension must be "
                           f"{weight.shape[-1]} (in_features)")
    if bias is not None:
        require_tensor("linear", "bias", bias)
        # (a 1-d weight gives x·w of shape x.shape[:-1], to which the bias is broadcast)
        expected = weight.shape[:1] if weight.ndim == 2 else ()
        if weight.ndim == 2 and shape_of(bias) not in (tuple(expected), (1,), ()) or \
                weight.ndim == 1 and not _broadcasts_to(shape_of(bias), shape_of(input)[:-1]):
            needed = (f"expected shape {tuple(expected)}" if weight.ndim == 2 else
                      f"it must broadcast to the output's shape {shape_of(input)[:-1]}")
            raise RuntimeError(f"linear: bias of shape {shape_of(bias)} does not fit a weight of "
                               f"shape {shape_of(weight)} ({needed})")
        if bias.dtype is not weight.dtype:   # as PyTorch, whatever the input's shape
            raise RuntimeError(f"linear: the bias is {bias.dtype} but the weight is "
                               f"{weight.dtype}; give them one dtype (e.g. layer.float())")
        if not (input.device is weight.device is bias.device):
            check_same_device("linear", input, weight, bias)
        if input.ndim == 2 and weight.ndim == 2:   # a batch of rows: one fused operation
            return addmm(bias, input, _transposed(weight))
        if (input.ndim > 2 and weight.ndim == 2 and shape_of(bias) == tuple(expected)
                and input.dtype is weight.dtype):
            return stacked_addmm(bias, input, _transposed(weight))   # stacked rows: the same
    output = input @ (_transposed(weight) if weight.ndim == 2 else weight)
    return output if bias is None else output + bias


def _broadcasts_to(shape, into):
    """True when an array of ``shape`` broadcasts to exactly ``into`` (PyTorch adds the bias
    in place into x·w, which it cannot grow)."""
    return len(shape) <= len(into) and all(a in (1, b) for a, b in zip(shape[::-1], into[::-1]))


def _transposed(weight):
    """Wᵀ, its node named as PyTorch's linear names it (``TBackward0``)."""
    transposed = weight.mT
    if transposed.grad_fn is not None:
        transposed.grad_fn.pytorch_name = "TBackward0"
    return transposed


def bilinear(input1, input2, weight, bias=None):
    """yₒ = Σᵢⱼ x₁ᵢ Wₒᵢⱼ x₂ⱼ + bₒ, for x₁ (*, in1), x₂ (*, in2), W (out, in1, in2), b (out,);
    ∂L/∂x₁ᵢ = Σₒ ∂L/∂yₒ Σⱼ Wₒᵢⱼ x₂ⱼ,  ∂L/∂x₂ⱼ = Σₒ ∂L/∂yₒ Σᵢ x₁ᵢ Wₒᵢⱼ,  ∂L/∂Wₒᵢⱼ = ∂L/∂yₒ x₁ᵢ x₂ⱼ"""
    for name, value in (("input1", input1), ("input2", input2), ("weight", weight),
                        ("bias", bias)):
        if value is not None or name != "bias":
            require_tensor("bilinear", name, value)
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear: weight must be 3-D (out_features, in1_features, "
                           f"in2_features), got shape {shape_of(weight)}")
    out_features, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear: input1 of shape {shape_of(input1)} does not fit a weight of "
                           f"shape {shape_of(weight)}: its last dimension must be {in1}")
    if input2.ndim == 0 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear: input2 of shape {shape_of(input2)} does not fit a weight of "
                           f"shape {shape_of(weight)}: its last dimension must be {in2}")
    lead = shape_of(input1)[:-1]
    if shape_of(input2)[:-1] != lead:
        raise RuntimeError(f"bilinear: input1 of shape {shape_of(input1)} and input2 of shape "
                           f"{shape_of(input2)} must agree in every dimension but the last")
    if bias is not None and shape_of(bias) != (out_features,):
        raise RuntimeError(f"bilinear: bias must have shape ({out_features},), got "
                           f"{shape_of(bias)}")
    named = (("input1", input1), ("input2", input2), ("weight", weight), ("bias", bias))
    if len({t.dtype for _, t in named if t is not None}) > 1:   # as PyTorch: no promotion
        given = ", ".join(f"{name} {t.dtype}" for name, t in named if t is not None)
        raise RuntimeError(f"bilinear: expected tensors of one dtype, got {given}; convert "
                           f"them, e.g. x.float() for a float64 batch fed to a float32 model")
    # x₁ first, as PyTorch (which ∞ meets which 0 decides where a NaN appears): one batched
    # product over o, t[o, n, j] = Σᵢ x₁[n, i] W[o, i, j], then y[n, o] = Σⱼ t[o, n, j] x₂[n, j]
    # as a second batched product too, so float16 products t·x₂ are summed in float32 and
    # rounded once, as PyTorch's (rounded one by one, 2·4e4 - 4e4 would overflow to ∞)
    rows = math.prod(lead)
    t = input1.reshape(rows, in1) @ weight
    output = t.transpose(0, 1) @ input2.reshape(rows, in2, 1)
    output = output.reshape(*lead, out_features)
    if bias is not None:
        output = output + bias
    return output


__all__ = ["linear", "bilinear"]
