"""The exact GELU's error-function part as a numpy ufunc (numba).

    y = x·Φ(x),  Φ(x) = (1 + erf(x/√2))/2 = erfc(-x/√2)/2,  y' = Φ(x) + x·φ(x)

numpy has no erf. ``normal_cdf`` is Φ, computed once forwards and kept for the backward
(the rest is numpy's own vectorised exp and products). erfc rather than 1 + erf: far out
on the negative side, where Φ is tiny, 1 + erf would cancel to 0 and lose every digit.
These calls to the C library's erfc are the cost of the exact form (the tanh form runs on
numpy's vectorised exp and is several times faster).
"""
import math

from numba import vectorize

_SQRT_HALF = math.sqrt(0.5)


@vectorize(["float32(float32)", "float64(float64)"], cache=True)
def normal_cdf(x):
    return 0.5 * math.erfc(-x * _SQRT_HALF)
