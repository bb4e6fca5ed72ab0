"""The two libraries: a program's leaves built, its steps called and its results read back
the same way in tapegrad and in PyTorch.

``Library`` hides the difference between the two (tensor types, dtypes, reading to numpy);
``Run`` is one library's state while a program runs; ``_leaf_grads`` reads its leaves'
gradients after a backward. PyTorch is not called where it is known to kill the process or
to run for minutes: ``Run.call`` answers with an error instead. The small facts about a step
that every judge asks (in place? its arguments? an unsorted topk?) live here too, so that no
judge imports another for them.
"""
import warnings
from typing import NamedTuple

import numpy as np

import tapegrad as tg

from . import catalogue
from .generate import CHAIN, DType, LeafRef

try:
    import torch
except ImportError:  # the fuzzer still checks tapegrad's own invariants
    torch = None


class Finding(NamedTuple):
    kind: str
    op: str
    detail: str
    seed: int


class Library:
    """Building tensors and reading results, the same way in both libraries."""

    def __init__(self, name):
        self.name = name
        self.module = tg if name == "tapegrad" else torch

    def is_tensor(self, value):
        return isinstance(value, self.module.Tensor)

    def dtype(self, name):
        return getattr(self.module, "bool" if name == "bool" else name)

    def dtype_name(self, tensor):
        return str(tensor.dtype).split(".")[-1]

    def to_numpy(self, tensor):
        if self.name == "torch":
            # PyTorch's gradient of sgn is a "ZeroTensor" with no memory: reading one that a
            # view's backward (cat's) made crashes the process, so its zeros are made here
            if tensor._is_zerotensor():
                return np.zeros(tuple(tensor.shape), dtype=self.dtype_name(tensor))
            return np.asarray(tensor.detach().numpy(force=True))
        return np.asarray(tensor.detach().numpy())

    def leaf(self, leaf, float_dtype=None):
        """(the leaf tensor, the view of it the program uses)."""
        values = np.asarray(leaf.values)
        if float_dtype and values.dtype.kind == "f":
            values = values.astype(float_dtype)
        base = (tg.from_numpy(np.array(values)) if self.name == "tapegrad"
                else torch.from_numpy(np.array(values)))
        if leaf.requires_grad:
            base.requires_grad_(True)
        layout = leaf.layout
        if layout[0] == "transpose":
            view = base.transpose(layout[1], layout[2])
        elif layout[0] == "slice":
            view = base[(slice(None),) * layout[1] + (slice(None, None, 2),)]
        elif layout[0] == "expand":
            view = base.expand(*leaf.view_shape)
        else:
            view = base
        return base, view


TAPEGRAD = Library("tapegrad")
TORCH = Library("torch") if torch is not None else None


class Run:
    """One library's state while a program runs: its leaves and the chain's values."""

    def __init__(self, library, float_dtype=None):
        self.library = library
        self.float_dtype = float_dtype
        self.leaves = {}     # index -> (base, view)
        self.chain = None
        self.backward_crashes = False   # (PyTorch's backward of a step so far would crash)

    def materialize(self, plan, program_leaves):
        if plan is CHAIN:
            return self.chain
        if isinstance(plan, LeafRef):
            if plan.index not in self.leaves:
                self.leaves[plan.index] = self.library.leaf(program_leaves[plan.index],
                                                            self.float_dtype)
            return self.leaves[plan.index][1]
        if isinstance(plan, DType):
            return self.library.dtype(plan.name)
        if isinstance(plan, list):
            return [self.materialize(p, program_leaves) for p in plan]
        if isinstance(plan, tuple) and not hasattr(plan, "_fields"):
            return tuple(self.materialize(p, program_leaves) for p in plan)
        return plan

    def call(self, step, program_leaves, on_a_copy=False):
        """("ok", result) or ("error", exception) of the step (``on_a_copy``: with its
        first argument cloned, so that an in-place step overwrites nothing else)."""
        try:
            args = [self.materialize(a, program_leaves) for a in step.args]
            if on_a_copy and args and self.library.is_tensor(args[0]):
                args[0] = args[0].clone()
            kwargs = {k: self.materialize(v, program_leaves) for k, v in step.kwargs.items()}
            if self.library.name == "torch" and _smallest_integer_by_minus_one(step, args):
                return "error", RuntimeError(_DIVISION_CRASH)
            if self.library.name == "torch" and _polygamma_far_below_0(step, args):
                return "error", RuntimeError(_POLYGAMMA_HANG)
            if self.library.name == "torch" and _float16_conv1d_of_padding_alone(step, args,
                                                                               kwargs):
                return "error", RuntimeError(_CONV1D_CRASH)
            if self.library.name == "torch" and _float16_conv2d_of_padding_alone(step, args, kwargs):
                return "error", RuntimeError(_CONV2D_CRASH)
            if self.library.name == "torch" and _float16_conv_transpose_backward_of_padding_alone(
                    step, args, kwargs):
                self.backward_crashes = True
            if self.library.name == "torch" and _channels_last_group_norm_of_an_input_without_grad(
                    step, args, kwargs):
                self.backward_crashes = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return "ok", catalogue.caller(self.library.name, step.entry)(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - comparing errors is the point
            return "error", error


_DIVISION_CRASH = ("not run in PyTorch: its integer division of the smallest integer by -1 "
                   "kills the process (SIGFPE)")


def _smallest_integer_by_minus_one(step, args):
    """PyTorch 2.13's CPU integer division (div, floor_divide, remainder, fmod) of the
    dtype's smallest value by -1 overflows in C and the process dies of SIGFPE."""
    if step.entry.name.rstrip("_") not in ("div", "divide", "true_divide", "floor_divide",
                                             "remainder", "fmod") or len(args) < 2:
        return False
    dividend, divisor = (np.asarray(a.detach().numpy() if hasattr(a, "detach") else a)
                         for a in args[:2])
    if dividend.dtype.kind != "i":
        return False
    return bool((dividend == np.iinfo(dividend.dtype).min).any() and (divisor == -1).any())


_POLYGAMMA_HANG = ("not run in PyTorch: its polygamma of a non-integer x far below 0 steps "
                   "x up to 0 one by one (minutes)")


def _polygamma_far_below_0(step, args):
    """PyTorch 2.13's polygamma(n, x), n ≥ 2, for x < 0 not an integer (its Hurwitz ζ) adds 1
    to x until it passes 9, about 1e8 steps a second: x = -1e8 takes a second, -1.1e11 (a
    float64, seed 41602293) minutes. polygamma(1, x)'s backward is polygamma(2, x), so n ≥ 1
    is skipped where x < -1e7 (float32's non-integers stop at 2^23 = 8.4e6)."""
    if step.entry.name not in ("polygamma", "polygamma_method") or len(args) < 2:
        return False
    n, x = (args[0], args[1]) if step.entry.name == "polygamma" else (args[1], args[0])
    if not isinstance(n, int) or n < 1 or not hasattr(x, "detach"):
        return False
    x = np.asarray(x.detach().numpy())
    if x.dtype.kind != "f":
        return False
    x = x.astype(np.float64)   # (-1e7 is -inf in float16: no warning of its cast)
    with np.errstate(invalid="ignore"):
        return bool(((x < -1e7) & (x != np.floor(x))).any())


_CONV1D_CRASH = ("not run in PyTorch: its float16 dilated conv1d whose windows all lie in the "
                 "padding crashes the process (SIGSEGV)")


def _float16_conv1d_of_padding_alone(step, args, kwargs):
    """PyTorch 2.13's float16 conv1d with dilation ≠ 1 where no output window reads the input
    (every tap in the padding: conv1d(randn(5, 1, 1).half(), ones(4, 1, 1).half(),
    padding=1, dilation=2, stride=2)) dies of SIGSEGV (float32 and conv2d do not)."""
    if step.entry.name != "conv1d" or len(args) < 2 or not all(
            hasattr(a, "dtype") and hasattr(a, "shape") for a in args[:2]):
        return False
    x, weight = args[:2]
    if str(x.dtype) != "torch.float16" or x.ndim < 2 or weight.ndim != 3:
        return False
    names = ("bias", "stride", "padding", "dilation")
    bound = dict(zip(names, args[2:]), **kwargs)

    def single(value, default):
        value = bound.get(value, default)
        value = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    stride, padding, dilation = single("stride", 1), single("padding", 0), single("dilation", 1)
    if None in (stride, padding, dilation) or dilation == 1 or stride < 1 or padding < 0:
        return False
    length, taps = x.shape[-1], weight.shape[-1]
    outputs = (length + 2 * padding - dilation * (taps - 1) - 1) // stride + 1
    if outputs < 1:
        return False
    at = (np.arange(outputs)[:, None] * stride + np.arange(taps)[None, :] * dilation - padding)
    return not bool(((at >= 0) & (at < length)).any())


_CONV2D_CRASH = ("not run in PyTorch: its float16 dilated conv2d whose windows all lie in the "
                 "padding along a dim crashes the process (SIGSEGV)")


def _float16_conv2d_of_padding_alone(step, args, kwargs):
    """PyTorch 2.13's float16 conv2d with dilation ≠ 1 along a dim where no output window
    reads the input (conv2d(randn(3, 4, 3, 1).half(), randn(2, 4, 1, 1).half(), stride=2,
    padding=1, dilation=2): the width's taps at -1 and 1) dies of SIGSEGV, as its conv1d."""
    return step.entry.name == "conv2d" and _float16_dilated_taps_of_padding_alone(
        args, kwargs, ("bias", "stride", "padding", "dilation"), transposed=False)


def _float16_conv_transpose_backward_of_padding_alone(step, args, kwargs):
    """PyTorch 2.13's float16 conv_transpose1d (2d) with dilation ≠ 1 whose input's gradient,
    the incoming gradient convolved with the weight, reads only padding along a dim (no input
    position's taps reach an output: conv_transpose1d(randn(3, 4, 2).half(), randn(4, 4,
    1).half(), stride=2, padding=1, dilation=2)): its backward runs the float16 dilated conv
    of ``_float16_conv1d_of_padding_alone`` and dies of SIGSEGV. Its forward runs."""
    return step.entry.name in ("conv_transpose1d", "conv_transpose2d") and \
        _float16_dilated_taps_of_padding_alone(
            args, kwargs, ("bias", "stride", "padding", "output_padding", "groups", "dilation"),
            transposed=True)


def _channels_last_group_norm_of_an_input_without_grad(step, args, kwargs):
    """PyTorch 2.13's CPU group_norm backward, for an input whose strides it reads as channels
    last (its ``suggest_memory_format``: NHWC or NDHWC, e.g. randn(2, 3, 1, 1).transpose(1, 2),
    of shape (2, 1, 3, 1) and strides (3, 1, 1, 1)) that does not require grad, with a weight
    or bias that does, writes the input's gradient nobody asked for through an undefined
    tensor's null pointer (GroupNormBackwardKernelImplChannelsLastInternal: a write at address
    12 in the core dump) and dies of SIGSEGV: group_norm(x, 1, weight=ones(1,
    requires_grad=True)).sum().backward() (seed 80103705). Its forward runs; the same input
    contiguous, or requiring grad itself, runs its backward too."""
    if step.entry.name != "group_norm" or not args or not hasattr(args[0], "stride"):
        return False
    from torch._prims_common import suggest_memory_format
    x = args[0]
    if x.requires_grad or x.ndim not in (4, 5) or \
            suggest_memory_format(x) not in (torch.channels_last, torch.channels_last_3d):
        return False
    bound = dict(zip(("num_groups", "weight", "bias"), args[1:]), **kwargs)
    return any(getattr(bound.get(name), "requires_grad", False) for name in ("weight", "bias"))


def _float16_dilated_taps_of_padding_alone(args, kwargs, names, transposed):
    """Whether float16 ``args`` (input, weight, then ``names``) of a convolution (its
    transposed form: of the convolution its backward runs) have a dim with dilation ≠ 1 where
    no window of the (backward's) output reads the input, but only its padding."""
    if len(args) < 2 or not all(hasattr(a, "dtype") and hasattr(a, "shape") for a in args[:2]):
        return False
    x, weight = args[:2]
    dims = weight.ndim - 2
    if str(x.dtype) != "torch.float16" or dims < 1 or x.ndim < dims + 1:
        return False
    bound = dict(zip(names, args[2:]), **kwargs)

    def per_dim(name, default):
        value = bound.get(name, default)
        value = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
        value = value * dims if len(value) == 1 else value
        ok = len(value) == dims and all(isinstance(v, int) and not isinstance(v, bool)
                                        for v in value)
        return value if ok else None

    strides, paddings, dilations = per_dim("stride", 1), per_dim("padding", 0), \
        per_dim("dilation", 1)
    extras = per_dim("output_padding", 0) if transposed else (0,) * dims
    if None in (strides, paddings, dilations, extras):
        return False
    for d in range(dims):
        stride, padding, dilation, extra = strides[d], paddings[d], dilations[d], extras[d]
        if dilation == 1 or stride < 1 or padding < 0:
            continue
        length, taps = x.shape[x.ndim - dims + d], weight.shape[2 + d]
        if transposed:   # (each input position's taps, over the forward's outputs)
            windows, read = length, (length - 1) * stride - 2 * padding + dilation * (taps - 1) \
                + extra + 1
        else:
            windows, read = (length + 2 * padding - dilation * (taps - 1) - 1) // stride + 1, length
        if windows < 1 or read < 1:
            continue
        at = np.arange(windows)[:, None] * stride + np.arange(taps)[None, :] * dilation - padding
        if not ((at >= 0) & (at < read)).any():
            return True
    return False


def items(library, value):
    """A result as a flat list of tensors and Python values."""
    if isinstance(value, (tuple, list)):
        out = []
        for v in value:
            out.extend(items(library, v))
        return out
    return [value]


def first_tensor(library, value):
    return next((v for v in items(library, value) if library.is_tensor(v)), None)


def _unordered(step):
    """topk(sorted=False): the k results come in an order neither library documents."""
    return step.entry.name == "topk" and (step.kwargs.get("sorted") is False or (
        len(step.args) > 4 and step.args[4] is False))


def _ordered_chains(step, outcomes, torch_input=None):
    """topk(sorted=False)'s values in the order of their indices in each library (a recorded
    gather, so the gradients still flow back through topk; equal values, NaNs too, keep one
    order, which sorting the values would not give them).

    Where the libraries chose different elements among equal ones (which of five NaNs are
    the 3 largest: neither documents it) but the same values, PyTorch's chain is its input
    at tapegrad's indices: the gradients then go to the same elements in both, and are
    compared, where each library's own choice would send them to different places."""
    dim = step.kwargs.get("dim", step.args[2] if len(step.args) > 2 else -1)
    chains = {}
    for name, (_, result) in outcomes.items():
        values, indices = result[0], result[1]
        chains[name] = values.gather(dim, indices.argsort(dim=dim))
    if torch_input is None or "torch" not in chains or not chains["torch"].ndim or \
            step.args[0] is not CHAIN:
        return chains
    chosen = np.sort(TAPEGRAD.to_numpy(outcomes["tapegrad"][1][1]), axis=dim)
    if np.array_equal(chosen, np.sort(TORCH.to_numpy(outcomes["torch"][1][1]), axis=dim)):
        return chains
    at_chosen = torch_input.gather(dim, torch.from_numpy(chosen))
    if np.array_equal(np.sort(TORCH.to_numpy(at_chosen), axis=dim),
                      np.sort(TORCH.to_numpy(chains["torch"]), axis=dim), equal_nan=True):
        chains["torch"] = at_chosen
    return chains


class _TapegradValues(torch.autograd.Function if torch is not None else object):
    """PyTorch's chain with tapegrad's values put in, the gradient passed through unchanged."""

    @staticmethod
    def forward(ctx, chain, values):
        return values.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def _arguments(step):
    out = []
    for a in list(step.args) + list(step.kwargs.values()):
        out.extend(a if isinstance(a, (list, tuple)) and not hasattr(a, "_fields") else [a])
    return out


def _bound_arguments(run, step, leaves):
    """``step``'s arguments, made in ``run``'s library from ``leaves`` and the chain, bound to
    its entry's signature by name (no defaults filled in), or None where they do not bind
    (then the call itself raises, as it should)."""
    try:
        return step.entry.signature.bind(*[run.materialize(a, leaves) for a in step.args],
                                         **{k: run.materialize(v, leaves)
                                            for k, v in step.kwargs.items()})
    except TypeError:
        return None


def _leaf_grads(run, value, grad_output):
    """The leaves' gradients after backward from ``value`` (None where there is none)."""
    if run.backward_crashes:   # (a rerun's run too: it raises here instead of dying)
        raise RuntimeError("not run in PyTorch: a step's backward crashes the process (SIGSEGV)")
    for base, _ in run.leaves.values():
        if base.requires_grad:
            base.grad = None
    with warnings.catch_warnings():   # (a leaf changed in place by a tensor that requires
        warnings.simplefilter("ignore")   # grad is no longer a leaf: reading its .grad warns)
        value.backward(grad_output, retain_graph=True)
        return {i: (None if base.grad is None else run.library.to_numpy(base.grad))
                for i, (base, _) in run.leaves.items() if base.requires_grad}


def _leaves_through_float16(program, result_dtypes):
    """The indices of the leaves whose gradients pass through float16, given each step's
    result dtype so far: a float16 leaf, or one whose first step (leaf 0's: the first) or a
    later one gives float16. A float64 leaf first used after a float16 region has float64's
    digits; a float32 leaf used before it keeps float16's."""
    float16 = [np.dtype(d) == np.float16 if d is not None else False for d in result_dtypes]
    out = set()
    for i, leaf in enumerate(program.leaves):
        first = 0 if i == 0 else next((k for k, s in enumerate(program.steps) if any(
            isinstance(x, LeafRef) and x.index == i for x in _arguments(s))), None)
        if leaf.values.dtype == np.float16 or first is not None and any(float16[first:]):
            out.add(i)
    return frozenset(out)


def _through_float16(through_float16, i):
    """Whether leaf ``i``'s gradient is judged at float16's tolerance: ``through_float16``
    the leaves' set (``_leaves_through_float16``), or one answer for every leaf."""
    if isinstance(through_float16, frozenset):
        return i in through_float16
    return bool(through_float16)


def _incoming_gradient(program, a):
    """The random gradient backward starts from at ``a``, the chain after the program's
    steps so far (the same in both libraries and in every rerun)."""
    rng = np.random.default_rng([program.seed, len(program.steps)])
    return rng.standard_normal(tuple(a.shape)).astype(TAPEGRAD.dtype_name(a))


def _in_place(step):
    return (step.entry.name.endswith("_") or step.entry.name == "setitem"
            or step.kwargs.get("inplace") is True)


def _names_a_float_dtype(step):
    """A step given a floating dtype: its float32 and float64 replays may rightly differ."""
    return any(isinstance(a, DType) and a.name.startswith("float")
               for a in list(step.args) + list(step.kwargs.values()))
