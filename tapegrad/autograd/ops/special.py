"""Special functions: ``erf``, the error function (for the exact GELU), ``erfc``, ``erfinv``
and ``mvlgamma`` (lgamma and its family are in gamma_functions.py).

numpy has no erf, so the cpu forward is a numba ufunc over Python's ``math.erf``
(compiled on first use, cached on disk); on a GPU, cupy's own ``cupyx.scipy.special.erf``.
The backward is written with tensor operations, like every other op.
"""
import functools
import math

from ..tape import OUTPUT, record
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


@operation(function=True, method=True, out=True)
def erf(input):
    """y = erf x = (2/√π) ∫₀ˣ e^{-t²} dt;  dy/dx = (2/√π) e^{-x²}"""
    x = _float_input("erf", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (-(x * x)).exp() * _TWO_OVER_SQRT_PI
    return record("erf", _erf_array(x.device.xp, x.array), (x,), backward, save=(x,))


# -- erfc and erfinv: numba ufuncs on the cpu (kernels/cpu/special.py), cupy's on a GPU
_CUPY_NAMES = {"erfc": "erfc", "erfinv": "erfinv"}


def _special_array(name, xp, a):
    """``name``(a) on the backend array ``a`` (float16 is computed in float32)."""
    if xp.__name__ == "cupy":
        import cupyx.scipy.special   # only where cupy is installed
        return getattr(cupyx.scipy.special, _CUPY_NAMES[name])(a).astype(a.dtype)
    from ...kernels.cpu.special import ufunc
    computed = a.astype("float32") if a.dtype.itemsize < 4 else a
    return xp.asarray(ufunc(name)(computed)).astype(a.dtype, copy=False)


@operation(function=True, method=True, out=True)
def erfc(input):
    """y = 1 - erf x (accurate where erf x is near 1);  dy/dx = -(2/√π) e^{-x²}"""
    x = _float_input("erfc", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (-(x * x)).exp() * -_TWO_OVER_SQRT_PI
    return record("erfc", _special_array("erfc", x.device.xp, x.array), (x,), backward, save=(x,))


@operation(function=True, method=True, out=True)
def erfinv(input):
    """y = erf⁻¹ x, for x in [-1, 1];  dy/dx = (√π/2) e^{y²}"""
    x = _float_input("erfinv", input)
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * (y * y).exp() * (math.sqrt(math.pi) / 2)
    return record("erfinv", _special_array("erfinv", x.device.xp, x.array), (x,), backward,
                  save=(OUTPUT,))


@operation(function=True, method=True, composite=True)
def mvlgamma(input, p):
    """y = ln Γ_p(x) = p(p-1)/4·ln π + Σⱼ₌₀^{p-1} ln Γ(x - j/2), for every x > (p - 1)/2"""
    from .gamma_functions import lgamma
    x = _float_input("mvlgamma", input)
    if not bool((x.array > (p - 1) / 2).all()):
        raise ValueError(f"mvlgamma: all elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    total = lgamma(x)
    for j in range(1, p):
        total = total + lgamma(x - j / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)
