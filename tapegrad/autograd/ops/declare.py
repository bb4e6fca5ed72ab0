"""Where each operation is reachable, declared once, on the operation itself.

An operation is a plain function. The line above its ``def`` says how users reach it:

    @operation(function=True, method=True)   tg.exp(x) and x.exp()
    @operation(function=True)                tg.cat(tensors) only: its first argument is not a tensor
    @operation(method=True)                  x.float() only
    @operation(functional=True)              nn.functional.pad only
    @operation()                             tapegrad's own building block (cast, tanh_backward)

``differentiable=False`` marks operations without a gradient (comparisons, argmax), and
``composite=True`` conveniences made of other operations (``x.float()`` is ``cast``,
``x.add_(y)`` is ``add`` written back); every other operation records itself on the
tape and must have a gradcheck case (tests/autograd/test_registry.py).
``alias`` declares a second name for an operation (``clip`` for ``clamp``), and
``out=True`` a function that takes PyTorch's ``out=`` argument (``tapegrad.add(x, y, out=z)``).

The decorator returns the function itself, so declaring costs nothing per call.
``tapegrad/__init__.py`` (top-level names), ``methods.py`` (Tensor methods) and the
Tensor stub ``tensor.pyi`` are all made from ``OPERATIONS``.
"""
from typing import Callable, NamedTuple


class Operation(NamedTuple):
    name: str
    function: Callable
    function_name: bool      # reachable as tapegrad.<name>
    method_name: str | None  # reachable as Tensor.<method_name>
    functional: bool         # reachable as tapegrad.nn.functional.<name> only
    differentiable: bool
    composite: bool          # made of other operations, which carry the gradcheck cases
    out: bool = False        # tapegrad.<name> also takes out= (see out.py)


OPERATIONS: dict[str, Operation] = {}   # by public name, in declaration order


def operation(*, function=False, method=False, functional=False, differentiable=True,
              composite=False, out=False):
    """Declare the decorated function an operation, reachable as said (see the module doc).

    ``method`` is True (the method has the function's name) or the method's own name.
    """
    if functional and (function or method):
        raise ValueError("a functional-only operation is neither a tapegrad function nor a method")

    def declare(op_function):
        method_name = op_function.__name__ if method is True else (method or None)
        _add(Operation(op_function.__name__, op_function, function, method_name, functional,
                       differentiable, composite, out))
        return op_function
    return declare


def alias(op_function, name):
    """``name`` as a second name of an already declared operation; returns the function."""
    original = next(op for op in OPERATIONS.values() if op.function is op_function)
    method_name = name if original.method_name else None
    _add(original._replace(name=name, method_name=method_name))
    return op_function


def _add(op):
    if op.name in OPERATIONS:
        raise ValueError(f"operation {op.name!r} is declared twice")
    OPERATIONS[op.name] = op


def top_level_functions():
    """{name: function} of the operations reachable as ``tapegrad.<name>``."""
    from .out import with_out
    return {op.name: with_out(op.function) if op.out else op.function
            for op in OPERATIONS.values() if op.function_name}


def tensor_methods():
    """{method name: function} of the operations reachable as Tensor methods."""
    return {op.method_name: op.function for op in OPERATIONS.values() if op.method_name}


def differentiable_operations():
    """{function: [its names]}: each differentiable operation once, with all its names."""
    groups = {}
    for op in OPERATIONS.values():
        if op.differentiable and not op.composite:
            groups.setdefault(op.function, []).append(op.name)
    return groups
