"""``Parameter``: a tensor that a Module owns and an optimizer updates.

A Parameter is an ordinary leaf Tensor (it shares the memory of the tensor it is made
from) with one difference: assigning it as an attribute of a Module registers it, so
``module.parameters()``, ``state_dict()``, ``to()`` and the optimizers find it.
"""
from ..autograd.tensor import Tensor, wrap


class Parameter(Tensor):
    """``Parameter(data=None, requires_grad=True)``: ``data``'s values as a leaf requiring grad."""

    __slots__ = ()
    _is_param = True   # how code below nn (the tape's drawing) tells a parameter, as in PyTorch

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter() expects a Tensor (or None), got {type(data).__name__}; "
                            f"make one first, e.g. Parameter(tapegrad.tensor(values))")
        self.array = data.array                        # the same memory, no copy
        self.device = data.device
        self._version_counter = data._version_counter  # so in-place changes are seen by both
        self._requires_grad = False
        self.grad_fn = None                            # always a leaf, whatever data was
        self._output_nr = 0
        self._base = None
        self._grad = None
        self._accumulator = None
        self._hooks = None
        self._post_accumulate_grad_hooks = None
        if requires_grad:
            self.requires_grad_(True)  # refuses integer dtypes with a clear message

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        copied = Parameter(wrap(self.array.copy(), self.device), self._requires_grad)
        if self._grad is not None:
            copied._grad = wrap(self._grad.array.copy(), self._grad.device)
        memo[id(self)] = copied
        return copied


__all__ = ["Parameter"]
