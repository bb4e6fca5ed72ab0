"""Lengths, angles and distances (tapegrad/nn/functional/distance.py,
tapegrad/nn/modules/distance.py): normalize, cosine_similarity, pairwise_distance.

Each is checked against plain numbers, its gradient and second derivative against finite
differences (float64, broadcast and non-contiguous inputs), where its ε goes (the gradient
at a zero vector follows PyTorch), its errors, and, where PyTorch is installed, against it.
"""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(0)


def leaf(*shape):
    return tg.tensor(rng.standard_normal(shape), dtype=tg.float64, requires_grad=True)


def noncontiguous(*shape):
    """A leaf whose memory is not in row-major order (column-major)."""
    strided = np.asfortranarray(rng.standard_normal(shape))
    assert not strided.flags.c_contiguous
    return tg.from_numpy(strided).requires_grad_()


# -- values ------------------------------------------------------------------------------------
def test_normalize_scales_each_slice_to_length_one():
    x = tg.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=tg.float64)
    assert F.normalize(x).tolist() == [[0.6, 0.8], [0.0, 0.0]]   # a zero row stays 0 (ε)
    assert F.normalize(x, p=1, dim=0).tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert F.normalize(tg.tensor([3.0, 4.0], dtype=tg.float64), dim=0).tolist() == [0.6, 0.8]
    np.testing.assert_allclose(F.normalize(x, dim=None).numpy(), [[0.6, 0.8], [0.0, 0.0]])
    out = tg.empty(2, 2, dtype=tg.float64)
    assert F.normalize(x, out=out) is out and out.tolist() == [[0.6, 0.8], [0.0, 0.0]]


def test_cosine_similarity_is_the_cosine_of_the_angle():
    a = tg.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = tg.tensor([[0.0, 3.0], [-1.0, -1.0], [1.0, 0.0]])
    np.testing.assert_allclose(F.cosine_similarity(a, b).numpy(), [0.0, -1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(F.cosine_similarity(a, tg.tensor([1.0, 0.0]), dim=-1).numpy(),
                               [1.0, math.sqrt(0.5), 1.0], rtol=1e-6)   # broadcast
    # each norm is raised to ε on its own: a zero vector gives 0, not NaN
    assert F.cosine_similarity(tg.zeros(1, 2), tg.ones(1, 2)).tolist() == [0.0]
    small = tg.tensor([[1e-5, 0.0]], dtype=tg.float64)
    assert F.cosine_similarity(small, small).item() == pytest.approx(1.0)
    assert F.cosine_similarity(small, small, eps=1e-3).item() == pytest.approx(1e-4)


def test_pairwise_distance_adds_eps_to_the_difference():
    a, b = tg.tensor([[1.0, 2.0]], dtype=tg.float64), tg.tensor([[1.0, 2.0]], dtype=tg.float64)
    assert F.pairwise_distance(a, b).item() == pytest.approx(math.sqrt(2) * 1e-6)
    assert F.pairwise_distance(a, b, p=1).item() == pytest.approx(2e-6)
    assert F.pairwise_distance(a, b, eps=0.0).item() == 0.0
    c = tg.tensor([[4.0, 6.0], [1.0, 2.0]], dtype=tg.float64)
    np.testing.assert_allclose(F.pairwise_distance(c, b, eps=0.0).numpy(), [5.0, 0.0])
    assert F.pairwise_distance(c, b, keepdim=True).shape == (2, 1)
    assert F.pairwise_distance(c, b, p=math.inf, eps=0.0).tolist() == [4.0, 0.0]
    assert F.pairwise_distance(tg.tensor(3.0), tg.tensor(1.0), eps=0.0).item() == 2.0
    assert F.pairwise_distance(tg.tensor([1, 2]), tg.tensor([1, 2])).dtype == tg.float32


def test_dtypes_follow_pytorch():
    assert F.normalize(tg.ones(2, 2, dtype=tg.float16)).dtype == tg.float16
    half, double = tg.ones(2, 3, dtype=tg.float16), tg.ones(3, dtype=tg.float64)
    assert F.cosine_similarity(half, double).dtype == tg.float64
    assert F.cosine_similarity(tg.ones(2, 3, dtype=tg.int64), half).dtype == tg.float16
    # a 0-d x2 counts as a dimensioned tensor once broadcast, as PyTorch's
    assert F.cosine_similarity(tg.ones(2), tg.tensor(2.0, dtype=tg.float64), dim=0).dtype \
        == tg.float64


# -- gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: (leaf(3, 4),), lambda: (noncontiguous(3, 4),),
                                  lambda: (leaf(2, 3, 4),)], ids=["plain", "noncontiguous", "3d"])
@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_gradcheck_normalize(make, p, dim):
    inputs = make()
    assert gradcheck(lambda x: F.normalize(x, p, dim), inputs)
    assert gradgradcheck(lambda x: F.normalize(x, p, dim), inputs)


@pytest.mark.parametrize("p, slope", [(3, -math.inf), (2, math.nan), (1, math.nan)])
def test_normalize_of_a_zero_slice_whose_eps_rounds_to_zero_has_pytorchs_gradient(p, slope):
    # 1e-12 is 0 in float16: y = 0/0 is NaN; the norm passes nothing back for p = 3 (its 0
    # at the zero vector replaces even a NaN g, as PyTorch's), leaving g/0 = -inf for g = -1
    x = tg.tensor([[-0.0], [0.0], [2.0]], dtype=tg.float16, requires_grad=True)
    y = F.normalize(x, p=p, dim=1)
    y.backward(-tg.ones_like(y))
    assert math.isnan(y[0].item()) and y[2].item() == 1.0
    first, second, last = x.grad.flatten().tolist()
    assert last == 0.0
    if math.isnan(slope):
        assert math.isnan(first) and math.isnan(second)
    else:
        assert first == second == slope


@pytest.mark.parametrize("shapes,dim", [(((3, 4), (3, 4)), 1), (((3, 4), (4,)), -1),
                                        (((2, 1, 4), (3, 4)), 2), (((3, 4), (3, 1)), 0)])
def test_gradcheck_cosine_similarity_with_broadcast(shapes, dim):
    inputs = tuple(leaf(*shape) for shape in shapes)
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b, dim), inputs)
    assert gradgradcheck(lambda a, b: F.cosine_similarity(a, b, dim), inputs)


def test_gradcheck_cosine_similarity_of_noncontiguous_inputs():
    inputs = (noncontiguous(3, 4), noncontiguous(3, 4))
    assert gradcheck(F.cosine_similarity, inputs)
    assert gradgradcheck(F.cosine_similarity, inputs)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 4))])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_gradcheck_pairwise_distance_with_broadcast(shapes, p):
    inputs = tuple(leaf(*shape) for shape in shapes)
    assert gradcheck(lambda a, b: F.pairwise_distance(a, b, p), inputs)
    assert gradgradcheck(lambda a, b: F.pairwise_distance(a, b, p), inputs)


def test_gradcheck_pairwise_distance_of_noncontiguous_inputs():
    inputs = (noncontiguous(3, 4), leaf(3, 4))
    assert gradcheck(lambda a, b: F.pairwise_distance(a, b, keepdim=True), inputs)


def test_the_gradient_at_a_zero_vector_follows_where_eps_goes():
    # normalize: x / max(‖x‖, ε), with ε a constant where taken: slope 1/ε
    x = tg.zeros(1, 2, dtype=tg.float64, requires_grad=True)
    F.normalize(x).sum().backward()
    assert x.grad.tolist() == [[1e12, 1e12]]
    # cosine_similarity: x₂/(max(‖x₁‖, ε)‖x₂‖), the norm's own slope being 0 at 0
    x = tg.zeros(1, 2, dtype=tg.float64, requires_grad=True)
    F.cosine_similarity(x, tg.ones(1, 2, dtype=tg.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[math.sqrt(0.5) / 1e-8] * 2])
    # pairwise_distance: ‖x₁ - x₂ + ε‖, finite where x₁ = x₂
    x = tg.tensor([[1.0, 2.0]], dtype=tg.float64, requires_grad=True)
    F.pairwise_distance(x, tg.tensor([[1.0, 2.0]], dtype=tg.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[math.sqrt(0.5)] * 2])


def test_cosine_similarity_below_eps_keeps_the_norms_own_gradient_as_pytorch():
    # ‖x₁‖ = 2.3e-4 < ε = 1e-3: the value divides by ε, the gradient still has the norm's
    # term -(x₁·x₂)·x₁/(ε²‖x₁‖‖x₂‖) (PyTorch: [258.84, 355.19, -860.68], where the slope of
    # the value alone is x₂/(ε‖x₂‖) = [218.2, 436.4, -872.9])
    x1 = np.array([[1e-4, -2e-4, 3e-5]])
    x2 = np.array([[0.5, 1.0, -2.0]])
    x = tg.tensor(x1, requires_grad=True)
    F.cosine_similarity(x, tg.tensor(x2), eps=1e-3).sum().backward()
    n1, n2 = np.linalg.norm(x1), np.linalg.norm(x2)
    expected = x2 / (1e-3 * n2) - (x1 * x2).sum() * x1 / (1e-3 ** 2 * n1 * n2)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), [[258.8417, 355.1881, -860.6844]], rtol=1e-6)


# -- modules -----------------------------------------------------------------------------------
def test_modules_call_their_functions_and_have_no_parameters():
    a, b = leaf(3, 4), leaf(3, 4)
    cos, dist = nn.CosineSimilarity(dim=0, eps=1e-6), nn.PairwiseDistance(p=1.0, keepdim=True)
    np.testing.assert_array_equal(cos(a, b).detach().numpy(),
                                  F.cosine_similarity(a, b, 0, 1e-6).detach().numpy())
    np.testing.assert_array_equal(dist(a, b).detach().numpy(),
                                  F.pairwise_distance(a, b, 1.0, keepdim=True).detach().numpy())
    assert list(cos.parameters()) == [] and list(dist.parameters()) == []
    assert (dist.norm, dist.eps, dist.keepdim) == (1.0, 1e-6, True)
    assert repr(cos) == "CosineSimilarity()" and repr(dist) == "PairwiseDistance()"


# -- errors ------------------------------------------------------------------------------------
def test_misuse_is_refused_by_name():
    with pytest.raises(TypeError, match="normalize: expected a floating-point input, got dtype "
                                        "int64"):
        F.normalize(tg.tensor([1, 2]), dim=0)
    with pytest.raises(IndexError, match=r"normalize: dimension 1 is out of range for a tensor "
                                         r"of shape \(3,\)"):
        F.normalize(tg.ones(3))
    with pytest.raises(TypeError, match="cosine_similarity: expected floating-point inputs, "
                                        "got dtypes int64 and int64"):
        F.cosine_similarity(tg.tensor([[1]]), tg.tensor([[1]]))
    with pytest.raises(RuntimeError, match=r"cosine_similarity: the shapes of x1 \(2, 3\) and "
                                           r"x2 \(4, 3\) cannot be broadcast together"):
        F.cosine_similarity(tg.ones(2, 3), tg.ones(4, 3))
    with pytest.raises(IndexError, match=r"cosine_similarity: dimension 1 is out of range for "
                                         r"a tensor of shape \(3,\)"):
        F.cosine_similarity(tg.ones(3), tg.ones(3))
    with pytest.raises(TypeError, match="pairwise_distance: p must be a number, got None"):
        F.pairwise_distance(tg.ones(3, 2), tg.ones(3, 2), p=None)
    with pytest.raises(TypeError, match="pairwise_distance: x2 must be a Tensor, got list"):
        F.pairwise_distance(tg.ones(3), [1.0, 2.0, 3.0])


# -- PyTorch, where it is installed ------------------------------------------------------------
CALLS = {
    "normalize": lambda F, a, b: F.normalize(a, p=3.0, dim=0),
    "normalize_dim_none": lambda F, a, b: F.normalize(a, dim=None),
    "cosine_similarity": lambda F, a, b: F.cosine_similarity(a, b, dim=-1),
    "cosine_similarity_eps": lambda F, a, b: F.cosine_similarity(a * 1e-9, b, eps=1e-8),
    "pairwise_distance": lambda F, a, b: F.pairwise_distance(a, b),
    "pairwise_distance_p1": lambda F, a, b: F.pairwise_distance(a, b, p=1.0, keepdim=True),
}


@pytest.mark.parametrize("name", CALLS)
def test_values_and_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    x[1] = 0.0   # a zero vector: where ε decides
    ours = [tg.tensor(v, requires_grad=True) for v in (x, y)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, y)]
    out, expected = CALLS[name](F, *ours), CALLS[name](torch.nn.functional, *theirs)
    g = rng.standard_normal(tuple(expected.shape))
    (out * tg.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10)
    for a, b in zip(ours, theirs):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_float16_norms_are_accumulated_in_float32_and_rounded_once():
    # as PyTorch's: ‖(-0.1301, …)‖ is 0.22534, where rounding on the way gives 0.22546
    values = np.float16([[-0.1301] * 3, [0.292] * 3, [-1.549] * 3])
    length = np.float16(np.sqrt((values.astype(np.float32) ** 2).sum(1, keepdims=True)))
    assert length[0, 0] == np.float16(0.225341796875)
    x = tg.tensor(values)
    np.testing.assert_array_equal(F.normalize(x).numpy(), values / length)
    wide = tg.full((3, 3), 1.789, dtype=tg.float64)
    expected = (values / length).astype(np.float64) * (1.789 / (1.789 * math.sqrt(3)))
    np.testing.assert_allclose(F.cosine_similarity(wide, x).numpy(), expected.sum(1),
                               rtol=1e-12)
    assert F.pairwise_distance(x, tg.zeros(3, 3, dtype=tg.float16), eps=0.0).numpy().tolist() \
        == length[:, 0].tolist()


def test_float16_norm_gradients_step_in_float16_on_the_rounded_norm_as_vector_norms():
    # as PyTorch's: the slope x/‖x‖ divides by the norm rounded to float16, in float16
    # (0.3682 for 0.35; in float32 with the unrounded norm it would round to 0.3684)
    x = np.float16([0.35, 0.82, 0.33])
    length = np.float16(np.sqrt((x.astype(np.float32) ** 2).sum()))
    assert (x / length)[0] != np.float16(x[0].astype(np.float32) / np.sqrt(
        (x.astype(np.float32) ** 2).sum()))
    a = tg.tensor(x, requires_grad=True)
    F.pairwise_distance(a, tg.zeros(3, dtype=tg.float16), eps=0.0).backward()
    np.testing.assert_array_equal(a.grad.numpy(), x / length)
    # normalize and cosine_similarity take the same norm as vector_norm, so the same steps
    weights = tg.tensor(np.float16([0.7, -1.3, 2.1]))
    composed = tg.tensor(x, requires_grad=True)
    (composed / tg.linalg.vector_norm(composed, keepdim=True) * weights).sum().backward()
    b = tg.tensor(x, requires_grad=True)
    (F.normalize(b, dim=0) * weights).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), composed.grad.numpy())
    c = tg.tensor(x, requires_grad=True)
    F.cosine_similarity(c, weights, dim=0).backward()
    composed.grad = None
    (composed / tg.linalg.vector_norm(composed) * (weights / tg.linalg.vector_norm(weights)))\
        .sum().backward()
    np.testing.assert_array_equal(c.grad.numpy(), composed.grad.numpy())


def test_cosine_similarity_of_a_float16_vector_whose_norm_overflows_is_0_as_pytorchs():
    # ‖(34464, …)‖ = 68928 is ∞ in float16: x/∞ = 0 and the cosine 0, as PyTorch's (not
    # ∞ - ∞ = NaN from raising the norm to ε)
    x1 = tg.full((2, 4), 34464.0, dtype=tg.float16, requires_grad=True)
    x2 = tg.tensor([[-8088.0, -8544.0, -7348.0, 5820.0], [1.0, 2.0, 3.0, 4.0]],
                   dtype=tg.float16, requires_grad=True)
    cosine = F.cosine_similarity(x1, x2, eps=0.001)
    assert cosine.tolist() == [0.0, 0.0]
    cosine.sum().backward()
    assert x1.grad.tolist() == x2.grad.tolist() == [[0.0] * 4] * 2   # PyTorch's too


def test_an_input_constant_along_dim_has_no_gradient_but_its_float16_rounding_residue():
    # cos θ does not change with the scale of x₂; where x₂ is one value c along dim (0-d or
    # size 1, broadcast), Σⱼ ∂cos/∂x₂ⱼ = (x₂·∇cos)/c = 0: terms of |g·cos/c| cancel exactly
    x1 = np.float16([[1.675, -0.00496, -0.10126]])
    c = np.float16(0.00482)
    exact = tg.tensor(np.float64(c), requires_grad=True)
    (F.cosine_similarity(tg.tensor(x1.astype(np.float64)), exact, eps=0.001) * 1.709).sum()\
        .backward()
    assert abs(exact.grad.item()) < 1e-10
    # in float16 the terms, |1.709·0.54/0.00482| ≈ 191, round apart by units of 0.125
    half = tg.tensor(c, requires_grad=True)
    (F.cosine_similarity(tg.tensor(x1), half, eps=0.001) * 1.709).sum().backward()
    assert half.grad.dtype == tg.float16
    assert half.grad.item() == 3 * 0.125   # PyTorch's residue here too


def test_p_0_distances_and_normalizations_are_recorded_with_no_gradient_through_the_count():
    # as PyTorch: the result requires grad and backward runs; the count ‖x‖₀ passes nothing
    x1 = tg.tensor([[1.0, 0.0, 2.0]], dtype=tg.float64, requires_grad=True)
    x2 = tg.tensor([[1.0, 1.0, 2.0]], dtype=tg.float64, requires_grad=True)
    d = F.pairwise_distance(x1, x2, p=0)
    assert d.requires_grad and d.tolist() == [3.0]
    d.sum().backward()
    assert x1.grad is None and x2.grad is None
    y = F.normalize(x1, p=0)
    assert y.tolist() == [[0.5, 0.0, 1.0]]
    y.sum().backward()
    assert x1.grad.tolist() == [[0.5, 0.5, 0.5]]   # 1/‖x‖₀ from the division alone


def test_pairwise_distance_errors_name_pairwise_distance_and_both_inputs():
    with pytest.raises(RuntimeError, match=r"pairwise_distance: the shapes of x1 \(2, 3\) and "
                                           r"x2 \(4, 3\) cannot be broadcast"):
        F.pairwise_distance(tg.ones(2, 3), tg.ones(4, 3))
    with pytest.raises(RuntimeError, match="pairwise_distance: bool inputs .* bool and float32"):
        F.pairwise_distance(tg.ones(2, 3, dtype=tg.bool), tg.ones(2, 3))
