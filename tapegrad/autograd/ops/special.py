"""Special functions: ``erf``, the error function (for the exact GELU).

numpy has no erf, so the cpu forward is a numba ufunc over Python's ``math.erf``
(compiled on first use, cached on disk); on a GPU, cupy's own ``cupyx.scipy.special.erf``.
The backward is written with tensor operations, like every other op.
"""
import functools
import math

from ..tape import record
from .pointwise import _float_input
from .declare import operation

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


@functools.cache
def _cpu_erf():
    """erf as a numpy ufunc (float32 and float64 loops), built by numba the first time."""
    from numba import vectorize

    @vectorize(["float32(float32)", "float64(float64)"], cache=True)
    def erf_ufunc(x):
        return math.erf(x)

    return erf_ufunc


def _erf_array(xp, a):
    if xp.__name__ == "cupy":
        import cupyx.scipy.special   # only where cupy is installed
        return cupyx.scipy.special.erf(a)
    if a.dtype.itemsize < 4:   # float16: computed in float32, given back in float16
        return xp.asarray(_cpu_erf()(a.astype("float32"))).astype(a.dtype)
    return xp.asarray(_cpu_erf()(a))   # (a 0-d input gives a numpy scalar: made an array again)


@operation(function=True, method=True)
def erf(input):
    """y = erf x = (2/√π) ∫₀ˣ e^{-t²} dt;  dy/dx = (2/√π) e^{-x²}"""
    x = _float_input("erf", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (-(x * x)).exp() * _TWO_OVER_SQRT_PI
    return record("erf", _erf_array(x.device.xp, x.array), (x,), backward, save=(x,))
