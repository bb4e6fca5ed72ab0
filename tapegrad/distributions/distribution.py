"""``Distribution``: what every probability distribution offers, with PyTorch's names.

A distribution object holds a *batch* of distributions of the same family (one per entry
of its parameters, ``batch_shape``), each over *events* of ``event_shape`` (() for a number,
(k,) for a k-vector). ``sample(sample_shape)`` returns a tensor of shape
``sample_shape + batch_shape + event_shape``; ``log_prob(value)`` the log density (or mass)
of each event, of shape ``sample_shape + batch_shape``.

``rsample`` draws a *reparameterised* sample: noise that does not depend on the parameters,
pushed through a differentiable function of them (x = μ + σ·ε for a Normal), so that
gradients of an expectation over samples reach the parameters (the "reparameterisation
trick" of variational autoencoders). ``sample`` draws the same way without recording.

With ``validate_args`` (on by default, as in PyTorch; ``Distribution.set_default_validate_args``
changes the default), parameters are checked against ``arg_constraints`` at construction and
values against ``support`` in ``log_prob``, and violations raise a ValueError that names them.
"""
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Size, Tensor
from . import constraints
from .utils import broadcast_shapes, lazy_property


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    arg_constraints = {}
    support = None

    @staticmethod
    def set_default_validate_args(value):
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args expects True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self):
        for name, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if name not in self.__dict__ and isinstance(getattr(type(self), name), lazy_property):
                continue   # not given: computed from a parameter that was checked
            value = getattr(self, name)
            if not bool(constraint.check(value).all()):
                raise ValueError(
                    f"Expected parameter {name} ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{value}")

    # -- shapes ---------------------------------------------------------------------------
    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        """sample_shape + batch_shape + event_shape: the shape of a sample."""
        if isinstance(sample_shape, int) or not all(isinstance(s, int) for s in sample_shape):
            raise TypeError(f"sample_shape must be a tuple of ints such as (5,) or "
                            f"tapegrad.Size([5]), got {sample_shape!r}")
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def expand(self, batch_shape, _instance=None):
        """The same distribution with its parameters expanded to ``batch_shape`` (no copy)."""
        batch_shape = Size(batch_shape)
        broadcast_shapes(tuple(self.batch_shape), tuple(batch_shape))   # raises if they do not
        new = _instance if _instance is not None else type(self).__new__(type(self))
        for name, value in self.__dict__.items():
            constraint = self.arg_constraints.get(name)
            if isinstance(value, Tensor) and constraint is not None:
                event = tuple(value.shape)[value.ndim - self._param_event_dim(name, constraint):]
                value = value.expand(tuple(batch_shape) + event)
            new.__dict__[name] = value
        new._batch_shape = batch_shape
        return new

    def _param_event_dim(self, name, constraint):
        return constraint.event_dim

    # -- summaries ------------------------------------------------------------------------
    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self):
        return self.entropy().exp()

    # -- samples and densities ------------------------------------------------------------
    def sample(self, sample_shape=()):
        """A sample of shape sample_shape + batch_shape + event_shape, off the tape."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler "
                                  f"(has_rsample is False); use sample()")

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def _validate_sample(self, value):
        """Check that ``value`` can be scored: a tensor whose right-most dimensions match
        event_shape, broadcastable with batch_shape, inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError(f"The value argument to log_prob must be a Tensor, got "
                             f"{type(value).__name__}")
        shape = tuple(value.shape)
        event = tuple(self._event_shape)
        if event and shape[len(shape) - len(event):] != event:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{shape} vs {event}.")
        try:
            broadcast_shapes(shape[:len(shape) - len(event)], tuple(self._batch_shape))
        except ValueError:
            raise ValueError(f"Value of shape {shape} is not broadcastable with batch_shape+"
                             f"event_shape: {tuple(self._batch_shape) + event}.") from None
        support = self.support
        if support is None or constraints.is_dependent(support):
            return
        if not bool(support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {shape}) "
                             f"to be within the support ({support!r}) of the distribution "
                             f"{self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        shown = []
        for name in self.arg_constraints:
            if name in self.__dict__:
                value = self.__dict__[name]
                shown.append(f"{name}: {value.item() if value.numel() == 1 else value.size()}")
        return f"{type(self).__name__}({', '.join(shown)})"
