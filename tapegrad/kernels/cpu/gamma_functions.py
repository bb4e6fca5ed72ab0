"""ψ, ψ⁽ⁿ⁾ and ln Γ as numpy ufuncs (numba), and the derivative of a Gamma sample.

ψ and ψ⁽ⁿ⁾ use the recurrence ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + 1) - (-1)ⁿ n!/xⁿ⁺¹ to move x up to where
the asymptotic series in the Bernoulli numbers B₂ₖ is accurate to float64.

``gamma_sample_grad(x, a)`` is dx/da for a sample x of Gamma(a, 1) with its uniform noise
u = P(a, x) held fixed (P the regularised lower incomplete gamma function): implicit
differentiation of P(a, x) = u gives dx/da = -(∂P/∂a) / (∂P/∂x). With the series
P(a, x) = Σₙ e⁻ˣ xᵃ⁺ⁿ / Γ(a + n + 1) and ∂P/∂x = xᵃ⁻¹ e⁻ˣ / Γ(a), that is

    dx/da = -Σₙ wₙ (ln x - ψ(a + n + 1)),   wₙ = xⁿ⁺¹ Γ(a) / Γ(a + n + 1)

The weights peak near n = x - a and fall off on both sides (wₙ₊₁ = wₙ x / (a + n + 1)), so
the sum starts at the peak and walks outwards until the terms no longer count: about
ten standard deviations, O(√x) terms, of a sum without cancellation near the bulk.
"""
import math

from numba import njit, vectorize

# B₂, B₄, …, B₁₆
BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


TWO_TO_52 = 4503599627370496.0   # beyond 2⁵² every float is an integer


@njit(cache=True)
def is_pole(x):
    """True where Γ has a pole: 0, the negative integers (-inf counted among them)."""
    # (math.floor gives an int in numba: it would overflow beyond 2⁶³, hence the bound)
    return x <= 0.0 and (x < -TWO_TO_52 or x == math.floor(x))


@njit(cache=True)
def off_nearest_integer(x):
    """x - k for the integer k nearest x (exact, |x - k| ≤ 1/2): sin, tan and cot of π times it
    are those of πx up to sign, without πx's rounding, which near a pole k (x = k + 2⁻⁵²)
    would swamp the distance to it."""
    return x - math.floor(x + 0.5)


@njit(cache=True)
def digamma_scalar(x):
    if x == 0.0:
        return -math.inf if math.copysign(1.0, x) > 0 else math.inf
    result = 0.0
    if x < 0.0:
        if is_pole(x):
            return math.nan
        # reflection: ψ(x) = ψ(1 - x) - π / tan(πr), r = x - k for the nearest integer k (tan
        # has period π). Not a recursive call: numba's cache cannot reload those.
        result = -math.pi / math.tan(math.pi * off_nearest_integer(x))
        x = 1.0 - x
    while x < 10.0:          # ψ(x) = ψ(x + 1) - 1/x
        result -= 1.0 / x
        x += 1.0
    # ψ(x) ~ ln x - 1/(2x) - Σₖ B₂ₖ / (2k x²ᵏ)
    inv2 = 1.0 / (x * x)
    power, series = 1.0, 0.0
    for k in range(1, len(BERNOULLI) + 1):
        power *= inv2
        series += BERNOULLI[k - 1] / (2 * k) * power
    return result + math.log(x) - 0.5 / x - series


REFLECT_BELOW = 1000.0   # ψ⁽ⁿ⁾ (n ≥ 2) of x below -1000 comes from the reflection formula


@njit(cache=True)
def cot_derivative(n, c):
    """dⁿ/dyⁿ cot y, given c = cot y: a polynomial Pₙ(c) of degree n + 1, from P₀(c) = c and
    Pₙ₊₁(c) = -(1 + c²)·Pₙ'(c) (as d cot y/dy = -(1 + cot² y))."""
    coefficients = [0.0] * (n + 2)
    coefficients[1] = 1.0
    for m in range(n):   # Pₘ has degree m + 1
        derivative = [0.0] * (n + 2)
        for k in range(1, m + 2):
            derivative[k - 1] = k * coefficients[k]
        coefficients = [0.0] * (n + 2)
        for k in range(m + 1):
            coefficients[k] -= derivative[k]
            coefficients[k + 2] -= derivative[k]
    value = 0.0
    for k in range(n + 1, -1, -1):
        value = value * c + coefficients[k]
    return value


@njit(cache=True)
def reflected_polygamma(n, x):
    """ψ⁽ⁿ⁾(x) for x < 0 off the poles, from ψ(1 - x) - ψ(x) = π cot(πx) differentiated n
    times: ψ⁽ⁿ⁾(x) = (-1)ⁿ ψ⁽ⁿ⁾(1 - x) - πⁿ⁺¹ Pₙ(cot πx), with πx reduced by the nearest multiple of π."""
    fraction = math.pi * off_nearest_integer(x)
    cot = math.cos(fraction) / math.sin(fraction)
    mirrored = polygamma_upwards(n, 1.0 - x)
    return (mirrored if n % 2 == 0 else -mirrored) - math.pi ** (n + 1) * cot_derivative(n, cot)


@njit(cache=True)
def polygamma_scalar(n, x):
    """ψ⁽ⁿ⁾(x). At a pole the term n!/(x - p)ⁿ⁺¹ dominates: +inf for odd n (from both
    sides), -inf for even n (PyTorch's sign). ψ⁽ⁿ⁾(x) → 0 as x → inf; at -inf, which has no
    limit, NaN for n = 1 and the pole's value beyond, as in PyTorch."""
    if n == 0:
        return digamma_scalar(x)
    if math.isnan(x):
        return x
    if x == math.inf:
        return 0.0
    sign = 1.0 if n % 2 == 1 else -1.0          # (-1)ⁿ⁺¹
    if is_pole(x):
        return math.nan if (n == 1 and x == -math.inf) else sign * math.inf
    if n > 1 and x < -REFLECT_BELOW:   # the recurrence below would take |x| steps
        return reflected_polygamma(n, x)
    if n == 1 and x < 0.5:
        # reflection: ψ⁽¹⁾(x) = π²/sin²(πx) - ψ⁽¹⁾(1 - x), πx reduced as in digamma; it keeps
        # the recurrence below from stepping up from a large negative x one by one
        s = math.sin(math.pi * off_nearest_integer(x))
        return (math.pi * math.pi) / (s * s) - polygamma_upwards(1, 1.0 - x)
    return polygamma_upwards(n, x)


@njit(cache=True)
def polygamma_upwards(n, x):
    """ψ⁽ⁿ⁾(x) (n ≥ 1, x off the poles) by the recurrence up to where the series holds."""
    sign = 1.0 if n % 2 == 1 else -1.0          # (-1)ⁿ⁺¹
    result = 0.0
    n_factorial = math.gamma(n + 1.0)
    while x < 20.0 + n:      # ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + 1) + (-1)ⁿ⁺¹ n!/xⁿ⁺¹
        result += n_factorial / x ** (n + 1)
        x += 1.0
    # ψ⁽ⁿ⁾(x) ~ (-1)ⁿ⁺¹ [(n-1)!/xⁿ + n!/(2xⁿ⁺¹) + Σₖ B₂ₖ (2k+n-1)!/((2k)! x²ᵏ⁺ⁿ)]
    series = math.gamma(n * 1.0) / x ** n + n_factorial / (2.0 * x ** (n + 1))
    for k in range(1, len(BERNOULLI) + 1):
        series += (BERNOULLI[k - 1] * math.exp(math.lgamma(2.0 * k + n) - math.lgamma(2.0 * k + 1))
                   / x ** (2 * k + n))
    return sign * (result + series)


@vectorize(["float32(float32)", "float64(float64)"], cache=True)
def lgamma(x):
    return math.lgamma(x)


@vectorize(["float32(float32)", "float64(float64)"], cache=True)
def digamma(x):
    return digamma_scalar(x)


@vectorize(["float32(int64, float32)", "float64(int64, float64)"], cache=True)
def polygamma(n, x):
    return polygamma_scalar(n, x)


@vectorize(["float64(float64, float64)"], cache=True)
def gamma_sample_grad(x, a):
    """dx/da for x ~ Gamma(a, 1), the noise held fixed (see the module docstring)."""
    if x <= 0.0 or math.isinf(x):
        return 0.0
    log_x = math.log(x)
    peak = max(0.0, math.floor(x - a))
    log_w_peak = (peak + 1.0) * log_x + math.lgamma(a) - math.lgamma(a + peak + 1.0)
    psi_peak = digamma_scalar(a + peak + 1.0)
    total, weights = 0.0, 0.0
    # upwards from the peak: wₙ₊₁ = wₙ x/(a+n+1), ψ(a+n+2) = ψ(a+n+1) + 1/(a+n+1)
    n, log_w, psi = peak, log_w_peak, psi_peak
    for _ in range(1_000_000):
        w = math.exp(log_w)
        total += w * (log_x - psi)
        weights += w
        if w < 1e-17 * weights and n > x - a:
            break
        psi += 1.0 / (a + n + 1.0)
        n += 1.0
        log_w += log_x - math.log(a + n)
    # downwards: wₙ₋₁ = wₙ (a+n)/x, ψ(a+n) = ψ(a+n+1) - 1/(a+n)
    n, log_w, psi = peak, log_w_peak, psi_peak
    while n > 0.0:
        log_w += math.log(a + n) - log_x
        psi -= 1.0 / (a + n)
        n -= 1.0
        w = math.exp(log_w)
        total += w * (log_x - psi)
        weights += w
        if w < 1e-17 * weights:
            break
    return -total
