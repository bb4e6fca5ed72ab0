"""``MultiheadAttention``, with PyTorch's parameter names and shapes (a PyTorch state_dict
loads unchanged).

``embed_dim`` features are split into ``num_heads`` heads of embed_dim/num_heads features;
each head attends on its own slice of learned projections of query, key and value, and an
output projection mixes the heads again. The three input projections are stored stacked
in one (3·embed_dim, embed_dim) ``in_proj_weight`` (so self-attention is one matrix
product), or separately as ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when
key or value have other sizes (``kdim``, ``vdim``).
"""
from ... import creation
from .. import init
from ..functional.attention import multi_head_attention_forward
from ..module import Module
from ..parameter import Parameter
from .linear import Linear


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention's ``out_proj`` (the name shows in
    the module's repr; the layer is a plain Linear)."""


class MultiheadAttention(Module):
    """``MultiheadAttention(embed_dim, num_heads)``:
    headᵢ = softmax(Q Wᵢ^Q (K Wᵢ^K)ᵀ / √d) V Wᵢ^V, output = concat(heads) W^Oᵀ + b^O.

    Inputs are (L, N, E) — or (N, L, E) with ``batch_first`` — or a single sequence
    (L, E). ``forward`` returns (output, attention weights averaged over the heads (N, L, S),
    or per head (N, num_heads, L, S) with ``average_attn_weights=False``, or None with
    ``need_weights=False``). ``key_padding_mask`` (N, S): True marks keys to ignore;
    ``attn_mask`` (L, S) or (N·num_heads, L, S): True marks pairs not allowed, a float mask
    is added to the scores. ``dropout`` drops attention weights in training.
    ``add_bias_kv`` appends a learned key and value, ``add_zero_attn`` a zero one.
    Init as PyTorch: projections xavier_uniform_, biases 0, bias_k/bias_v xavier_normal_.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(f"embed_dim must be divisible by num_heads (got embed_dim="
                             f"{embed_dim}, num_heads={num_heads})")
        factory = {"device": device, "dtype": dtype}
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(creation.empty((embed_dim, embed_dim), **factory))
            self.k_proj_weight = Parameter(creation.empty((embed_dim, self.kdim), **factory))
            self.v_proj_weight = Parameter(creation.empty((embed_dim, self.vdim), **factory))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(creation.empty((3 * embed_dim, embed_dim),
                                                           **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        **factory)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty((1, 1, embed_dim), **factory))
            self.bias_v = Parameter(creation.empty((1, 1, embed_dim), **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        is_batched = getattr(query, "ndim", 0) == 3
        if self.batch_first and is_batched:
            # (N, L, E) -> (L, N, E), keeping "the same tensor" visible for the packed
            # projection of self-attention.
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (t.transpose(1, 0) for t in (query, key, value))
        output, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and is_batched:
            output = output.transpose(1, 0)
        return output, weights


__all__ = ["MultiheadAttention"]
