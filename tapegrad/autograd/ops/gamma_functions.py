"""The gamma function's family: ``lgamma``, ``digamma``, ``polygamma``.

    lgamma x = ln |Γ(x)|,   digamma x = ψ(x) = d/dx ln Γ(x),   polygamma(n, x) = ψ⁽ⁿ⁾(x)

Each is the derivative of the one before, so the backward of one is the next:
d lgamma/dx = ψ(x), dψ/dx = ψ⁽¹⁾(x), dψ⁽ⁿ⁾/dx = ψ⁽ⁿ⁺¹⁾(x), and derivatives of any order
follow. They are what the densities and entropies of the Gamma, Beta and Dirichlet
families are made of.

numpy has none of them: on the cpu they are numba ufuncs (``kernels/cpu/gamma_functions.py``,
compiled on first use, cached on disk); on a GPU, the backend's own (``xp.scipy_special``:
cupy's ``gammaln``, ``digamma`` and ``polygamma``).
"""
import math
import struct

from ... import backend
from ..quiet import quiet
from ..tape import record
from .declare import operation
from .pointwise import _float_input


def _cpu_kernels():
    """(lgamma, digamma, polygamma) as numpy ufuncs: numba compiles them on first use."""
    from ...kernels.cpu import gamma_functions as kernels
    return kernels.lgamma, kernels.digamma, kernels.polygamma


def _apply(xp, a, cpu_index, gpu_name, *leading):
    """One of the three functions on array ``a`` (after ``leading`` integer arguments)."""
    special = xp.scipy_special(gpu_name)
    if special is not None:
        # cupy's polygamma takes n as a device array (it calls n.astype), and may compute in
        # float64 for an int64 n: the result is given back in the input's dtype
        return special(*(xp.asarray(n) for n in leading), a).astype(a.dtype, copy=False)
    kernel = _cpu_kernels()[cpu_index]
    if not xp.numba_cpu:   # numba's ufuncs take host numpy arrays
        a = backend.to_numpy(a)
    with quiet(xp):   # (inf at the poles and beyond the dtype's range, silently as in PyTorch)
        if a.dtype.itemsize < 4:   # float16: computed in float32, given back in float16
            if cpu_index == 2 and 2 <= leading[0] <= LAST_FINITE_FACTORIAL:
                return xp.asarray(_float16_polygamma(leading[0], a))
            return xp.asarray(kernel(*leading, a.astype("float32"))).astype(a.dtype)
        return xp.asarray(kernel(*leading, a))   # (a 0-d input gives a numpy scalar: made an array)


LAST_FINITE_FACTORIAL = 34   # 35! overflows float32


def _float16_polygamma(n, a):
    """ψ⁽ⁿ⁾ (2 ≤ n ≤ 34) of a float16 host array, rounded as PyTorch's CPU kernel rounds it:
    ψ⁽ⁿ⁾(x) = (-1)ⁿ⁺¹ n! ζ(n+1, x), with the Hurwitz ζ(n+1, x) rounded to float16 first and
    the product (in float32) rounded again. Where ζ is a float16 subnormal (below 6.1e-5) the
    first rounding keeps few digits: ψ⁽²⁾(225) is -1.979e-5 in float16 (2 x 166 steps of
    2⁻²⁴), not -1.985e-5, and gradients through ψ⁽ⁿ⁾ follow PyTorch's."""
    polygamma_kernel = _cpu_kernels()[2]
    sign = 1.0 if n % 2 == 1 else -1.0
    zeta = (polygamma_kernel(n, a.astype("float64")) / (sign * math.factorial(n))).astype(a.dtype)
    # n! as PyTorch has it, exp(lgamma(n + 1)) in float32 (an ulp off n! for some n)
    factorial = _float32(math.exp(_float32(math.lgamma(n + 1.0))))
    return (zeta.astype("float32") * (sign * factorial)).astype(a.dtype)   # (a float32
    # product: the Python float takes the array's dtype)


def _float32(value):
    """A Python float rounded to the nearest float32."""
    return struct.unpack("f", struct.pack("f", value))[0]


@operation(function=True, method=True)
def lgamma(input):
    """y = ln |Γ(x)|;  dy/dx = ψ(x)"""
    x = _float_input("lgamma", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * digamma(x)
    return record("lgamma", _apply(x.device.xp, x.array, 0, "gammaln"), (x,), backward, save=(x,))


@operation(function=True, method=True)
def digamma(input):
    """y = ψ(x) = Γ'(x)/Γ(x);  dy/dx = ψ⁽¹⁾(x)

    ψ(0) = -inf, and NaN at the negative integers, as in PyTorch."""
    x = _float_input("digamma", input)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * polygamma(1, x)
    return record("digamma", _apply(x.device.xp, x.array, 1, "digamma"), (x,), backward,
                  save=(x,))


@operation(function=True)
def polygamma(n, input):
    """y = ψ⁽ⁿ⁾(x), the n-th derivative of ψ;  dy/dx = ψ⁽ⁿ⁺¹⁾(x)"""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma: n must be a non-negative integer, got {n!r}")
    x = _float_input("polygamma", input)
    if n == 0:
        return digamma(x)
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * polygamma(n + 1, x)
    return record("polygamma", _apply(x.device.xp, x.array, 2, "polygamma", n), (x,), backward,
                  save=(x,))


@operation(method="polygamma", composite=True)
def polygamma_method(input, n):
    """x.polygamma(n) is polygamma(n, x): PyTorch's method takes n first too."""
    return polygamma(n, input)
