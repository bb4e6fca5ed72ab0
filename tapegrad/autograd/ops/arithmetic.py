"""Binary arithmetic, comparisons and `where`, with numpy's broadcasting.

The operands are first made tensors of one dtype on one device (`promote`). When an
operand was broadcast, its gradient is summed back to its own shape (`sum_to_shape`).
Each backward computes only the gradients some input needs (``ctx.needs_input_grad``),
and each op saves only the tensors its backward reads.
"""
import math

from ..operands import promote, sum_to_shape
from ..quiet import quiet
from ..tape import OUTPUT, notify, observers, record
from ..tensor import Tensor, wrap
from .declare import alias, operation
from .gate import gate


def _broadcast(op, function, x, y):
    """``function(x, y)`` on the arrays; a broadcasting failure names the op and both shapes."""
    try:
        return function(x.array, y.array)
    except ValueError:
        if len(x.shape) and len(y.shape):
            raise RuntimeError(f"{op}: shapes {tuple(x.shape)} and {tuple(y.shape)} cannot be "
                               f"broadcast together") from None
        raise


def _check_alpha(op, y, alpha):
    """As in PyTorch, an integer or bool y takes no float α."""
    if not y.dtype.is_floating_point and isinstance(alpha, float):
        raise RuntimeError(f"{op}: for integral input tensors (here {y.dtype.name}), alpha must "
                           f"not be a floating point number, got alpha={alpha}")


def _scaled(op, y, alpha):
    """α·y in y's dtype (bool·2 is True)."""
    _check_alpha(op, y, alpha)
    if type(alpha) in (int, float):   # -1 for uint8 is 255; 256 (1e30 for float16) is refused
        from ...dtypes import stored_scalar
        alpha = stored_scalar(op, alpha, y.array.dtype)
    return wrap((y.array * alpha).astype(y.array.dtype, copy=False), y.device)


def _plus_scaled(op, ufunc, x, y, alpha):
    """x ± α·y on the arrays (``ufunc``: add or subtract). float16 is computed in float32
    and rounded once, as PyTorch's vectorised CPU kernel does: α·y rounded to float16 first
    is ∞ for y = 35328, α = 2, where x + α·y = 50048 (x = -20608) fits."""
    xp = x.device.xp
    if y.array.dtype != xp.float16:
        return _broadcast(op, ufunc, x, _scaled(op, y, alpha))
    _check_alpha(op, y, alpha)
    if type(alpha) in (int, float):   # (1e30 for float16 is refused, as PyTorch does)
        from ...dtypes import stored_scalar
        stored_scalar(op, alpha, y.array.dtype)
    factor = xp.float32(xp.float16(alpha))   # (α in the operands' dtype, as PyTorch takes it)

    def wide(a, b):
        with quiet(xp):   # (a float32 result beyond float16 is inf, as in PyTorch)
            return ufunc(a.astype(xp.float32), b.astype(xp.float32) * factor).astype(xp.float16)
    return _broadcast(op, wide, x, y)


def _integer_division_by_zero(op, x, y):
    """Integer division by 0 has no value: PyTorch raises, numpy would quietly give 0. (An
    empty result divides nothing: a 0 among the divisors is then no error.)"""
    if not x.dtype.is_floating_point and x.numel() and bool((y.array == 0).any()):
        raise RuntimeError(f"{op}: integer division by zero (the divisor of dtype "
                           f"{y.dtype.name} holds a 0)")


@operation(function=True, method=True, out=True)
def add(input, other, alpha=1):
    """z = x + α·y;  ∂z/∂x = 1,  ∂z/∂y = α"""
    x, y = promote("add", input, other)
    _check_bool_alpha("add", x, alpha)
    xp = x.device.xp
    if alpha != 1:
        z = _plus_scaled("add", xp.add, x, y, alpha)
    else:
        z = _broadcast("add", xp.add, x, y)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        return (sum_to_shape(grad, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad * alpha if alpha != 1 else grad, y_shape)
                if ctx.needs_input_grad[1] else None)
    return record("add", z, (x, y), backward, attrs={"alpha": alpha})


@operation(function=True, method=True, out=True)
def sub(input, other, alpha=1):
    """z = x - α·y;  ∂z/∂x = 1,  ∂z/∂y = -α"""
    _no_bool_subtraction("sub", input, other)
    x, y = promote("sub", input, other)
    _check_bool_alpha("sub", x, alpha)
    xp = x.device.xp
    z = (_broadcast("sub", xp.subtract, x, y) if alpha == 1 else
         _plus_scaled("sub", xp.subtract, x, y, alpha))
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        return (sum_to_shape(grad, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad * -alpha, y_shape) if ctx.needs_input_grad[1] else None)
    return record("sub", z, (x, y), backward, attrs={"alpha": alpha})


def _no_bool_subtraction(op, *operands):
    """PyTorch refuses x - y for a bool x or y, tensor or Python bool (of a mask, ^ or ~ is
    meant)."""
    if any(isinstance(v, bool) or getattr(v, "dtype", None) is not None and
           v.dtype.name == "bool" for v in operands):
        raise RuntimeError(f"{op}: subtraction (the - operator) with a bool is not "
                           "supported, as in PyTorch; use ^ or logical_xor() for two masks, "
                           "~ or logical_not() to invert one")


def _check_bool_alpha(op, x, alpha):
    """alpha=True/False only scales a bool result, as in PyTorch."""
    if isinstance(alpha, bool) and x.dtype.name != "bool":
        raise RuntimeError(f"{op}: a bool alpha ({alpha}) is only supported for a bool result, "
                           f"got {x.dtype.name}")


@operation(function=True, method=True, out=True)
def mul(input, other):
    """z = x·y;  ∂z/∂x = y,  ∂z/∂y = x"""
    if type(other) in (float, int) and _beyond_half(input, other):
        return _half_times_number(input, other)
    if _half_times_wide_0d(input, other):
        # PyTorch takes a 0-d second operand as a number, in float32, and rounds once:
        # rounding it to float16 first makes x·1.1e5 ∞ where PyTorch gives 2.2e4 for x = 0.2
        # (a 0-d first operand it does round to float16 first: s·x is ∞ there too)
        return mul(input.float(), other.float()).to(input.dtype)
    x, y = promote("mul", input, other)
    z = _broadcast("mul", x.device.xp.multiply, x, y)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        x_saved, y_saved = ctx.saved_tensors
        return (sum_to_shape(grad * y_saved, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad * x_saved, y_shape) if ctx.needs_input_grad[1] else None)
    # Only what backward reads is saved: x is needed only for y's gradient, and vice versa.
    return record("mul", z, (x, y), backward,
                  save=(x if y.requires_grad else None, y if x.requires_grad else None))


def _half_times_wide_0d(input, other):
    """A float16 tensor with dims and a 0-d float32 or float64 tensor (mul's and div's
    second operand, which PyTorch takes as a number)."""
    return (isinstance(input, Tensor) and isinstance(other, Tensor) and input.ndim > 0
            and other.ndim == 0 and input.array.dtype == input.device.xp.float16
            and other.dtype.is_floating_point and other.dtype.itemsize > 2)


def _beyond_half(input, number):
    """A float16 tensor and a Python number that float16 does not hold exactly (1e5, 0.1)."""
    if not isinstance(input, Tensor) or input.array.dtype != input.device.xp.float16:
        return False
    with quiet(input.device.xp):
        return float(input.device.xp.float16(number)) != number


def _half_times_number(x, number):
    """float16 x times a number float16 does not hold: computed in float32 with the number
    as float32 and rounded once, as PyTorch's CPU kernels do (rounding the number to float16
    first makes x·1e5 ∞ where PyTorch gives 1.001 for x = 1e-5, and 0·1e30 NaN for 0)."""
    xp = x.device.xp
    factor = xp.float32(number)
    with quiet(xp):
        z = (x.array.astype(xp.float32) * factor).astype(x.array.dtype)

    def backward(ctx, grad):
        return (grad.float() * float(factor)).to(grad.dtype),
    return record("mul", z, (x,), backward)


def _half_over_number(x, number, rounding=None):
    """float16 x divided by a number float16 does not hold, computed in float32 and rounded
    once, as PyTorch does (as for mul: inf / 1e30 is inf there, not inf / inf = NaN).
    ``rounding`` is "floor" or "trunc" for the rounded quotients, whose gradients are 0."""
    xp = x.device.xp
    divisor = xp.float32(number)
    with quiet(xp):
        wide = x.array.astype(xp.float32)
        if rounding == "floor":
            z = xp.floor_divide(wide, divisor)
        elif rounding == "trunc":
            z = xp.trunc(wide / divisor)
        else:
            z = wide / divisor
        z = z.astype(x.array.dtype)
    def backward(ctx, grad):
        if rounding is not None:   # piecewise constant
            return wrap(grad.device.xp.zeros_like(grad.array), grad.device),
        return (grad.float() / float(divisor)).to(grad.dtype),
    if rounding is not None:
        backward.materializes_zeros = True
    return record("floor_divide" if rounding == "floor" else "div", z, (x,), backward)


@operation(function=True, method=True, out=True)
def div(input, other, rounding_mode=None):
    """z = x / y;  ∂z/∂x = 1/y,  ∂z/∂y = -x/y²"""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return _truncated_division(input, other)
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    if type(other) in (float, int) and _beyond_half(input, other):
        return _half_over_number(input, other)
    if _half_times_wide_0d(input, other):
        return _half_over_wide_0d(input, other)
    x, y = _float_operands("div", input, other)   # integers divide as floats, as in PyTorch
    with quiet(x.device.xp):   # x/0 is ±inf or nan without numpy's warning, as in PyTorch
        z = _broadcast("div", x.device.xp.divide, x, y)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        y_saved, x_saved = ctx.saved_tensors
        # -g·((x/y)/y), grouped as PyTorch groups it, so that the same zeros, infinities
        # and NaNs come out where x/y or (x/y)/y overflows or underflows
        return (sum_to_shape(grad / y_saved, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(-grad * (x_saved / y_saved / y_saved), y_shape)
                if ctx.needs_input_grad[1] else None)
    # The inputs, not the output, are saved (as PyTorch does), so z may be changed in place.
    return record("div", z, (x, y), backward, save=(y, x if y.requires_grad else None))


true_divide = alias(div, 'true_divide')


def _half_over_wide_0d(x, s):
    """float16 x over a 0-d float32/float64 s, which PyTorch takes as a number: computed in
    float32 and rounded once (s = 1e5 rounded to float16 first is ∞, and 1 / ∞ is 0 where
    PyTorch gives 1e-5). The gradients are PyTorch's, in float16: g / s (again s as a
    number) and -Σ g·((x/s)/s), cast to s's dtype."""
    xp = x.device.xp
    with quiet(xp):
        z = (x.array.astype(xp.float32) / s.array.astype(xp.float32)).astype(x.array.dtype)
    def backward(ctx, grad):
        x_saved, s_saved = ctx.saved_tensors
        return (div(grad, s_saved) if ctx.needs_input_grad[0] else None,
                (-grad * div(div(x_saved, s_saved), s_saved)).sum().to(s_saved.dtype)
                if ctx.needs_input_grad[1] else None)
    return record("div", z, (x, s), backward, save=(x if s.requires_grad else None, s))


def _half_over_one_value(input, x, other, rounding):
    """float16 x over a tensor of one value (0-d, or size 1 broadcast) when the quotient is
    float16: PyTorch's CPU kernels read that value in float32 from its own dtype, as a number,
    and round the quotient once (trunc(11.69 / -1.299) is -8, where the quotient rounded to
    float16 first is -9.0, and trunc gives -9). None where this is not the case."""
    xp = x.device.xp
    if not (isinstance(input, Tensor) and isinstance(other, Tensor) and other.numel() == 1
            and x.array.dtype == xp.float16):
        return None
    with quiet(xp):
        wide, divisor = x.array.astype(xp.float32), other.array.astype(xp.float32)
        z = xp.trunc(wide / divisor) if rounding == "trunc" else xp.floor_divide(wide, divisor)
    z = z.astype(xp.float16)
    op = "div" if rounding == "trunc" else "floor_divide"
    return record(op, z, (input, other), _zero_gradients(input.shape, other.shape))


def _truncated_division(input, other):
    """z = x / y rounded towards zero;  piecewise constant, so ∂z/∂x = ∂z/∂y = 0 (zeros, not
    the 0/y of a composition, which is NaN where y = 0)"""
    if type(other) in (float, int) and _beyond_half(input, other):
        return _half_over_number(input, other, rounding="trunc")
    x, y = promote("div", input, other)
    one_value = _half_over_one_value(input, x, other, "trunc")
    if one_value is not None:
        return one_value
    _integer_division_by_zero("div", x, y)
    xp = x.device.xp
    with quiet(xp):
        if x.array.dtype.kind in "iu":   # exactly, not through float64 (which rounds past 2⁵³)
            z = _broadcast("div", _integer_truncated_division, x, y)
        else:
            z = _broadcast("div", lambda a, b: xp.trunc(xp.divide(a, b)), x, y)
    z = z.astype(x.array.dtype, copy=False)   # bools stay bools
    return record("div", z, (x, y), _zero_gradients(x.shape, y.shape))


def _integer_truncated_division(a, b):
    """a / b rounded towards zero, of integer arrays: the floored quotient, plus 1 where the
    division was inexact and the operands' signs differ (there flooring went one below)."""
    quotient = a // b
    return quotient + ((quotient * b != a) & ((a < 0) != (b < 0))).astype(quotient.dtype)


def _zero_gradients(x_shape, y_shape):
    """The backward of a piecewise-constant binary op: zeros shaped like each input (plain
    zeros even for a structural-zero gradient, as PyTorch's zeros_like). It keeps shapes,
    not the inputs."""
    def backward(ctx, grad):
        zeros = wrap(grad.device.xp.zeros_like(grad.array), grad.device)
        return (sum_to_shape(zeros, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(zeros, y_shape) if ctx.needs_input_grad[1] else None)
    backward.materializes_zeros = True
    return backward


@operation(function=True, method=True, out=True)
def pow(input, exponent):
    """z = xʸ;  ∂z/∂x = y·xʸ⁻¹,  ∂z/∂y = xʸ·ln x  (taken as 0 where x = 0)"""
    return pow_stored_as(input, exponent, None)


def pow_stored_as(input, exponent, stored_dtype):
    """``pow``, its result rounded to ``stored_dtype`` (a dtype of the backend, or None: the
    promoted one) as ``pow_`` stores it: the exponent's gradient xʸ·ln x reads that stored
    power, as PyTorch's does (a float16 x to a float32 y is computed in float32, and where
    the power passes 65504 the stored ∞ gives an infinite slope)."""
    if not hasattr(input, "shape"):  # number ** tensor
        return _number_to_the_power(input, exponent)
    elif not hasattr(exponent, "shape"):  # tensor ** number: the common case, kept simple
        return _pow_scalar(input, exponent)
    else:
        x, y = promote("pow", input, exponent)
    xp = x.device.xp
    with quiet(xp):
        z = _broadcast("pow", _integer_power if x.array.dtype.kind in "biu"
                       else lambda a, b: _c_pow(xp, a, b), x, y)
        if stored_dtype is not None and z.dtype != stored_dtype and z.dtype.kind == "f" and \
                stored_dtype.kind == "f":   # (a float into integers is refused by pow_)
            z = z.astype(stored_dtype)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        x_saved, y_saved, z_saved = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            # y·x^(y-1) is 0·∞ at x = 0, y = 0; the limit (and PyTorch) says 0 there,
            # whatever the incoming gradient
            slope = y_saved * x_saved.pow(y_saved - 1)
            grad_x = sum_to_shape(where(y_saved == 0, 0.0, grad * slope), x_shape)
        if ctx.needs_input_grad[1]:
            # xʸ·ln x is taken as 0 at x = 0 for y ≥ 0 (ln 1 there keeps it finite); for
            # y < 0 it is ∞·(-∞) = -∞, as in PyTorch
            zero_base = (x_saved == 0) & (y_saved >= 0)
            grad_y = sum_to_shape(grad * (z_saved * where(zero_base, 1.0, x_saved).log()),
                                  y_shape)
        return grad_x, grad_y
    return record("pow", z, (x, y), backward, save=(x, y, OUTPUT))


def _c_pow(xp, x, y):
    """xʸ of float arrays as C's pow, which PyTorch takes for an exponent tensor. numpy's
    float32/float64 loop takes √x where the exponent is 0.5 and repeats along the loop (a
    stride-0 exponent: broadcast, expanded, or one value), which gives NaN and -0.0 at -∞
    and -0.0 (C: +∞ and +0.0). Those two are |x|, mended only where they can occur: an
    exponent of the result's shape with no stride 0 takes C's pow throughout."""
    z = xp.pow(x, y)
    if y.shape == z.shape and 0 not in y.strides and z.size != 1:
        return z
    edge = (y == 0.5) & ((x == 0) | (x == -xp.inf))
    return xp.where(edge, xp.abs(x), z) if edge.any() else z


def _integer_power(x, y):
    """xʸ of integer arrays, as PyTorch: a negative y gives the truncated 1/x^|y| (0 unless
    x is ±1), where numpy raises. Bools stay bool: xᵀʳᵘᵉ = x, xᶠᵃˡˢᵉ = True."""
    if x.dtype.kind == "b":
        return x | ~y
    if not (y < 0).any():
        return x ** y
    negative = y < 0
    z = x ** abs(y)
    reciprocal = (x == 1) * 1 + (x == -1) * (1 - 2 * (abs(y) % 2))   # 1/x^|y| truncated
    return (z * ~negative + reciprocal * negative).astype(z.dtype, copy=False)


def _pow_scalar(x, exponent):
    """z = xⁿ for a number n;  dz/dx = n·xⁿ⁻¹"""
    from ...dtypes import result_type
    promoted = result_type([x.dtype], scalars=[exponent])   # bool ** 3 is int64, int ** 0.5 float
    if promoted is not x.dtype:
        x = x.to(promoted)
    if not promoted.is_floating_point and exponent < 0:
        raise RuntimeError(f"pow: integers to negative integer powers are not allowed "
                           f"(a {x.dtype.name} tensor to the power {exponent}), as in PyTorch; "
                           f"convert it with .float()")
    if promoted.name != "bool" and not (type(exponent) is float and x.array.dtype.itemsize > 2
                                        and abs(exponent) < 1e38):
        from ...dtypes import stored_scalar   # 300 for uint8, 1e30 for float16 are refused
        stored_scalar("pow", exponent, x.array.dtype)
    xp = x.device.xp
    if promoted.name == "bool":   # a bool tensor to a bool power stays bool, as in PyTorch
        z = x.array.copy() if exponent else xp.ones(x.array.shape, dtype=x.array.dtype)
    elif exponent == 2:
        z = xp.square(x.array)
    else:
        with quiet(xp):
            # √x and 1/√x, as PyTorch: -0.0 gives -0.0 and -∞. (Its float16 kernel takes C's
            # pow instead, where -0.0 gives +0.0 and +∞, and -∞ gives +∞: so does tapegrad's.)
            if exponent in (0.5, -0.5) and x.array.dtype.itemsize > 2:
                z = xp.sqrt(x.array) if exponent == 0.5 else 1 / xp.sqrt(x.array)
            elif exponent == -2 and x.array.dtype.itemsize > 2:   # 1/(x·x), as PyTorch:
                z = 1 / xp.square(x.array)   # 0 where x·x overflows (float32 x = 2e19)
            else:
                z = xp.pow(x.array, xp.asarray(exponent, dtype=x.array.dtype))
    def backward(ctx, grad):
        x_saved, = ctx.saved_tensors
        if exponent == 0:  # x⁰ = 1 everywhere: 0 (not 0·x⁻¹ = NaN at 0, nor 0·∞ for grad ∞)
            return wrap(grad.device.xp.zeros_like(grad.array), grad.device)
        if exponent == 2:   # g·(2x), as PyTorch: 2x may overflow where g·x does not
            return (x_saved * 2).mul_(grad)   # times g in place: one fresh array, not two
        return grad * (x_saved.pow(exponent - 1) * exponent)
    return record("pow", z, (x,), backward, save=(x,), attrs={"exponent": exponent})


def _require_tensors(op, input, other):
    """maximum/minimum take two tensors, as in PyTorch (clamp takes a number bound)."""
    for name, value in (("input", input), ("other", other)):
        if not hasattr(value, "shape"):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__} "
                            f"({value!r}); use clamp(min=...)/clamp(max=...) for a number")


def _number_to_the_power(base, exponent):
    """z = bʸ for a number b;  dz/dy = bʸ·ln b  (0 for b = 0, as for a tensor base)"""
    x, y = promote("pow", base, exponent)   # b as a 0-d tensor of the common dtype
    xp = y.device.xp
    with quiet(xp):
        z = _broadcast("pow", _integer_power if x.array.dtype.kind == "b" else xp.pow, x, y)
    log_base = math.log(base) if base > 0 else 0.0 if base == 0 else math.nan
    def backward(ctx, grad):
        z, = ctx.saved_tensors
        return grad * z * log_base
    out = record("pow", z, (y,), backward, save=(OUTPUT,), attrs={"base": base})
    if out.grad_fn is not None:
        out.grad_fn.pytorch_name = "PowBackward2"   # PyTorch's overload for a number base
    return out


@operation(function=True, method=True, out=True)
def maximum(input, other):
    """z = max(x, y);  the gradient goes to the larger input (split evenly on ties)"""
    _require_tensors("maximum", input, other)
    x, y = promote("maximum", input, other)
    z = _broadcast("maximum", x.device.xp.maximum, x, y)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        x_saved, y_saved = ctx.saved_tensors
        # each input's share is 1 unless it lost (0) or tied (0.5): where either is NaN,
        # neither lost nor tied and both get the whole gradient, as in PyTorch
        half_tie = (x_saved == y_saved) * -0.5
        share_x = ~(x_saved < y_saved) + half_tie
        share_y = ~(x_saved > y_saved) + half_tie
        # gate: a share of 0 gives 0, also for an infinite gradient (not 0·∞)
        return (sum_to_shape(gate(grad, share_x), x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(gate(grad, share_y), y_shape) if ctx.needs_input_grad[1] else None)
    return record("maximum", z, (x, y), backward, save=(x, y))


@operation(function=True, method=True, out=True)
def minimum(input, other):
    """z = min(x, y);  the gradient goes to the smaller input (split evenly on ties)"""
    _require_tensors("minimum", input, other)
    x, y = promote("minimum", input, other)
    z = _broadcast("minimum", x.device.xp.minimum, x, y)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        x_saved, y_saved = ctx.saved_tensors
        # each input's share is 1 unless it lost (0) or tied (0.5): where either is NaN,
        # neither lost nor tied and both get the whole gradient, as in PyTorch
        half_tie = (x_saved == y_saved) * -0.5
        share_x = ~(x_saved > y_saved) + half_tie
        share_y = ~(x_saved < y_saved) + half_tie
        # gate: a share of 0 gives 0, also for an infinite gradient (not 0·∞)
        return (sum_to_shape(gate(grad, share_x), x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(gate(grad, share_y), y_shape) if ctx.needs_input_grad[1] else None)
    return record("minimum", z, (x, y), backward, save=(x, y))


@operation(function=True, method=True, out=True)
def floor_divide(input, other):
    """z = ⌊x / y⌋;  piecewise constant, so ∂z/∂x = ∂z/∂y = 0"""
    if type(other) in (float, int) and _beyond_half(input, other):
        return _half_over_number(input, other, rounding="floor")
    x, y = promote("floor_divide", input, other)
    one_value = _half_over_one_value(input, x, other, "floor")
    if one_value is not None:
        return one_value
    _integer_division_by_zero("floor_divide", x, y)
    with quiet(x.device.xp):
        z = _broadcast("floor_divide", x.device.xp.floor_divide, x, y)
    return record("floor_divide", z, (x, y), _zero_gradients(x.shape, y.shape))


@operation(function=True, method=True, out=True)
def remainder(input, other):
    """z = x - y·⌊x / y⌋ (sign of y, as Python's %);  ∂z/∂x = 1,  ∂z/∂y = -⌊x / y⌋"""
    x, y = promote("remainder", input, other)
    _integer_division_by_zero("remainder", x, y)
    xp = x.device.xp
    with quiet(xp):
        z = _broadcast("remainder", xp.remainder, x, y)
    if z.dtype.kind == "f" and not z.all():   # one pass, no mask, while no result is 0
        # a zero has the dividend's sign, as PyTorch's (numpy gives it the divisor's)
        z = xp.where(z == 0, xp.copysign(z, x.array), z)
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        x_saved, y_saved = ctx.saved_tensors
        return (sum_to_shape(grad, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(-grad * floor_divide(x_saved, y_saved), y_shape)
                if ctx.needs_input_grad[1] else None)
    return record("remainder", z, (x, y), backward, save=(x, y))


@operation(function=True, out=True)
def where(condition, input, other):
    """z = x where condition else y;  ∂z/∂x = condition,  ∂z/∂y = not condition"""
    if not hasattr(condition, "shape") or condition.dtype.name != "bool":
        raise TypeError(f"where: condition must be a bool tensor, got "
                        f"{getattr(condition, 'dtype', type(condition).__name__)}")
    if not hasattr(input, "shape") and not hasattr(other, "shape"):  # where(c, 1.0, 0.0)
        from ...dtypes import result_type
        dtype = result_type((), (), (input, other)).numpy
        xp = condition.device.xp
        input = wrap(xp.asarray(input, dtype=dtype), condition.device)
        other = wrap(xp.asarray(other, dtype=dtype), condition.device)
    numbers = [v for v in (input, other) if type(v) is int]
    x, y = promote("where", input, other)
    if numbers and x.array.dtype.kind in "iu":   # 300 beside a uint8 tensor is refused
        from ...dtypes import stored_scalar
        for number in numbers:
            stored_scalar("where", number, x.array.dtype)
    from ..operands import check_same_device
    check_same_device("where", condition, x)
    xp = x.device.xp
    try:
        z = xp.where(condition.array, x.array, y.array)
    except ValueError:
        raise RuntimeError(f"where: condition {tuple(condition.shape)}, input {tuple(x.shape)} "
                           f"and other {tuple(y.shape)} cannot be broadcast together") from None
    x_shape, y_shape = x.shape, y.shape   # backward keeps shapes, not the inputs
    def backward(ctx, grad):
        condition, = ctx.saved_tensors   # saved, so changing the mask in place is caught
        zero = wrap(xp.zeros((), dtype=grad.array.dtype), grad.device)
        return (sum_to_shape(where(condition, grad, zero), x_shape)
                if ctx.needs_input_grad[0] else None,
                sum_to_shape(where(condition, zero, grad), y_shape)
                if ctx.needs_input_grad[1] else None)
    return record("where", z, (x, y), backward, save=(condition,),
                  attrs={"condition": condition})


@operation(method="where", composite=True)
def where_method(input, condition, other):
    """``x.where(condition, y)`` is ``where(condition, x, y)``."""
    return where(condition, input, other)


# -- comparisons: bool results, no gradient -------------------------------------------------
def _compare(op, function, input, other):
    x, y = promote(op, input, other)
    out = wrap(_broadcast(op, function, x, y), x.device)
    if observers:   # not on the tape (no gradient), but tracers must see it
        notify(op, (x, y), (out,), None, None)
    return out


@operation(function=True, method=True, differentiable=False)
def eq(input, other):
    return _compare("eq", input.device.xp.equal, input, other)


@operation(function=True, method=True, differentiable=False)
def ne(input, other):
    return _compare("ne", input.device.xp.not_equal, input, other)


@operation(function=True, method=True, differentiable=False)
def lt(input, other):
    return _compare("lt", input.device.xp.less, input, other)


@operation(function=True, method=True, differentiable=False)
def le(input, other):
    return _compare("le", input.device.xp.less_equal, input, other)


@operation(function=True, method=True, differentiable=False)
def gt(input, other):
    return _compare("gt", input.device.xp.greater, input, other)


@operation(function=True, method=True, differentiable=False)
def ge(input, other):
    return _compare("ge", input.device.xp.greater_equal, input, other)


@operation(function=True, method=True, differentiable=False)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|x - y| ≤ atol + rtol·|y|, elementwise, as a bool tensor"""
    x, y = promote("isclose", input, other)
    close = _broadcast("isclose", lambda a, b: x.device.xp.isclose(
        a, b, rtol=rtol, atol=atol, equal_nan=equal_nan), x, y)
    return wrap(close, x.device)


@operation(function=True, method=True, differentiable=False)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of ``input`` is close to ``other`` (see isclose)"""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


@operation(function=True, method=True, differentiable=False)
def equal(input, other):
    """True when both tensors have the same shape and the same values"""
    for name, value in (("input", input), ("other", other)):
        if not hasattr(value, "shape"):
            raise TypeError(f"equal: {name} must be a Tensor, got {type(value).__name__} "
                            f"({value!r})")
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).array.all())


@operation(function=True, method=True, differentiable=False)
def logical_not(input):
    out = wrap(input.device.xp.logical_not(input.array), input.device)
    if observers:   # not on the tape (no gradient), but tracers must see it
        notify("logical_not", (input,), (out,), None, None)
    return out


@operation(function=True, method=True, differentiable=False)
def logical_and(input, other):
    return _compare("logical_and", input.device.xp.logical_and, input, other)


@operation(function=True, method=True, differentiable=False)
def logical_or(input, other):
    return _compare("logical_or", input.device.xp.logical_or, input, other)


def _integral(op, *tensors):
    """Bitwise operations are defined on integer and bool tensors only, as in PyTorch."""
    for t in tensors:
        if hasattr(t, "dtype") and t.dtype.is_floating_point:
            raise TypeError(f"{op}: expected integer or bool tensors, got dtype {t.dtype.name}")
        if isinstance(t, float):
            raise TypeError(f"{op}: expected an integer or bool, got the float {t!r}")


@operation(function=True, method=True, differentiable=False)
def bitwise_and(input, other):
    _integral("bitwise_and", input, other)
    return _compare("bitwise_and", input.device.xp.bitwise_and, input, other)


@operation(function=True, method=True, differentiable=False)
def bitwise_or(input, other):
    _integral("bitwise_or", input, other)
    return _compare("bitwise_or", input.device.xp.bitwise_or, input, other)


@operation(function=True, method=True, differentiable=False)
def bitwise_xor(input, other):
    _integral("bitwise_xor", input, other)
    return _compare("bitwise_xor", input.device.xp.bitwise_xor, input, other)


@operation(function=True, method=True, differentiable=False)
def bitwise_not(input):
    _integral("bitwise_not", input)
    return wrap(input.device.xp.bitwise_invert(input.array), input.device)


# -- more of PyTorch's binary math -----------------------------------------------------------
def _float_operands(op, input, other):
    """Both operands promoted, and made the default float dtype if they are integers: each
    from its own dtype, as in PyTorch (uint8 [4] / int64 -4 is -1, not 4 / 252)."""
    if not (_is_float(input) or _is_float(other)):
        from ...dtypes import get_default_dtype
        default = get_default_dtype()
        input, other = (v.to(default) if isinstance(v, Tensor) else v for v in (input, other))
    return promote(op, input, other)


def _is_float(value):
    return isinstance(value, float) or (isinstance(value, Tensor)
                                        and value.dtype.is_floating_point)


@operation(function=True, method=True, out=True)
def rsub(input, other, alpha=1):
    """z = y - α·x (sub with its operands swapped: ``2 - x``);  ∂z/∂x = -α,  ∂z/∂y = 1"""
    _no_bool_subtraction("rsub", input, other)
    if not hasattr(other, "shape"):   # a number: x is the only input with a gradient
        x, y = promote("rsub", input, other)
        if isinstance(alpha, float) and not x.dtype.is_floating_point:
            raise RuntimeError(f"rsub: for integral input tensors (here {x.dtype.name}), alpha "
                               f"must not be a floating point number, got alpha={alpha}")
        def backward_from_number(ctx, grad):
            return grad * -alpha
        z = (y.array - x.array if alpha == 1 else
             _plus_scaled("rsub", x.device.xp.subtract, y, x, alpha))
        return record("rsub", z, (x,), backward_from_number,
                      attrs={"other": other, "alpha": alpha})
    x, y = promote("rsub", input, other)
    if isinstance(alpha, float) and not x.dtype.is_floating_point:
        raise RuntimeError(f"rsub: for integral input tensors (here {x.dtype.name}), alpha "
                           f"must not be a floating point number, got alpha={alpha}")
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):
        return (sum_to_shape(grad * -alpha, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad, y_shape) if ctx.needs_input_grad[1] else None)
    z = (_broadcast("rsub", x.device.xp.subtract, y, x) if alpha == 1 else
         _plus_scaled("rsub", x.device.xp.subtract, y, x, alpha))
    return record("rsub", z, (x, y), backward, attrs={"alpha": alpha})


@operation(function=True, method=True, out=True)
def lerp(input, end, weight):
    """z = x + w·(e - x);  ∂z/∂x = 1 - w,  ∂z/∂e = w,  ∂z/∂w = e - x"""
    if all(getattr(v, "dtype", None) is not None and v.dtype.name == "bool"
           or isinstance(v, bool) for v in (input, end)):
        raise RuntimeError("lerp: interpolating between bools is not defined (PyTorch has no "
                           "bool kernel either); convert them with .float()")
    _check_lerp_dtypes(input, end, weight)
    if not hasattr(weight, "shape"):   # a number weight: two inputs
        x, e = promote("lerp", input, end)
        x_shape, e_shape = x.shape, e.shape
        def backward_number(ctx, grad):
            return (sum_to_shape(grad * (1 - weight), x_shape) if ctx.needs_input_grad[0] else None,
                    sum_to_shape(grad * weight, e_shape) if ctx.needs_input_grad[1] else None)
        xa, ea = _lerp_arrays(x, e)
        w = xa.dtype.type(weight) if xa.dtype != x.array.dtype else weight   # float16: float32
        diff = _broadcast("lerp", lambda a, b: b - a, wrap(xa, x.device), wrap(ea, e.device))
        # from the nearer end, as PyTorch: exact at w = 1, and lerp(inf, e, 2) = -inf, not NaN
        z = xa + w * diff if abs(w) < 0.5 else ea - diff * (1 - w)
        with quiet(x.device.xp):   # beyond float16's range is inf, as in PyTorch
            z = z.astype(x.array.dtype, copy=False)
        return record("lerp", z, (x, e), backward_number)
    x, e, w = promote("lerp", input, end, weight)
    shapes = x.shape, e.shape, w.shape
    def backward(ctx, grad):
        x, e, w = ctx.saved_tensors
        return (sum_to_shape(grad * (1 - w), shapes[0]) if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad * w, shapes[1]) if ctx.needs_input_grad[1] else None,
                sum_to_shape(grad * (e - x), shapes[2]) if ctx.needs_input_grad[2] else None)
    try:
        xp = x.device.xp
        xa, ea, wa = _lerp_arrays(x, e, w)
        diff = ea - xa
        z = xp.where(xp.abs(wa) < 0.5, xa + wa * diff, ea - diff * (1 - wa))
    except ValueError:
        raise RuntimeError(f"lerp: shapes {tuple(x.shape)}, {tuple(e.shape)} and "
                           f"{tuple(w.shape)} cannot be broadcast together") from None
    with quiet(xp):   # beyond float16's range is inf, as in PyTorch
        z = z.astype(x.array.dtype, copy=False)
    return record("lerp", z, (x, e, w), backward, save=(x, e, w))


def _lerp_arrays(*tensors):
    """The arrays lerp computes on: float16 ones in float32, rounded once at the end, as
    PyTorch does (e - x of float16 ends 3e4 and -4e4 apart would overflow on the way)."""
    xp = tensors[0].device.xp
    if tensors[0].array.dtype != xp.float16:
        return tuple(t.array for t in tensors)
    return tuple(t.array.astype(xp.float32) for t in tensors)


def _check_lerp_dtypes(input, end, weight):
    """As PyTorch: a floating input, an end tensor of its dtype, and a weight tensor of its
    dtype unless the weight is 0-d (then it is a number). lerp does not promote."""
    if hasattr(input, "dtype") and not input.dtype.is_floating_point:
        raise RuntimeError(f"lerp: expected a floating point input, got {input.dtype.name}")
    for name, value in (("end", end), ("weight", weight)):
        if (hasattr(value, "dtype") and hasattr(input, "dtype") and value.dtype is not input.dtype
                and (name == "end" or value.ndim > 0)):
            raise RuntimeError(f"lerp: expected {name} of the input's dtype {input.dtype.name}, "
                               f"got {value.dtype.name}")


@operation(function=True, method=True, out=True)
def logaddexp(input, other):
    """z = ln(eˣ + eʸ), computed as max + ln(1 + e^{-|x - y|}) (no overflow);
    ∂z/∂x = e^{x - z} = 1/(1 + e^{y - x}),  ∂z/∂y = 1/(1 + e^{x - y})"""
    x, y = _float_operands("logaddexp", input, other)
    return _log_add_exp("logaddexp", x, y, x.device.xp.logaddexp, _exp)


@operation(function=True, method=True, out=True)
def logaddexp2(input, other):
    """z = log₂(2ˣ + 2ʸ) = logaddexp(x·ln 2, y·ln 2)/ln 2;
    ∂z/∂x = 2^{x - z} = 1/(1 + 2^{y - x}),  ∂z/∂y = 1/(1 + 2^{x - y})"""
    x, y = _float_operands("logaddexp2", input, other)
    xp = x.device.xp
    def in_base_2(a, b):
        return xp.logaddexp(a * _LN2, b * _LN2) / _LN2
    return _log_add_exp("logaddexp2", x, y, in_base_2, _exp2)


_LN2 = math.log(2)


def _exp(t):
    return t.exp()


def _exp2(t):
    return t.exp2()


def _log_add_exp(op, x, y, function, base_power):
    """∂z/∂x = b^{x - z} = 1/(1 + b^{y - x}), written with the inputs alone (as PyTorch
    does), so the result may be changed in place; ties split evenly and an infinite input
    takes the whole gradient"""
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return (sum_to_shape(grad / (1 + base_power(y - x)), x_shape)
                if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad / (1 + base_power(x - y)), y_shape)
                if ctx.needs_input_grad[1] else None)
    # numpy's logaddexp is the stable max + log1p(exp(-|d|)) form
    return record(op, _broadcast(op, function, x, y), (x, y), backward, save=(x, y))


@operation(function=True, method=True, out=True)
def xlogy(input, other):
    """z = x·ln y, and 0 where x = 0 (even where y = 0);
    ∂z/∂x = ln y (0 where x = 0 and y ≤ 0),  ∂z/∂y = x/y. The gradient for x is
    xlogy(grad, y), as in PyTorch: a zero gradient stays 0 where ln y is infinite"""
    # a NaN number y gives x the slope 0 where x = 0, as in PyTorch (a NaN tensor y gives NaN)
    nan_number = isinstance(other, float) and other != other
    x, y = _float_operands("xlogy", input, other)
    xp = x.device.xp
    with quiet(xp):
        product = _broadcast("xlogy", lambda a, b: a * xp.log(b), x, y)
    z = xp.where((x.array == 0) & ~xp.isnan(y.array), 0, product).astype(x.array.dtype, copy=False)
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            undefined = (x == 0) if nan_number else (x == 0) & (y <= 0)
            grad_x = sum_to_shape(where(undefined, 0.0, xlogy(grad, y)), x_shape)
        if ctx.needs_input_grad[1]:
            grad_y = sum_to_shape(grad * x / y, y_shape)
        return grad_x, grad_y
    return record("xlogy", z, (x, y), backward, save=(x, y))


@operation(function=True, method=True, out=True)
def fmod(input, other):
    """z = x - y·trunc(x / y) (the sign of x, as C's fmod);  ∂z/∂x = 1,  ∂z/∂y = -trunc(x / y)"""
    x, y = promote("fmod", input, other)
    if not x.dtype.is_floating_point and x.numel() and bool((y.array == 0).any()):
        raise RuntimeError("fmod: integer division by zero (ZeroDivisionError)")
    with quiet(x.device.xp):
        z = _broadcast("fmod", x.device.xp.fmod, x, y)
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return (sum_to_shape(grad, x_shape) if ctx.needs_input_grad[0] else None,
                sum_to_shape(-grad * div(x, y, rounding_mode="trunc"), y_shape)
                if ctx.needs_input_grad[1] else None)
    return record("fmod", z, (x, y), backward, save=(x, y))


@operation(function=True, method=True, out=True)
def copysign(input, other):
    """z = |x| with the sign of y;  ∂z/∂x = sign(x)·(±1 from y's sign bit),  ∂z/∂y = 0"""
    x, y = _float_operands("copysign", input, other)
    z = _broadcast("copysign", x.device.xp.copysign, x, y)
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):
        x, z = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            # z/x is that ±1 wherever x ≠ 0; at x = 0 the slope is 0, as |x|'s is
            same_sign = where(x == 0, 0.0, z / where(x == 0, 1.0, x))
            grad_x = sum_to_shape(grad * same_sign, x_shape)
        if ctx.needs_input_grad[1]:
            # zeros, not grad·0: a NaN or infinite gradient still gives 0, as in PyTorch
            grad_y = sum_to_shape(wrap(grad.device.xp.zeros_like(grad.array), grad.device),
                                  y_shape)
        return grad_x, grad_y
    return record("copysign", z, (x, y), backward, save=(x, OUTPUT))


@operation(function=True, method=True, composite=True, out=True)
def float_power(input, exponent):
    """z = xʸ in float64, whatever the inputs' dtypes (``pow`` of float64 operands)"""
    from ...dtypes import float64
    x = input.to(float64) if hasattr(input, "shape") else input
    y = exponent.to(float64) if hasattr(exponent, "shape") else exponent
    if not hasattr(x, "shape"):   # number ** tensor
        x = wrap(y.device.xp.asarray(x, dtype=y.array.dtype), y.device)
    return pow(x, float(y) if isinstance(y, int) else y)


@operation(function=True, method=True, composite=True, out=True)
def addcmul(input, tensor1, tensor2, value=1):
    """z = x + value·t₁·t₂"""
    wide_slopes = _slopes_wider_than_float16(tensor1, tensor2)
    x, t1, t2, value = _addc_operands("addcmul", input, tensor1, tensor2, value)
    t1, t2 = _spread("addcmul", x, t1, t2)
    if x.dtype.is_floating_point and not hasattr(value, "shape"):
        return _addc_floating("addcmul", x, t1, t2, value, wide_slopes,
                              _integer_operands(x, value, tensor1, tensor2))
    return add(x, mul(t1 if _is_one(value) else mul(t1, value), t2))


@operation(function=True, method=True, composite=True, out=True)
def addcdiv(input, tensor1, tensor2, value=1):
    """z = x + value·t₁/t₂"""
    if not any(getattr(getattr(t, "dtype", None), "is_floating_point", True)
               for t in (tensor1, tensor2)):
        raise RuntimeError(f"addcdiv: integer division is not supported (tensor1 is "
                           f"{tensor1.dtype.name}, tensor2 {tensor2.dtype.name}), as in "
                           f"PyTorch; use (input + value * tensor1 / tensor2) for true division "
                           f"or div(..., rounding_mode='floor') for floor division")
    wide_slopes = _slopes_wider_than_float16(tensor1, tensor2)
    x, t1, t2, value = _addc_operands("addcdiv", input, tensor1, tensor2, value)
    t1, t2 = _spread("addcdiv", x, t1, t2)
    if x.dtype.is_floating_point and not hasattr(value, "shape"):
        return _addc_floating("addcdiv", x, t1, t2, value, wide_slopes,
                              _integer_operands(x, value, tensor1, tensor2))
    return add(x, div(t1 if _is_one(value) else mul(t1, value), t2))


def _slopes_wider_than_float16(tensor1, tensor2):
    """True where t₁ and t₂ promote, on their own, to a float wider than float16 (a float16
    t₁ and a 0-d float32 t₂): PyTorch's backward then forms value·t₁/t₂² in that dtype."""
    from ...dtypes import result_type
    tensors = [t for t in (tensor1, tensor2) if isinstance(t, Tensor)]
    if not tensors:
        return False
    common = result_type([t.dtype for t in tensors if t.ndim],
                         [t.dtype for t in tensors if not t.ndim])
    return common.is_floating_point and common.itemsize > 2


def _integer_operands(x, value, tensor1, tensor2):
    """t₁ and t₂ as given where each is an integer (or bool) tensor that PyTorch's backward
    multiplies by a float ``value`` in the default float dtype, wider than the result's
    (float16): its slope is formed there, not in float16 (uint8 2·1e30 is finite in float32,
    where float16 overflows to ∞ and a zero gradient times it to NaN). Else None."""
    from ...dtypes import get_default_dtype
    if not isinstance(value, float) or x.dtype.itemsize >= get_default_dtype().itemsize:
        return None, None
    return tuple(t if isinstance(t, Tensor) and not t.dtype.is_floating_point else None
                 for t in (tensor1, tensor2))


def _addc_floating(op, x, t1, t2, value, wide_slopes=False, integers=(None, None)):
    """x + (value·t₁)·t₂ (addcmul) or x + (value·t₁)/t₂ (addcdiv) of floating point tensors
    and a number, as one operation in PyTorch's order: float16 is computed in float32 with
    value as float32 and rounded once, as PyTorch's CPU kernel (value·t₁·t₂ may pass 65504
    on the way, and a value of 1e30 is no float16), and the backward is PyTorch's formulas:
    ∂/∂t₁ = g·(t₂·value) or g·(value/t₂),  ∂/∂t₂ = g·(t₁·value) or -g·(value·t₁/(t₂·t₂))
    (grouped so: a zero g meets an overflowed value·t₁/t₂² as NaN, as in PyTorch)."""
    xp = x.device.xp
    shapes = [tuple(t.shape) for t in (x, t1, t2)]
    try:
        xp.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"{op}: shapes {', '.join(map(str, shapes))} cannot be broadcast "
                           f"together") from None
    half = x.array.dtype == xp.float16
    a, b, c = (t.array.astype(xp.float32) if half else t.array for t in (x, t1, t2))
    with quiet(xp):   # (value·t₁) first, as PyTorch: value = 1e30 and t₁ = 1e30 overflow
        scaled = b if value == 1 else b * (xp.float32(value) if half else value)
        z = a + (scaled * c if op == "addcmul" else scaled / c)
    z = z.astype(x.array.dtype, copy=False)
    shape1, shape2 = t1.shape, t2.shape
    x_shape = x.shape

    def backward(ctx, grad):
        first, second = ctx.saved_tensors
        grad_x = sum_to_shape(grad, x_shape) if ctx.needs_input_grad[0] else None
        if half and wide_slopes:   # float16 operands promoted from wider ones: the slopes
            # in float32, as PyTorch (a zero g times t₁/t₂² beyond 65504 is then 0, not NaN)
            wide = (None if t is None else t.float() for t in (grad, first, second))
            slopes = _addc_gradients(op, ctx, value, *wide)
            grad_1, grad_2 = (None if g is None else g.half() for g in slopes)
        else:
            grad_1, grad_2 = _addc_gradients(op, ctx, value, grad, first, second, integers)
        return (grad_x, None if grad_1 is None else sum_to_shape(grad_1, shape1),
                None if grad_2 is None else sum_to_shape(grad_2, shape2))
    return record(op, z, (x, t1, t2), backward,
                  save=(t1 if t2.requires_grad else None, t2), attrs={"value": value})


def _addc_gradients(op, ctx, value, grad, first, second, integers=(None, None)):
    """addcmul's or addcdiv's gradients of t₁ and t₂ (None where not needed). An integer
    operand in ``integers`` (see `_integer_operands`) forms its slope with the value in the
    default float dtype, as PyTorch: that slope and its product with the gradient are wide,
    rounded to the gradient's dtype at the end."""
    int_1, int_2 = integers
    if int_1 is not None:
        first = int_1.to(_default_float())
    if int_2 is not None:
        second = int_2.to(_default_float())
    narrow = grad.dtype
    if op == "addcmul":
        grad_1 = grad * (second * value) if ctx.needs_input_grad[1] else None
        grad_2 = grad * (first * value) if ctx.needs_input_grad[2] else None
    else:
        grad_1 = grad * (value / second) if ctx.needs_input_grad[1] else None
        grad_2 = None
        if ctx.needs_input_grad[2]:   # t₂ is a float: t₂² in its own dtype, as PyTorch
            grad_2 = -grad * (first * value / (second * second))
    return tuple(g if g is None or g.dtype is narrow else g.to(narrow)
                 for g in (grad_1, grad_2))


def _default_float():
    from ...dtypes import get_default_dtype
    return get_default_dtype()


def _addc_operands(op, input, tensor1, tensor2, value):
    """The three tensors in the dtype PyTorch gives them together (``value`` takes no part:
    an integer result truncates a float value, as PyTorch's integer kernels do). A 0-d
    ``value`` that needs no gradient is the number it holds; one that does stays a tensor."""
    x, t1, t2 = promote(op, input, tensor1, tensor2)
    if hasattr(value, "shape") and value.ndim == 0 and not value.requires_grad:
        value = value.item()
    if not hasattr(value, "shape") and not x.dtype.is_floating_point and x.dtype.name != "bool":
        from ...dtypes import stored_scalar
        value = stored_scalar(op, value, x.array.dtype)   # -1.5 into uint8 is refused
    return x, t1, t2, value


def _is_one(value):
    return not hasattr(value, "shape") and value == 1


def _spread(op, input, tensor1, tensor2):
    """t₁ and t₂, each expanded to the result's shape where it requires grad and is smaller:
    backward then multiplies every element's gradient before summing over the broadcast
    dims, as PyTorch does (an ∞ meeting gradients of both signs sums to NaN there, not to
    ±∞ times the summed gradient)."""
    tensors = (input, tensor1, tensor2)
    if not any(getattr(t, "requires_grad", False) for t in (tensor1, tensor2)):
        return tensor1, tensor2
    shapes = [tuple(t.shape) for t in tensors if hasattr(t, "shape")]
    try:
        shape = input.device.xp.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"{op}: shapes {', '.join(map(str, shapes))} cannot be broadcast "
                           f"together") from None
    return tuple(t.expand(*shape) if getattr(t, "requires_grad", False)
                 and tuple(t.shape) != shape else t for t in (tensor1, tensor2))


@operation(function=True, method=True)
def ldexp(input, other):
    """z = x·2ʸ, in the operands' common dtype (the default float dtype if that is integral);
    ∂z/∂x = 2ʸ,  ∂z/∂y = x·2ʸ·ln 2 = z·ln 2 (from the rounded z). As in PyTorch, 2ʸ of a
    floating point y of 1 or more dims is taken in y's own dtype (a float16 2⁵⁸ is ∞ even
    against a float64 x), of a 0-d or integer y in the result's.

    A broadcast y's gradient sums each element's own product, as PyTorch's does (∞ and -∞
    then sum to NaN, not to a finite Σ grad·x times an infinite 2ʸ). It sums them in the
    result's dtype and only then rounds to y's: a float16 y's terms past float16's range
    may have a sum within it, or one ∞ where the rounded terms would sum ∞ - ∞ to NaN."""
    from ...dtypes import get_default_dtype, result_type
    if not hasattr(other, "shape"):   # a number: 2ʸ is a number too (inf past float range)
        return mul(input, math.inf if other > 1023 else 2.0 ** other)
    common = result_type([t.dtype for t in (input, other) if t.ndim],
                         [t.dtype for t in (input, other) if not t.ndim])
    result = common if common.is_floating_point else get_default_dtype()
    y = other if other.dtype.is_floating_point and other.ndim else other.to(result)
    # 2ʸ in y's dtype, then in the result's: x's float16 stays float16 against a 0-d y, as
    # PyTorch's product with a 0-d power gives
    if not (y.requires_grad and isinstance(input, Tensor)):
        return mul(input, y.exp2().to(result))
    # y's slope is taken from the rounded result, (g·z)·ln 2, as PyTorch's: where z is ±∞
    # (x·2ʸ past the float range) so is each term, and terms of both signs sum to NaN. z is
    # formed again from x and y in backward, not saved, so that a later in-place step on z
    # leaves the gradient as it is
    z = mul(input.detach(), y.detach().exp2().to(result))
    x_shape, y_shape, y_dtype = input.shape, y.shape, y.dtype

    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        power = y.exp2().to(result)
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = sum_to_shape(grad * power, x_shape)
        if ctx.needs_input_grad[1]:
            grad_y = sum_to_shape(grad * mul(x, power) * _LN2, y_shape).to(y_dtype)
        return grad_x, grad_y
    return record("ldexp", z.array, (input, y), backward, save=(input, y))


@operation(function=True, method=True, differentiable=False)
def logical_xor(input, other):
    return _compare("logical_xor", input.device.xp.logical_xor, input, other)


@operation(function=True, method=True, differentiable=False)
def bitwise_left_shift(input, other):
    _require_integers("bitwise_left_shift", input, other)
    return _compare("bitwise_left_shift", input.device.xp.bitwise_left_shift, input, other)


@operation(function=True, method=True, differentiable=False)
def bitwise_right_shift(input, other):
    _require_integers("bitwise_right_shift", input, other)
    return _compare("bitwise_right_shift", input.device.xp.bitwise_right_shift, input, other)


def _require_integers(op, *operands):
    """Bit shifts are defined for integers (as in PyTorch): a bool operand counts as one
    when the other is an integer, but two bools have no shift (their result would be bool)."""
    kinds = [getattr(value, "dtype", None) for value in operands]
    for value, kind in zip(operands, kinds):
        if (kind is not None and kind.is_floating_point) or isinstance(value, float):
            raise TypeError(f"{op}: expects integer tensors, got "
                            f"{kind if kind is not None else type(value).__name__}")
    if all((kind is not None and kind.name == "bool") or isinstance(value, bool)
           for value, kind in zip(operands, kinds)):
        raise TypeError(f"{op}: expects integer tensors, got two bool operands (a bool shifts "
                        f"only against an integer, which it is promoted to)")


@operation(function=True, method=True)
def nextafter(input, other):
    """z = the next float after x towards y;  ∂z/∂x = 1 where x ≠ y and 0 where x = y,
    ∂z/∂y = 0 (as PyTorch defines them: z is x to within one rounding, and nextafter(x, x)
    is y, which stays put)"""
    x, y = promote("nextafter", input, other)
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):   # (zeros are zeros even where grad is NaN, as in PyTorch)
        x, y = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = sum_to_shape(where(x != y, grad, 0.0), x_shape)
        if ctx.needs_input_grad[1]:
            grad_y = wrap(grad.device.xp.zeros(tuple(y_shape), dtype=grad.array.dtype),
                          grad.device)
        return grad_x, grad_y
    return record("nextafter", _broadcast("nextafter", x.device.xp.nextafter, x, y), (x, y),
                  backward, save=(x, y))


# numpy's spellings, which PyTorch accepts too
multiply = alias(mul, "multiply")
divide = alias(div, "divide")
subtract = alias(sub, "subtract")
