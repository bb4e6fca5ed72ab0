"""Norms (tapegrad/autograd/ops/norms.py): tapegrad.linalg.vector_norm, matrix_norm and norm,
and the older tapegrad.norm / x.norm. Gradients against finite differences away from the
kinks (a zero entry for p ≤ 1, ties for ∞), values against numpy and PyTorch, and the
gradient at the zero vector: 0, as in PyTorch.
"""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.norms import linalg_vector_norm

from ..support import Case, leaf, noncontiguous

LA = tg.linalg

CASES = [
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x), [leaf()]),
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x), [leaf(5)]),
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x, dim=1), [leaf(3, 4)]),
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x, dim=0, keepdim=True),
         [noncontiguous(3, 4)], name="noncontiguous_keepdim"),
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x, ord=1, dim=(0, 2)),
         [leaf(2, 3, 4, low=0.2, high=2.0)], name="p1"),
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x, ord=3), [leaf(3, 4)], name="p3"),
    Case("linalg_vector_norm", lambda x: LA.vector_norm(x, ord=0.5, dim=-1),
         [leaf(3, 4, low=0.3, high=2.0)], name="p0.5"),
    Case("linalg_vector_norm", lambda x: x.norm(), [leaf(3, 4)], name="method"),
    Case("linalg_vector_norm", lambda x: tg.norm(x, p=1, dim=1), [leaf(3, 4, low=0.2)],
         name="tg.norm"),
    Case("linalg_vector_norm", lambda x: LA.matrix_norm(x), [leaf(2, 3, 4)], name="frobenius"),
    Case("linalg_vector_norm", lambda x: linalg_vector_norm(x, 2, (0,), False) * x.sum(),
         [leaf(3, 2)], name="product"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def distinct_magnitudes(*shape):
    """A float64 leaf whose |values| differ (no ties for max/min) and stay away from 0."""
    n = int(np.prod(shape))
    magnitudes = np.linspace(0.5, 2.0, n)
    signs = np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
    order = np.random.default_rng(0).permutation(n)
    return tg.tensor((magnitudes * signs)[order].reshape(shape), dtype=tg.float64,
                     requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x: LA.vector_norm(x, ord=math.inf), lambda x: LA.vector_norm(x, ord=-math.inf, dim=1),
    lambda x: LA.matrix_norm(x, ord=1), lambda x: LA.matrix_norm(x, ord=-1),
    lambda x: LA.matrix_norm(x, ord=math.inf), lambda x: LA.matrix_norm(x, ord=-math.inf),
    lambda x: LA.norm(x, ord=math.inf, dim=(1, 0)),
], ids=["inf", "-inf_dim", "1", "-1", "inf_matrix", "-inf_matrix", "inf_dims_swapped"])
def test_gradcheck_of_the_max_and_min_norms_away_from_ties(fn):
    from tapegrad.autograd.gradcheck import gradcheck
    assert gradcheck(fn, [distinct_magnitudes(3, 4)])


A = np.array([[3.0, -4.0, 0.5], [0.0, 1.0, -2.0]])


@pytest.mark.parametrize("ord, dim", [(2, None), (1, None), (3, 1), (math.inf, 0), (-math.inf, 1),
                                      (0, None), (0.5, 1)])
def test_vector_norm_matches_numpy(ord, dim):
    expected = np.linalg.norm(A.reshape(-1) if dim is None else A, ord=ord, axis=dim)
    np.testing.assert_allclose(LA.vector_norm(tg.tensor(A), ord=ord, dim=dim).numpy(), expected,
                               rtol=1e-6)


@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
def test_matrix_norm_matches_numpy(ord):
    batch = np.stack([A, -2 * A])
    expected = [np.linalg.norm(m, ord=ord) for m in batch]
    np.testing.assert_allclose(LA.matrix_norm(tg.tensor(batch), ord=ord).numpy(), expected,
                               rtol=1e-6)
    kept = LA.matrix_norm(tg.tensor(batch), ord=ord, keepdim=True)
    assert kept.shape == (2, 1, 1)


def test_linalg_norm_picks_vector_or_matrix_from_ord_and_dim():
    x = tg.tensor(A)
    assert LA.norm(x).item() == pytest.approx(np.linalg.norm(A))
    assert LA.norm(x, ord=1).item() == pytest.approx(np.linalg.norm(A, 1))   # a matrix norm
    assert LA.norm(x, ord=1, dim=1).tolist() == pytest.approx(np.abs(A).sum(1).tolist())
    assert LA.norm(x[0], ord=math.inf).item() == 4.0
    with pytest.raises(RuntimeError, match="1-d or 2-d"):
        LA.norm(tg.ones(2, 2, 2), ord=1)
    with pytest.raises(TypeError, match="vector_norm: ord must be a number, got NoneType"):
        LA.vector_norm(x, None)


def test_the_older_norm_takes_p_and_dim():
    x = tg.tensor(A)
    assert x.norm().item() == pytest.approx(np.linalg.norm(A))
    assert tg.norm(x, p="fro").item() == pytest.approx(np.linalg.norm(A))
    assert tg.norm(x, p=1).item() == pytest.approx(np.abs(A).sum())   # of all elements
    np.testing.assert_allclose(x.norm(dim=1, keepdim=True).numpy(),
                               np.linalg.norm(A, axis=1, keepdims=True), rtol=1e-6)


def test_the_gradient_at_the_zero_vector_is_zero_as_in_pytorch():
    for p in (2, 3, 1.5):
        x = tg.zeros(3, dtype=tg.float64, requires_grad=True)
        LA.vector_norm(x, ord=p).backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("p", [1.5, 3, 4.5])
def test_the_zero_vectors_gradient_is_zero_even_for_a_nan_or_infinite_g_as_pytorch(p):
    # for p > 1 other than 2, PyTorch's 0 there replaces g/‖x‖ᵖ⁻¹, not only the slope
    for g in (float("nan"), float("inf"), -float("inf")):
        x = tg.zeros(3, dtype=tg.float64, requires_grad=True)
        LA.vector_norm(x, ord=p).backward(tg.tensor(g, dtype=tg.float64))
        assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("p", [0.5, 1, 2])
def test_the_zero_vectors_gradient_for_p_of_2_or_at_most_1_is_nan_for_a_nan_g_as_pytorch(p):
    # g·0 there: PyTorch multiplies g by the slope (2, p ≤ 1) instead of replacing it
    x = tg.zeros(3, dtype=tg.float64, requires_grad=True)
    LA.vector_norm(x, ord=p).backward(tg.tensor(float("nan"), dtype=tg.float64))
    assert all(math.isnan(v) for v in x.grad.tolist())


def test_integer_input_is_refused_and_misuse_is_named():
    with pytest.raises(RuntimeError, match="floating-point"):
        LA.vector_norm(tg.tensor([3, 4]))
    with pytest.raises(RuntimeError, match=r"vector_norm: expected a floating-point tensor, got "
                       r"tapegrad.bool"):   # dtype= widens floats; it does not convert integers
        LA.vector_norm(tg.tensor([True, False]), ord=3, dtype=tg.float64)
    assert LA.vector_norm(tg.tensor([3.0, 4.0]), dtype=tg.float64).dtype is tg.float64
    with pytest.raises(RuntimeError, match="matrix_norm"):
        LA.vector_norm(tg.ones(3), ord="fro")
    with pytest.raises(RuntimeError, match="2 or more"):
        LA.matrix_norm(tg.ones(3))
    with pytest.raises(RuntimeError, match="nuc"):
        LA.matrix_norm(tg.ones(2, 2), ord="nuc")


@pytest.mark.parametrize("call", [
    "lib.linalg.vector_norm(x)", "lib.linalg.vector_norm(x, ord=3, dim=1)",
    "lib.linalg.vector_norm(x, ord=float('inf'))", "lib.linalg.matrix_norm(x)",
    "lib.linalg.matrix_norm(x, ord=1)", "lib.linalg.norm(x, ord=-float('inf'))",
    "x.norm()", "x.norm(p=1, dim=0)", "lib.norm(x, dim=1, keepdim=True)"])
def test_values_and_gradients_match_pytorch(call):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        x = lib.tensor(A + 0.1, dtype=lib.float64, requires_grad=True)
        y = eval(call)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_a_norm_whose_squares_overflow_the_dtype_is_still_computed():
    # 9050² overflows float16 (PyTorch accumulates float16 in float32)
    assert tg.tensor(9050.0, dtype=tg.float16).norm(dim=0).item() == 9048.0
    np.testing.assert_allclose(tg.linalg.vector_norm(tg.tensor([3e30, 4e30])).item(), 5e30,
                               rtol=1e-6)
    np.testing.assert_allclose(tg.linalg.vector_norm(tg.tensor([300.0, 300.0], dtype=tg.float16),
                                                     3).item(), 378.0, rtol=1e-3)
    assert tg.linalg.vector_norm(tg.tensor([3.0, math.inf])).item() == math.inf


@pytest.mark.parametrize("p", [2, 3, 0.5])
def test_a_float16_norm_is_computed_in_float32_and_rounded_once(p):
    # |x|ᵖ, its sum and the root each rounded in float16 put norms up to 1.6 ulp off; PyTorch
    # accumulates float16 in float32 and rounds the norm once: the nearest float16
    x = (np.random.default_rng(0).standard_normal((16, 37)) * 3).astype(np.float16)
    expected = (np.abs(x.astype(np.float64)) ** p).sum(1) ** (1 / p)
    y = tg.tensor(x).norm(p=p, dim=1)
    assert y.dtype is tg.float16
    np.testing.assert_array_equal(y.numpy(), expected.astype(np.float16))


def test_a_float16_two_norms_gradient_is_x_over_the_norm_times_g_in_float16_as_pytorch():
    # PyTorch's backward for p = 2 runs in float16 steps, (x / ‖x‖)·g, from its rounded norm
    x = (np.random.default_rng(1).standard_normal((16, 37)) * 3).astype(np.float16)
    g = np.random.default_rng(2).standard_normal(16).astype(np.float16)
    xt = tg.tensor(x, requires_grad=True)
    y = xt.norm(dim=1)
    y.backward(tg.tensor(g))
    expected = x / y.detach().numpy()[:, None] * g[:, None]
    assert xt.grad.dtype is tg.float16
    np.testing.assert_array_equal(xt.grad.numpy(), expected)


def test_a_dtype_that_is_not_floating_is_refused():
    with pytest.raises(RuntimeError, match="vector_norm: dtype should be a floating-point dtype"):
        LA.vector_norm(tg.ones(3), dtype=tg.bool)


def test_a_dtype_narrower_than_the_input_is_refused():
    with pytest.raises(RuntimeError, match="float64 should be convertible without narrowing to "
                                           "dtype=float32"):
        LA.vector_norm(tg.ones(3, dtype=tg.float64), dtype=tg.float32)


def test_frobenius_norm_over_three_dims_is_refused():
    with pytest.raises(RuntimeError, match=r"norm: p='fro' takes a dim of one or two dims"):
        tg.norm(tg.ones(2, 2, 2), p="fro", dim=(0, 1, 2))
    assert tg.norm(tg.ones(2, 2, 2), p=2, dim=(0, 1, 2)).item() == pytest.approx(8 ** 0.5)


@pytest.mark.parametrize("p", [2, 3])
def test_a_norm_whose_powers_underflow_is_rescaled(p):
    # float32 values near 1e-30: |x|ᵖ underflows to 0, the norm and its slope do not
    x = tg.tensor([1e-30, 2e-30], requires_grad=True)
    y = tg.linalg.vector_norm(x, p)
    expected = (1.0 + 2.0 ** p) ** (1 / p)
    assert y.item() == pytest.approx(expected * 1e-30, rel=1e-6)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.array([1.0, 2.0]) ** (p - 1) /
                               expected ** (p - 1), rtol=1e-6)


def test_the_zero_norm_is_a_recorded_count_that_passes_no_gradient():
    # as PyTorch: ‖x‖₀ (the number of nonzeros) requires grad, but no input gets a gradient
    # through it, so a sum with it backpropagates and x's gradient is the other term's
    x = tg.tensor([[1.0, 0.0, -2.0]], dtype=tg.float64, requires_grad=True)
    for count in (LA.vector_norm(x, 0), x.norm(0, dim=1), tg.norm(x, 0)):
        assert count.requires_grad and count.sum().item() == 2.0
        count.sum().backward()
        assert x.grad is None
    (x.norm(0) + (3 * x).sum()).backward()
    assert x.grad.tolist() == [[3.0, 3.0, 3.0]]


@pytest.mark.parametrize("p", [3, 1.5, 0.5, 2])
def test_the_norm_of_one_element_slices_is_its_magnitude_exactly(p):
    # as PyTorch's: (|x|ᵖ)^{1/p} rounds (the 3-norm of 0.54298 is 0.5429801 that way), so
    # normalize along a dim of size 1 could give 1.0000001, which a probability check refuses
    values = np.float32([[0.54298, -0.60289, 0.71358, 2.5]])
    for dtype in (tg.float32, tg.float16, tg.float64):
        x = tg.tensor(values, dtype=dtype)
        assert LA.vector_norm(x, p, dim=0).tolist() == np.abs(x.numpy()[0]).tolist()
        assert LA.vector_norm(x, p, dim=(0,), keepdim=True).tolist() == np.abs(x.numpy()).tolist()
        assert tg.nn.functional.normalize(x, p=p, dim=0).tolist() == [[1.0, -1.0, 1.0, 1.0]]
    assert LA.vector_norm(tg.tensor(-0.54298), p).item() == np.float32(0.54298)
