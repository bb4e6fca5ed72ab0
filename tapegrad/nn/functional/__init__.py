"""``tapegrad.nn.functional`` (``import tapegrad.nn.functional as F``): every layer as a
function of its inputs and its parameters, e.g. ``F.linear(x, weight, bias)``.

One file per family; each file below adds its names here with one import line.
"""
from .activation import (celu, celu_, elu, elu_, gelu, glu, hardshrink, hardsigmoid,
                         hardswish, hardtanh, hardtanh_, leaky_relu, leaky_relu_, log_softmax,
                         logsigmoid, mish, prelu, relu, relu6, relu_, selu, selu_, sigmoid, silu,
                         softmax, softmin, softplus, softshrink, softsign, tanh, tanhshrink,
                         threshold, threshold_)
from .attention import multi_head_attention_forward, scaled_dot_product_attention
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .distance import cosine_similarity, normalize, pairwise_distance
from .dropout import dropout, dropout2d
from .linear import bilinear, linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                   cosine_embedding_loss, cross_entropy, huber_loss, kl_div, l1_loss,
                   margin_ranking_loss, mse_loss, nll_loss, smooth_l1_loss)
from .normalization import batch_norm, group_norm, layer_norm
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d,
                      max_pool1d, max_pool1d_with_indices, max_pool2d, max_pool2d_with_indices)
from .sparse import embedding, one_hot
from .vision import (fold, interpolate, pad, unfold, upsample, upsample_bilinear,
                     upsample_nearest)
