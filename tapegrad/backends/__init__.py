"""``torch.backends``: switches for vendor libraries.

tapegrad calls no vendor library (its convolutions are its own kernels), so these flags
are kept for scripts that set or read them and change nothing else.
"""
from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
