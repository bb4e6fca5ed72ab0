"""Special functions: ``erf``, the error function (for the exact GELU), ``erfc``, ``erfinv``
and ``mvlgamma`` (lgamma and its family are in gamma_functions.py).

The forward is the backend's ``erf`` (numpy has none: the cpu backend compiles one with
numba; on a GPU it is cupy's own). The backward is written with tensor operations, like
every other op.
"""
import math

from ... import backend
from ..grad_mode import no_grad
from ..tape import record
from .declare import operation
from .pointwise import _float_input

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


@operation(function=True, method=True, out=True)
def erf(input):
    """y = erf x = (2/√π) ∫₀ˣ e^{-t²} dt;  dy/dx = (2/√π) e^{-x²}"""
    x = _float_input("erf", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (-(x * x)).exp() * _TWO_OVER_SQRT_PI
    return record("erf", x.device.xp.erf(x.array), (x,), backward, save=(x,))


# -- erfc and erfinv: the backend's scipy.special where it has one (cupy), else numba ufuncs
def _special_array(name, xp, a):
    """``name``(a) on the backend array ``a`` (float16 is computed in float32)."""
    special = xp.scipy_special(name)
    if special is not None:
        return special(a).astype(a.dtype, copy=False)
    from ...kernels.cpu.special import ufunc
    if not xp.numba_cpu:   # numba's ufuncs take host numpy arrays
        a = backend.to_numpy(a)
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
        x, = ctx.saved_tensors
        y = erfinv(x)   # recomputed from x, as PyTorch does, so y may be changed in place
        # the slope first, then times the gradient, as PyTorch: in float16 grad·e^{y²} may
        # overflow where the gradient (√π/2 of it) fits
        return (math.sqrt(math.pi) / 2) * (y * y).exp() * grad
    return record("erfinv", _special_array("erfinv", x.device.xp, x.array), (x,), backward,
                  save=(x,))


@operation(function=True, method=True)
def mvlgamma(input, p):
    """y = ln Γ_p(x) = p(p-1)/4·ln π + Σⱼ₌₀^{p-1} ln Γ(x - j/2);  dy/dx = Σⱼ ψ(x - j/2)

    Defined for x > (p - 1)/2; below that, as in PyTorch, the same sum is computed (an
    lgamma at a pole gives inf) rather than checked element by element. The slope is
    summed before it meets the incoming gradient, as in PyTorch: an infinite gradient
    times ψ(+0) + ψ(-1/2) = -inf is -inf, not -inf + inf = NaN."""
    from .gamma_functions import digamma, lgamma
    if getattr(input, "dtype", None) is not None and input.dtype.name == "bool":
        raise RuntimeError("mvlgamma: the input may not be a bool tensor (as in PyTorch)")
    x = _float_input("mvlgamma", input)
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise RuntimeError(f"mvlgamma: p must be an integer of at least 1, got {p!r}")

    def shifted(x):
        """x - j/2 for j = 0 … p-1. x + 0.0, not x: PyTorch adds the offsets 0, -1/2, … to
        x, which makes -0.0 into +0.0, so that the slope at -0.0 is ψ(+0) = -inf."""
        return [x + 0.0] + [x - j / 2 for j in range(1, p)]

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        slope = None
        for term in shifted(x):
            slope = digamma(term) if slope is None else slope + digamma(term)
        return grad * slope

    with no_grad():
        total = None
        for term in shifted(x):
            total = lgamma(term) if total is None else total + lgamma(term)
        total = total + p * (p - 1) / 4 * math.log(math.pi)
    return record("mvlgamma", total.array, (x,), backward, save=(x,))
