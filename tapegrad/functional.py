"""``torch.functional``: the module where PyTorch keeps some of its top-level functions.

They are the same functions as ``tapegrad.einsum``, ``tapegrad.split`` and so on; this path
exists so that ``from torch.functional import einsum`` and pickled references resolve.
Names of PyTorch's list that tapegrad lacks are left out.
"""
import tapegrad as _tapegrad

PYTORCH_NAMES = ("atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
                 "broadcast_tensors", "cartesian_prod", "cdist", "chain_matmul", "einsum",
                 "istft", "lu", "meshgrid", "norm", "pca_lowrank", "split", "stft",
                 "svd_lowrank", "tensordot", "unique", "unique_consecutive", "unravel_index")

__all__ = [name for name in PYTORCH_NAMES if hasattr(_tapegrad, name)]
globals().update({name: getattr(_tapegrad, name) for name in __all__})
