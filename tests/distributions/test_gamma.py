"""Gamma (tapegrad/distributions/gamma.py) and its sampler with the implicit gradient
(standard_gamma.py): closed forms, sampled moments, and rsample's gradient checked against
finite differences of the inverse CDF with the noise held fixed, and for unbiasedness."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.distributions import Gamma
from tapegrad.distributions.standard_gamma import _standard_gamma

from .moments import assert_mean, assert_variance

ALPHA = [0.3, 1.0, 4.5]
RATE = [2.0, 1.0, 0.5]


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


# -- the Gamma CDF P(a, x) and its inverse, written out for the checks -------------------------
def gamma_cdf(a, x):
    """P(a, x) = γ(a, x)/Γ(a): its series below a + 1, Legendre's continued fraction above."""
    if x <= 0:
        return 0.0
    prefactor = math.exp(a * math.log(x) - x - math.lgamma(a))
    if x < a + 1:   # P = xᵃ e⁻ˣ/Γ(a) · Σₙ xⁿ / (a (a+1) … (a+n))
        term = total = 1.0 / a
        n = 0
        while term > total * 1e-17:
            n += 1
            term *= x / (a + n)
            total += term
        return prefactor * total
    tiny = 1e-300   # Q = 1 - P by the modified Lentz method
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return 1 - prefactor * h


def gamma_quantile(a, u, start):
    """x with P(a, x) = u, by Newton's method from ``start`` (dP/dx is the density)."""
    x = start
    for _ in range(100):
        density = math.exp((a - 1) * math.log(x) - x - math.lgamma(a))
        step = (gamma_cdf(a, x) - u) / density
        x = x / 2 if x - step <= 0 else x - step
        if abs(step) < 1e-15 * x:
            break
    return x


def test_the_reference_cdf_is_right():
    # P(1, x) = 1 - e⁻ˣ;  P(1/2, x) = erf(√x)
    for x in (0.1, 1.0, 3.0, 10.0):
        assert gamma_cdf(1.0, x) == pytest.approx(1 - math.exp(-x), rel=1e-13)
        assert gamma_cdf(0.5, x) == pytest.approx(math.erf(math.sqrt(x)), rel=1e-13)


def test_the_sample_gradient_is_the_derivative_of_the_quantile_with_the_noise_fixed():
    # x = F⁻¹(u; α) with u = F(x; α) held fixed: dx/dα by central differences of the quantile.
    tg.manual_seed(11)
    alphas = np.repeat([0.05, 0.4, 1.0, 3.5, 60.0], 6)
    alpha = f64(alphas).requires_grad_()
    x = _standard_gamma(alpha)
    x.sum().backward()
    for a, xi, grad in zip(alphas, x.detach().numpy(), alpha.grad.numpy()):
        u = gamma_cdf(a, xi)
        if not 1e-12 < u < 1 - 1e-9:
            continue   # too far in a tail for u to pin x down in float64
        h = 1e-6 * a
        numeric = (gamma_quantile(a + h, u, xi) - gamma_quantile(a - h, u, xi)) / (2 * h)
        assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-12), (a, xi)


def test_the_sample_gradient_matches_pytorchs():
    torch = pytest.importorskip("torch")
    tg.manual_seed(12)
    alpha = f64(np.repeat([0.2, 1.0, 7.0, 300.0], 25)).requires_grad_()
    x = _standard_gamma(alpha)
    x.sum().backward()
    expected = torch._standard_gamma_grad(torch.tensor(alpha.detach().numpy()),
                                          torch.tensor(x.detach().numpy()))
    # PyTorch evaluates dx/dα with rational approximations: accurate to about 1e-3
    np.testing.assert_allclose(alpha.grad.numpy(), expected.numpy(), rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("a,b", [(0.5, 1.0), (3.0, 2.0)])
def test_rsample_gradients_are_unbiased(a, b):
    # d/dα E[x] = 1/β and d/dβ E[x] = -α/β², averaged over per-sample gradients
    tg.manual_seed(13)
    n = 40_000
    alpha = tg.full((n,), a, dtype=tg.float64, requires_grad=True)
    rate = tg.full((n,), b, dtype=tg.float64, requires_grad=True)
    Gamma(alpha, rate).rsample().sum().backward()
    assert_mean(alpha.grad.numpy(), 1 / b)
    assert_mean(rate.grad.numpy(), -a / b ** 2)


def test_rsample_gradient_with_respect_to_the_rate_is_gradchecked():
    def draw(rate):
        tg.manual_seed(3)
        return Gamma(f64([0.7, 2.0]), rate).rsample((3,))
    assert gradcheck(draw, (f64([1.5, 0.4]).requires_grad_(),))


def test_second_derivative_through_the_sampler_is_refused():
    alpha = f64([2.0]).requires_grad_()
    x = _standard_gamma(alpha)
    (grad,) = tg.autograd.grad(x.sum(), alpha, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivative of a Gamma .* not implemented"):
        grad.sum().backward()


def test_log_prob_entropy_and_summaries_match_the_formulas():
    d = Gamma(f64(ALPHA), f64(RATE))
    x = [0.2, 1.3, 9.0]
    expected = [a * math.log(b) + (a - 1) * math.log(v) - b * v - math.lgamma(a)
                for a, b, v in zip(ALPHA, RATE, x)]
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, rtol=1e-13)
    psi = {0.3: -3.502524222200133, 1.0: -0.5772156649015329, 4.5: 1.3888709263595290}
    entropy = [a - math.log(b) + math.lgamma(a) + (1 - a) * psi[a] for a, b in zip(ALPHA, RATE)]
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-13)
    np.testing.assert_allclose(d.mean.numpy(), np.divide(ALPHA, RATE))
    np.testing.assert_allclose(d.variance.numpy(), np.divide(ALPHA, np.square(RATE)))
    np.testing.assert_allclose(d.mode.numpy(), [0.0, 0.0, 3.5 / 0.5])


def test_log_prob_at_zero_with_concentration_one_is_log_rate():
    assert Gamma(f64(1.0), f64(2.0)).log_prob(f64(0.0)).item() == pytest.approx(math.log(2))


def test_sampled_moments_and_seeded_repeats():
    tg.manual_seed(5)
    d = Gamma(f64(ALPHA), f64(RATE))
    samples = d.sample((100_000,)).numpy()
    assert (samples > 0).all()
    assert_mean(samples, np.divide(ALPHA, RATE))
    assert_variance(samples, np.divide(ALPHA, np.square(RATE)))
    tg.manual_seed(5)
    np.testing.assert_array_equal(d.sample((100_000,)).numpy(), samples)


def test_shapes_and_dtypes():
    d = Gamma(tg.ones(3, 1), tg.ones(2))
    assert d.batch_shape == (3, 2) and d.rsample((4,)).shape == (4, 3, 2)
    assert d.sample().dtype == tg.float32
    tiny = Gamma(tg.tensor([1e-3]), 1.0).sample((1000,))
    assert (tiny.numpy() > 0).all()   # underflowing draws become the smallest normal number


def test_errors():
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        Gamma(tg.tensor([1.0, 0.0]), 1.0)
    with pytest.raises(ValueError, match="to be within the support"):
        Gamma(1.0, 1.0).log_prob(tg.tensor(-1.0))
