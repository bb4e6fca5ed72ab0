"""Special functions: ``erf``, the error function (for the exact GELU).

The forward is the backend's ``erf`` (numpy has none: the cpu backend compiles one with
numba; on a GPU it is cupy's own). The backward is written with tensor operations, like
every other op.
"""
import math

from ..tape import record
from .declare import operation
from .pointwise import _float_input

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


@operation(function=True, method=True)
def erf(input):
    """y = erf x = (2/√π) ∫₀ˣ e^{-t²} dt;  dy/dx = (2/√π) e^{-x²}"""
    x = _float_input("erf", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (-(x * x)).exp() * _TWO_OVER_SQRT_PI
    return record("erf", x.device.xp.erf(x.array), (x,), backward, save=(x,))
