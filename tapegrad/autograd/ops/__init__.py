"""Every operation of tapegrad, one family per file.

Each operation says on its own ``def`` line how users reach it (``declare.py``):
as ``tapegrad.<name>``, as a Tensor method, both, in ``nn.functional`` only, or not at
all. Importing the families here fills ``declare.OPERATIONS``.
"""
from . import (arithmetic, conversion, convolution, gamma_functions, indexing, inplace, linalg,
               linalg_decompositions, pointwise, pooling, reduction, shape, sorting, special)
from .declare import OPERATIONS, Operation, differentiable_operations, tensor_methods, top_level_functions

__all__ = ["OPERATIONS", "Operation", "differentiable_operations", "tensor_methods",
           "top_level_functions", "arithmetic", "conversion", "convolution", "indexing",
           "inplace", "linalg", "pointwise", "pooling", "reduction", "shape", "sorting", "special",
           "gamma_functions", "linalg_decompositions"]
