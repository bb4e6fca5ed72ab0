"""``tapegrad.linalg``: PyTorch's ``torch.linalg`` names.

    >>> tg.linalg.vector_norm(x, ord=1)     # Σ|xᵢ|
    >>> tg.linalg.matrix_norm(A)            # Frobenius
    >>> tg.linalg.norm(A, ord=math.inf)     # the largest row sum of |A|

The norms are in ``autograd/ops/norms.py`` (with their gradients); ``cholesky`` and
``solve_triangular`` in ``autograd/ops/linalg_decompositions.py``.
"""
from .autograd.ops.linalg_decompositions import cholesky, solve_triangular
from .autograd.ops.norms import matrix_norm, norm_of_linalg as norm, vector_norm

__all__ = ["cholesky", "matrix_norm", "norm", "solve_triangular", "vector_norm"]
