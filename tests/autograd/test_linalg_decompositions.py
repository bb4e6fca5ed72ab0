"""cholesky and solve_triangular (tapegrad/autograd/ops/linalg_decompositions.py): gradients
and second derivatives against finite differences (broadcast batches, non-contiguous inputs,
both triangles, both sides), values against their defining equations and PyTorch, errors."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.linalg_decompositions import cholesky, solve_triangular

from ..support import Case, constant, leaf, noncontiguous


def spd(a):
    """A symmetric positive-definite matrix made from any square a: a aᵀ + n·I."""
    n = a.shape[-1]
    return a @ a.mT + tg.eye(n, dtype=a.dtype) * n


def well_conditioned(a):
    """a with a large diagonal, so that its triangles are far from singular."""
    return a + tg.eye(a.shape[-1], dtype=a.dtype) * 4


CASES = [
    Case("cholesky", lambda a: cholesky(spd(a)), [leaf(3, 3)]),
    Case("cholesky", lambda a: cholesky(spd(a)), [leaf(2, 3, 3)], name="batch"),
    Case("cholesky", lambda a: cholesky(spd(a), upper=True), [leaf(3, 3)], name="upper"),
    Case("cholesky", lambda a: cholesky(spd(a)), [noncontiguous(4, 4)], name="noncontiguous"),
    Case("cholesky", lambda a: cholesky(spd(a)), [leaf(1, 1)], name="1x1"),
    Case("solve_triangular", lambda a, b: solve_triangular(well_conditioned(a), b, upper=False),
         [leaf(3, 3), leaf(3, 2)], name="lower-left"),
    Case("solve_triangular", lambda a, b: solve_triangular(well_conditioned(a), b, upper=True),
         [leaf(3, 3), leaf(3, 2)], name="upper-left"),
    Case("solve_triangular",
         lambda a, b: solve_triangular(well_conditioned(a), b, upper=False, left=False),
         [leaf(3, 3), leaf(2, 3)], name="lower-right"),
    Case("solve_triangular",
         lambda a, b: solve_triangular(well_conditioned(a), b, upper=True, left=False),
         [noncontiguous(3, 3), leaf(4, 3)], name="upper-right-noncontiguous"),
    Case("solve_triangular",
         lambda a, b: solve_triangular(a, b, upper=False, unitriangular=True),
         [leaf(3, 3, low=-0.5, high=0.5), leaf(3, 2)], name="unitriangular"),
    Case("solve_triangular", lambda a, b: solve_triangular(well_conditioned(a), b, upper=False),
         [leaf(2, 3, 3), leaf(3, 1)], name="batch-A-broadcast-B"),
    Case("solve_triangular", lambda a, b: solve_triangular(well_conditioned(a), b, upper=True),
         [leaf(3, 3), noncontiguous(2, 3, 2)], name="broadcast-A-batch-B"),
    Case("solve_triangular", lambda a, b: solve_triangular(well_conditioned(a), b, upper=False),
         [leaf(3, 3), constant(3, 2)], name="only-A"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def f64(values):
    return tg.tensor(values, dtype=tg.float64)


def test_cholesky_factor_is_lower_with_positive_diagonal_and_multiplies_back():
    a = spd(tg.randn(2, 4, 4, dtype=tg.float64))
    L = cholesky(a)
    assert L.shape == (2, 4, 4)
    np.testing.assert_array_equal(np.triu(L.numpy(), 1), 0)
    assert (np.diagonal(L.numpy(), axis1=-2, axis2=-1) > 0).all()
    np.testing.assert_allclose((L @ L.mT).numpy(), a.numpy(), rtol=1e-12)
    U = cholesky(a, upper=True)
    np.testing.assert_allclose((U.mT @ U).numpy(), a.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(U.numpy(), np.swapaxes(L.numpy(), -1, -2))


def test_cholesky_reads_only_the_lower_triangle():
    a = spd(tg.randn(3, 3, dtype=tg.float64))
    garbage = a + tg.triu(tg.ones(3, 3, dtype=tg.float64), 1) * 100
    np.testing.assert_array_equal(cholesky(garbage).numpy(), cholesky(a).numpy())


def test_cholesky_gradient_is_symmetric():
    a = spd(tg.randn(3, 3, dtype=tg.float64)).detach().requires_grad_()
    (cholesky(a) * tg.randn(3, 3, dtype=tg.float64)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), a.grad.numpy().T, rtol=1e-12)


def test_cholesky_keeps_float32():
    assert cholesky(spd(tg.randn(3, 3))).dtype == tg.float32


def test_solve_triangular_solves_and_ignores_the_other_triangle():
    a = well_conditioned(tg.randn(4, 4, dtype=tg.float64))
    b = tg.randn(4, 3, dtype=tg.float64)
    x = solve_triangular(a, b, upper=True)
    np.testing.assert_allclose(np.triu(a.numpy()) @ x.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    x = solve_triangular(a, b.mT, upper=False, left=False)
    np.testing.assert_allclose(x.numpy() @ np.tril(a.numpy()), b.numpy().T, rtol=1e-10,
                               atol=1e-12)
    x = solve_triangular(a, b, upper=False, unitriangular=True)
    unit = np.tril(a.numpy(), -1) + np.eye(4)
    np.testing.assert_allclose(unit @ x.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_solve_triangular_with_inf_or_nan_spreads_them_only_to_the_rows_that_depend_on_them():
    # substitution, as LAPACK's triangular solve: x₀ = 1/2, x₁ = (NaN - x₀)/3, x₂ = (3 - ∞·x₀
    # - x₁)/4; the column [2, 1, ∞] gives 1, 0 and then ∞
    a = tg.tensor([[2.0, 0, 0], [1, 3, 0], [np.inf, 1, 4]], dtype=tg.float64)
    b = tg.tensor([[1.0, 2], [np.nan, 1], [3, np.inf]], dtype=tg.float64)
    np.testing.assert_array_equal(solve_triangular(a, b, upper=False).numpy(),
                                  [[0.5, 1], [np.nan, 0], [np.nan, np.nan]])
    # the same system solved from the right (X Aᵀ = Bᵀ) and with the upper triangle
    np.testing.assert_array_equal(solve_triangular(a.mT, b.mT, upper=True, left=False).numpy(),
                                  [[0.5, np.nan, np.nan], [1, 0, np.nan]])
    np.testing.assert_array_equal(solve_triangular(a.mT, b, upper=True).numpy(),
                                  [[np.nan, np.nan], [np.nan, -np.inf], [0.75, np.inf]])
    with pytest.raises(RuntimeError, match="singular"):
        solve_triangular(a * tg.tensor([1.0, 0, 1], dtype=tg.float64), b, upper=False)


def test_cholesky_gradient_with_an_infinite_incoming_gradient_stays_finite_where_it_is():
    # L₁₁ = √(A₁₁ - L₁₀²) reads A₀₀ only through L₁₀ = A₁₀/L₀₀: an ∞ gradient at L₀₀ (atanh
    # of L₀₀ = 1) leaves ∂/∂A₁₁ = g₁₁/(2L₁₁), as PyTorch's triangular solves give
    a = tg.tensor([[1.0, 0], [0.5, 2]], dtype=tg.float64, requires_grad=True)
    cholesky(a).backward(tg.tensor([[np.inf, 0], [0, 1]], dtype=tg.float64))
    assert np.isnan(a.grad.numpy()[0, 1]) and np.isnan(a.grad.numpy()[1, 0])
    assert a.grad.numpy()[1, 1] == pytest.approx(1 / (2 * 1.75 ** 0.5), rel=1e-12)


def test_cholesky_gradient_of_an_infinite_diagonal_entry_is_nan_only_there():
    # A₀₀ = ∞: L₀₀ = ∞, L₁₀ = A₁₀/∞ = -0, L₁₁ = √A₁₁. Lᵀ∂L/∂L̄ is ∞ above the diagonal too,
    # which the lower triangle drops (a 0/1 mask would make 0·∞ = NaN of it): only ∂/∂A₀₀
    # is NaN (∞/∞), the off-diagonal ones 0 and ∂/∂A₁₁ = g₁₁/(2L₁₁), as in PyTorch
    a = tg.tensor([[np.inf, -np.inf], [-3.727, 2.05692]], dtype=tg.float64, requires_grad=True)
    cholesky(a).backward(tg.tensor([[0.36, 0.88], [-1.65, 0.71]], dtype=tg.float64))
    grad = a.grad.numpy()
    assert np.isnan(grad[0, 0]) and grad[0, 1] == 0 and grad[1, 0] == 0
    assert grad[1, 1] == pytest.approx(0.71 / (2 * 2.05692 ** 0.5), rel=1e-12)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    a = well_conditioned(tg.randn(2, 3, 3, dtype=tg.float64))
    b = tg.randn(3, 2, dtype=tg.float64)
    ta, tb = torch.tensor(a.numpy()), torch.tensor(b.numpy())
    for upper in (False, True):
        np.testing.assert_allclose(solve_triangular(a, b, upper=upper).numpy(),
                                   torch.linalg.solve_triangular(ta, tb, upper=upper).numpy(),
                                   rtol=1e-12)
    s = spd(a)
    np.testing.assert_allclose(cholesky(s, upper=True).numpy(),
                               torch.linalg.cholesky(torch.tensor(s.numpy()), upper=True).numpy(),
                               rtol=1e-12)


def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match=r"cholesky: the input of shape \(2, 2\) is not "
                                           r"positive-definite"):
        cholesky(f64([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(RuntimeError, match=r"cholesky: input must be a square matrix or a batch "
                                           r"of them, got shape \(2, 3\)"):
        cholesky(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"solve_triangular: B of shape \(2, 2\) must have 3 "
                                           r"rows to match A of shape \(3, 3\)"):
        solve_triangular(tg.eye(3), tg.ones(2, 2), upper=False)
    with pytest.raises(RuntimeError, match="solve_triangular: A of shape .* is singular"):
        solve_triangular(tg.zeros(2, 2), tg.ones(2, 1), upper=True)
    with pytest.raises(RuntimeError, match="expected operands of one dtype"):
        solve_triangular(tg.eye(2), tg.ones(2, 1, dtype=tg.float64), upper=True)
    with pytest.raises(RuntimeError, match=r"batch dimensions of A \(2, 3, 3\) and B \(4, 3, 1\)"):
        solve_triangular(tg.eye(3).expand(2, 3, 3), tg.ones(4, 3, 1), upper=True)


def test_cholesky_with_upper_reads_the_upper_triangle_as_lapack_does():
    a = tg.tensor([[4.0, 1.0], [100.0, 5.0]], dtype=tg.float64)   # its upper triangle is PD
    np.testing.assert_allclose(tg.cholesky(a, upper=True).numpy(),
                               [[2.0, 0.5], [0.0, np.sqrt(5 - 0.25)]])
    with pytest.raises(RuntimeError, match="not positive-definite"):
        tg.cholesky(a)                                              # its lower one is not
    x = tg.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=tg.float64, requires_grad=True)
    assert tg.autograd.gradcheck(lambda t: tg.cholesky(t + t.mT, upper=True), (x,))


def test_cholesky_upper_reads_the_upper_triangle_and_nan_is_not_positive_definite():
    a = tg.tensor([[4.0, 1.0], [3.0, 5.0]], dtype=tg.float64)   # not symmetric
    u = cholesky(a, upper=True)   # from [[4, 1], [1, 5]]: Uᵀ U with U = [[2, .5], [0, √4.75]]
    np.testing.assert_allclose(u.numpy(), [[2.0, 0.5], [0.0, np.sqrt(4.75)]])
    np.testing.assert_allclose(cholesky(a).numpy(), [[2.0, 0.0], [1.5, np.sqrt(2.75)]])
    with pytest.raises(RuntimeError, match="not positive-definite"):
        cholesky(tg.tensor([[1.0, 5.0], [0.0, 1.0]]), upper=True)
    with pytest.raises(RuntimeError, match="not positive-definite"):
        cholesky(tg.tensor([[float("nan"), 0.0], [0.0, 1.0]]))


def test_cholesky_with_an_infinite_entry_below_the_diagonal_is_not_positive_definite():
    inf = float("inf")
    with pytest.raises(RuntimeError, match="not positive-definite"):
        cholesky(tg.tensor([[inf, inf], [inf, inf]]))
    assert cholesky(tg.tensor([[4.0, inf], [0.0, 1.0]])).tolist() == [[2.0, 0.0], [0.0, 1.0]]
