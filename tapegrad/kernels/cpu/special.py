"""erfc and erfinv, which numpy does not have, as numpy ufuncs compiled by numba.

Each is written for one float64 number and vectorised over arrays of float32 or float64
(compiled the first time ``ufunc(name)`` asks for it, then cached on disk: even loading
one from the cache takes a moment, so none is made before it is needed).

erfinv starts from a guess by the logarithmic approximation, then takes Newton steps on
erf(y) = x (erf' = 2/√π·e^{-y²}), each of which doubles the correct digits.
"""
import functools
import math

from numba import vectorize

_SIGNATURES = ["float32(float32)", "float64(float64)"]


def erfc(x):
    return math.erfc(x)


def erfinv(x):
    if x != x or x < -1.0 or x > 1.0:
        return math.nan
    if x == 1.0:
        return math.inf
    if x == -1.0:
        return -math.inf
    # first guess: y ≈ sign(x)·√(-ln(1 - x²)·…) (Winitzki's approximation, a = 0.147)
    a = 0.147
    ln = math.log(1.0 - x * x)
    first = 2.0 / (math.pi * a) + ln / 2.0
    y = math.copysign(math.sqrt(math.sqrt(first * first - ln / a) - first), x)
    for _ in range(3):
        slope = 2.0 / math.sqrt(math.pi) * math.exp(-y * y)
        if slope == 0.0:
            break
        y -= (math.erf(y) - x) / slope
    return y


_FUNCTIONS = {"erfc": erfc, "erfinv": erfinv}


@functools.cache
def ufunc(name):
    """The numpy ufunc of special function ``name`` (one of the functions above)."""
    return vectorize(_SIGNATURES, cache=True)(_FUNCTIONS[name])
