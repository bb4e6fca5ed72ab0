"""Every differentiable operation of tapegrad, one family per file.

Each module's ``__all__`` lists its differentiable operations (each must have a
gradcheck case in the tests); ``NON_DIFFERENTIABLE`` lists the others it defines.
"""
from . import (arithmetic, conversion, indexing, linalg, pointwise, reduction, shape,
               sorting, special)

MODULES = [arithmetic, conversion, indexing, linalg, pointwise, reduction, shape, sorting,
           special]
