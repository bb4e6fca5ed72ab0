"""MultivariateNormal (tapegrad/distributions/multivariate_normal.py): its three
parametrisations agree, closed forms against numpy's linear algebra, sampled mean and
covariance, batch shapes, rsample and log_prob gradients, errors."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from tapegrad.distributions import MultivariateNormal

from .moments import assert_mean

COV = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
LOC = np.array([1.0, -2.0, 0.5])


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def three_ways():
    return [MultivariateNormal(f64(LOC), covariance_matrix=f64(COV)),
            MultivariateNormal(f64(LOC), precision_matrix=f64(np.linalg.inv(COV))),
            MultivariateNormal(f64(LOC), scale_tril=f64(np.linalg.cholesky(COV)))]


def test_the_three_parametrisations_describe_the_same_distribution():
    x = f64([[0.0, 0.0, 0.0], [1.5, -1.0, 2.0]])
    reference = three_ways()[0]
    for d in three_ways():
        np.testing.assert_allclose(d.covariance_matrix.numpy(), COV, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d.precision_matrix.numpy(), np.linalg.inv(COV), rtol=1e-10)
        np.testing.assert_allclose(d.scale_tril.numpy(), np.linalg.cholesky(COV), rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(d.log_prob(x).numpy(), reference.log_prob(x).numpy(),
                                   rtol=1e-12)


def test_log_prob_entropy_and_summaries_match_the_formulas():
    d = three_ways()[0]
    x = np.array([[0.0, 0.0, 0.0], [1.5, -1.0, 2.0]])
    diff = x - LOC
    mahalanobis = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(COV), diff)
    _, log_det = np.linalg.slogdet(COV)
    expected = -0.5 * (3 * math.log(2 * math.pi) + mahalanobis + log_det)
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, rtol=1e-12)
    assert d.entropy().item() == pytest.approx(0.5 * (3 * (1 + math.log(2 * math.pi)) + log_det),
                                               rel=1e-13)
    np.testing.assert_allclose(d.mean.numpy(), LOC)
    np.testing.assert_allclose(d.mode.numpy(), LOC)
    np.testing.assert_allclose(d.variance.numpy(), np.diag(COV), rtol=1e-12)


def test_sampled_mean_and_covariance():
    tg.manual_seed(8)
    samples = three_ways()[0].sample((100_000,)).numpy()
    assert_mean(samples, LOC)
    centred = samples - LOC
    products = (centred[:, :, None] * centred[:, None, :]).reshape(len(samples), 9)
    assert_mean(products, COV.reshape(9))   # E[(x - μ)(x - μ)ᵀ] = Σ


def test_batch_shapes_broadcast_between_loc_and_the_matrix():
    d = MultivariateNormal(tg.zeros(4, 3), covariance_matrix=f64(COV).float())
    assert d.batch_shape == (4,) and d.event_shape == (3,)
    assert d.rsample((5,)).shape == (5, 4, 3)
    assert d.log_prob(tg.zeros(5, 4, 3)).shape == (5, 4)
    assert d.entropy().shape == (4,)
    assert d.covariance_matrix.shape == (4, 3, 3)
    d = MultivariateNormal(tg.zeros(3), scale_tril=tg.eye(3).expand(2, 3, 3))
    assert d.batch_shape == (2,) and d.sample().shape == (2, 3)
    assert d.sample().dtype == tg.float32


def test_rsample_and_log_prob_gradients():
    def cov(a):
        return a @ a.mT + tg.eye(3, dtype=tg.float64)

    def draw(loc, a):
        tg.manual_seed(9)
        return MultivariateNormal(loc, covariance_matrix=cov(a)).rsample((2,))
    loc = f64(LOC).requires_grad_()
    a = f64(np.linalg.cholesky(COV)).requires_grad_()
    assert gradcheck(draw, (loc, a))
    x = f64([[0.3, -1.0, 1.0]])
    assert gradcheck(lambda m, a: MultivariateNormal(m, covariance_matrix=cov(a)).log_prob(x),
                     (loc, a))
    assert gradcheck(lambda a: MultivariateNormal(loc.detach(), precision_matrix=cov(a)).entropy(),
                     (a,))


def test_errors():
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix "
                                         "or scale_tril may be specified"):
        MultivariateNormal(tg.zeros(2))
    with pytest.raises(ValueError, match="Exactly one of"):
        MultivariateNormal(tg.zeros(2), covariance_matrix=tg.eye(2), scale_tril=tg.eye(2))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        MultivariateNormal(tg.tensor(0.0), covariance_matrix=tg.eye(1))
    with pytest.raises(ValueError, match=r"covariance_matrix must be a batch of 2x2 matrices to "
                                         r"match loc of shape \(2,\), got shape \(3, 3\)"):
        MultivariateNormal(tg.zeros(2), covariance_matrix=tg.eye(3))
    with pytest.raises(ValueError, match="Expected parameter covariance_matrix"):
        MultivariateNormal(tg.zeros(2), covariance_matrix=tg.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="Expected parameter scale_tril"):
        MultivariateNormal(tg.zeros(2), scale_tril=tg.ones(2, 2))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        MultivariateNormal(tg.zeros(2), covariance_matrix=tg.eye(2)).log_prob(tg.zeros(3))
