"""The shape of a sliding window over an image, shared by convolution and pooling.

A window of ``kernel`` taps slides over the input with ``stride``; tap ``i`` of the
window at output position ``o`` reads input row ``o·stride + i·dilation - pad_before``
(rows outside the input are padding). Along one axis of size n the outputs are

    n_out = ⌊(n + pad_before + pad_after - dilation·(kernel - 1) - 1) / stride⌋ + 1

Everything is stored for two spatial axes (height, width); a 1-d operation is a 2-d
one on an image of height 1, so every kernel is written once.
"""
from typing import NamedTuple


class Window(NamedTuple):
    """A 2-d sliding window: every size is an (height, width) pair, padding is
    (top, bottom, left, right) so that "same" padding can be asymmetric."""

    in_size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    groups: int = 1

    @property
    def out_size(self):
        (h, w), (kh, kw), (sh, sw), (dh, dw) = self.in_size, self.kernel, self.stride, self.dilation
        top, bottom, left, right = self.padding
        return ((h + top + bottom - dh * (kh - 1) - 1) // sh + 1,
                (w + left + right - dw * (kw - 1) - 1) // sw + 1)

    @property
    def padded_size(self):
        top, bottom, left, right = self.padding
        return self.in_size[0] + top + bottom, self.in_size[1] + left + right

    @property
    def taps(self):
        return self.kernel[0] * self.kernel[1]

    @property
    def flat(self):
        """True when the "flat rows" im2col layout applies (stride 1; see kernels/cpu/im2col.py)."""
        return self.stride == (1, 1)
