"""Special functions numpy does not have, as numpy ufuncs compiled by numba.

Each is written for one float64 number and vectorised over arrays of float32 or float64
(compiled the first time ``ufunc(name)`` asks for it, then cached on disk: even loading
one from the cache takes a moment, so none is made before it is needed). ``polygamma``
also takes the order n. The formulas are the textbook ones:

* erfinv: a first guess from the logarithmic approximation, then Newton steps on
  erf(y) = x (erf' = 2/√π·e^{-y²}), which double the correct digits each time;
* ψ(x) (digamma): the recurrence ψ(x) = ψ(x + 1) - 1/x up to x ≥ 10, then the
  asymptotic series ln x - 1/(2x) - Σ B₂ₖ/(2k·x²ᵏ); reflection for x < 0;
* ψ⁽ⁿ⁾(x) = (-1)ⁿ⁺¹·n!·ζ(n + 1, x) for n ≥ 1, the Hurwitz zeta function summed up to
  x + k ≥ 10, then finished by Euler–Maclaurin (integral, half term, Bernoulli terms).
"""
import functools
import math

from numba import njit, vectorize

_SIGNATURES = ["float32(float32)", "float64(float64)"]
# B₂ₖ/(2k)! for k = 1 … 8, the Euler–Maclaurin coefficients
_BERNOULLI_OVER_FACTORIAL = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160,
                             -691 / 1307674368000, 1 / 74724249600,
                             -3617 / 10670622842880000)


def erfc(x):
    return math.erfc(x)


def lgamma(x):
    return math.lgamma(x)


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


@njit(cache=True)
def _digamma(x):
    if x != x or x == -math.inf:
        return math.nan
    if x == 0.0:
        return -math.inf if math.copysign(1.0, x) > 0 else math.inf
    result = 0.0
    if x < 0.0:
        if x == math.floor(x):
            return math.nan
        # reflection: ψ(x) = ψ(1 - x) - π / tan(πx)
        result = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    inverse_square = 1.0 / (x * x)
    series = inverse_square * (1 / 12 - inverse_square * (1 / 120 - inverse_square * (
        1 / 252 - inverse_square * (1 / 240 - inverse_square * (
            1 / 132 - inverse_square * (691 / 32760))))))
    return result + math.log(x) - 0.5 / x - series


def digamma(x):
    return _digamma(x)


@njit(cache=True)
def _hurwitz_zeta(s, q):
    """ζ(s, q) = Σₖ 1/(q + k)ˢ for an integer s ≥ 2 and q not 0, -1, -2, …"""
    total = 0.0
    while q < 10.0:
        total += q ** -s
        q += 1.0
    # Euler–Maclaurin: ∫ + half the first term + Bernoulli corrections
    total += q ** (1.0 - s) / (s - 1.0) + 0.5 * q ** -s
    rising = s                  # s(s+1)…(s+2k-2)
    power = q ** (-s - 1.0)     # q^{-s-2k+1}
    for k in range(8):
        total += _BERNOULLI_OVER_FACTORIAL[k] * rising * power
        rising *= (s + 2 * k + 1) * (s + 2 * k + 2)
        power /= q * q
    return total


def polygamma(n, x):
    if n == 0:
        return _digamma(x)
    if x != x:
        return math.nan
    if x <= 0.0 and x == math.floor(x):
        return math.inf if n % 2 == 1 else -math.inf   # the pole, approached from the right
    sign = 1.0 if n % 2 == 1 else -1.0
    return sign * math.gamma(n + 1.0) * _hurwitz_zeta(n + 1.0, x)


_FUNCTIONS = {"erfc": erfc, "lgamma": lgamma, "erfinv": erfinv, "digamma": digamma}


@functools.cache
def ufunc(name):
    """The numpy ufunc of special function ``name`` (one of the functions above)."""
    if name == "polygamma":
        return vectorize(["float32(int64, float32)", "float64(int64, float64)"],
                         cache=True)(polygamma)
    return vectorize(_SIGNATURES, cache=True)(_FUNCTIONS[name])
