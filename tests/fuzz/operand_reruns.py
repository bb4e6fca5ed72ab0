"""PyTorch reruns with an operand given otherwise: ldexp's exponent as a float tensor,
addcmul/addcdiv's operands in the result's dtype, batch_norm's and median's input made
contiguous, sin/cos in float64, cross_entropy over zero classes (and its label smoothing
left out there), convolutions in float64.

Each rerun confirms the reason of an allowlist entry: a finding is marked only where PyTorch,
so rerun, gives tapegrad's numbers (``_explained_in_torch`` in reruns.py for gradients,
``_operand_value_mark`` here for values). A reason not confirmed leaves the finding as it is.
"""
import warnings

import numpy as np

import tapegrad as tg

from . import catalogue
from .generate import LeafRef
from .libraries import Run, TAPEGRAD, TORCH, _in_place, first_tensor, items, torch
from .compare import _agree_elementwise, _same_to_rounding, compare_arrays


LDEXP_FLOAT_EXPONENT = (" [ldexp in the program: PyTorch agrees with the exponent given as a "
                        "float tensor of the result's dtype]")
ADDC_IN_RESULT_DTYPE = (" [addcmul or addcdiv in the program: PyTorch agrees with the operands "
                        "given in the result's dtype]")
BATCH_NORM_CONTIGUOUS = (" [batch_norm in the program: PyTorch agrees with its input and weight "
                         "made contiguous]")
MEDIAN_OF_CONTIGUOUS = " [median: PyTorch agrees with its input made contiguous]"
BATCH_NORM_OF_CONTIGUOUS = " [batch_norm: PyTorch agrees with its operands made contiguous]"
SIN_COS_IN_FLOAT64 = (" [sin or cos: PyTorch's in float64, rounded, agrees (or the input is "
                      "beyond 1e15)]")
LDEXPS, ADDCS = ("ldexp", "ldexp_"), ("addcmul", "addcdiv", "addcmul_", "addcdiv_")
CONV_IN_FLOAT64 = (" [a convolution in the program: PyTorch agrees with it computed in float64 "
                   "and rounded back]")
CONVS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
SPREAD_OF_SHIFTED = (" [std or var: PyTorch's backward of it alone agrees with each slice shifted "
                     "by its least value]")
SPREADS = ("std", "var")


def _operand_reruns(names):
    """(mark, call, present) for ``_explained_in_torch``'s list of reruns."""
    return [(LDEXP_FLOAT_EXPONENT, _ldexp_float_exponent_call, names & set(LDEXPS)),
            (ADDC_IN_RESULT_DTYPE, _addc_in_result_dtype_call, names & set(ADDCS)),
            (BATCH_NORM_CONTIGUOUS, _contiguous_call, "batch_norm" in names),
            (CONV_IN_FLOAT64, _conv_in_float64_call, names & set(CONVS))]


def _call_with_operands(run, step, leaves, on_a_copy, names, change):
    """``run.call``, but a step named in ``names`` called with each tensor argument replaced
    by ``change(tensor, the result's dtype)`` (an in-place step's target is its result)."""
    if step.entry.name not in names or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    target = run.materialize(step.args[0], leaves) if step.args else None
    if _in_place(step):
        result = target
    else:   # (the dtype the operands promote to, as PyTorch's own call gives it)
        status, narrow = run.call(step, leaves)
        result = first_tensor(TORCH, narrow) if status == "ok" else None
        if result is None:
            return status, narrow
    if not torch.is_tensor(result):
        return run.call(step, leaves)
    changed = (lambda v: v if not torch.is_tensor(v) or _in_place(step) and v is target
               else change(v, result.dtype))
    args = [changed(run.materialize(a, leaves)) for a in step.args]
    kwargs = {k: changed(run.materialize(v, leaves)) for k, v in step.kwargs.items()}
    return _torch_call(step, args, kwargs)


def _torch_call(step, args, kwargs):
    """("ok", result) or ("error", exception) of PyTorch's op of ``step`` on arguments a
    rerun has already made (as ``Run.call``, warnings silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", catalogue.caller("torch", step.entry)(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _ldexp_float_exponent_call(run, step, leaves, on_a_copy=False):
    """ldexp with its exponent given as a float tensor of the result's dtype
    (LDEXP_FLOAT_EXPONENT): PyTorch's backward takes 2^other in the exponent's own dtype (an
    integer exponent: 2^-1 = 0; a float32 0-d one beside float64 x: 2^435 = ∞), its forward
    a float16 exponent's 2^e rounded to float16; tapegrad's slope is the forward's 2^other."""
    return _call_with_operands(run, step, leaves, on_a_copy, LDEXPS,
                               lambda v, dtype: v if v is run.materialize(step.args[0], leaves)
                               else v.to(dtype))


def _addc_in_result_dtype_call(run, step, leaves, on_a_copy=False):
    """addcmul/addcdiv with every tensor operand given in the result's dtype
    (ADDC_IN_RESULT_DTYPE): PyTorch's backward combines the value with a narrower operand in
    that operand's dtype (uint8 4·-1 = 252; a float32 t₂ = 1e-30 squared to 0)."""
    return _call_with_operands(run, step, leaves, on_a_copy, ADDCS,
                               lambda v, dtype: v.to(dtype))


def _conv_in_float64_call(run, step, leaves, on_a_copy=False):
    """A float16 or float32 convolution computed from its operands in float64, its result
    rounded back (CONV_IN_FLOAT64): PyTorch's float32 CPU kernel for some shapes (a batch of
    more than one) skips the taps that meet the padding, or the outputs the padding crops,
    so that an infinite weight there gives no 0·∞; its float64 kernel (and its float32 one
    for other shapes) computes 0·∞ = NaN there, as tapegrad's does in every dtype."""
    if step.entry.name not in CONVS or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    status, narrow = run.call(step, leaves)
    if status != "ok" or not torch.is_tensor(narrow) or narrow.dtype not in (torch.float16,
                                                                            torch.float32):
        return status, narrow
    wide = (lambda v: v.to(torch.float64) if torch.is_tensor(v) and v.is_floating_point() else v)
    args = [wide(run.materialize(a, leaves)) for a in step.args]
    kwargs = {k: wide(run.materialize(v, leaves)) for k, v in step.kwargs.items()}
    status, result = _torch_call(step, args, kwargs)
    return (status, result.to(narrow.dtype)) if status == "ok" and torch.is_tensor(result) \
        else (status, result)


def _contiguous_call(run, step, leaves, on_a_copy=False):
    """batch_norm (median) with each tensor argument made contiguous
    (BATCH_NORM_CONTIGUOUS, MEDIAN_OF_CONTIGUOUS): PyTorch's CPU batch_norm backward walks a
    non-contiguous input or weight in memory order (channels' scales mixed up), its median
    along a dim of an expanded (stride-0) input reads uninitialised memory."""
    if step.entry.name not in ("batch_norm", "median") or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    # (called once: batch_norm in training updates its running statistics in place)
    contiguous = (lambda v: v.contiguous() if torch.is_tensor(v) else v)
    args = [contiguous(run.materialize(a, leaves)) for a in step.args]
    kwargs = {k: contiguous(run.materialize(v, leaves)) for k, v in step.kwargs.items()}
    if step.entry.name == "batch_norm":
        args, kwargs = _per_channel_tensors_in_a_row(args, kwargs)
    return _torch_call(step, args, kwargs)


def _per_channel_tensors_in_a_row(args, kwargs):
    """batch_norm's arguments with every tensor but the input (running statistics, weight,
    bias) given as its C elements in one row, shape (C,): PyTorch's forward accepts any shape
    of C elements, a weight (C, 1, 1, 1) too, and reads it as that row; its backward refuses
    any other shape ("TensorAccessor expected 1 dims"), so a rerun with such a weight would
    confirm nothing."""
    in_a_row = (lambda v: v.reshape(-1) if torch.is_tensor(v) else v)
    return (args[:1] + [in_a_row(a) for a in args[1:]],
            {k: v if k == "input" else in_a_row(v) for k, v in kwargs.items()})


def _shifted_spread_call(run, step, leaves, on_a_copy=False):
    """std or var of its input less each reduced slice's least value, held constant
    (SPREAD_OF_SHIFTED): the same function and the same slope, x - c for a constant c
    changing neither, but equal values become exact zeros, whose σ is exactly 0 as
    tapegrad's shifted deviation gives it. PyTorch's mean of 9 copies of -log 3 leaves a
    residue, σ = 2.4e-16, so its backward g/(2σ) is NaN for g = NaN where σ = 0 gives 0."""
    if step.entry.name not in SPREADS or not step.args or on_a_copy:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    args = [run.materialize(a, leaves) for a in step.args]
    kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
    x = args[0]
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    if not torch.is_tensor(x) or not x.dtype.is_floating_point or x.numel() == 0:
        return run.call(step, leaves)
    dims = (tuple(range(x.ndim)) if dim is None or isinstance(dim, bool) else
            (dim,) if isinstance(dim, int) else tuple(dim))
    try:
        least = x.detach().amin(dim=dims, keepdim=True) if dims else x.detach()
    except Exception:  # noqa: BLE001 - a dim the op itself refuses: its own error
        return run.call(step, leaves)
    return _torch_call(step, [x - least] + args[1:], kwargs)


def _operand_value_mark(program, step, chain_before, result):
    """The mark for a value finding of ``step`` that a rerun confirms (else ""): ldexp
    rerun from the program's start with its exponent in the result's dtype
    (LDEXP_FLOAT_EXPONENT), median with its input contiguous (MEDIAN_OF_CONTIGUOUS; values
    and indices the same), batch_norm with its tensors contiguous (BATCH_NORM_OF_CONTIGUOUS:
    PyTorch's CPU forward for a strided operand takes (x - μ)·r·γ, whose (x - μ)·r passes
    the dtype's range where the result fits; its contiguous kernel x·(rγ) + (β - μ·rγ)),
    sin/cos of tapegrad's input in float64 rounded back, element by element
    (SIN_COS_IN_FLOAT64; an element whose input is beyond 1e15 has no digit left in
    float32's argument reduction)."""
    name = step.entry.name
    if name == "cross_entropy":
        return (_over_zero_classes(program, step, chain_before)
                + _smoothing_over_zero_classes(program, step, chain_before, result))
    if torch is None or name not in LDEXPS + ("median", "batch_norm", "sin", "cos", "sin_",
                                              "cos_"):
        return ""
    if name in ("sin", "cos", "sin_", "cos_"):
        return _sin_cos_in_float64(program, step, chain_before, result)
    call, mark = ((_ldexp_float_exponent_call, LDEXP_FLOAT_EXPONENT) if name in LDEXPS else
                  (_contiguous_call, MEDIAN_OF_CONTIGUOUS if name == "median"
                   else BATCH_NORM_OF_CONTIGUOUS))
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        status, rerun = call(run, each, program.leaves) if each is step else run.call(
            each, program.leaves)
        if status != "ok" or each is step:
            break
        run.chain = first_tensor(TORCH, rerun)
        if run.chain is None:
            return ""
    if status != "ok":
        return ""
    ours, theirs = items(TAPEGRAD, result), items(TORCH, rerun)
    if len(ours) != len(theirs) or not all(
            TAPEGRAD.is_tensor(a) and torch.is_tensor(b) for a, b in zip(ours, theirs)):
        return ""
    for a, b in zip(ours, theirs):
        a, b = np.asarray(TAPEGRAD.to_numpy(a)), np.asarray(TORCH.to_numpy(b.detach()))
        if a.shape != b.shape or a.dtype != b.dtype or not (
                np.array_equal(a, b) if a.dtype.kind in "biu"
                else _same_to_rounding(a, b, str(a.dtype))):
            return ""
    return mark


ZERO_CLASSES = " [cross_entropy over zero classes]"


def _over_zero_classes(program, step, chain_before):
    """ZERO_CLASSES where cross_entropy's input has no classes (its dim 1, or dim 0 of a 1-d
    input, is empty): each loss is an empty sum, 0, where PyTorch's mean divides 0 by 0."""
    run = Run(TAPEGRAD)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else tg.from_numpy(np.array(chain_before)))
    x = run.materialize(step.args[0], program.leaves) if step.args else None
    if not TAPEGRAD.is_tensor(x):
        return ""
    shape = tuple(x.shape)
    classes = shape[1] if len(shape) > 1 else shape[0] if shape else 1
    return ZERO_CLASSES if classes == 0 else ""


SMOOTHING_OVER_ZERO_CLASSES = (" [label smoothing over zero classes: PyTorch agrees with "
                               "label_smoothing=0]")


def _smoothing_over_zero_classes(program, step, chain_before, result):
    """SMOOTHING_OVER_ZERO_CLASSES where cross_entropy's input has no classes, its
    label_smoothing ε is above 0, and PyTorch rerun on tapegrad's operands with ε = 0 gives
    tapegrad's result. With no classes every class-index target must be ignore_index (any
    other is out of range, in both libraries), and an ignored target's loss is 0 by
    PyTorch's docs; its smoothing term Σ_c log p_c·ε/C is an empty sum, 0, to which
    PyTorch's ε/C = ε/0 = inf adds 0·inf = NaN (at every target with reduction='none',
    in the sum with 'sum'), while without ε it gives 0."""
    smoothing = step.kwargs.get("label_smoothing", 0.0)
    if torch is None or not isinstance(smoothing, (int, float)) or smoothing <= 0 or \
            not TAPEGRAD.is_tensor(result) or not _over_zero_classes(program, step, chain_before):
        return ""
    run = Run(TORCH)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else torch.from_numpy(np.array(chain_before)))
    unsmoothed = step._replace(kwargs={**step.kwargs, "label_smoothing": 0.0})
    status, theirs = run.call(unsmoothed, program.leaves)
    if status != "ok" or not torch.is_tensor(theirs):
        return ""
    ours = np.asarray(TAPEGRAD.to_numpy(result))
    same = compare_arrays(ours, TORCH.to_numpy(theirs.detach()), str(ours.dtype)) is None
    return SMOOTHING_OVER_ZERO_CLASSES if same else ""


def _sin_cos_in_float64(program, step, chain_before, result):
    run = Run(TORCH)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else torch.from_numpy(np.array(chain_before)))
    x = run.materialize(step.args[0], program.leaves) if step.args else None
    if not torch.is_tensor(x) or not TAPEGRAD.is_tensor(result):
        return ""
    ours = np.asarray(TAPEGRAD.to_numpy(result))
    function = torch.sin if step.entry.name.startswith("sin") else torch.cos
    wide = function(x.detach().to(torch.float64))
    theirs = TORCH.to_numpy(wide.to(getattr(torch, str(ours.dtype)))) if ours.dtype.kind == "f" \
        else None
    if theirs is None or theirs.shape != ours.shape:
        return ""
    beyond = np.abs(TORCH.to_numpy(x.detach().to(torch.float64))) >= 1e15
    agree = _agree_elementwise(ours, theirs, str(ours.dtype)) | np.broadcast_to(beyond, ours.shape)
    return SIN_COS_IN_FLOAT64 if bool(np.all(agree)) else ""
