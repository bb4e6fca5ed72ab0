"""Convolutions as functions: ``conv1d``, ``conv2d``, ``conv_transpose1d``, ``conv_transpose2d``.

Each is one differentiable operation of ``tapegrad/autograd/ops/convolution.py`` (whose
array kernels are in ``tapegrad/kernels``), re-exported here under PyTorch's
``torch.nn.functional`` names and signatures; ``padding`` also takes "valid" and
"same" (stride 1), with the extra padding on the bottom/right when it is odd, as PyTorch.
"""
from ...autograd.ops.convolution import conv1d, conv2d, conv_transpose1d, conv_transpose2d

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]
