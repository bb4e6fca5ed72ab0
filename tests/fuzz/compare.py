"""Comparing two results: values per element to a tolerance per dtype, dtypes, shapes and
errors, and the reasons a refusal in one library alone is allowed.

A mismatch within a few hundred units of the dtype's tolerance is float noise (the sign
kept), never more: a summation order moves the last digits, never the first. NaN and inf
are compared where either has them, the finite elements besides. An error raised inside
numpy or a Python bug inside tapegrad is a finding of its own (``raw_error``).
"""
import traceback

import numpy as np

import tapegrad as tg

from .generate import LeafRef
from .libraries import Run, TAPEGRAD, TORCH, first_tensor, items, torch


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
    matrix singular up to rounding (SINGULAR_UP_TO_ROUNDING), or factoring one to rounding
    that PyTorch refuses (SINGULAR_FACTORED); PyTorch refusing a number its
    integer dtype cannot hold where the same step in float64 gives a result that dtype holds,
    tapegrad's (WIDENED_AGREES)."""
    tapegrad_in, torch_in = runs["tapegrad"].chain, runs["torch"].chain
    if kind == "tapegrad-raises" and step.entry.name in ("view", "view_as") and \
            "cannot be viewed as shape" in message and TAPEGRAD.is_tensor(tapegrad_in) and \
            TORCH.is_tensor(torch_in) and tuple(tapegrad_in.stride()) != tuple(torch_in.stride()):
        return LAID_OUT_OTHERWISE.format(tuple(tapegrad_in.stride()), tuple(torch_in.stride()))
    if kind == "tapegrad-raises" and step.entry.name.startswith("scatter") and \
            ("cannot be stored in a tensor" in message or "without overflow" in message):
        index = step.kwargs.get("index", step.args[2] if len(step.args) > 2 else None)
        if isinstance(index, LeafRef) and 0 in program.leaves[index.index].view_shape:
            return EMPTY_INDEX
    if kind == "tapegrad-raises" and step.entry.name == "cholesky" and \
            "positive-definite" in message and TAPEGRAD.is_tensor(tapegrad_in):
        return _singular_up_to_rounding(TAPEGRAD.to_numpy(tapegrad_in),
                                        upper=bool(step.kwargs.get("upper", False)))
    if kind == "tapegrad-computes" and step.entry.name == "cholesky" and \
            "positive-definite" in message and TAPEGRAD.is_tensor(tapegrad_in):
        return _singular_factored(TAPEGRAD.to_numpy(tapegrad_in), result,
                                  upper=bool(step.kwargs.get("upper", False)))
    if kind == "tapegrad-computes" and "value cannot be converted to type" in message:
        return _widened_agrees(program, step, torch_in, result)
    return _refused_on_tapegrads_input(program, step, runs, kind, result)


INHERITED_REFUSAL = (" [inherited: PyTorch given tapegrad's input, which agrees with its own within "
                     "the tolerance, refuses it too]")


def _refused_on_tapegrads_input(program, step, runs, kind, error):
    """INHERITED_REFUSAL for a refusal by tapegrad alone where the step's input (the chain)
    differs from PyTorch's only within the tolerance, and PyTorch given tapegrad's input
    raises an error of the same type (else ""): the rounding before the step decided which
    side of a check the input fell on (binary_cross_entropy's 0 ≤ x ≤ 1 of gelu's far tail:
    tapegrad's exact -1.9e-47 against PyTorch's cancelled -0.0; log(exp(1)) an ulp above
    1). A check that refuses a valid input is accepted by PyTorch there: still a finding."""
    ours, theirs = runs["tapegrad"].chain, runs["torch"].chain
    if kind != "tapegrad-raises" or not (TAPEGRAD.is_tensor(ours) and TORCH.is_tensor(theirs)):
        return ""
    a = np.array(TAPEGRAD.to_numpy(ours.detach()))
    b = np.array(TORCH.to_numpy(theirs.detach()))
    if a.dtype.kind != "f" or a.dtype != b.dtype or a.shape != b.shape:
        return ""
    if compare_arrays(a, b, str(a.dtype)) is not None:
        return ""
    rerun = Run(TORCH)
    rerun.chain = torch.from_numpy(a.copy())
    status, refusal = rerun.call(step, program.leaves)
    return INHERITED_REFUSAL if status == "error" and type(refusal) is type(error) else ""


LAID_OUT_OTHERWISE = " [laid out otherwise in PyTorch: strides {} vs torch {}]"
EMPTY_INDEX = " [empty index]"
SINGULAR_UP_TO_ROUNDING = " [singular up to rounding: an eigenvalue within 4n·ε·‖A‖ of 0]"
SINGULAR_FACTORED = (" [singular up to rounding: an eigenvalue within 4n·ε·‖A‖ of 0, tapegrad's "
                     "factor F gives F Fᵀ = A to 8n·ε·‖A‖]")
WIDENED_AGREES = (" [PyTorch on the input in float64 gives tapegrad's result: truncated into "
                  "an integer dtype's range, rounded in a float one]")


def _read_by_cholesky(a, upper=False):
    """The symmetric matrices cholesky factors from ``a``, in float64: each one's lower
    triangle (its upper one with ``upper``) mirrored, as both libraries read only that one."""
    read = np.swapaxes(a, -1, -2) if upper else a
    lower = np.tril(read.astype(np.float64))
    return lower + np.swapaxes(np.tril(lower, -1), -1, -2)


def _singular_up_to_rounding(a, upper=False):
    """SINGULAR_UP_TO_ROUNDING where some matrix of ``a`` (the triangle cholesky reads, its
    lower one or with ``upper`` its upper one) has an eigenvalue within 4n·ε·‖A‖₂ of 0 (ε
    of its dtype): a pivot that rounding may take to either side of 0. "" for a clearly
    definite or indefinite one."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or a.size == 0 or a.dtype.kind != "f" or \
            not np.isfinite(a).all():
        return ""
    symmetric = _read_by_cholesky(a, upper)
    eigenvalues = np.linalg.eigvalsh(symmetric)
    n, eps = a.shape[-1], float(np.finfo(a.dtype).eps)
    size = np.abs(eigenvalues).max(axis=-1)
    near = np.abs(eigenvalues).min(axis=-1) <= 4 * n * eps * size
    return SINGULAR_UP_TO_ROUNDING if near.any() else ""


def _singular_factored(a, factor, upper=False):
    """SINGULAR_FACTORED where tapegrad factored ``a`` (its input to cholesky) and PyTorch
    refused it as not positive-definite, ``a`` is singular up to rounding
    (``_singular_up_to_rounding``: whether its last pivot rounds to a residue above 0 or to
    0 and below depends on the kernel's order of operations), and tapegrad's factor F (L,
    or U read as Uᵀ) gives ‖F Fᵀ − A‖ ≤ 8n·ε·‖A‖₂ element by element: a factorization of
    A to rounding, not of another matrix. "" otherwise (a clearly indefinite matrix)."""
    if not _singular_up_to_rounding(a, upper) or not TAPEGRAD.is_tensor(factor):
        return ""
    f = np.asarray(TAPEGRAD.to_numpy(factor.detach()), dtype=np.float64)
    f = np.swapaxes(f, -1, -2) if upper else f
    symmetric = _read_by_cholesky(a, upper)
    if f.shape != a.shape or not np.isfinite(f).all():
        return ""
    n, eps = a.shape[-1], float(np.finfo(a.dtype).eps)
    size = np.abs(np.linalg.eigvalsh(symmetric)).max(axis=-1)[..., None, None]
    reproduced = np.abs(f @ np.swapaxes(f, -1, -2) - symmetric) <= 8 * n * eps * size
    return SINGULAR_FACTORED if reproduced.all() else ""


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


def _agree_elementwise(a, b, dtype_name):
    """Per element: both NaN, the same ±inf, or finite and within the tolerance of its size."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    tol = TOLERANCE.get(dtype_name, 2e-4)
    with np.errstate(invalid="ignore"):
        close = np.abs(a64 - b64) <= tol * np.abs(b64) + tol * 1e-2
    return (np.isnan(a64) & np.isnan(b64)) | (np.isinf(a64) & (a64 == b64)) | (
        np.isfinite(a64) & np.isfinite(b64) & close)


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
