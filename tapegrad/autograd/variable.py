"""``Variable``: the wrapper that PyTorch before 0.4 put around tensors to record them.

Tensors record themselves now, so ``Variable(t)`` is a tensor again: a new leaf that shares
``t``'s data (``t.detach()``), requiring grad when asked, as in today's PyTorch.
"""
from .tensor import Tensor


def Variable(data, requires_grad=False, volatile=False):
    """``data.detach()``, marked to require grad when ``requires_grad``; ``volatile`` is
    ignored, as PyTorch has done since 0.4 (use ``no_grad()``)."""
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    return data.detach().requires_grad_(requires_grad)
