"""Convolution as an implicit GEMM: one tiled shared-memory kernel, no column matrix.

This is the teaching version (conv.py, im2col + cuBLAS, is the main path; which one is
faster is to be measured on a GPU: ``python benchmarks/gpu.py``).

Each of the three products of a convolution is a matrix product C = A @ B per group g,
whose matrices are never stored: the kernel reads every entry of A and B straight
from the arrays by index arithmetic (hence *implicit*). With K = C/G·kh·kw the taps of
one group, L = Ho·Wo, and an index written as the tuple it is decoded into
(row-major, last fastest):

    product          C = out (R × S)                 A (R × depth)               B (depth × S)
    forward          y[n, o, p, q]:  (o) × (n,p,q)    weight[o, (c,i,j)]         x̂[(c,i,j), (n,p,q)]
    input gradient   dx[n, c, h, w]: (c) × (n,h,w)    weight[(o,i,j), c]ᵀ        dŷ[(o,i,j), (n,h,w)]
    weight gradient  dW[o, c, i, j]: (o) × (c,i,j)    dy[o, (n,p,q)]             x̂[(c,i,j), (n,p,q)]ᵀ

where x̂ is im2col of x (0 in the padding),

    x̂[(c, i, j), (n, p, q)] = x[n, c, p·sh + i·dh - top, q·sw + j·dw - left],

and dŷ is the same relation read the other way (which output gradient, if any, tap
(i, j) of channel o brings to input position (h, w)):

    dŷ[(o, i, j), (n, h, w)] = dy[n, o, p, q]  with p·sh = h + top - i·dh, q·sw = w + left - j·dw
                               (0 unless both are exact multiples with 0 ≤ p < Ho, 0 ≤ q < Wo).

Tiling. The grid is (⌈S/T⌉, ⌈R/T⌉, G) blocks of T×T threads (T = ``TILE``, 16 by
default: 256 threads); block (bx, by, g) computes the T×T tile of C of rows by·T… and
columns bx·T… of group g, thread (ty, tx) the one entry (by·T + ty, bx·T + tx). The
depth is walked T at a time: each thread loads one entry of the A tile and one of the
B tile into shared memory, the block waits (``syncthreads``), then each thread adds
the T products of its row of A and column of B from shared memory, and the block waits
again before the next tiles overwrite them. Every value fetched from device memory is
so used T times: that reuse is what tiling buys. Threads of a warp have consecutive tx,
so they load consecutive columns of B and store consecutive outputs (coalesced when
the stride is 1).

What it leaves out, and cuBLAS has: register tiling (each thread computing a 4×4 or
8×8 patch of C, so a shared-memory value feeds several products), vectorised and
double-buffered loads, and tensor cores. So expect it to be slower than im2col +
cuBLAS on large layers, despite never writing the kh·kw-times-larger column matrix.

The loop is written once (``_tiled_product``); the three products differ only in the
device functions that read A and B and write C, passed in when the kernel is built.
A kernel is built per (product, dtype, tile): the shared tiles need their dtype and
size when compiled.
"""
import numba
from numba import cuda

from .launch import run

TILE = 16

# Every device function below gets the geometry as one tuple of ints,
#     geo = (kh, kw, sh, sw, dh, dw, top, left, ho, wo, height, width, og, cg)
# (og, cg: output and input channels per group), and the readers get ``zero``, a 0 of the
# arrays' dtype, for entries that fall in the padding.


@cuda.jit(device=True, inline=True)
def _window_value(x, g, k, s, geo, zero):
    """x̂[(c, i, j), (n, p, q)] of group g: the input value tap (i, j) of output (p, q) reads."""
    kh, kw, sh, sw, dh, dw, top, left, ho, wo, height, width, og, cg = geo
    c = k // (kh * kw)
    i = (k // kw) % kh
    j = k % kw
    n = s // (ho * wo)
    p = (s // wo) % ho
    q = s % wo
    row = p * sh + i * dh - top
    col = q * sw + j * dw - left
    if row >= 0 and row < height and col >= 0 and col < width:
        return x[n, g * cg + c, row, col]
    return zero                  # padding


@cuda.jit(device=True, inline=True)
def _weight_entry(w, g, r, k, geo, zero):
    """A of the forward: weight[g·Og + o, (c, i, j)] with o = r."""
    kh, kw = geo[0], geo[1]
    return w[g * geo[12] + r, k // (kh * kw), (k // kw) % kh, k % kw]


@cuda.jit(device=True, inline=True)
def _store_output(y, g, r, s, value, geo):
    """y[n, g·Og + o, p, q] = value for o = r, s = (n, p, q)."""
    ho, wo = geo[8], geo[9]
    y[s // (ho * wo), g * geo[12] + r, (s // wo) % ho, s % wo] = value


@cuda.jit(device=True, inline=True)
def _weight_t_entry(w, g, r, k, geo, zero):
    """A of the input gradient: weight[g·Og + o, c, i, j] for r = c, k = (o, i, j)."""
    kh, kw = geo[0], geo[1]
    return w[g * geo[12] + k // (kh * kw), r, (k // kw) % kh, k % kw]


@cuda.jit(device=True, inline=True)
def _grad_window_value(dy, g, k, s, geo, zero):
    """dŷ[(o, i, j), (n, h, w)] of group g: the output gradient tap (i, j) brings to (h, w)."""
    kh, kw, sh, sw, dh, dw, top, left, ho, wo, height, width, og, cg = geo
    o = k // (kh * kw)
    i = (k // kw) % kh
    j = k % kw
    n = s // (height * width)
    h = (s // width) % height
    w = s % width
    hp = h + top - i * dh
    wp = w + left - j * dw
    if hp >= 0 and wp >= 0 and hp % sh == 0 and wp % sw == 0:
        p = hp // sh
        q = wp // sw
        if p < ho and q < wo:
            return dy[n, g * og + o, p, q]
    return zero


@cuda.jit(device=True, inline=True)
def _store_input(dx, g, r, s, value, geo):
    """dx[n, g·Cg + c, h, w] = value for r = c, s = (n, h, w)."""
    height, width = geo[10], geo[11]
    dx[s // (height * width), g * geo[13] + r, (s // width) % height, s % width] = value


@cuda.jit(device=True, inline=True)
def _grad_entry(dy, g, r, k, geo, zero):
    """A of the weight gradient: dy[n, g·Og + o, p, q] for r = o, k = (n, p, q)."""
    ho, wo = geo[8], geo[9]
    return dy[k // (ho * wo), g * geo[12] + r, (k // wo) % ho, k % wo]


@cuda.jit(device=True, inline=True)
def _window_value_t(x, g, k, s, geo, zero):
    """B of the weight gradient: x̂ transposed, k = (n, p, q), s = (c, i, j)."""
    return _window_value(x, g, s, k, geo, zero)


@cuda.jit(device=True, inline=True)
def _store_weight(dw, g, r, s, value, geo):
    """dW[g·Og + o, c, i, j] = value for r = o, s = (c, i, j)."""
    kh, kw = geo[0], geo[1]
    dw[g * geo[12] + r, s // (kh * kw), (s // kw) % kh, s % kw] = value


_PRODUCTS = {
    "forward": (_weight_entry, _window_value, _store_output),
    "input_grad": (_weight_t_entry, _grad_window_value, _store_input),
    "weight_grad": (_grad_entry, _window_value_t, _store_weight),
}
_kernels = {}


def _tiled_product(load_a, load_b, store, dtype, tile):
    """The kernel C = A @ B per group (blockIdx.z), for the given readers and writer."""

    @cuda.jit
    def kernel(a, b, out, rows, cols, depth, geo, zero):
        tile_a = cuda.shared.array((tile, tile), dtype)
        tile_b = cuda.shared.array((tile, tile), dtype)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        g = cuda.blockIdx.z
        r = cuda.blockIdx.y * tile + ty        # this thread's row of C
        s = cuda.blockIdx.x * tile + tx        # and column
        acc = zero
        for k0 in range(0, depth, tile):
            # one entry of each tile per thread (0 past the edges, so they add nothing)
            if r < rows and k0 + tx < depth:
                tile_a[ty, tx] = load_a(a, g, r, k0 + tx, geo, zero)
            else:
                tile_a[ty, tx] = zero
            if k0 + ty < depth and s < cols:
                tile_b[ty, tx] = load_b(b, g, k0 + ty, s, geo, zero)
            else:
                tile_b[ty, tx] = zero
            cuda.syncthreads()                 # both tiles are loaded
            for kk in range(tile):
                acc += tile_a[ty, kk] * tile_b[kk, tx]
            cuda.syncthreads()                 # everyone is done before they are overwritten
        if r < rows and s < cols:
            store(out, g, r, s, acc, geo)

    return kernel


def _launch(product, xp, a, b, out, rows, cols, depth, window, channels, out_channels):
    """Build (once) and run the kernel of ``product`` over its (S, R, G) grid of tiles."""
    tile = TILE
    key = (product, out.dtype.str, tile)
    if key not in _kernels:
        _kernels[key] = _tiled_product(*_PRODUCTS[product], numba.from_dtype(out.dtype), tile)
    groups = window.groups
    if rows == 0 or cols == 0:   # an empty result (every entry of C is written otherwise,
        return                   # zeros when the depth is 0)
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    height, width = window.in_size
    geo = (kh, kw, sh, sw, dh, dw, window.padding[0], window.padding[2], ho, wo, height, width,
           out_channels // groups, channels // groups)
    grid = ((cols + tile - 1) // tile, (rows + tile - 1) // tile, groups)
    run(_kernels[key], xp, grid, (tile, tile), a, b, out, rows, cols, depth, geo,
        out.dtype.type(0))


def forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias as a fresh (B, O, Ho, Wo) array (``stamp`` is unused)."""
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    ho, wo = window.out_size
    y = xp.empty((batch, out_channels, ho, wo), x.dtype)
    depth = channels // window.groups * window.taps
    _launch("forward", xp, weight, x, y, out_channels // window.groups, batch * ho * wo, depth,
            window, channels, out_channels)
    if bias is not None:
        y += bias.reshape(1, out_channels, 1, 1)
    return y


def input_grad(xp, grad, weight, window):
    """dx (B, C, H, W), the transposed convolution of grad, as a fresh array."""
    batch, out_channels = grad.shape[:2]
    channels = weight.shape[1] * window.groups
    height, width = window.in_size
    dx = xp.empty((batch, channels, height, width), grad.dtype)
    depth = out_channels // window.groups * window.taps
    _launch("input_grad", xp, weight, grad, dx, channels // window.groups,
            batch * height * width, depth, window, channels, out_channels)
    return dx


def weight_grad(xp, x, grad, window, stamp=None):
    """dW (O, C/groups, kh, kw) as a fresh array."""
    batch, channels = x.shape[:2]
    out_channels, ho, wo = grad.shape[1:]
    dw = xp.empty((out_channels, channels // window.groups) + tuple(window.kernel), x.dtype)
    depth = batch * ho * wo
    _launch("weight_grad", xp, grad, x, dw, out_channels // window.groups,
            channels // window.groups * window.taps, depth, window, channels, out_channels)
    return dw


def backward(xp, x, grad, weight, window, stamp=None):
    """(dx, dW): two launches, each reading dy where it lies."""
    return input_grad(xp, grad, weight, window), weight_grad(xp, x, grad, window, stamp)
