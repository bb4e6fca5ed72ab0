"""Every operation of tapegrad, one family per file.

Each operation says on its own ``def`` line how users reach it (``declare.py``):
as ``tapegrad.<name>``, as a Tensor method, both, in ``nn.functional`` only, or not at
all. Importing the families here fills ``declare.OPERATIONS``.
"""
from . import (arithmetic, conversion, convolution, factories, gamma_functions, indexing,
               inplace, linalg, linalg_decompositions, norms, pointwise, pooling, reduction,
               sampling, shape, sorting, special, trigonometric)
from . import activation, loss, normalization, recurrent   # fused operations
from .declare import OPERATIONS, Operation, differentiable_operations, tensor_methods, top_level_functions

__all__ = ["OPERATIONS", "Operation", "differentiable_operations", "tensor_methods",
           "top_level_functions", "arithmetic", "conversion", "convolution", "indexing",
           "inplace", "linalg", "pointwise", "pooling", "reduction", "shape", "sorting", "special",
           "factories", "gamma_functions", "linalg_decompositions", "norms", "sampling",
           "trigonometric", "activation", "loss", "normalization", "recurrent"]
