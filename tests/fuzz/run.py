"""Running one seeded program in tapegrad (and PyTorch when importable) and comparing.

Each step runs in both libraries before the next is drawn, so the next step's
arguments fit the shape both agree on; the chain stops at the first step that raises
or disagrees. A disagreement is a ``Finding`` named by its kind and the operation of
the step where it first shows (for a gradient: the shortest prefix of the chain whose
gradient already differs, compared right after that step ran, before a later in-place
step could change the prefix and rebase its history; then, of that prefix, the step
whose own backward first differs, each step rerun alone on tapegrad's values and
incoming gradient: ``_blame_first_wrong_backward``).

Compared with PyTorch: errors vs success, shapes, dtypes, values (NaN and inf where the
other has them too, finite values to a tolerance per dtype and per element, the elements
finite in both compared too where NaN or inf differ), ``requires_grad`` and the leaves'
gradients. A refusal in one library only is marked where the fuzzer checks its reason
(``_refusal_explained``). Checked in tapegrad alone:
  raw-error     an error raised inside numpy, or a Python bug (AttributeError, KeyError…)
  float-dtypes  a step that raises in float32 but not in float64, or the other way
  promotion     a binary arithmetic result whose dtype is not that of the same call on
                inputs cast to ``tapegrad.dtypes.result_type`` of them
  gradcheck     float64 finite differences disagree with backward at an element of a leaf
                where the program is smooth (not at a kink, pole or domain edge)

A float16 value or gradient that differs beyond the tolerance (or by NaN/inf) is judged
against a float64 replay of the program that rounds its chain to float16 between steps
(in tapegrad, confirmed by the same replay in PyTorch): where tapegrad agrees with it and
PyTorch does not, PyTorch rounded an intermediate inside an operation (cosh's backward
g·sinh(x) with sinh(x) in float16 first), and the finding's detail says so
(``FLOAT16_NEARER``; ``FLOAT16_BOTH_NEAR`` where both agree with it, one having rounded
past 65504 to inf). Where PyTorch agrees with it and tapegrad does not, the finding stays.
A gradient is judged the same way at the step where it first goes wrong, that step alone
in float64 on the same inputs and incoming gradient, whatever the leaves' dtypes (a
float32 leaf whose gradient passed a float16 step: ``_local_float16_verdict``).

Sums of terms that cancel (1e30 - 1e30 + x, a 0-d leaf's broadcast copies, a first step's
gradient that is 0 in the math from terms of 1e6, copies of a chain element that log_softmax
normalises) are compared to the tolerance of their terms, not of the result (float16's: a
few of its roundings of their size). An elementwise activation's gradient at a NaN, which
PyTorch's kernel gives one way in its vectorised loop and another in its scalar one, is
judged with the same values placed in each loop (``_placed_elsewhere``). PyTorch is not
run where it is known to kill the process or to run for minutes
(``_smallest_integer_by_minus_one``, ``_polygamma_far_below_0``,
``_float16_conv1d_of_padding_alone``): tapegrad's result then stands alone, allowlisted.
"""
import math
import traceback
import warnings
from typing import NamedTuple

import numpy as np

import tapegrad as tg
from tapegrad import dtypes
from tapegrad.autograd.gradcheck import GradcheckError, gradcheck

from . import catalogue
from .generate import (CHAIN, FLOATS, INTEGERS, Context, DType, LeafRef, draw_step, fuzzable,
                       random_shape)

try:
    import torch
except ImportError:  # the fuzzer still checks tapegrad's own invariants
    torch = None

ENTRIES = [e for e in catalogue.entries() if fuzzable(e)]
INTERNAL_ERRORS = (AttributeError, KeyError, UnboundLocalError, NameError, AssertionError,
                   ZeroDivisionError, RecursionError)
NUMPY_MESSAGES = ("operands could not be broadcast together", "could not broadcast input array",
                  "cannot reshape array of size", "is out of bounds for array of dimension",
                  "did not contain a loop with signature", "ufunc", "numpy boolean")
TOLERANCE = {"float16": 2e-2, "float32": 2e-4, "float64": 1e-7}
# A mismatch within NOISE × the tolerance is reported as float noise, the sign kept: a
# summation order or a wider intermediate moves the last digits, never the first (float16's
# own tolerance is already 2%, so its band stops at 10%)
NOISE = {"float16": 5, "float32": 100, "float64": 100}


class Finding(NamedTuple):
    kind: str
    op: str
    detail: str
    seed: int


# -- the two libraries ------------------------------------------------------------------
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


# -- comparing ---------------------------------------------------------------------------
def compare_arrays(a, b, dtype_name, scale=None):
    """None when equal; else "value" or "float-noise" with a description. Each element is
    compared to a tolerance of its own size (relative, with an absolute floor of the
    tolerance·1e-2 at 1, or at ``scale``: the size of the terms the values were summed
    from, where larger than the values), so that one huge element leaves the others checked.
    A difference is float noise within NOISE × that tolerance with the floor at the
    tensor's largest element (a gradient's terms are often of that size), leaving out
    elements of 1e15 and more (the fuzzer's 1e30 and its residues), and of the same sign
    unless within the tolerance at that floor."""
    if a.shape != b.shape:
        return "shape", f"shape {a.shape} vs torch {b.shape}"
    if scale is not None and not np.isfinite(scale):
        scale = None   # (an infinite scale would let every finite difference pass)
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        if np.array_equal(a, b):
            return None
        return "value", f"{_show(a)} vs torch {_show(b)}"
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(a64) & np.isfinite(b64)
    nan_differs = np.isnan(a64) != np.isnan(b64)
    if nan_differs.any():
        start = _window(nan_differs)
        return "value", (f"NaN where torch has none or the other way: {_show(a, start)} vs "
                         f"torch {_show(b, start)}"
                         f"{_finite_elements_differ(a64, b64, finite, dtype_name, scale)}")
    if not np.array_equal(a64[~finite & ~np.isnan(a64)], b64[~finite & ~np.isnan(b64)]):
        start = _window(~finite & (a64 != b64) & ~np.isnan(a64))
        return "value", (f"inf differs: {_show(a, start)} vs torch {_show(b, start)}"
                         f"{_finite_elements_differ(a64, b64, finite, dtype_name, scale)}")
    error, beyond_noise = _beyond(a64[finite], b64[finite], dtype_name, scale)
    if not error.size or error.max() <= 0:
        return None
    kind = "value" if beyond_noise.any() else "float-noise"
    # the window shows what makes the finding what it is: a value finding's first element
    # beyond the noise band (not an earlier one merely over the tolerance), so that an
    # allowlist pattern on the shown numbers sees the real error
    wrong = np.zeros(a64.shape, bool)
    wrong[finite] = beyond_noise if kind == "value" else error > 0
    start = _window(wrong)
    return kind, f"{_show(a, start)} vs torch {_show(b, start)}"


def _beyond(x, y, dtype_name, scale=None):
    """(how far each of ``x`` is beyond its tolerance around ``y``, positive where it is;
    where it is beyond the noise band too, or of the other sign)."""
    tol = TOLERANCE.get(dtype_name, 2e-4)
    floor = max(1.0, scale or 0.0)
    error = np.abs(x - y) - (tol * np.abs(y) + tol * 1e-2 * floor)
    ordinary = np.abs(y)[np.abs(y) < 1e15]
    largest = max(floor, float(ordinary.max()) if ordinary.size else 0.0)
    within = tol * np.abs(y) + tol * 1e-2 * largest
    # of the other sign: noise only within the tolerance at that floor (a residue against a
    # residue); a zero against a residue may be noise
    same_sign = (np.sign(x) * np.sign(y) >= 0) | (np.abs(x - y) <= within)
    beyond_noise = ~((np.abs(x - y) <= NOISE.get(dtype_name, 100) * within) & same_sign)
    return error, beyond_noise & (error > 0)


FINITE_ELEMENTS_DIFFER = " [finite elements differ: "


def _finite_elements_differ(a64, b64, finite, dtype_name, scale):
    """For a finding on NaN or inf: a mark naming the first element finite in both that
    differs beyond the noise band too (the shown window may not reach it), or ""."""
    _, beyond_noise = _beyond(a64[finite], b64[finite], dtype_name, scale)
    if not beyond_noise.any():
        return ""
    i = int(np.flatnonzero(finite.reshape(-1))[np.argmax(beyond_noise)])
    return (f"{FINITE_ELEMENTS_DIFFER}{a64.reshape(-1)[i]:.7g} vs torch "
            f"{b64.reshape(-1)[i]:.7g} at {i}]")


def _window(mismatch):
    """Where the 8 elements a finding shows start: at the first element of ``mismatch`` (the
    first NaN or inf that differs, or value beyond the noise band: so that the detail, and
    the allowlist's patterns, see it), 8 from the end at most."""
    flat = np.asarray(mismatch).reshape(-1)
    return max(0, min(int(np.argmax(flat)), flat.size - 8))


def _show(array, start=0):
    return np.array2string(np.asarray(array).reshape(-1)[start:start + 8], precision=5,
                           threshold=8)


INDEX_RESULTS = ("argsort", "argmax", "argmin")


def _output_names(op, r_tg, count):
    """The name each compared output's detail starts with: "indices: " for the indices of a
    (values, indices) result (max, sort, topk, a max pooling's…) and for a result of
    indices (argsort), so
    that an entry on which equal element's index is picked cannot match a wrong value."""
    fields = getattr(r_tg, "_fields", None)
    if fields and len(fields) == count:
        return ["indices: " if name == "indices" else "" for name in fields]
    if op and "pool" in op and count == 2:   # (max_pool2d_with_indices, return_indices=True)
        return ["", "indices: "]
    return ["indices: " if op in INDEX_RESULTS else ""] * count


def compare_results(r_tg, r_torch, op=None):
    """A list of (kind, detail) between two successful results (of the operation ``op``)."""
    a_items, b_items = items(TAPEGRAD, r_tg), items(TORCH, r_torch)
    if len(a_items) != len(b_items):
        return [("structure", f"{len(a_items)} results vs torch {len(b_items)}")]
    found = []
    for a, b, name in zip(a_items, b_items, _output_names(op, r_tg, len(a_items))):
        a_tensor, b_tensor = TAPEGRAD.is_tensor(a), TORCH.is_tensor(b)
        if a_tensor != b_tensor:
            found.append(("structure", f"{type(a).__name__} vs torch {type(b).__name__}"))
            continue
        if not a_tensor:
            if a != b and not (a != a and b != b):
                found.append(("value", f"{a!r} vs torch {b!r}"))
            continue
        a_dtype, b_dtype = TAPEGRAD.dtype_name(a), TORCH.dtype_name(b)
        if a_dtype != b_dtype:
            found.append(("dtype", f"{a_dtype} vs torch {b_dtype}"))
        if tuple(a.shape) != tuple(b.shape):
            found.append(("shape", f"{tuple(a.shape)} vs torch {tuple(b.shape)}"))
            continue
        if bool(a.requires_grad) != bool(b.requires_grad):
            found.append(("requires-grad", f"{a.requires_grad} vs torch {b.requires_grad} "
                                            f"({a_dtype})"))
        if a_dtype == b_dtype:
            diff = compare_arrays(TAPEGRAD.to_numpy(a), TORCH.to_numpy(b), a_dtype)
            if diff:
                found.append((diff[0], name + diff[1]))
    return found


def _argument_error(error):
    """True for PyTorch refusing the arguments themselves (a call it does not accept)."""
    text = str(error)
    return isinstance(error, TypeError) and any(k in text for k in (
        "invalid combination of arguments", "positional argument", "unexpected keyword",
        "must be Tensor, not", "must be tuple of ints", "missing", "must be int, not NoneType"))


def raw_error(error):
    """Why ``error`` is not tapegrad's own message, or None."""
    if isinstance(error, INTERNAL_ERRORS):
        return f"{type(error).__name__}: {error}"
    if type(error).__module__.startswith("numpy"):
        return f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    if frames and "/numpy/" in frames[-1].filename:
        return f"{type(error).__name__} from numpy: {error}"
    if any(pattern in str(error) for pattern in NUMPY_MESSAGES):   # raised by numpy's C code
        return f"{type(error).__name__} from numpy: {error}"
    return None


def _refusal_explained(program, step, runs, kind, message, result):
    """The mark for a refusal in one library only whose reason the fuzzer checks, or "":
    tapegrad's view refusing an input that PyTorch lays out otherwise (LAID_OUT_OTHERWISE);
    scatter refusing a value with an empty index (EMPTY_INDEX); cholesky refusing a
    matrix singular up to rounding (SINGULAR_UP_TO_ROUNDING); PyTorch refusing a number its
    integer dtype cannot hold where the same step in float64 gives a result that dtype holds,
    tapegrad's (WIDENED_AGREES)."""
    tapegrad_in, torch_in = runs["tapegrad"].chain, runs["torch"].chain
    if kind == "tapegrad-raises" and step.entry.name in ("view", "view_as") and \
            "cannot be viewed as shape" in message and TAPEGRAD.is_tensor(tapegrad_in) and \
            TORCH.is_tensor(torch_in) and tuple(tapegrad_in.stride()) != tuple(torch_in.stride()):
        return LAID_OUT_OTHERWISE.format(tuple(tapegrad_in.stride()), tuple(torch_in.stride()))
    if kind == "tapegrad-raises" and step.entry.name.startswith("scatter") and \
            "cannot be stored in a tensor" in message:
        index = step.kwargs.get("index", step.args[2] if len(step.args) > 2 else None)
        if isinstance(index, LeafRef) and 0 in program.leaves[index.index].view_shape:
            return EMPTY_INDEX
    if kind == "tapegrad-raises" and step.entry.name == "cholesky" and \
            "positive-definite" in message and TAPEGRAD.is_tensor(tapegrad_in):
        return _singular_up_to_rounding(TAPEGRAD.to_numpy(tapegrad_in))
    if kind == "tapegrad-computes" and "value cannot be converted to type" in message:
        return _widened_agrees(program, step, torch_in, result)
    return ""


LAID_OUT_OTHERWISE = " [laid out otherwise in PyTorch: strides {} vs torch {}]"
EMPTY_INDEX = " [empty index]"
SINGULAR_UP_TO_ROUNDING = " [singular up to rounding: an eigenvalue within 4n·ε·‖A‖ of 0]"
WIDENED_AGREES = (" [PyTorch on the input in float64 gives tapegrad's result: truncated into "
                  "an integer dtype's range, rounded in a float one]")


def _singular_up_to_rounding(a):
    """SINGULAR_UP_TO_ROUNDING where some matrix of ``a`` (its lower triangle, which is all
    cholesky reads) has an eigenvalue within 4n·ε·‖A‖₂ of 0 (ε of its dtype): a pivot that
    rounding may take to either side of 0. "" for a clearly definite or indefinite one."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or a.size == 0 or a.dtype.kind != "f" or \
            not np.isfinite(a).all():
        return ""
    lower = np.tril(a.astype(np.float64))
    symmetric = lower + np.swapaxes(np.tril(lower, -1), -1, -2)
    eigenvalues = np.linalg.eigvalsh(symmetric)
    n, eps = a.shape[-1], float(np.finfo(a.dtype).eps)
    size = np.abs(eigenvalues).max(axis=-1)
    near = np.abs(eigenvalues).min(axis=-1) <= 4 * n * eps * size
    return SINGULAR_UP_TO_ROUNDING if near.any() else ""


def _widened_agrees(program, step, torch_in, result):
    """WIDENED_AGREES where PyTorch, run on its chain in float64 (the other arguments as
    they are), gives tapegrad's result: values an integer result dtype holds once truncated
    toward 0, or that round to tapegrad's in a float one; else "". (PyTorch refused a
    number beyond the chain's dtype, clamp(uint8, max=300): the math is defined, and
    tapegrad must give it, not a wrap.)"""
    if torch is None or not TORCH.is_tensor(torch_in) or not isinstance(result, tg.Tensor):
        return ""
    run = Run(TORCH)
    run.chain = torch_in.detach().to(torch.float64)
    status, wide = run.call(step, program.leaves, on_a_copy=True)
    wide = first_tensor(TORCH, wide) if status == "ok" else None
    if wide is None:
        return ""
    wide, ours = TORCH.to_numpy(wide).astype(np.float64), TAPEGRAD.to_numpy(result)
    if wide.shape != ours.shape:
        return ""
    if ours.dtype.kind in "iub":   # (truncated toward 0, as PyTorch casts 2.7 to 2)
        wide = np.trunc(wide)
        info = np.iinfo(ours.dtype) if ours.dtype.kind != "b" else None
        with np.errstate(invalid="ignore"):
            held = (wide >= info.min) & (wide <= info.max) if info else np.isin(wide, (0, 1))
        if not held.all():   # (NaN and ±inf: not held)
            return ""
    elif ours.dtype.kind == "f":   # (rounded as a cast rounds: 1e30 in float16 is inf)
        with np.errstate(over="ignore"):
            wide = wide.astype(ours.dtype).astype(np.float64)
    return WIDENED_AGREES if np.array_equal(ours.astype(np.float64), wide, equal_nan=True) else ""


# -- one program ------------------------------------------------------------------------
class Program:
    def __init__(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.special_values = self.rng.random() < 0.4
        self.leaves = []
        self.steps = []

    def context(self, shape, dtype):
        ctx = Context(self.rng, shape, dtype, self.special_values)
        ctx.leaves = self.leaves
        return ctx

    def describe(self):
        lines = [f"seed {self.seed}:"]
        for i, leaf in enumerate(self.leaves):
            lines.append(f"  leaf{i}: {leaf.values.dtype} {leaf.view_shape} {leaf.layout} "
                         f"requires_grad={leaf.requires_grad} {_show(leaf.values)}")
        for step in self.steps:
            lines.append(f"  {step.entry.name}(*{step.args!r}, **{step.kwargs!r})")
        return "\n".join(lines)


def run_program(seed, compare_with_torch=True, check_invariants=True, entries=None):
    """Run the program of ``seed`` (drawing its operations from ``entries``, by default
    every fuzzable one); (its findings, the Program)."""
    entries = entries or ENTRIES
    program = Program(seed)
    rng = program.rng
    use_torch = compare_with_torch and torch is not None
    first_dtype = rng.choice(FLOATS * 3 + INTEGERS + ("bool",))
    ctx = program.context((), first_dtype)
    first = ctx.add_leaf(random_shape(ctx), first_dtype)
    runs = {"tapegrad": Run(TAPEGRAD)}
    if use_torch:
        runs["torch"] = Run(TORCH)
    for run in runs.values():
        run.chain = run.materialize(first, program.leaves)
    findings, gradient_findings = [], []
    weighted_means = {}   # leaf index -> a weighted mean it weights (_weighted_mean_terms)
    norm_values = {}   # id of a layer_norm or group_norm step -> tapegrad's result
    lone_groups = False   # a group_norm of groups of one value, or a layer_norm or group_norm
    # of a group of equal values, so far (PyTorch's gradients through its x̂ carry no digit,
    # at its step and later: _gradients_agree_with_norms_in_float64 judges them)
    through_float16 = first_dtype == "float16"   # a gradient that passed float16 has its precision
    chain_inputs = []   # per step: (tapegrad's chain before it, whether it required grad)
    result_dtypes = []   # per step: tapegrad's result's dtype (_leaves_through_float16)
    shape, dtype = program.leaves[0].view_shape, first_dtype
    for _ in range(int(rng.integers(1, 7))):
        entry = entries[int(rng.integers(len(entries)))]
        step = draw_step(program.context(shape, dtype), entry)
        if step is None:
            continue
        program.steps.append(step)
        chain_before = (np.array(TAPEGRAD.to_numpy(runs["tapegrad"].chain))
                        if use_torch and program.steps[:-1] else None)
        equal_groups_here = _equal_value_groups(step, runs["tapegrad"].chain)
        step_input = (np.array(TAPEGRAD.to_numpy(runs["tapegrad"].chain))
                      if entry.name in ("batch_norm", "group_norm") + CASTS and
                      TAPEGRAD.is_tensor(runs["tapegrad"].chain)
                      else None)
        lone_groups = lone_groups or equal_groups_here
        chain_inputs.append(None if chain_before is None else   # (for _first_wrong_backward)
                            (chain_before, bool(runs["tapegrad"].chain.requires_grad)))
        outcomes = {name: run.call(step, program.leaves) for name, run in runs.items()}
        status, result = outcomes["tapegrad"]
        if status == "error" and check_invariants and raw_error(result):
            findings.append(Finding("raw-error", entry.name, raw_error(result), seed))
        if use_torch:
            t_status, t_result = outcomes["torch"]
            if status != t_status:
                kind = "tapegrad-raises" if status == "error" else "tapegrad-computes"
                error = result if status == "error" else t_result
                if status == "ok" and _argument_error(t_result):
                    kind = "signature"
                mark = (kind == "tapegrad-computes" and
                        _torch_factors_in_float64(program, step, chain_before, result)) or \
                    _refusal_explained(program, step, runs, kind, str(error), result)
                findings.append(Finding(kind, entry.name,
                                        f"{type(error).__name__}: {str(error)[:200]}"
                                        f"{mark or ''}", seed))
                break
            if status == "ok":
                if _unordered(step):
                    result, t_result = _in_order(step, result, t_result)
                diffs = compare_results(result, t_result, entry.name)
                if any(k == "value" for k, _ in diffs) and _sums_cancelling_terms(
                        program, step, chain_before, result, t_result):
                    diffs = [("float-noise" if k == "value" else k,
                              ("cancelling terms: " if k == "value" else "") + d)
                             for k, d in diffs]
                if chain_before is not None and any(k == "value" for k, _ in diffs) and \
                        _agrees_on_tapegrad_input(program, step, chain_before, result):
                    diffs = [("float-noise" if k == "value" else k,
                              ("inherited: " if k == "value" else "") + d) for k, d in diffs]
                if _writes_twice_to_one_place(program, step):   # (PyTorch: undefined)
                    diffs = [(k, d) for k, d in diffs if k != "value"]
                    findings.extend(Finding(k, entry.name, d + _layouts(program), seed)
                                    for k, d in diffs)
                    break   # the two chains may now differ where each wrote last
                if (_lone_value_groups(step, shape) and _lone_groups_differ_by_a_residue(
                        program, step, step_input, result, t_result)) or \
                        _equal_channels_alone_differ(program, step, step_input, result, t_result):
                    diffs = [("float-noise" if k == "value" else k,
                              ("groups of one value: " if k == "value" else "") + d)
                             for k, d in diffs]
                unrepresentable = any(k == "value" for k, _ in diffs) and \
                    _cast_of_unrepresentable(step, step_input, result, t_result)
                if unrepresentable:
                    diffs = [(k, d + (unrepresentable if k == "value" else "")) for k, d in diffs]
                verdict = any(k == "value" for k, _ in diffs) and _float16_value_verdict(
                    program, result, t_result)
                if verdict:
                    diffs = [(k, (verdict if k == "value" else "") + d) for k, d in diffs]
                overflow = any(k == "value" for k, _ in diffs) and (
                    _torch_normalised_an_overflow(program, step, chain_before, result, t_result)
                    or _norm_agrees_by_its_formula(program, step, chain_before, result)
                    or _normalizing_agrees_widened(program, step, result, through_float16)
                    or _gammas_agree_widened(program, step, chain_before, result)
                    or _marked_by_a_rerun(program, step, result, through_float16)
                    or _operand_value_mark(program, step, chain_before, result))
                if overflow:
                    diffs = [(k, d + (overflow if k == "value" else "")) for k, d in diffs]
                findings.extend(Finding(k, entry.name, d + _layouts(program), seed)
                                for k, d in diffs)
                if diffs:
                    break
        if status == "error":
            break
        if check_invariants:
            findings.extend(_promotion(program, step, runs["tapegrad"], result))
        if use_torch:
            weighted_means.update(_weighted_mean_terms(program, step, chain_before, result))
        chains = {name: first_tensor(run.library, outcomes[name][1]) for name, run in runs.items()}
        if any(c is None for c in chains.values()):
            break
        if _unordered(step):   # the steps after it must not see an order neither library
            chains = _ordered_chains(   # documents: go on in index order
                step, outcomes, runs["torch"].chain if use_torch else None)
        for name, run in runs.items():
            run.chain = chains[name]
        if step.entry.name in NORMS:   # (read now: a later in-place step may overwrite it)
            norm_values[id(step)] = np.array(TAPEGRAD.to_numpy(chains["tapegrad"]))
        through_float16 = through_float16 or TAPEGRAD.dtype_name(chains["tapegrad"]) == "float16"
        result_dtypes.append(TAPEGRAD.dtype_name(chains["tapegrad"]))
        float16_leaves = _leaves_through_float16(program, result_dtypes)
        lone_groups = lone_groups or _lone_value_groups(step, shape)
        if use_torch and not gradient_findings and not _torch_backward_corrupts_memory(program):
            gradient_findings = _compare_gradients(program, runs, step, chains["tapegrad"],
                                                   chains["torch"], float16_leaves,
                                                   weighted_means)
            if lone_groups and any(f.kind == "gradient" for f in gradient_findings) and \
                    _gradients_agree_with_norms_in_float64(program, runs, step,
                                                           chains["tapegrad"], norm_values,
                                                           float16_leaves, weighted_means):
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail=f.detail + NORMS_IN_FLOAT64)
                                     if f.kind == "gradient" else f for f in gradient_findings]
            if equal_groups_here == TWO_VALUES:   # at the norm itself, for its input's part
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail=TWO_VALUES + f.detail)
                                     if f.kind == "gradient" and
                                     _through_the_norms_input_alone(step, f) else f
                                     for f in gradient_findings]
            if chain_before is not None and any(f.kind == "gradient" for f in gradient_findings) \
                    and _gradients_agree_on_tapegrad_values(program, runs, step, chain_inputs,
                                                            chains["tapegrad"], float16_leaves,
                                                            weighted_means):
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail="inherited: " + f.detail)
                                     if f.kind == "gradient" else f for f in gradient_findings]
            if any(f.kind == "gradient" for f in gradient_findings):
                gradient_findings = _blame_first_wrong_backward(program, chain_inputs,
                                                                chains["tapegrad"],
                                                                gradient_findings)
            if any(f.kind == "gradient" for f in gradient_findings) and \
                    _mean_of_huge_terms(program, chain_inputs, gradient_findings) and \
                    _gradients_within_their_largest(program, runs, chains, through_float16):
                gradient_findings = [f._replace(kind="gradient-float-noise",
                                                detail="cancelling terms: " + f.detail)
                                     if f.kind == "gradient" else f for f in gradient_findings]
        shape, dtype = tuple(chains["tapegrad"].shape), TAPEGRAD.dtype_name(chains["tapegrad"])
    if not findings:
        findings.extend(gradient_findings)
    if check_invariants and not any(f.kind == "raw-error" for f in findings):
        findings.extend(_float_dtypes(program))
        findings.extend(_gradcheck(program))
    return findings, program


CASTS = ("int", "long", "to", "type_as")
UNREPRESENTABLE = " [float to integer of NaN, ±inf or a value beyond the integer's range]"


def _cast_of_unrepresentable(step, x, result, t_result):
    """UNREPRESENTABLE where a cast of floats to an integer dtype differs only at elements
    whose float is NaN, ±inf or beyond the integer's range (undefined in C: each library
    gives its own garbage), else "". Everywhere else the integer must be the float's, truncated
    toward 0, in both."""
    if step.entry.name not in CASTS or x is None or x.dtype.kind != "f" or \
            not isinstance(result, tg.Tensor) or torch is None or \
            not isinstance(t_result, torch.Tensor):
        return ""
    a, b = TAPEGRAD.to_numpy(result), TORCH.to_numpy(t_result)
    if a.dtype.kind not in "iu" or a.shape != x.shape or b.shape != x.shape:
        return ""
    info = np.iinfo(a.dtype)
    with np.errstate(invalid="ignore"):
        whole = np.trunc(x.astype(np.float64))
        representable = (whole >= info.min) & (whole < float(info.max) + 1)   # (NaN: False)
    return UNREPRESENTABLE if np.array_equal(a[representable], b[representable]) else ""


def _lone_value_groups(step, shape):
    """group_norm whose groups hold one value each (C/G channels × the spatial size = 1):
    x - μ is 0 by definition, and PyTorch's kernel returns its rounding residue times
    1/√ε (≈316): its values and the gradients through x̂ carry no digit to compare"""
    if step.entry.name != "group_norm" or len(shape) < 2:
        return False
    groups = step.kwargs.get("num_groups", step.args[1] if len(step.args) > 1 else None)
    if not isinstance(groups, int) or groups <= 0 or shape[1] % groups:
        return False
    return shape[1] // groups * math.prod(shape[2:]) == 1


def _lone_groups_differ_by_a_residue(program, step, x, result, t_result):
    """group_norm of groups of one value (``_lone_value_groups``) where tapegrad's result is
    the bias exactly (x̂ = 0: y = 0·γ + β), and PyTorch's differs from it by no more than its
    residue can make: |x̂| ≤ 8 ulps of x/√ε, and below 1 (a residue over √(residue² + ε)),
    times |γ|. Where x or γ is not finite, both results must be NaN or ±inf."""
    if x is None or not isinstance(result, tg.Tensor) or torch is None or \
            not isinstance(t_result, torch.Tensor) or tuple(result.shape) != x.shape or \
            x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        return False

    def per_channel(name, place, default):
        value = step.kwargs.get(name, step.args[place] if len(step.args) > place else None)
        if value is None:
            return np.full(x.shape[1], default)
        if not isinstance(value, LeafRef):
            return None
        value = np.asarray(program.leaves[value.index].values, np.float64).reshape(-1)
        return np.broadcast_to(value, (x.shape[1],)) if value.size in (1, x.shape[1]) else None

    gamma, beta = per_channel("weight", 2, 1.0), per_channel("bias", 3, 0.0)
    eps = step.kwargs.get("eps", step.args[4] if len(step.args) > 4 else 1e-5)
    if gamma is None or beta is None or not isinstance(eps, (int, float)) or eps <= 0:
        return False
    along_channels = (1, -1) + (1,) * (x.ndim - 2)
    gamma, beta = gamma.reshape(along_channels), beta.reshape(along_channels)
    a = TAPEGRAD.to_numpy(result).astype(np.float64)
    b = t_result.detach().double().numpy()
    smooth = np.isfinite(x) & np.isfinite(gamma) & np.isfinite(beta)
    bias = np.broadcast_to(beta.astype(x.dtype).astype(np.float64), a.shape)
    with np.errstate(invalid="ignore"):
        spacing = np.spacing(np.abs(x)).astype(np.float64)
    residue = np.minimum(8 * spacing / math.sqrt(eps),
                         1.0) * np.abs(gamma)
    floor = 1e-2 * TOLERANCE.get(str(x.dtype), 2e-4)
    with np.errstate(invalid="ignore"):
        bias_here = np.array_equal(a[smooth], bias[smooth])
        near = bool((np.abs(a - b) <= residue + floor)[smooth].all())
    elsewhere = ~smooth & ~(np.isclose(a, b, equal_nan=True) |
                            (~np.isfinite(a) & ~np.isfinite(b)))
    return bias_here and near and not elsewhere.any()


def _equal_channels_alone_differ(program, step, x, result, t_result):
    """batch_norm in training whose values differ only in channels of equal values (an
    expanded leaf), and there by no more than such a residue can make: x - μ is 0 by
    definition, a rounding residue of the mean in both libraries (a few ulps of x), times
    |γ|/√ε (γ = -3837, ε = 1e-5: 1.2e6), so those channels carry no digit to compare"""
    training = step.kwargs.get("training", step.args[5] if len(step.args) > 5 else False)
    if step.entry.name != "batch_norm" or training is not True:
        return False
    if x is None or not isinstance(result, tg.Tensor) or torch is None or \
            not isinstance(t_result, torch.Tensor) or x.ndim < 2 or x.size == 0 or \
            tuple(result.shape) != x.shape or not np.issubdtype(x.dtype, np.floating):
        return False
    channels = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
    with np.errstate(invalid="ignore"):
        equal = (channels.max(axis=1) == channels.min(axis=1)) & np.isfinite(channels).all(axis=1)
    a = np.moveaxis(TAPEGRAD.to_numpy(result).astype(np.float64), 1, 0).reshape(len(equal), -1)
    b = np.moveaxis(t_result.detach().double().numpy(), 1, 0).reshape(len(equal), -1)
    # (exactly: a residue of 1e-6 both sides of 0 is a difference to the comparison)
    differ = ~((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)
    if not (differ.any() and equal[differ].all()):
        return False
    weight = step.kwargs.get("weight", step.args[3] if len(step.args) > 3 else None)
    gamma = (np.abs(np.asarray(program.leaves[weight.index].values, np.float64)).reshape(-1)
             if isinstance(weight, LeafRef) else np.ones(1))
    gamma = np.broadcast_to(gamma, (len(equal),)) if gamma.size in (1, len(equal)) else None
    eps = step.kwargs.get("eps", step.args[7] if len(step.args) > 7 else 1e-5)
    if gamma is None or not isinstance(eps, (int, float)) or eps <= 0:
        return False
    residue = 8 * np.spacing(np.abs(channels[:, 0]).astype(x.dtype)).astype(np.float64)
    bound = gamma * residue / math.sqrt(eps)
    return bool((np.abs(a - b)[differ] <= bound[differ, None]).all())


def _equal_value_groups(step, chain):
    """layer_norm or group_norm of an input holding a normalised group of equal values (an
    expanded leaf): x - μ is exactly 0 here and a rounding residue in PyTorch (x·r - μ·r),
    which the later steps' gradients through x̂ magnify (a slope of 1e12 makes it 0.01);
    or groups of two values with ε = 0, whose gradient is a cancellation of the same kind.
    Which of the two (TWO_VALUES or "equal values"), or "": the gradients are then judged by
    PyTorch's rerun with the norms by their formula in float64, at the norm too, and the
    input's part of the gradient of two values with ε = 0 is no digit to compare"""
    if step.entry.name not in ("layer_norm", "group_norm") or not TAPEGRAD.is_tensor(chain) \
            or not chain.dtype.is_floating_point or chain.numel() == 0:
        return ""
    values = TAPEGRAD.to_numpy(chain)
    size = step.kwargs.get("normalized_shape" if step.entry.name == "layer_norm" else
                           "num_groups", step.args[1] if len(step.args) > 1 else None)
    try:
        if step.entry.name == "layer_norm":
            k = 1 if isinstance(size, int) else len(size)
            rows = values.reshape(-1, math.prod(values.shape[values.ndim - k:]))
        else:
            rows = values.reshape(values.shape[0] * size, -1)
    except Exception:  # noqa: BLE001 - arguments the step itself refuses: no groups to judge
        return ""
    if rows.size == 0:
        return ""
    if rows.shape[1] == 2 and step.kwargs.get("eps", step.args[4] if len(step.args) > 4
                                              else 1e-5) == 0:
        return TWO_VALUES   # x̂ = ±1 whatever x: ∂y/∂x = 0 by a cancellation
    if rows.shape[1] == 2:   # ∂x̂/∂x ∝ ε/(σ² + ε): a cancellation of 1 - x̂², float32's
        return "two values"   # rounding of x̂ (PyTorch's) magnified by σ²/ε
    with np.errstate(invalid="ignore"):
        equal = (rows.max(axis=1) == rows.min(axis=1)) & np.isfinite(rows).all(axis=1)
    return "equal values" if equal.any() else ""


TWO_VALUES = "groups of two values with ε = 0: "


def _through_the_norms_input_alone(step, finding):
    """A gradient finding of a leaf that is not the norm ``step``'s weight or bias (its
    gradient reaches the leaves through the norm's input, where it is 0 by a cancellation
    for groups of two values with ε = 0: a residue in both libraries)."""
    affine = {a.index for a in list(step.args[2:]) + [step.kwargs.get("weight"),
                                                      step.kwargs.get("bias")]
              if isinstance(a, LeafRef)}
    leaf = finding.detail.split(" ", 1)[0]
    return leaf.startswith("leaf") and leaf[4:].isdigit() and int(leaf[4:]) not in affine


def _torch_normalised_an_overflow(program, step, chain_before, result, t_result):
    """batch_norm/layer_norm/group_norm of float32 values whose squares overflow (|x| ≥ 2e19),
    or of float64 ones (|x| ≥ 1e153, as nan_to_num's -1.8e308 for -inf): PyTorch's σ² is inf,
    so its x̂ is 0. The marker for the finding's detail, or "":
    " [squares overflow]" where PyTorch's whole result is that of an input of zeros (β,
    where a bias is given); " [squares overflow, tapegrad as PyTorch in float64]" where
    only some channels (groups, rows) overflowed. Either only where PyTorch's own float64
    result, whose squares do not overflow (float64 input rescaled), agrees with tapegrad's"""
    if step.entry.name not in ("batch_norm", "layer_norm", "group_norm") or torch is None:
        return ""
    x = (np.asarray(program.leaves[0].values) if chain_before is None else chain_before)
    # (float64 squares overflow beyond 1e154: -1.8e308, nan_to_num's -inf, among small values)
    huge = {np.dtype(np.float32): 2e19, np.dtype(np.float64): 1e153}.get(x.dtype)
    if huge is None or not (np.isfinite(x) & (np.abs(x) >= huge)).any():
        return ""
    if not isinstance(t_result, torch.Tensor) or not isinstance(result, tg.Tensor):
        return ""
    run = Run(TORCH)
    run.chain = torch.zeros(tuple(t_result.shape) if chain_before is None else x.shape,
                            dtype=getattr(torch, str(x.dtype)))
    status, zeros_result = run.call(step, program.leaves)
    zeroed = status == "ok" and torch.allclose(zeros_result.detach(), t_result.detach(), rtol=0,
                                               atol=0, equal_nan=True)
    if not zeroed and step.entry.name == "batch_norm" and not step.kwargs.get(
            "training", len(step.args) > 5 and step.args[5]):
        return ""   # (in evaluation the running statistics normalise: no squares to overflow)
    wide_result = _norm_in_float64_rescaled(program, step, chain_before, x)
    if wide_result is None or compare_arrays(
            TAPEGRAD.to_numpy(result), TORCH.to_numpy(wide_result).astype(x.dtype),
            str(x.dtype)) is not None:
        return ""   # (tapegrad's values must be the normalised ones, zeroed or not)
    return " [squares overflow]" if zeroed else " [squares overflow, tapegrad as PyTorch in float64]"


_EPS_POSITION = {"layer_norm": 4, "group_norm": 4, "batch_norm": 7}


def _norm_in_float64_rescaled(program, step, chain_before, x):
    """PyTorch's result of the norm ``step`` in float64, its input x scaled by a power of two
    (exact) so that its squares fit (float64 values beyond 1e150 brought to 2⁵⁰⁰) and ε by
    its square: the same normalised values (x̂ does not change). None where it fails."""
    wide = Run(TORCH, "float64")
    chain = (wide.materialize(LeafRef(0), program.leaves) if chain_before is None
             else torch.from_numpy(x.astype(np.float64)))
    finite = np.abs(x[np.isfinite(x)]).astype(np.float64)
    exponent = int(np.frexp(finite.max())[1]) if finite.size else 0
    scale = 2.0 ** (500 - exponent) if exponent > 500 else 1.0
    wide.chain = chain * scale
    if scale != 1.0:
        position = _EPS_POSITION[step.entry.name]
        eps = step.kwargs.get("eps", step.args[position] if len(step.args) > position else 1e-5)
        if not isinstance(eps, (int, float)):
            return None
        step = step._replace(args=step.args[:position],
                             kwargs={**step.kwargs, "eps": eps * scale * scale})
    status, wide_result = wide.call(step, program.leaves)
    return wide_result if status == "ok" and isinstance(wide_result, torch.Tensor) else None


CHOLESKY_IN_FLOAT64 = " [PyTorch's float64 cholesky factors it: tapegrad's factor]"


def _torch_factors_in_float64(program, step, chain_before, result):
    """cholesky of a float32 matrix that tapegrad factors and PyTorch's float32 kernel
    refuses as not positive-definite: CHOLESKY_IN_FLOAT64 where PyTorch's float64 kernel
    factors the same matrix and its factor, rounded to float32, is tapegrad's (else "")."""
    if step.entry.name != "cholesky" or not TAPEGRAD.is_tensor(result):
        return ""
    x = np.asarray(program.leaves[0].values) if chain_before is None else chain_before
    if x.dtype != np.float32:
        return ""
    run = Run(TORCH, "float64")
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else torch.from_numpy(x.astype(np.float64)))
    status, wide = run.call(step, program.leaves)
    if status != "ok" or not TORCH.is_tensor(wide):
        return ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factor = TORCH.to_numpy(wide).astype(np.float32)
    if compare_arrays(TAPEGRAD.to_numpy(result), factor, "float32") is None:
        return CHOLESKY_IN_FLOAT64
    return ""


NORM_BY_ITS_FORMULA = " [PyTorch agrees with the norm by its formula in float64]"


def _norm_agrees_by_its_formula(program, step, chain_before, result):
    """layer_norm or group_norm whose values differ (a group of equal values: x - μ is
    exactly 0 here, a rounding residue in PyTorch's x·r - μ·r, which a large weight
    magnifies): NORM_BY_ITS_FORMULA where PyTorch computing (x - μ)/√(σ² + ε)·w + b from
    its elementary operations in float64, rounded back, gives tapegrad's values (else "")."""
    if step.entry.name not in NORMS or torch is None or not TAPEGRAD.is_tensor(result):
        return ""
    run = Run(TORCH)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else torch.from_numpy(chain_before.copy()))
    status, formula = _norm_in_float64(run, step, program.leaves)
    if status != "ok" or not TORCH.is_tensor(formula) or formula.dtype != run.chain.dtype:
        return ""   # (the formula's rerun fell back to PyTorch's own kernel)
    try:   # (the formula's chain never requires grad: whether tapegrad's does is compared
        agrees = not [k for k, _ in compare_results(result, formula)   # with PyTorch's own)
                      if k != "requires-grad"]
    except Exception:  # noqa: BLE001 - a result of another structure
        return ""
    return NORM_BY_ITS_FORMULA if agrees else ""


def _unordered(step):
    """topk(sorted=False): the k results come in an order neither library documents."""
    return step.entry.name == "topk" and (step.kwargs.get("sorted") is False or (
        len(step.args) > 4 and step.args[4] is False))


def _in_order(step, result, t_result):
    """topk(sorted=False)'s values in ascending order, from either library (the indices go:
    they follow the order)."""
    dim = step.kwargs.get("dim", step.args[2] if len(step.args) > 2 else -1)
    return tg.sort(result[0], dim=dim)[0], torch.sort(t_result[0], dim=dim)[0]


SUMS = {"sum", "mean", "nansum", "nanmean", "einsum", "matmul", "mm", "bmm", "dot", "inner",
        "tensordot", "linear", "cumsum", "trace",
        # (the mean of a window: ±1e30 in one window cancel in either order)
        "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d"}


def _sums_cancelling_terms(program, step, chain_before, result, t_result):
    """A sum (einsum, mean…) whose terms reach 1e20 and more (the fuzzer's 1e30) and whose
    results differ by less than the tolerance of the terms each was summed from: 1e30 - 1e30
    + x keeps x or not by the order of summation, so no digit below the terms' rounding is
    meaningful. The terms' size at each result is the same step on the inputs' magnitudes in
    float64 (Σ|x|, |A|·|B|…), so a result that never met the 1e30 is compared as any other."""
    if step.entry.name not in SUMS:
        return False
    inputs = [chain_before if chain_before is not None else program.leaves[0].values]
    inputs += [program.leaves[a.index].values for a in list(step.args) + list(step.kwargs.values())
               if isinstance(a, LeafRef)]
    sizes = [np.abs(np.asarray(v, dtype=np.float64)) for v in inputs
             if np.asarray(v).dtype.kind == "f" and np.asarray(v).size]
    largest = max((float(v[np.isfinite(v)].max(initial=0)) for v in sizes), default=0.0)
    a, b = first_tensor(TAPEGRAD, result), first_tensor(TORCH, t_result)
    if largest < 1e20 or a is None or b is None:
        return False
    tol = TOLERANCE.get(TAPEGRAD.dtype_name(a), 2e-4)
    a = TAPEGRAD.to_numpy(a).astype(np.float64)
    b = TORCH.to_numpy(b).astype(np.float64)
    terms = _term_sizes(program, step, chain_before)
    if a.shape != b.shape or terms is None or terms.shape != a.shape:
        return False
    finite = np.isfinite(a) & np.isfinite(b)   # (an inf or NaN elsewhere must be the same)
    with np.errstate(invalid="ignore"):
        return np.array_equal(a[~finite], b[~finite], equal_nan=True) and \
            bool(np.all(np.abs(a - b)[finite] <= tol * terms[finite]))


MEANS = SUMS | {"var", "std", "var_mean", "std_mean"}


def _mean_of_huge_terms(program, chain_inputs, found):
    """Whether a gradient finding is blamed on a sum or mean (var's μ…) of an input holding
    finite terms of 1e20 and more: its backward subtracts or adds that sum (var's
    2(x - μ)/n), in which 1e30 - 1e30 + x keeps x or not by the order of summation."""
    names = {f.op for f in found if f.kind == "gradient"}
    for k, step in enumerate(program.steps):
        if step.entry.name not in MEANS or step.entry.name not in names:
            continue
        x = (np.asarray(program.leaves[0].values) if k == 0 or chain_inputs[k] is None
             else chain_inputs[k][0])
        if x.dtype.kind == "f" and (np.isfinite(x) & (np.abs(x) >= 1e20)).any():
            return True
    return False


def _gradients_within_their_largest(program, runs, chains, through_float16):
    """The leaves' gradients compared to the tolerance of the largest of each (the terms'
    size of a sum whose terms reach 1e20: ``_mean_of_huge_terms``): True where none then
    differs beyond it."""
    grad = _incoming_gradient(program, chains["tapegrad"])
    try:
        with np.errstate(all="ignore"):   # (1e30's squares: inf - inf in var's backward)
            ga = _leaf_grads(runs["tapegrad"], chains["tapegrad"], tg.from_numpy(grad.copy()))
        gb = _leaf_grads(runs["torch"], chains["torch"], torch.from_numpy(grad.copy()))
    except Exception:  # noqa: BLE001 - a backward that fails here has its own finding
        return False
    for i, g in ga.items():
        h = gb.get(i)
        if (g is None) != (h is None):
            return False
        if g is None:
            continue
        sizes = np.abs(h.astype(np.float64))
        largest = float(sizes[np.isfinite(sizes)].max(initial=0))
        if compare_arrays(g, h, "float16" if through_float16 else str(g.dtype), largest):
            return False
    return True


def _term_sizes(program, step, chain_before):
    """The step again in tapegrad, in float64, on the magnitudes of its float inputs: at each
    result, the sum of the sizes of the terms it was summed from (None where it fails)."""
    def magnitudes(values):
        values = np.asarray(values)
        return np.abs(values.astype(np.float64)) if values.dtype.kind == "f" else values

    leaves = [leaf._replace(values=magnitudes(leaf.values), requires_grad=False)
              for leaf in program.leaves]
    run = Run(TAPEGRAD)
    run.chain = (tg.from_numpy(magnitudes(chain_before)) if chain_before is not None
                 else run.materialize(LeafRef(0), leaves))
    status, terms = run.call(step, leaves)
    terms = first_tensor(TAPEGRAD, terms) if status == "ok" else None
    if terms is None:
        return None
    terms = TAPEGRAD.to_numpy(terms).astype(np.float64)
    # where a term is infinite the result is too, or NaN: nothing finite to excuse there
    return np.where(np.isfinite(terms), terms, 0.0)


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


def _agrees_on_tapegrad_input(program, step, chain_before, result):
    """The step run again in PyTorch, on the values tapegrad's chain held before it: True
    when the two then agree. The disagreement was inherited: the chain already differed
    within the tolerance, and this step magnified it (a cast to int, remainder of a large
    dividend, sin of 1e9, signbit of a zero whose sign the rounding decided)."""
    rerun = Run(TORCH)
    rerun.chain = torch.from_numpy(chain_before.copy())
    status, t_result = rerun.call(step, program.leaves)
    if status != "ok":
        return False
    try:
        return not any(k == "value" for k, _ in compare_results(result, t_result))
    except Exception:  # noqa: BLE001 - a result of another structure: not the same step
        return False


class _TapegradValues(torch.autograd.Function if torch is not None else object):
    """PyTorch's chain with tapegrad's values put in, the gradient passed through unchanged."""

    @staticmethod
    def forward(ctx, chain, values):
        return values.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def _gradients_agree_on_tapegrad_values(program, runs, step, chain_inputs, a, through_float16,
                                        weighted_means):
    """The program run again in PyTorch with the chain's values before each step replaced
    by tapegrad's (the gradient passes through each replacement unchanged): True when the
    leaves' gradients then agree. The disagreement was inherited from values that already
    differed within the tolerance, and a slope magnified it (log or 1/x at a zero that one
    library's rounding made -0.0 and the other's -1e-11, or +0.0: avg_pool2d of one -0.0,
    a batch_norm weight of 0). A wrong backward, of this step or of an earlier one, still
    differs in the rerun. An in-place step writes into its replacement, a tensor of its
    own; its result is what the later steps and the gradient read, as in the program."""
    if any(_unordered(s) for s in program.steps):
        return False   # (tapegrad's values follow its index order, PyTorch's chain its own)
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each, chain_input in zip(program.steps, chain_inputs):
        if chain_input is not None:
            values = torch.from_numpy(chain_input[0].copy())
            if values.shape != run.chain.shape:
                return False
            run.chain = (_TapegradValues.apply(run.chain, values)
                         if run.chain.dtype.is_floating_point and run.chain.requires_grad
                         else values)
        status, result = run.call(each, program.leaves)
        run.chain = first_tensor(TORCH, result) if status == "ok" else None
        if run.chain is None or each is step:
            break
    if run.chain is None or tuple(run.chain.shape) != tuple(a.shape):
        return False
    found = _compare_gradients(program, {"tapegrad": runs["tapegrad"], "torch": run}, step, a,
                               run.chain, through_float16, weighted_means)
    # (float noise left over, within 100 times the tolerance, is what any step's backward
    # may round to: gelu's slope in float32's far tail, 0.7% apart, under log10's 1/y)
    return all(f.kind == "gradient-float-noise" for f in found)


LATER_GRADIENT = " [the gradient of the later steps: {}]"


def _blame_first_wrong_backward(program, chain_inputs, a, found):
    """A gradient finding blamed on the step where the gradient first goes wrong.

    The finding names the last step of the shortest prefix whose leaves' gradients differ,
    but the difference may come from an earlier step, whose backward differs only for the
    gradient the later steps send it (an infinite slope downstream: hardtanh's slope at NaN
    meets a NaN gradient, cross_entropy's backward an infinite one, sinc's float16 slope
    8e-5 vs -0 meets log2's ∞). So each step is run again alone, last first, in both
    libraries, on tapegrad's values before it and with tapegrad's gradient of its result
    (so each backward sees the same inputs in both): the first step whose own backward
    differs beyond the tolerance is blamed, with the later steps named, and its float16
    gradients judged against the same step in float64 (``_float16_verdict``, whatever the
    leaves' dtypes). A wrong backward differs at its own step, whatever comes after it.
    Where no step's own backward differs beyond its tolerance the finding stays (values
    that differ by a rounding are judged before: ``_gradients_agree_on_tapegrad_values``),
    and so does one that a PyTorch rerun already explains (its detail marked)."""
    if torch is None or not program.steps or any(
            f.kind == "gradient" and f.detail.endswith(MARKS) for f in found) or \
            _steps_see_a_leaf_changed_in_place(program) or any(
            _unordered(s) for s in program.steps):
        return found
    last = len(program.steps) - 1
    grad = _incoming_gradient(program, a)
    sizes, leaf_sizes = np.abs(grad), {}   # (for _within_the_programs_terms)
    later_noise = False   # a later step's own backward differs within the noise band
    for k in range(last, -1, -1):
        ours = _step_backward(TAPEGRAD, program, k, chain_inputs[k], grad)
        theirs = _step_backward(TORCH, program, k, chain_inputs[k], grad)
        if sizes is not None and ours is not None:
            sizes = _terms_through_step(program, k, chain_inputs[k], sizes, ours, leaf_sizes)
        if ours is None or theirs is None or set(ours[1]) != set(theirs[1]):
            return found   # (a step that does not run alone, or another structure: no judge)
        differs = _backwards_differ(ours, theirs)
        if differs and k == 0 and _within_its_terms(program, chain_inputs[0], grad, ours,
                                                    theirs, differs):
            later = (LATER_GRADIENT.format(", ".join(s.entry.name for s in program.steps[1:]))
                     if last else "")
            return [Finding("gradient-float-noise", program.steps[0].entry.name,
                            "cancelling terms: " + f.detail + later, program.seed)
                    if f.kind == "gradient" else f for f in found]
        if differs:
            verdict = _local_float16_verdict(program, k, chain_inputs[k], grad, ours, theirs,
                                             differs)
            mark = (_explained_alone(program, k, chain_inputs[k], grad, ours, later_noise)
                    or _placed_elsewhere(program, k, chain_inputs[k], grad, ours)
                    or _disputed_elements(program, k, chain_inputs[k], grad, ours))
            if k == last:   # this step's own backward: the finding stays where it is
                return [f._replace(detail=(f.detail if f.detail.startswith(
                    (FLOAT16_NEARER, FLOAT16_BOTH_NEAR)) else verdict + f.detail) + mark)
                        if f.kind == "gradient" else f for f in found]
            # (the leaves' gradients stay the evidence, as for a step's own finding)
            later = LATER_GRADIENT.format(", ".join(s.entry.name for s in program.steps[k + 1:]))
            return [Finding("gradient", program.steps[k].entry.name,
                            verdict + f.detail.removeprefix(FLOAT16_NEARER).removeprefix(
                                FLOAT16_BOTH_NEAR) + later + mark, program.seed)
                    if f.kind == "gradient" else f for f in found]
        later_noise = later_noise or _backwards_differ(ours, theirs, within_noise=True)
        grad = ours[1].get("input")
        if grad is None:   # no gradient flows into the chain before this step
            break
    # (differences below each step's tolerance, magnified by a later slope, stay; those
    # within the size of the terms the program's backward summed are rounding)
    found = _within_the_programs_terms(program, a, found, chain_inputs, leaf_sizes)
    mark = any(f.kind == "gradient" for f in found) and _placed_in_the_program(program, a)
    return [f._replace(detail=f.detail + mark) if mark and f.kind == "gradient" else f
            for f in found]


PLACED_IN_THE_PROGRAM = (" [PyTorch gives tapegrad's gradients with its elementwise "
                         "activations' inputs placed in one loop of their kernels]")


def _placed_in_the_program(program, a):
    """PLACED_IN_THE_PROGRAM where the program run again in PyTorch with each step of
    PLACED_KERNELS on its input placed in one loop of its kernel (``_placed_call``: all in
    the vectorised loop, or each element alone in the scalar loop) gives tapegrad's leaves'
    gradients, else "". Run alone on a contiguous copy of its input, such a step may take
    the other loop than in the program (a transposed input's result keeps its strides), so
    that no step's own backward differs there."""
    if not any(s.entry.name in PLACED_KERNELS for s in program.steps):
        return ""
    grad = _incoming_gradient(program, a)
    results = {}
    for name, library, call in (("tapegrad", TAPEGRAD, None),
                                ("vectorised", TORCH, _placed_call("vectorised")),
                                ("alone", TORCH, _placed_call("alone"))):
        run = Run(library)
        run.chain = run.materialize(LeafRef(0), program.leaves)
        for step in program.steps:
            placed = call if call and step.entry.name in PLACED_KERNELS else Run.call
            status, result = placed(run, step, program.leaves)
            run.chain = first_tensor(library, result) if status == "ok" else None
            if run.chain is None:
                break
        if run.chain is None or tuple(run.chain.shape) != grad.shape or \
                not run.chain.requires_grad:
            continue
        make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
        try:
            results[name] = _leaf_grads(run, run.chain, make(grad.copy()))
        except Exception:  # noqa: BLE001 - no mark without the gradients
            continue
    ours = results.get("tapegrad")
    if ours is None:
        return ""
    through_float16 = any(leaf.values.dtype == np.float16 for leaf in program.leaves)
    for placement in ("vectorised", "alone"):
        theirs = results.get(placement)
        if theirs is None or set(theirs) != set(ours):
            continue
        if all((g is None) == (theirs[i] is None) and (g is None or not compare_arrays(
                g, theirs[i].astype(g.dtype), "float16" if through_float16 else str(g.dtype)))
               for i, g in ours.items()):
            return PLACED_IN_THE_PROGRAM
    return ""


def _terms_through_step(program, k, chain_input, sizes, ours, leaf_sizes):
    """The size of the terms step ``k``'s backward sums, carried back one step: its backward
    (tapegrad's, alone on its input) of ``sizes`` (the terms' size of its result's gradient,
    ≥ 0), taken in absolute value, and at least the gradient itself. A step that sums
    copies (getitem at repeated indices, a broadcast) sums their sizes where their gradients
    cancel. Each leaf's sizes are added into ``leaf_sizes``; the chain's before the step
    returned (None where the step does not run alone)."""
    sizes = np.array(sizes, dtype=np.float64)   # (a 0-d one too: np.abs of it is a scalar)
    carried = _step_backward(TAPEGRAD, program, k, chain_input, sizes)
    if carried is None or set(carried[1]) != set(ours[1]):
        return None
    terms = _own_terms(program, k, chain_input, sizes)
    with np.errstate(invalid="ignore", over="ignore"):
        for key, g in carried[1].items():
            own = ours[1][key]
            if g is None or own is None:
                continue
            size = np.maximum(np.abs(g.astype(np.float64)), np.abs(own.astype(np.float64)))
            if key in terms and terms[key].shape == size.shape:
                size = np.maximum(size, terms[key])
            if key == "input":
                sizes_before = size
            else:
                leaf_sizes[key] = leaf_sizes.get(key, 0) + size
    if "input" not in carried[1] or carried[1]["input"] is None:
        return None
    return sizes_before


def _own_terms(program, k, chain_input, sizes):
    """The size of the terms inside step ``k``'s own gradient formula where they cancel for
    some inputs (``_cosine_terms``, ``_layer_norm_terms``, ``_normalize_terms``), else {}."""
    name = program.steps[k].entry.name
    if name == "cosine_similarity":
        return _cosine_terms(program, k, chain_input, sizes)
    if name == "layer_norm":
        return _layer_norm_terms(program, k, chain_input, sizes)
    if name == "normalize":
        return _normalize_terms(program, k, chain_input, sizes)
    return {}


def _normalize_terms(program, k, chain_input, sizes):
    """For step ``k`` a normalize of the chain, y = x/‖x‖ₚ along ``dim``: {"input" (or 0 for
    the first step): the size of the two terms of its input's gradient
    gᵢ/‖x‖ - (Σⱼ gⱼxⱼ)/‖x‖² · sign(xᵢ)|xᵢ|^(p-1)/‖x‖^(p-1), each in absolute value} (else
    {}). One element along dim (or parallel vectors): y = sign(x) whatever x, the gradient
    ~0 from terms of |g|/|x|, 2·|g|/|x| together."""
    step = program.steps[k]
    args = dict(zip(("input", "p", "dim", "eps"), step.args))
    args.update(step.kwargs)
    p, dim, eps = args.get("p", 2.0), args.get("dim", 1), args.get("eps", 1e-12)
    if step.args[0] is not CHAIN or not all(isinstance(v, (int, float)) and not isinstance(
            v, bool) for v in (p, dim, eps)) or not 0 < p < math.inf:
        return {}
    x = (TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
         if chain_input is None else chain_input[0]).astype(np.float64)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            norm = np.maximum(np.sum(np.abs(x) ** p, axis=dim, keepdims=True) ** (1 / p), eps)
            g = np.broadcast_to(np.abs(np.asarray(sizes, dtype=np.float64)), x.shape)
            along = np.sum(g * np.abs(x), axis=dim, keepdims=True) / norm ** 2
            terms = g / norm + along * np.abs(x) ** (p - 1) / norm ** (p - 1)
    except (ValueError, TypeError, np.exceptions.AxisError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _layer_norm_terms(program, k, chain_input, sizes):
    """For step ``k`` a layer_norm of the chain: {"input" (or 0 for the first step): the
    size of the terms of its input's gradient (ĝᵢ - mean ĝ - x̂ᵢ·mean(ĝ x̂))/σ, ĝ = w·g:
    (|ĝᵢ| + mean|ĝ| + |x̂ᵢ|·mean|ĝ x̂|)/σ} (else {}). Two values x̂ = ±1 whatever x (ε
    aside): the gradient is ~0 from terms of |w·g|/σ."""
    step = program.steps[k]
    args = dict(zip(NORM_PARAMETERS["layer_norm"], step.args))
    args.update(step.kwargs)
    shape, weight = args.get("normalized_shape"), args.get("weight")
    if step.args[0] is not CHAIN or not isinstance(shape, (tuple, list, int)) or \
            isinstance(args.get("eps", 1e-5), LeafRef):
        return {}
    run = Run(TAPEGRAD)
    x = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves)) if chain_input is None
         else chain_input[0]).astype(np.float64)
    axes = tuple(range(x.ndim - (1 if isinstance(shape, int) else len(shape)), x.ndim))
    try:
        w = 1.0 if weight is None else np.abs(TAPEGRAD.to_numpy(
            run.materialize(weight, program.leaves)).astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            sigma = np.sqrt(x.var(axis=axes, keepdims=True) + float(args.get("eps", 1e-5)))
            x_hat = np.abs((x - x.mean(axis=axes, keepdims=True)) / sigma)
            g_hat = np.broadcast_to(w * np.abs(np.asarray(sizes, dtype=np.float64)), x.shape)
            terms = (g_hat + g_hat.mean(axis=axes, keepdims=True)
                     + x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)) / sigma
    except (ValueError, TypeError):
        return {}
    if chain_input is None:
        return {0: _onto_leaf(program.leaves[0], terms)}
    return {"input": terms}


def _cosine_terms(program, k, chain_input, sizes):
    """For step ``k`` a cosine_similarity(x₁, x₂) of the chain and a leaf: {"input" or the
    leaf's index: the size of the two terms of its gradient, 2·s/‖xᵢ‖ (s: the terms' size
    of the incoming gradient, along ``dim``), summed onto each element} (else {}). Its
    gradient g·(x₂/(‖x₁‖‖x₂‖) - cos·x₁/‖x₁‖²) is 0 where the cosine is ±1 (vectors of one
    element, or parallel ones), each term g/‖x₁‖ in size, however small the difference."""
    step = program.steps[k]
    if step.entry.name != "cosine_similarity" or len(step.args) < 2 or \
            step.args[0] is not CHAIN or not isinstance(step.args[1], LeafRef):
        return {}
    run = Run(TAPEGRAD)
    x1 = (TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves)) if chain_input is None
          else chain_input[0]).astype(np.float64)
    x2 = TAPEGRAD.to_numpy(run.materialize(step.args[1], program.leaves)).astype(np.float64)
    dim = step.kwargs.get("dim", step.args[2] if len(step.args) > 2 else 1)
    eps = step.kwargs.get("eps", step.args[3] if len(step.args) > 3 else 1e-8)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
        dim = dim % len(shape)
        incoming = np.broadcast_to(np.expand_dims(np.abs(sizes.astype(np.float64)), dim), shape)
    except (ValueError, TypeError, ZeroDivisionError, np.exceptions.AxisError):
        return {}
    out = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for key, x in (("input", x1), (step.args[1].index, x2)):
            norm = np.sqrt(np.sum(np.broadcast_to(x, shape) ** 2, axis=dim, keepdims=True))
            terms = 2 * incoming / np.maximum(norm, eps)
            terms = terms.sum(axis=tuple(range(len(shape) - x.ndim)))
            grown = tuple(d for d, n in enumerate(x.shape) if n == 1 and terms.shape[d] != 1)
            out[key] = terms.sum(axis=grown, keepdims=True)
    if chain_input is None:   # (the first step's chain is leaf 0, its gradient under 0)
        out[0] = out.pop("input")
    return {key: terms if key == "input" else _onto_leaf(program.leaves[key], terms)
            for key, terms in out.items()}


def _onto_leaf(leaf, sizes):
    """Sizes of the elements of a leaf's view (``Library.leaf``), on the leaf's own
    elements: an expanded dim summed, a transpose undone, a slice's elements in place."""
    layout, base = leaf.layout, np.asarray(leaf.values).shape
    if layout[0] == "transpose":
        return sizes.swapaxes(layout[1], layout[2])
    if layout[0] == "slice":
        out = np.zeros(base)
        out[(slice(None),) * layout[1] + (slice(None, None, 2),)] = sizes
        return out
    if layout[0] == "expand":
        grown = tuple(d for d, n in enumerate(base) if n == 1 and sizes.shape[d] != 1)
        return sizes.sum(axis=grown, keepdims=True)
    return sizes


def _within_the_programs_terms(program, a, found, chain_inputs, leaf_sizes):
    """``found`` with its gradient findings made float noise where no step's own backward
    differs (``_blame_first_wrong_backward`` found none) and the leaves' gradients, the
    program run again in both libraries, differ only within the tolerance of the size of
    the terms backward summed into them (``_terms_through_step``, step by step from the
    last). Two copies of one element that cancel (a getitem at repeated indices, softmin of
    the pair, each ±10¹⁰ after cosh; a chain broadcast along a dim that log_softmax then
    normalises) leave a residue of their size in either library: 0 in one, -1e-4 in the
    other."""
    grad = _incoming_gradient(program, a)
    if not leaf_sizes or not any(f.kind == "gradient" for f in found):
        return found
    results = {}
    for library in (TAPEGRAD, TORCH):
        run = Run(library)
        run.chain = run.materialize(LeafRef(0), program.leaves)
        for step in program.steps:
            status, result = run.call(step, program.leaves)
            run.chain = first_tensor(library, result) if status == "ok" else None
            if run.chain is None:
                return found
        if tuple(run.chain.shape) != grad.shape or not run.chain.requires_grad:
            return found
        make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
        try:
            results[library.name] = _leaf_grads(run, run.chain, make(grad.copy()))
        except Exception:  # noqa: BLE001 - no judge without both gradients
            return found
    ga, gb = results["tapegrad"], results["torch"]
    if set(ga) != set(gb):
        return found
    through_float16 = _leaves_through_float16(
        program, [c[0].dtype if c is not None else None for c in chain_inputs[1:]] + [grad.dtype])
    for i, g in ga.items():
        h = gb[i]
        if (g is None) != (h is None):
            return found
        if g is None:
            continue
        size = np.asarray(leaf_sizes.get(i, 0), dtype=np.float64)
        if i == 0 and program.leaves[0].requires_grad and i not in leaf_sizes:
            return found   # (the chain's first leaf: its sizes are the first step's "input")
        scale = float(size[np.isfinite(size)].max(initial=0))
        dtype = "float16" if i in through_float16 or g.dtype == np.float16 else str(g.dtype)
        diff = compare_arrays(g, h.astype(g.dtype), dtype, scale)
        if diff and diff[0] in ("value", "shape"):
            return found
    return [Finding("gradient-float-noise", f.op, "cancelling terms: " + f.detail, f.seed)
            if f.kind == "gradient" else f for f in found]


def _within_its_terms(program, chain_input, grad, ours, theirs, differs):
    """True when the first step's own backward (which gives the leaves' gradients
    themselves) differs only by the rounding of the terms it sums: a gradient Σⱼ Jⱼᵢ gⱼ that
    is ~0 in the math from terms of 1e6 (softmax then sum: Σ s = 1 whatever x, under
    binary_cross_entropy's slope 5e6 at 1 - 6e-8) keeps a residue of the terms' size in
    either library. The terms' size: Σⱼ |Jⱼᵢ gⱼ|, from one backward per output element
    (``_step_backward`` with gⱼ alone), at most 64 of them."""
    if grad.size > 64 or not np.isfinite(grad).all():
        return False
    sizes = {}
    for j in np.flatnonzero(grad):
        alone = np.zeros_like(grad)
        alone.reshape(-1)[j] = grad.reshape(-1)[j]
        part = _step_backward(TAPEGRAD, program, 0, chain_input, alone)
        if part is None or set(part[1]) != set(ours[1]):
            return False
        for key, g in part[1].items():
            if g is not None:
                sizes[key] = sizes.get(key, 0) + np.abs(g.astype(np.float64))
    for key, terms in _own_terms(program, 0, chain_input, grad).items():
        if key in sizes and np.shape(sizes[key]) == terms.shape:
            sizes[key] = np.maximum(sizes[key], terms)
    for _, key in differs:
        g, h = ours[1][key], theirs[1][key]
        if g is None or h is None or key not in sizes:
            return False
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" \
            else str(g.dtype)
        if not _within_sizes(g, h.astype(g.dtype), dtype, sizes[key]):
            return False   # (within the tolerance of the terms, not 100 times it)
    return True


def _within_sizes(a, b, dtype_name, sizes, floor=None):
    """True when ``a`` is ``b`` to the tolerance of ``compare_arrays`` with each element's
    own terms' size ``sizes`` as its scale: a residue of terms of 1e6 at one element is no
    licence for a wrong value at another, whose terms are 1. ``floor``: the fraction of
    the terms' size allowed (else compare_arrays' fiftieth of the tolerance)."""
    diff = compare_arrays(a, b, dtype_name)
    if diff is None:
        return True
    sizes = np.asarray(sizes, dtype=np.float64)
    if diff[0] == "shape" or sizes.shape != a.shape or diff[1].startswith(
            ("NaN where", "inf differs")):
        return False   # (NaN or inf where the other has none is no rounding of any size)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(a64) & np.isfinite(b64)
    tol = TOLERANCE.get(dtype_name, 2e-4)
    with np.errstate(invalid="ignore"):   # (each element's own value, not the largest's)
        scale = np.maximum(np.maximum(1.0, np.abs(b64)), np.where(np.isfinite(sizes), sizes, 0.0))
    with np.errstate(invalid="ignore"):
        error = np.abs(a64 - b64) - (tol * np.abs(b64) + (floor or tol * 1e-2) * scale)
    return bool(np.all(error[finite] <= 0))


def _explained_alone(program, k, chain_input, grad, ours, later_noise=False):
    """``_explained_in_torch``'s mark for step ``k`` alone, where its backward is one PyTorch
    is known to compute in too narrow a float (FLOAT16_ATAN2, NORM_IN_FLOAT64,
    SINC_IN_FLOAT64, NORMALIZE_WIDENED, SLOPES_WIDENED: gelu's float32 slope in its far
    tail): the mark where PyTorch's backward of the step computed in the wider
    float (the same forward, rounded back) gives tapegrad's gradients, else "". A slope
    blamed before later steps whose own backwards differ within the noise band
    (``later_noise``: float16's 10%, where a later wrong slope hides) is not explained by
    SLOPES_WIDENED: the leaves' gradients hold those differences too."""
    name = program.steps[k].entry.name
    call, mark = ((_widened_call, FLOAT16_ATAN2) if name in WIDENED_IN_TORCH else
                  (_norm_widened_call, NORM_IN_FLOAT64) if name in P_NORMS else
                  (_norm_widened_call, SINC_IN_FLOAT64) if name == "sinc" else
                  (_norm_widened_call, NORMALIZE_WIDENED) if name in NORMALIZING else
                  (_slopes_widened_call, SLOPES_WIDENED)
                  if name in WIDENED_SLOPES and not later_noise else
                  (None, ""))
    if call is None:
        return ""
    wide = _step_backward(TORCH, program, k, chain_input, grad, call=call)
    # (the slopes in float64 are the exact ones: to the tolerance, not within the noise
    # band, where a slope 1% off in float32 would pass)
    if wide is None or set(wide[1]) != set(ours[1]):
        return ""
    differs = _backwards_differ(ours, wide, within_noise=mark == SLOPES_WIDENED)
    # (normalize of one element along dim: y = sign(x), its gradient ~0 from terms of
    # 2|g|/|x|, a residue of their size in either library's float16)
    terms = _own_terms(program, k, chain_input, grad) if differs else {}
    for _, key in differs:
        g, h = ours[1][key], wide[1][key]
        dtype = "float16" if np.float16 in (g.dtype, h.dtype) or ours[0] == "float16" \
            else str(g.dtype)
        if g is None or h is None or key not in terms or not _within_sizes(
                g, h.astype(g.dtype), dtype, terms[key],
                FLOAT16_TERMS if dtype == "float16" else None):
            return ""
    return mark


# PyTorch's CPU kernels of these elementwise steps run a vectorised loop over the full
# blocks of a contiguous tensor and a scalar loop over the rest (the tail, or every element
# of a strided one); at a NaN element the two loops give different gradients (hardtanh's
# vectorised 0 and scalar g, elu's NaN and g, hardshrink's 0 and g), so PyTorch's answer
# depends on where the element sits. tapegrad gives one answer wherever it sits.
PLACED_KERNELS = ("elu", "elu_", "selu", "selu_", "celu", "celu_", "hardtanh", "hardtanh_",
                  "relu6", "hardshrink", "softshrink", "hardswish")
PLACED_VECTORISED = (" [PyTorch gives tapegrad's gradient of this step with its input placed "
                     "in its kernel's vectorised loop]")
PLACED_ALONE = (" [PyTorch gives tapegrad's gradient of this step with each element of its "
                "input alone, in its kernel's scalar loop]")
# a whole number of blocks of every vectorised loop (2 × 8 float64s up to 2 × 32 float16s)
VECTOR_BLOCKS = 256


def _placed_call(placement):
    """A ``call`` for ``_step_backward``: the step's elementwise operation on its input
    flattened and, for "vectorised", padded with zeros to a whole number of VECTOR_BLOCKS
    (every element in the vectorised loop), for "alone", on each element as a tensor of
    its own (every element in the scalar loop); the results put back in the input's shape.
    The gradient flows back through the placement to the same input and leaves."""
    def call(run, step, leaves, on_a_copy=False):
        try:
            args = [run.materialize(a, leaves) for a in step.args]
            kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
            x = args[0]
            if not run.library.is_tensor(x) or any(run.library.is_tensor(a)
                                                   for a in args[1:] + list(kwargs.values())):
                return "error", TypeError("not one elementwise tensor operand")
            op = catalogue.caller(run.library.name, step.entry)
            flat = x.reshape(-1)
            n = flat.shape[0]
            if placement == "vectorised":
                padding = -n % VECTOR_BLOCKS or (VECTOR_BLOCKS if n == 0 else 0)
                block = torch.cat([flat, flat.new_zeros(padding)]).clone()
                out = op(block, *args[1:], **kwargs)[:n]
            else:
                out = torch.cat([op(flat[i:i + 1].clone(), *args[1:], **kwargs)
                                 for i in range(n)]) if n else op(flat.clone(), *args[1:],
                                                                  **kwargs)
            return "ok", out.reshape(x.shape)
        except Exception as error:  # noqa: BLE001 - no placement where the step cannot run
            return "error", error
    return call


def _placed_elsewhere(program, k, chain_input, grad, ours):
    """A mark for step ``k``'s backward where it is one of PLACED_KERNELS and PyTorch, on
    the same input values and incoming gradient placed in one loop of its kernel (all in
    the vectorised loop, or each alone in the scalar loop), gives tapegrad's gradients:
    PLACED_VECTORISED or PLACED_ALONE, else "". A gradient wrong at an element where
    PyTorch's two loops agree (any number that is not NaN) matches neither placement."""
    if program.steps[k].entry.name not in PLACED_KERNELS or grad.size > 4096:
        return ""
    for placement, mark in (("vectorised", PLACED_VECTORISED), ("alone", PLACED_ALONE)):
        placed = _step_backward(TORCH, program, k, chain_input, grad,
                                call=_placed_call(placement))
        if placed is not None and set(placed[1]) == set(ours[1]) and \
                not _backwards_differ(ours, placed):
            return mark
    return ""


PLACED_DISPUTED = (" [PyTorch's kernel gives this step two gradients at some elements, by "
                   "where they sit; tapegrad's is PyTorch's at every other element, and 0 or "
                   "one of the two at those]")


class _GivenGradient(torch.autograd.Function if torch is not None else object):
    """``value`` as a step's result whose backward gives its input ``gradient``, whatever
    the incoming one (for the one incoming gradient ``_step_backward`` sends)."""

    @staticmethod
    def forward(ctx, x, value, gradient):
        ctx.gradient = gradient
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        return ctx.gradient, None, None


def _input_gradient(library, step, x, grad, call=None):
    """The gradient of step ``step`` (an elementwise one) at a contiguous input of values
    ``x``, backward from ``grad`` (None where it cannot run)."""
    run = Run(library)
    make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
    start = make(np.array(x)).requires_grad_(True)
    run.chain = start.clone()
    status, out = (call or Run.call)(run, step._replace(args=(CHAIN,) + tuple(step.args[1:])),
                                     [])
    if status != "ok" or not library.is_tensor(out) or tuple(out.shape) != grad.shape:
        return None
    try:
        out.backward(make(grad.astype(library.dtype_name(out))))
    except Exception:  # noqa: BLE001 - no judge where the backward does not run alone
        return None
    return None if start.grad is None else library.to_numpy(start.grad)


def _disputed_elements(program, k, chain_input, grad, ours):
    """PLACED_DISPUTED for step ``k`` (one of PLACED_KERNELS) where PyTorch's two loops give
    different gradients at some elements of its input (its vectorised loop and its scalar
    one, ``_placed_call``), tapegrad's gradient there is 0 or one of the two, and PyTorch
    rerun with its own gradient at every other element and tapegrad's at those (the step's
    input as in the program: a view, the leaves behind it) gives tapegrad's gradients.
    A gradient wrong at an element where the two loops agree is still found; else ""."""
    step = program.steps[k]
    if step.entry.name not in PLACED_KERNELS or grad.size > 4096 or not step.args or \
            any(isinstance(a, LeafRef) for a in step.args[1:]):
        return ""
    if step.args[0] is not CHAIN:
        return ""
    if chain_input is None:   # (the first step's chain is the first leaf, as the program views it)
        x = TAPEGRAD.to_numpy(Run(TAPEGRAD).materialize(LeafRef(0), program.leaves))
    else:
        x = chain_input[0]
    if x.dtype.kind != "f" or x.shape != grad.shape:
        return ""
    vectorised = _input_gradient(TORCH, step, x, grad, _placed_call("vectorised"))
    alone = _input_gradient(TORCH, step, x, grad, _placed_call("alone"))
    mine = _input_gradient(TAPEGRAD, step, x, grad)
    if vectorised is None or alone is None or mine is None:
        return ""
    tolerance = TOLERANCE["float16" if x.dtype == np.float16 else str(x.dtype)]

    def same(a, b):
        with np.errstate(invalid="ignore", over="ignore"):
            return np.isclose(a.astype(np.float64), b.astype(np.float64), rtol=tolerance,
                              atol=tolerance, equal_nan=True)
    disputed = ~same(vectorised, alone)
    if not disputed.any() or not (same(mine, vectorised) | same(mine, alone) |
                                  (mine == 0))[disputed].all():
        return ""
    given = np.where(disputed, mine, vectorised).astype(x.dtype)

    def call(run, each, leaves, on_a_copy=False):
        args = [run.materialize(a, leaves) for a in each.args]
        kwargs = {name: run.materialize(v, leaves) for name, v in each.kwargs.items()}
        op = catalogue.caller("torch", each.entry)
        try:
            with torch.no_grad():
                value = op(args[0].detach().clone(), *args[1:], **kwargs)
            return "ok", _GivenGradient.apply(args[0], value, torch.from_numpy(given))
        except Exception as error:  # noqa: BLE001
            return "error", error
    rerun = _step_backward(TORCH, program, k, chain_input, grad, call=call)
    if rerun is None or set(rerun[1]) != set(ours[1]) or _backwards_differ(ours, rerun):
        return ""
    return PLACED_DISPUTED


def _steps_see_a_leaf_changed_in_place(program):
    """An in-place step on the first leaf itself (the chain before any step, when it needs
    no gradient) that a later step reads as a leaf: run alone, that step would read the
    leaf's first values."""
    writes = [i for i, s in enumerate(program.steps) if _in_place(s)]
    return bool(writes) and any(
        isinstance(a, LeafRef) and a.index == 0 for s in program.steps[writes[0] + 1:]
        for a in _arguments(s))


def _arguments(step):
    out = []
    for a in list(step.args) + list(step.kwargs.values()):
        out.extend(a if isinstance(a, (list, tuple)) and not hasattr(a, "_fields") else [a])
    return out


def _step_backward(library, program, k, chain_input, grad, float_dtype=None, call=None):
    """Step ``k`` run alone in ``library`` on ``chain_input`` (tapegrad's chain before it
    and whether it required grad; None for the first step, which reads the first leaf),
    backward from its result with ``grad``: (its result's dtype, {"input": the gradient of
    the chain before it, leaf index: the leaf's gradient}), or None where it cannot run.
    ``float_dtype``: every float leaf, the chain and ``grad`` in that dtype; ``call``: the
    step run by it instead of ``Run.call`` (``_widened_call``…)."""
    run = Run(library, float_dtype)
    make = tg.from_numpy if library is TAPEGRAD else torch.from_numpy
    start = None
    if chain_input is None:
        run.chain = run.materialize(LeafRef(0), program.leaves)
    else:
        values, requires_grad = chain_input
        if float_dtype and values.dtype.kind == "f":
            values = values.astype(float_dtype)
        start = make(np.array(values))
        if requires_grad:
            start.requires_grad_(True)
        run.chain = start.clone()   # (not a leaf: an in-place step may write into it)
    status, result = (call or Run.call)(run, program.steps[k], program.leaves)
    out = first_tensor(library, result) if status == "ok" else None
    if out is None or not out.requires_grad or tuple(out.shape) != grad.shape:
        return None
    try:
        incoming = make(grad.astype(float_dtype or library.dtype_name(out)))
        grads = _leaf_grads(run, out, incoming)
    except Exception:  # noqa: BLE001 - a backward that raises alone: no judge here
        return None
    if start is not None and start.requires_grad:
        grads["input"] = None if start.grad is None else library.to_numpy(start.grad)
    return library.dtype_name(out), grads


def _backwards_differ(ours, theirs, within_noise=False):
    """[(what, key)] of the gradients of one step's backward (``_step_backward``) that
    differ beyond the tolerance: float16's where the step's result or gradient is float16.
    ``within_noise``: those that differ by float noise too."""
    out = []
    for key, g in ours[1].items():
        what = "input" if key == "input" else f"leaf{key}"
        h = theirs[1].get(key)
        if (g is None) != (h is None):
            out.append((what, key))
        elif g is not None and _backward_difference(g, h, ours[0], within_noise) is not None:
            out.append((what, key))
    return out


def _backward_difference(g, h, result_dtype=None, within_noise=False):
    """compare_arrays of two gradients of one step: its detail where the difference is
    beyond float noise (or, ``within_noise``, beyond the tolerance), else None."""
    if g is None or h is None:
        return f"{'no' if g is None else 'a'} gradient vs torch {'none' if h is None else 'one'}"
    dtype = "float16" if np.float16 in (g.dtype, h.dtype) or result_dtype == "float16" \
        else str(g.dtype)
    diff = compare_arrays(g, h.astype(g.dtype) if h.dtype != g.dtype else h, dtype)
    kinds = ("value", "shape", "float-noise") if within_noise else ("value", "shape")
    return diff[1] if diff and diff[0] in kinds else None


def _local_float16_verdict(program, k, chain_input, grad, ours, theirs, differs):
    """For one step's backward that differs where float16 is involved (its result, the
    chain before it, or a gradient): ``_float16_verdict`` of the gradients that differ
    against the same step's backward in float64 (its inputs and incoming gradient exactly
    as here, each gradient computed exactly and rounded once), in tapegrad and confirmed
    in PyTorch; else "". Whatever the leaves' dtypes, so a float32 leaf's gradient that
    passed a float16 step is judged at that step."""
    keys = [key for _, key in differs]
    if not (ours[0] == "float16" or grad.dtype == np.float16 or any(
            ours[1][key] is not None and ours[1][key].dtype == np.float16 for key in keys)):
        return ""
    if any(ours[1][key] is None or theirs[1][key] is None for key in keys):
        return ""
    reference = _step_backward(TAPEGRAD, program, k, chain_input, grad, "float64")
    t_reference = _step_backward(TORCH, program, k, chain_input, grad, "float64")
    if reference is None or t_reference is None or reference[0] != "float64" or not all(
            key in reference[1] and key in t_reference[1] for key in keys):
        return ""   # (a step that casts, half() or to(float16), has no float64 reference)
    if not _confirmed([reference[1][key] for key in keys], [t_reference[1][key] for key in keys]):
        return ""
    pairs = [(ours[1][key], theirs[1][key].astype(ours[1][key].dtype), reference[1][key])
             for key in keys]
    return _float16_verdict(pairs) or _float16_verdict(
        pairs, _step_terms_scale(program, k, chain_input, grad, ours, keys))


def _step_terms_scale(program, k, chain_input, grad, ours, keys):
    """The size of the terms step ``k``'s backward sums into the gradients ``keys`` (else
    None): Σⱼ |Jⱼᵢ gⱼ| over its output elements (one backward per element, at most 64), and
    for a leaf the step expands or broadcasts (a 0-d number), the sum of its copies'
    |gradients| (``_copies_scale``, ``_broadcast_copies_scale``, of the step alone). Where
    the gradient is 0 in the math (cosine_similarity of a vector of one value: the cosine
    is ±1, at its extremum) both libraries keep a float16 residue of that size."""
    sizes = []
    if grad.size <= 64 and np.isfinite(grad).all():
        split = {}
        for j in np.flatnonzero(grad):
            alone = np.zeros_like(grad)
            alone.reshape(-1)[j] = grad.reshape(-1)[j]
            part = _step_backward(TAPEGRAD, program, k, chain_input, alone)
            if part is None:
                break
            for key in keys:
                if part[1].get(key) is not None:
                    split[key] = split.get(key, 0) + np.abs(part[1][key].astype(np.float64))
        sizes += [float(v[np.isfinite(v)].max(initial=0)) for v in split.values()]
    step = program.steps[k]
    sub = Program(program.seed)
    sub.leaves, sub.steps = list(program.leaves), [step]
    if chain_input is not None:
        if LeafRef(0) in _arguments(step):
            return max(sizes, default=None)
        values, requires_grad = chain_input
        sub.leaves[0] = sub.leaves[0]._replace(values=values, requires_grad=requires_grad,
                                               layout=("contiguous",), view_shape=values.shape)
    for key in keys:
        if key == "input" or key == 0 and chain_input is not None:   # (leaf 0: the chain)
            continue
        scale = _broadcast_copies_scale(sub, key, grad)
        if scale is None and program.leaves[key].layout[0] == "expand":
            run = Run(TAPEGRAD)
            run.chain = run.materialize(LeafRef(0), sub.leaves)
            status, result = run.call(step, sub.leaves)
            value = first_tensor(TAPEGRAD, result) if status == "ok" else None
            if value is not None and tuple(value.shape) == grad.shape:
                scale = _copies_scale(sub, run, key, value, grad)
        if scale is not None and math.isfinite(scale):
            sizes.append(scale)
    return max(sizes, default=None)


NORMS_IN_FLOAT64 = (" [a norm of groups of equal values in the program: PyTorch agrees with "
                    "its norms by their formula in float64]")
NORMS = ("layer_norm", "group_norm")


def _gradients_agree_with_norms_in_float64(program, runs, step, a, norm_values,
                                          through_float16, weighted_means):
    """For a program with a norm of groups of one value or of equal values before or at
    ``step``: x - μ is exactly 0 here and a rounding residue in PyTorch's x·r - μ·r, which
    r = 1/√(σ² + ε) and the later steps' slopes magnify (binary_cross_entropy's 1e12 at
    0), in its values and in its backward. The program run again in PyTorch with each
    layer_norm and group_norm step computed by its formula in float64 (its backward too)
    and its values replaced by tapegrad's (the gradient passing through unchanged): True
    when the leaves' gradients then agree. A wrong backward of any step, the norm's
    included, still differs."""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        if _unordered(each) or _in_place(each):
            return False   # (no order to follow, or a write into the replaced values)
        status, result = _norm_in_float64(run, each, program.leaves)
        run.chain = first_tensor(TORCH, result) if status == "ok" else None
        if run.chain is None:
            return False
        if id(each) in norm_values:
            values = torch.from_numpy(norm_values[id(each)].copy())
            if values.shape != run.chain.shape or values.dtype != run.chain.dtype:
                return False
            run.chain = (_TapegradValues.apply(run.chain, values) if run.chain.requires_grad
                         else values)
        if each is step:
            break
    if tuple(run.chain.shape) != tuple(a.shape):
        return False
    found = _compare_gradients(program, {"tapegrad": runs["tapegrad"], "torch": run}, step, a,
                               run.chain, through_float16, weighted_means)
    return not any(f.kind == "gradient" or f.kind.startswith("backward") for f in found)


NORM_PARAMETERS = {"layer_norm": ("input", "normalized_shape", "weight", "bias", "eps"),
                   "group_norm": ("input", "num_groups", "weight", "bias", "eps")}


def _norm_in_float64(run, step, leaves):
    """``run.call``, but a layer_norm or group_norm computed by its formula from PyTorch's
    elementary operations, in float64, and rounded back: (x - μ)/√(σ² + ε)·w + b, with
    μ of equal values exactly their value, so x - μ exactly 0 as here."""
    if step.entry.name not in NORMS:
        return run.call(step, leaves)
    try:
        args = [run.materialize(a, leaves) for a in step.args]
        kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
        bound = dict(zip(NORM_PARAMETERS[step.entry.name], args), **kwargs)
        x, weight, bias = bound["input"], bound.get("weight"), bound.get("bias")
        eps = bound.get("eps", 1e-5)
        if not x.dtype.is_floating_point or any(
                t is not None and (not torch.is_tensor(t) or t.dtype != x.dtype)
                for t in (weight, bias)) or not isinstance(eps, (int, float)):
            return run.call(step, leaves)
        wide = x.to(torch.float64)
        if step.entry.name == "layer_norm":
            size = bound["normalized_shape"]
            size = (size,) if isinstance(size, int) else tuple(size)
            if tuple(x.shape[x.ndim - len(size):]) != size or not size:
                return run.call(step, leaves)
            dims = tuple(range(x.ndim - len(size), x.ndim))
            shape = x.shape
            affine = None
        else:
            groups = bound["num_groups"]
            if x.ndim < 2 or not isinstance(groups, int) or groups <= 0 or x.shape[1] % groups:
                return run.call(step, leaves)
            shape = x.shape
            wide = wide.reshape(x.shape[0], groups, -1)
            dims = (2,)
            affine = (x.shape[1],) + (1,) * (x.ndim - 2)
        mean = wide.mean(dims, keepdim=True)
        variance = ((wide - mean) ** 2).mean(dims, keepdim=True)
        y = ((wide - mean) / torch.sqrt(variance + eps)).reshape(shape)
        if weight is not None:
            y = y * weight.to(torch.float64).reshape(affine or weight.shape)
        if bias is not None:
            y = y + bias.to(torch.float64).reshape(affine or bias.shape)
        return "ok", y.to(x.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _torch_backward_corrupts_memory(program):
    """PyTorch 2.13's max pooling gives a window of padding alone (dilated taps stepping over
    a small image) an index past the image, and its backward then writes there: the heap
    is corrupted and the process dies later, somewhere else. Its backward is not run then
    (tapegrad's forward is still compared; tests/autograd/test_pooling.py covers its own)."""
    return any(step.entry.name.startswith("max_pool") and step.kwargs.get("padding", 0)
               and step.kwargs.get("dilation", 1) != 1 for step in program.steps)


def _layouts(program):
    """Context for a finding: the program's views of its leaves that are not plain
    (stride-0 expands, slices…), and whether a NaN went in (a leaf's or a number's)."""
    kinds = sorted({leaf.layout[0] for leaf in program.leaves} - {"contiguous"})
    text = f" [layouts: {', '.join(kinds)}]" if kinds else ""
    nan_leaf = any(leaf.values.dtype.kind == "f" and bool(np.isnan(leaf.values).any())
                   for leaf in program.leaves)
    nan_number = any(isinstance(a, float) and a != a for step in program.steps
                     for a in list(step.args) + list(step.kwargs.values()))
    return text + (" [NaN inputs]" if nan_leaf or nan_number else "")


# -- gradients ---------------------------------------------------------------------------
def _leaf_grads(run, value, grad_output):
    """The leaves' gradients after backward from ``value`` (None where there is none)."""
    for base, _ in run.leaves.values():
        if base.requires_grad:
            base.grad = None
    with warnings.catch_warnings():   # (a leaf changed in place by a tensor that requires
        warnings.simplefilter("ignore")   # grad is no longer a leaf: reading its .grad warns)
        value.backward(grad_output, retain_graph=True)
        return {i: (None if base.grad is None else run.library.to_numpy(base.grad))
                for i, (base, _) in run.leaves.items() if base.requires_grad}


def _compare_gradients(program, runs, step, a, b, through_float16=False,
                       weighted_means=None):
    """Backward from the chain so far (``a`` in tapegrad, ``b`` in PyTorch): a finding if
    the leaves' gradients differ (to float16's tolerance where the chain passed through
    float16, whatever the leaves' dtype). The incoming gradient has its own random stream,
    so the program's draws do not depend on it."""
    tg_run, torch_run = runs["tapegrad"], runs["torch"]
    if not (a.requires_grad and b.requires_grad) or not dtypes.as_dtype(
            TAPEGRAD.dtype_name(a)).is_floating_point:
        return []
    grad = _incoming_gradient(program, a)
    outcomes = []
    for run, value, make in ((tg_run, a, tg.from_numpy), (torch_run, b, torch.from_numpy)):
        try:
            outcomes.append(("ok", _leaf_grads(run, value, make(grad.copy()))))
        except Exception as error:  # noqa: BLE001
            outcomes.append(("error", error))
    (status, ga), (t_status, gb) = outcomes
    if status == "ok" and t_status == "error" and _overwritten_in_place(gb):
        return _compare_with_copies(program, step, grad, ga, gb, through_float16, a)
    if status != t_status:
        error = ga if status == "error" else gb
        kind = "backward-raises" if status == "error" else "backward-computes"
        return [Finding(kind, step.entry.name, f"{type(error).__name__}: {error}"[:200],
                        program.seed)]
    if status == "error":
        if raw_error(ga):
            return [Finding("raw-error", step.entry.name, raw_error(ga), program.seed)]
        return []
    for i in ga:
        if (ga[i] is None) != (gb.get(i) is None):
            return [Finding("gradient", step.entry.name,
                            f"leaf{i}: {'no' if ga[i] is None else 'a'} gradient vs torch "
                            f"{'none' if gb.get(i) is None else 'one'}", program.seed)]
        if ga[i] is not None:
            dtype_name = "float16" if _through_float16(through_float16, i) else str(ga[i].dtype)
            diff = compare_arrays(ga[i], gb[i], dtype_name,
                                  _copies_scale(program, tg_run, i, a, grad)
                                  or _weighted_mean_scale(weighted_means or {}, i, a, grad))
            broadcast = None
            if diff and diff[0] == "value":   # (a rerun: only where a difference is found)
                broadcast = _broadcast_copies_scale(program, i, grad)
                if broadcast is not None:
                    diff = compare_arrays(ga[i], gb[i], dtype_name, broadcast)
            if diff:
                kind = "gradient" if diff[0] == "value" else "gradient-" + diff[0]
                verdict = kind == "gradient" and _float16_gradient_verdict(
                    program, grad, ga, gb, _copies_scale(program, tg_run, i, a, grad)
                    or broadcast)
                return [Finding(kind, step.entry.name, f"{verdict or ''}leaf{i} "
                                f"({ga[i].dtype}): {diff[1]}{_layouts(program)}"
                                f"{_explained_in_torch(program, step, grad, ga, a, through_float16)}",
                                program.seed)]
    return []


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


FLOAT16_EXPONENT = " [float16 exponent: PyTorch agrees with it widened]"
POW_OF_FALSE = " [pow(x, False) in the program: PyTorch agrees with pow(x, 0)]"
FLOAT16_ATAN2 = (" [atan2 or hypot in the program: PyTorch agrees with its backward in a "
                 "wider float]")
WIDENED_IN_TORCH = ("atan2", "arctan2", "hypot")
NORM_IN_FLOAT64 = (" [a float16 or float32 p-norm in the program: PyTorch agrees with its norms "
                   "computed in float64]")
P_NORMS = ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
SINC_IN_FLOAT64 = " [sinc in the program: PyTorch agrees with its sinc computed in float64]"
NORMALIZE_WIDENED = (" [normalize, cosine_similarity or pairwise_distance in the program: "
                     "PyTorch agrees with their norms computed in a wider float]")
NORMALIZING = ("normalize", "cosine_similarity", "pairwise_distance")
LOGIT_OF_PLUS_ZERO = " [logit in the program: PyTorch agrees with logit(x + 0.0)]"
LOGITS = ("logit", "logit_")
SLOPES_WIDENED = (" [lgamma, digamma, polygamma, mvlgamma or gelu in the program: PyTorch agrees "
                  "with their slopes computed in float64]")
WIDENED_SLOPES = ("lgamma", "lgamma_", "digamma", "digamma_", "polygamma", "polygamma_",
                  "polygamma_method", "mvlgamma", "mvlgamma_", "gelu")
MUL_AS_COMPUTED = (" [mul of a 0-d tensor of another dtype in the program: PyTorch agrees with "
                   "the operands given in the dtype its forward computes in]")
MULS = ("mul", "mul_", "multiply", "multiply_")
MARKS = (FLOAT16_EXPONENT, POW_OF_FALSE, FLOAT16_ATAN2, NORM_IN_FLOAT64, SINC_IN_FLOAT64,
         NORMALIZE_WIDENED, LOGIT_OF_PLUS_ZERO, SLOPES_WIDENED, MUL_AS_COMPUTED)


def _explained_in_torch(program, step, grad, ga, a, through_float16=False, on_copies=False):
    """A mark for a gradient finding that a rerun in PyTorch of the program so far, changed
    where PyTorch's backward is known to be wrong, explains: PyTorch's gradients are then
    tapegrad's. FLOAT16_EXPONENT: ``step`` is pow of a wider base to a float16 exponent leaf,
    rerun with that leaf in the result's dtype (the same values): PyTorch's backward takes
    y - 1 in float16 (12056 - 1 rounds to 12056, so an odd power's sign is lost).
    POW_OF_FALSE: a step is pow(x, False), rerun as pow(x, 0): PyTorch's backward computes
    0·x⁻¹ for the bool exponent, NaN at x = 0 or for an infinite incoming gradient.
    FLOAT16_ATAN2: a step is atan2 or hypot of two float16 (float32) tensors, rerun in
    float32 (float64) and rounded back (the same forward up to the last bit): PyTorch's
    backward computes r² = x² + y² and grad·y in the operands' dtype, where they overflow
    (∞·0 = NaN, ∞/z = ∞) though the slopes fit; tapegrad's do not (float16 in float32,
    grad/z or grad/r² first). The others (NORM_IN_FLOAT64, SINC_IN_FLOAT64,
    NORMALIZE_WIDENED, LOGIT_OF_PLUS_ZERO, SLOPES_WIDENED, MUL_AS_COMPUTED) rerun the steps
    their calls name; each that applies is tried in turn, the first that agrees is the mark.
    ``on_copies``: the rerun with each in-place step on a copy of its target
    (``_compare_with_copies``)."""
    leaves, steps = list(program.leaves), list(program.steps)
    result_dtype = TAPEGRAD.dtype_name(a)
    names = {s.entry.name for s in steps}
    if step.entry.name in ("pow", "pow_") and len(step.args) >= 2 and isinstance(
            step.args[1], LeafRef) and result_dtype in ("float32", "float64") and \
            leaves[step.args[1].index].values.dtype == np.float16:
        leaf = leaves[step.args[1].index]
        leaves[step.args[1].index] = leaf._replace(values=leaf.values.astype(result_dtype))
        reruns = [(FLOAT16_EXPONENT, None)]
    else:
        steps = [s._replace(args=(s.args[0], 0) + tuple(s.args[2:]))
                 if s.entry.name in ("pow", "pow_") and len(s.args) >= 2
                 and s.args[1] is False else s for s in steps]
        reruns = [(POW_OF_FALSE, None)]
        if all(s is o for s, o in zip(steps, program.steps)):   # (0 == False: not ==)
            reruns = [(mark, call) for mark, call, present in (
                (FLOAT16_ATAN2, _widened_call, names & set(WIDENED_IN_TORCH)),
                (NORMALIZE_WIDENED, _norm_widened_call, names & set(NORMALIZING) and (
                    step.entry.name in NORMALIZING or not names & set(P_NORMS))),
                (NORM_IN_FLOAT64, _norm_widened_call, names & set(P_NORMS)),
                (SINC_IN_FLOAT64, _norm_widened_call, "sinc" in names),
                (LOGIT_OF_PLUS_ZERO, _logit_of_plus_zero_call, names & set(LOGITS)),
                (SLOPES_WIDENED, _slopes_widened_call, names & set(WIDENED_SLOPES)),
                (SLOPES_WIDENED, _slopes_and_values_widened_call, names & set(WIDENED_SLOPES)),
                (SLOPES_WIDENED, _ON_TAPEGRADS_VALUES, names & set(WIDENED_SLOPES)),
                (MUL_AS_COMPUTED, _mul_as_computed_call, names & set(MULS)),
                *_operand_reruns(names)) if present]
    own = None   # (PyTorch's own gradients, once: an element they give is explained too)
    for mark, call in reruns:
        if own is None and mark == SLOPES_WIDENED:
            own = _rerun_gradients(program, step, grad, program.leaves, program.steps, None,
                                   on_copies) or {}
        if _rerun_agrees(program, step, grad, ga, leaves, steps, call, through_float16,
                         on_copies, own if mark == SLOPES_WIDENED else None):
            return mark
    return ""


def _rerun_agrees(program, step, grad, ga, leaves, steps, call, through_float16, on_copies,
                  own=None):
    """Whether PyTorch, running ``steps`` (each through ``call``, ``run.call`` where None)
    on ``leaves`` up to ``step``, gives the leaves' gradients ``ga`` (tapegrad's); with
    ``own`` (PyTorch's own gradients of the program), each element of tapegrad's is that of
    the rerun or PyTorch's own (an element where the program's NaN or ∞ meets a slope PyTorch
    computes otherwise in float64 is explained by PyTorch's own answer)."""
    gb = _rerun_gradients(program, step, grad, leaves, steps, call, on_copies)
    if gb is None:
        return False
    for i, g in ga.items():   # (to float16's tolerance where the chain passed through it, as
        # the finding itself: a float32 leaf's gradient keeps float16's digits after it)
        if (g is None) != (gb.get(i) is None):
            return False
        if g is None:
            continue
        dtype_name = "float16" if _through_float16(through_float16, i) else _narrower(
            g.dtype, getattr(grad, "dtype", g.dtype))
        with np.errstate(over="ignore"):   # (a wider gradient rounds to ±inf as PyTorch's would)
            theirs = gb[i].astype(g.dtype)
        if own and own.get(i) is not None and own[i].shape == g.shape:
            if not np.all(_agree_elementwise(g, theirs, dtype_name)
                          | _agree_elementwise(g, own[i].astype(g.dtype), dtype_name)):
                return False
        elif not _same_to_rounding(g, theirs, dtype_name):
            return False
    return True


def _narrower(leaf_dtype, result_dtype):
    """The tolerance's dtype for a leaf's gradient in a rerun: the leaf's, or the result's
    where that is a narrower float (a float64 0-d divisor of float32 tensors: its gradient
    is summed from float32 terms, so two computations agree only to float32's digits)."""
    leaf_dtype, result_dtype = np.dtype(leaf_dtype), np.dtype(result_dtype)
    if result_dtype.kind == "f" and leaf_dtype.kind == "f" and result_dtype.itemsize < leaf_dtype.itemsize:
        return str(result_dtype)
    return str(leaf_dtype)


def _agree_elementwise(a, b, dtype_name):
    """Per element: both NaN, the same ±inf, or finite and within the tolerance of its size."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    tol = TOLERANCE.get(dtype_name, 2e-4)
    with np.errstate(invalid="ignore"):
        close = np.abs(a64 - b64) <= tol * np.abs(b64) + tol * 1e-2
    return (np.isnan(a64) & np.isnan(b64)) | (np.isinf(a64) & (a64 == b64)) | (
        np.isfinite(a64) & np.isfinite(b64) & close)


def _rerun_gradients(program, step, grad, leaves, steps, call, on_copies):
    """The leaves' gradients (numpy, by index) of PyTorch running ``steps`` (each through
    ``call``, ``run.call`` where None) on ``leaves`` up to ``step``, or None.
    ``_ON_TAPEGRADS_VALUES``: each step through ``_slopes_widened_call`` on tapegrad's values
    before it (the gradient passing each replacement unchanged): a chain of ψ⁽ⁿ⁾ whose
    float32 values are an ulp from PyTorch's, where the next slope follows the last bits."""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), leaves)
    ours = None
    if call is _ON_TAPEGRADS_VALUES:
        if on_copies or any(_unordered(s) or _in_place(s) for s in steps):
            return None   # (tapegrad's values in another order, or written into)
        ours, call = Run(TAPEGRAD), _slopes_widened_call
        ours.chain = ours.materialize(LeafRef(0), leaves)
    for each, original in zip(steps, program.steps):
        copy = on_copies and _in_place(each)
        if ours is not None:
            values = torch.from_numpy(np.array(TAPEGRAD.to_numpy(ours.chain.detach())))
            if tuple(values.shape) != tuple(run.chain.shape):
                return None
            run.chain = (_TapegradValues.apply(run.chain, values)
                         if run.chain.dtype.is_floating_point and run.chain.requires_grad
                         else values)
            status, ours.chain = ours.call(each, leaves)
            ours.chain = first_tensor(TAPEGRAD, ours.chain) if status == "ok" else None
            if ours.chain is None:
                return None
        status, result = (call or _plain_call)(run, each, leaves, copy)
        run.chain = first_tensor(TORCH, result) if status == "ok" else None
        if run.chain is None:
            return None
        if original is step:
            break
    try:
        return _leaf_grads(run, run.chain, torch.from_numpy(grad.copy()))
    except Exception:  # noqa: BLE001 - no mark without PyTorch's gradients
        return None


def _same_to_rounding(a, b, dtype_name):
    """Whether ``a`` and ``b`` agree as ``compare_arrays`` sees it and each finite element
    within the tolerance of its own size (a large element elsewhere in the tensor widens no
    other's tolerance: a rerun that confirms a finding gives each of tapegrad's numbers)."""
    if compare_arrays(a, b, dtype_name) is not None:
        return False
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(a64) & np.isfinite(b64)
    tol = TOLERANCE.get(dtype_name, 2e-4)
    return bool(np.all(np.abs(a64[finite] - b64[finite])
                       <= tol * np.abs(b64[finite]) + tol * 1e-2))


_ON_TAPEGRADS_VALUES = object()   # (a ``call`` of ``_rerun_agrees``: see there)


def _plain_call(run, step, leaves, on_a_copy=False):
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _widened_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but atan2 or hypot of tensors that promote to float16 (float32) computed
    in float32 (float64) and rounded back (FLOAT16_ATAN2)."""
    if step.entry.name in WIDENED_IN_TORCH and len(step.args) == 2 and not step.kwargs:
        args = [run.materialize(a, leaves) for a in step.args]
        wider = {torch.float16: torch.float32, torch.float32: torch.float64}
        # (the dtype the two promote to, not the operands' own: hypot of a float32 tensor
        # and an int32 number, atan2 of uint8 y and float16 x compute in float32, float16)
        dtype = (torch.result_type(*args) if all(torch.is_tensor(a) for a in args)
                 else None)
        # (a float16 operand beside a float64 one is squared in float16 by PyTorch's
        # backward too: both are given in the result's dtype)
        if dtype in wider or dtype is not None and any(a.dtype != dtype for a in args):
            function = torch.hypot if step.entry.name == "hypot" else torch.atan2
            target = wider.get(dtype, dtype)
            try:
                return "ok", function(args[0].to(target), args[1].to(target)).to(dtype)
            except Exception as error:  # noqa: BLE001 - as run.call
                return "error", error
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _norm_widened_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but a p-norm of a float16 or float32 tensor computed in float64, or sinc
    of a float16 (float32, float64) one in float32 (float64) by its series near 0, and
    rounded back to the dtype of its result (NORM_IN_FLOAT64, SINC_IN_FLOAT64): PyTorch's
    float16 and float32 backward of a p-norm forms |x|^(p-1) and ‖x‖^(p-1) apart, which underflow (0/0) or
    overflow where the slope fits; sinc's (πx·cos πx - sin πx)/(πx²) cancels to 0 near 0
    (in float16 π·x² also overflows beyond |x| ≈ 144)."""
    if step.entry.name in NORMALIZING:
        return _normalizing_widened_call(run, step, leaves, on_a_copy)
    sinc = step.entry.name == "sinc"
    wider = ({torch.float16: torch.float32, torch.float32: torch.float64,
              torch.float64: torch.float64} if sinc else
             {torch.float16: torch.float64, torch.float32: torch.float64})
    if (step.entry.name in P_NORMS or sinc) and step.args:
        args = [run.materialize(a, leaves) for a in step.args]
        kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
        if torch.is_tensor(args[0]) and args[0].dtype in wider:
            status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
            if status != "ok" or not torch.is_tensor(narrow):
                return status, narrow
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    wide = (_sinc_by_its_series_near_0(args[0].to(wider[args[0].dtype])) if sinc
                            else catalogue.caller("torch", step.entry)(   # (dtype=float32 too)
                                args[0].to(torch.float64), *map(_wide_dtype, args[1:]),
                                **{k: _wide_dtype(v) for k, v in kwargs.items()}))
                return "ok", wide.to(narrow.dtype)
            except Exception as error:  # noqa: BLE001 - as run.call
                return "error", error
    return run.call(step, leaves, on_a_copy=on_a_copy)


def _logit_of_plus_zero_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but logit (logit_, out of place) of x + 0.0, which is x with -0.0 made
    +0.0 (LOGIT_OF_PLUS_ZERO): the slope 1/(x(1 - x)) at -0.0 is +inf, the slope at 0, but
    PyTorch's vectorised loop divides by x(1 - x) = -0.0 and gives -inf."""
    if step.entry.name not in LOGITS or not step.args:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    args = [run.materialize(a, leaves) for a in step.args]
    kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
    if not torch.is_tensor(args[0]):
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        return "ok", torch.logit(args[0] + 0.0, *args[1:], **kwargs)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _slopes_and_values_widened_call(run, step, leaves, on_a_copy=False):
    """``_slopes_widened_call`` with the values computed in float64 too and rounded back (the
    correctly rounded values, which tapegrad's gelu gives where PyTorch's float32 one is an
    ulp off and a later atanh near 1 magnifies the ulp)."""
    return _slopes_widened_call(run, step, leaves, on_a_copy, own_values=False)


def _slopes_widened_call(run, step, leaves, on_a_copy=False, own_values=True):
    """``run.call``, but the backward of lgamma, digamma, polygamma, mvlgamma or gelu of
    float16 and float32 tensors computed in float64 (SLOPES_WIDENED; the values are PyTorch's
    own): PyTorch's float32 trigamma takes sin(πx) of the unreduced x, which
    between poles one apart follows x's last bits (ψ⁽¹⁾(-11260.926): 185.6, mpmath 184.9),
    and its float16 slopes of ψ⁽ⁿ⁾ and gelu round tiny slopes (-5.2e-8, 1e-16) to 0, which an
    infinite gradient later turns into NaN; tapegrad computes them in float64."""
    status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
    if step.entry.name not in WIDENED_SLOPES or status != "ok" or not torch.is_tensor(narrow) \
            or narrow.dtype not in (torch.float16, torch.float32):
        return status, narrow
    widen = (lambda v: v.to(torch.float64) if torch.is_tensor(v) and v.dtype in (
        torch.float16, torch.float32) else v)
    args = [widen(run.materialize(a, leaves)) for a in step.args]
    kwargs = {k: widen(run.materialize(v, leaves)) for k, v in step.kwargs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wide = catalogue.caller("torch", step.entry)(*args, **kwargs).to(narrow.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error
    if not own_values:
        return "ok", wide
    if not wide.requires_grad or wide.shape != narrow.shape:
        return status, narrow
    # (PyTorch's own values go on, so a later step sees what it saw in the program: a float32
    # mvlgamma an ulp from its float64 one moves trigamma's slope by 10% after it)
    return "ok", _TapegradValues.apply(wide, narrow.detach())


def _mul_as_computed_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but mul of a tensor and a 0-d tensor of another float dtype with the
    operands given in the dtype PyTorch's forward computes in (MUL_AS_COMPUTED): a 0-d first
    operand is rounded to the result's dtype (1.1e5 to float16 is ∞), a 0-d second one is
    not and the product is formed in float32 (float16's opmath); PyTorch's backward instead
    multiplies the gradient by the unrounded operand, or forms Σ g·x in float16 (∞ beyond
    65504) for the 0-d one's float32 gradient."""
    status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
    if step.entry.name not in MULS or len(step.args) != 2 or step.kwargs or status != "ok" \
            or not torch.is_tensor(narrow) or not narrow.dtype.is_floating_point:
        return status, narrow
    x, y = (run.materialize(a, leaves) for a in step.args)
    if not (torch.is_tensor(x) and torch.is_tensor(y)) or x.dtype == y.dtype:
        return status, narrow
    dtype = narrow.dtype
    compute = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    if x.dim() == 0 and y.dim() > 0 and x.dtype != dtype:
        x = x.to(dtype)
    elif y.dim() == 0 and x.dim() > 0 and y.dtype != dtype:
        x, y = x.to(compute), y.to(compute)
    else:
        return status, narrow
    return "ok", (x * y).to(dtype)


def _normalizing_widened_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but normalize, cosine_similarity or pairwise_distance with its float16
    (float32) tensors computed in float32 (float64) and rounded back (NORMALIZE_WIDENED):
    PyTorch's norms inside them sum |x|ᵖ in the operands' dtype, which overflows (x/∞ = 0)
    or underflows (x/0 = ±∞, 0/0) where x/‖x‖ fits; tapegrad's norm rescales by the largest
    magnitude."""
    wider = {torch.float16: torch.float32, torch.float32: torch.float64}
    status, narrow = run.call(step, leaves, on_a_copy=on_a_copy)
    args = [run.materialize(a, leaves) for a in step.args]
    kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
    if status != "ok" or not torch.is_tensor(narrow) or not any(   # (a float32 operand's
            torch.is_tensor(v) and v.dtype in wider   # norm overflows in a float64 result too)
            for v in args + list(kwargs.values())):
        return status, narrow
    widen = (lambda v: v.to(wider[v.dtype]) if torch.is_tensor(v) and v.dtype in wider
             else v)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wide = catalogue.caller("torch", step.entry)(
                *map(widen, args), **{k: widen(v) for k, v in kwargs.items()})
        return "ok", wide.to(narrow.dtype)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _normalizing_agrees_widened(program, step, result, through_float16=False):
    """NORMALIZE_WIDENED for a value finding of normalize, cosine_similarity or
    pairwise_distance where PyTorch, rerun from the program's start with those ops computed
    in the wider float (``_normalizing_widened_call``), gives tapegrad's values (else ""), to
    float16's tolerance where the chain or an operand of the step is float16."""
    if step.entry.name not in NORMALIZING or torch is None or not TAPEGRAD.is_tensor(result):
        return ""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for each in program.steps:
        status, wide = _norm_widened_call(run, each, program.leaves)
        run.chain = first_tensor(TORCH, wide) if status == "ok" else None
        if run.chain is None:
            return ""
        if each is step:
            break
    ours = TAPEGRAD.to_numpy(result)
    theirs = TORCH.to_numpy(run.chain.detach())
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return ""
    float16 = through_float16 or any(isinstance(a, LeafRef) and program.leaves[
        a.index].values.dtype == np.float16 for a in list(step.args) + list(step.kwargs.values()))
    return NORMALIZE_WIDENED if compare_arrays(
        ours, theirs, "float16" if float16 else str(ours.dtype)) is None else ""


GAMMA_VALUES_WIDENED = (" [lgamma, digamma, polygamma or mvlgamma: PyTorch agrees with its "
                        "values computed in float64]")
GAMMAS = ("lgamma", "lgamma_", "digamma", "digamma_", "polygamma", "polygamma_",
          "polygamma_method", "mvlgamma", "mvlgamma_")


def _gammas_agree_widened(program, step, chain_before, result):
    """GAMMA_VALUES_WIDENED for a value finding of lgamma, digamma, polygamma or mvlgamma of a
    float16 or float32 tensor where PyTorch, rerun from the program's start with those ops
    computed in float64 and rounded back (``_slopes_and_values_widened_call``), gives
    tapegrad's values element by element (else ""): near a pole ψ⁽ⁿ⁾ follows the last bits
    of πx and x + k, which PyTorch rounds in float32 and tapegrad does not. Also with PyTorch's
    own steps before it, or the step alone on tapegrad's values before it (``chain_before``):
    a float32 lgamma an ulp apart before a trigamma at 1e5 moves it by 10%."""
    if step.entry.name not in GAMMAS or torch is None or not TAPEGRAD.is_tensor(result) or \
            TAPEGRAD.dtype_name(result) not in ("float16", "float32"):
        return ""
    ours = TAPEGRAD.to_numpy(result)
    for before in ("widened", "pytorch's", "tapegrad's"):
        run = Run(TORCH)
        if before == "tapegrad's":
            if chain_before is None:   # (the first step: no values before it but the leaf)
                continue
            run.chain = torch.from_numpy(np.array(chain_before))
            status, wide = _slopes_and_values_widened_call(run, step, program.leaves)
            run.chain = first_tensor(TORCH, wide) if status == "ok" else None
        else:
            run.chain = run.materialize(LeafRef(0), program.leaves)
            for each in program.steps:
                status, wide = (_slopes_and_values_widened_call(run, each, program.leaves)
                                if before == "widened" or each is step
                                else run.call(each, program.leaves))
                run.chain = first_tensor(TORCH, wide) if status == "ok" else None
                if run.chain is None or each is step:
                    break
        if run.chain is None:
            continue
        theirs = TORCH.to_numpy(run.chain.detach())
        if ours.shape == theirs.shape and ours.dtype == theirs.dtype and _same_to_rounding(
                ours, theirs, str(ours.dtype)):
            return GAMMA_VALUES_WIDENED
    return ""


def _sinc_by_its_series_near_0(x):
    """sinc(x), as 1 - (πx)²/6 where |x| < 1e-4 (its next term, (πx)⁴/120, is below float64's
    rounding there): PyTorch's own slope cancels to 0 near 0 in float64 too (x = 1e-15:
    0, the slope -π²x/3 is -3.3e-15), so its float64 sinc alone is no reference there."""
    near = x.abs() < 1e-4   # (each branch fed values away from the other's edge: the unused
    small, far = torch.where(near, x, 0), torch.where(near, 1, x)   # one's slope, 0/0 or ∞,
    return torch.where(near, 1 - (math.pi * small) ** 2 / 6, torch.sinc(far))   # times 0 is NaN)


def _wide_dtype(value):
    return (torch.float64 if isinstance(value, torch.dtype) and value in (torch.float16,
                                                                        torch.float32)
            else value)


# -- float16: which library rounded better ------------------------------------------------
FLOAT16_NEARER = "float16 rounding, tapegrad nearer the float64 reference: "
FLOAT16_BOTH_NEAR = "float16 rounding, both within float16's tolerance of the float64 reference: "


# -- PyTorch reruns with an operand given otherwise: ldexp, addcmul/addcdiv, batch_norm, median,
# sin/cos. Each confirms the reason of an allowlist entry: the finding is marked only where
# PyTorch, so rerun, gives tapegrad's numbers (``_explained_in_torch`` for gradients,
# ``_operand_value_mark`` for values).
LDEXP_FLOAT_EXPONENT = (" [ldexp in the program: PyTorch agrees with the exponent given as a "
                        "float tensor of the result's dtype]")
ADDC_IN_RESULT_DTYPE = (" [addcmul or addcdiv in the program: PyTorch agrees with the operands "
                        "given in the result's dtype]")
BATCH_NORM_CONTIGUOUS = (" [batch_norm in the program: PyTorch agrees with its input and weight "
                         "made contiguous]")
MEDIAN_OF_CONTIGUOUS = " [median: PyTorch agrees with its input made contiguous]"
SIN_COS_IN_FLOAT64 = (" [sin or cos: PyTorch's in float64, rounded, agrees (or the input is "
                      "beyond 1e15)]")
LDEXPS, ADDCS = ("ldexp", "ldexp_"), ("addcmul", "addcdiv", "addcmul_", "addcdiv_")
MARKS = MARKS + (LDEXP_FLOAT_EXPONENT, ADDC_IN_RESULT_DTYPE, BATCH_NORM_CONTIGUOUS)   # (blame)


def _operand_reruns(names):
    """(mark, call, present) for ``_explained_in_torch``'s list of reruns."""
    return [(LDEXP_FLOAT_EXPONENT, _ldexp_float_exponent_call, names & set(LDEXPS)),
            (ADDC_IN_RESULT_DTYPE, _addc_in_result_dtype_call, names & set(ADDCS)),
            (BATCH_NORM_CONTIGUOUS, _contiguous_call, "batch_norm" in names)]


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
    return _torch_call(step, args, kwargs)


def _operand_value_mark(program, step, chain_before, result):
    """The mark for a value finding of ``step`` that a rerun confirms (else ""): ldexp
    rerun from the program's start with its exponent in the result's dtype
    (LDEXP_FLOAT_EXPONENT), median with its input contiguous (MEDIAN_OF_CONTIGUOUS; values
    and indices the same), sin/cos of tapegrad's input in float64 rounded back, element by
    element (SIN_COS_IN_FLOAT64; an element whose input is beyond 1e15 has no digit left in
    float32's argument reduction)."""
    name = step.entry.name
    if name == "cross_entropy":
        return _over_zero_classes(program, step, chain_before)
    if torch is None or name not in LDEXPS + ("median", "sin", "cos", "sin_", "cos_"):
        return ""
    if name in ("sin", "cos", "sin_", "cos_"):
        return _sin_cos_in_float64(program, step, chain_before, result)
    call, mark = ((_ldexp_float_exponent_call, LDEXP_FLOAT_EXPONENT) if name in LDEXPS else
                  (_contiguous_call, MEDIAN_OF_CONTIGUOUS))
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


def _float16_reference(program, library=TAPEGRAD, on_copies=False):
    """The program's steps so far in float64, the chain rounded to float16 after every step,
    forward and backward (``.to(float16).to(float64)``): each operation computed in float64
    and rounded once, as a float16 program means it. (The Run, its last result), or None
    where the replay is not the float16 program in another precision (a float leaf of
    another dtype, a step that names a dtype, an unordered topk, a floating chain of another
    dtype, an error); an integer or bool chain is exact in both and goes on as it is. It is
    run in tapegrad, and in PyTorch to confirm it (``_confirmed``). ``on_copies``: each
    in-place step on a copy of its target (``_compare_with_copies``)."""
    if program.leaves[0].values.dtype.kind not in "biuf" or any(
            leaf.values.dtype.kind == "f" and leaf.values.dtype != np.float16
            for leaf in program.leaves) or any(
            _names_a_float_dtype(s) or _unordered(s) for s in program.steps):
        return None
    run = Run(library, "float64")
    run.chain = run.materialize(LeafRef(0), program.leaves)
    result = None
    half, double = library.dtype("float16"), library.dtype("float64")
    for step in program.steps:
        status, result = run.call(step, program.leaves,
                                  on_a_copy=on_copies and _in_place(step))
        chain = first_tensor(library, result) if status == "ok" else None
        if chain is None or chain.dtype.is_floating_point and chain.dtype != double:
            return None
        if not chain.dtype.is_floating_point:   # integers (a first integer leaf, floor
            run.chain = chain                   # division of one) are exact in both
            continue
        with warnings.catch_warnings():   # (numpy's overflow warning: inf is the rounding)
            warnings.simplefilter("ignore")
            run.chain = chain.to(half).to(double)
    return run, result


def _confirmed(references, t_references):
    """True when PyTorch's float64 replay gives the same reference arrays (to float64's
    tolerance): the reference is not one of tapegrad's own float64 answers alone."""
    return len(references) == len(t_references) and all(
        b is not None and compare_arrays(np.asarray(a), np.asarray(b), "float64") is None
        for a, b in zip(references, t_references))


# the rounding of float16 sums judged against the size of their terms: 4 units of its last
# place at 1 (float16 keeps 11 bits)
FLOAT16_TERMS = 2.0 ** -8


def _near_reference(a, reference, scale=None):
    """True when the float16 array ``a`` is the float64 ``reference`` to float16's tolerance:
    NaN where it is NaN; ±inf or a value within the tolerance where it is beyond float16's
    largest finite value (65504), its overflow; within the tolerance elsewhere. (A wider
    array, a float32 leaf's gradient that passed a float16 step, overflows past its own
    dtype's largest value: a float32 -inf is not -1.5e10.)"""
    largest = float(np.finfo(a.dtype if a.dtype.kind == "f" else np.float16).max)
    a, reference = a.astype(np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != reference.shape or not np.array_equal(np.isnan(a), np.isnan(reference)):
        return False
    tol = TOLERANCE["float16"]
    finite = np.isfinite(reference)
    terms = scale is not None and math.isfinite(scale)
    scale = scale if terms else 0.0
    # element by element: a large element elsewhere is no licence for a small one here
    size = np.maximum(np.maximum(1.0, np.abs(reference)), scale)
    # where the size of the terms summed is known, a few float16 roundings of that size
    # (terms of 50 that cancel leave 0.05 in float16), else a fiftieth of the tolerance
    floor = max(tol * 1e-2, FLOAT16_TERMS) if terms else tol * 1e-2
    with np.errstate(invalid="ignore"):
        overflowed = (np.abs(reference) > largest) & (
            a == np.copysign(np.inf, reference))
        within = np.abs(a - reference) <= tol * np.abs(reference) + floor * size
        # a sign opposite to the reference's is a rounding only of terms that cancel, and
        # only within their floor: without their size known it is never one
        flipped = a * reference < 0
        within &= ~flipped | (terms & (np.abs(a - reference) <= floor * scale))
    return bool(np.all(np.isnan(reference) | overflowed | (finite & within)))


def _float16_verdict(pairs, scale=None):
    """``pairs``: (tapegrad's float16 array, PyTorch's, the float16 reference in float64).
    The detail's prefix when the reference explains the disagreement as rounding (tapegrad
    near it and PyTorch not, or both near it: a value at the edge of float16's range that
    one rounded to inf), else "" (PyTorch near it and tapegrad not: tapegrad's bug)."""
    if not pairs:
        return ""
    pairs = [_where_they_differ(a, b, r) for a, b, r in pairs]
    tapegrad_near = all(_near_reference(a, r, scale) for a, _, r in pairs)
    torch_near = all(_near_reference(b, r, scale) for _, b, r in pairs)
    if tapegrad_near and torch_near:
        return FLOAT16_BOTH_NEAR
    return FLOAT16_NEARER if tapegrad_near else ""


def _where_they_differ(a, b, reference):
    """The elements of (tapegrad's array, PyTorch's, the reference) where the two libraries
    differ: where both give the same number or NaN (0·∞ of a slope that underflowed in
    both) there is no disagreement to judge, even where the reference has another."""
    reference = np.asarray(reference)
    if not a.shape == b.shape == reference.shape:
        return a, b, reference   # (_near_reference refuses another shape)
    with np.errstate(invalid="ignore"):
        differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return a[differ], b[differ], reference[differ]


def _float16_value_verdict(program, result, t_result):
    """For a value finding: ``_float16_verdict`` of the results against the reference's."""
    a_items, b_items = items(TAPEGRAD, result), items(TORCH, t_result)
    tensors = [a for a in a_items if TAPEGRAD.is_tensor(a)]
    if not tensors or any(a.dtype is not tg.float16 for a in tensors):
        return ""   # (kthvalue's indices too: a verdict on its values would not be theirs)
    replayed = _float16_reference(program)
    if replayed is None:
        return ""
    r_items = items(TAPEGRAD, replayed[1])
    if not len(a_items) == len(b_items) == len(r_items):
        return ""
    t_replayed = _float16_reference(program, TORCH)
    if t_replayed is None or len(items(TORCH, t_replayed[1])) != len(r_items):
        return ""
    chosen = [(a, b, r, t) for a, b, r, t in zip(a_items, b_items, r_items,
                                                 items(TORCH, t_replayed[1]))
              if TAPEGRAD.is_tensor(a) and a.dtype is tg.float16 and TORCH.is_tensor(b)
              and TAPEGRAD.is_tensor(r) and TORCH.is_tensor(t)]
    if not _confirmed([TAPEGRAD.to_numpy(r) for _, _, r, _ in chosen],
                      [TORCH.to_numpy(t) for _, _, _, t in chosen]):
        return ""
    return _float16_verdict([(TAPEGRAD.to_numpy(a), TORCH.to_numpy(b), TAPEGRAD.to_numpy(r))
                             for a, b, r, _ in chosen])


def _float16_gradient_verdict(program, grad, ga, gb, scale=None, on_copies=False):
    """For a gradient finding: ``_float16_verdict`` of the leaves' gradients against the
    reference's, from the same incoming gradient. Only the leaves whose gradients differ
    are judged: one where both libraries give the same NaN (0·∞ of float16 in both) is not
    the disagreement, and would otherwise deny every verdict."""
    if grad.dtype != np.float16:
        return ""
    replayed = _float16_reference(program, on_copies=on_copies)
    if replayed is None:
        return ""
    t_replayed = _float16_reference(program, TORCH, on_copies)
    if t_replayed is None:
        return ""
    run, t_run = replayed[0], t_replayed[0]
    try:
        reference = _leaf_grads(run, run.chain, tg.from_numpy(grad.astype(np.float64)))
        t_reference = _leaf_grads(t_run, t_run.chain, torch.from_numpy(grad.astype(np.float64)))
    except Exception:  # noqa: BLE001 - no reference: no verdict
        return ""
    if set(reference) != set(ga) or any(ga[i] is not None and (
            ga[i].dtype != np.float16 or reference[i] is None) for i in ga):
        return ""
    leaves = [i for i in ga if ga[i] is not None and compare_arrays(ga[i], gb[i], "float16", scale)]
    if not leaves or not _confirmed([reference[i] for i in leaves], [t_reference.get(i) for i in leaves]):
        return ""
    return _float16_verdict([(ga[i], gb[i], reference[i]) for i in leaves], scale)


def _copies_scale(program, run, i, value, grad):
    """For a leaf the program uses expanded, the largest sum of |∂value/∂copy| over the
    copies of one of its elements (else None). Its gradient sums its copies' gradients, and
    where those cancel (group_norm of equal values: ±73 each) both libraries keep a rounding
    residue of the copies' size, not of the sum's."""
    leaf = program.leaves[i]
    if leaf.layout[0] != "expand":
        return None
    base, view = run.leaves[i]
    try:
        copies, = tg.autograd.grad(value, [view], tg.from_numpy(grad.copy()),
                                   retain_graph=True, allow_unused=True)
    except Exception:  # noqa: BLE001 - e.g. the view was changed in place since
        return None
    if copies is None:
        return None
    sizes = np.abs(TAPEGRAD.to_numpy(copies)).astype(np.float64)
    sizes = sizes.sum(axis=tuple(range(sizes.ndim - base.ndim)))
    grown = tuple(d for d, n in enumerate(base.shape) if n == 1 and sizes.shape[d] != 1)
    sizes = sizes.sum(axis=grown)   # (an element whose copies' gradients hold NaN or ∞ is NaN
    return float(sizes[np.isfinite(sizes)].max(initial=0))   # or ∞ in both: not its scale)


def _broadcast_copies_scale(program, i, grad):
    """For a leaf of one element (a 0-d number) that operations broadcast, the sum of
    |∂value/∂copy| over its copies (else None): as for an expanded leaf (``_copies_scale``),
    its gradient sums its copies' gradients, and where those cancel (x - c over the logits
    of a cross_entropy: Σ_j ∂L/∂x_j = 0 in the math, 2e22 each after cosh) both libraries
    keep a rounding residue of the copies' size. The program is run again in tapegrad with
    the leaf expanded to each using step's result shape (each such step run once on a copy
    first, to learn that shape), and the copies' gradients read from those expanded views."""
    leaf = program.leaves[i]
    if i == 0 or leaf.layout[0] == "expand" or np.asarray(leaf.values).size != 1:
        return None
    run = Run(TAPEGRAD)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    copies = []
    for step in program.steps:
        uses = any(isinstance(x, LeafRef) and x.index == i for x in _arguments(step))
        if uses:
            run.materialize(LeafRef(i), program.leaves)
            status, result = run.call(step, program.leaves, on_a_copy=True)
            shaped = first_tensor(TAPEGRAD, result) if status == "ok" else None
            if shaped is None:
                return None
            base, view = run.leaves[i]
            # the shape the step broadcasts its operands to (a reduction's, cosine_similarity
            # along dim, is not its result's), else its result's
            operands = [run.materialize(a, program.leaves) for a in _arguments(step)]
            try:
                shape = np.broadcast_shapes(*[tuple(t.shape) for t in operands
                                              if TAPEGRAD.is_tensor(t)])
            except ValueError:
                shape = tuple(shaped.shape)
            try:
                run.leaves[i] = (base, view.expand(*shape))
            except Exception:  # noqa: BLE001 - a result shape the leaf does not broadcast to
                return None
            copies.append(run.leaves[i][1])
        status, result = run.call(step, program.leaves)
        run.chain = first_tensor(TAPEGRAD, result) if status == "ok" else None
        if run.chain is None:
            return None
        if uses:
            run.leaves[i] = (base, view)
            if run.chain.dtype is not shaped.dtype:   # (a 0-d tensor promotes as a number
                return None                           # does: expanded, it is another program)
    if not copies or not run.chain.requires_grad or tuple(run.chain.shape) != grad.shape:
        return None
    try:
        found = tg.autograd.grad(run.chain, copies, tg.from_numpy(grad.copy()),
                                 allow_unused=True)
    except Exception:  # noqa: BLE001 - no scale without the copies' gradients
        return None
    sizes = [np.abs(TAPEGRAD.to_numpy(g).astype(np.float64)).sum() for g in found
             if g is not None]
    return float(sum(sizes)) if sizes else None   # (∞ or NaN: compare_arrays ignores it)


def _weighted_mean_terms(program, step, chain_before, result):
    """For a step that is l1_loss/mse_loss's weighted mean L = Σ wⱼℓⱼ / Σ wⱼ with a leaf as
    the weight: {that leaf's index: (L, 2·max ℓⱼ / |Σ wⱼ|)}, the size of the two terms the
    weight's gradient ∂L/∂wᵢ = (ℓᵢ - L)/Σ wⱼ is the difference of (else {}). Where ℓᵢ = L
    (one element, equal losses) that gradient is 0 mathematically, and both libraries keep
    a rounding residue of the terms' size, not of 0."""
    weight = step.kwargs.get("weight")
    if (step.entry.name not in ("l1_loss", "mse_loss") or not isinstance(weight, LeafRef)
            or step.kwargs.get("reduction", "mean") != "mean"
            or any(step.kwargs.get(k) is not None for k in ("size_average", "reduce"))):
        return {}
    run = Run(TAPEGRAD)   # (the chain is leaf 0 before the first step)
    run.chain = (run.materialize(LeafRef(0), program.leaves) if chain_before is None
                 else tg.from_numpy(chain_before))
    status, losses = run.call(step._replace(kwargs={**step.kwargs, "reduction": "none",
                                                    "weight": None}), program.leaves)
    if status != "ok":
        return {}
    losses = np.abs(TAPEGRAD.to_numpy(losses.detach()).astype(np.float64))
    w = TAPEGRAD.to_numpy(run.materialize(weight, program.leaves).detach()).astype(np.float64)
    total = abs(float(np.sum(w)))
    if not total or not np.isfinite(losses).all():
        return {}
    return {weight.index: (result, 2 * float(losses.max(initial=0)) / total)}


def _weighted_mean_scale(weighted_means, i, value, grad):
    """The size of the terms leaf ``i``'s gradient cancels as the weight of a weighted mean
    earlier in the chain: |∂value/∂L| times the terms of ∂L/∂wᵢ (else None)."""
    if i not in weighted_means:
        return None
    mean, terms = weighted_means[i]
    try:
        slope, = tg.autograd.grad(value, [mean], tg.from_numpy(grad.copy()),
                                  retain_graph=True, allow_unused=True)
    except Exception:  # noqa: BLE001 - e.g. changed in place since
        return None
    if slope is None:
        return None
    slope = np.abs(TAPEGRAD.to_numpy(slope).astype(np.float64)).max(initial=0)
    with np.errstate(over="ignore"):
        return float(slope * terms) if np.isfinite(slope) else None


def _overwritten_in_place(error):
    return "modified by an inplace operation" in str(error)


def _compare_with_copies(program, step, grad, ga, error, through_float16=False, a=None):
    """PyTorch refused a backward because a value it saved was overwritten in place, and
    tapegrad computed one: tapegrad kept what it needs (the inputs, or its own copy). The
    reference is then PyTorch's gradient of the same program up to ``step`` with every
    in-place step applied to a copy of its target, which overwrites nothing saved. A
    difference is judged as one of the program itself (the float16 reference, a rerun
    where PyTorch's backward is known to be wrong), with the in-place steps on copies."""
    last = next(i for i, s in enumerate(program.steps) if s is step)
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    for later in program.steps[:last + 1]:
        status, result = run.call(later, program.leaves, on_a_copy=_in_place(later))
        if status == "error" or first_tensor(TORCH, result) is None:
            break
        run.chain = first_tensor(TORCH, result)
        if _unordered(later):   # in index order, as the chain tapegrad's gradient came from
            run.chain = _ordered_chains(later, {"torch": (status, result)})["torch"]
    else:
        try:
            gb = _leaf_grads(run, run.chain, torch.from_numpy(grad.copy()))
        except Exception as refusal:  # noqa: BLE001 - PyTorch refuses this one too
            error, gb = refusal, None
        if gb is not None:
            for i in ga:   # (a leaf first used after the prefix gets no gradient from it)
                if (ga[i] is None) != (gb.get(i) is None):
                    break
                diff = ga[i] is not None and compare_arrays(   # (float16's tolerance after
                    ga[i], gb[i], "float16" if _through_float16(through_float16, i)
                    else str(ga[i].dtype))
                if diff and diff[0] != "float-noise":
                    verdict = _float16_gradient_verdict(program, grad, ga, gb, on_copies=True)
                    mark = "" if a is None else _explained_in_torch(
                        program, step, grad, ga, a, through_float16, on_copies=True)
                    return [Finding("gradient", step.entry.name, f"{verdict}leaf{i} "
                                    f"({ga[i].dtype}): {diff[1]} (in-place steps on copies)"
                                    f"{_layouts(program)}{mark}", program.seed)]
            else:
                return [Finding("backward-computes", step.entry.name,
                                f"{type(error).__name__}: {str(error)[:200]} [tapegrad's gradient "
                                f"is PyTorch's with the in-place steps on copies]", program.seed)]
    return [Finding("backward-computes", step.entry.name,
                    f"{type(error).__name__}: {error}"[:200], program.seed)]


def _in_place(step):
    return (step.entry.name.endswith("_") or step.entry.name == "setitem"
            or step.kwargs.get("inplace") is True)


# -- tapegrad's own invariants ------------------------------------------------------------
# Operations that read one triangle of a matrix taken as symmetric, and whose gradient is the
# symmetric one (PyTorch's, as its docs say): on a non-symmetric input finite differences see
# the triangle's elements alone, so PyTorch's own gradcheck fails there as well.
ONE_TRIANGLE = {"cholesky"}


def _replay(program, float_dtype, leaves_requiring_grad=None, steps=None):
    """Run the program's steps in tapegrad with every float leaf in ``float_dtype``."""
    run = Run(TAPEGRAD, float_dtype)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    run.largest = 0.0   # the largest magnitude (or NaN) any step's result held
    run.zeros = False   # whether any step's result held an exact 0
    run.asymmetric = False   # whether a ONE_TRIANGLE step met a non-symmetric matrix
    run.norm_below_eps = False   # whether a cosine_similarity met a norm below its eps
    outcomes = []
    for step in program.steps if steps is None else steps:
        run.norm_below_eps = run.norm_below_eps or _cosine_norm_below_eps(run, step, program)
        if step.entry.name in ONE_TRIANGLE and run.chain is not None:
            values = TAPEGRAD.to_numpy(run.chain)
            run.asymmetric = run.asymmetric or (
                values.ndim >= 2 and not np.array_equal(values, np.swapaxes(values, -1, -2),
                                                        equal_nan=True))
        status, result = run.call(step, program.leaves)
        outcomes.append((step, status, result))
        if status == "error" or first_tensor(TAPEGRAD, result) is None:
            break
        run.chain = first_tensor(TAPEGRAD, result)
        # (read now: a later in-place step may overwrite these values)
        values = TAPEGRAD.to_numpy(run.chain)
        if values.dtype.kind == "f":
            # (np.max, not max(): Python's max(0.0, nan) is 0.0 and would lose the NaN)
            run.largest = float(np.max([run.largest, np.abs(values).max(initial=0)]))
            run.zeros = run.zeros or bool((values == 0).any())
    return run, outcomes


def _cosine_norm_below_eps(run, step, program):
    """cosine_similarity(x1, x2, dim, eps) where an operand's 2-norm along ``dim`` is below
    ``eps``: its value divides by eps there, but PyTorch's gradient (which tapegrad matches)
    is not the slope of that value, so finite differences cannot judge it."""
    if step.entry.name != "cosine_similarity":
        return False
    names = ("x1", "x2", "dim", "eps")
    given = dict(zip(names, step.args)) | step.kwargs
    try:
        operands = [TAPEGRAD.to_numpy(run.materialize(given[name], program.leaves))
                    for name in ("x1", "x2")]
        operands = np.broadcast_arrays(*[np.asarray(o, dtype=np.float64) for o in operands])
        dim = int(given.get("dim", 1))
        eps = float(given.get("eps", 1e-8))
        with np.errstate(all="ignore"):
            return any(bool((np.sqrt((o * o).sum(axis=dim)) < eps).any()) for o in operands)
    except Exception:  # noqa: BLE001 - a call that fails as the step itself will
        return False


# -- reruns in PyTorch for value findings: attention by its math, norms scaled per slice ---
ATTENTION_BY_ITS_MATH = (" [scaled_dot_product_attention in the program: PyTorch's math "
                         "backend agrees]")
SCALED_PER_SLICE = (" [normalize or cosine_similarity in the program: PyTorch agrees with each "
                    "slice scaled by a power of two near its largest magnitude]")
SCALE_INVARIANT = {"normalize": ("input",), "cosine_similarity": ("x1", "x2")}


def _marked_by_a_rerun(program, step, result, through_float16=False):
    """The mark for a value finding at ``step`` that PyTorch, rerun from the program's start
    in a way that avoids a known fault of its own, gives tapegrad's ``result`` for (else ""):
    ATTENTION_BY_ITS_MATH: attention with PyTorch's math backend, which its 3-d inputs take
    (its fused CPU kernel for 4-d inputs gives 0 for a query row whose scores are NaN, where
    softmax of NaN, the math and its 3-d inputs give NaN); SCALED_PER_SLICE: normalize or
    cosine_similarity with each slice scaled by a power of two (exact) to a largest
    magnitude in [0.5, 1), where the ops are scale-invariant (PyTorch's norm sums x² in
    the operand's dtype, which overflows to ∞, x/∞ = 0, even in float64 beyond 1e154, where
    x/‖x‖ fits); NORMALIZE_WIDENED, the rerun in the wider float (``_norm_widened_call``)
    as ``_normalizing_agrees_widened``'s, but to the narrowest operand's tolerance, which
    a step of mixed dtypes needs (float32 x₁, float64 x₂: each operand is scaled in its own
    dtype, x₁/‖x₁‖ rounded to float32 in tapegrad and PyTorch alike, exactly in the rerun,
    so the slices that agree differ by float32's rounding, beyond float64's tolerance)."""
    if torch is None or not TAPEGRAD.is_tensor(result):
        return ""
    if step.entry.name == "scaled_dot_product_attention":
        reruns = ((_attention_by_its_math_call, ATTENTION_BY_ITS_MATH),)
    elif step.entry.name in SCALE_INVARIANT:
        reruns = ((_norm_widened_call, NORMALIZE_WIDENED),
                  (_scaled_per_slice_call, SCALED_PER_SLICE))
    else:
        return ""
    return next((mark for call, mark in reruns
                 if _value_rerun_agrees(program, step, result, call, through_float16)), "")


def _value_rerun_agrees(program, step, result, call, through_float16=False):
    """True where PyTorch, rerun from the program's start with each step made by ``call``
    (as ``run.call``), gives tapegrad's ``result`` at ``step``: to the tolerance of the
    narrowest float among the result, the step's tensors and a float16 chain before it."""
    run = Run(TORCH)
    run.chain = run.materialize(LeafRef(0), program.leaves)
    dtypes_seen = {TAPEGRAD.dtype_name(result)} | ({"float16"} if through_float16 else set())
    for each in program.steps:
        if each is step:
            dtypes_seen |= {str(v.dtype).removeprefix("torch.") for v in (
                run.materialize(a, program.leaves) for a in _arguments(each))
                if torch.is_tensor(v)}
        status, value = call(run, each, program.leaves)
        run.chain = first_tensor(TORCH, value) if status == "ok" else None
        if run.chain is None:
            return False
        if each is step:
            break
    ours, theirs = TAPEGRAD.to_numpy(result), TORCH.to_numpy(run.chain.detach())
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return False
    narrowest = next((d for d in ("float16", "float32") if d in dtypes_seen),
                     str(ours.dtype))
    return compare_arrays(ours, theirs, narrowest) is None


def _attention_by_its_math_call(run, step, leaves, on_a_copy=False):
    """``run.call``, attention computed by PyTorch's math backend (ATTENTION_BY_ITS_MATH)."""
    if step.entry.name != "scaled_dot_product_attention":
        return run.call(step, leaves, on_a_copy=on_a_copy)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel([SDPBackend.MATH]):
        return run.call(step, leaves, on_a_copy=on_a_copy)


def _scaled_per_slice_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but normalize or cosine_similarity with each floating operand's slices
    along ``dim`` scaled (``_scaled_slices``; cosine_similarity's operands broadcast first),
    where the op is scale-invariant: p > 0 (the p-norm is then of degree 1, and at least the
    largest magnitude) and ε ≤ 1/2 (a scaled slice's norm is at least 1/2, and a slice is
    scaled only where its largest magnitude, so its norm, is at least ε: max(‖x‖, ε) is
    ‖x‖ before and after)."""
    names = SCALE_INVARIANT.get(step.entry.name)
    if names is None:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        given = step.entry.signature.bind(*[run.materialize(a, leaves) for a in step.args],
                                          **{k: run.materialize(v, leaves)
                                             for k, v in step.kwargs.items()})
    except TypeError:   # (the call itself then raises as it should)
        return run.call(step, leaves, on_a_copy=on_a_copy)
    given.apply_defaults()
    options = given.arguments
    p, eps = options.get("p", 2.0), options["eps"]
    tensors = [options[name] for name in names]
    if (options.get("out") is not None or isinstance(p, bool) or not isinstance(p, (int, float))
            or not p > 0 or isinstance(eps, bool) or not isinstance(eps, (int, float))
            or not 0 <= eps <= 0.5 or not all(torch.is_tensor(t) for t in tensors)
            or not any(t.is_floating_point() for t in tensors)):
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        if len(tensors) == 2:   # (an integer operand takes the other's dtype, as in both ops)
            x1, x2 = tensors
            tensors = torch.broadcast_tensors(x1 if x1.is_floating_point() else x1.to(x2.dtype),
                                              x2 if x2.is_floating_point() else x2.to(x1.dtype))
        for name, tensor in zip(names, tensors):
            options[name] = _scaled_slices(tensor, options["dim"], eps)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", catalogue.caller("torch", step.entry)(*given.args, **given.kwargs)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error


def _scaled_slices(x, dim, eps):
    """x with each slice along ``dim`` (every dim for None) times 2⁻ᵉ, where 2ᵉ⁻¹ ≤ max|x| <
    2ᵉ (frexp), in two exact halves (2¹⁰⁷⁴ alone is past float64's range); a slice whose
    largest magnitude is 0, below ε, ∞ or NaN is left as it is. Multiplying by a power of
    two rounds nothing, so PyTorch's op sees the same digits, its norm's squares in range."""
    dims = tuple(range(x.ndim)) if dim is None else dim
    largest = x.detach().abs().amax(dim=dims, keepdim=True).to(torch.float64).numpy()
    _, exponent = np.frexp(largest)
    with np.errstate(invalid="ignore"):
        exponent = np.where(np.isfinite(largest) & (largest > 0) & (largest >= eps),
                            exponent, 0)
    half = exponent // 2
    for power in (-half, half - exponent):
        x = x * torch.as_tensor(np.ldexp(1.0, power), dtype=x.dtype)
    return x


def _float_dtypes(program):
    if program.leaves[0].values.dtype.kind != "f" or not program.steps:
        return []
    _, in32 = _replay(program, "float32")
    _, in64 = _replay(program, "float64")
    for (step, s32, r32), (_, s64, r64) in zip(in32, in64):
        if _names_a_float_dtype(step):
            break   # norm(x, dtype=float32) of float64 leaves is refused, as in PyTorch
        if s32 != s64:
            error = r32 if s32 == "error" else r64
            which = "float32" if s32 == "error" else "float64"
            return [Finding("float-dtypes", step.entry.name,
                            f"raises in {which} only: {type(error).__name__}: {error}"[:200],
                            program.seed)]
        if s32 == "error" or _left_float_dtype(r32, "float32") or _left_float_dtype(r64, "float64"):
            break   # (an explicit cast, or integers turned into the default float dtype:
                    # from here the two replays no longer differ in the leaves' dtype alone)
    return []


def _names_a_float_dtype(step):
    """A step given a floating dtype: its float32 and float64 replays may rightly differ."""
    return any(isinstance(a, DType) and a.name.startswith("float")
               for a in list(step.args) + list(step.kwargs.values()))


def _left_float_dtype(result, name):
    """True when the chain is now a floating tensor of another dtype than the replay's."""
    chain = first_tensor(TAPEGRAD, result)
    return chain is not None and chain.dtype.is_floating_point and chain.dtype.name != name


def _promotion(program, step, run, result):
    """A binary arithmetic op's result dtype equals the same op on promoted inputs."""
    if not step.entry.signature.parameters.get("other") or not TAPEGRAD.is_tensor(result):
        return []
    module = getattr(getattr(tg, step.entry.call_name, None), "__module__", "")
    if not module.endswith("ops.arithmetic") or len(step.args) < 2:
        return []
    a = run.materialize(step.args[0], program.leaves)
    b = run.materialize(step.args[1], program.leaves)
    if not (TAPEGRAD.is_tensor(a) and TAPEGRAD.is_tensor(b)):
        return []
    tiers = ([x.dtype for x in (a, b) if x.ndim], [x.dtype for x in (a, b) if not x.ndim])
    promoted = dtypes.result_type(*tiers)
    rest = [run.materialize(x, program.leaves) for x in step.args[2:]]
    kwargs = {k: run.materialize(v, program.leaves) for k, v in step.kwargs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = getattr(tg, step.entry.call_name)(a.detach().to(promoted),
                                                        b.detach().to(promoted), *rest, **kwargs)
    except Exception:  # noqa: BLE001 - raising on promoted inputs is not this check's concern
        return []
    if expected.dtype is not result.dtype:
        return [Finding("promotion", step.entry.name,
                        f"{a.dtype.name}, {b.dtype.name} -> {result.dtype.name}; on "
                        f"{promoted.name} inputs {expected.dtype.name}", program.seed)]
    return []


def _gradcheck(program):
    """float64 finite differences vs backward, on programs of ordinary values only."""
    if program.special_values or not program.steps or program.rng.random() > 0.3:
        return []
    float_leaves = [i for i, leaf in enumerate(program.leaves)
                    if leaf.values.dtype.kind == "f" and leaf.requires_grad]
    if not float_leaves or any(program.leaves[i].values.size > 40 for i in float_leaves):
        return []
    if any(np.abs(leaf.values).max(initial=0) > 100 for leaf in program.leaves
           if leaf.values.dtype.kind == "f"):
        return []
    run, outcomes = _replay(program, "float64")
    if not outcomes or outcomes[-1][1] == "error" or len(outcomes) != len(program.steps):
        return []
    if any(getattr(first_tensor(TAPEGRAD, r), "dtype", None) is not tg.float64
           for _, _, r in outcomes):
        return []   # a float16 or integer step in between: finite differences cannot see it
    if not run.largest <= 1e4:
        # a NaN or inf in between (zero_ of NaNs: backward's 0·NaN is NaN), or values so
        # large that a step of 1e-6 in the leaves moves them by more than their slope shows
        # (sin of cosh(20) = 2e8)
        return []
    if _writes_at_repeated_indices(program):
        return []   # which write wins is unspecified: finite differences see one, backward all
    if _probability_at_0_or_1(program, run, outcomes):
        return []
    if run.asymmetric:
        return []   # cholesky of a non-symmetric matrix: the gradient is the symmetric one
    if run.norm_below_eps:
        return []   # cosine_similarity's gradient where a norm is below eps: PyTorch's, no slope
    out = first_tensor(TAPEGRAD, outcomes[-1][2])
    if out is None or not out.requires_grad or not out.dtype.is_floating_point:
        return []
    if not bool(np.isfinite(TAPEGRAD.to_numpy(out)).all()) or out.numel() > 64:
        return []
    bases = [run.leaves[i][0] for i in float_leaves if i in run.leaves]

    def function(*leaves):
        replay_run = Run(TAPEGRAD, "float64")
        for i, leaf_tensor in zip(float_leaves, leaves):
            replay_run.leaves[i] = (leaf_tensor, _view_of(program.leaves[i], leaf_tensor))
        replay_run.chain = replay_run.materialize(LeafRef(0), program.leaves)
        result = None
        for step in program.steps:
            status, result = replay_run.call(step, program.leaves)
            if status == "error":
                raise result
            replay_run.chain = first_tensor(TAPEGRAD, result)
        return replay_run.chain

    failure = None
    for eps in (1e-6, 1e-8):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gradcheck(function, tuple(bases), eps=eps, atol=1e-4, rtol=1e-3)
            # passing with either step: a kink or jump (remainder, trunc, pad of rounded
            # values) lay within the first step of a leaf, not a wrong backward
            return []
        except GradcheckError as error:
            failure = failure or error
        except Exception:  # noqa: BLE001 - e.g. a program that cannot be replayed leaf by leaf
            return []
    if not _wrong_where_smooth(function, bases, run.zeros):
        return []
    return [Finding("gradcheck", program.steps[-1].entry.name, str(failure)[:300],
                    program.seed)]


def _probability_at_0_or_1(program, run, outcomes):
    """binary_cross_entropy of an input (the chain) holding exactly 0 or 1: the loss clamps
    each log at -100, as PyTorch, while ∂ℓ/∂y is the unclamped -logit(x), ±inf there, also
    as PyTorch; finite differences see the clamp (a slope of ±100·w), backward the ±inf"""
    chain = TAPEGRAD.to_numpy(run.materialize(LeafRef(0), program.leaves))
    for step, status, result in outcomes:
        if step.entry.name == "binary_cross_entropy" and step.args and step.args[0] is CHAIN \
                and ((chain == 0) | (chain == 1)).any():
            return True
        if status == "ok" and first_tensor(TAPEGRAD, result) is not None:
            chain = TAPEGRAD.to_numpy(first_tensor(TAPEGRAD, result))
    return False


def _wrong_where_smooth(function, bases, zeros):
    """True when backward disagrees with finite differences at an entry (output k, leaf
    element j) of a Jacobian where output k is finite and smooth in x_j at this scale: the
    central differences at steps 1e-6 and 1e-8 agree, and so do the one-sided ones
    (f(x + h) - f(x))/h and (f(x) - f(x - h))/h. At the other entries neither can judge:
    the function is too curved there (digamma of digamma near a pole), or not
    differentiable, its two sides' slopes differing (relu of an exact 0 that floor made:
    the central difference is their mean, 0.5, backward's 0), or one side outside the
    domain (sqrt or log of an exact 0: NaN), or the output is not finite at x or at a
    probe. A wrong backward at an entry where the function is smooth is still found,
    whatever the other entries, of the same element or of the same output. Nor can they
    judge a slope that float64 rounds away at small steps (``_rounded_away``), a NaN
    backward where a step's result held an exact 0 and finite differences are finite
    (sqrt at exactly 0, then flat: backward's 0·inf is NaN), or a NaN or ±inf backward at
    an element where another output cannot be judged (sqrt at exactly 0: the other
    outputs' 0·∞)."""
    from tapegrad.autograd.gradcheck import _analytical_jacobians, _numerical_jacobians
    indices = list(range(len(bases)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coarse = _numerical_jacobians(function, bases, indices, 1e-6)
            fine = _numerical_jacobians(function, bases, indices, 1e-8)
            analytical = _analytical_jacobians(function, bases, indices)
            sides = _one_sided_jacobians(function, bases, 1e-6)
    except Exception:  # noqa: BLE001
        return False
    analytical, coarse, fine = ([np.asarray(j) for j in js] for js in (analytical, coarse, fine))
    if zeros and any(not np.isfinite(a).all() and np.isfinite(n).all()
                     for a, n in zip(analytical, coarse)):
        return False
    for leaf, (a, c, f, (forward, backward)) in enumerate(zip(analytical, coarse, fine, sides)):
        # judged per Jacobian entry (output k, input j): a kink of one output at x_j, or an
        # output that is not finite at x or at a probe (a finite difference of ±inf says
        # nothing), leaves the other outputs' slopes at x_j to be judged
        with np.errstate(invalid="ignore"):
            smooth = (np.isfinite(c) & np.isfinite(f) & np.isfinite(forward)
                      & np.isfinite(backward)
                      & np.isclose(c, f, rtol=1e-2, atol=1e-3)
                      & np.isclose(forward, backward, rtol=1e-2, atol=1e-3))
            wrong = smooth & ~(np.abs(a - c) <= 1e-4 + 1e-3 * np.abs(c))   # (gradcheck's)
        # but a NaN or ±inf backward at x_j where another output cannot be judged is that
        # output's infinite slope times a zero (sqrt at exactly 0: 0·∞ for the other outputs)
        wrong &= np.isfinite(a) | smooth.all(axis=0)
        flat = wrong & (forward == 0) & (backward == 0) & (c == 0) & (f == 0)
        if flat.any():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    wrong &= ~(flat & _rounded_away(function, bases, leaf, a))
            except Exception:  # noqa: BLE001
                pass
        edge = flat & ~np.isfinite(a)
        if edge.any():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    wrong &= ~(edge & _flat_at_every_step(function, bases, leaf))
            except Exception:  # noqa: BLE001
                pass
        if wrong.any():
            return True
    return False


def _flat_at_every_step(function, bases, leaf):
    """Per Jacobian entry of leaf ``leaf``: whether steps of 1e-4 to 1e-1 on both sides move
    the output by exactly nothing, as those of 1e-6 and 1e-8 did. Where backward is then ±∞
    (or NaN, ∞·0 of a later step), an earlier step rounded its result onto the pole of a
    later step's slope, and float64 holds no slope to compare it with: asin(erf(9.1)), whose
    erf is exactly 1 in float64 (1 - 1e-37), asin's slope 1/√(1 - y²) there ∞, times erf's
    1e-36; the true slope, erf'(x)/√(1 - erf(x)²), is 1e-18 (PyTorch's backward is ∞ too).
    A finite backward where the function is flat is still judged."""
    flat = None
    for eps in (1e-4, 1e-3, 1e-2, 1e-1):
        forward, backward = _one_sided_jacobians(function, bases, eps)[leaf]
        here = (forward == 0) & (backward == 0)
        flat = here if flat is None else flat & here
    return flat


def _rounded_away(function, bases, leaf, analytical):
    """Per Jacobian entry of leaf ``leaf``: whether steps of 1e-4 to 1e-1 show, on both
    sides, a slope of backward's sign within a factor 2 of it, where steps of 1e-6 and 1e-8
    moved nothing. Then an intermediate value rounded the small steps away, not a flat
    function: logit(erf(5.76)), whose erf is 1 - 3.3e-16 in float64 and moves by 4e-21 at a
    step of 1e-6, below its spacing there; backward has the slope, 12.5."""
    shown = np.zeros(analytical.shape, bool)
    for eps in (1e-4, 1e-3, 1e-2, 1e-1):
        forward, backward = _one_sided_jacobians(function, bases, eps)[leaf]
        with np.errstate(invalid="ignore", over="ignore"):
            shown |= ((forward * analytical > 0) & (backward * analytical > 0)
                      & (np.abs(forward) <= 2 * np.abs(analytical))
                      & (np.abs(forward) >= 0.5 * np.abs(analytical))
                      & (np.abs(backward) <= 2 * np.abs(analytical))
                      & (np.abs(backward) >= 0.5 * np.abs(analytical)))
    return shown


def _one_sided_jacobians(function, bases, eps):
    """For each leaf: (forward, backward) differences, arrays (output size, leaf size)."""
    def flat():
        return np.asarray(TAPEGRAD.to_numpy(function(*bases)), dtype=np.float64).reshape(-1)
    at_x = flat()
    out = []
    for base in bases:
        array = base.array
        forward = np.zeros((at_x.size, array.size))
        backward = np.zeros((at_x.size, array.size))
        for j in range(array.size):
            position = np.unravel_index(j, array.shape) if array.ndim else ()
            original = array[position].copy()
            array[position] = original + eps
            forward[:, j] = (flat() - at_x) / eps
            array[position] = original - eps
            backward[:, j] = (at_x - flat()) / eps
            array[position] = original
        out.append((forward, backward))
    return out


WRITES_AT_INDICES = {"setitem", "index_put", "index_put_", "index_copy", "index_copy_",
                     "scatter", "scatter_", "masked_scatter", "masked_scatter_"}


def _writes_at_repeated_indices(program):
    """A write through an integer index tensor that names one position twice."""
    for step in program.steps:
        if step.entry.name not in WRITES_AT_INDICES:
            continue
        for arg in list(step.args) + list(step.kwargs.values()):
            if isinstance(arg, LeafRef):
                values = np.asarray(program.leaves[arg.index].values)
                if values.dtype.kind in "iu" and len(np.unique(values)) < values.size:
                    return True
    return False


def _writes_twice_to_one_place(program, step):
    """``step`` writes (without accumulating) through an integer index tensor that names
    one position twice: which write lands is undefined in PyTorch (index_put_'s and
    scatter_'s documentation), and its parallel kernels do not write last-wins as numpy
    does, so the values are not compared."""
    name = step.entry.name
    accumulates = step.kwargs.get("accumulate") or step.kwargs.get("reduce") or (
        name.startswith("index_put") and len(step.args) > 3 and step.args[3] is True)
    if name not in WRITES_AT_INDICES or accumulates:
        return False
    arguments = list(step.args) + list(step.kwargs.values())
    arguments += [a for arg in arguments if isinstance(arg, (tuple, list)) for a in arg]
    return any(isinstance(arg, LeafRef) and _repeats(program.leaves[arg.index].values)
               for arg in arguments)


def _repeats(values):
    values = np.asarray(values)
    return values.dtype.kind in "iu" and len(np.unique(values)) < values.size


def _view_of(leaf, base):
    layout = leaf.layout
    if layout[0] == "transpose":
        return base.transpose(layout[1], layout[2])
    if layout[0] == "slice":
        return base[(slice(None),) * layout[1] + (slice(None, None, 2),)]
    if layout[0] == "expand":
        return base.expand(*leaf.view_shape)
    return base
