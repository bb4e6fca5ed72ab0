"""Winograd's F(2×2, 3×3): a 3×3 convolution (stride 1, no dilation, one group) with 2.25×
fewer multiplications than im2col + GEMM.

Cut the output into 2×2 tiles. Each tile depends on a 4×4 patch d of the padded input, and

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          (g the 3×3 kernel, ⊙ elementwise)

with the constant matrices below. Summed over input channels, the ⊙ becomes 16 matrix
products, one per position of the 4×4 transformed tile:

    U = G g Gᵀ      (16, O, C)   the kernel, transformed once per call
    V = Bᵀ d B      (16, C, T)   every input patch (T = batch · tiles), a numba loop
    M = U @ V       (16, O, T)   16 GEMMs of the same shape: one batched matmul
    Y = Aᵀ M A                   back to 2×2 output tiles, a numba loop

4·4 = 16 multiplications per tile and channel pair where the direct form needs 2·2·9 = 36.
The two gradients are the same machinery:

* ∂L/∂x is the full correlation of ∂L/∂y with the kernel turned by 180° and its channel
  axes swapped: a forward pass of this file on ∂L/∂y padded by 2 - p;
* ∂L/∂g: Y = Aᵀ M A gives ∂L/∂M = A (∂L/∂Y) Aᵀ per tile (a numba loop), M = U @ V gives
  ∂L/∂U = ∂L/∂M @ Vᵀ (one batched matmul over the tiles), and U = G g Gᵀ gives
  ∂L/∂g = Gᵀ (∂L/∂U) G.

Accuracy. Every coefficient of A, B and G is 0, ±1 or ±1/2; V and the output each take
two additions per dimension, U is formed in float64 and rounded once, so the computed ŷ
satisfies (ε the unit roundoff, 2⁻²⁴ in float32; γ_n = nε/(1 - nε))

    |ŷ - y| ≤ γ_{C+12} · ỹ,   ỹ = the same algorithm run on |x| and |g| with |A|, |B|, |G|,

and ỹ ≤ 16 · Σ_c Σ_{a,b} |g_c[a,b]| · max |x_c over the 4×4 patch| (each dimension of the
transforms can weigh an input by up to 4 where the direct sum weighs it by 1): the
error of a direct sum, γ_{9C}·Σ|g||x|, times a small constant, with no growth in C
beyond the GEMM's own. The weight gradient sums over the T tiles instead of the C
channels: γ_{T+12} with the same ỹ construction. tests/kernels/test_winograd.py checks
both bounds on random inputs.

Speed, measured (2-core Xeon, AVX-512, numpy's OpenBLAS, 1 thread; 32→64 channels,
32×32, batch 32, padding 1): the 16 GEMMs take about 7 ms where im2col's one takes
about 13, but the transforms give most of that back (input 5 ms against im2col's
2.5 ms copy; output 3.6 ms; ∂L/∂y 4–9 ms), and a whole layer step (forward and both
gradients) was 5–20 % slower than im2col + GEMM at every shape tried (16 to 64
channels). So ``PASSES`` below is all False: im2col + GEMM stays the default, and
Winograd runs only when asked (``tapegrad.kernels.cpu.winograd.PASSES["forward"] =
True``, for example), always for ``suits``-able shapes with at least ``MIN_CHANNELS``.
"""
from numba import njit

from . import workspace

# The transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
A_T = ((1, 1, 1, 0), (0, 1, -1, -1))


# Which passes of a convolution run here when ``suits`` says they can ("forward" and
# "weight_grad" share the transformed input, so they belong together). All off: not faster
# than im2col + GEMM where measured (see the module docstring).
PASSES = {"forward": False, "input_grad": False, "weight_grad": False}
MIN_CHANNELS = 32   # below this many input or output channels, im2col + GEMM wins


def suits(xp, x, window, in_channels, out_channels):
    """True for the convolutions this file can compute: numpy arrays of float32/float64, a
    3×3 kernel, stride 1, dilation 1, one group, every padding at most 2."""
    return (xp.numba_cpu and x.dtype.kind == "f" and x.dtype.itemsize >= 4
            and window.kernel == (3, 3) and window.stride == (1, 1)
            and window.dilation == (1, 1) and window.groups == 1
            and all(0 <= p <= 2 for p in window.padding))


def chosen(part, xp, x, window, in_channels, out_channels):
    """True where ``part`` ("forward", "input_grad", "weight_grad") of this convolution
    should run here rather than by im2col + GEMM."""
    return (PASSES[part] and min(in_channels, out_channels) >= MIN_CHANNELS
            and suits(xp, x, window, in_channels, out_channels))


def _tiles(window):
    ho, wo = window.out_size
    return (ho + 1) // 2, (wo + 1) // 2


def _padded_input(xp, x, window, tiles):
    """x with its padding, and zeros below and right to a whole number of tiles."""
    top, _, left, _ = window.padding
    th, tw = tiles
    batch, channels, height, width = x.shape
    padded = workspace.get(xp, ("winograd-padded", x.shape, window),
                           (batch, channels, 2 * th + 2, 2 * tw + 2), x.dtype, fill=0)
    padded[:, :, top:top + height, left:left + width] = x
    # the rows/columns past the input are zeros: they were filled so and nothing writes there
    return padded


# The loops below read and write through one-dimensional row views (a row of the image, a
# run of tiles in one plane): that keeps their index arithmetic simple enough for the
# compiler, 4× faster than indexing the 4-d arrays directly.

@njit(cache=True, nogil=True)
def _input_transform(d, V, tiles_h, tiles_w, even, odd):
    """V[k, c, t] = (Bᵀ d_t B)[k] for every 4×4 patch d_t of d (B, C, 2·th + 2, 2·tw + 2),
    t = (b·th + i)·tw + j. Bᵀ d is formed once per row of patches (neighbouring patches
    share two columns), then (Bᵀ d) B per patch."""
    batch, channels, _, width = d.shape
    half = width // 2   # even, odd (4, half): Bᵀ d at the even columns and at the odd ones,
    #                     so that the loops below read at unit stride
    for b in range(batch):
        for c in range(channels):
            for i in range(tiles_h):
                r0, r1, r2, r3 = d[b, c, 2 * i], d[b, c, 2 * i + 1], d[b, c, 2 * i + 2], d[b, c, 2 * i + 3]
                e0, e1, e2, e3 = even[0], even[1], even[2], even[3]
                o0, o1, o2, o3 = odd[0], odd[1], odd[2], odd[3]
                for q in range(half):   # Bᵀ d: rows 0 - 2, 1 + 2, 2 - 1, 1 - 3
                    s = 2 * q
                    e0[q], o0[q] = r0[s] - r2[s], r0[s + 1] - r2[s + 1]
                    e1[q], o1[q] = r1[s] + r2[s], r1[s + 1] + r2[s + 1]
                    e2[q], o2[q] = r2[s] - r1[s], r2[s + 1] - r1[s + 1]
                    e3[q], o3[q] = r1[s] - r3[s], r1[s + 1] - r3[s + 1]
                start = (b * tiles_h + i) * tiles_w
                for a in range(4):       # (Bᵀ d) B: columns 0 - 2, 1 + 2, 2 - 1, 1 - 3
                    e, o = even[a], odd[a]
                    v0 = V[4 * a, c, start:start + tiles_w]
                    v1 = V[4 * a + 1, c, start:start + tiles_w]
                    v2 = V[4 * a + 2, c, start:start + tiles_w]
                    v3 = V[4 * a + 3, c, start:start + tiles_w]
                    for j in range(tiles_w):
                        v0[j] = e[j] - e[j + 1]
                        v1[j] = o[j] + e[j + 1]
                        v2[j] = e[j + 1] - o[j]
                        v3[j] = o[j] - o[j + 1]


@njit(cache=True, nogil=True)
def _output_transform(M, y, bias, has_bias, tiles_h, tiles_w, rows):
    """y[b, o] tile (i, j) = Aᵀ M[:, o, t] A + bias, for y (B, O, 2·th, 2·tw); ``rows``
    (2, 4, tw) holds Aᵀ M for a row of tiles."""
    batch, out_channels = y.shape[0], y.shape[1]
    for b in range(batch):
        for o in range(out_channels):
            extra = bias[o] if has_bias else 0.0
            for i in range(tiles_h):
                start = (b * tiles_h + i) * tiles_w
                stop = start + tiles_w
                for q in range(4):   # Aᵀ M: row 0 = M₀ + M₁ + M₂, row 1 = M₁ - M₂ - M₃
                    m0, m1 = M[q, o, start:stop], M[4 + q, o, start:stop]
                    m2, m3 = M[8 + q, o, start:stop], M[12 + q, o, start:stop]
                    first, second = rows[0, q], rows[1, q]
                    for j in range(tiles_w):
                        first[j] = m0[j] + m1[j] + m2[j]
                        second[j] = m1[j] - m2[j] - m3[j]
                for r in range(2):   # (Aᵀ M) A: the same combinations of columns
                    out = y[b, o, 2 * i + r]
                    c0, c1, c2, c3 = rows[r, 0], rows[r, 1], rows[r, 2], rows[r, 3]
                    for j in range(tiles_w):
                        out[2 * j] = c0[j] + c1[j] + c2[j] + extra
                        out[2 * j + 1] = c1[j] - c2[j] - c3[j] + extra


@njit(cache=True, nogil=True)
def _grad_transform(dy, dM, tiles_h, tiles_w, u, v):
    """dM[:, o, t] = A (∂L/∂Y)_t Aᵀ for each 2×2 tile of dy (B, O, 2·th, 2·tw)."""
    batch, out_channels = dy.shape[0], dy.shape[1]
    # A g has rows g₀, g₀ + g₁, g₀ - g₁, -g₁ (g₀, g₁ the tile's two rows); u, v (4, tw) are
    # its columns (from the even and odd columns of dy), for a row of tiles at once
    for b in range(batch):
        for o in range(out_channels):
            for i in range(tiles_h):
                start = (b * tiles_h + i) * tiles_w
                stop = start + tiles_w
                top, bottom = dy[b, o, 2 * i], dy[b, o, 2 * i + 1]
                u0, u1, u2, u3 = u[0], u[1], u[2], u[3]
                v0, v1, v2, v3 = v[0], v[1], v[2], v[3]
                for j in range(tiles_w):
                    g00, g01 = top[2 * j], top[2 * j + 1]
                    g10, g11 = bottom[2 * j], bottom[2 * j + 1]
                    u0[j], v0[j] = g00, g01
                    u1[j], v1[j] = g00 + g10, g01 + g11
                    u2[j], v2[j] = g00 - g10, g01 - g11
                    u3[j], v3[j] = -g10, -g11
                for k in range(4):   # (A g) Aᵀ: columns u, u + v, u - v, -v
                    uk, vk = u[k], v[k]
                    d0, d1 = dM[4 * k, o, start:stop], dM[4 * k + 1, o, start:stop]
                    d2, d3 = dM[4 * k + 2, o, start:stop], dM[4 * k + 3, o, start:stop]
                    for j in range(tiles_w):
                        d0[j] = uk[j]
                        d1[j] = uk[j] + vk[j]
                        d2[j] = uk[j] - vk[j]
                        d3[j] = -vk[j]


def _kernel_transform(xp, weight):
    """U = G g Gᵀ for every (o, c): (16, O, C), formed in float64 and rounded once."""
    g = xp.asarray(G, dtype=xp.float64)
    u = xp.einsum("ka,ocab,lb->kloc", g, weight.astype(xp.float64), g, optimize=True)
    return u.reshape(16, weight.shape[0], weight.shape[1]).astype(weight.dtype)


def _transformed_input(xp, x, window, tiles, stamp=None, reuse=False):
    """V (16, C, T) in a workspace, stamped for the weight gradient."""
    batch, channels = x.shape[:2]
    shape = (16, channels, batch * tiles[0] * tiles[1])
    purpose = ("winograd-V", window)
    if reuse and stamp is not None:
        held = workspace.owned_by(xp, purpose, shape, x.dtype, stamp)
        if held is not None:
            return held
    V = workspace.get(xp, purpose, shape, x.dtype)
    d = _padded_input(xp, x, window, tiles)
    half = d.shape[3] // 2
    _input_transform(d, V, *tiles, xp.empty((4, half), x.dtype), xp.empty((4, half), x.dtype))
    workspace.stamp(xp, purpose, shape, x.dtype, stamp)
    return V


def forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias, (B, O, Ho, Wo), by F(2×2, 3×3)."""
    tiles = _tiles(window)
    out_channels = weight.shape[0]
    V = _transformed_input(xp, x, window, tiles, stamp)
    M = workspace.get(xp, ("winograd-M", window, out_channels),
                      (16, out_channels, V.shape[2]), x.dtype)
    xp.matmul(_kernel_transform(xp, weight), V, out=M)
    ho, wo = window.out_size
    whole = (x.shape[0], out_channels, 2 * tiles[0], 2 * tiles[1])
    exact = whole[2:] == (ho, wo)
    y = xp.empty(whole, x.dtype) if exact else workspace.get(xp, "winograd-y", whole, x.dtype)
    no_bias = xp.zeros(1, dtype=x.dtype)
    _output_transform(M, y, no_bias if bias is None else bias, bias is not None, *tiles,
                      xp.empty((2, 4, tiles[1]), x.dtype))
    return y if exact else y[:, :, :ho, :wo].copy()


def input_grad(xp, grad, weight, window):
    """∂L/∂x (B, C, H, W): the forward pass on ∂L/∂y padded by 2 - p, with the kernel turned
    by 180° and its channel axes swapped."""
    top, bottom, left, right = window.padding
    turned = xp.ascontiguousarray(xp.flip(weight, axis=(2, 3)).transpose(1, 0, 2, 3))
    full = window._replace(in_size=tuple(grad.shape[2:]),
                           padding=(2 - top, 2 - bottom, 2 - left, 2 - right))
    return forward(xp, grad, turned, None, full)


def weight_grad(xp, x, grad, window, stamp=None):
    """∂L/∂g (O, C, 3, 3) = Gᵀ (Σ_t A (∂L/∂Y)_t Aᵀ ⊗ V_t) G."""
    tiles = _tiles(window)
    out_channels = grad.shape[1]
    V = _transformed_input(xp, x, window, tiles, stamp, reuse=True)
    dM = workspace.get(xp, ("winograd-dM", window, out_channels),
                       (16, out_channels, V.shape[2]), x.dtype)
    whole = grad.shape[:2] + (2 * tiles[0], 2 * tiles[1])
    if whole != grad.shape:   # zeros below and right, to whole tiles
        padded = workspace.get(xp, ("winograd-dy", grad.shape), whole, grad.dtype, fill=0)
        padded[:, :, :grad.shape[2], :grad.shape[3]] = grad
        grad = padded
    _grad_transform(grad, dM, *tiles, xp.empty((4, tiles[1]), x.dtype),
                    xp.empty((4, tiles[1]), x.dtype))
    dU = xp.matmul(dM, V.transpose(0, 2, 1)).reshape(4, 4, out_channels, x.shape[1])
    g = xp.asarray(G, dtype=xp.float64)
    dw = xp.einsum("ka,klOC,lb->OCab", g, dU.astype(xp.float64), g, optimize=True)
    return xp.ascontiguousarray(dw.astype(x.dtype))   # (O·C·16 values: cheap in float64)
