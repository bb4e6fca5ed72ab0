"""Every operation is also a Tensor method: ``x.exp()`` is ``tapegrad.exp(x)``.

The loop below makes each differentiable operation of ``ops`` (each module's
``__all__``) a method, since their first argument is the tensor; the operators
(``+``, ``@``, ``<`` …) and in-place methods are listed by hand after it.
"""
from .ops import (MODULES, NOT_METHODS, arithmetic as A, conversion as C, indexing as X, inplace as I,
                  linalg as L, pointwise as P, shape as S)
from .tensor import Tensor

# Functions whose first argument is not the tensor the method is called on.
FUNCTIONS_ONLY = {"cat", "stack", "einsum", "where", "cast", "to_device", "true_divide"}

for module in MODULES:
    if module in NOT_METHODS:
        continue
    for name in module.__all__ + getattr(module, "NON_DIFFERENTIABLE", []):
        if name not in FUNCTIONS_ONLY and not hasattr(Tensor, name):
            setattr(Tensor, name, getattr(module, name))

# Transposes as properties: x.T reverses every dim, x.mT swaps the last two
Tensor.T = property(S.numpy_T)
Tensor.mT = property(S.matrix_transpose)

# Indexing: x[i] and x[i] = v are recorded operations like any other
Tensor.__getitem__ = X.getitem
Tensor.__setitem__ = X.setitem

# Conversions
Tensor.to = C.to
Tensor.cpu = C.cpu
Tensor.cuda = C.cuda
Tensor.float = C.float
Tensor.double = C.double
Tensor.half = C.half
Tensor.long = C.long
Tensor.int = C.int
Tensor.bool = C.bool
Tensor.type_as = C.type_as


def _where_method(self, condition, other):
    """``x.where(condition, y)`` is ``where(condition, x, y)``."""
    return A.where(condition, self, other)


Tensor.where = _where_method

# Arithmetic operators; the reflected forms handle ``2 - x`` and ``numpy_array * x``.
Tensor.__add__ = A.add
Tensor.__radd__ = lambda self, other: A.add(other, self)
Tensor.__sub__ = A.sub
Tensor.__rsub__ = lambda self, other: A.sub(other, self)
Tensor.__mul__ = A.mul
Tensor.__rmul__ = lambda self, other: A.mul(other, self)
Tensor.__truediv__ = A.div
Tensor.__rtruediv__ = lambda self, other: A.div(other, self)
Tensor.__floordiv__ = A.floor_divide
Tensor.__rfloordiv__ = lambda self, other: A.floor_divide(other, self)
Tensor.__mod__ = A.remainder
Tensor.__rmod__ = lambda self, other: A.remainder(other, self)
Tensor.__pow__ = A.pow
Tensor.__rpow__ = lambda self, other: A.pow(other, self)
Tensor.__matmul__ = L.matmul
Tensor.__rmatmul__ = lambda self, other: L.matmul(other, self)
Tensor.__neg__ = P.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = P.abs

# Comparisons and logic give bool tensors.
def _comparable(value):
    return hasattr(value, "shape") or isinstance(value, (int, float))


def _eq_operator(self, other):
    """``x == y`` elementwise; ``x == None`` (or a string…) is plainly False, as in PyTorch."""
    return A.eq(self, other) if _comparable(other) else NotImplemented


def _ne_operator(self, other):
    return A.ne(self, other) if _comparable(other) else NotImplemented


Tensor.__eq__ = _eq_operator
Tensor.__ne__ = _ne_operator
Tensor.__lt__ = A.lt
Tensor.__le__ = A.le
Tensor.__gt__ = A.gt
Tensor.__ge__ = A.ge
Tensor.__and__ = A.bitwise_and
Tensor.__rand__ = lambda self, other: A.bitwise_and(other, self)
Tensor.__or__ = A.bitwise_or
Tensor.__ror__ = lambda self, other: A.bitwise_or(other, self)
Tensor.__xor__ = A.bitwise_xor
Tensor.__invert__ = A.bitwise_not

# In place
for name in I.IN_PLACE:
    setattr(Tensor, name, getattr(I, name))
Tensor.__iadd__ = I.add_
Tensor.__isub__ = I.sub_
Tensor.__imul__ = I.mul_
Tensor.__itruediv__ = I.div_
