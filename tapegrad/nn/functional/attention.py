"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Each query asks every key how well it matches (a dot product), the matches become
weights that sum to 1 (a softmax), and the answer is the weighted sum of the values:

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + mask) V,      scale = 1/√d

A mask says which keys a query may look at: a bool mask is True where attending is
allowed (the others get -∞ before the softmax, hence weight 0); a float mask is added to
the scores. Multi-head attention runs h of these side by side on learned projections of
the inputs, each head on d = embed_dim/h features, and projects their concatenation
back. All of it is matrix products, a softmax and reshapes: no backward is written here.
"""
import math

from ... import creation, dtypes
from ...autograd.ops.shape import cat
from ...autograd.tensor import Tensor, wrap
from .dropout import dropout
from .linear import linear
from .checks import shape_of



# -- scaled dot-product attention ----------------------------------------------------------
def _attention_scores(query, key, attn_mask, is_causal, scale):
    """softmax(Q Kᵀ · scale + mask) along the keys; a row whose scores are all -∞ gets
    weights 0 (not softmax's 0/0)."""
    scores = (query * scale) @ key.mT     # scaling Q (…, L, E) is cheaper than the scores
    xp = query.device.xp
    if is_causal:
        length, source = scores.shape[-2], scores.shape[-1]
        future = wrap(xp.triu(xp.ones((length, source), dtype=bool), 1), query.device)
        scores = scores.masked_fill(future, float("-inf"))
    elif attn_mask is not None:
        if attn_mask.dtype is dtypes.bool_:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + (attn_mask if attn_mask.dtype is query.dtype
                               else attn_mask.to(query.dtype))
    # A row with every score -∞ (every key masked, or an inf in the inputs) would be
    # softmax(-∞, …, -∞) = 0/0. As PyTorch (2.5+) its weights are 0: softmax a row of zeros
    # instead (finite, and it gets no gradient), then zero its weights. Such a row starts
    # and ends with -∞: only if some row starts and some row ends so (a look at L values,
    # not L·S) are whole rows scanned.
    rows = scores.array
    if rows.shape[-1] == 0 or (xp.isneginf(rows[..., 0]).any()
                               and xp.isneginf(rows[..., -1]).any()):
        dead = xp.isneginf(rows).all(axis=-1, keepdims=True)
        if dead.any():
            dead = wrap(dead, query.device)
            return scores.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)
    return scores.softmax(-1)


def _check_attention_inputs(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"{op}: expected query, key and value to be at least 2-D (…, length, "
                           f"features), got shapes {shape_of(query)}, {shape_of(key)} and "
                           f"{shape_of(value)}")
    if not query.dtype.is_floating_point or not (query.dtype is key.dtype is value.dtype):
        raise RuntimeError(f"{op}: expected query, key and value of one floating point dtype, "
                           f"got {query.dtype}, {key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"{op}: query of shape {shape_of(query)} and key of shape {shape_of(key)} "
                           f"must have the same number of features (last dimension)")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{op}: key of shape {shape_of(key)} and value of shape "
                           f"{shape_of(value)} must have the same length (dimension -2)")
    if enable_gqa and (query.ndim < 3 or key.shape[-3] != value.shape[-3]
                       or query.shape[-3] % key.shape[-3]):
        raise RuntimeError(f"{op}: with enable_gqa the number of query heads must be a multiple "
                           f"of the number of key/value heads (dimension -3), got query "
                           f"{shape_of(query)}, key {shape_of(key)}, value {shape_of(value)}")
    # (with enable_gqa the heads, dimension -3, are grouped, not broadcast)
    batch = -3 if enable_gqa else -2
    try:
        query.device.xp.broadcast_shapes(shape_of(query)[:batch], shape_of(key)[:batch],
                                         shape_of(value)[:batch])
    except ValueError:
        raise RuntimeError(f"{op}: query of shape {shape_of(query)}, key of shape "
                           f"{shape_of(key)} and value of shape {shape_of(value)} have leading "
                           f"(batch) dimensions that do not broadcast") from None
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: pass either attn_mask or is_causal=True, not both (the "
                           f"causal mask would be combined with an explicit one)")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a Tensor, got {type(attn_mask).__name__}")
        if attn_mask.dtype is not dtypes.bool_ and not attn_mask.dtype.is_floating_point:
            raise RuntimeError(f"{op}: attn_mask must be a bool or floating point tensor, got "
                               f"{attn_mask.dtype}")
        scores = shape_of(query)[:-1] + (key.shape[-2],)
        try:
            query.device.xp.broadcast_shapes(shape_of(attn_mask), scores)
        except ValueError:
            raise RuntimeError(f"{op}: attn_mask of shape {shape_of(attn_mask)} cannot be "
                               f"broadcast to the scores' shape (…, L, S) = {scores}") from None
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"{op}: dropout_p has to be between 0 and 1, but got {dropout_p}")


def _repeat_heads(t, groups):
    """(…, H, S, E) -> (…, H·groups, S, E), each head repeated ``groups`` times in a row."""
    shape = shape_of(t)
    expanded = t.unsqueeze(-3).expand(shape[:-2] + (groups,) + shape[-2:])
    return expanded.reshape(shape[:-3] + (shape[-3] * groups,) + shape[-2:])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, *, scale=None, enable_gqa=False):
    """softmax(Q Kᵀ · scale + mask) V for Q (…, L, E), K (…, S, E), V (…, S, Ev) → (…, L, Ev)

    scale defaults to 1/√E. ``attn_mask`` broadcasts to (…, L, S): bool (True = may attend)
    or float (added to the scores). ``is_causal``: query i attends to keys 0..i only.
    ``dropout_p`` > 0 drops attention weights (always: there is no training flag). A
    query row whose keys are all masked gives 0, as in PyTorch 2.5 and later.
    ``enable_gqa``: K and V may have fewer heads (dimension -3) than Q, each serving a
    group of query heads. Leading dimensions broadcast between Q, K and V.
    """
    _check_attention_inputs(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if query.dtype.itemsize == 2:
        # float16 and bfloat16: float32 inside, rounded once, as PyTorch (a weight that
        # underflows to 0 in float16 would turn a value of inf into 0·inf = NaN)
        wide = scaled_dot_product_attention(
            query.float(), key.float(), value.float(), attn_mask, dropout_p, is_causal,
            scale=scale, enable_gqa=enable_gqa)
        return wide.to(query.dtype)
    if scale is None:
        # (no features: 1/√0 = inf multiplies nothing, and every score is the empty sum 0)
        scale = 1 / math.sqrt(query.shape[-1]) if query.shape[-1] else math.inf
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, groups), _repeat_heads(value, groups)
    weights = _attention_scores(query, key, attn_mask, is_causal, scale)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    result = weights @ value
    if result.numel() == 0:
        # An empty answer (no queries, or values of no features) depends on nothing: as in
        # PyTorch, Q, K and V get gradient 0, even where a NaN in the scores would otherwise
        # flow back through the softmax as 0·NaN.
        # (sums of empty slices: an exact 0, no NaN·0 computed)
        nothing = query[..., :0].sum() + key[..., :0].sum() + value[..., :0].sum()
        result = result.detach() + nothing
    return result


# -- multi-head attention -----------------------------------------------------------------------
def _float_mask(name, mask, dtype):
    """A bool mask (True = masked out, MultiheadAttention's convention) as an additive float
    mask (-∞ where True, else 0); a float mask as it is."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"multi_head_attention_forward: {name} must be a Tensor, got "
                        f"{type(mask).__name__}")
    if mask.dtype is dtypes.bool_:
        xp = mask.device.xp
        return wrap(xp.where(mask.array, xp.asarray(float("-inf"), dtype=dtype.numpy),
                             xp.asarray(0, dtype=dtype.numpy)), mask.device)
    if not mask.dtype.is_floating_point:
        raise TypeError(f"multi_head_attention_forward: only bool and floating types of "
                        f"{name} are supported, got {mask.dtype}")
    return mask


def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the inputs are batched (3-D) or a single sequence (2-D), with clear errors."""
    op = "multi_head_attention_forward"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise RuntimeError(f"For batched (3-D) `query`, expected `key` and `value` to be 3-D "
                               f"but found {key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise RuntimeError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                               f"`None` or 2-D but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise RuntimeError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                               f"2-D or 3-D but found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise RuntimeError(f"For unbatched (2-D) `query`, expected `key` and `value` to be "
                               f"2-D but found {key.ndim}-D and {value.ndim}-D tensors "
                               f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise RuntimeError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to be "
                               f"`None` or 1-D but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise RuntimeError(f"For unbatched (2-D) `query`, expected `attn_mask` to be "
                                   f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                   f"instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and shape_of(attn_mask) != expected:
                raise RuntimeError(f"Expected `attn_mask` shape to be {expected} but got "
                                   f"{shape_of(attn_mask)}")
        return False
    raise RuntimeError(f"query should be unbatched 2D or batched 3D tensor but received "
                       f"{query.ndim}-D query tensor")


def _in_projection_packed(q, k, v, w, b):
    """Q, K, V = the three projections by the stacked (3E, E) weight: one matrix product when
    q, k and v are the same tensor (self-attention), two when only k and v are."""
    embed_dim = q.shape[-1]
    if k is v:
        if q is k:
            return linear(q, w, b).chunk(3, dim=-1)
        w_q, w_kv = w.split([embed_dim, 2 * embed_dim])
        b_q, b_kv = (None, None) if b is None else b.split([embed_dim, 2 * embed_dim])
        return (linear(q, w_q, b_q),) + tuple(linear(k, w_kv, b_kv).chunk(2, dim=-1))
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _pad_last(mask):
    """One more key column in an additive mask: 0, i.e. allowed (for bias_k, zero_attn)."""
    if mask is None:
        return None
    zeros = creation.zeros(shape_of(mask)[:-1] + (1,), dtype=mask.dtype, device=mask.device)
    return cat([mask, zeros], dim=-1)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on query (L, N, E), key (S, N, kdim), value (S, N, vdim), or
    unbatched (L, E), (S, kdim), (S, vdim), as PyTorch's function of the same name:

        headᵢ = softmax(Qᵢ Kᵢᵀ/√d + mask) Vᵢ,  Qᵢ, Kᵢ, Vᵢ = head i of the input projections
        output = concat(head₁…headₕ) W_outᵀ + b_out

    Returns (output (L, N, E), attention weights (N, L, S) averaged over the heads, or
    (N, h, L, S) with ``average_attn_weights=False``, or None unless ``need_weights``).
    ``key_padding_mask`` (N, S): True (or -∞) marks keys to ignore; ``attn_mask`` (L, S) or
    (N·h, L, S): True marks pairs NOT allowed (the opposite of scaled_dot_product_attention's
    bool mask), a float mask is added. ``is_causal`` is only a hint that attn_mask is causal.
    """
    is_batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:   # one sequence: a batch of one, squeezed again at the end
        same_kv, same_qk = key is value, query is key
        query = query.unsqueeze(1)
        key = query if same_qk else key.unsqueeze(1)
        value = key if same_kv else value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = shape_of(query)
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise RuntimeError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                           f"{embed_dim}")
    if embed_dim % num_heads:
        raise RuntimeError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if use_separate_proj_weight:
        if shape_of(key)[:2] != shape_of(value)[:2]:
            raise RuntimeError(f"key's sequence and batch dims {shape_of(key)[:2]} do not match "
                               f"value's {shape_of(value)[:2]}")
    elif shape_of(key) != shape_of(value):
        raise RuntimeError(f"key shape {shape_of(key)} does not match value shape {shape_of(value)}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if key_padding_mask is not None and shape_of(key_padding_mask) != (bsz, src_len):
        raise RuntimeError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                           f"{shape_of(key_padding_mask)}")
    key_padding_mask = _float_mask("key_padding_mask", key_padding_mask, query.dtype)
    attn_mask = _float_mask("attn_mask", attn_mask, query.dtype)

    # Input projections: (L, N, E) each.
    if not use_separate_proj_weight:
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if shape_of(attn_mask) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {shape_of(attn_mask)}, but "
                                   f"should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif shape_of(attn_mask) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {shape_of(attn_mask)}, but "
                               f"should be {(bsz * num_heads, tgt_len, src_len)}.")

    if bias_k is not None and bias_v is not None:   # one more key and value, learned
        if static_k is not None or static_v is not None:
            raise RuntimeError("bias cannot be added to static key and value")
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise RuntimeError("bias_k and bias_v must both be given, or neither")

    # Split the heads: (N·h, length, d), head j of sample n at row n·h + j.
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None
         else _static("static_k", static_k, bsz * num_heads, head_dim))
    v = (v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None
         else _static("static_v", static_v, bsz * num_heads, head_dim))

    if add_zero_attn:   # one more key and value, both zero
        zeros = creation.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k, v = cat([k, zeros], dim=1), cat([v, zeros], dim=1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)

    src_len = k.shape[1]
    if key_padding_mask is not None:   # (N, S) -> (N·h, 1, S), merged into attn_mask
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len)
                            .expand(bsz, num_heads, 1, src_len)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        # As PyTorch: a softmax over the keys; a row with every key masked gives nan here.
        scores = (q * (1 / math.sqrt(head_dim))) @ k.mT
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = scores.softmax(-1)
        if dropout_p > 0:
            weights = dropout(weights, dropout_p)
        heads = weights @ v                                        # (N·h, L, d)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
    else:
        # As PyTorch: through scaled_dot_product_attention (a fully masked row gives 0).
        if attn_mask is not None:
            attn_mask = (attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1
                         else attn_mask.reshape(bsz, num_heads, -1, src_len))
        heads = scaled_dot_product_attention(
            q.reshape(bsz, num_heads, tgt_len, head_dim),
            k.reshape(bsz, num_heads, src_len, head_dim),
            v.reshape(bsz, num_heads, src_len, head_dim), attn_mask, dropout_p)
        heads = heads.reshape(bsz * num_heads, tgt_len, head_dim)
        weights = None
    # Concatenate the heads: (N·h, L, d) -> (L, N, E), then the output projection.
    output = linear(heads.transpose(0, 1).reshape(tgt_len, bsz, embed_dim), out_proj_weight,
                    out_proj_bias)
    if not is_batched:
        output = output.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return output, weights


def _static(name, t, rows, head_dim):
    if shape_of(t)[0::2] != (rows, head_dim) or t.ndim != 3:
        raise RuntimeError(f"multi_head_attention_forward: expecting {name} of shape "
                           f"({rows}, S, {head_dim}), but got {shape_of(t)}")
    return t


__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]
