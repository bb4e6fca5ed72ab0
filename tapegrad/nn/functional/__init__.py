"""``tapegrad.nn.functional`` (``import tapegrad.nn.functional as F``): every layer as a
function of its inputs and its parameters, e.g. ``F.linear(x, weight, bias)``.

One file per family; each file below adds its names here with one import line.
"""
from .attention import multi_head_attention_forward, scaled_dot_product_attention
from .dropout import dropout, dropout2d
from .linear import bilinear, linear
from .normalization import batch_norm, group_norm, layer_norm
from .sparse import embedding, one_hot
