"""matmul and its special cases (mm, bmm, mv, dot), outer and einsum: PyTorch's semantics,
gradients checked against finite differences, values against numpy, dtypes and errors."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.autograd.ops.linalg as L
from tests.support import Case, constant, leaf, noncontiguous
from tapegrad.autograd import gradcheck, gradgradcheck


def arr(t):
    return t.detach().numpy()


def transposed(t):
    """t with its last two axes swapped, as a recorded view (what ``t.mT`` gives)."""
    return t.mT


# -- gradcheck ---------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3,), (3,)),                 # 1·1: dot product, 0-d result
    ((2, 3), (3,)),               # 2·1: matrix times vector
    ((3,), (3, 2)),               # 1·2: vector times matrix
    ((2, 3), (3, 4)),             # 2·2
    ((2, 3, 4), (4, 2)),          # 3·2: a stack of rows times one matrix
    ((3, 4), (2, 4, 2)),          # 2·3: one matrix times a batch
    ((2, 3, 4), (2, 4, 2)),       # 3·3
    ((2, 1, 3, 4), (5, 4, 2)),    # batch dimensions broadcast: (2, 1) with (5,)
    ((2, 3, 4), (1, 4, 2)),       # a batch of one broadcast
    ((4,), (2, 4, 3)),            # 1·3
    ((2, 3, 4), (4,)),            # 3·1
]

CASES = [Case("matmul", L.matmul, [leaf(*a), leaf(*b)]) for a, b in MATMUL_SHAPES] + [
    Case("matmul", L.matmul, [leaf(3, 4), noncontiguous(4, 5)], name="transposed-right"),
    Case("matmul", L.matmul, [noncontiguous(4, 3), leaf(3, 2)], name="transposed-left"),
    Case("matmul", L.matmul, [leaf(2, 3, 4), noncontiguous(4, 5)], name="rows-transposed"),
    Case("matmul", L.matmul, [noncontiguous(2, 3, 4), noncontiguous(2, 4, 2)],
         name="batched-noncontiguous"),
    Case("matmul", lambda x, w: L.matmul(x, transposed(w)), [leaf(3, 4), leaf(5, 4)],
         name="x@W.T"),
    Case("matmul", lambda x, w: L.matmul(x, transposed(w)), [leaf(2, 3, 4), leaf(5, 4)],
         name="3d-x@W.T"),
    Case("matmul", lambda k, q: L.matmul(q, transposed(k)), [leaf(2, 3, 4), leaf(2, 5, 4)],
         name="q@k.mT"),
    Case("matmul", lambda x: L.matmul(x, transposed(x)), [leaf(3, 4)], name="gram-x@x.T"),
    Case("matmul", L.matmul, [leaf(2, 3), constant(3, 4)], name="only-x"),
    Case("matmul", L.matmul, [constant(2, 3, 4), leaf(4, 2)], name="only-y"),
    Case("matmul", L.matmul, [noncontiguous(3), leaf(3)], name="strided-vector"),
    Case("mm", L.mm, [leaf(2, 3), leaf(3, 4)]),
    Case("mm", L.mm, [leaf(2, 3), noncontiguous(3, 4)], name="noncontiguous"),
    Case("bmm", L.bmm, [leaf(2, 3, 4), leaf(2, 4, 2)]),
    Case("bmm", L.bmm, [noncontiguous(2, 3, 4), leaf(2, 4, 2)], name="noncontiguous"),
    Case("mv", L.mv, [leaf(2, 3), leaf(3)]),
    Case("mv", L.mv, [noncontiguous(2, 3), leaf(3)], name="noncontiguous"),
    Case("dot", L.dot, [leaf(4), leaf(4)]),
    Case("dot", L.dot, [noncontiguous(4), leaf(4)], name="noncontiguous"),
    Case("outer", L.outer, [leaf(3), leaf(2)]),
    Case("outer", L.outer, [noncontiguous(3), constant(2)], name="noncontiguous"),
    Case("outer", L.ger, [leaf(2), leaf(3)], name="ger"),
]

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),                  # matrix product
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),         # batched matrix product
    ("ii->i", [(3, 3)]),                              # diagonal
    ("ii", [(3, 3)]),                                 # implicit output: trace
    ("ii->", [(3, 3)]),                               # trace
    ("iii->i", [(2, 2, 2)]),                          # a diagonal of three axes
    ("iij->j", [(2, 2, 3)]),                          # diagonal, then a kept index
    ("i,i->", [(3,), (3,)]),                          # dot product
    ("ij->", [(2, 3)]),                               # sum of everything
    ("ij->j", [(2, 3)]),                              # an index summed inside one operand
    ("ji", [(2, 3)]),                                 # implicit output sorts: a transpose
    ("ij,kj", [(2, 3), (4, 3)]),                      # implicit output: ik
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # '...' broadcasting
    ("...ii->...i", [(2, 3, 3)]),                     # batched diagonal
    ("...ij->ij", [(2, 3, 4)]),                       # '...' left out of the output: summed
    ("ij,ij->ij", [(2, 3), (2, 3)]),                  # elementwise product
    ("ij,ij->ij", [(1, 3), (2, 3)]),                  # a size-1 dimension broadcasts
    ("i,j->ij", [(2,), (3,)]),                        # outer product
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),       # a chain of three
    ("bn,anm,bm->ba", [(2, 3), (2, 3, 4), (2, 4)]),   # bilinear
    (",ij->ij", [(), (2, 3)]),                        # a 0-d operand
]
CASES += [Case("einsum", lambda *ops, eq=eq: L.einsum(eq, *ops), [leaf(*s) for s in shapes],
               name=eq) for eq, shapes in EINSUM_CASES]
CASES += [
    Case("einsum", lambda a, b: L.einsum("ij,jk->ik", a, b), [noncontiguous(2, 3), leaf(3, 4)],
         name="noncontiguous"),
    Case("einsum", lambda a, b: L.einsum("ij,jk->ik", [a, b]), [leaf(2, 3), constant(3, 4)],
         name="list-of-operands"),
    Case("einsum", lambda a: L.einsum("ij,kj->ik", a, a), [leaf(3, 4)], name="same-operand-twice"),
]
CASES += [
    Case("addmm", L.addmm, [leaf(4), leaf(3, 2), leaf(2, 4)], name="bias-row"),
    Case("addmm", L.addmm, [leaf(3, 4), leaf(3, 2), leaf(2, 4)], name="full-input"),
    Case("addmm", L.addmm, [leaf(3, 1), leaf(3, 2), leaf(2, 4)], name="bias-column"),
    Case("addmm", L.addmm, [leaf(), leaf(3, 2), leaf(2, 4)], name="0d-input"),
    Case("addmm", lambda b, x, w: L.addmm(b, x, transposed(w)), [leaf(4), leaf(3, 2), leaf(4, 2)],
         name="linear-layer-x-at-w-transposed"),
    Case("addmm", L.addmm, [constant(4), noncontiguous(3, 2), noncontiguous(2, 4)],
         name="noncontiguous"),
    Case("addmm", lambda b, x, w: L.addmm(b, x, w, beta=0.5, alpha=-2.0),
         [leaf(4), leaf(3, 2), leaf(2, 4)], name="beta-alpha"),
    Case("addmm", lambda b, x, w: L.addmm(b, x, w, beta=0), [leaf(3, 4), leaf(3, 2), leaf(2, 4)],
         name="beta-0"),
    # alpha = 1: the first derivative takes the backward on arrays (``_addmm_gradients``)
    Case("addmm", lambda b, x, w: L.addmm(b, x, w, beta=0.5),
         [leaf(3, 1), noncontiguous(3, 2), noncontiguous(2, 4)], name="beta-transposed-operands"),
    Case("addmm", L.addmm, [leaf(4), constant(3, 2), leaf(2, 4)], name="weight-gradient-only"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- matmul: values and shapes ---------------------------------------------------------------
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gives_numpys_values_and_shape_for_every_rank_combination(shapes):
    x, y = leaf(*shapes[0]), leaf(*shapes[1])
    expected = np.matmul(arr(x), arr(y))
    z = L.matmul(x, y)
    assert tuple(z.shape) == expected.shape
    np.testing.assert_allclose(arr(z), expected, rtol=1e-12)


def test_matmul_of_two_vectors_is_a_0d_dot_product():
    z = L.matmul(tg.tensor([1.0, 2.0, 3.0]), tg.tensor([4.0, 5.0, 6.0]))
    assert tuple(z.shape) == ()
    assert z.item() == 32.0


def test_matmul_gradients_are_grad_times_the_other_operand_transposed():
    x, y = leaf(2, 3), leaf(3, 4)
    g = np.arange(8.0).reshape(2, 4)
    L.matmul(x, y).backward(tg.tensor(g))
    np.testing.assert_allclose(arr(x.grad), g @ arr(y).T)
    np.testing.assert_allclose(arr(y.grad), arr(x).T @ g)


def test_matmul_sums_the_gradient_over_broadcast_batch_dimensions():
    x, y = leaf(2, 1, 3, 4), leaf(5, 4, 2)
    L.matmul(x, y).backward(tg.ones(2, 5, 3, 2, dtype=tg.float64))
    g = np.ones((2, 5, 3, 2))
    np.testing.assert_allclose(arr(x.grad), (g @ arr(y).swapaxes(-1, -2)).sum(1, keepdims=True))
    np.testing.assert_allclose(arr(y.grad), (arr(x).swapaxes(-1, -2) @ g).sum(0))


def test_matmul_of_a_stack_of_rows_by_one_matrix_gives_the_weight_gradient_over_all_rows():
    x, w = leaf(2, 3, 4), leaf(4, 5)
    g = np.arange(30.0).reshape(2, 3, 5)
    L.matmul(x, w).backward(tg.tensor(g))
    np.testing.assert_allclose(arr(w.grad), arr(x).reshape(6, 4).T @ g.reshape(6, 5))
    np.testing.assert_allclose(arr(x.grad), g @ arr(w).T)


def test_matmul_computes_only_the_gradients_that_are_needed():
    x, y = leaf(2, 3), constant(3, 4)
    z = L.matmul(x, y)
    assert z.grad_fn.needs_input_grad == (True, False)
    assert z.grad_fn.saved_tensors[0] is None   # x is not kept: only y's gradient would read it
    z.sum().backward()
    assert x.grad is not None and y.grad is None


def test_weight_gradient_of_x_at_w_transposed_comes_out_in_the_weights_own_c_order():
    w = leaf(5, 4)                 # PyTorch's (out, in) layout
    for x in (leaf(3, 4), leaf(2, 3, 4)):
        w.grad = None
        L.matmul(x, transposed(w)).sum().backward()
        assert w.grad.array.flags.c_contiguous
        rows = arr(x).reshape(-1, 4)
        np.testing.assert_allclose(arr(w.grad), np.ones((rows.shape[0], 5)).T @ rows)


def test_gradient_of_a_transposed_leaf_keeps_its_layout():
    w = noncontiguous(4, 5)        # memory of a (5, 4) array, seen transposed
    L.matmul(leaf(3, 4), w).sum().backward()
    assert w.grad.array.flags.f_contiguous
    a = noncontiguous(4, 3)
    L.matmul(a, leaf(3, 2)).sum().backward()
    assert a.grad.array.flags.f_contiguous


def test_matmul_with_empty_dimensions():
    z = L.matmul(leaf(0, 3), leaf(3, 2))
    assert tuple(z.shape) == (0, 2)
    x, y = leaf(2, 0), leaf(0, 3)
    z = L.matmul(x, y)
    np.testing.assert_array_equal(arr(z), np.zeros((2, 3)))
    z.sum().backward()
    assert tuple(x.grad.shape) == (2, 0) and tuple(y.grad.shape) == (0, 3)


def test_matmul_accepts_a_numpy_array_operand():
    x, a = leaf(2, 3), np.ones((3, 2))
    np.testing.assert_allclose(arr(L.matmul(x, a)), arr(x) @ a)
    np.testing.assert_allclose(arr(L.matmul(a, x)), a @ arr(x))


def test_mm_bmm_mv_dot_outer_give_numpys_values():
    a, b = leaf(2, 3), leaf(3, 4)
    np.testing.assert_allclose(arr(L.mm(a, b)), arr(a) @ arr(b))
    a3, b3 = leaf(2, 3, 4), leaf(2, 4, 5)
    np.testing.assert_allclose(arr(L.bmm(a3, b3)), arr(a3) @ arr(b3))
    v = leaf(3)
    np.testing.assert_allclose(arr(L.mv(a, v)), arr(a) @ arr(v))
    u = leaf(3)
    assert tuple(L.dot(u, v).shape) == ()
    np.testing.assert_allclose(arr(L.dot(u, v)), arr(u) @ arr(v))
    w = leaf(2)
    np.testing.assert_allclose(arr(L.outer(u, w)), np.outer(arr(u), arr(w)))
    np.testing.assert_allclose(arr(L.ger(u, w)), np.outer(arr(u), arr(w)))


def test_outer_gradients_sum_the_rounded_products_as_a_broadcast_product():
    # ∂L/∂y = Σᵢ xᵢ·gᵢⱼ with xᵢ·gᵢⱼ rounded first: 3e38·2 and 3e38·(-2) are ∞ and -∞ in
    # float32, and their sum NaN (as PyTorch's x[:, None] * y gives); a product that fits
    # keeps its value (3e38·0.5 + 3e38·0.5 = 3e38)
    x = tg.tensor([3e38, 3e38], requires_grad=True)
    y = tg.tensor([1.0, 1.0, 1.0], requires_grad=True)
    g = tg.tensor([[2.0, 0.5, 2.0], [-2.0, 0.5, 2.0]])
    L.outer(x, y).backward(g)
    grad_y = arr(y.grad)
    assert np.isnan(grad_y[0]) and grad_y[1] == np.float32(3e38) and grad_y[2] == np.inf
    np.testing.assert_array_equal(arr(x.grad), [4.5, 0.5])


def test_the_graph_names_the_operation():
    a = leaf(2, 3)
    assert L.matmul(a, leaf(3, 2)).grad_fn.name() == "MmBackward0"
    assert L.mm(a, leaf(3, 2)).grad_fn.name() == "MmBackward0"
    assert L.outer(leaf(2), leaf(3)).grad_fn.name() == "OuterBackward0"
    assert L.einsum("ij->", a).grad_fn.name() == "EinsumBackward0"


# -- addmm: y = β·b + α·(x @ W) -----------------------------------------------------------------
def test_addmm_gives_beta_input_plus_alpha_product():
    b, x, w = leaf(4), leaf(3, 2), leaf(2, 4)
    np.testing.assert_allclose(arr(L.addmm(b, x, w)), arr(b) + arr(x) @ arr(w))
    np.testing.assert_allclose(arr(L.addmm(b, x, w, beta=0.5, alpha=3)),
                               0.5 * arr(b) + 3 * (arr(x) @ arr(w)))
    np.testing.assert_allclose(arr(b.addmm(x, w)), arr(tg.addmm(b, x, w)))
    assert L.addmm(b, x, w).grad_fn.name() == "AddmmBackward0"


def test_addmm_with_beta_0_ignores_the_input_even_its_nans():
    b = tg.full((3, 4), float("nan"), dtype=tg.float64)
    x, w = leaf(3, 2), leaf(2, 4)
    np.testing.assert_allclose(arr(L.addmm(b, x, w, beta=0)), arr(x) @ arr(w))


def test_addmm_bias_gradient_is_the_output_gradient_summed_over_rows():
    b, x, w = leaf(4), leaf(3, 2), leaf(2, 4)
    L.addmm(b, x, w, beta=2).sum().backward()
    np.testing.assert_allclose(arr(b.grad), np.full(4, 6.0))   # β · 3 rows


def test_addmm_gives_a_transposed_weight_its_gradient_in_its_own_c_order():
    w = tg.tensor(np.ones((4, 2)), requires_grad=True)
    L.addmm(leaf(4), leaf(3, 2), w.mT).sum().backward()
    assert w.grad.array.flags.c_contiguous


@pytest.mark.parametrize("rows", [15, 16, 32, 33])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_small_batch_times_a_transposed_weight_gives_the_plain_product_in_c_order(rows, dtype):
    # 16 to 32 rows times a large Wᵀ run as (W xᵀ)ᵀ (faster on OpenBLAS): same values, and
    # a C-ordered result as the plain product has
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 256)).astype(dtype)
    w = rng.standard_normal((128, 256)).astype(dtype)
    b = rng.standard_normal(128).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    product = tg.from_numpy(x) @ tg.from_numpy(w).mT
    affine = L.addmm(tg.from_numpy(b), tg.from_numpy(x), tg.from_numpy(w).mT)
    for got, expected in ((product, x @ w.T), (affine, x @ w.T + b)):
        assert got.array.flags.c_contiguous and got.array.dtype == dtype
        np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol)


def test_addmm_float32_stays_float32():
    b, x, w = (tg.ones(4), tg.ones(3, 2, requires_grad=True), tg.ones(2, 4))
    y = L.addmm(b, x, w)
    y.sum().backward()
    assert y.dtype == tg.float32 and x.grad.dtype == tg.float32


@pytest.mark.parametrize("shapes, message", [
    (((4,), (3, 2), (3, 4)), r"addmm: shapes \(3, 2\) and \(3, 4\) cannot be multiplied"),
    (((4,), (3,), (3, 4)), r"addmm: mat1 and mat2 must be 2-D matrices, got shapes \(3,\)"),
    (((5,), (3, 2), (2, 4)), r"addmm: input of shape \(5,\) does not broadcast to the shape "
                             r"\(3, 4\)"),
    (((2, 3, 4), (3, 2), (2, 4)), r"addmm: input of shape \(2, 3, 4\) does not broadcast"),
])
def test_addmm_checks_its_shapes_naming_them(shapes, message):
    b, x, w = (leaf(*s) for s in shapes)
    with pytest.raises(RuntimeError, match=message):
        L.addmm(b, x, w)


def test_addmm_refuses_mixed_dtypes_naming_them():
    with pytest.raises(RuntimeError, match="addmm: expected operands of one dtype, but got "
                                           "tapegrad.float32 and tapegrad.float64"):
        L.addmm(tg.ones(4), leaf(3, 2), leaf(2, 4))


# -- dtypes ----------------------------------------------------------------------------------
def test_float32_products_stay_float32_and_so_do_their_gradients():
    x = tg.randn(2, 3, dtype=tg.float32, requires_grad=True)
    w = tg.randn(3, 4, dtype=tg.float32, requires_grad=True)
    for z in (L.matmul(x, w), L.mm(x, w), L.einsum("ij,jk->ik", x, w),
              L.outer(x.reshape(6), w.reshape(12))):
        assert z.dtype is tg.float32
        assert z.array.dtype == np.float32
    L.matmul(x, w).sum().backward()
    assert x.grad.dtype is tg.float32 and w.grad.dtype is tg.float32


def test_mixed_dtypes_are_refused_as_in_pytorch_naming_both_and_the_fix():
    x = tg.ones(2, 3, dtype=tg.float32)
    with pytest.raises(RuntimeError, match=r"matmul: .*float32 and tapegrad.float64.*\.float\(\)"):
        L.matmul(x, tg.ones(3, 2, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"mm: .*float32 and tapegrad.int64"):
        L.mm(x, tg.ones(3, 2, dtype=tg.int64))
    with pytest.raises(RuntimeError, match=r"einsum: .*float64"):
        L.einsum("ij,jk", x, tg.ones(3, 2, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"matmul: .*float64"):
        x @ np.ones((3, 2))   # numpy's default float64


def test_integer_products_are_exact_integers_without_grad():
    a = tg.tensor([[1, 2], [3, 4]])
    b = tg.tensor([[5, 6], [7, 8]])
    for z in (L.matmul(a, b), L.mm(a, b), L.einsum("ij,jk->ik", a, b)):
        assert z.dtype is tg.int64
        assert z.tolist() == [[19, 22], [43, 50]]
        assert not z.requires_grad
    assert L.dot(tg.tensor([1, 2]), tg.tensor([3, 4])).item() == 11


# -- einsum ------------------------------------------------------------------------------------
NUMPY_EINSUM_CASES = [(e, s) for e, s in EINSUM_CASES if e != "...ij->ij"]  # numpy refuses it


@pytest.mark.parametrize("equation,shapes", NUMPY_EINSUM_CASES,
                         ids=[e for e, _ in NUMPY_EINSUM_CASES])
def test_einsum_gives_numpys_values(equation, shapes):
    operands = [leaf(*s) for s in shapes]
    expected = np.einsum(equation, *[arr(t) for t in operands])
    z = L.einsum(equation, *operands)
    assert tuple(z.shape) == np.shape(expected)
    np.testing.assert_allclose(arr(z), expected, rtol=1e-12)


def test_einsum_sums_the_ellipsis_dimensions_an_explicit_output_leaves_out_as_torch_does():
    a = leaf(2, 5, 3, 4)
    np.testing.assert_allclose(arr(L.einsum("...ij->ji", a)), arr(a).sum((0, 1)).T)


def test_einsum_of_float16_accumulates_in_float32_as_pytorch():
    # 30000 + 30000 overflows float16; the sum 30000 does not
    x = tg.tensor([30000.0, 30000.0, -30000.0], dtype=tg.float16)
    z = tg.einsum("i,i->", x, tg.ones(3, dtype=tg.float16))
    assert z.dtype is tg.float16 and z.item() == 30000.0


def test_einsum_accepts_the_operands_as_one_list():
    a, b = leaf(2, 3), leaf(3, 4)
    np.testing.assert_allclose(arr(L.einsum("ij,jk", [a, b])), arr(a) @ arr(b))


def test_einsum_ignores_spaces():
    a, b = leaf(2, 3), leaf(3, 4)
    np.testing.assert_allclose(arr(L.einsum(" ij , jk -> ik ", a, b)), arr(a) @ arr(b))


def test_einsum_implicit_output_puts_upper_case_before_lower_case():
    a = leaf(2, 3)
    assert tuple(L.einsum("aB", a).shape) == (3, 2)


def test_einsum_gradient_of_a_diagonal_is_zero_off_the_diagonal():
    a = leaf(3, 3)
    L.einsum("ii->i", a).backward(tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64))
    np.testing.assert_array_equal(arr(a.grad), np.diag([1.0, 2.0, 3.0]))


def test_einsum_gradient_of_an_index_summed_in_one_operand_is_broadcast_along_it():
    a = leaf(2, 3)
    L.einsum("ij->i", a).backward(tg.tensor([1.0, 2.0], dtype=tg.float64))
    np.testing.assert_array_equal(arr(a.grad), [[1.0] * 3, [2.0] * 3])


def test_einsum_of_one_operand_that_only_rearranges_it_is_a_view_as_in_pytorch():
    a = tg.tensor(np.arange(9.0).reshape(3, 3))
    d = L.einsum("ii->i", a)
    assert d.tolist() == [0.0, 4.0, 8.0]
    d.add_(10)   # written through, and seen by a's version counter
    assert a.tolist()[1] == [3.0, 14.0, 5.0] and a._version == 1
    w = tg.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place change of a view"):
        L.einsum("ij->ji", w).mul_(2)   # a view of a leaf that requires grad
    assert not np.shares_memory(L.einsum("ij,jk->ik", a, a).array, a.array)
    s = tg.tensor(2.0)
    L.einsum("->", s).mul_(3)   # a 0-d operand: the einsum is the tensor itself, as a view
    assert s.item() == 6.0


# -- errors ------------------------------------------------------------------------------------
def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(3, 4\) and \(5, 6\) cannot be "
                                           r"multiplied \(4 != 5\)"):
        L.matmul(tg.ones(3, 4), tg.ones(5, 6))
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(3,\) and \(4,\) cannot be "
                                           r"multiplied \(3 != 4\)"):
        L.matmul(tg.ones(3), tg.ones(4))
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(5, 2, 4\) cannot be "
                                           r"multiplied \(3 != 2\)"):
        L.matmul(tg.ones(2, 3), tg.ones(5, 2, 4))


def test_matmul_batch_dimensions_that_do_not_broadcast_are_an_error():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3, 4\) and \(3, 4, 2\) cannot "
                                           r"be multiplied: their batch dimensions \(2,\) and "
                                           r"\(3,\) do not broadcast"):
        L.matmul(tg.ones(2, 3, 4), tg.ones(3, 4, 2))


def test_matmul_of_a_0d_tensor_is_an_error():
    with pytest.raises(RuntimeError, match=r"matmul: both arguments need at least 1 dimension, "
                                           r"got shapes \(\) and \(3,\)"):
        L.matmul(tg.tensor(2.0), tg.ones(3))


def test_matmul_needs_a_tensor():
    with pytest.raises(TypeError, match="matmul: expected tensors"):
        L.matmul([1.0], [2.0])


@pytest.mark.parametrize("op,shapes,message", [
    (L.mm, ((3,), (3, 4)), r"mm: expected two 2-D tensors \(matrices\), got shapes \(3,\) and "
                           r"\(3, 4\)"),
    (L.mm, ((2, 3), (4, 5)), r"mm: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"),
    (L.bmm, ((2, 3), (3, 4)), r"bmm: expected two 3-D tensors"),
    (L.bmm, ((2, 3, 4), (3, 4, 5)), r"bmm: shapes \(2, 3, 4\) and \(3, 4, 5\) have different "
                                    r"batch sizes \(2 != 3\)"),
    (L.bmm, ((2, 3, 4), (2, 5, 6)), r"bmm: shapes \(2, 3, 4\) and \(2, 5, 6\) cannot be "
                                    r"multiplied \(4 != 5\)"),
    (L.mv, ((2, 3), (3, 1)), r"mv: expected a 2-D matrix and a 1-D vector, got shapes "
                             r"\(2, 3\) and \(3, 1\)"),
    (L.dot, ((2, 3), (3,)), r"dot: expected two 1-D tensors, got shapes \(2, 3\) and \(3,\)"),
    (L.dot, ((3,), (4,)), r"dot: shapes \(3,\) and \(4,\) have different lengths \(3 != 4\)"),
    (L.outer, ((3,), (2, 2)), r"outer: expected two 1-D tensors, got shapes \(3,\) and "
                              r"\(2, 2\)"),
])
def test_special_cases_check_their_shapes(op, shapes, message):
    with pytest.raises(RuntimeError, match=message):
        op(tg.ones(*shapes[0]), tg.ones(*shapes[1]))


@pytest.mark.parametrize("equation,shapes,message", [
    ("ij,jk->ik", [(2, 3)], r"the equation names 2 operands but 1 tensor were given"),
    ("ij->ij->i", [(2, 3)], r"'->' may appear only once"),
    ("i1->i", [(2, 3)], r"invalid subscript '1' in operand 0"),
    ("ij->i2", [(2, 3)], r"invalid subscript '2' in the output"),
    ("......i->i", [(2, 3)], r"operand 0 has more than one '...'"),
    ("ijk->i", [(2, 3)], r"operand 0 has 2 dimensions but its subscripts 'ijk' name 3"),
    ("...ijk->i", [(2, 3)], r"operand 0 has 2 dimensions but its subscripts '...ijk' need at "
                            r"least 3"),
    ("ij,jk->ik", [(2, 3), (4, 5)], r"subscript 'j' has size 3 in operand 0 but 4 in operand 1"),
    ("ii->i", [(2, 3)], r"subscript 'i' is repeated in operand 0 with sizes 2 and 3"),
    ("ij->ik", [(2, 3)], r"output subscript 'k' does not appear in any operand"),
    ("ij->ii", [(2, 3)], r"output subscript 'i' appears more than once"),
])
def test_einsum_rejects_bad_equations_with_a_clear_message(equation, shapes, message):
    with pytest.raises(RuntimeError, match=r"einsum: " + message):
        L.einsum(equation, *[tg.ones(*s) for s in shapes])


def test_einsum_needs_a_string_equation_and_operands():
    with pytest.raises(TypeError, match="einsum: the equation must be a string"):
        L.einsum(tg.ones(2), tg.ones(2))
    with pytest.raises(RuntimeError, match="einsum: expected at least one operand"):
        L.einsum("i->i")


# -- wiring (once the ops package and Tensor methods include linalg) -------------------------------
wired = pytest.mark.skipif(not hasattr(tg, "matmul") or not hasattr(tg.Tensor, "__matmul__"),
                           reason="linalg operations are not yet declared")


@wired
def test_the_at_operator_is_matmul_in_both_directions():
    x, y = leaf(2, 3), leaf(3, 4)
    np.testing.assert_allclose(arr(x @ y), arr(x) @ arr(y))
    a = np.ones((4, 2))
    np.testing.assert_allclose(arr(a @ x), a @ arr(x))
    assert (x @ y).grad_fn.name() == "MmBackward0"


@wired
def test_linalg_operations_are_top_level_functions_and_methods():
    x, y = leaf(2, 3), leaf(3, 4)
    np.testing.assert_allclose(arr(x.matmul(y)), arr(tg.matmul(x, y)))
    np.testing.assert_allclose(arr(x.mm(y)), arr(tg.mm(x, y)))
    assert not hasattr(tg.Tensor, "einsum")
    np.testing.assert_allclose(arr(tg.einsum("ij,jk", x, y)), arr(x) @ arr(y))


def test_addmm_with_alpha_0_ignores_the_product_even_its_infs():
    x = tg.tensor([[float("inf"), 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(arr(L.addmm(tg.ones(2), x, tg.eye(2), alpha=0)), np.ones((2, 2)))


def test_addmm_in_float16_rounds_once_after_scaling_and_adding():
    # -12870·-12056 + -10330·3936 = 114501840 overflows float16, but 1e-4 times it, plus 1,
    # is 11451.18, which rounds to 11456 (as PyTorch: float32 sums, one rounding at the end)
    b = tg.tensor([[1.0]], dtype=tg.float16)
    x = tg.tensor([[-12870.0, -10330.0]], dtype=tg.float16)
    w = tg.tensor([[-12056.0], [3936.0]], dtype=tg.float16)
    assert L.addmm(b, x, w, alpha=1e-4).tolist() == [[11456.0]]
    assert L.addmm(b * 60000, x, w, alpha=1e-4, beta=1e-3).tolist() == [[11512.0]]
    # a Linear layer on stacked rows too: 65504 + 32 rounds to inf alone, not with -100 added
    y = tg.nn.functional.linear(tg.tensor([[[65504.0, 32.0]]], dtype=tg.float16),
                                tg.tensor([[1.0, 1.0]], dtype=tg.float16),
                                tg.tensor([-100.0], dtype=tg.float16))
    assert y.tolist() == [[[65440.0]]]


def test_addmm_gradients_multiply_the_product_by_alpha_after_it_as_pytorch():
    # ∂L/∂x = (g @ Wᵀ)·α: in float16 the product 30000·-12056 overflows before α scales it
    x = tg.tensor([[-12870.0, -10330.0]], dtype=tg.float16, requires_grad=True)
    w = tg.tensor([[-12056.0], [3936.0]], dtype=tg.float16, requires_grad=True)
    L.addmm(tg.ones(1, 1, dtype=tg.float16), x, w, alpha=1e-4).backward(
        tg.tensor([[30000.0]], dtype=tg.float16))
    assert x.grad.tolist() == [[-float("inf"), float("inf")]]
    assert w.grad.tolist() == [[-float("inf")], [-float("inf")]]
    b, x, w = leaf(2, 3), leaf(2, 4), leaf(4, 3)
    assert gradcheck(lambda b, x, w: L.addmm(b, x, w, beta=0.5, alpha=-3.0), (b, x, w))
    assert gradgradcheck(lambda b, x, w: L.addmm(b, x, w, beta=0.5, alpha=-3.0), (b, x, w))


def test_addmm_of_integer_tensors_takes_whole_number_scales_only():
    b, x, w = tg.tensor([1, 1]), tg.tensor([[1, 2], [3, 4]]), tg.tensor([[1, 0], [0, 1]])
    np.testing.assert_array_equal(arr(L.addmm(b, x, w, alpha=2)), [[3, 5], [7, 9]])
    with pytest.raises(TypeError, match=r"addmm: alpha must be an integer for tapegrad.int64 "
                                        r"tensors, got 0.5"):
        L.addmm(b, x, w, alpha=0.5)
    with pytest.raises(TypeError, match=r"addmm: beta must be a real number .* got 1j"):
        L.addmm(leaf(2), leaf(2, 2), leaf(2, 2), beta=1j)


def test_addmm_of_small_integer_dtypes_wraps_as_the_dtype_does():
    # a scale is checked against the dtype as PyTorch checks it (an unsigned dtype takes
    # -max..max), then multiplies with the dtype's wraparound: 2 - 1·5 is 253 in uint8
    b, x, w = (tg.tensor([[v]], dtype=tg.uint8) for v in (2, 1, 5))
    assert L.addmm(b, x, w, alpha=-1).tolist() == [[253]]
    assert L.addmm(b, x, w, beta=-1).tolist() == [[3]]
    assert L.addmm(b, x, w, alpha=-255).tolist() == [[7]]
    with pytest.raises(RuntimeError, match=r"addmm: alpha=-256 cannot be converted to "
                                           r"tapegrad.uint8 without overflow"):
        L.addmm(b, x, w, alpha=-256)
    b, x, w = (tg.tensor([[v]], dtype=tg.int8) for v in (2, 1, 5))
    assert L.addmm(b, x, w, beta=-128).tolist() == [[5]]
    with pytest.raises(RuntimeError, match=r"addmm: beta=300 cannot be converted to "
                                           r"tapegrad.int8 without overflow"):
        L.addmm(b, x, w, beta=300)


@pytest.mark.parametrize("x_shape, y_shape", [((4, 1), (4, 1, 1)), ((3,), (2, 3, 1)),
                                              ((2, 3), (4, 3, 5))])
def test_a_batched_product_differentiates_one_operand_alone(x_shape, y_shape):
    # Only what the needed gradient reads is saved: x's gradient must not reach for x.
    x = tg.randn(*x_shape, dtype=tg.float64, requires_grad=True)
    y = tg.randn(*y_shape, dtype=tg.float64)
    assert gradcheck(lambda x: x @ y, (x,))
    y.requires_grad_()
    assert gradcheck(lambda y: x.detach() @ y, (y,))


def test_addmm_of_bools_scales_logically_any_nonzero_factor_is_true():
    b = tg.tensor([[True, False], [False, False]])
    e = tg.eye(2, dtype=tg.bool)
    assert tg.addmm(b, e, e, beta=2).tolist() == [[True, False], [False, True]]
    assert tg.addmm(b, b, e, beta=3, alpha=2).tolist() == [[True, False], [False, False]]


def test_einsum_sums_of_one_bool_or_integer_operand_are_int64_as_sum():
    b = tg.tensor([[True, False], [True, True]])
    assert tg.einsum("ij->", b).dtype is tg.int64 and tg.einsum("ij->", b).item() == 3
    assert tg.einsum("ij->i", tg.tensor([[200, 100]], dtype=tg.uint8)).tolist() == [300]
    assert tg.einsum("ij->ji", b).dtype is tg.bool   # nothing summed: the dtype stays


# -- stacked_addmm: a Linear layer on stacked rows (*, k) ---------------------------------------
def test_stacked_addmm_is_the_bias_plus_the_product_with_addmms_gradients():
    from tapegrad.autograd import gradgradcheck
    for x in (leaf(2, 3, 4), noncontiguous(2, 3, 4), leaf(2, 1, 3, 4)):
        w, b = noncontiguous(4, 5), leaf(5)   # w: a transposed view, as a Linear's Wᵀ
        y = L.stacked_addmm(b, x, w)
        assert y.shape == x.shape[:-1] + (5,) and y.grad_fn.name() == "AddmmBackward0"
        np.testing.assert_allclose(y.detach().numpy(), (x @ w + b).detach().numpy(),
                                   rtol=1e-12)
        assert gradcheck(L.stacked_addmm, (b, x, w))
        assert gradgradcheck(L.stacked_addmm, (b, x, w))


def test_stacked_addmm_keeps_float32_and_gives_its_gradients_in_the_operands_layouts():
    x = tg.randn(2, 3, 4, requires_grad=True)
    weight, b = tg.randn(5, 4, requires_grad=True), tg.randn(5, requires_grad=True)
    y = L.stacked_addmm(b, x, weight.mT)
    assert y.dtype is tg.float32
    y.sum().backward()
    assert weight.grad.numpy().flags.c_contiguous and x.grad.shape == (2, 3, 4)
    np.testing.assert_allclose(b.grad.numpy(), np.full(5, 6.0))


@pytest.mark.parametrize("x_shape", [(2, 3), (1, 2, 3)])
def test_matmul_gradient_of_an_unbatched_operand_sums_the_batch_in_one_accumulator(x_shape):
    # x (2, 3) @ y (2, 3, 3) in float16: each batch's g_b @ y_bᵀ alone overflows (to +inf in
    # one batch, -inf in the other), their sum fits or is one inf, as PyTorch gives it
    x = tg.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=tg.float16).reshape(x_shape)
    x.requires_grad_()
    y_values = np.zeros((2, 3, 3))
    y_values[0, 0, 0], y_values[1, 0, 0] = 3e4, -3e4
    y_values[0, 1, 0], y_values[1, 1, 0] = 3e4, -2e4
    y = tg.tensor(y_values, dtype=tg.float16)
    g = np.zeros((2, 2, 3))
    g[:, :, 0] = 4.0
    (x @ y).backward(tg.tensor(g, dtype=tg.float16))
    exact = np.einsum("bnm,bkm->nk", g, y_values).reshape(x_shape)
    assert arr(x.grad).dtype == np.float16
    np.testing.assert_array_equal(arr(x.grad), exact.astype(np.float16))   # [0, 4e4, 0; ...]


@pytest.mark.parametrize("x_shape, y_shape", [((2, 3), (4, 3, 5)), ((3,), (2, 4, 3, 2)),
                                              ((2, 3), (2, 2, 3, 1)),
                                              ((1, 2, 3), (4, 3, 2))])
def test_matmul_gradient_of_an_unbatched_operand_through_a_folded_batch(x_shape, y_shape):
    x = noncontiguous(*x_shape)
    y = tg.randn(*y_shape, dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda x, y: x @ y, (x, y))
    assert gradgradcheck(lambda x, y: x @ y, (x, y))
