"""scaled_dot_product_attention and MultiheadAttention."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.functional.attention import scaled_dot_product_attention as sdpa
from tapegrad.nn.modules.attention import MultiheadAttention, NonDynamicallyQuantizableLinear
from tapegrad.nn.modules.linear import Linear

rng = np.random.default_rng(0)


def leaf(*shape):
    return tg.tensor(rng.uniform(-1, 1, size=shape), dtype=tg.float64, requires_grad=True)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def np_softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_attention(q, k, v, bias=0.0, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return np_softmax(q @ np.swapaxes(k, -1, -2) * scale + bias) @ v


# -- scaled_dot_product_attention: values ---------------------------------------------------------
def test_sdpa_is_softmax_of_scaled_scores_times_values():
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 5)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v))
    assert out.shape == (2, 3, 4, 5) and out.dtype == tg.float32
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v), rtol=1e-5, atol=1e-6)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v), scale=0.3)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, scale=0.3), rtol=1e-5,
                               atol=1e-6)


def test_sdpa_broadcasts_leading_dims_and_accepts_2d_inputs():
    q, k, v = randn(2, 3, 4), randn(5, 4), randn(5, 6)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v))
    assert out.shape == (2, 3, 6)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v), rtol=1e-5, atol=1e-6)


def test_sdpa_bool_mask_true_means_attend_and_float_mask_is_added():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 4)
    allowed = rng.uniform(size=(3, 5)) > 0.4
    allowed[:, 0] = True
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v), tg.from_numpy(allowed))
    expected = np_attention(q, k, v, np.where(allowed, 0, -np.inf))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    bias = randn(2, 1, 5)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v), tg.from_numpy(bias))
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, bias), rtol=1e-5, atol=1e-6)


def test_sdpa_causal_lets_query_i_see_keys_up_to_i():
    q, k, v = randn(3, 4, 4), randn(3, 4, 4), randn(3, 4, 2)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v), is_causal=True)
    causal = np.where(np.tril(np.ones((4, 4))) > 0, 0, -np.inf)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, causal), rtol=1e-5, atol=1e-6)
    # The first output row sees only the first value.
    np.testing.assert_allclose(out.numpy()[:, 0], v[:, 0], rtol=1e-6)
    # With more keys than queries the mask is aligned at the top left, as in PyTorch.
    k6, v6 = randn(3, 6, 4), randn(3, 6, 2)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k6), tg.from_numpy(v6), is_causal=True)
    causal = np.where(np.tril(np.ones((4, 6))) > 0, 0, -np.inf)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k6, v6, causal), rtol=1e-5,
                               atol=1e-6)


def test_sdpa_a_fully_masked_row_gives_zeros_and_zero_gradients_as_pytorch():
    q, k, v = leaf(1, 3, 4), leaf(1, 5, 4), leaf(1, 5, 2)
    allowed = np.ones((3, 5), bool)
    allowed[1] = False
    for mask in (tg.from_numpy(allowed), tg.from_numpy(np.where(allowed, 0.0, -np.inf))):
        out = sdpa(q, k, v, mask)
        assert (out.detach().numpy()[0, 1] == 0).all()
        assert np.isfinite(out.detach().numpy()).all()
        q.grad = k.grad = v.grad = None
        out.sum().backward()
        assert (q.grad.numpy()[0, 1] == 0).all()
        assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, tg.from_numpy(allowed)), (q, k, v))


def test_sdpa_finds_dead_rows_among_rows_masked_only_at_their_ends():
    # rows are scanned whole only when some row starts and some row ends with -inf: rows
    # masked at both ends or at one end (padding) still get their softmax; the fully masked
    # one gets zeros
    q, k, v = leaf(2, 4, 3), leaf(2, 5, 3), leaf(2, 5, 2)
    allowed = np.zeros((4, 5), bool)
    allowed[0, 2] = True        # -inf at both ends, one key between
    allowed[1, 3:] = True       # left padding: only the first score is -inf
    allowed[2, :2] = True       # right padding: only the last score is -inf
    out = sdpa(q, k, v, tg.from_numpy(allowed))   # row 3 is fully masked
    bias = np.where(allowed, 0.0, -np.inf)[:3]
    np.testing.assert_allclose(out.detach().numpy()[:, :3], np_attention(
        q.detach().numpy()[:, :3], k.detach().numpy(), v.detach().numpy(), bias), rtol=1e-12)
    np.testing.assert_array_equal(out.detach().numpy()[:, 3], np.zeros((2, 2)))
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, tg.from_numpy(allowed)), (q, k, v))


def test_sdpa_a_row_whose_scores_are_all_minus_inf_from_an_inf_key_gives_zeros():
    # no mask: the keys' inf makes batch 0's scores all -inf (as PyTorch's _safe_softmax:
    # weights 0, not 0/0); batch 1 is an ordinary attention
    q = tg.tensor([[[1.0, -1.0]], [[0.5, 1.0]]], requires_grad=True)
    k = tg.tensor([[[-math.inf, 0.0], [-math.inf, 1.0]], [[1.0, 0.0], [0.0, 1.0]]],
                  requires_grad=True)
    v = tg.tensor([[[0.2, 0.3], [0.5, 0.7]], [[0.2, 0.3], [0.5, 0.7]]], requires_grad=True)
    out = sdpa(q, k, v)
    np.testing.assert_array_equal(out.detach().numpy()[0], [[0.0, 0.0]])
    np.testing.assert_allclose(out.detach().numpy()[1], np_attention(
        np.array([[0.5, 1.0]]), np.eye(2), np.array([[0.2, 0.3], [0.5, 0.7]])), rtol=1e-6)
    out[0].sum().backward()
    # the row gets no gradient: v's and k's are 0; q's is 0·k, NaN where k is inf (PyTorch's)
    np.testing.assert_array_equal(v.grad.numpy(), np.zeros((2, 2, 2)))
    np.testing.assert_array_equal(k.grad.numpy(), np.zeros((2, 2, 2)))
    np.testing.assert_array_equal(q.grad.numpy(), [[[np.nan, 0.0]], [[0.0, 0.0]]])


def test_sdpa_with_an_empty_answer_gives_zero_gradients_even_past_nan_and_inf():
    # values of no features (or no queries): the answer is empty and depends on nothing,
    # so, as in PyTorch, Q, K and V get 0, not a 0·NaN from the softmax's backward
    q = np.ones((2, 3, 4), dtype=np.float32)
    q[0, 0, 0] = np.nan
    k = np.ones((2, 5, 4), dtype=np.float32)
    k[1, 2, 3] = np.inf
    for v_shape, q_rows in (((2, 5, 0), 3), ((2, 5, 3), 0)):
        query = tg.tensor(q[:, :q_rows], requires_grad=True)
        key = tg.tensor(k, requires_grad=True)
        value = tg.tensor(np.ones(v_shape, dtype=np.float32), requires_grad=True)
        out = sdpa(query, key, value)
        assert out.shape == (2, q_rows, v_shape[-1]) and out.requires_grad
        out.sum().backward()
        for t in (query, key, value):
            assert t.grad.shape == t.shape and not np.asarray(t.grad.array).any()
    empty = leaf(2, 5, 0)
    assert gradcheck(lambda q, k, v: sdpa(q, k, v), (leaf(2, 3, 4), leaf(2, 5, 4), empty))


def test_sdpa_of_float16_computes_in_float32_and_rounds_once():
    # a weight of e^-20 ≈ 2e-9 underflows to 0 in float16, and 0·(-inf) would be NaN;
    # in float32 it is 2e-9·(-inf) = -inf, as PyTorch gives
    q = tg.tensor([[20.0]], dtype=tg.float16)
    k = tg.tensor([[0.0], [1.0]], dtype=tg.float16)
    v = tg.tensor([[-math.inf, 1.0], [0.0, 2.0]], dtype=tg.float16, requires_grad=True)
    out = sdpa(q, k, v)
    assert out.dtype == tg.float16
    np.testing.assert_array_equal(out.detach().numpy(), np.array([[-np.inf, 2.0]], np.float16))
    out.sum().backward()
    assert v.grad.dtype == tg.float16
    # weights (1 - 2e-9, 2e-9) rounded to float16 once: (0, 1)
    np.testing.assert_array_equal(v.grad.numpy(), np.array([[0, 0], [1, 1]], np.float16))
    q, k, v = (t.astype(np.float16) for t in (randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 3)))
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v))
    expected = np_attention(*(t.astype(np.float64) for t in (q, k, v))).astype(np.float16)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_sdpa_dropout_drops_attention_weights_reproducibly():
    q, k, v = tg.randn(2, 4, 8), tg.randn(2, 6, 8), tg.randn(2, 6, 8)
    plain = sdpa(q, k, v).numpy()
    tg.manual_seed(5)
    first = sdpa(q, k, v, dropout_p=0.5).numpy()
    tg.manual_seed(5)
    again = sdpa(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, plain)
    assert (sdpa(q, k, v, dropout_p=1.0).numpy() == 0).all()


def test_sdpa_grouped_query_attention_shares_key_value_heads():
    q, k, v = randn(2, 4, 3, 8), randn(2, 2, 5, 8), randn(2, 2, 5, 6)
    out = sdpa(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v), enable_gqa=True)
    expected = np_attention(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_sdpa_errors_name_the_shapes():
    q, k, v = tg.zeros(2, 3, 4), tg.zeros(2, 5, 4), tg.zeros(2, 5, 6)
    with pytest.raises(RuntimeError, match=r"query of shape \(2, 3, 4\) and key of shape "
                                           r"\(2, 5, 3\)"):
        sdpa(q, tg.zeros(2, 5, 3), v)
    with pytest.raises(RuntimeError, match=r"key of shape \(2, 5, 4\) and value of shape "
                                           r"\(2, 4, 6\)"):
        sdpa(q, k, tg.zeros(2, 4, 6))
    with pytest.raises(RuntimeError, match=r"query of shape \(2, 3, 4\), key of shape \(2, 5, "
                                           r"4\) and value of shape \(3, 5, 6\) have leading"):
        sdpa(q, k, tg.zeros(3, 5, 6))
    with pytest.raises(RuntimeError, match=r"value of shape \(0, 5, 6\) have leading"):
        sdpa(q, k, tg.zeros(0, 5, 6))   # (an empty value too: PyTorch checks nothing there)
    with pytest.raises(RuntimeError, match="at least 2-D"):
        sdpa(tg.zeros(4), k, v)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 5\) cannot be broadcast"):
        sdpa(q, k, v, tg.ones(4, 5, dtype=tg.bool))
    with pytest.raises(RuntimeError, match="either attn_mask or is_causal"):
        sdpa(q, k, v, tg.ones(3, 5, dtype=tg.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="bool or floating point"):
        sdpa(q, k, v, tg.ones(3, 5, dtype=tg.int64))
    with pytest.raises(RuntimeError, match="one floating point dtype"):
        sdpa(q, k.double(), v)


# -- scaled_dot_product_attention: gradients (float64) ---------------------------------------------
@pytest.mark.parametrize("q_shape,k_shape,v_shape", [((3, 4), (5, 4), (5, 2)),
                                                     ((2, 3, 4), (2, 3, 4), (2, 3, 4)),
                                                     ((2, 1, 2, 3), (1, 2, 4, 3), (1, 2, 4, 2))])
def test_sdpa_gradcheck_wrt_query_key_value(q_shape, k_shape, v_shape):
    q, k, v = leaf(*q_shape), leaf(*k_shape), leaf(*v_shape)
    assert gradcheck(sdpa, (q, k, v))
    assert gradgradcheck(sdpa, (q, k, v))


def test_sdpa_gradcheck_with_masks_causal_scale_and_a_learned_float_mask():
    q, k, v = leaf(2, 3, 4), leaf(2, 4, 4), leaf(2, 4, 3)
    allowed = tg.tensor([[True, False, True, True], [False, True, True, False],
                         [True, True, False, True]])
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, allowed), (q, k, v))
    assert gradgradcheck(lambda q, k, v: sdpa(q, k, v, allowed), (q, k, v))
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, is_causal=True, scale=0.7), (q, k, v))
    bias = leaf(3, 4)   # e.g. a learned position bias: gets its gradient too
    assert gradcheck(lambda q, k, v, b: sdpa(q, k, v, b), (q, k, v, bias))


def test_sdpa_gradcheck_on_transposed_inputs_and_grouped_heads():
    q = tg.from_numpy(rng.uniform(-1, 1, (4, 3)).T).requires_grad_()
    assert gradcheck(lambda q, k, v: sdpa(q, k, v), (q, leaf(5, 4), leaf(5, 2)))
    q, k, v = leaf(1, 4, 2, 3), leaf(1, 2, 3, 3), leaf(1, 2, 3, 2)
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, enable_gqa=True), (q, k, v))


# -- MultiheadAttention: parameters, init, repr ----------------------------------------------------
def test_mha_parameters_have_pytorchs_names_shapes_and_init():
    tg.manual_seed(0)
    mha = MultiheadAttention(64, 4)
    assert list(mha.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                      "out_proj.bias"]
    assert mha.in_proj_weight.shape == (192, 64) and mha.in_proj_bias.shape == (192,)
    assert mha.out_proj.weight.shape == (64, 64) and mha.head_dim == 16
    w = mha.in_proj_weight.detach().numpy()
    bound = math.sqrt(6 / (64 + 192))   # xavier_uniform_
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert (mha.in_proj_bias.detach().numpy() == 0).all()
    assert (mha.out_proj.bias.detach().numpy() == 0).all()
    assert isinstance(mha.out_proj, NonDynamicallyQuantizableLinear)
    assert isinstance(mha.out_proj, Linear)
    assert mha.q_proj_weight is None and mha.bias_k is None and mha.bias_v is None


def test_mha_with_other_key_and_value_sizes_has_separate_projections():
    mha = MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    assert list(mha.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                      "bias_k", "bias_v", "out_proj.weight"]
    assert mha.k_proj_weight.shape == (8, 3) and mha.v_proj_weight.shape == (8, 5)
    assert mha.in_proj_weight is None and mha.in_proj_bias is None
    assert mha.bias_k.shape == (1, 1, 8) and mha.out_proj.bias is None


def test_mha_repr_as_pytorch():
    assert repr(MultiheadAttention(8, 2)) == (
        "MultiheadAttention(\n"
        "  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)\n"
        ")")


def test_mha_embed_dim_must_divide_by_num_heads():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        MultiheadAttention(10, 3)


# -- MultiheadAttention: values --------------------------------------------------------------------
def np_mha(mha, query, key, value, bias=None):
    """The textbook formula in numpy, for (L, N, E) inputs; bias (N, h, L, S) or None."""
    w = mha.in_proj_weight.detach().numpy()
    b = mha.in_proj_bias.detach().numpy()
    E, h = mha.embed_dim, mha.num_heads
    d = E // h
    q = query @ w[:E].T + b[:E]
    k = key @ w[E:2 * E].T + b[E:2 * E]
    v = value @ w[2 * E:].T + b[2 * E:]
    L, N, _ = q.shape
    S = k.shape[0]
    split = lambda t, n: t.reshape(n, N, h, d).transpose(1, 2, 0, 3)  # noqa: E731  (N, h, n, d)
    scores = split(q, L) @ split(k, S).transpose(0, 1, 3, 2) / math.sqrt(d)
    weights = np_softmax(scores + (0 if bias is None else bias))
    heads = (weights @ split(v, S)).transpose(2, 0, 1, 3).reshape(L, N, E)
    out = heads @ mha.out_proj.weight.detach().numpy().T + mha.out_proj.bias.detach().numpy()
    return out, weights


def randomize_biases(mha):
    with tg.no_grad():
        mha.in_proj_bias.copy_(tg.randn(*mha.in_proj_bias.shape) * 0.5)
        mha.out_proj.bias.copy_(tg.randn(*mha.out_proj.bias.shape) * 0.5)


def test_mha_self_attention_matches_the_formula_and_returns_head_averaged_weights():
    mha = MultiheadAttention(8, 2)
    randomize_biases(mha)
    x = randn(5, 3, 8)
    out, weights = mha(tg.from_numpy(x), tg.from_numpy(x), tg.from_numpy(x))
    expected, expected_weights = np_mha(mha, x, x, x)
    assert out.shape == (5, 3, 8) and weights.shape == (3, 5, 5) and out.dtype == tg.float32
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.detach().numpy(), expected_weights.mean(1), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1, rtol=1e-5)
    _, per_head = mha(tg.from_numpy(x), tg.from_numpy(x), tg.from_numpy(x),
                      average_attn_weights=False)
    assert per_head.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(per_head.detach().numpy(), expected_weights, rtol=1e-4, atol=1e-6)


def test_mha_cross_attention_and_need_weights_false():
    mha = MultiheadAttention(8, 4)
    randomize_biases(mha)
    q, kv = randn(2, 3, 8), randn(6, 3, 8)
    out, weights = mha(tg.from_numpy(q), tg.from_numpy(kv), tg.from_numpy(kv))
    expected, _ = np_mha(mha, q, kv, kv)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    out2, none = mha(tg.from_numpy(q), tg.from_numpy(kv), tg.from_numpy(kv), need_weights=False)
    assert none is None
    np.testing.assert_allclose(out2.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    k, v = randn(6, 3, 8), randn(6, 3, 8)
    out, _ = mha(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v))
    np.testing.assert_allclose(out.detach().numpy(), np_mha(mha, q, k, v)[0], rtol=1e-4,
                               atol=1e-5)


def test_mha_batch_first_and_unbatched_inputs():
    mha = MultiheadAttention(8, 2)
    batch_first = MultiheadAttention(8, 2, batch_first=True)
    batch_first.load_state_dict(mha.state_dict())
    x = randn(5, 3, 8)
    out, weights = mha(*(tg.from_numpy(x),) * 3)
    xb = tg.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2)))
    out_b, weights_b = batch_first(xb, xb, xb)
    assert out_b.shape == (3, 5, 8)
    np.testing.assert_allclose(out_b.detach().numpy(), out.detach().numpy().transpose(1, 0, 2),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights_b.detach().numpy(), weights.detach().numpy(), rtol=1e-5)
    single = tg.from_numpy(x[:, 1])
    out_1, weights_1 = mha(single, single, single)
    assert out_1.shape == (5, 8) and weights_1.shape == (5, 5)
    np.testing.assert_allclose(out_1.detach().numpy(), out.detach().numpy()[:, 1], rtol=1e-5,
                               atol=1e-6)


def test_mha_key_padding_mask_true_ignores_those_keys():
    mha = MultiheadAttention(8, 2)
    q, kv = randn(3, 2, 8), randn(5, 2, 8)
    padding = np.array([[False, False, False, True, True], [False] * 5])
    out, weights = mha(tg.from_numpy(q), tg.from_numpy(kv), tg.from_numpy(kv),
                       key_padding_mask=tg.from_numpy(padding))
    assert (weights.detach().numpy()[0, :, 3:] == 0).all()
    short, _ = mha(tg.from_numpy(q[:, :1]), tg.from_numpy(kv[:3, :1]), tg.from_numpy(kv[:3, :1]))
    np.testing.assert_allclose(out.detach().numpy()[:, 0], short.detach().numpy()[:, 0],
                               rtol=1e-5, atol=1e-6)
    as_float = tg.from_numpy(np.where(padding, -np.inf, 0).astype(np.float32))
    out_f, _ = mha(tg.from_numpy(q), tg.from_numpy(kv), tg.from_numpy(kv),
                   key_padding_mask=as_float)
    np.testing.assert_allclose(out_f.detach().numpy(), out.detach().numpy(), rtol=1e-6)


def test_mha_attn_mask_true_means_not_allowed_and_float_masks_are_added():
    mha = MultiheadAttention(8, 2)
    randomize_biases(mha)
    x = randn(4, 2, 8)
    causal = np.triu(np.ones((4, 4), bool), 1)   # True above the diagonal: the future
    out, weights = mha(*(tg.from_numpy(x),) * 3, attn_mask=tg.from_numpy(causal))
    bias = np.where(causal, -np.inf, 0)
    expected, expected_weights = np_mha(mha, x, x, x, bias)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    assert (weights.detach().numpy()[:, causal] == 0).all()
    out_c, _ = mha(*(tg.from_numpy(x),) * 3, attn_mask=tg.from_numpy(causal), is_causal=True,
                   need_weights=False)
    np.testing.assert_allclose(out_c.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    per_head = randn(2 * 2, 4, 4)   # (N·h, L, S)
    out, _ = mha(*(tg.from_numpy(x),) * 3, attn_mask=tg.from_numpy(per_head))
    expected, _ = np_mha(mha, x, x, x, per_head.reshape(2, 2, 4, 4))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_mha_fully_masked_rows_give_nan_with_weights_and_zero_heads_without_as_pytorch():
    mha = MultiheadAttention(4, 2)
    x = tg.randn(3, 2, 4)
    padding = tg.tensor([[False, False, False], [True, True, True]])
    out, weights = mha(x, x, x, key_padding_mask=padding)
    assert np.isnan(out.detach().numpy()[:, 1]).all()
    assert np.isnan(weights.detach().numpy()[1]).all()
    assert np.isfinite(out.detach().numpy()[:, 0]).all()
    out, _ = mha(x, x, x, key_padding_mask=padding, need_weights=False)
    np.testing.assert_allclose(out.detach().numpy()[:, 1], 0, atol=1e-7)   # the out_proj bias


def test_mha_add_bias_kv_and_add_zero_attn_append_one_key_each():
    mha = MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True)
    x = tg.randn(3, 2, 4)
    out, weights = mha(x, x, x, key_padding_mask=tg.zeros(2, 3, dtype=tg.bool),
                       attn_mask=tg.zeros(3, 3, dtype=tg.bool))
    assert out.shape == (3, 2, 4) and weights.shape == (2, 3, 5)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1, rtol=1e-5)


def test_mha_dropout_only_in_training():
    mha = MultiheadAttention(8, 2, dropout=0.5)
    x = tg.randn(6, 2, 8)
    _, weights = mha(x, x, x)
    assert (weights.detach().numpy() == 0).any()
    mha.eval()
    _, weights = mha(x, x, x)
    assert (weights.detach().numpy() > 0).all()


def test_mha_errors_name_the_shapes():
    mha = MultiheadAttention(8, 2)
    x = tg.zeros(4, 2, 8)
    with pytest.raises(RuntimeError, match="was expecting embedding dimension of 8, but got 6"):
        mha(tg.zeros(4, 2, 6), x, x)
    with pytest.raises(RuntimeError, match=r"key shape \(5, 2, 8\) does not match value shape "
                                           r"\(4, 2, 8\)"):
        mha(x, tg.zeros(5, 2, 8), x)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(4, 5\), but "
                                           r"should be \(4, 4\)"):
        mha(x, x, x, attn_mask=tg.zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"expecting key_padding_mask shape of \(2, 4\)"):
        mha(x, x, x, key_padding_mask=tg.zeros(2, 5, dtype=tg.bool))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="unbatched 2D or batched 3D"):
        mha(tg.zeros(8), x, x)
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        mha(x, x, x, attn_mask=tg.zeros(4, 4, dtype=tg.int64))


# -- MultiheadAttention: gradients (float64) ------------------------------------------------------
def test_mha_gradcheck_through_its_parameters():
    mha = MultiheadAttention(4, 2).double()
    randomize_biases(mha)
    x = leaf(3, 2, 4)
    padding = tg.tensor([[False, False, True], [False, False, False]])
    params = (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)

    def fn(x, *params):
        out, weights = mha(x, x, x, key_padding_mask=padding)
        return out, weights
    assert gradcheck(fn, (x,) + params)
    assert gradgradcheck(lambda x, w: mha(x, x, x)[0], (x, mha.in_proj_weight))


def test_mha_gradcheck_cross_attention_with_separate_projections_and_masks():
    mha = MultiheadAttention(4, 2, kdim=3, vdim=2, batch_first=True).double()
    q, k, v = leaf(2, 3, 4), leaf(2, 5, 3), leaf(2, 5, 2)
    causal_ish = tg.tensor(np.triu(np.ones((3, 5), bool), 2))
    params = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)

    def fn(q, k, v, *params):
        return mha(q, k, v, attn_mask=causal_ish, need_weights=False)[0]
    assert gradcheck(fn, (q, k, v) + params)


def test_mha_gradcheck_with_bias_kv_and_zero_attn():
    mha = MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True).double()
    x = leaf(2, 2, 4)
    assert gradcheck(lambda x, bk, bv: mha(x, x, x)[0], (x, mha.bias_k, mha.bias_v))


# -- PyTorch compatibility (only where PyTorch happens to be installed) ----------------------------
MHA_CONFIGS = [
    dict(kwargs={}, call={}),
    dict(kwargs={"batch_first": True}, call={"average_attn_weights": False}),
    dict(kwargs={"kdim": 3, "vdim": 5}, call={}),
    dict(kwargs={"bias": False}, call={"need_weights": False}),
    dict(kwargs={"add_bias_kv": True, "add_zero_attn": True}, call={}),
]


@pytest.mark.parametrize("config", MHA_CONFIGS, ids=lambda c: str(c["kwargs"]) + str(c["call"]))
def test_pytorch_mha_state_dict_loads_and_gives_the_same_outputs(config):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(8, 2, **config["kwargs"])
    ours = MultiheadAttention(8, 2, **config["kwargs"])
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    with torch.no_grad():
        for p in reference.parameters():
            p.uniform_(-0.5, 0.5)   # biases too, which start at 0
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state)
    batch_first = config["kwargs"].get("batch_first", False)
    kdim, vdim = config["kwargs"].get("kdim", 8), config["kwargs"].get("vdim", 8)
    shape = lambda length, dim: (2, length, dim) if batch_first else (length, 2, dim)  # noqa
    x_rng = np.random.default_rng(1)
    q = x_rng.standard_normal(shape(4, 8)).astype(np.float32)
    k = x_rng.standard_normal(shape(6, kdim)).astype(np.float32)
    v = x_rng.standard_normal(shape(6, vdim)).astype(np.float32)
    padding = np.zeros((2, 6), bool)
    padding[0, 4:] = True
    attn_mask = x_rng.uniform(size=(4, 6)) > 0.7
    attn_mask[:, 0] = False
    for masks in ({}, {"key_padding_mask": padding, "attn_mask": attn_mask}):
        out_ref, w_ref = reference(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v),
                                   **{n: torch.from_numpy(m) for n, m in masks.items()},
                                   **config["call"])
        out, w = ours(tg.from_numpy(q), tg.from_numpy(k), tg.from_numpy(v),
                      **{n: tg.from_numpy(m) for n, m in masks.items()}, **config["call"])
        np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-5)
        if w_ref is None:
            assert w is None
        else:
            np.testing.assert_allclose(w.detach().numpy(), w_ref.detach().numpy(), atol=1e-5)
    # self-attention, and an unbatched sequence
    out_ref, w_ref = reference(*(torch.from_numpy(q),) * 3) if kdim == vdim == 8 else (None, None)
    if out_ref is not None:
        out, w = ours(*(tg.from_numpy(q),) * 3)
        np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-5)
        single = q[0] if batch_first else q[:, 0]
        out_ref, _ = reference(*(torch.from_numpy(single),) * 3)
        out, _ = ours(*(tg.from_numpy(single),) * 3)
        np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-5)


def test_pytorch_sdpa_gives_the_same_values_and_gradients():
    torch = pytest.importorskip("torch")
    x_rng = np.random.default_rng(2)
    q, k, v = (x_rng.standard_normal(s) for s in ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5)))
    allowed = x_rng.uniform(size=(4, 6)) > 0.5
    allowed[2] = False   # one fully masked row
    g = x_rng.standard_normal((2, 3, 4, 5))
    for options in ({}, {"is_causal": True}, {"attn_mask": allowed},
                    {"attn_mask": np.where(allowed, 0.0, -np.inf)}, {"scale": 0.2}):
        t_in = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        ours_in = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in (q, k, v)]
        t_opts = {n: torch.from_numpy(m) if isinstance(m, np.ndarray) else m
                  for n, m in options.items()}
        our_opts = {n: tg.from_numpy(m) if isinstance(m, np.ndarray) else m
                    for n, m in options.items()}
        out_ref = torch.nn.functional.scaled_dot_product_attention(*t_in, **t_opts)
        out = sdpa(*ours_in, **our_opts)
        np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-10)
        out_ref.backward(torch.from_numpy(g))
        out.backward(tg.from_numpy(g))
        for a, b in zip(ours_in, t_in):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


def test_attention_with_no_features_weighs_every_key_equally():
    # QKᵀ over 0 features is 0 everywhere (the scale 1/√0 multiplies nothing): a uniform softmax
    out = tg.nn.functional.scaled_dot_product_attention(tg.zeros(2, 0), tg.zeros(3, 0),
                                                        tg.tensor([[1.0], [2.0], [6.0]]))
    assert out.tolist() == [[3.0], [3.0]]
