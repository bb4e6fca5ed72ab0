"""``torch.functional``: the module where PyTorch keeps some of its top-level functions.

They are the same functions as ``tapegrad.einsum``, ``tapegrad.split`` and so on; this path
exists so that ``from torch.functional import einsum`` and pickled references resolve.
Names of PyTorch's list that tapegrad lacks are left out.
"""
from .autograd.ops import top_level_functions as _top_level_functions

PYTORCH_NAMES = ("atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
                 "broadcast_tensors", "cartesian_prod", "cdist", "chain_matmul", "einsum",
                 "istft", "lu", "meshgrid", "norm", "pca_lowrank", "split", "stft",
                 "svd_lowrank", "tensordot", "unique", "unique_consecutive", "unravel_index")

_functions = _top_level_functions()
__all__ = [name for name in PYTORCH_NAMES if name in _functions]
globals().update({name: _functions[name] for name in __all__})
