"""Every differentiable operation of tapegrad, one family per file.

Each module's ``__all__`` lists its differentiable operations (each must have a
gradcheck case in the tests); ``NON_DIFFERENTIABLE`` lists the others it defines.
"""
from . import (arithmetic, conversion, convolution, gamma_functions, indexing, linalg,
               linalg_decompositions, pointwise, pooling, reduction, shape, sorting, special)

MODULES = [arithmetic, conversion, convolution, indexing, linalg, pointwise, pooling,
           reduction, shape, sorting, special]
MODULES += [gamma_functions, linalg_decompositions]

# Convolution and pooling are functions of images, not Tensor methods (PyTorch's
# Tensor.unfold even means something else); unfold/fold/pad/interpolate live in
# nn.functional only, as in PyTorch.
NOT_METHODS = [convolution, pooling]
FUNCTIONAL_ONLY = {"unfold", "fold", "pad", "interpolate"}
