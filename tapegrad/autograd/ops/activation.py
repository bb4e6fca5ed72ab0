"""GELU as one operation (``nn.functional.gelu``, ``nn.GELU``, every Transformer block).

    exact:  y = x·Φ(x) = x·(1 + erf(x/√2))/2,   dy/dx = Φ(x) + x·φ(x)
    tanh:   y = x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2

Composed, the exact form records five operations (mul, erf, add, mul, mul) and as many
backwards; here it is one each way (``tapegrad/kernels/fused.py``), Φ(x) computed once and
kept for the backward. The
backward is an operation too; its own derivative comes from the composition (``twice.py``).
"""
import math

from ...kernels import fused
from ..tape import record
from .declare import operation
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
