"""Helpers shared by the distributions: parameters as tensors of one shape, and the two
parametrisations of a discrete distribution (probabilities and logits)."""
import numbers

from .. import dtypes
from ..autograd.tensor import Tensor
from ..creation import tensor


def broadcast_shapes(*shapes):
    """The shape that all ``shapes`` broadcast to (numpy's rule), or a ValueError naming them."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(1, ndim + 1):
        sizes = {s[-i] for s in shapes if len(s) >= i} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {', '.join(str(tuple(s)) for s in shapes)} do not broadcast")
        result.append(sizes.pop() if sizes else 1)
    return tuple(reversed(result))


def broadcast_all(*values):
    """The parameters as tensors of one shape: numbers become tensors of the widest floating
    dtype among the tensors (the default dtype if there is none), integer tensors are cast to
    it, floating tensors keep their own dtype, as in PyTorch."""
    for value in values:
        if not isinstance(value, (Tensor, numbers.Number)):
            raise ValueError(f"expected every parameter to be a Tensor or a number, got "
                             f"{type(value).__name__}")
    tensors = [v for v in values if isinstance(v, Tensor)]
    kinds = [t.dtype for t in tensors if t.dtype.is_floating_point]
    dtype = (max(kinds, key=lambda kind: kind.numpy.itemsize) if kinds
             else dtypes.get_default_dtype())
    device = tensors[0].device if tensors else None
    as_tensors = [v.to(dtype) if isinstance(v, Tensor) and not v.dtype.is_floating_point
                  else v if isinstance(v, Tensor)
                  else tensor(float(v), dtype=dtype, device=device) for v in values]
    shape = broadcast_shapes(*(tuple(t.shape) for t in as_tensors))
    return tuple(t if tuple(t.shape) == shape else t.expand(shape) for t in as_tensors)


def finfo(t):
    """The float limits (eps, tiny, max) of tensor ``t``'s dtype."""
    return t.device.xp.finfo(t.array.dtype)


def clamp_probs(probs):
    """Probabilities kept a float epsilon away from 0 and 1, so their logs stay finite."""
    eps = float(finfo(probs).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """log p (categorical) or log p - log(1 - p) (binary), with p clamped away from 0 and 1."""
    clamped = clamp_probs(probs)
    if is_binary:
        return clamped.log() - (-clamped).log1p()
    return clamped.log()


def logits_to_probs(logits, is_binary=False):
    """sigmoid(logits) (binary) or softmax over the last dimension (categorical)."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


class lazy_property:
    """A property computed on first use and then stored on the instance (as PyTorch's):
    Bernoulli(logits=…) computes its probs only if asked."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        from ..autograd.grad_mode import enable_grad
        with enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value
