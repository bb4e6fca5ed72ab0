"""Pointwise functions of one tensor: y = f(x), so dL/dx = dL/dy · f'(x).

Each function computes f on the backend array, and beside it, `backward` returns the
incoming gradient times f'. The backward uses tensor operations, so it can itself be
recorded (``create_graph=True``) and differentiated again.
"""
import numbers

from ... import kernels
from ..quiet import quiet
from ..tape import OUTPUT, record, zero_gradient
from ..tensor import Tensor, wrap
from .declare import alias, operation
from .gate import gate


def _tensor_input(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _no_bool(op, x):
    """Functions PyTorch does not define on bool tensors (no kernel, or no meaning)."""
    _tensor_input(op, x)
    if x.dtype.name == "bool":
        hint = ("use ~ or logical_not() to invert a mask" if op == "neg"
                else "convert it with .long() or .float() first")
        raise TypeError(f"{op}: not supported on a bool tensor, as in PyTorch; {hint}")
    return x


def _widened(a):
    """A float16 array in float32 (others as they are): PyTorch's CPU kernels compute float16
    in float32 and round once, where float16 steps would round at each (1/(1 + e⁻ˣ) in
    float16 is one ulp off for a third of its inputs)."""
    return a.astype("float32") if a.dtype.kind == "f" and a.dtype.itemsize == 2 else a


def _float_input(op, x):
    """Differentiable math needs a floating-point tensor; integers are converted as PyTorch does."""
    _tensor_input(op, x)
    if not x.dtype.is_floating_point:
        from ...dtypes import get_default_dtype
        return x.to(get_default_dtype())
    return x


@operation(function=True, method=True, out=True)
def neg(input):
    """y = -x;  dy/dx = -1"""
    _no_bool("neg", input)
    def backward(ctx, grad):
        return -grad
    return record("neg", -input.array, (input,), backward)


@operation(function=True, method=True, out=True)
def abs(input):
    """y = |x|;  dy/dx = sign(x)  (0 at x = 0, as in PyTorch)"""
    x = _no_bool("abs", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.sign()
    return record("abs", x.device.xp.abs(x.array), (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def exp(input):
    """y = eˣ;  dy/dx = eˣ = y"""
    x = _float_input("exp", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y
    with quiet(x.device.xp):   # inf and nan without numpy's warning, as in PyTorch
        y = x.device.xp.exp(x.array)
    return record("exp", y, (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def expm1(input):
    """y = eˣ - 1 (accurate near 0);  dy/dx = eˣ = y + 1"""
    x = _float_input("expm1", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * (y + 1)
    with quiet(x.device.xp):   # inf and nan without numpy's warning, as in PyTorch
        y = x.device.xp.expm1(x.array)
    return record("expm1", y, (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def log(input):
    """y = ln x;  dy/dx = 1/x"""
    x = _float_input("log", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / x
    with quiet(x.device.xp):   # inf and nan without numpy's warning, as in PyTorch
        y = x.device.xp.log(x.array)
    return record("log", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def log1p(input):
    """y = ln(1 + x) (accurate near 0);  dy/dx = 1/(1 + x)"""
    x = _float_input("log1p", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (x + 1)
    with quiet(x.device.xp):   # inf and nan without numpy's warning, as in PyTorch
        y = x.device.xp.log1p(x.array)
    return record("log1p", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def sqrt(input):
    """y = √x;  dy/dx = 1/(2√x) = 1/(2y)"""
    x = _float_input("sqrt", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad / (y * 2)
    with quiet(x.device.xp):   # inf and nan without numpy's warning, as in PyTorch
        y = x.device.xp.sqrt(x.array)
    return record("sqrt", y, (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def rsqrt(input):
    """y = 1/√x;  dy/dx = -1/(2 x^{3/2}) = -y³/2"""
    x = _float_input("rsqrt", input)
    xp = x.device.xp
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * -0.5 * y.pow(3)   # (halved first, as PyTorch: g·y³ may overflow first)
    with quiet(xp):
        y = xp.reciprocal(xp.sqrt(x.array))
    return record("rsqrt", y, (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def sin(input):
    """y = sin x;  dy/dx = cos x"""
    x = _float_input("sin", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.cos()
    return record("sin", x.device.xp.sin(x.array), (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def cos(input):
    """y = cos x;  dy/dx = -sin x"""
    x = _float_input("cos", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return -(grad * x.sin())
    return record("cos", x.device.xp.cos(x.array), (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def tanh(input):
    """y = tanh x;  dy/dx = 1 - y²"""
    x = _float_input("tanh", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return tanh_backward(grad, y)
    return record("tanh", x.device.xp.tanh(x.array), (x,), backward, save=(OUTPUT,))


@operation()
def tanh_backward(grad, output):
    """z = g·(1 - y²), tanh's backward from its output y, as one operation;
    ∂z/∂g = 1 - y²,  ∂z/∂y = -2·g·y

    ``grad * (1 - y * y)`` would record three operations at every use of tanh (an RNN
    has one per time step); this records one, and still has a derivative of its own, so
    second derivatives (``create_graph=True``) work as before.
    """
    g, y = _widened(grad.array), _widened(output.array)
    z = 1 - y * y
    z *= g
    z = z.astype(grad.array.dtype, copy=False)
    def backward(ctx, grad_z):
        g, y = ctx.saved_tensors
        return (grad_z * (1 - y * y) if ctx.needs_input_grad[0] else None,
                grad_z * g * y * -2 if ctx.needs_input_grad[1] else None)
    return record("tanh_backward", z, (grad, output), backward, save=(grad, output))


@operation(function=True, method=True, out=True)
def sigmoid(input):
    """y = 1/(1 + e⁻ˣ);  dy/dx = y(1 - y)"""
    x = _float_input("sigmoid", input)
    xp = x.device.xp
    # Four passes. Where e⁻ˣ overflows (x < -88 in float32), y is 0 and the true value is
    # below the smallest normal float anyway: no accuracy is lost, only numpy's warning.
    with xp.errstate(over="ignore"):
        e = xp.exp(-_widened(x.array))
    e += 1
    y = xp.reciprocal(e, out=e) if e.ndim else xp.reciprocal(e)
    y = y.astype(x.array.dtype, copy=False)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return sigmoid_backward(grad, y)
    return record("sigmoid", y, (x,), backward, save=(OUTPUT,))


@operation()
def sigmoid_backward(grad, output):
    """z = g·y(1 - y), the sigmoid's backward from its output y, as one operation;
    ∂z/∂g = y(1 - y),  ∂z/∂y = g(1 - 2y)"""
    # in PyTorch's order, g·(1 - y) then ·y, each rounded in the dtype (float16 too: its
    # CPU kernel does not widen this one)
    z = 1 - output.array
    z *= grad.array
    z *= output.array
    def backward(ctx, grad_z):
        g, y = ctx.saved_tensors
        return (grad_z * (y * (1 - y)) if ctx.needs_input_grad[0] else None,
                grad_z * g * (1 - 2 * y) if ctx.needs_input_grad[1] else None)
    return record("sigmoid_backward", z, (grad, output), backward, save=(grad, output))


@operation(function=True, method=True)
def relu(input):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0"""
    x = _no_bool("relu", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return relu_backward(grad, y)
    # relu(-0.0) is -0.0, as PyTorch's (a reciprocal or log after it sees the sign)
    y = kernels.relu(x.device.xp, x.array)
    return record("relu", y, (x,), backward, save=(OUTPUT,))


@operation()
def relu_backward(grad, output):
    """z = g where y > 0, else 0: relu's backward from its output y, as one operation;
    ∂z/∂g = 1 where y > 0, else 0,  ∂z/∂y = 0 (y > 0 is a step: flat almost everywhere)"""
    # not "> 0": a NaN passes its gradient on, as in PyTorch; an infinite g stays out where
    # y ≤ 0 (0, not 0·∞ = NaN), in one pass on the cpu
    z = kernels.relu_gradient(grad.device.xp, grad.array, output.array)
    def backward(ctx, grad_z):
        # the mask is a constant of the graph (no gradient of its own)
        positive = wrap(~(output.array <= 0), grad_z.device)
        return gate(grad_z, positive), None
    return record("relu_backward", z, (grad, output), backward)


@operation(function=True, method=True, out=True)
def clamp(input, min=None, max=None):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo ≤ x ≤ hi, else 0

    With tensor bounds, dy/dlo = 1 where x < lo < hi and dy/dhi = 1 where x > hi or hi < lo."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    _tensor_input("clamp", input)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # one dtype for all three first, as PyTorch (a uint8 x clamped by an int64 0-d -3 and
        # an int64 max of 1 or more dims is int64: -3 must not wrap to uint8's 253 on the way)
        from ...dtypes import result_type
        given = [b for b in (input, min, max) if b is not None]
        tensors = [t for t in given if isinstance(t, Tensor)]
        numbers = [b for b in given if not isinstance(b, Tensor)]
        if numbers:
            # a 0-d bound beside a number bound counts as a number, as PyTorch reads the pair
            # (clamp(bool_x, min=uint8 0-d 2, max=-1) is int64, as clamp(bool_x, 2, -1))
            numbers += [_kind_of(t) for t in tensors if t is not input and not t.ndim]
            tensors = [t for t in tensors if t is input or t.ndim]
        common = result_type([t.dtype for t in tensors if t.ndim],
                             [t.dtype for t in tensors if not t.ndim], numbers)
        if common is not input.dtype:
            input = input.to(common)
        return _clamp_by_tensors(input, min, max, common)
    x = input
    bounds = [b for b in (min, max) if b is not None]
    # The bounds take part in type promotion (PyTorch ≥ 1.12): int.clamp(min=1.5) is float,
    # bool.clamp(-1, 2) is int64.
    from ...dtypes import result_type
    promoted = result_type([x.dtype], scalars=bounds)
    if promoted is not x.dtype:
        x = x.to(promoted)
    xp = x.device.xp
    # a bound must fit the result's dtype (300 for uint8, 1e30 for float16 are refused); an
    # int one is converted first (-1 for uint8 is 255)
    from ...dtypes import stored_scalar
    min, max = (b if b is None or hasattr(b, "shape") else stored_scalar("clamp", b, x.array.dtype)
                for b in (min, max))
    result = xp.clip(x.array, min, max).astype(x.array.dtype, copy=False)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        inside = x == x
        if min is not None:
            inside = inside & (x >= min)
        if max is not None:
            inside = inside & (x <= max)
        return gate(grad, inside)
    return record("clamp", result, (x,), backward, save=(x,), attrs={"min": min, "max": max})


clip = alias(clamp, 'clip')


def _kind_of(tensor):
    """A Python number of the tensor's kind (bool, int or float), for type promotion."""
    dtype = tensor.dtype
    return 0.0 if dtype.is_floating_point else False if dtype.name == "bool" else 0


def _clamp_by_tensors(x, lo, hi, dtype):
    """z = min(max(x, lo), hi) with a tensor bound (NaN wherever x, lo or hi is NaN; hi where
    lo > hi);  ∂z/∂x = [lo ≤ x ≤ hi],  ∂z/∂lo = [x < lo < hi],  ∂z/∂hi = [x > hi or hi < lo].

    The three slopes are PyTorch's masks: they do not sum to 1 everywhere (x = -1 with
    lo = hi = 0 gives no one a gradient, a NaN anywhere gives x none), and each is 1 or 0 even
    for an infinite or NaN incoming gradient."""
    lo, hi = (_bound_of_dtype(b, x, dtype) for b in (lo, hi))
    xp = x.device.xp
    z = x.array
    try:
        # at a tie, x itself (its sign of zero); elsewhere maximum/minimum, which keep NaN
        if lo is not None:
            z = xp.where(z >= lo.array, z, xp.maximum(z, lo.array))
        if hi is not None:
            z = xp.where(z <= hi.array, z, xp.minimum(z, hi.array))
    except ValueError:
        shapes = ", ".join(str(tuple(t.shape)) for t in (x, lo, hi) if t is not None)
        raise RuntimeError(f"clamp: input and bounds of shapes {shapes} cannot be broadcast "
                           f"together") from None
    shapes = [None if t is None else t.shape for t in (x, lo, hi)]

    def backward(ctx, grad):
        x, lo, hi = (None if t is None else t.array for t in ctx.saved_tensors)
        # (a comparison with a NaN is False: a NaN gives no one a gradient, but for hi < lo)
        if hi is None:     # min only: x keeps it at and above lo, lo takes it below
            masks = (x >= lo, x < lo, None)
        elif lo is None:   # max only: x keeps it at and below hi, hi takes it above
            masks = (x <= hi, None, x > hi)
        else:
            masks = ((x >= lo) & (x <= hi),   # x: inside both bounds, ties included
                     (x < lo) & (lo < hi),    # lo: x below it, and lo the bound that wins
                     (x > hi) | (hi < lo))    # hi: x above it, or lo > hi (the result is hi)
        return tuple(_masked(grad, mask, shape) if needed else None for mask, shape, needed
                     in zip(masks, shapes, ctx.needs_input_grad))
    out = record("clamp", z, (x, lo, hi), backward, save=(x, lo, hi))
    if out.grad_fn is not None:
        out.grad_fn.pytorch_name = "ClampBackward0"   # PyTorch's overload for tensor bounds
    return out


def _bound_of_dtype(bound, x, dtype):
    """A clamp bound as a tensor of the result's dtype (a number one checked to fit it)."""
    if bound is None or isinstance(bound, Tensor):
        return bound if bound is None or bound.dtype is dtype else bound.to(dtype)
    if not dtype.is_floating_point:   # 300 beside a uint8 tensor is refused
        from ...dtypes import stored_scalar
        bound = stored_scalar("clamp", bound, dtype.numpy)
    return x.new_full((), bound, dtype=dtype)


def _masked(grad, mask, shape):
    """grad where mask, else 0 (also for an infinite grad), summed back to ``shape``."""
    from ..operands import sum_to_shape
    from .arithmetic import where
    mask = wrap(grad.device.xp.broadcast_to(mask, grad.shape), grad.device)
    return sum_to_shape(where(mask, grad, 0.0), shape)


def _zero_gradient(op, input, result):
    """Piecewise-constant functions: their derivative is 0 wherever it exists."""
    result = result.astype(input.array.dtype, copy=False)  # integers stay integers
    def backward(ctx, grad):
        return wrap(grad.device.xp.zeros_like(grad.array), grad.device)
    backward.materializes_zeros = True   # even for a structural zero, as PyTorch's zeros_like
    return record(op, result, (input,), backward)


@operation(function=True, method=True, out=True)
def sign(input):
    """y = sign(x) ∈ {-1, 0, 1};  dy/dx = 0"""
    return _zero_gradient("sign", input, _sign_of("sign", input))


def _sign_of(op, input):
    _tensor_input(op, input)
    xp = input.device.xp
    a = input.array
    if a.dtype.kind == "b":   # a bool is its own sign
        return a.copy()
    result = xp.sign(a)
    if a.dtype.kind == "f":   # sign(NaN) is 0, as in PyTorch (numpy says NaN)
        result = xp.where(xp.isnan(a), xp.zeros((), dtype=a.dtype), result)
    return result


@operation(function=True, method=True, out=True)
def sgn(input):
    """y = sign(x) (the sign of a real number; x/|x| for complex ones in PyTorch);  dy/dx = 0,
    sent back as a structural zero, as PyTorch does: the gradients upstream are 0 even
    where their own slope is infinite or NaN (sign's plain 0 would give 0·∞ = NaN there)"""
    result = _sign_of("sgn", input).astype(input.array.dtype, copy=False)
    return record("sgn", result, (input,), _structural_zero)


def _structural_zero(ctx, grad):
    shape, dtype, device = ctx.input_meta[0]
    return zero_gradient(shape, dtype, device)


@operation(function=True, method=True, out=True)
def floor(input):
    """y = ⌊x⌋;  dy/dx = 0"""
    _no_bool("floor", input)
    return _zero_gradient("floor", input, input.device.xp.floor(input.array))


@operation(function=True, method=True, out=True)
def ceil(input):
    """y = ⌈x⌉;  dy/dx = 0"""
    _no_bool("ceil", input)
    return _zero_gradient("ceil", input, input.device.xp.ceil(input.array))


@operation(function=True, method=True, out=True)
def round(input, decimals=0):
    """y = x rounded half to even;  dy/dx = 0"""
    _no_bool("round", input)
    a = input.array
    if decimals and a.dtype.kind == "f" and a.dtype.itemsize == 2:   # x·10ᵈ overflows float16
        return _zero_gradient("round", input, input.device.xp.round(a.astype("float32"),
                                                                   decimals))
    return _zero_gradient("round", input, input.device.xp.round(a, decimals))


@operation(function=True, method=True, out=True)
def trunc(input):
    """y = x rounded towards zero;  dy/dx = 0"""
    _no_bool("trunc", input)
    return _zero_gradient("trunc", input, input.device.xp.trunc(input.array))


# -- more of PyTorch's pointwise math ------------------------------------------------------
_PI = 3.141592653589793
_LN2 = 0.6931471805599453    # ln 2
_LN10 = 2.302585092994046    # ln 10


@operation(function=True, method=True, out=True)
def exp2(input):
    """y = 2ˣ;  dy/dx = 2ˣ·ln 2 = y·ln 2"""
    x = _float_input("exp2", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y * _LN2
    xp = x.device.xp
    with quiet(xp):
        y = xp.pow(xp.asarray(2, dtype=x.array.dtype), x.array)
    return record("exp2", y, (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def log2(input):
    """y = log₂ x;  dy/dx = 1/(x·ln 2)"""
    x = _float_input("log2", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (x * _LN2)
    with quiet(x.device.xp):
        y = x.device.xp.log2(x.array)
    return record("log2", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def log10(input):
    """y = log₁₀ x;  dy/dx = 1/(x·ln 10)"""
    x = _float_input("log10", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (x * _LN10)
    with quiet(x.device.xp):
        y = x.device.xp.log10(x.array)
    return record("log10", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def reciprocal(input):
    """y = 1/x;  dy/dx = -1/x² = -y²"""
    x = _float_input("reciprocal", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return -grad * (y * y)   # y² first, as PyTorch: it may overflow where grad·y would not
    with quiet(x.device.xp):
        y = x.device.xp.reciprocal(x.array)
    return record("reciprocal", y, (x,), backward, save=(OUTPUT,))


@operation(function=True, method=True, out=True)
def square(input):
    """y = x²;  dy/dx = 2x  (integers stay integers; bool, as pow(x, 2), gives int64)"""
    x = _tensor_input("square", input)
    if x.dtype.name == "bool":
        from ...dtypes import int64
        x = x.to(int64)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (x * 2)   # as PyTorch's pow(x, 2): 2x may overflow where g·x does not
    with quiet(x.device.xp):
        y = x.device.xp.square(x.array)
    return record("square", y, (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def frac(input):
    """y = x - trunc(x), the fractional part with x's sign;  dy/dx = 1"""
    x = _tensor_input("frac", input)
    if not x.dtype.is_floating_point:
        raise TypeError(f"frac: expected a floating-point tensor, got {x.dtype}")
    def backward(ctx, grad):
        return grad
    return record("frac", x.array - x.device.xp.trunc(x.array), (x,), backward)


@operation(function=True, method=True, out=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """y = x, with nan, +∞ and -∞ replaced (by default with 0 and the largest and smallest
    finite values of the dtype);  dy/dx = 1 where x is finite, else 0"""
    x = _tensor_input("nan_to_num", input)
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and (not isinstance(value, numbers.Real) or
                                  (name == "nan" and isinstance(value, bool))):
            raise TypeError(f"nan_to_num: {name} must be a real number, got "
                            f"{type(value).__name__} {value!r}")
    xp = x.device.xp
    a = x.array
    if a.dtype.kind == "f":
        largest = xp.finfo(a.dtype).max
        y = xp.where(xp.isnan(a), nan, a)
        y = xp.where(y == xp.inf, largest if posinf is None else posinf, y)
        y = xp.where(y == -xp.inf, -largest if neginf is None else neginf, y).astype(a.dtype)
    else:
        y = a.copy()   # integers are finite already
    finite, device = xp.isfinite(a), x.device   # (the mask is kept, not x)
    def backward(ctx, grad):
        return grad * wrap(finite, device)   # a constant of the graph
    return record("nan_to_num", y, (x,), backward)


@operation(function=True, method=True, out=True)
def logit(input, eps=None):
    """y = ln(z/(1 - z)) with z = x clamped to [eps, 1 - eps] (when eps is given);
    dy/dx = 1/(z(1 - z)), and 0 where x lies outside [eps, 1 - eps]. Without eps (or with
    a negative one, as in PyTorch), x outside [0, 1] has no logit and its gradient is NaN.
    The gradient is g/(z(1 - z)): near 0 the slope alone overflows where g times it fits"""
    x = _float_input("logit", input)
    xp = x.device.xp
    if eps is not None and eps < 0:   # PyTorch clamps only with an eps of at least 0
        eps = None
    z = x.array if eps is None else xp.clip(x.array, eps, 1 - eps)
    with quiet(xp):
        y = xp.log(z / (1 - z))
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        dtype = grad.dtype
        if dtype.itemsize == 2:   # float16: in float32 and rounded once, as PyTorch: the
            x, grad = x.float(), grad.float()   # slope overflows below x = 1.5e-5, g·slope not
        if eps is None:
            # (|x(1 - x)|: +∞, not -∞, at x = -0.0, as PyTorch's grad·∞ at x = 0)
            outside = (x < 0) | (x > 1)
            result = grad / _where(outside, float("nan"), (x * (1 - x)).abs())
        else:
            z = x.clamp(eps, 1 - eps)   # (finite slopes in both branches of the where)
            inside = ~((x < eps) | (x > 1 - eps))   # (a NaN x is inside: its gradient is NaN)
            # outside, the clamp's slope is 0 even for an infinite or NaN incoming gradient;
            # |z(1 - z)|: +∞ at x = -0.0 with eps = 0, as without eps
            result = _where(inside, grad / (z * (1 - z)).abs(), 0.0)
        return result.to(dtype)
    backward.materializes_zeros = True   # PyTorch's logit kernel makes plain zeros of them
    return record("logit", y, (x,), backward, save=(x,))


def _where(condition, input, other):
    from .arithmetic import where
    return where(condition, input, other)


@operation(function=True, method=True, composite=True, out=True)
def clamp_min(input, min):
    """y = max(x, min): ``clamp(x, min=min)``"""
    return clamp(input, min=min)


@operation(function=True, method=True, composite=True, out=True)
def clamp_max(input, max):
    """y = min(x, max): ``clamp(x, max=max)``"""
    return clamp(input, max=max)


@operation(function=True, method=True, composite=True)
def positive(input):
    """y = x: the tensor itself (unary plus); refused for bool, as in PyTorch"""
    x = _tensor_input("positive", input)
    if x.dtype.name == "bool":
        raise RuntimeError("positive: the + operator on a bool tensor is not supported, as in "
                           "PyTorch")
    return x


@operation(function=True, method=True, differentiable=False)
def signbit(input):
    """True where the sign bit is set (x < 0, and -0.0)"""
    return wrap(input.device.xp.signbit(_tensor_input("signbit", input).array), input.device)


# -- tests of a float's class: bool results, no gradient -------------------------------------
def _classify(op, input, test, integers):
    """``test`` of each element as a bool tensor; integer and bool tensors hold only finite
    numbers, so every element gets ``integers`` (as in PyTorch)"""
    x = _tensor_input(op, input)
    xp = x.device.xp
    if x.dtype.is_floating_point:
        return wrap(test(xp, x.array), x.device)
    fill = xp.ones if integers else xp.zeros
    return wrap(fill(x.array.shape, dtype=xp.bool), x.device)


@operation(function=True, method=True, differentiable=False)
def isnan(input):
    """True where x is NaN"""
    return _classify("isnan", input, lambda xp, a: xp.isnan(a), False)


@operation(function=True, method=True, differentiable=False)
def isinf(input):
    """True where x is +∞ or -∞"""
    return _classify("isinf", input, lambda xp, a: xp.abs(a) == xp.inf, False)


@operation(function=True, method=True, differentiable=False)
def isposinf(input):
    """True where x is +∞"""
    return _classify("isposinf", input, lambda xp, a: a == xp.inf, False)


@operation(function=True, method=True, differentiable=False)
def isneginf(input):
    """True where x is -∞"""
    return _classify("isneginf", input, lambda xp, a: a == -xp.inf, False)


@operation(function=True, method=True, differentiable=False)
def isfinite(input):
    """True where x is neither ±∞ nor NaN (everywhere in an integer or bool tensor)"""
    return _classify("isfinite", input, lambda xp, a: xp.isfinite(a), True)


@operation(function=True, method=True, out=True)
def angle(input):
    """y = the angle of x as a complex number: π where x < 0, else 0;  dy/dx = 0"""
    x = _float_input("angle", input)
    xp = x.device.xp
    a = x.array
    return _zero_gradient("angle", x, xp.where(xp.isnan(a), a, xp.where(a < 0, _PI, 0.0)))


# Other names PyTorch gives the same functions.
absolute = alias(abs, "absolute")
negative = alias(neg, "negative")
fix = alias(trunc, "fix")
