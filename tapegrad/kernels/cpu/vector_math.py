"""exp, σ and tanh of float32 rows, written so that the compiler vectorises them.

numba compiles ``math.exp`` to a call of the C library's scalar exp, one value at a time:
several times slower than numpy's vectorised exp. These loops are plain arithmetic, which
LLVM turns into AVX2 or AVX-512 instructions, 8 or 16 values at a time; for a loop that
must stay inside numba (a recurrent layer's time loop, ``recurrent_rows.py``) they run as
fast as numpy's exp (a (16, 384) float32 array on the 2-core AMD EPYC: 2.9 µs, numpy 3.3).

    e^x = 2^k · e^r,   k = round(x / ln 2),   r = x - k ln 2  in [-ln 2 / 2, ln 2 / 2]

e^r is its Taylor series to r⁷ (the first term left out, r⁸/8!, is below 6·10⁻⁹ of the
result: under a float32 ulp); k ln 2 is subtracted in two parts, the first exact in
float32 (Cody and Waite's reduction); 2^k is added to the result's exponent bits, through
an int32 view of the output. x is first held within [-87.3, 88.3], where 2^k stays a normal
float32: beyond, e^x is e^88.3 = 2.2·10³⁸ instead of inf and e^-87.3 = 1.2·10⁻³⁸ instead of
a subnormal or 0. So σ(x) below x = -88.3 is 4.5·10⁻³⁹ instead of a subnormal or 0, and
tanh saturates at exactly ±1, as it should. A NaN stays NaN.

    σ(x) = 1 / (1 + e^-x)
    tanh x = 1 - 2 / (e^2x + 1)            for |x| ≥ 1/2
    tanh x = E / (E + 2),  E = e^2x - 1    for |x| < 1/2, E from its Taylor series

Near 0 the first form of tanh keeps only float32's absolute precision (1 - 0.99998 loses
the leading digits); the second keeps its relative precision, E's series to (2x)¹⁰ being
within 3·10⁻⁸ of E for |2x| < 1.

Largest error against numpy's float64 result, in ulps of float32 (of the result's power of
two), over 400,001 points (``tests/kernels/test_vector_math.py``): e^x on [-87, 88] 1.2
(numpy's float32 exp 2.3); σ on [-87, 100] 2.3 (1/(1 + e^-x) with numpy's exp 3.0); tanh
on [-20, 20] 4.4, just past |x| = 1/2 where the first form cancels (numpy's tanh 1.3).

Each function works on contiguous 1-D float32 rows, with ``bits`` an int32 scratch row at
least as long. Input and output must be different rows: where they may overlap, LLVM checks
at run time and, finding them the same, falls back to its scalar loop (an exp written in
place took 25 µs for the (16, 384) above). They are compiled as functions of their own
(numba's ``inline="always"``, which pastes their code into the caller's before LLVM sees
it, left σ's loops scalar: 8 µs against 3.7).
"""
from numba import float32, int32, njit

_LOG2E = float32(1.4426950408889634)
_LN2_HIGH = float32(0.693145751953125)        # ln 2 to 16 bits: k·_LN2_HIGH is exact
_LN2_LOW = float32(1.4286068203094173e-06)    # ln 2 - _LN2_HIGH
_ROUNDER = float32(1.5 * 2**23)   # (y + _ROUNDER) - _ROUNDER: y to the nearest integer
_HIGHEST = float32(88.3)    # k = 127 at most: 2^k a normal float32
_LOWEST = float32(-87.3)    # k = -126 at least
_HALF = float32(0.5)
_ONE = float32(1)
_TWO = float32(2)


@njit(cache=True, nogil=True, error_model="numpy")
def exp_into(x, scale, out, bits):
    """out = e^(scale·x), elementwise."""
    n = x.shape[0]
    for j in range(n):
        v = scale * x[j]
        v = _HIGHEST if v > _HIGHEST else v     # (a NaN passes both tests unchanged)
        v = _LOWEST if v < _LOWEST else v
        k = (v * _LOG2E + _ROUNDER) - _ROUNDER
        r = (v - k * _LN2_HIGH) - k * _LN2_LOW
        e = float32(1 / 5040)
        e = e * r + float32(1 / 720)
        e = e * r + float32(1 / 120)
        e = e * r + float32(1 / 24)
        e = e * r + float32(1 / 6)
        e = e * r + _HALF
        e = e * r + _ONE
        e = e * r + _ONE
        bits[j] = int32(k) << 23 if v == v else 0
        out[j] = e if v == v else v
    exponents = out.view(int32)
    for j in range(n):
        exponents[j] += bits[j]       # e^r · 2^k: k added to the exponent field


@njit(cache=True, nogil=True, error_model="numpy")
def sigmoid_into(x, out, bits):
    """out = σ(x) = 1 / (1 + e^-x), elementwise."""
    exp_into(x, -_ONE, out, bits)
    for j in range(x.shape[0]):
        out[j] = _ONE / (_ONE + out[j])


@njit(cache=True, nogil=True, error_model="numpy")
def tanh_into(x, out, bits):
    """out = tanh x, elementwise."""
    exp_into(x, _TWO, out, bits)
    for j in range(x.shape[0]):
        y = _TWO * x[j]                 # E = e^y - 1, for |y| < 1
        m = float32(1 / 3628800)
        m = m * y + float32(1 / 362880)
        m = m * y + float32(1 / 40320)
        m = m * y + float32(1 / 5040)
        m = m * y + float32(1 / 720)
        m = m * y + float32(1 / 120)
        m = m * y + float32(1 / 24)
        m = m * y + float32(1 / 6)
        m = m * y + _HALF
        m = m * y + _ONE
        m = m * y
        near_zero = m / (m + _TWO)
        far = _ONE - _TWO / (out[j] + _ONE)
        out[j] = near_zero if abs(y) < _ONE else far
