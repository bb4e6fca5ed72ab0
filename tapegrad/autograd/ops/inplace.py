"""In-place operations: ``x.add_(y)``, ``x += y``, ``x.zero_()``, …

An in-place operation is computed out of place, checked, and then written into the
tensor's own memory; the tensor then takes the result's place on the tape (its
grad_fn becomes the new Node) and its version counter goes up, so any Node that saved
the old values notices at backward time instead of computing a wrong gradient.
"""
from .. import grad_mode, tape
from ..quiet import quiet
from ..tape import record
from ...dtypes import scalar_category, stored_scalar, wrap_integer
from ..tensor import Tensor, wrap
from .declare import alias, operation


def check_inplace_allowed(target, op, *others, writes=True, shared=False):
    """Refuse, before anything changes, an in-place op that would corrupt gradients (or,
    when it ``writes`` into the target's memory, memory it cannot write; ``shared``: the op
    may write one value through memory that several elements share, as a fill does)."""
    if writes:
        check_writable(target, op, shared)
    if not grad_mode._enabled:
        return
    if target.grad_fn is None and target._requires_grad:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {tuple(target.shape)}) cannot be "
            f"changed in place, because its gradient would no longer describe the values that "
            f"were used. Do it inside `with tapegrad.no_grad():` (as optimizers do), or change a "
            f"copy: x = x.clone().")
    base = target._base
    recording = target.requires_grad or any(getattr(o, "requires_grad", False) for o in others)
    if base is not None and (recording or base.requires_grad):
        raise RuntimeError(
            f"{op}: in-place change of a view (shape {tuple(target.shape)}) of a tensor of shape "
            f"{tuple(base.shape)} while gradients are recorded; tapegrad cannot move the base "
            f"tensor onto the tape. Assign through the base instead (base[index] = value), or "
            f"change a copy: view = view.clone().")


def check_writable(target, op, shared=False):
    """Refuse by name a write into memory that several elements share (an expanded view,
    as PyTorch refuses it, except for a fill: ``shared``) or that is read-only (a read-only
    array given to from_numpy)."""
    array = target.array
    if array.size == 0:
        return   # nothing is written
    if not shared and any(stride == 0 and size > 1
                          for size, stride in zip(array.shape, array.strides)):
        raise RuntimeError(
            f"{op}: unsupported operation: more than one element of the written-to tensor "
            f"(shape {tuple(target.shape)}, expanded along a dim of stride 0) refers to a "
            f"single memory location. Please clone() the tensor before performing the "
            f"operation.")
    if writable(array) is None:
        raise RuntimeError(
            f"{op}: the tensor of shape {tuple(target.shape)} is a read-only view (of a "
            f"read-only array given to from_numpy); change a copy instead: x = x.clone()")


def writable(array):
    """``array``, or a writeable alias of its memory where numpy marked it read-only only
    because it is (a part of) an expanded array: PyTorch writes through those, as cupy
    does. None where the memory itself is read-only."""
    if getattr(array.flags, "writeable", True):   # (cupy arrays are always writeable)
        return array
    alias = array.view()
    try:
        alias.flags.writeable = True
    except ValueError:
        return None
    return alias


def write_result(target, result, op):
    """Put ``result`` into ``target``'s memory and move ``target`` onto result's place on the tape."""
    if tuple(result.shape) != tuple(target.shape):
        raise RuntimeError(f"{op}: the result has shape {tuple(result.shape)}, which does not fit "
                           f"in place into the tensor of shape {tuple(target.shape)}")
    if result.dtype.category > target.dtype.category:
        raise RuntimeError(f"{op}: the result has dtype {result.dtype}, which cannot be stored in "
                           f"place into a tensor of dtype {target.dtype}")
    if result.device != target.device:
        raise RuntimeError(f"{op}: the result is on {result.device}, the tensor on {target.device}")
    if target.array.size:   # (an empty expanded view is read-only, and nothing to write)
        if result.array.dtype != target.array.dtype:
            with quiet(target.device.xp):   # (a float32 beyond float16 is ∞, silently as in
                writable(target.array)[...] = result.array   # PyTorch)
        else:
            writable(target.array)[...] = result.array
    target._version_counter.bump(op)
    if result.grad_fn is not None:
        target.grad_fn = result.grad_fn
        target._output_nr = result._output_nr
    if tape.observers:   # tracers learn that target now holds result's values
        tape.notify(op, (result,), (target,), target.grad_fn, {"overwrites": True})
    return target


def _inplace(target, op, compute, *others, shared=False):
    """Check, compute ``compute(old_values)`` out of place, then write it into ``target``."""
    check_inplace_allowed(target, op, *others, shared=shared)
    return write_result(target, compute(_old_values(target, *others)), op)


def _old_values(target, *others):
    """What the out-of-place op should read: when recording, a copy of the target's old
    values in its place on the tape, since the op may save it for backward and the
    target's memory is about to be overwritten (PyTorch saves the original too)."""
    recording = grad_mode._enabled and (
        target.requires_grad or any(getattr(o, "requires_grad", False) for o in others))
    if not recording:
        return target
    snapshot = wrap(target.array.copy(), target.device)
    snapshot.grad_fn, snapshot._output_nr = target.grad_fn, target._output_nr
    return snapshot


def _records(target, other):
    return grad_mode._enabled and (target.requires_grad or getattr(other, "requires_grad", False))


def _ufunc_inplace(target, op, ufunc_name, other):
    """Nothing is recorded, so compute straight into the target's memory (``out=``): no
    temporary the size of the target, which matters for ``p -= lr * p.grad`` on big weights.
    Returns None when the operands need the general path (which raises the clear errors)."""
    check_inplace_allowed(target, op, other)
    if isinstance(other, Tensor):
        if other.device != target.device:
            return None
        other_kind, other = other.dtype.category, other.array
    elif hasattr(other, "dtype") and hasattr(other, "shape"):
        other_kind = 2 if other.dtype.kind == "f" else 1 if other.dtype.kind in "iu" else 0
    elif isinstance(other, (bool, int, float)):
        other_kind = scalar_category(other)
        other = wrap_integer(other, target.array.dtype)   # -1 against uint8 is 255, as PyTorch
        if (ufunc_name in ("multiply", "divide") and type(other) in (int, float)
                and A._beyond_half(target, other)):
            other = target.device.xp.float32(other)   # computed in float32, as mul and div
    else:
        return None
    target_kind = target.dtype.category
    if other_kind > target_kind or (ufunc_name == "divide" and target_kind < 2):
        return None  # the result would not fit the target's dtype
    shape = target.array.shape
    other_shape = getattr(other, "shape", ())
    if len(other_shape) > len(shape) or any(
            size not in (1, shape[len(shape) - len(other_shape) + i])
            for i, size in enumerate(other_shape)):
        return None  # the result would not fit the target's shape
    xp = target.device.xp
    if target.array.size:
        memory = writable(target.array)
        if type(other) is xp.float32 and memory.dtype == xp.float16:
            with quiet(xp):   # (a float32 result beyond float16 is inf, silently as in PyTorch)
                getattr(xp, ufunc_name)(memory, other, out=memory, casting="unsafe")
        else:
            getattr(xp, ufunc_name)(memory, other, out=memory, casting="unsafe")
    target._version_counter.bump(op)
    return target


def _scales_in_own_dtype(target, other, alpha):
    """Whether α·other computed in other's own dtype is α·other in the result's dtype, as
    PyTorch scales it: not for a uint8 other of a wider target (-1·3 would wrap to 253), nor
    for float16, which add and sub scale in float32 (2·35328 is ∞ in float16)."""
    if alpha != 1 and target.array.dtype == target.device.xp.float16:
        return False
    return alpha == 1 or not isinstance(other, Tensor) or other.dtype == target.dtype


def _check_alpha_fits(op, target, other, alpha):
    """α must fit the dtype it is computed in, as PyTorch checks it (256 for uint8, 1e30 for
    float16 are refused); checked here for the quick path, which scales in that dtype."""
    if type(alpha) is float and (not target.dtype.is_floating_point or
                                 (target.array.dtype.itemsize > 2 and abs(alpha) < 1e38)):
        return   # (a float α of integers is refused by add itself)
    if type(alpha) in (int, float) and (not isinstance(other, Tensor) or other.dtype == target.dtype):
        stored_scalar(op, alpha, target.array.dtype)


@operation(method=True, composite=True)
def add_(input, other, alpha=1):
    if alpha != 1:
        _check_alpha_fits("add_", input, other, alpha)
    if not _records(input, other) and _scales_in_own_dtype(input, other, alpha):
        done = _ufunc_inplace(input, "add_", "add", other if alpha == 1 else other * alpha)
        if done is not None:
            return done
    from .arithmetic import add
    return _inplace(input, "add_", lambda old: add(old, other, alpha=alpha), other)


@operation(method=True, composite=True)
def sub_(input, other, alpha=1):
    if (input.dtype.name == "bool" or isinstance(other, bool)
            or getattr(getattr(other, "dtype", None), "name", "") == "bool"):
        from .arithmetic import sub
        return sub(input, other)   # raises sub's error about bool tensors
    if alpha != 1:
        _check_alpha_fits("sub_", input, other, alpha)
    if not _records(input, other) and _scales_in_own_dtype(input, other, alpha):
        done = _ufunc_inplace(input, "sub_", "subtract", other if alpha == 1 else other * alpha)
        if done is not None:
            return done
    from .arithmetic import sub
    return _inplace(input, "sub_", lambda old: sub(old, other, alpha=alpha), other)


@operation(method=True, composite=True)
def mul_(input, other):
    if not _records(input, other):
        done = _ufunc_inplace(input, "mul_", "multiply", other)
        if done is not None:
            return done
    from .arithmetic import mul
    return _inplace(input, "mul_", lambda old: mul(old, other), other)


@operation(method=True, composite=True)
def div_(input, other, rounding_mode=None):
    if rounding_mode is None and not _records(input, other):
        done = _ufunc_inplace(input, "div_", "divide", other)
        if done is not None:
            return done
    from .arithmetic import div
    return _inplace(input, "div_", lambda old: div(old, other, rounding_mode=rounding_mode),
                    other)


@operation(method=True, composite=True)
def pow_(input, exponent):
    from .arithmetic import pow_stored_as
    return _inplace(input, "pow_", lambda old: pow_stored_as(old, exponent, input.array.dtype),
                    exponent)


@operation(method=True, composite=True)
def clamp_(input, min=None, max=None):
    from .pointwise import clamp
    return _inplace(input, "clamp_", lambda old: clamp(old, min, max), min, max)


def _filled(input, value, checked=True):
    """y = a constant;  dy/dx = 0"""
    xp = input.device.xp
    def backward(ctx, grad):
        return wrap(xp.zeros_like(grad.array), grad.device)
    if checked:   # fill_: -1 into uint8 is 255, 256 is refused
        value = stored_scalar("fill_", value, input.array.dtype)
    else:   # copy_ casts the number as a tensor of it, unchecked (300 into uint8 is 44)
        value = input.device.xp.asarray(wrap_integer(value, input.array.dtype)).astype(
            input.array.dtype)
    return record("fill", xp.full(input.array.shape, value, dtype=input.array.dtype),
                  (input,), backward)


@operation(method=True, composite=True)
def fill_(input, value):
    """x ← value everywhere; a one-element tensor value receives the summed gradient"""
    if hasattr(value, "shape"):
        if value.numel() != 1:
            raise RuntimeError(f"fill_: expects a number or a one-element tensor, got shape "
                               f"{tuple(value.shape)}")
        return _inplace(input, "fill_", lambda old: _broadcast_copy(old, value.reshape(())),
                        value)
    # a number fills an expanded tensor too, as in PyTorch: the one value is written through
    # the memory its elements share (a 0-d tensor value is a copy_, which PyTorch refuses)
    return _inplace(input, "fill_", lambda old: _filled(old, value), shared=True)


@operation(method=True, composite=True)
def zero_(input):
    return _inplace(input, "zero_", lambda old: _filled(old, 0), shared=True)


@operation(method=True, composite=True)
def copy_(input, src):
    """x ← src (broadcast, cast to x's dtype, moved to x's device); the gradient flows to src"""
    if not hasattr(src, "shape"):
        return _inplace(input, "copy_", lambda old: _filled(old, src, checked=False))
    return _inplace(input, "copy_", lambda old: _broadcast_copy(old, src), src)


def _broadcast_copy(destination, src):
    """y = src broadcast to the destination's shape, dtype and device;
    ∂L/∂src = Σ copies, and ∂L/∂(the destination's old values) = 0, as in PyTorch"""
    from ..operands import sum_to_shape
    from .conversion import to
    shape = tuple(destination.shape)
    moved = to(src, destination.device, destination.dtype)
    try:
        values = destination.device.xp.broadcast_to(moved.array, shape)
    except ValueError:
        raise RuntimeError(f"copy_: the source of shape {tuple(moved.shape)} cannot be "
                           f"broadcast to the destination's shape {shape}") from None
    def backward(ctx, grad):
        return (wrap(grad.device.xp.zeros_like(grad.array), grad.device)
                if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad, tuple(moved.shape)) if ctx.needs_input_grad[1] else None)
    return record("copy", values, (destination, moved), backward)


# -- in-place forms of common pointwise functions: x.exp_() is x ← exp(x) --------------------
def _in_place_form(function):
    """``function``'s in-place method (``exp`` gives ``exp_``), through ``_inplace``."""
    name = function.__name__ + "_"
    def in_place(input, *args, **kwargs):
        return _inplace(input, name, lambda old: function(old, *args, **kwargs), *args,
                        *kwargs.values())
    in_place.__name__ = in_place.__qualname__ = name
    in_place.__doc__ = f"x ← {function.__name__}(x, …), in place"
    return operation(method=True, composite=True)(in_place)


# (their modules do not import this one, so they can be imported here)
from . import arithmetic as A, pointwise as P, special as S, trigonometric as T  # noqa: E402

abs_ = _in_place_form(P.abs)
neg_ = _in_place_form(P.neg)
exp_ = _in_place_form(P.exp)
expm1_ = _in_place_form(P.expm1)
log_ = _in_place_form(P.log)
log1p_ = _in_place_form(P.log1p)
log2_ = _in_place_form(P.log2)
log10_ = _in_place_form(P.log10)
sqrt_ = _in_place_form(P.sqrt)
rsqrt_ = _in_place_form(P.rsqrt)
sin_ = _in_place_form(P.sin)
cos_ = _in_place_form(P.cos)
tanh_ = _in_place_form(P.tanh)
sigmoid_ = _in_place_form(P.sigmoid)
relu_ = _in_place_form(P.relu)
sign_ = _in_place_form(P.sign)
floor_ = _in_place_form(P.floor)
ceil_ = _in_place_form(P.ceil)
round_ = _in_place_form(P.round)
trunc_ = _in_place_form(P.trunc)
frac_ = _in_place_form(P.frac)
reciprocal_ = _in_place_form(P.reciprocal)
square_ = _in_place_form(P.square)
exp2_ = _in_place_form(P.exp2)
clamp_min_ = _in_place_form(P.clamp_min)
clamp_max_ = _in_place_form(P.clamp_max)


@operation(method=True, composite=True)
def nan_to_num_(input, nan=0.0, posinf=None, neginf=None):
    """x ← nan_to_num(x, …), in place; an integer or bool tensor has nothing to replace and
    is returned unwritten, as in PyTorch (so even an expanded one is fine)"""
    if not input.dtype.is_floating_point:
        return input
    return _inplace(input, "nan_to_num_", lambda old: P.nan_to_num(old, nan, posinf, neginf),
                    nan, posinf, neginf)


logit_ = _in_place_form(P.logit)
erf_ = _in_place_form(S.erf)
erfinv_ = _in_place_form(S.erfinv)
tan_ = _in_place_form(T.tan)
atan_ = _in_place_form(T.atan)
sinh_ = _in_place_form(T.sinh)
cosh_ = _in_place_form(T.cosh)
asin_ = _in_place_form(T.asin)
acos_ = _in_place_form(T.acos)
atan2_ = _in_place_form(T.atan2)
hypot_ = _in_place_form(T.hypot)
remainder_ = _in_place_form(A.remainder)
fmod_ = _in_place_form(A.fmod)
lerp_ = _in_place_form(A.lerp)
addcmul_ = _in_place_form(A.addcmul)
addcdiv_ = _in_place_form(A.addcdiv)
floor_divide_ = _in_place_form(A.floor_divide)
xlogy_ = _in_place_form(A.xlogy)
copysign_ = _in_place_form(A.copysign)


# -- in-place changes of shape: x.unsqueeze_(0) makes x itself (3,) -> (1, 3) -----------------
def _reshaped_in_place(target, op, view):
    """``target`` takes the shape (and the place on the tape) of ``view(target)``."""
    check_inplace_allowed(target, op, writes=False)
    result = view(target)
    target.array = result.array
    target._version_counter.bump(op)
    if result.grad_fn is not None:
        target.grad_fn, target._output_nr = result.grad_fn, result._output_nr
    return target


@operation(method=True, composite=True)
def squeeze_(input, dim=None):
    from .shape import squeeze
    return _reshaped_in_place(input, "squeeze_", lambda x: squeeze(x, dim))


@operation(method=True, composite=True)
def unsqueeze_(input, dim):
    from .shape import unsqueeze
    return _reshaped_in_place(input, "unsqueeze_", lambda x: unsqueeze(x, dim))


@operation(method=True, composite=True)
def t_(input):
    from .shape import t
    return _reshaped_in_place(input, "t_", t)


@operation(method=True, composite=True)
def transpose_(input, dim0, dim1):
    from .shape import transpose
    return _reshaped_in_place(input, "transpose_", lambda x: transpose(x, dim0, dim1))


# Other names PyTorch gives the same in-place methods.
divide_ = alias(div_, "divide_")
true_divide_ = alias(div_, "true_divide_")
subtract_ = alias(sub_, "subtract_")
multiply_ = alias(mul_, "multiply_")
clip_ = alias(clamp_, "clip_")
