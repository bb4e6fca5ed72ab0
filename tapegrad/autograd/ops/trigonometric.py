"""Trigonometric and hyperbolic functions, their inverses, and the angles of points.

Like the other pointwise functions, each computes f on the backend array and gives back
the incoming gradient times f' (written with tensor operations, so it can be
differentiated again). Integer inputs become the default float dtype, as in PyTorch.
The inverse functions are real-valued only inside their domain (asin on [-1, 1], acosh
on [1, ∞), atanh on (-1, 1)); outside it they give nan, silently, as PyTorch does.
"""
import math

from ..operands import sum_to_shape
from ..tape import OUTPUT, record
from ..tensor import wrap
from .arithmetic import _broadcast, _float_operands, where
from .declare import alias, operation
from ..quiet import quiet
from .pointwise import _float_input


@operation(function=True, method=True, out=True)
def tan(input):
    """y = tan x;  dy/dx = 1 + tan² x = 1 + y²"""
    x = _float_input("tan", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * (y * y + 1)
    return record("tan", x.device.xp.tan(x.array), (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def asin(input):
    """y = arcsin x;  dy/dx = 1/√(1 - x²)"""
    x = _float_input("asin", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (1 - x * x).rsqrt()
    with quiet(x.device.xp):
        y = x.device.xp.asin(x.array)
    return record("asin", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def acos(input):
    """y = arccos x;  dy/dx = -1/√(1 - x²)"""
    x = _float_input("acos", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return -(grad * (1 - x * x).rsqrt())
    with quiet(x.device.xp):
        y = x.device.xp.acos(x.array)
    return record("acos", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def atan(input):
    """y = arctan x;  dy/dx = 1/(1 + x²)"""
    x = _float_input("atan", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (x * x + 1)
    return record("atan", x.device.xp.atan(x.array), (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def sinh(input):
    """y = sinh x;  dy/dx = cosh x"""
    x = _float_input("sinh", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.cosh()
    with quiet(x.device.xp):
        y = x.device.xp.sinh(x.array)
    return record("sinh", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def cosh(input):
    """y = cosh x;  dy/dx = sinh x"""
    x = _float_input("cosh", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.sinh()
    with quiet(x.device.xp):
        y = x.device.xp.cosh(x.array)
    return record("cosh", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def asinh(input):
    """y = arsinh x;  dy/dx = 1/√(x² + 1)"""
    x = _float_input("asinh", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (x * x + 1).rsqrt()
    return record("asinh", x.device.xp.asinh(x.array), (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def acosh(input):
    """y = arcosh x;  dy/dx = 1/√(x² - 1)"""
    x = _float_input("acosh", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        # As PyTorch: the real 1/√(x² - 1) for x < -1 too (where y is nan), +inf at ±1
        # (x² - 1 is +0 there), 0 at ±inf
        return grad * (x * x - 1).rsqrt()
    with quiet(x.device.xp):
        y = x.device.xp.acosh(x.array)
    return record("acosh", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def atanh(input):
    """y = artanh x;  dy/dx = 1/(1 - x²)"""
    x = _float_input("atanh", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (1 - x * x)
    with quiet(x.device.xp):
        y = x.device.xp.atanh(x.array)
    return record("atanh", y, (x,), backward, save=(x,))


_SINC_SLOPE_SERIES = [(-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 8)]


@operation(function=True, method=True, out=True)
def sinc(input):
    """y = sin(πx)/(πx), 1 at x = 0;  dy/dx = (cos(πx) - y)/x, 0 at x = 0"""
    x = _float_input("sinc", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors   # (y is recomputed, as PyTorch does, so it may change in place)
        if x.dtype.itemsize == 2:    # float16: πx in float32, as in the forward
            x = x.float()
        # 0 where πx² is 0 (x = 0, and where it underflows: |x| below about 1e-23 in
        # float32), even for an infinite gradient. The slope -π²x/3 there is tiny but
        # representable (-3.3e-25 at x = 1e-25); the 0 is PyTorch's answer, matched on purpose
        at_zero = x * x * math.pi == 0
        safe_x = where(at_zero, 1.0, x)   # no 0/0 in either branch
        # (beyond 2²³ in float32, πx rounded keeps no fractional digit: cos(πx) is noise
        # there, as the forward's sin(πx) is, and as PyTorch's are; where πx² overflows,
        # beyond 1e19, its slope is 0, and so is this one; where πx itself overflows, the
        # forward's sin(πx) is NaN, and so is the slope, as PyTorch's)
        u = safe_x * math.pi
        slope = (u.cos() - u.sin() / u) / safe_x
        far = ((u * safe_x).abs() == math.inf) & (u.abs() != math.inf)
        slope = where(far, 0.0, slope)
        # near 0 the two terms cancel (float32 keeps no digit of the slope at x = 1e-5): the
        # series π·Σₖ (-1)ᵏ 2k u^{2k-1}/(2k+1)! of u = πx instead, to k = 7 (exact in float64
        # for |u| < 1/2, where the formula's cancellation costs float32 one digit at most)
        u2 = u * u
        series = _SINC_SLOPE_SERIES[-1]
        for coefficient in reversed(_SINC_SLOPE_SERIES[:-1]):
            series = u2 * series + coefficient
        slope = where(u.abs() < 0.5, series * u * math.pi, slope)
        return where(at_zero, 0.0, grad * slope.to(grad.dtype))
    xp = x.device.xp
    a = x.array
    if a.dtype.itemsize == 2:   # float16: πx in float32, as PyTorch (in float16 π·23056
        a = a.astype("float32")   # overflows, and πx near 7000 keeps no fractional digit)
    at_zero = a == 0
    with quiet(xp):
        pi_x = a * math.pi
        y = xp.where(at_zero, 1, xp.sin(pi_x) / xp.where(at_zero, 1, pi_x))
    return record("sinc", y.astype(x.array.dtype, copy=False), (x,), backward, save=(x,))


def _scaled(a, factor):
    """a·factor; float16 in float32, rounded once, as PyTorch's CPU kernel (float16's own
    180/π is 57.28, off by 0.03, which moves a third of the results by one ulp)."""
    if a.dtype.itemsize == 2:
        return (a.astype("float32") * factor).astype(a.dtype)
    return a * factor


@operation(function=True, method=True, out=True)
def deg2rad(input):
    """y = x·π/180;  dy/dx = π/180"""
    x = _float_input("deg2rad", input)
    def backward(ctx, grad):
        return grad * (math.pi / 180)
    return record("deg2rad", _scaled(x.array, math.pi / 180), (x,), backward)


@operation(function=True, method=True, out=True)
def rad2deg(input):
    """y = x·180/π;  dy/dx = 180/π"""
    x = _float_input("rad2deg", input)
    def backward(ctx, grad):
        return grad * (180 / math.pi)
    return record("rad2deg", _scaled(x.array, 180 / math.pi), (x,), backward)


@operation(function=True, method=True, out=True)
def atan2(input, other):
    """z = the angle of the point (x = other, y = input), in (-π, π];
    ∂z/∂input = other/r²,  ∂z/∂other = -input/r²  (r² = input² + other²; both 0 where r²
    is 0, as in PyTorch, also where the squares underflow; where they overflow and the
    radius r does not, formed as (1/r)·(other/r))"""
    y, x = _float_operands("atan2", input, other)
    y_shape, x_shape = y.shape, x.shape
    def backward(ctx, grad):
        y, x = ctx.saved_tensors
        narrow = y.dtype.itemsize == 2   # float16: r² overflows beyond 256, the slope does not
        if narrow:
            y, x, grad = y.float(), x.float(), grad.float()
        r2 = x * x + y * y
        reciprocal = where(r2 == 0, 0.0, r2.reciprocal())
        # 1/r² is 0 once the squares overflow (1e30 in float32) though the slope is not:
        # there the slope goes through r itself (PyTorch gives NaN there: ∞·0). The slope is
        # formed before it meets the gradient: a tiny gradient times 1/r² would underflow
        big = (r2 == math.inf) & (x.abs() < math.inf) & (y.abs() < math.inf)
        r = where(big, hypot(x, y), 1.0)
        grad_y = (sum_to_shape(grad * where(big, x / r / r, x * reciprocal), y_shape)
                  if ctx.needs_input_grad[0] else None)
        grad_x = (sum_to_shape(grad * where(big, -y / r / r, -y * reciprocal), x_shape)
                  if ctx.needs_input_grad[1] else None)
        if narrow:
            grad_y, grad_x = (None if g is None else g.half() for g in (grad_y, grad_x))
        return grad_y, grad_x
    z = _broadcast("atan2", y.device.xp.atan2, y, x)
    return record("atan2", z, (y, x), backward, save=(y, x))


def _times_slope(grad, a, z):
    """g·(a/z), hypot's gradient: the slope a/z in [-1, 1] first, except where it falls below
    the smallest normal float (|a| ≪ z: 1e-30 / 1e20 underflows to 0, 1e-30 / 1e12 keeps
    three digits) and g·a/z need not be small; there g·a, which cannot overflow then."""
    slope = a / z
    xp = slope.device.xp
    lost = xp.abs(slope.array) < xp.finfo(slope.array.dtype).tiny
    if lost.any():
        lost &= a.array != 0   # where a = 0 the slope is exactly 0: nothing lost
    if not lost.any():
        return grad * slope
    return where(wrap(lost, slope.device), grad * a / z, grad * slope)


@operation(function=True, method=True, out=True)
def hypot(input, other):
    """z = √(x² + y²) (without overflow in x²);  ∂z/∂x = x/z,  ∂z/∂y = y/z"""
    x, y = _float_operands("hypot", input, other)
    x_shape, y_shape = x.shape, y.shape
    def backward(ctx, grad):
        x, y, z = ctx.saved_tensors
        # the slopes x/z and y/z first: they lie in [-1, 1], so neither g·x (PyTorch's, which
        # overflows at x = 1e30) nor g/z (which underflows: 1.8e-26 / 5e28) is ever formed.
        # float16 in float32, rounded once: a slope below 6e-8 (0.0002925 / 15320) is no
        # float16, and an infinite g times it is ∞ (as PyTorch's g·y/z), not ∞·0 = NaN
        narrow = z.dtype.itemsize == 2 and grad.dtype.itemsize == 2
        if narrow:
            x, y, z, grad = (t if t is None else t.float() for t in (x, y, z, grad))
        grad_x = sum_to_shape(_times_slope(grad, x, z), x_shape) \
            if ctx.needs_input_grad[0] else None
        grad_y = sum_to_shape(_times_slope(grad, y, z), y_shape) \
            if ctx.needs_input_grad[1] else None
        if narrow:
            grad_x, grad_y = (g if g is None else g.half() for g in (grad_x, grad_y))
        return grad_x, grad_y
    z = _broadcast("hypot", x.device.xp.hypot, x, y)
    return record("hypot", z, (x, y), backward, save=(x, y, OUTPUT))


# numpy's spellings, which PyTorch accepts too
arcsin = alias(asin, "arcsin")
arccos = alias(acos, "arccos")
arctan = alias(atan, "arctan")
arcsinh = alias(asinh, "arcsinh")
arccosh = alias(acosh, "arccosh")
arctanh = alias(atanh, "arctanh")
arctan2 = alias(atan2, "arctan2")
