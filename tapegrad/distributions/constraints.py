"""Constraints: where a distribution's parameters and samples may lie.

Each constraint has ``check(value)``, a bool tensor that is True where ``value`` satisfies
it (one entry per event: a constraint with ``event_dim = 1`` such as ``simplex`` judges
whole vectors), and ``is_discrete``. Distributions list theirs in ``arg_constraints`` (the
parameters) and ``support`` (the values), which ``validate_args`` checks.
"""
import math


class Constraint:
    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """A constraint that depends on other parameters (e.g. Uniform's low < high): not checked
    on its own."""

    def __init__(self, is_discrete=False, event_dim=0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def check(self, value):
        raise ValueError("cannot check a dependent constraint on its own")


def is_dependent(constraint):
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    def check(self, value):
        return value == value   # noqa: PLR0124  (False only at NaN)


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        return (value == 0) | (value == 1)


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return value > self.lower_bound

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value):
        return value >= self.lower_bound

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self):
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    def check(self, value):
        return (value >= self.lower_bound) & (value < self.upper_bound)

    def __repr__(self):
        return f"HalfOpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(_Interval):
    is_discrete = True

    def check(self, value):
        return (value % 1 == 0) & (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _RealVector(Constraint):
    event_dim = 1

    def check(self, value):
        return (value == value).all(dim=-1)


class _Simplex(Constraint):
    """Vectors of non-negative entries that sum to 1."""
    event_dim = 1

    def check(self, value):
        return (value >= 0).all(dim=-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _LowerCholesky(Constraint):
    """Lower-triangular matrices with a positive diagonal."""
    event_dim = 2

    def check(self, value):
        lower = (value.tril() == value).all(dim=-1).all(dim=-1)
        n = value.shape[-1]
        diagonal = (value * _eye_like(value, n)).sum(-1)
        return lower & (diagonal > 0).all(dim=-1)


class _PositiveDefinite(Constraint):
    """Symmetric matrices with positive eigenvalues."""
    event_dim = 2

    def check(self, value):
        from ..autograd.tensor import wrap
        xp = value.device.xp
        array = value.detach().array
        symmetric = xp.all(xp.abs(array - xp.swapaxes(array, -1, -2))
                           <= 1e-6 * (1 + xp.abs(array)), axis=(-1, -2))
        finite = xp.all(xp.isfinite(array), axis=(-1, -2))
        safe = xp.where(finite[..., None, None], array, 0)
        positive = xp.all(xp.linalg.eigvalsh(safe) > 0, axis=-1)
        return wrap(symmetric & finite & positive, value.device)


def _eye_like(value, n):
    from ..creation import eye
    return eye(n, dtype=value.dtype, device=value.device)


dependent = _Dependent()
real = _Real()
boolean = _Boolean()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
nonnegative_integer = _IntegerInterval(0, math.inf)
unit_interval = _Interval(0.0, 1.0)
real_vector = _RealVector()
simplex = _Simplex()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq

__all__ = ["Constraint", "boolean", "dependent", "greater_than", "greater_than_eq", "half_open_interval",
           "integer_interval", "interval", "is_dependent", "lower_cholesky",
           "nonnegative", "nonnegative_integer", "positive", "positive_definite", "real", "real_vector",
           "simplex", "unit_interval"]
