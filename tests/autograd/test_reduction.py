"""Reductions: sum, mean, var, std, prod, amax/amin, max/min, argmax/argmin, logsumexp,
softmax, log_softmax, cumsum, all/any/count_nonzero, with PyTorch's semantics."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import reduction as R
from tests.support import Case, constant, leaf, noncontiguous, positive


def as_numpy(t):
    return np.asarray(t.detach())


def with_zeros(values):
    """A float64 leaf holding exactly these values (zeros included)."""
    return tg.tensor(np.array(values, dtype=np.float64), dtype=tg.float64, requires_grad=True)


CASES = [
    # sum and mean: every dim spelling, keepdim, 0-d, non-contiguous
    Case("sum", lambda x: x.sum(), [leaf()]),
    Case("sum", lambda x: x.sum(), [leaf(5)]),
    Case("sum", lambda x: x.sum(1), [leaf(3, 4)], name="dim1"),
    Case("sum", lambda x: x.sum(-1, keepdim=True), [leaf(3, 4)], name="dim-1_keepdim"),
    Case("sum", lambda x: x.sum((0, 2)), [noncontiguous(2, 3, 4)], name="dims02_noncontig"),
    Case("sum", lambda x: x.sum((-1, 0), keepdim=True), [leaf(2, 3, 4)], name="dims-1,0_keepdim"),
    Case("sum", lambda x: x.sum(()), [leaf(3, 4)], name="empty_dims_reduce_all"),
    Case("mean", lambda x: x.mean(), [leaf()]),
    Case("mean", lambda x: x.mean(0), [leaf(5)]),
    Case("mean", lambda x: x.mean(-2), [leaf(3, 4)], name="dim-2"),
    Case("mean", lambda x: x.mean((1, 2), keepdim=True), [noncontiguous(2, 3, 4)],
         name="dims12_keepdim_noncontig"),
    # var and std: dims, keepdim, correction / unbiased in all of PyTorch's spellings
    Case("var", lambda x: x.var(), [leaf(5)]),
    Case("var", lambda x: x.var(correction=0), [leaf()], name="0d_correction0"),
    Case("var", lambda x: x.var(1), [leaf(3, 4)], name="dim1"),
    Case("var", lambda x: x.var(-1, keepdim=True, correction=0), [leaf(3, 4)],
         name="dim-1_keepdim_correction0"),
    Case("var", lambda x: x.var((0, 2), correction=2), [noncontiguous(2, 3, 4)],
         name="dims02_correction2_noncontig"),
    Case("var", lambda x: tg.var(x, 0, False, True), [leaf(3, 4)], name="positional_unbiased"),
    Case("var", lambda x: x.var(unbiased=False), [leaf(3, 4)], name="unbiased_false_all"),
    Case("std", lambda x: x.std(), [leaf(5)]),
    Case("std", lambda x: x.std(0), [leaf(3, 4)], name="dim0"),
    Case("std", lambda x: x.std((-1, 0), keepdim=True), [noncontiguous(2, 3, 4)],
         name="dims-1,0_keepdim_noncontig"),
    Case("std", lambda x: tg.std(x, 1, False), [leaf(3, 4)], name="positional_unbiased"),
    # prod: one dim or all, also at zeros (one, two, three zeros in a slice); the
    # zero handling is written with tensor operations on x, so gradgrad holds there too
    Case("prod", lambda x: x.prod(), [leaf()]),
    Case("prod", lambda x: x.prod(), [leaf(5)]),
    Case("prod", lambda x: x.prod(1), [leaf(3, 4)], name="dim1"),
    Case("prod", lambda x: x.prod(-2, keepdim=True), [leaf(3, 4)], name="dim-2_keepdim"),
    Case("prod", lambda x: x.prod(1), [noncontiguous(2, 3, 4)], name="dim1_noncontig"),
    Case("prod", lambda x: x.prod(0), [with_zeros(0.0)], name="0d_zero"),
    Case("prod", lambda x: x.prod(), [with_zeros([1.5, 0.0, -2.0, 0.5])], name="one_zero"),
    Case("prod", lambda x: x.prod(1, keepdim=True),
         [with_zeros([[1.5, 0.0, -2.0, 0.5], [0.0, 1.2, 0.0, -0.7],
                      [0.0, 0.0, 0.0, 2.0], [0.3, -1.1, 0.8, 1.7]])],
         name="zeros_0_1_2_3_per_row"),
    Case("prod", lambda x: x.prod(0),
         [with_zeros([[1.5, 0.0], [0.0, 0.0], [-2.0, 1.3]])], name="zeros_along_dim0"),
    # the gradient where x holds a zero is an operation of its own (its derivative, prod's
    # second, is checked here; the cases above check it through gradgrad too)
    Case("prod_backward", lambda g, x: tg.autograd.grad(x.prod(1), x, g, create_graph=True),
         [leaf(3), with_zeros([[1.5, 0.0, -2.0], [0.7, 1.2, 0.9], [0.0, 0.0, 2.0]])],
         gradgrad=False),
    Case("prod_backward", lambda g, x: tg.autograd.grad(x.prod(), x, g, create_graph=True),
         [leaf(), with_zeros([1.5, 0.0, -2.0, 0.0])], gradgrad=False, name="all_two_zeros"),
    # amax / amin: ties-free inputs (ties are tested below)
    Case("amax", lambda x: x.amax(), [leaf()]),
    Case("amax", lambda x: x.amax(), [leaf(5)]),
    Case("amax", lambda x: x.amax(1), [leaf(3, 4)], name="dim1"),
    Case("amax", lambda x: x.amax((0, -1), keepdim=True), [noncontiguous(2, 3, 4)],
         name="dims0,-1_keepdim_noncontig"),
    Case("amin", lambda x: x.amin(), [leaf(3, 4)]),
    Case("amin", lambda x: x.amin(-1, keepdim=True), [leaf(3, 4)], name="dim-1_keepdim"),
    Case("amin", lambda x: x.amin((1, 2)), [noncontiguous(2, 3, 4)], name="dims12_noncontig"),
    # max / min: the full reduction, and (values, indices) along one dim
    Case("max", lambda x: x.max(), [leaf()]),
    Case("max", lambda x: x.max(), [leaf(3, 4)]),
    Case("max", lambda x: x.max(0).values, [leaf()], name="0d_dim0"),
    Case("max", lambda x: x.max(1).values, [leaf(3, 4)], name="dim1"),
    Case("max", lambda x: x.max(-1, keepdim=True).values, [noncontiguous(2, 3, 4)],
         name="dim-1_keepdim_noncontig"),
    Case("min", lambda x: x.min(), [leaf(5)]),
    Case("min", lambda x: x.min(0).values, [leaf(3, 4)], name="dim0"),
    Case("min", lambda x: tg.min(x, -2, True)[0], [noncontiguous(2, 3, 4)],
         name="dim-2_keepdim_noncontig"),
    # logsumexp, softmax, log_softmax
    Case("logsumexp", lambda x: x.logsumexp(0), [leaf()]),
    Case("logsumexp", lambda x: x.logsumexp(0), [leaf(5)]),
    Case("logsumexp", lambda x: x.logsumexp(-1, keepdim=True), [leaf(3, 4)],
         name="dim-1_keepdim"),
    Case("logsumexp", lambda x: x.logsumexp((0, 2)), [noncontiguous(2, 3, 4)],
         name="dims02_noncontig"),
    Case("logsumexp", lambda x: x.logsumexp(1), [leaf(3, 4, low=20.0, high=30.0)],
         name="large_logits"),
    Case("softmax", lambda x: x.softmax(0), [leaf()]),
    Case("softmax", lambda x: x.softmax(0), [leaf(5)]),
    Case("softmax", lambda x: x.softmax(-1), [leaf(3, 4)], name="dim-1"),
    Case("softmax", lambda x: tg.softmax(x, 1, dtype=tg.float64), [noncontiguous(2, 3, 4)],
         name="dim1_dtype_noncontig"),
    Case("log_softmax", lambda x: x.log_softmax(0), [leaf()]),
    Case("log_softmax", lambda x: x.log_softmax(0), [leaf(5)]),
    Case("log_softmax", lambda x: x.log_softmax(-2), [leaf(3, 4)], name="dim-2"),
    Case("log_softmax", lambda x: x.log_softmax(2), [noncontiguous(2, 3, 4)],
         name="dim2_noncontig"),
    # log_softmax's backward is an operation of its own, with its own derivatives
    Case("log_softmax_backward", lambda g, y: R.log_softmax_backward(g, y, (1,)),
         [leaf(3, 4), leaf(3, 4, low=-3.0, high=-0.1)]),
    Case("log_softmax_backward", lambda g, y: R.log_softmax_backward(g, y, (0,)),
         [noncontiguous(2, 3), leaf(2, 3, low=-3.0, high=-0.1)], name="dim0_noncontig"),
    Case("log_softmax_backward", lambda g, y: R.log_softmax_backward(g, y, ()),
         [leaf(), leaf(low=-3.0, high=-0.1)], name="0d"),
    # cumsum
    Case("cumsum", lambda x: x.cumsum(0), [leaf()]),
    Case("cumsum", lambda x: x.cumsum(0), [leaf(5)]),
    Case("cumsum", lambda x: x.cumsum(-1), [leaf(3, 4)], name="dim-1"),
    Case("cumsum", lambda x: x.cumsum(1), [noncontiguous(2, 3, 4)], name="dim1_noncontig"),
    Case("cumsum", lambda x: x.cumsum(1, dtype=tg.float64), [leaf(3, 4)], name="dtype"),
    # a reduction of a product with a constant (gradient scaled per element)
    Case("prod", lambda x, c: (x * c).prod(0), [positive(3, 2), constant(3, 2)],
         name="after_mul"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- values against numpy -----------------------------------------------------------------
A = np.random.default_rng(7).uniform(-2, 2, size=(2, 3, 4))


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (2, -2), [1]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_var_std_match_numpy_for_every_dim_spelling(dim, keepdim):
    x = tg.tensor(A)
    axis = None if dim is None else tuple(dim) if isinstance(dim, (tuple, list)) else dim
    np.testing.assert_allclose(as_numpy(x.sum(dim, keepdim=keepdim)),
                               A.sum(axis=axis, keepdims=keepdim))
    np.testing.assert_allclose(as_numpy(x.mean(dim, keepdim=keepdim)),
                               A.mean(axis=axis, keepdims=keepdim))
    np.testing.assert_allclose(as_numpy(x.var(dim, keepdim=keepdim)),
                               A.var(axis=axis, ddof=1, keepdims=keepdim))
    np.testing.assert_allclose(as_numpy(x.std(dim, keepdim=keepdim, correction=0)),
                               A.std(axis=axis, keepdims=keepdim))
    np.testing.assert_allclose(as_numpy(x.amax(dim, keepdim=keepdim)),
                               A.max(axis=axis, keepdims=keepdim))
    np.testing.assert_allclose(as_numpy(x.amin(dim, keepdim=keepdim)),
                               A.min(axis=axis, keepdims=keepdim))
    if dim is not None:
        expected = np.log(np.exp(A).sum(axis=axis, keepdims=keepdim))
        np.testing.assert_allclose(as_numpy(x.logsumexp(dim, keepdim=keepdim)), expected)


def test_sum_over_an_empty_tuple_of_dims_reduces_everything_as_pytorch_does():
    # PyTorch (unlike numpy) treats dim=() as "all dims" (pytorch/pytorch#29137).
    x = tg.tensor(A)
    assert x.sum(()).shape == ()
    assert x.sum((), keepdim=True).shape == (1, 1, 1)
    np.testing.assert_allclose(x.mean(()).item(), A.mean())


def test_reductions_of_a_0d_tensor_accept_dim_0_and_minus_1_and_stay_0d():
    x = tg.tensor(3.0)
    for dim in (0, -1):
        for op in (tg.sum, tg.mean, tg.prod, tg.amax, tg.amin, tg.logsumexp, tg.softmax,
                   tg.log_softmax, tg.cumsum):
            assert op(x, dim).shape == (), op.__name__
        values, indices = x.max(dim)
        assert values.shape == () and indices.shape == () and indices.item() == 0
    assert x.sum().shape == () and x.var(correction=0).item() == 0.0
    assert x.softmax(0).item() == 1.0 and x.log_softmax(0).item() == 0.0
    assert x.logsumexp(0).item() == 3.0 and x.cumsum(0).item() == 3.0


def test_var_of_a_single_element_with_correction_1_is_nan_as_pytorch():
    with pytest.warns(RuntimeWarning):
        assert np.isnan(tg.tensor([2.0]).var().item())


def test_var_along_a_dim_with_no_degree_of_freedom_scales_by_2_over_n_minus_correction():
    x = tg.tensor([[1.0], [3.0]], dtype=tg.float64, requires_grad=True)
    x.var(dim=1, correction=2).sum().backward()   # 2/(1 - 2) = -2 times x - mean = 0
    assert x.grad.tolist() == [[0.0], [0.0]]
    x = tg.tensor([[0.0, 1.0]], dtype=tg.float64, requires_grad=True)
    x.var(dim=1, correction=2).sum().backward()   # 2/0 = ∞ times ∓1/2
    assert x.grad.tolist() == [[-np.inf, np.inf]]


def test_var_of_every_element_with_no_degree_of_freedom_is_infinite_or_nan_at_the_mean():
    x = tg.tensor([5.0, 1.0, 3.0], dtype=tg.float64, requires_grad=True)
    x.var(correction=3).backward()   # PyTorch's rule: ∞, and NaN where x is the mean
    assert x.grad.tolist()[:2] == [np.inf, np.inf] and np.isnan(x.grad.tolist()[2])


def test_var_whose_squares_overflow_is_still_computed_where_it_fits():
    # (1.5e19)² overflows float32; the variance 2.1e38 does not (PyTorch: float64 sums);
    # one beyond float32's range stays inf
    x = tg.tensor([[1.5e19, -1.4e19, 3e18], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(x.var(dim=1).numpy(), [2.1233333e38, 1.0], rtol=1e-6)
    assert tg.tensor([1e30, -1e30]).var().item() == math.inf


def test_std_whose_squares_overflow_is_still_computed():
    # (1e30)² overflows float32, the std (7e29) does not: PyTorch accumulates in float64
    x = tg.tensor([[1e30, -1e30], [1.0, 3.0]])
    np.testing.assert_allclose(x.std(dim=1).numpy(), [2 ** 0.5 * 1e30, 2 ** 0.5], rtol=1e-6)
    assert x.std(dim=1).dtype is tg.float32
    h = tg.tensor([300.0, -300.0], dtype=tg.float16)   # 300² overflows float16
    assert h.std(unbiased=False).item() == 300.0
    assert np.isnan(tg.tensor([1.0, float("inf")]).std().item())   # as PyTorch


def test_float32_std_whose_squares_underflow_has_its_value_and_gradient():
    # (5e-31)² underflows float32 to 0, the std of [1e-30, 0] (7.1e-31) does not, and its
    # gradient ±g/√2 is no 0 (PyTorch accumulates float32 in float64): the float32 value and
    # gradient of a transposed (2, 4, 4) input along dim 0 are the float64 ones, rounded
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 4, 2))
    base[3, 0] = [1e-30, 0.0]    # two values of the std's slices: tiny, and subnormal squares
    base[1, 2] = [1e-20, 3e-21]
    base[2, 1] = [1e-30, 1e-30]  # equal: still exactly 0, with a zero gradient
    grad = rng.standard_normal((1, 4, 4))
    results = {}
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor(base, dtype=dtype, requires_grad=True)
        y = x.transpose(0, 2).std(dim=0, keepdim=True)
        y.backward(tg.tensor(grad, dtype=dtype))
        results[dtype] = y.detach().numpy().astype(np.float64), x.grad.numpy().astype(np.float64)
    (y32, g32), (y64, g64) = results[tg.float32], results[tg.float64]
    np.testing.assert_allclose(y32, y64, rtol=1e-6, atol=0)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-6)
    assert y32[0, 1, 2] == 0.0 and g32[2, 1].tolist() == [0.0, 0.0]
    variance = tg.tensor([1e-20, 0.0]).var(correction=0).item()   # 2.5e-41, subnormal
    assert variance == pytest.approx(2.5e-41, rel=1e-5)
    # the math, for the pair [1e-30, 0] (steps of 1e-6 would not see a slope at 1e-30)
    np.testing.assert_allclose(g32[3, 0], grad[0, 0, 3] * np.array([1, -1]) / 2 ** 0.5, rtol=1e-6)


def test_var_and_std_of_values_at_both_ends_of_the_range_are_computed_where_they_fit():
    # x - x₀ of 3.4e38 and -3.4e38 overflows float32 (∞ - ∞ = NaN in the sum); the spread
    # does not: std([3.4e38, -3.4e38, 3.4e38, 0]) = 3.4e38·√(11/12), as PyTorch gives
    big = float(np.finfo(np.float32).max)
    x = tg.tensor([[big, -big, big, 0.0], [1.0, 2.0, 3.0, 4.0]])
    expected = np.std(np.float64([[1, -1, 1, 0], [1, 2, 3, 4]]), axis=1, ddof=1) * [big, 1]
    np.testing.assert_allclose(x.std(dim=1).numpy(), expected, rtol=1e-6)
    assert x.var(dim=1).tolist()[0] == math.inf and x.var(dim=1).tolist()[1] == pytest.approx(
        5 / 3)
    # an infinite value still gives NaN (∞ - ∞), as in PyTorch
    assert np.isnan(tg.tensor([big, -big, float("inf")]).std().item())


def test_var_and_std_of_equal_values_are_exactly_zero_with_a_zero_gradient():
    # a two-pass mean of five equal float32 or float16 values rounds off them; the spread
    # is still exactly 0 (as PyTorch's running update gives), so std's gradient is 0
    h = tg.tensor([7836.0], dtype=tg.float16).expand(5)
    assert h.std().item() == 0.0 and h.var().item() == 0.0 and h.std().dtype is tg.float16
    x = tg.tensor([1.33634, -1.66262, -0.92538], requires_grad=True)
    y = x.expand(5, 3).std(0)
    assert y.tolist() == [0.0, 0.0, 0.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_var_of_equal_huge_values_has_a_zero_gradient_as_its_zero_variance():
    # x̄ of fifteen float32 1e30s is not 1e30 (a two-pass mean), so 2(x - x̄)/(N - 1) would
    # be a residue of 1e22 where the variance and the math give 0; values that are not all
    # equal keep their gradient, and one beside them changes nothing
    for dtype in (tg.float32, tg.float64):
        for dim in (None, 0):
            x = tg.full((5, 3), 1e30, dtype=dtype, requires_grad=True)
            x.var(dim=dim).sum().backward()
            assert not x.var(dim=dim).any().item() and not x.grad.any().item(), (dtype, dim)
        x = tg.tensor([1e30, 1e30, 1e30, 1e30], dtype=dtype, requires_grad=True)
        w = tg.tensor([1.0, 1.0, 1.0, 1.0 + 2 ** -20], dtype=dtype)
        y = (x * w).detach().numpy().astype(np.float64)
        (x * w).var().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 / 3 * (y - y.mean()) * w.numpy(),
                                   rtol=1e-5)
    # at both ends of float32's range (x - x₀ = ∞) it is x - x̄ itself, and where x̄
    # overflows (four -3.4e38s sum to -∞) x - x̄ = ∞ too, as PyTorch's backward gives
    big = float(np.finfo(np.float32).max)
    x = tg.tensor([big, -big, 0.0], requires_grad=True)
    x.var().backward()
    np.testing.assert_allclose(x.grad.numpy(), [big, -big, 0.0], rtol=1e-6)
    x = tg.full((4,), -big, requires_grad=True)
    x.var(correction=0).backward()
    assert x.grad.tolist() == [math.inf] * 4


def test_float16_var_gradient_takes_x_minus_the_mean_in_float32():
    # x - x₀ in float16 rounds 65504 - 8.2 by up to 16, and the mean of such shifts put x̄
    # above 3.3 (its gradient -0.39); in float32, rounded once, 2(x - x̄)/6 as the math (and
    # PyTorch) gives it, 1.17 (x̄ = -0.214)
    values = [8.203125, 3.30078125, -13.0, 65504.0, -65504.0, 65504.0, -65504.0]
    x = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    x.var().backward()
    exact = np.array(values) - np.mean(values)
    assert x.grad.dtype is tg.float16
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), 2 * exact / 6, rtol=2e-3)


def test_var_and_std_gradients_of_a_shifted_mean_pass_gradcheck_twice():
    for op in (lambda x: x.var(dim=1), lambda x: x.std(dim=(0, 2), correction=0)):
        x = tg.randn(3, 4, 2, dtype=tg.float64, requires_grad=True) + 1e3
        x = x.detach().requires_grad_()
        assert tg.autograd.gradcheck(op, (x,)) and tg.autograd.gradgradcheck(op, (x,))


def test_all_and_any_of_a_strided_tensor_are_row_major_as_pytorchs_reductions():
    x = tg.arange(12.0).reshape(2, 3, 2).permute(2, 1, 0)
    assert x.all(1).view(4).tolist() == [False, True, True, True]
    assert x.any(1).view(4).tolist() == [True, True, True, True]


def test_var_backward_scales_by_2_over_n_minus_1_before_meeting_x_minus_the_mean():
    x = tg.tensor([-15.0, 15.0, 0.0, 0.0, 0.0], requires_grad=True)
    x.var().backward(tg.tensor(3e37))   # g·(x - mean) = 4.5e38 overflows float32; 0.5·g·15 not
    assert x.grad.tolist() == pytest.approx([-2.25e38, 2.25e38, 0.0, 0.0, 0.0], rel=1e-6)


def test_var_and_std_accept_pytorchs_older_unbiased_forms():
    x = tg.tensor(A)
    biased = A.var(axis=1, keepdims=True)
    np.testing.assert_allclose(as_numpy(tg.var(x, 1, False, True)), biased)
    np.testing.assert_allclose(as_numpy(x.var(1, unbiased=False, keepdim=True)), biased)
    np.testing.assert_allclose(as_numpy(x.var(1, keepdim=True, correction=0)), biased)
    np.testing.assert_allclose(tg.var(x, False).item(), A.var())
    np.testing.assert_allclose(tg.std(x, True).item(), A.std(ddof=1))
    np.testing.assert_allclose(x.var(correction=2).item(), A.var(ddof=2))
    np.testing.assert_allclose(x.var(correction=0.5).item(), A.var(ddof=0.5))


def test_var_and_std_refuse_unbiased_and_correction_together():
    with pytest.raises(TypeError, match="var: pass either unbiased=False or correction=1"):
        tg.var(tg.tensor(A), 0, unbiased=False, correction=1)
    with pytest.raises(TypeError, match="std: pass either unbiased"):
        tg.std(tg.tensor(A), unbiased=True, correction=0)


def test_prod_matches_numpy_and_takes_one_dim_or_all():
    x = tg.tensor(A)
    np.testing.assert_allclose(x.prod().item(), A.prod())
    np.testing.assert_allclose(as_numpy(x.prod(1)), A.prod(axis=1))
    np.testing.assert_allclose(as_numpy(x.prod(-1, keepdim=True)), A.prod(axis=-1, keepdims=True))
    with pytest.raises(TypeError, match=r"prod: dim must be a single int or None.*\(0, 1\)"):
        x.prod((0, 1))


def test_prod_gradient_at_zeros_is_the_product_of_the_others():
    x = with_zeros([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0], [1.0, 2.0, 5.0]])
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(as_numpy(x.grad), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0],
                                                     [10.0, 5.0, 2.0]])
    assert np.isfinite(as_numpy(x.grad)).all()


def test_prod_gradient_where_x_holds_a_zero_is_pytorchs_exclusive_products():
    # PyTorch: once any element is 0, every slice's gradient is Π_{k<i} xₖ · Π_{k>i} xₖ
    # (cumulative products from both ends): finite beside an infinite element, where the
    # zero-free formula y/xᵢ would give ∞/∞ = NaN, and NaN where a product meets 0 and ∞
    x = with_zeros([[-math.inf, 2.0, 3.0], [0.0, math.inf, 1.0]])
    x.prod(1).sum().backward()
    assert as_numpy(x.grad).tolist()[0] == [6.0, -math.inf, -math.inf]
    assert as_numpy(x.grad).tolist()[1][:2] == [math.inf, 0.0]
    assert np.isnan(as_numpy(x.grad)[1, 2])   # 0·∞
    # without a zero: y/xᵢ, as PyTorch (NaN at the infinite element)
    x = with_zeros([[-math.inf, 2.0, 3.0]])
    x.prod(1).sum().backward()
    assert np.isnan(as_numpy(x.grad)[0, 0])


@pytest.mark.parametrize("dtype", [tg.float32, tg.float16])
def test_prod_gradient_running_products_accumulate_wider_as_pytorchs_cumprod(dtype):
    # PyTorch's CPU cumprod keeps float32 running products in float64 (float16 in float32):
    # 1e30·1e30 leaves float32's range but is still finite when the 0 comes, so the
    # products beside the 0 are 0, not ∞·0 = NaN; the 0's own is ∞ (rounded when stored)
    big = 1e30 if dtype is tg.float32 else 300.0
    x = tg.tensor([[big, big, 0.0, 5.0]], dtype=dtype, requires_grad=True)
    x.prod(1).sum().backward()
    assert as_numpy(x.grad).tolist() == [[0.0, 0.0, math.inf, 0.0]]


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0])
def test_prod_of_a_0d_tensor_passes_the_gradient_through(value):
    x = with_zeros(value)
    grad, = tg.autograd.grad(x.prod(0), x, tg.tensor(3.0, dtype=tg.float64))
    assert grad.item() == 3.0


def test_prod_of_all_elements_with_two_zeros_has_a_zero_gradient_as_pytorchs():
    # without create_graph PyTorch returns zeros, even beside an infinite element, and
    # whatever the incoming gradient (the std of one value, NaN, passes back NaN)
    x = with_zeros([0.0, math.inf, 0.0, 2.0])
    x.prod().backward()
    assert as_numpy(x.grad).tolist() == [0.0, 0.0, 0.0, 0.0]
    for incoming in (math.nan, math.inf):
        grad, = tg.autograd.grad(x.prod(), x, tg.tensor(incoming, dtype=tg.float64))
        assert as_numpy(grad).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_prod_second_derivative_at_a_pair_of_zeros():
    # d²(x₀x₁x₂)/dx₀dx₁ = x₂ even where x₀ = x₁ = 0.
    x = with_zeros([0.0, 0.0, 3.0])
    g, = tg.autograd.grad(x.prod(), x, create_graph=True)
    first = tg.tensor([1.0, 0.0, 0.0], dtype=tg.float64)   # picks d/dx₀ out of the gradient
    h, = tg.autograd.grad(g, x, grad_outputs=first)
    np.testing.assert_array_equal(as_numpy(h), [0.0, 3.0, 0.0])


def test_cumsum_matches_numpy_along_each_dim():
    x = tg.tensor(A)
    for dim in (0, 1, 2, -1):
        np.testing.assert_allclose(as_numpy(x.cumsum(dim)), np.cumsum(A, axis=dim))


def test_cumsum_with_a_dtype_sums_its_gradient_in_the_wider_of_the_two_dtypes():
    # a float32 input summed in float16: the gradient comes back float32, its sums there
    # (-39808 twice is -79616, as PyTorch's; inf had it summed in float16)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    x.cumsum(0, dtype=tg.float16).backward(tg.tensor([-39808.0, -39808.0], dtype=tg.float16))
    assert x.grad.dtype is tg.float32 and as_numpy(x.grad).tolist() == [-79616.0, -39808.0]
    # a float16 input summed in float32: summed in float32, rounded once to float16 (-inf,
    # the exact sum -8e4 rounded; PyTorch rounds each term first and meets inf - inf = NaN)
    h = tg.tensor([1.0, 2.0], dtype=tg.float16, requires_grad=True)
    h.cumsum(0, dtype=tg.float32).backward(tg.tensor([-4e4, -4e4, ], dtype=tg.float32))
    assert h.grad.dtype is tg.float16 and as_numpy(h.grad).tolist() == [-math.inf, -40000.0]


@pytest.mark.parametrize("dtype, big", [(tg.float32, 1e8), (tg.float16, 2048.0)])
def test_cumsum_keeps_its_running_sum_wider_as_pytorchs_cpu_cumsum(dtype, big):
    # float32 sums in float64, float16 in float32, each output rounded: big + 1 rounds to big
    # when stored, but the running sum keeps the 1, so big + 1 - big is 1 (0 summing in dtype)
    x = tg.tensor([big, 1.0, -big], dtype=dtype, requires_grad=True)
    assert as_numpy(x.cumsum(0)).tolist() == [big, big, 1.0]
    x.cumsum(0).backward(tg.tensor([-big, 1.0, big], dtype=dtype))   # reversed: the same sums
    assert as_numpy(x.grad).tolist() == [1.0, big, big]
    # overflow past the dtype's range in between is no longer lasting (∞ then finite)
    y = tg.tensor([3e38, 3e38, -3e38]).cumsum(0)
    assert as_numpy(y).tolist() == [np.float32(3e38), math.inf, np.float32(3e38)]


def test_cumsum_gradient_is_the_reversed_running_sum():
    x = leaf(4)
    x.cumsum(0).backward(tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64))
    np.testing.assert_allclose(as_numpy(x.grad), [10.0, 9.0, 7.0, 4.0])


def test_softmax_and_log_softmax_match_numpy():
    x = tg.tensor(A)
    for dim in (0, 1, -1):
        e = np.exp(A - A.max(axis=dim, keepdims=True))
        expected = e / e.sum(axis=dim, keepdims=True)
        np.testing.assert_allclose(as_numpy(x.softmax(dim)), expected)
        np.testing.assert_allclose(as_numpy(x.log_softmax(dim)), np.log(expected))


# -- dtypes -------------------------------------------------------------------------------
def test_float32_stays_float32_through_every_reduction():
    x = tg.tensor(A, dtype=tg.float32)
    results = [x.sum(), x.mean(0), x.var(1), x.std(), x.prod(2), x.amax(), x.amin(0), x.max(),
               x.max(1).values, x.min(), x.logsumexp(1), x.softmax(0), x.log_softmax(2),
               x.cumsum(1)]
    assert all(r.dtype == tg.float32 for r in results)


def test_float32_results_agree_with_float64_to_float32_precision():
    x32, x64 = tg.tensor(A, dtype=tg.float32), tg.tensor(A, dtype=tg.float64)
    ops = [lambda x: x.sum(1), lambda x: x.mean((0, 2)), lambda x: x.var(1), lambda x: x.std(0),
           lambda x: x.prod(2), lambda x: x.amax(1), lambda x: x.max(-1).values,
           lambda x: x.logsumexp(2), lambda x: x.softmax(1), lambda x: x.log_softmax(0),
           lambda x: x.cumsum(2)]
    for op in ops:
        np.testing.assert_allclose(as_numpy(op(x32)), as_numpy(op(x64)).astype(np.float32),
                                   rtol=1e-5, atol=1e-6)


def test_integer_rules_follow_pytorch():
    i = tg.tensor([[1, 2, 3], [4, 5, 6]], dtype=tg.int32)
    assert i.sum().dtype == tg.int64 and i.sum().item() == 21
    assert i.prod(1).dtype == tg.int64 and i.prod(1).tolist() == [6, 120]
    assert i.cumsum(1).dtype == tg.int64 and i.cumsum(1).tolist() == [[1, 3, 6], [4, 9, 15]]
    assert tg.tensor([True, True, False]).sum().dtype == tg.int64
    assert i.amax().dtype == tg.int32 and i.max(1).values.tolist() == [3, 6]
    assert i.logsumexp(1).dtype == tg.get_default_dtype()   # promoted, as in PyTorch
    assert i.mean(dtype=tg.float64).item() == 3.5
    for op, call in [("mean", i.mean), ("var", i.var), ("softmax", lambda: i.softmax(0))]:
        with pytest.raises(RuntimeError, match=f"{op}: needs a floating point tensor, got "
                                               f"tapegrad.int32"):
            call()
    assert i.softmax(1, dtype=tg.float64).dtype == tg.float64


# -- max / min along a dim, argmax / argmin ----------------------------------------------------
def test_max_along_a_dim_returns_named_values_and_int64_indices():
    x = tg.tensor(A)
    result = x.max(1)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert indices.dtype == tg.int64 and not indices.requires_grad
    np.testing.assert_array_equal(as_numpy(values), A.max(axis=1))
    np.testing.assert_array_equal(as_numpy(indices), A.argmax(axis=1))
    kept = tg.min(x, dim=-1, keepdim=True)
    assert kept.values.shape == (2, 3, 1) and kept.indices.shape == (2, 3, 1)
    np.testing.assert_array_equal(as_numpy(kept.indices), A.argmin(axis=-1)[..., None])


def test_max_of_two_tensors_is_maximum():
    x, y = tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0])
    assert tg.max(x, y).tolist() == [3.0, 5.0] and x.min(y).tolist() == [1.0, 2.0]
    assert tg.max(x, other=y).tolist() == [3.0, 5.0]


def test_argmax_and_argmin_return_the_first_of_tied_positions_as_int64():
    x = tg.tensor([[1.0, 7.0, 7.0], [2.0, 2.0, 0.0]])
    assert x.argmax().dtype == tg.int64 and x.argmax().shape == () and x.argmax().item() == 1
    assert x.argmin().item() == 5
    assert x.argmax(1).tolist() == [1, 0] and x.argmin(0).tolist() == [0, 1, 1]
    assert x.argmax(1, keepdim=True).shape == (2, 1)
    assert x.argmax(keepdim=True).shape == (1, 1)
    assert x.max(1).indices.tolist() == [1, 0]


def test_argmax_is_not_differentiable():
    x = leaf(3, 4)
    assert not x.argmax(1).requires_grad and x.argmax(1).grad_fn is None


# -- ties -----------------------------------------------------------------------------------
def test_amax_and_full_max_split_the_gradient_evenly_over_ties():
    for reduce in (lambda x: x.amax(), lambda x: x.max(), lambda x: x.amax(0)):
        x = with_zeros([1.0, 3.0, 3.0, 2.0, 3.0, -1.0])
        reduce(x).backward()
        np.testing.assert_allclose(as_numpy(x.grad), [0, 1 / 3, 1 / 3, 0, 1 / 3, 0])
    x = with_zeros([[0.0, -1.0], [-1.0, 4.0]])
    x.amin(1).sum().backward()
    np.testing.assert_allclose(as_numpy(x.grad), [[0.0, 1.0], [1.0, 0.0]])
    x = with_zeros([[5.0, 5.0], [5.0, 1.0]])
    x.amax((0, 1)).backward()
    np.testing.assert_allclose(as_numpy(x.grad), [[1 / 3, 1 / 3], [1 / 3, 0.0]])


def test_a_nan_extreme_goes_to_the_nans_in_max_but_makes_the_whole_group_nan_in_amax():
    nan = math.nan
    x = with_zeros([[1.0, nan, 3.0], [1.0, nan, 2.0]])
    x.max().backward()     # the NaNs share the gradient
    np.testing.assert_array_equal(as_numpy(x.grad), [[0, 0.5, 0], [0, 0.5, 0]])
    x = with_zeros([[1.0, nan, 3.0], [1.0, 2.0, 2.0]])
    x.amax(1).sum().backward()   # no element equals a NaN maximum: 0/0 for its row
    np.testing.assert_array_equal(as_numpy(x.grad), [[nan, nan, nan], [0, 0.5, 0.5]])
    x = with_zeros([[1.0, nan], [4.0, 2.0]])
    x.amin(0).sum().backward()
    np.testing.assert_array_equal(as_numpy(x.grad), [[1, nan], [0, nan]])


def test_an_infinite_gradient_reaches_the_other_elements_as_nan_in_amax_not_in_max():
    # amax multiplies the gradient by its share (0·∞ = NaN), max() fills it into the maxima
    x = with_zeros([[1.0, 2.0], [3.0, -1.0]])
    x.amax(0).backward(tg.tensor([math.inf, 1.0], dtype=tg.float64))
    np.testing.assert_array_equal(as_numpy(x.grad), [[math.nan, 1.0], [math.inf, 0.0]])
    x = with_zeros([[1.0, 2.0], [3.0, -1.0]])
    x.max().backward(tg.tensor(math.inf, dtype=tg.float64))
    np.testing.assert_array_equal(as_numpy(x.grad), [[0.0, 0.0], [math.inf, 0.0]])


def test_max_along_a_dim_sends_the_gradient_only_to_the_returned_index():
    x = with_zeros([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    values, indices = x.max(1)
    assert indices.tolist() == [1, 0]
    (values * tg.tensor([10.0, 20.0], dtype=tg.float64)).sum().backward()
    np.testing.assert_array_equal(as_numpy(x.grad), [[0, 10, 0], [20, 0, 0]])
    x = with_zeros([[1.0, 0.0], [1.0, 0.0]])
    x.min(0).values.sum().backward()   # both columns tie: the first row is returned
    np.testing.assert_array_equal(as_numpy(x.grad), [[1, 1], [0, 0]])


# -- numerics -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_softmax_family_is_finite_at_logits_of_plus_minus_1e4(dtype):
    x = tg.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype, requires_grad=True)
    np.testing.assert_allclose(as_numpy(x.logsumexp(1)), [1e4, -1e4 + np.log(3)], rtol=1e-6)
    np.testing.assert_allclose(as_numpy(x.log_softmax(1)),
                               [[0, -2e4, -1e4], [-np.log(3)] * 3], rtol=1e-6)
    np.testing.assert_allclose(as_numpy(x.softmax(1)), [[1, 0, 0], [1 / 3] * 3], rtol=1e-6)
    for op in (lambda x: x.logsumexp(1), lambda x: x.log_softmax(1), lambda x: x.softmax(1)):
        x.grad = None
        (op(x) * tg.tensor(2.0, dtype=dtype)).sum().backward()
        assert np.isfinite(as_numpy(x.grad)).all()


def test_minus_infinity_entries_get_exactly_zero_gradient_and_no_nan():
    inf = float("inf")
    x = tg.tensor([[0.0, -inf, 1.0], [-inf, -inf, -inf]], requires_grad=True)
    lse = x.logsumexp(1)
    assert as_numpy(lse)[1] == -inf   # a row of -inf gives -inf, not nan
    lse.sum().backward()
    grad = as_numpy(x.grad)
    assert not np.isnan(grad[0]).any() and grad[0, 1] == 0
    # a row of -inf only: its gradient is softmax(-inf, -inf, -inf) = 0/0, NaN as in PyTorch
    assert np.isnan(grad[1]).all()

    x = tg.tensor([0.0, -inf, 1.0], requires_grad=True)
    (x.softmax(0) * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert as_numpy(x.grad)[1] == 0 and np.isfinite(as_numpy(x.grad)).all()

    # log_softmax: d(yⱼ)/d(xⱼ) = 1 - softmaxⱼ = 1 at -inf, so only an upstream gradient of 0
    # there (as from a loss that picks finite entries) gives 0; either way no nan.
    x = tg.tensor([0.0, -inf, 1.0], requires_grad=True)
    finite = tg.tensor([True, False, True])
    tg.where(finite, x.log_softmax(0), 0.0).sum().backward()
    assert as_numpy(x.grad)[1] == 0 and np.isfinite(as_numpy(x.grad)).all()
    x.grad = None
    x.log_softmax(0).backward(tg.tensor([1.0, 1.0, 1.0]))
    s = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    np.testing.assert_allclose(as_numpy(x.grad), [1 - 3 * s[0], 1.0, 1 - 3 * s[1]], rtol=1e-6)


def test_logsumexp_of_an_empty_dim_is_minus_infinity():
    assert x_empty().logsumexp(0).tolist() == [-float("inf")] * 3


def x_empty():
    return tg.tensor(np.zeros((0, 3)))


# -- logical reductions ---------------------------------------------------------------------
def test_all_any_and_count_nonzero():
    b = tg.tensor([[True, False, True], [True, True, True]])
    assert b.all().dtype == tg.bool and b.all().item() is False and b.any().item() is True
    assert b.all(1).tolist() == [False, True] and b.any(0, keepdim=True).shape == (1, 3)
    assert tg.all(b, (0, 1)).item() is False
    n = tg.tensor([[0.0, 2.0, 0.0], [1.0, 3.0, 0.0]])
    assert n.any(1).tolist() == [True, True] and n.all(0).tolist() == [False, True, False]
    assert n.count_nonzero().dtype == tg.int64 and n.count_nonzero().item() == 3
    assert n.count_nonzero(0).tolist() == [1, 2, 0]
    assert tg.tensor([1, 0], dtype=tg.uint8).all().dtype == tg.uint8   # as PyTorch


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call, op", [
    (lambda x: x.sum(3), "sum"), (lambda x: x.mean((0, -4)), "mean"),
    (lambda x: x.var(5), "var"), (lambda x: x.std(-4), "std"), (lambda x: x.prod(3), "prod"),
    (lambda x: x.amax(3), "amax"), (lambda x: x.amin((1, 3)), "amin"),
    (lambda x: x.max(3), "max"), (lambda x: x.min(-4), "min"), (lambda x: x.argmax(3), "argmax"),
    (lambda x: x.argmin(3), "argmin"), (lambda x: x.logsumexp(3), "logsumexp"),
    (lambda x: x.softmax(3), "softmax"), (lambda x: x.log_softmax(-4), "log_softmax"),
    (lambda x: x.cumsum(3), "cumsum"), (lambda x: x.all(3), "all"), (lambda x: x.any(3), "any"),
    (lambda x: x.count_nonzero(3), "count_nonzero"),
])
def test_an_out_of_range_dim_names_the_op_the_dim_and_the_shape(call, op):
    with pytest.raises(IndexError, match=rf"^{op}: dimension -?\d is out of range for a tensor "
                                         rf"of shape \(2, 3, 4\) \(expected a dim in \[-3, 2\]\)"):
        call(tg.tensor(A))


def test_a_dim_named_twice_is_an_error():
    with pytest.raises(RuntimeError, match=r"sum: dim \(0, -3\) names the same dimension twice"):
        tg.tensor(A).sum((0, -3))


def test_a_dim_that_is_not_an_int_is_a_type_error():
    with pytest.raises(TypeError, match="mean: dim must be an int or a tuple of ints, got 'a'"):
        tg.tensor(A).mean("a")
    with pytest.raises(TypeError, match=r"softmax: dim must be a single int, got \(0, 1\)"):
        tg.tensor(A).softmax((0, 1))
    with pytest.raises(TypeError, match=r"max: keepdim=True needs a dim"):
        tg.tensor(A).max(keepdim=True)


def test_max_min_and_argmax_of_nothing_are_errors():
    with pytest.raises(RuntimeError, match=r"max: the tensor of shape \(0, 3\) is empty"):
        x_empty().max()
    with pytest.raises(IndexError, match=r"amin: cannot reduce dimension 0 of size 0 .*\(0, 3\)"):
        x_empty().amin(0)
    with pytest.raises(IndexError, match=r"argmax: cannot reduce dimension 0 of size 0"):
        x_empty().argmax(0)
    assert x_empty().max(1).values.shape == (0,)   # reducing a non-empty dim is fine


def test_mean_of_more_float16_elements_than_float16_can_count_has_the_right_gradient():
    x = tg.ones(70000, dtype=tg.float16, requires_grad=True)   # 70000 > 65504, float16's max
    x.mean().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.float16(1 / 70000))   # PyTorch's 1.4305e-05


def test_sum_with_a_dtype_gives_that_dtype_and_a_bool_sum_is_any():
    b = tg.tensor([[True, False], [False, False]])
    assert tg.sum(b, dtype=tg.bool).dtype is tg.bool and tg.sum(b, dtype=tg.bool).item() is True
    assert tg.sum(b, 1, dtype=tg.bool).tolist() == [True, False]
    assert tg.sum(tg.tensor([1, 2]), dtype=tg.int32).dtype is tg.int32
    assert tg.sum(b).dtype is tg.int64


def test_max_with_both_dim_and_other_is_refused():
    with pytest.raises(TypeError, match="max: give either dim or other"):
        tg.max(tg.ones(2, 2), dim=0, other=tg.ones(()))
    assert tg.max(tg.ones(2), other=tg.zeros(())).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["var", "std"])
def test_float16_var_and_std_square_in_float32(name):
    # the squares of 300 overflow float16 (max 65504); the variance 42080 does not
    values = [300.0, -200.0, 10.0, 50.0]
    expected = getattr(np, name)(np.array(values), ddof=1)
    result = getattr(tg.tensor(values, dtype=tg.float16), name)()
    assert result.dtype is tg.float16 and result.item() == pytest.approx(expected, rel=1e-3)


def test_float16_var_gradient_keeps_its_sign_under_an_infinite_incoming_gradient():
    # shifted by x₀ = -4.223 in float16, ±65504 + 4.223 rounds to ±65504 and the shifted
    # mean is off by ~1.4: x - x̄ of -3.74 (-0.20 in the math) would change sign, and an
    # infinite incoming gradient (exp of an overflowing var) give -∞ for +∞ there, as
    # PyTorch does not (std's backward takes the same x - x̄)
    values = [-4.223, 65504.0, 65504.0, -65504.0, -65504.0, -7.594, -3.74, 0.248, -13.95,
              -1.313, -7.477, -4.395]
    exact = np.array(values, np.float16).astype(np.float64)
    deviation = exact - exact.mean()
    x = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    x.var().backward(tg.tensor(-math.inf, dtype=tg.float16))
    assert x.grad.dtype is tg.float16
    assert np.sign(x.grad.numpy()).tolist() == np.sign(-deviation).tolist()
    x = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    x.var().backward()
    slope = 2 * deviation / 11
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), slope, rtol=2e-3, atol=2e-3)


def test_float16_sum_accumulates_in_float32_and_rounds_once():
    # 4e4 + 4e4 overflows float16 on the way; PyTorch's float32 accumulator does not
    x = tg.tensor([[4e4, 1.0], [4e4, 1.0], [-4e4, 1.0]], dtype=tg.float16, requires_grad=True)
    total = x.sum(0)
    assert total.dtype == tg.float16 and total.tolist() == [4e4, 3.0]
    w = tg.ones(2, dtype=tg.float16, requires_grad=True)   # w's gradient sums x over dim 0
    (x.detach() * w).backward(tg.ones(3, 2, dtype=tg.float16))
    assert w.grad.tolist() == [4e4, 3.0]


def test_float16_log_softmax_is_computed_in_float32_and_rounded_once():
    # in float16, 1 + e^{-8.8} rounds to 1: the largest element's value was 0, not -1.5e-4
    x = tg.tensor([[23.03, 14.23, -12.88]], dtype=tg.float16)
    y = x.log_softmax(1)
    assert y.dtype is tg.float16 and y.tolist()[0][0] == pytest.approx(-1.5e-4, rel=1e-2)
    for shape in [(), (0, 3)]:   # 0-d and empty as before
        assert x.new_zeros(shape).log_softmax(-1).shape == shape


def _float16_rows():
    rng = np.random.default_rng(0)
    return ((rng.standard_normal((16, 37)) * 3).astype(np.float16),
            rng.standard_normal((16, 37)).astype(np.float16))


def test_float16_softmax_and_its_backward_are_computed_in_float32_and_rounded_once():
    # e^(x - max), Σ and the division each rounded in float16 put two thirds of the results
    # up to 3 ulp off; PyTorch's kernels (forward and backward) round once
    x, g = _float16_rows()
    wide = x.astype(np.float64)
    e = np.exp(wide - wide.max(1, keepdims=True))
    y_wide = e / e.sum(1, keepdims=True)
    y16 = y_wide.astype(np.float16)
    y = y16.astype(np.float64)
    expected_grad = (y * (g - (g * y).sum(1, keepdims=True))).astype(np.float16)
    for create_graph in (False, True):
        xt = tg.tensor(x, requires_grad=True)
        out = xt.softmax(1)
        grad, = tg.autograd.grad(out, xt, tg.tensor(g), create_graph=create_graph)
        assert out.dtype is tg.float16 and grad.dtype is tg.float16
        np.testing.assert_array_equal(out.detach().numpy(), y16)
        np.testing.assert_array_equal(grad.detach().numpy(), expected_grad)
    for shape in [(), (0, 3)]:   # 0-d and empty stay float16
        assert tg.zeros(shape, dtype=tg.float16).softmax(-1).dtype is tg.float16


def test_float16_log_softmax_backward_is_computed_in_float32_and_rounded_once():
    # g - e^y·Σg in float16 steps put a tenth of the results an ulp off
    x, g = _float16_rows()
    y = tg.tensor(x).log_softmax(1)
    wide = y.numpy().astype(np.float64)
    expected = (g - np.exp(wide) * g.astype(np.float64).sum(1, keepdims=True)).astype(np.float16)
    z = R.log_softmax_backward(tg.tensor(g), y, (1,))
    assert z.dtype is tg.float16
    np.testing.assert_array_equal(z.numpy(), expected)


def test_softmax_plain_backward_on_the_arrays_matches_the_recorded_one():
    # A plain backward computes yᵢ(gᵢ - Σₖ gₖyₖ) on the arrays; with create_graph the same
    # formula is recorded. Both give one gradient, in float32 too (no up-cast).
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8)), dtype=dtype,
                      requires_grad=True)
        g = tg.tensor(np.random.default_rng(1).standard_normal((2, 3, 8)), dtype=dtype)
        plain, = tg.autograd.grad(x.softmax(-1), x, g)
        recorded, = tg.autograd.grad(x.softmax(-1), x, g, create_graph=True)
        assert plain.dtype is dtype and plain.grad_fn is None
        np.testing.assert_allclose(as_numpy(plain), as_numpy(recorded.detach()),
                                   rtol=1e-5 if dtype is tg.float32 else 1e-12)


def test_mean_into_float16_is_taken_in_float32_and_rounded_once():
    # as PyTorch: mean(x, dtype=float16) averages x in float32 and rounds the result, so
    # terms beyond float16's range that cancel leave a finite mean (sum casts first: nan)
    x = tg.tensor([[70000.0, 1e30], [-70000.0, float("-inf")], [1.0, 1.0]]).t()
    mean = x.mean(dim=1, dtype=tg.float16)
    assert mean.dtype == tg.float16
    np.testing.assert_array_equal(mean.numpy(), np.array([1 / 3, float("-inf")], np.float16))
    assert np.isnan(tg.sum(x[0], dtype=tg.float16).item())
    wide = tg.tensor([70000.0, -70000.0, 1.0], dtype=tg.float64, requires_grad=True)
    narrow = tg.mean(wide, dtype=tg.float16)
    assert narrow.item() == np.float16(1 / 3)
    narrow.backward()
    np.testing.assert_allclose(wide.grad.numpy(), [1 / 3] * 3, rtol=1e-3)
