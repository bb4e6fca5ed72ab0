"""Operations as Tensor methods: ``x.exp()`` is ``tapegrad.exp(x)``.

Which operations are methods is declared on each operation (``ops/declare.py``); the
loop below attaches them. The Python operators (``+``, ``@``, ``<`` …) and the
transpose properties are listed by hand after it. ``tensor.pyi`` lists every method
for readers and IDEs (made by ``python -m tapegrad.autograd.stub``).
"""
from .ops import arithmetic as A, inplace as I, linalg as L, pointwise as P, shape as S
from .ops import tensor_methods
from .tensor import Tensor

for name, function in tensor_methods().items():
    if name not in Tensor.__dict__:   # a method written in tensor.py itself wins
        setattr(Tensor, name, function)

# Transposes as properties: x.T reverses every dim, x.mT swaps the last two
Tensor.T = property(S.numpy_T)
Tensor.mT = property(S.matrix_transpose)

# Arithmetic operators; the reflected forms handle ``2 - x`` and ``numpy_array * x``. They
# record the operations PyTorch records (so grad_fn graphs look the same): ``2 * x`` and
# ``2 + x`` with the tensor first, ``2 - x`` as rsub(x, 2), ``2 / x`` as reciprocal(x) * 2.
Tensor.__add__ = A.add
Tensor.__radd__ = lambda self, other: A.add(self, other)
Tensor.__sub__ = A.sub
Tensor.__rsub__ = lambda self, other: A.rsub(self, other)
Tensor.__mul__ = A.mul
Tensor.__rmul__ = lambda self, other: A.mul(self, other)
Tensor.__truediv__ = A.div


def _rtruediv(self, other):
    if isinstance(other, (int, float)) and not isinstance(other, bool):
        return A.mul(P.reciprocal(self), other)
    return A.div(other, self)


Tensor.__rtruediv__ = _rtruediv
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

# In place: x += y is x.add_(y)
Tensor.__iadd__ = I.add_
Tensor.__isub__ = I.sub_
Tensor.__imul__ = I.mul_
Tensor.__itruediv__ = I.div_
