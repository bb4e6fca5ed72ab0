"""Pooling as functions: max, average and adaptive average pooling in 1-d and 2-d.

Each is one differentiable operation of ``tapegrad/autograd/ops/pooling.py``,
re-exported under PyTorch's ``torch.nn.functional`` names and signatures
(``max_pool2d(..., return_indices=True)`` gives (values, indices), the indices being
flat positions h·W + w in each input plane, as PyTorch's).
"""
from ...autograd.ops.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d,
                                     avg_pool2d, max_pool1d, max_pool2d)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``max_pool1d(..., return_indices=True)``: (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``max_pool2d(..., return_indices=True)``: (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d",
           "max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices"]
