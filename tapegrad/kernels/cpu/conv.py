"""Convolution as matrix products: one GEMM for the output, one for each gradient.

With the input's windows as columns (im2col, shape (C·kh·kw, B·rows)) and the weight
as a matrix (O, C·kh·kw):

    forward           y       = W  @ columns                  (O, B·rows)
    input gradient    dcolumns = Wᵀ @ dy,  then dx = col2im(dcolumns)
    weight gradient   dW      = dy @ columnsᵀ                  (O, C·kh·kw), already in
                                                              the weight's (O, C, kh, kw) layout

With groups, channels split into ``groups`` independent convolutions: the matrices get
a leading group axis and each product is one batched ``matmul``.

Speed (see PERF-NOTES.md): the columns live in a reused workspace; the forward stamps
them, and the weight gradient reuses them when no other convolution of the same shape
has overwritten them since (else it runs im2col again). Returned arrays are always
fresh. float32 stays float32.

3×3 stride-1 convolutions can run by Winograd's F(2×2, 3×3) instead (``winograd.py``; off
by default, see there). Everything here is written with the array module ``xp``; only col2im is a numba loop
on the cpu (with an array-only stand-in for cupy).
"""
from . import winograd, workspace
from .col2im import col2im, col2im_flat
from .im2col import columns_shape, im2col, row_width


class Stamp:
    """Marks who filled a workspace last (see workspace.py): a convolution's forward stamps
    its columns for the weight gradient; a backward stamps its copy of dy for both gradients."""

    __slots__ = ("__weakref__",)


def choose_layout(batch, in_channels, out_channels, window):
    """"merged" (one GEMM over the whole batch) or "batched" (one per image); see im2col.py.

    Measured (PERF-NOTES trap 6, and LeNet's convolutions here): when the weight matrix
    has only a few rows (LeNet's first layer: 6 output channels), one GEMM per image wins,
    the merged GEMM being slow with two threads; otherwise the merged GEMM is as fast or
    faster (LeNet's second layer: its weight gradient is one GEMM instead of a GEMM per
    image and a sum).
    """
    if window.groups == 1 and out_channels < 8:
        return "batched"
    return "merged"


def _columns(xp, x, window, layout, stamp=None, reuse=False):
    """The im2col matrix of x in the column workspace, stamped with ``stamp``; with ``reuse``,
    the one already there if ``stamp`` still owns it."""
    shape = columns_shape(x.shape, window, layout)
    purpose = ("columns", window, layout)
    if reuse and stamp is not None:
        held = workspace.owned_by(xp, purpose, shape, x.dtype, stamp)
        if held is not None:
            return held
    columns = workspace.get(xp, purpose, shape, x.dtype, fill=0)
    im2col(xp, x, window, layout, columns)
    workspace.stamp(xp, purpose, shape, x.dtype, stamp)
    return columns


def forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias as a fresh (B, O, Ho, Wo) array.

    ``stamp`` (a Stamp, or None) marks the column workspace for the weight gradient.
    """
    if winograd.chosen("forward", xp, x, window, x.shape[1], weight.shape[0]):
        return winograd.forward(xp, x, weight, bias, window, stamp)
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    groups = window.groups
    ho, wo = window.out_size
    width = row_width(window)
    layout = choose_layout(batch, channels, out_channels, window)
    columns = _columns(xp, x, window, layout, stamp)
    k = channels // groups * window.taps
    w = weight.reshape(groups, out_channels // groups, k)
    y = xp.empty((batch, out_channels, ho, wo), x.dtype)
    if layout == "merged":
        shape = (groups, out_channels // groups, batch * ho * width)
        product = workspace.scratch(xp, "conv-product", shape, x.dtype)
        xp.matmul(w, columns.reshape(groups, k, batch * ho * width), out=product)
        result = product.reshape(out_channels, batch, ho, width)[..., :wo].transpose(1, 0, 2, 3)
    elif width == wo:   # batched and exact: the GEMM writes straight into y
        xp.matmul(w, columns.reshape(batch, groups, k, ho * wo),
                  out=y.reshape(batch, groups, out_channels // groups, ho * wo))
        result = y
    else:
        shape = (batch, groups, out_channels // groups, ho * width)
        product = workspace.scratch(xp, "conv-product", shape, x.dtype)
        xp.matmul(w, columns.reshape(batch, groups, k, ho * width), out=product)
        result = product.reshape(batch, out_channels, ho, width)[..., :wo]
    if bias is not None:
        xp.add(result, bias.reshape(1, out_channels, 1, 1), out=y)
    elif result is not y:
        xp.copyto(y, result)
    return y


def _grad_matrix(xp, grad, window, layout, stamp=None):
    """dy (B, O, Ho, Wo) in the columns' layout: (O, B, Ho, rows) or (B, O, Ho, rows), with
    zeros in the junk positions of the flat layout (so they add nothing). One backward
    computes both gradients from the same dy: with the same ``stamp`` the second call
    reuses the first one's copy."""
    batch, out_channels, ho, wo = grad.shape
    width = row_width(window)
    if layout == "batched" and width == wo:
        return xp.ascontiguousarray(grad)
    if layout == "merged":
        shape = (out_channels, batch, ho, width)
    else:
        shape = (batch, out_channels, ho, width)
    purpose = ("conv-grad", wo, layout)
    held = workspace.owned_by(xp, purpose, shape, grad.dtype, stamp)
    if held is not None:
        return held
    matrix = workspace.get(xp, purpose, shape, grad.dtype, fill=0)
    source = grad.transpose(1, 0, 2, 3) if layout == "merged" else grad
    matrix[..., :wo] = source
    workspace.stamp(xp, purpose, shape, grad.dtype, stamp)
    return matrix


def input_grad(xp, grad, weight, window, grad_stamp=None):
    """dx = col2im(Wᵀ @ dy) as a fresh (B, C, H, W) array: the transposed convolution."""
    if winograd.chosen("input_grad", xp, grad, window, weight.shape[1], weight.shape[0]):
        return winograd.input_grad(xp, grad, weight, window)
    batch, out_channels, ho, wo = grad.shape
    groups = window.groups
    channels = weight.shape[1] * groups
    k = weight.shape[1] * window.taps
    width = row_width(window)
    layout = choose_layout(batch, channels, out_channels, window)
    dy = _grad_matrix(xp, grad, window, layout, grad_stamp)
    w_t = weight.reshape(groups, out_channels // groups, k).transpose(0, 2, 1)
    if layout == "merged":
        dcolumns = workspace.scratch(xp, "conv-dcolumns", (groups, k, batch * ho * width),
                                     grad.dtype)
        xp.matmul(w_t, dy.reshape(groups, out_channels // groups, batch * ho * width),
                  out=dcolumns)
        columns = dcolumns.reshape((channels,) + window.kernel + (batch, ho, width))
    else:
        dcolumns = workspace.scratch(xp, "conv-dcolumns", (batch, groups, k, ho * width),
                                     grad.dtype)
        xp.matmul(w_t, dy.reshape(batch, groups, out_channels // groups, ho * width),
                  out=dcolumns)
        columns = dcolumns.reshape((batch, channels) + window.kernel + (ho, width))
    if window.flat and xp.numba_cpu:
        return _col2im_flat(xp, columns, layout, batch, channels, window)
    columns = columns[..., :wo]
    if layout == "batched":
        columns = columns.transpose(1, 2, 3, 0, 4, 5)
    dx = xp.zeros((batch, channels) + tuple(window.in_size), grad.dtype)
    return col2im(xp, columns, dx, window)


def _col2im_flat(xp, columns, layout, batch, channels, window):
    """col2im for the flat layout: add each column plane at its shift into the padded image,
    then keep the inside (a fresh array)."""
    hp, wp = window.padded_size
    top, bottom, left, right = window.padding
    height, width = window.in_size
    ho, wo = window.out_size
    plane_shape = columns.shape[:4] + (ho * wp,)
    padding = top or bottom or left or right
    if padding:
        image = workspace.scratch(xp, "conv-dx-padded", (batch, channels, hp * wp),
                                  columns.dtype)
        image.fill(0)
    else:   # the padded image is the result itself
        image = xp.zeros((batch, channels, hp * wp), columns.dtype)
    col2im_flat(columns.reshape(plane_shape), image, layout == "merged", (ho - 1) * wp + wo, wp,
                window.dilation[0], window.dilation[1])
    image = image.reshape(batch, channels, hp, wp)
    if padding:
        return image[:, :, top:top + height, left:left + width].copy()
    return image


def weight_grad(xp, x, grad, window, stamp=None, grad_stamp=None):
    """dW = dy @ columnsᵀ as a fresh (O, C/groups, kh, kw) array."""
    if winograd.chosen("weight_grad", xp, x, window, x.shape[1], grad.shape[1]):
        return winograd.weight_grad(xp, x, grad, window, stamp)
    batch, channels = x.shape[:2]
    out_channels, ho = grad.shape[1], grad.shape[2]
    groups = window.groups
    k = channels // groups * window.taps
    width = row_width(window)
    layout = choose_layout(batch, channels, out_channels, window)
    columns = _columns(xp, x, window, layout, stamp, reuse=True)
    dy = _grad_matrix(xp, grad, window, layout, grad_stamp)
    shape = (out_channels, channels // groups) + tuple(window.kernel)
    if layout == "merged":
        dw = xp.matmul(dy.reshape(groups, out_channels // groups, batch * ho * width),
                       columns.reshape(groups, k, batch * ho * width).transpose(0, 2, 1))
        return dw.reshape(shape)
    per_image = xp.matmul(dy.reshape(batch, groups, out_channels // groups, ho * width),
                          columns.reshape(batch, groups, k, ho * width).transpose(0, 1, 3, 2))
    return per_image.sum(axis=0).reshape(shape)
