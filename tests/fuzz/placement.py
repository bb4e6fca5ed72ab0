"""An elementwise step's gradient at a NaN, which PyTorch gives by where the element sits.

(And float16 x + α·y, whose value PyTorch gives by where the element sits: ``ADDED_VECTORISED``.)

PyTorch's CPU kernels of some activations run a vectorised loop over full blocks and a scalar
loop over the rest, and the two loops give different gradients at a NaN. The step is rerun in
PyTorch with its input placed in each loop; where one placement gives tapegrad's gradient,
the finding says so (``PLACED_VECTORISED``, ``PLACED_ALONE``, ``PLACED_DISPUTED``).
"""
import math

import numpy as np

import tapegrad as tg

from . import catalogue
from .generate import CHAIN, LeafRef
from .libraries import Run, TAPEGRAD, TORCH, torch
from .compare import TOLERANCE
from .gradients import _backwards_differ, _step_backward
from .value_reruns import _value_rerun_agrees


# PyTorch's CPU kernels of these elementwise steps run a vectorised loop over the full
# blocks of a contiguous tensor and a scalar loop over the rest (the tail, or every element
# of a strided one); at a NaN element the two loops give different gradients (hardtanh's
# vectorised 0 and scalar g, elu's NaN and g, hardshrink's 0 and g), so PyTorch's answer
# depends on where the element sits (logit(x, eps)'s vectorised 0 and scalar NaN at a NaN x,
# and -inf and +inf at x = -0.0). tapegrad gives one answer wherever it sits.
PLACED_KERNELS = ("elu", "elu_", "selu", "selu_", "celu", "celu_", "hardtanh", "hardtanh_",
                  "relu6", "hardshrink", "softshrink", "hardswish", "logit", "logit_")
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


# PyTorch's float16 x + α·y (sub, rsub: x - α·y) rounds α·y to float16 first in its scalar
# loop (2·35328 = ∞ where x + α·y = 50048 fits), and computes x + α·y in float32, rounded
# once, in its vectorised loop; tapegrad gives the vectorised loop's answer wherever it sits
SCALED_SUMS = ("add", "sub", "rsub")
ADDED_VECTORISED = (" [float16 x ± α·y: PyTorch gives tapegrad's values with its operands placed "
                    "in its kernel's vectorised loop]")


def _added_in_the_vectorised_loop(program, step, result, through_float16=False):
    """ADDED_VECTORISED for a value finding at ``step``, an add, sub or rsub of float16
    tensors with α ≠ 1, where PyTorch, rerun from the program's start with that step's
    operands broadcast, flattened and padded with zeros to a whole number of VECTOR_BLOCKS
    (every element in the vectorised loop), gives tapegrad's ``result``; else ""."""
    if step.entry.name not in SCALED_SUMS or step.kwargs.get("alpha", 1) == 1 or \
            torch is None or not TAPEGRAD.is_tensor(result) or result.dtype is not tg.float16:
        return ""
    return ADDED_VECTORISED if _value_rerun_agrees(program, step, result, _added_vectorised_call,
                                                   through_float16) else ""


def _added_vectorised_call(run, step, leaves, on_a_copy=False):
    """``run.call``, but an add, sub or rsub whose tensor operands are all float16 computed
    on them broadcast, flattened and padded with zeros to a whole number of VECTOR_BLOCKS,
    the result cut back and reshaped (``_added_in_the_vectorised_loop``)."""
    if step.entry.name not in SCALED_SUMS:
        return run.call(step, leaves, on_a_copy=on_a_copy)
    try:
        args = [run.materialize(a, leaves) for a in step.args]
        kwargs = {k: run.materialize(v, leaves) for k, v in step.kwargs.items()}
        places = [i for i, a in enumerate(args) if torch.is_tensor(a)]
        if not places or any(args[i].dtype != torch.float16 for i in places) or any(
                torch.is_tensor(v) for v in kwargs.values()):
            return "error", TypeError("not float16 tensor operands alone")
        shape = torch.broadcast_shapes(*(args[i].shape for i in places))
        n = math.prod(shape)
        padding = -n % VECTOR_BLOCKS or (VECTOR_BLOCKS if n == 0 else 0)
        for i in places:
            flat = args[i].broadcast_to(shape).reshape(-1)
            args[i] = torch.cat([flat, flat.new_zeros(padding)])
        out = catalogue.caller("torch", step.entry)(*args, **kwargs)
        return "ok", out[:n].reshape(shape)
    except Exception as error:  # noqa: BLE001 - as run.call
        return "error", error
