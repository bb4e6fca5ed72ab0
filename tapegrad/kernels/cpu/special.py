"""erfc and erfinv, which numpy does not have, as numpy ufuncs compiled by numba.

Each is written for one float64 number and vectorised over arrays of float32 or float64
(compiled the first time ``ufunc(name)`` asks for it, then cached on disk: even loading
one from the cache takes a moment, so none is made before it is needed).

erfinv starts from a guess by the logarithmic approximation, then takes Newton steps on
erf(y) = |x| (erf' = 2/√π·e^{-y²}), each of which doubles the correct digits; for |x| ≥ 1/2
on erfc(y) = 1 - |x|, which keeps its digits where erf(y) rounds to 1.
"""
import functools
import math

from numba import float64, vectorize

_SIGNATURES = ["float32(float32)", "float64(float64)"]


def erfc(x):
    # in float64 for float32 too: float32's own erfc is a subnormal step off in its far tail
    # (erfc(10) = 2.09e-45 gave 2.8e-45, not the nearest float32, 1.4e-45), and rounding
    # float64's value once gives the nearest float32 there and everywhere else
    return math.erfc(float64(x))   # (numba's float() of a float32 stays float32)


def erfinv(x):
    if x != x or x < -1.0 or x > 1.0:
        return math.nan
    if x == 1.0:
        return math.inf
    if x == -1.0:
        return -math.inf
    s = abs(x)
    rest = 1.0 - s   # exact for s ≥ 1/2 (and erfc(y) = rest keeps the digits erf loses)
    # first guess: y ≈ √(√(f² - ln(1 - s²)/a) - f), f = 2/(πa) + ln(1 - s²)/2 (Winitzki's
    # approximation, a = 0.147), with 1 - s² as (1 - s)(1 + s), exact near 1
    a = 0.147
    ln = math.log(rest * (1.0 + s))
    first = 2.0 / (math.pi * a) + ln / 2.0
    y = math.sqrt(math.sqrt(first * first - ln / a) - first)
    for _ in range(4):
        slope = 2.0 / math.sqrt(math.pi) * math.exp(-y * y)
        if slope == 0.0:
            break
        if s < 0.5:
            y -= (math.erf(y) - s) / slope
        else:   # near 1, erf(y) is 1 to within its last bits: solve erfc(y) = 1 - s instead
            y += (math.erfc(y) - rest) / slope
    return math.copysign(y, x)


_FUNCTIONS = {"erfc": erfc, "erfinv": erfinv}


@functools.cache
def ufunc(name):
    """The numpy ufunc of special function ``name`` (one of the functions above)."""
    return vectorize(_SIGNATURES, cache=True)(_FUNCTIONS[name])
