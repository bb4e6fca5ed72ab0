"""Image utilities as functions: ``pad``, ``interpolate`` (and ``upsample``), ``unfold``, ``fold``.

``pad`` and ``unfold``/``fold`` are differentiable operations of
``tapegrad/autograd/ops/convolution.py``, ``interpolate`` one of ``pooling.py``;
they are re-exported here under PyTorch's ``torch.nn.functional`` names.

* ``pad(input, pad, mode="constant", value=None)``: pad = (left, right) for the last
  dim, then (top, bottom) for the one before, …; negative widths crop; modes constant,
  reflect, replicate, circular;
* ``interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None)``:
  modes nearest, nearest-exact, linear, bilinear, trilinear, area;
* ``unfold(input, kernel_size, dilation=1, padding=0, stride=1)``: (N, C, H, W) ->
  (N, C·kh·kw, L), every sliding window as a column (im2col);
* ``fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1)``: its
  adjoint (col2im): the columns summed back into (N, C, H, W).
"""
from ...autograd.ops.convolution import fold, pad, unfold
from ...autograd.ops.pooling import interpolate


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """The older name of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(..., mode="bilinear", align_corners=True)``, as PyTorch's."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


__all__ = ["fold", "interpolate", "pad", "unfold", "upsample", "upsample_bilinear",
           "upsample_nearest"]
