"""The fuzzable operations, in order, as they were when the seeds in ``test_fuzz.py``
were recorded.

A program draws its operations by index into the catalogue, so a new public operation
changes what every seed means. The tests that replay a recorded seed draw from this list
instead of the live catalogue; a new operation is still fuzzed by the short run and by
``python -m tests.fuzz``. Seeds recorded from a later catalogue get that catalogue as a
tuple of their own beside this one: editing this one would change every seed recorded with it.
"""

NAMES = (
    'add', 'sub', 'mul', 'div', 'true_divide', 'pow', 'maximum', 'minimum', 'floor_divide',
    'remainder', 'where', 'where_method', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'isclose',
    'allclose', 'equal', 'logical_not', 'logical_and', 'logical_or', 'bitwise_and',
    'bitwise_or', 'bitwise_xor', 'bitwise_not', 'rsub', 'lerp', 'logaddexp', 'logaddexp2',
    'xlogy', 'fmod', 'copysign', 'float_power', 'addcmul', 'addcdiv', 'ldexp',
    'logical_xor', 'bitwise_left_shift', 'bitwise_right_shift', 'nextafter', 'multiply',
    'divide', 'subtract', 'to', 'float', 'double', 'half', 'long', 'int', 'bool', 'type_as',
    'max_pool2d', 'max_pool1d', 'avg_pool2d', 'avg_pool1d', 'adaptive_avg_pool2d',
    'adaptive_avg_pool1d', 'interpolate', 'conv2d', 'conv1d', 'conv_transpose2d',
    'conv_transpose1d', 'unfold', 'fold', 'pad', 'new_zeros', 'new_ones', 'new_full',
    'new_tensor', 'neg', 'abs', 'exp', 'expm1', 'log', 'log1p', 'sqrt', 'rsqrt', 'sin',
    'cos', 'tanh', 'sigmoid', 'relu', 'clamp', 'clip', 'sign', 'sgn', 'floor', 'ceil',
    'round', 'trunc', 'exp2', 'log2', 'log10', 'reciprocal', 'square', 'frac', 'nan_to_num',
    'logit', 'clamp_min', 'clamp_max', 'positive', 'signbit', 'angle', 'absolute',
    'negative', 'fix', 'lgamma', 'digamma', 'polygamma', 'polygamma_method', 'add_', 'sub_',
    'mul_', 'div_', 'pow_', 'clamp_', 'fill_', 'zero_', 'copy_', 'erf', 'erfc', 'erfinv',
    'mvlgamma', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh',
    'sinc', 'deg2rad', 'rad2deg', 'atan2', 'hypot', 'arcsin', 'arccos', 'arctan', 'arcsinh',
    'arccosh', 'arctanh', 'arctan2', 'abs_', 'neg_', 'exp_', 'expm1_', 'log_', 'log1p_',
    'log2_', 'log10_', 'sqrt_', 'rsqrt_', 'sin_', 'cos_', 'tanh_', 'sigmoid_', 'relu_',
    'sign_', 'floor_', 'ceil_', 'round_', 'trunc_', 'frac_', 'reciprocal_', 'square_',
    'exp2_', 'clamp_min_', 'clamp_max_', 'nan_to_num_', 'logit_', 'erf_', 'erfinv_', 'tan_',
    'atan_', 'sinh_', 'cosh_', 'asin_', 'acos_', 'atan2_', 'hypot_', 'remainder_', 'fmod_',
    'lerp_', 'addcmul_', 'addcdiv_', 'floor_divide_', 'xlogy_', 'copysign_', 'squeeze_',
    'unsqueeze_', 't_', 'transpose_', 'getitem', 'setitem', 'gather', 'take_along_dim',
    'scatter_add', 'scatter', 'index_select', 'masked_fill', 'masked_select', 'nonzero',
    'sum', 'mean', 'var', 'std', 'prod', 'amax', 'amin', 'max', 'min', 'argmax', 'argmin',
    'logsumexp', 'softmax', 'log_softmax', 'cumsum', 'all', 'any', 'count_nonzero',
    'reshape', 'view', 'view_as', 'flatten', 'unflatten', 'squeeze', 'unsqueeze',
    'transpose', 'swapaxes', 'swapdims', 't', 'permute', 'movedim', 'moveaxis', 'expand',
    'expand_as', 'broadcast_to', 'repeat', 'flip', 'narrow', 'tril', 'triu', 'cat',
    'concat', 'concatenate', 'stack', 'split', 'chunk', 'unbind', 'clone', 'contiguous',
    'matmul', 'mm', 'bmm', 'mv', 'dot', 'outer', 'ger', 'addmm', 'einsum', 'cholesky',
    'norm', 'sort', 'argsort', 'topk', 'kthvalue', 'median', 'batch_norm', 'bilinear',
    'binary_cross_entropy', 'binary_cross_entropy_with_logits', 'cosine_embedding_loss',
    'cross_entropy', 'elu', 'elu_', 'embedding', 'gelu', 'group_norm', 'hardtanh',
    'hardtanh_', 'huber_loss', 'kl_div', 'l1_loss', 'layer_norm', 'leaky_relu',
    'leaky_relu_', 'linear', 'logsigmoid', 'margin_ranking_loss', 'max_pool1d_with_indices',
    'max_pool2d_with_indices', 'mse_loss', 'nll_loss', 'one_hot', 'relu6',
    'scaled_dot_product_attention', 'silu', 'smooth_l1_loss', 'softplus', 'upsample',
    'upsample_bilinear', 'upsample_nearest',
)
