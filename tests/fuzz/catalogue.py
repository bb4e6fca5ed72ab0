"""Every public operation the fuzzer draws from, and how to call it in both libraries.

The list is read from the registry (``OPERATIONS``) and from ``tapegrad.nn.functional``'s
public names: nothing here says which operations matter or are tested elsewhere. An
operation reached as ``tapegrad.<name>`` is compared with ``torch.<name>``, a functional
one with ``torch.nn.functional.<name>``, a method-only one with ``Tensor.<name>``.
"""
import inspect
import operator
from typing import Callable, NamedTuple

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.ops.declare import OPERATIONS

# Names a machine without a GPU cannot run, and calls whose results are random.
NOT_FUZZED = {"cuda", "dropout", "dropout2d", "one_hot_", "cpu", "bernoulli_", "exponential_",
              "multinomial", "normal_", "random_", "uniform_", "new_empty"}


class Entry(NamedTuple):
    name: str                  # the public name the fuzzer reports
    signature: inspect.Signature
    reach: str                 # "function", "functional", "method" or "operator"
    call_name: str             # the name looked up on the library / tensor
    differentiable: bool


def _signature(function):
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def entries():
    """The fuzzable public operations, in a stable order."""
    found = {}
    for op in OPERATIONS.values():
        if op.method_name in ("__getitem__", "__setitem__"):
            reach, call_name = "operator", op.method_name
        elif op.function_name:
            reach, call_name = "function", op.name
        elif op.functional:
            reach, call_name = "functional", op.name
        elif op.method_name:
            reach, call_name = "method", op.method_name
        else:
            continue   # tapegrad's own building block, not public
        found[op.name] = (op.function, reach, call_name, op.differentiable)
    for name in sorted(dir(F)):
        function = getattr(F, name)
        if name.startswith("_") or not callable(function) or inspect.ismodule(function):
            continue
        if name not in found and getattr(function, "__module__", "").startswith("tapegrad.nn"):
            found[name] = (function, "functional", name, True)
    result = []
    for name, (function, reach, call_name, differentiable) in found.items():
        signature = _signature(function)
        if signature is None or call_name in NOT_FUZZED or name in NOT_FUZZED:
            continue
        result.append(Entry(name, signature, reach, call_name, differentiable))
    return result


def caller(library, entry: Entry) -> Callable:
    """The callable reaching ``entry`` in ``library`` ("tapegrad" or "torch")."""
    if entry.reach == "operator":
        return _getitem if entry.call_name == "__getitem__" else _setitem
    if entry.reach == "method":
        return lambda tensor, *args, **kwargs: getattr(tensor, entry.call_name)(*args, **kwargs)
    if library == "tapegrad":
        module = tg if entry.reach == "function" else F
        return getattr(module, entry.call_name)
    import torch
    if entry.reach == "function" and hasattr(torch, entry.call_name):
        return getattr(torch, entry.call_name)
    if hasattr(torch.nn.functional, entry.call_name):
        return getattr(torch.nn.functional, entry.call_name)
    return lambda tensor, *args, **kwargs: getattr(tensor, entry.call_name)(*args, **kwargs)


def _getitem(tensor, index):
    return operator.getitem(tensor, index)


def _setitem(tensor, index, value):
    """``tensor[index] = value``, giving the tensor written to (a chain goes on from it)."""
    operator.setitem(tensor, index, value)
    return tensor
