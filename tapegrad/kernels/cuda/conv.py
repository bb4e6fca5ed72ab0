"""Convolution on the GPU: im2col/col2im kernels feeding one cuBLAS product each.

With the windows of x as columns (im2col.py, shape (C·kh·kw, B·L), L = Ho·Wo) and the
weight as a matrix W (O, C·kh·kw):

    forward          y        = W @ columns                     (O, B·L) -> (B, O, Ho, Wo)
    input gradient   dcolumns = Wᵀ @ dy,   dx = col2im(dcolumns)  (col2im.py)
    weight gradient  dW       = dy @ columnsᵀ                    (O, C·kh·kw) = (O, C, kh, kw)

where dy is the output gradient as a matrix (O, B·L). With groups, channels split into
``groups`` independent convolutions: every matrix gets a leading group axis
(W: (G, O/G, K), columns: (G, K, B·L) with K = C/G·kh·kw) and each product is one
batched ``matmul`` (cuBLAS's strided-batched GEMM).

The products are ``xp.matmul`` on cupy arrays, so cuBLAS does the arithmetic; the
hand-written kernels only move data (im2col, col2im). The whole batch is one GEMM
(B·L columns), the shape cuBLAS is fastest on; its result comes out (O, B, Ho, Wo)
and one copy puts it in PyTorch's (B, O, Ho, Wo) order, with the bias added on the way.

Scratch buffers (the columns, dy as a matrix, the products) come from the reused
workspaces of ``kernels/cpu/workspace.py`` (plain array code, so it holds cupy arrays
too). As on the cpu, the forward *stamps* its columns and the weight gradient reuses
them if no other convolution of the same shape overwrote them since; a backward pass
(``backward``) copies dy into matrix form once and both gradients read it. Returned arrays
are always fresh.

Memory: the columns are kh·kw times the input (a 3×3 layer of 64 channels at 56×56,
batch 32, float32: 231 MB). The implicit-GEMM kernel (implicit_gemm.py) never stores
them; which of the two is faster must be measured on a GPU (benchmarks/gpu.py).
"""
from ..cpu import workspace
from .col2im import col2im
from .im2col import im2col


def _columns(xp, x, window, stamp=None):
    """im2col of x in a workspace of shape (C·kh·kw, B, Ho·Wo); reused if ``stamp`` still
    owns it (the forward of the same convolution filled it)."""
    batch, channels = x.shape[:2]
    ho, wo = window.out_size
    shape = (channels * window.taps, batch, ho * wo)
    purpose = ("cuda-columns", window)
    held = workspace.owned_by(xp, purpose, shape, x.dtype, stamp)
    if held is not None:
        return held
    columns = workspace.get(xp, purpose, shape, x.dtype)
    im2col(xp, x, window, columns)
    workspace.stamp(xp, purpose, shape, x.dtype, stamp)
    return columns


def _grad_matrix(xp, grad):
    """dy (B, O, Ho, Wo) as the matrix (O, B, Ho·Wo), in a workspace. A single image is
    already in that order: no copy."""
    batch, out_channels, ho, wo = grad.shape
    shape = (out_channels, batch, ho * wo)
    if batch == 1 and grad.flags.c_contiguous:
        return grad.reshape(shape)
    matrix = workspace.get(xp, "cuda-conv-grad", shape, grad.dtype)
    xp.copyto(matrix.reshape(out_channels, batch, ho, wo), grad.transpose(1, 0, 2, 3))
    return matrix


def forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias as a fresh (B, O, Ho, Wo) array."""
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    groups = window.groups
    ho, wo = window.out_size
    k = channels // groups * window.taps
    m = batch * ho * wo
    columns = _columns(xp, x, window, stamp).reshape(groups, k, m)
    w = weight.reshape(groups, out_channels // groups, k)
    y = xp.empty((batch, out_channels, ho, wo), x.dtype)
    if batch == 1:   # (O, 1, L) is already y's order: the GEMM writes into y
        xp.matmul(w, columns, out=y.reshape(groups, out_channels // groups, m))
        if bias is not None:
            y += bias.reshape(1, out_channels, 1, 1)
        return y
    product = workspace.get(xp, "cuda-conv-product", (groups, out_channels // groups, m), x.dtype)
    xp.matmul(w, columns, out=product)
    result = product.reshape(out_channels, batch, ho, wo).transpose(1, 0, 2, 3)
    if bias is not None:
        xp.add(result, bias.reshape(1, out_channels, 1, 1), out=y)
    else:
        xp.copyto(y, result)
    return y


def input_grad(xp, grad, weight, window):
    """dx = col2im(Wᵀ @ dy) as a fresh (B, C, H, W) array: the transposed convolution."""
    return _input_grad(xp, _grad_matrix(xp, grad), grad.shape, weight, window)


def weight_grad(xp, x, grad, window, stamp=None):
    """dW = dy @ columnsᵀ as a fresh (O, C/groups, kh, kw) array."""
    return _weight_grad(xp, x, _grad_matrix(xp, grad), grad.shape, window, stamp)


def backward(xp, x, grad, weight, window, stamp=None):
    """(dx, dW) from one copy of dy as a matrix, which both products read."""
    dy = _grad_matrix(xp, grad)
    return (_input_grad(xp, dy, grad.shape, weight, window),
            _weight_grad(xp, x, dy, grad.shape, window, stamp))


def _input_grad(xp, dy, grad_shape, weight, window):
    batch, out_channels, ho, wo = grad_shape
    groups = window.groups
    channels = weight.shape[1] * groups
    k = weight.shape[1] * window.taps
    m = batch * ho * wo
    w_t = weight.reshape(groups, out_channels // groups, k).transpose(0, 2, 1)
    dcolumns = workspace.get(xp, "cuda-conv-dcolumns", (groups, k, m), dy.dtype)
    xp.matmul(w_t, dy.reshape(groups, out_channels // groups, m), out=dcolumns)
    dx = xp.empty((batch, channels) + tuple(window.in_size), dy.dtype)
    return col2im(xp, dcolumns.reshape(channels * window.taps, batch, ho * wo), dx, window)


def _weight_grad(xp, x, dy, grad_shape, window, stamp):
    batch, channels = x.shape[:2]
    out_channels, ho, wo = grad_shape[1:]
    groups = window.groups
    k = channels // groups * window.taps
    m = batch * ho * wo
    columns = _columns(xp, x, window, stamp).reshape(groups, k, m)
    dw = xp.matmul(dy.reshape(groups, out_channels // groups, m), columns.transpose(0, 2, 1))
    return dw.reshape((out_channels, channels // groups) + tuple(window.kernel))


def unfold(xp, x, window):
    """PyTorch's ``unfold``: a fresh (B, C·kh·kw, Ho·Wo) array of the windows of x (im2col
    writing through a transposed view of the result)."""
    batch, channels = x.shape[:2]
    ho, wo = window.out_size
    out = xp.empty((batch, channels * window.taps, ho * wo), x.dtype)
    im2col(xp, x, window, out.transpose(1, 0, 2))
    return out


def fold(xp, columns, window):
    """col2im of (B, C·kh·kw, Ho·Wo) columns: a fresh (B, C, H, W) array of the sums."""
    batch = columns.shape[0]
    channels = columns.shape[1] // window.taps
    out = xp.empty((batch, channels) + tuple(window.in_size), columns.dtype)
    return col2im(xp, columns.transpose(1, 0, 2), out, window)
