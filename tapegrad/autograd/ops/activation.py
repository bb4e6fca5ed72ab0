"""GELU, softplus, SiLU and logsigmoid as one operation each (``nn.functional.gelu``,
``nn.GELU``, every Transformer block; ``nn.functional.softplus``, ``silu`` and ``logsigmoid``).

    exact:  y = x·Φ(x) = x·(1 + erf(x/√2))/2,   dy/dx = Φ(x) + x·φ(x)
    tanh:   y = x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2

Composed, the exact form records five operations (mul, erf, add, mul, mul) and as many
backwards; here it is one each way (``tapegrad/kernels/fused.py``), Φ(x) computed once and
kept for the backward. The
backward is an operation too; its own derivative comes from the composition (``twice.py``).
"""
import math

from ...kernels import fused
from ..quiet import quiet
from ..tape import OUTPUT, record
from .arithmetic import where
from .declare import operation
from .pointwise import sigmoid
from .special import erf
from .twice import derivative_of_backward

_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2 / math.pi)


def _composed_gelu(x, approximate):
    if approximate == "none":
        return x * (erf(x * _SQRT_HALF) + 1) * 0.5
    inner = x * (x * x * 0.044715 + 1) * _SQRT_TWO_OVER_PI
    return x * (inner.tanh() + 1) * 0.5


@operation()
def gelu(input, approximate):
    """y = x·Φ(x) (``approximate='none'``) or its tanh form;  dy/dx = Φ(x) + x·φ(x)"""
    xp = input.device.xp
    y, cdf = fused.gelu(xp, input.array, approximate)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return gelu_backward(grad, x, approximate, cdf)
    return record("gelu", xp.asarray(y), (input,), backward, save=(input,),
                  attrs={"approximate": approximate})


@operation()
def gelu_backward(grad, input, approximate, cdf=None):
    """z = g·gelu'(x) as one operation (Φ(x) given by the forward, else computed);
    its derivative is the composition's second one"""
    xp = input.device.xp
    if approximate == "none" and cdf is None:
        cdf = fused.normal_cdf(xp, input.array)
    z = fused.gelu_backward(xp, grad.array, input.array, approximate, cdf)

    def backward(ctx, grad_z):
        g, x = ctx.saved_tensors
        return derivative_of_backward(lambda x: _composed_gelu(x, approximate), [g], [x],
                                      [grad_z], list(ctx.needs_input_grad))
    return record("gelu_backward", xp.asarray(z), (grad, input), backward, save=(grad, input))


@operation()
def softplus(input, beta, threshold):
    """y = log(1 + e^{βx})/β, and x where βx > threshold;  dy/dx = e^{βx}/(e^{βx} + 1),
    and 1 above the threshold.

    One operation, not a composition, for its gradient at the edges: composed, β = 0
    differentiates a division by β (∞·0 = NaN where PyTorch gives 1/2), and an infinite
    gradient meets the 0 slope of the unchosen branch."""
    xp = input.device.xp
    a = input.array
    half = a.dtype == xp.float16   # computed in float32 and rounded once, as PyTorch's CPU
    work = a.astype(xp.float32) if half else a   # kernel: e^z overflows float16 past z ≈ 11
    with quiet(xp):
        z = work * beta if beta != 1 else work
        # exp is taken of min(βx, threshold): only chosen there, and cannot overflow
        soft = xp.log1p(xp.exp(xp.minimum(z, threshold)))
        if beta != 1:
            soft = soft / beta
        y = xp.where(z > threshold, work, soft).astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        wide = x.float() if half else x
        z = wide * beta if beta != 1 else wide
        e = z.clamp(max=threshold).exp()   # (finite in the branch where it is not chosen)
        if half:   # g·σ(βx) in float32, rounded once, as PyTorch: σ(-20) = 2e-9 is 0 in
            # float16, and an infinite g times it NaN
            return where(z > threshold, grad, (grad.float() * (e / (e + 1))).to(x.dtype))
        return where(z > threshold, grad, grad * (e / (e + 1)))
    return record("softplus", y, (input,), backward, save=(input,),
                  attrs={"beta": beta, "threshold": threshold})


@operation()
def elu(input, alpha, from_result=False, scale=1.0, input_scale=1.0):
    """y = s·x where x > 0, else s·α(e^{cx} - 1);  dy/dx = s where x > 0, else s·α·c·e^{cx}
    (s = ``scale``, c = ``input_scale``: 1 and 1 for elu; selu's constants; c = 1/α for celu)

    One operation, not a composition, for its gradient at the edges: composed, the slope
    comes from expm1's backward as y + 1, which is 0 once eˣ - 1 rounds to -1 (x < -37 in
    float64), so an infinite gradient gives ∞·0 = NaN where PyTorch's αeˣ passes ∞ on.
    float16 is computed in float32 and rounded once, as PyTorch's CPU kernel.
    ``from_result`` (elu_, elu(inplace=True)): the slope is c·(y + s·α), from the result, as
    PyTorch's in-place backward takes it (its input is overwritten)."""
    xp = input.device.xp
    a = input.array
    half = a.dtype == xp.float16
    work = a.astype(xp.float32) if half else a
    negative_scale = alpha * scale   # (one number, as PyTorch multiplies them)
    # eˣ - 1 of min(x, 0): only chosen there, and cannot overflow; x itself at ±0 (x ≥ 0),
    # so that elu keeps the sign of a zero whatever α is, as PyTorch's
    with quiet(xp):
        below = xp.minimum(work, 0)
        if input_scale != 1:
            below = below * input_scale
        above = work * scale if scale != 1 else work
        y = xp.where(work >= 0, above, xp.expm1(below) * negative_scale)
        y = y.astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, result = ctx.saved_tensors
        wide = x.float() if half else x   # (float16: eˣ and the product in float32, as PyTorch)
        if from_result:
            slope = (result.float() if half else result) + negative_scale
            if input_scale != 1:
                slope = slope * input_scale
        else:   # s·α·c·e^{cx} of min(x, 0), finite where it is not chosen
            below = wide.clamp(max=0)
            if input_scale != 1:
                below = below * input_scale
            slope = below.exp() * (negative_scale * input_scale)
        slope = where(wide != wide, 0.0, slope)   # 0 at a NaN x
        negative = (grad.float() * slope).to(x.dtype) if half else grad * slope
        positive = grad * scale if scale != 1 else grad
        return where(x > 0, positive, negative)
    return record("elu", y, (input,), backward, save=(input, OUTPUT if from_result else None),
                  attrs={"alpha": alpha, "scale": scale, "input_scale": input_scale})


@operation()
def logsigmoid(input):
    """y = log σ(x) = min(x, 0) - log(1 + e^{-|x|});  dy/dx = σ(-x)

    One operation, not a composition, for its gradient at the edges: composed, an infinite
    gradient meets two branches whose slopes cancel (∞ - ∞ = NaN where PyTorch passes
    ∞·σ(-x) on). float16 is computed in float32 and rounded once, as PyTorch's CPU kernel."""
    xp = input.device.xp
    a = input.array
    half = a.dtype == xp.float16
    work = a.astype(xp.float32) if half else a
    with quiet(xp):   # e^{-|x|} never overflows; at x = -∞ the result is -∞
        y = (xp.minimum(work, 0) - xp.log1p(xp.exp(-xp.abs(work)))).astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        negative = x < 0
        # σ(-x) as PyTorch writes it, from z = e^{-|x|}: 1/(1 + z) below 0, z/(1 + z) above,
        # so that z's underflow (x past 17 in float16, 104 in float32) gives the same 0
        z = where(negative, x, -x).exp()
        if half:   # z rounded to float16, the rest in float32 and rounded once
            z, grad = z.float(), grad.float()
        slope = where(negative, 1 / (z + 1), z / (z + 1))
        return (grad * slope).to(x.dtype) if half else grad * slope
    return record("logsigmoid", y, (input,), backward, save=(input,))


@operation()
def silu(input):
    """y = x·σ(x);  dy/dx = σ(x)(1 + x(1 - σ(x)))

    One operation, not x * x.sigmoid(), for its gradient at the edges: composed, a huge x
    sends an infinite gradient through σ'(x) = 0 (∞·0 = NaN where PyTorch's σ(1 + x·0)
    passes the ∞ on). float16 is computed in float32 and rounded once, as PyTorch's CPU
    kernel (e^20 overflows float16, so x/(1 + e⁻ˣ) would be 0 at x = -20, not -4e-8)."""
    xp = input.device.xp
    a = input.array
    work = a.astype(xp.float32) if a.dtype == xp.float16 else a
    with quiet(xp):
        y = (work / (1 + xp.exp(-work))).astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        dtype = grad.dtype
        if dtype.itemsize == 2:   # float16: in float32, rounded once
            x, grad = x.float(), grad.float()
        s = x.sigmoid()
        return (grad * (s * (1 + x * (1 - s)))).to(dtype)
    return record("silu", y, (input,), backward, save=(input,))


@operation()
def glu(a, b):
    """y = a·σ(b), the gated linear unit of the halves a and b;  ∂y/∂a = σ(b),
    ∂y/∂b = a·σ(b)(1 - σ(b))

    One operation, not a * b.sigmoid(), for ∂y/∂b at the edges: composed, the incoming
    g·a comes first and overflows (g = 3e34, a = 2e4 in float32) before σ'(b) = 0 can zero
    it (∞·0 = NaN); here the product is PyTorch's (1 - σ)·σ·a·g, in that order, so σ'(b) = 0
    gives 0 and a tiny σ'(b) keeps a finite product."""
    xp = a.device.xp
    s = sigmoid(b.detach())
    y = a.array * s.array

    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        s = b.sigmoid()
        return (grad * s if ctx.needs_input_grad[0] else None,
                (1 - s) * s * a * grad if ctx.needs_input_grad[1] else None)
    return record("glu", xp.asarray(y), (a, b), backward, save=(a, b))


@operation()
def mish(input):
    """y = x·tanh(softplus(x));  dy/dx = t + x·σ(x)·(1 - t²), t = tanh(softplus(x))

    One operation, not a composition, for its gradient at the edges: composed, a huge x
    sends an infinite gradient through tanh'(softplus(x)) = 0 (∞·0 = NaN where PyTorch's
    t + x·σ(x)·0 passes the ∞ on). softplus in its stable form max(x, 0) + log(1 + e^{-|x|}),
    whose exponent is never positive. float16 is computed in float32 and rounded once, as
    PyTorch's CPU kernel."""
    xp = input.device.xp
    a = input.array
    half = a.dtype == xp.float16
    work = a.astype(xp.float32) if half else a
    with quiet(xp):   # (-∞·tanh(0) is NaN, as in PyTorch)
        soft = xp.maximum(work, 0) + xp.log1p(xp.exp(-xp.abs(work)))
        y = (work * xp.tanh(soft)).astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        dtype = x.dtype
        if half:   # in float32, rounded once
            x, grad = x.float(), grad.float()
        t = softplus(x, 1.0, 20.0).tanh()
        return (grad * (t + x * x.sigmoid() * (1 - t * t))).to(dtype)
    return record("mish", y, (input,), backward, save=(input,))


@operation()
def hardsigmoid(input):
    """y = min(max(x + 3, 0), 6)/6;  dy/dx = 1/6 where -3 < x < 3, else 0

    One operation, so that float16 is computed in float32 and rounded once, as PyTorch's CPU
    kernel, and the slope at ±3 and at NaN is PyTorch's 0."""
    xp = input.device.xp
    a = input.array
    half = a.dtype == xp.float16
    work = a.astype(xp.float32) if half else a
    y = (xp.minimum(xp.maximum(work + 3, 0), 6) / 6).astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        inside = (x > -3) & (x < 3)
        if half:
            return where(inside, (grad.float() / 6).to(x.dtype), 0.0)
        return where(inside, grad / 6, 0.0)
    return record("hardsigmoid", y, (input,), backward, save=(input,))


@operation()
def hardswish(input):
    """y = x·min(max(x + 3, 0), 6)/6;  dy/dx = 0 where x ≤ -3, x/3 + 1/2 where -3 < x < 3,
    else 1 (PyTorch's choices at the kinks ±3)

    One operation, so that float16 is computed in float32 and rounded once, as PyTorch's CPU
    kernel, and y at -∞ is PyTorch's -∞·0 = NaN."""
    xp = input.device.xp
    a = input.array
    half = a.dtype == xp.float16
    work = a.astype(xp.float32) if half else a
    with quiet(xp):
        y = (work * xp.minimum(xp.maximum(work + 3, 0), 6) / 6).astype(a.dtype, copy=False)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        dtype = x.dtype
        wide, g = (x.float(), grad.float()) if half else (x, grad)
        middle = g * (wide.clamp(-3, 3) / 3 + 0.5)   # (x clamped: finite where not chosen)
        slope = where(wide < 3, middle, g)
        return where(wide <= -3, 0.0, slope.to(dtype) if half else slope)
    return record("hardswish", y, (input,), backward, save=(input,))
