"""GELU and its derivative as numpy ufuncs (numba): one pass instead of five or six.

    exact:  y = x·Φ(x) = x·(1 + erf(x/√2))/2,     y' = Φ(x) + x·φ(x),  φ(x) = e^{-x²/2}/√(2π)
    tanh:   y = x·(1 + tanh u)/2,  u = k(x + a x³), y' = (1 + tanh u)/2 + x(1 - tanh² u)·k(1 + 3a x²)/2

with k = √(2/π), a = 0.044715. Written without cancellation far out on the negative side,
where y is tiny: 1 + erf(x/√2) = erfc(-x/√2), and (1 + tanh u)/2 = σ(2u) = 1/(1 + e^{-2u})
(also faster than numba's tanh), so 1 - tanh² u = 4σ(2u)(1 - σ(2u)).
"""
import math

from numba import vectorize

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_TWO_PI = 1 / math.sqrt(2 * math.pi)
_K = math.sqrt(2 / math.pi)
_A = 0.044715


@vectorize(["float32(float32)", "float64(float64)"], cache=True)
def gelu(x):
    return 0.5 * x * math.erfc(-x * _SQRT_HALF)


@vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)
def gelu_backward(g, x):
    return g * (0.5 * math.erfc(-x * _SQRT_HALF) + x * _INV_SQRT_TWO_PI * math.exp(-0.5 * x * x))


@vectorize(["float32(float32)", "float64(float64)"], cache=True)
def gelu_tanh(x):
    return x / (1.0 + math.exp(-2.0 * _K * (x + _A * x * x * x)))


@vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)
def gelu_tanh_backward(g, x):
    s = 1.0 / (1.0 + math.exp(-2.0 * _K * (x + _A * x * x * x)))
    return g * (s + 2.0 * x * s * (1.0 - s) * _K * (1.0 + 3.0 * _A * x * x))
