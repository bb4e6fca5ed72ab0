"""Winograd's F(2×2, 3×3): a 3×3 convolution (stride 1, no dilation, one group) with 2.25×
fewer multiplications than im2col + GEMM.

Cut the output into 2×2 tiles. Each tile depends on a 4×4 patch d of the padded input, and

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          (g the 3×3 kernel, ⊙ elementwise)

with the constant matrices below. Summed over input channels, the ⊙ becomes 16 matrix
products, one per position k of the 4×4 transformed tile:

    U = G g Gᵀ      (16, C, O)   the kernel, transformed once per call
    V = Bᵀ d B      (16, T, C)   every input patch of a chunk of images (T tiles), a numba loop
    M = V @ U       (16, T, O)   16 GEMMs of the same shape: one batched matmul
    Y = Aᵀ M A                   back to 2×2 output tiles, a numba loop

4·4 = 16 multiplications per tile and channel pair where the direct form needs 2·2·9 = 36.
The two gradients are the same machinery:

* ∂L/∂x is the full correlation of ∂L/∂y with the kernel turned by 180° and its channel
  axes swapped: a forward pass of this file on ∂L/∂y padded by 2 - p;
* ∂L/∂g: Y = Aᵀ M A gives ∂L/∂M = A (∂L/∂Y) Aᵀ per tile (a numba loop), M = V @ U gives
  ∂L/∂U = Vᵀ @ ∂L/∂M (one batched matmul per chunk, summed over the chunks), and
  U = G g Gᵀ gives ∂L/∂g = Gᵀ (∂L/∂U) G.

Layout, which decides the speed. The channels are the last axis of V and M (tiles × channels
matrices): OpenBLAS ran the 16 products (T, C) @ (C, O) of one 32×32 image (T = 256,
C = O = 32) at 107 GFLOP/s on the AMD EPYC (1 thread), where the (O, C) @ (C, T)
orientation over a whole batch's tiles ran at 50. The numba loops therefore first lay an
image out with its channels last (``_channels_last``), its even and odd columns apart, so
that every transform is a few flat loops over whole rows of tiles, tiles × channels values
each, that the compiler vectorises (on unsigned indices: see im2col.py); the output loop
writes the result back in (O, H, W) order. A chunk is a few images, one, or a block of one
image's rows of tiles, as many tiles as keep its V and M within ``CHUNK_BYTES``: they stay
in the core's cache from the transform to the product that reads them. With several
threads each takes a share of the batch (batch_split.py), as im2col + GEMM does, and the
kernel's transforms run with OpenBLAS on one thread: a product on its threads would leave
one spinning for milliseconds on the core a share needs (a 128→128 forward on 16×16,
batch 32, 2 threads: 17 ms with the transform's product on two threads, 10 without).

Accuracy. Every coefficient of A, B and G is 0, ±1 or ±1/2; V and the output each take
two additions per dimension, U is formed in float64 and rounded once, so the computed ŷ
satisfies (ε the unit roundoff, 2⁻²⁴ in float32; γ_n = nε/(1 - nε))

    |ŷ - y| ≤ γ_{C+12} · ỹ,   ỹ = the same algorithm run on |x| and |g| with |A|, |B|, |G|,

and ỹ ≤ 16 · Σ_c Σ_{a,b} |g_c[a,b]| · max |x_c over the 4×4 patch| (each dimension of the
transforms can weigh an input by up to 4 where the direct sum weighs it by 1): the
error of a direct sum, γ_{9C}·Σ|g||x|, times a small constant, with no growth in C
beyond the GEMM's own. The weight gradient sums over the T tiles of the batch instead of
the C channels (within a chunk in the product, then chunk by chunk): γ_{T+12} with the
same ỹ construction. tests/kernels/test_winograd.py checks both bounds on random inputs.

Infinities. An infinite input meets itself with both signs in the transforms' sums
(inf - inf is NaN), and values near the dtype's largest can overflow in a sum of four where
the direct sum stays finite. So a pass that ends with any value not finite returns None,
and conv.py computes it again by im2col + GEMM, whose ±inf and NaN are PyTorch's. Checking
costs nothing measurable: the output loop looks at every value it writes anyway.

Where it runs: ``chosen`` (the passes in ``PASSES``, for shapes with at least
``min_channels()`` channels each way: 16 where OpenBLAS runs its AVX-512 kernels, 64 with
its AVX2 ones); see PASSES for the measurements.
"""
from numba import njit, uint64

from . import batch_split, blas_threads, workspace

# The transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
A_T = ((1, 1, 1, 0), (0, 1, -1, -1))


# Which passes of a convolution run here when ``suits`` says they can. Measured on the idle
# 2-core AMD EPYC (AVX-512, numpy's OpenBLAS; ms, im2col + GEMM / Winograd, forward and
# both gradients; median of 7 rounds of the best of 5 calls):
#
#   layer, batch                1 thread: forward   gradients    2 threads: forward  gradients
#   32→32 on 32×32, 32                    8.7 / 5.5  17.7 / 12.2             4.6 / 3.3  10.2 / 7.2
#   32→64 on 16×16, 64                    8.8 / 5.0  15.3 / 10.9             4.5 / 2.7   7.8 / 7.0
#   64→128 on 8×8, 64                     7.0 / 4.1  14.1 /  9.1             3.8 / 2.6   7.4 / 5.9
#   128→128 on 16×16, 32                 28.9 / 17.2 52.6 / 36.3            14.8 / 9.6  26.9 / 19.9
#   16→16 on 32×32, 32                    2.3 / 2.1   6.8 /  4.6             1.6 / 1.6   3.8 / 3.0
#   8→16 on 32×32, 8                      0.5 / 0.5   0.9 /  1.0             0.3 / 0.5   0.7 / 1.0
#
# One loss above MIN_CHANNELS: 128→128 on 16×16 with a batch of 8, gradients at 2 threads,
# 6.9 / 7.2 (its forward 3.9 / 3.4). Winograd moves more data per multiplication than im2col,
# so it gains less on a machine whose caches other jobs share: in a busier hour of the same
# VM the 32→32 layer gave 8.8 / 7.1 and 19.8 / 15.1 at 1 thread (im2col unchanged).
#
# With OpenBLAS's AVX2 kernels (Haswell's, ``OPENBLAS_CORETYPE=Haswell`` on the same machine,
# numba compiling for haswell) the small products run at 71-80 GFLOP/s where im2col's run at
# 93, and Winograd loses where a side has 32 channels: 32→32 on 32×32, gradients 16.8 / 18.6
# at 1 thread and 10.3 / 13.3 at 2; 32→64 on 16×16, batch 64, 8.3 / 11.1 at 2 threads. From
# 64 channels it wins: 64→64 on 16×16, batch 32, 14.9 / 12.4 and 7.5 / 7.5; 64→128 on 8×8
# 15.2 / 11.4 and 8.5 / 7.3; 128→128 on 16×16 53.6 / 40.9 and 25.9 / 21.4. Hence two
# thresholds, by the kernels OpenBLAS runs (``min_channels``).
PASSES = {"forward": True, "input_grad": True, "weight_grad": True}
MIN_CHANNELS = 16        # with OpenBLAS's AVX-512 kernels: below this many channels, im2col
MIN_CHANNELS_AVX2 = 64   # with its AVX2 kernels, or another BLAS
AVX512_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")
CHUNK_BYTES = 2**20   # V and M of a chunk: what stays in a core's L2 cache


def suits(xp, x, window, in_channels, out_channels):
    """True for the convolutions this file can compute: numpy arrays of float32/float64, a
    3×3 kernel, stride 1, dilation 1, one group, every padding at most 2."""
    return (xp.numba_cpu and x.dtype.kind == "f" and x.dtype.itemsize >= 4
            and window.kernel == (3, 3) and window.stride == (1, 1)
            and window.dilation == (1, 1) and window.groups == 1
            and all(0 <= p <= 2 for p in window.padding))


def min_channels():
    """The fewest channels each way a convolution needs to run here: MIN_CHANNELS where
    numpy's OpenBLAS runs its AVX-512 kernels, MIN_CHANNELS_AVX2 elsewhere."""
    return MIN_CHANNELS if blas_threads.core_name() in AVX512_KERNELS else MIN_CHANNELS_AVX2


def chosen(part, xp, x, window, in_channels, out_channels):
    """True where ``part`` ("forward", "input_grad", "weight_grad") of this convolution
    should run here rather than by im2col + GEMM."""
    return (PASSES[part] and suits(xp, x, window, in_channels, out_channels)
            and min(in_channels, out_channels) >= min_channels())


# -- flat loops on unsigned offsets -------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _difference(out, start, a, a_start, b, b_start, length):
    """out[start + k] = a[a_start + k] - b[b_start + k] for k < length."""
    o, s, t = uint64(start), uint64(a_start), uint64(b_start)
    for k in range(uint64(length)):
        out[o + k] = a[s + k] - b[t + k]


@njit(cache=True, nogil=True, inline="always")
def _sum(out, start, a, a_start, b, b_start, length):
    """out[start + k] = a[a_start + k] + b[b_start + k] for k < length."""
    o, s, t = uint64(start), uint64(a_start), uint64(b_start)
    for k in range(uint64(length)):
        out[o + k] = a[s + k] + b[t + k]


@njit(cache=True, nogil=True, inline="always")
def _sum_of_three(out, start, a, b, c, source_start, length):
    """out[start + k] = a[i] + b[i] + c[i], i = source_start + k, for k < length."""
    o, s = uint64(start), uint64(source_start)
    for k in range(uint64(length)):
        out[o + k] = a[s + k] + b[s + k] + c[s + k]


@njit(cache=True, nogil=True, inline="always")
def _first_less_two(out, start, a, b, c, source_start, length):
    """out[start + k] = a[i] - b[i] - c[i], i = source_start + k, for k < length."""
    o, s = uint64(start), uint64(source_start)
    for k in range(uint64(length)):
        out[o + k] = a[s + k] - b[s + k] - c[s + k]


@njit(cache=True, nogil=True, inline="always")
def _sum_of_three_and(out, a, b, c, d, length):
    """out[k] = a[k] + b[k] + c[k] + d[k] for k < length."""
    for k in range(uint64(length)):
        out[k] = a[k] + b[k] + c[k] + d[k]


@njit(cache=True, nogil=True, inline="always")
def _first_less_two_and(out, a, b, c, d, length):
    """out[k] = a[k] - b[k] - c[k] + d[k] for k < length."""
    for k in range(uint64(length)):
        out[k] = a[k] - b[k] - c[k] + d[k]


@njit(cache=True, nogil=True, inline="always")
def _largest_exponent(bits, exponent, largest):
    """max(largest, bits[k] & exponent over k): integer maxima, which the compiler vectorises
    (a float sum that turns NaN would be one long chain of additions)."""
    for k in range(uint64(bits.size)):
        largest = max(largest, bits[k] & exponent)
    return largest


@njit(cache=True, nogil=True, inline="always")
def _negated(out, start, a, a_start, length):
    """out[start + k] = -a[a_start + k] for k < length."""
    o, s = uint64(start), uint64(a_start)
    for k in range(uint64(length)):
        out[o + k] = -a[s + k]


# -- the transforms ---------------------------------------------------------------------------
# Each loop below runs over a chunk of tiles: the tile rows first_row <= i < last_row of the
# images first <= n < last, tile (n, i, j) at t = ((n - first)·R + i - first_row)·tw + j in
# V, M and ∂L/∂M (R = last_row - first_row rows of tiles per image).

@njit(cache=True, nogil=True)
def _channels_last(x, n, first_row, last_row, top, left, parted):
    """parted[(w + left) % 2, h + top, (w + left) // 2, c] = x[n, c, h, w] for the rows h of
    x that the padded rows first_row <= h + top < last_row hold: image n with its channels
    last and its (padded) even and odd columns apart. Nothing else is written, so a buffer
    that started as zeros keeps its padding."""
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    for h in range(max(first_row - top, 0), min(last_row - top, height)):
        even, odd = parted[0, h + top], parted[1, h + top]
        for c in range(channels):
            row = x[n, c, h]
            for w in range(width):
                column = w + left
                if column % 2 == 0:
                    even[column // 2, c] = row[w]
                else:
                    odd[column // 2, c] = row[w]


@njit(cache=True, nogil=True)
def _input_transform(x, first, last, first_row, last_row, top, left, parted, rows, V):
    """V[k, t, c] = (Bᵀ d B)[k] for the 4×4 patch d of x[n, c] at tile t of the chunk.
    ``parted`` (2, 2·th + 2, tw + 1, C) holds an image (``_channels_last``, zero padding);
    ``rows`` (2, 4, (tw + 1)·C) holds Bᵀ d for a row of tiles, at the even and the odd
    columns."""
    channels = x.shape[1]
    tiles_w = parted.shape[2] - 1
    width = parted.shape[2] * channels   # a parted row: (tw + 1)·C values
    run = tiles_w * channels             # a row of tiles in V: tw·C values
    flat = V.reshape(16, -1)
    t = 0
    for n in range(first, last):
        _channels_last(x, n, 2 * first_row, 2 * last_row + 2, top, left, parted)
        for i in range(first_row, last_row):
            for p in range(2):   # Bᵀ d: rows 0 - 2, 1 + 2, 2 - 1, 1 - 3
                d0, d1 = parted[p, 2 * i].reshape(-1), parted[p, 2 * i + 1].reshape(-1)
                d2, d3 = parted[p, 2 * i + 2].reshape(-1), parted[p, 2 * i + 3].reshape(-1)
                _difference(rows[p, 0], 0, d0, 0, d2, 0, width)
                _sum(rows[p, 1], 0, d1, 0, d2, 0, width)
                _difference(rows[p, 2], 0, d2, 0, d1, 0, width)
                _difference(rows[p, 3], 0, d1, 0, d3, 0, width)
            start = t * channels
            for a in range(4):   # (Bᵀ d) B: columns 0 - 2, 1 + 2, 2 - 1, 1 - 3; tile j's columns
                even, odd = rows[0, a], rows[1, a]   # are even[j], odd[j], even[j + 1], odd[j + 1]
                _difference(flat[4 * a], start, even, 0, even, channels, run)
                _sum(flat[4 * a + 1], start, odd, 0, even, channels, run)
                _difference(flat[4 * a + 2], start, even, channels, odd, 0, run)
                _difference(flat[4 * a + 3], start, odd, 0, odd, channels, run)
            t += tiles_w


@njit(cache=True, nogil=True)
def _output_transform(M, first, last, first_row, last_row, bias_run, rows, parted, bits, exponent,
                      y):
    """y[n, o] at tile t of the chunk = Aᵀ M[:, t, o] A + bias[o]; ``bias_run`` (tw·O) is
    the bias for a row of tiles, channels last. ``rows`` (2, 4, tw·O) holds Aᵀ M for a row of
    tiles; ``parted`` (2, 2·th, tw, O) an image's output, channels last, even and odd columns
    apart, and ``bits`` the same memory as integers of its width. Returns False if a value
    is ±inf or NaN: its exponent bits, ``exponent``, all set."""
    out_channels = M.shape[2]
    height, width = y.shape[2], y.shape[3]
    tiles_w = parted.shape[2]
    run = tiles_w * out_channels
    flat = M.reshape(16, -1)
    largest = exponent & 0   # the largest exponent field seen (an integer of bits' type)
    t = 0
    for n in range(first, last):
        for i in range(first_row, last_row):
            start = t * out_channels
            for b in range(4):   # Aᵀ M: row 0 = M₀ + M₁ + M₂, row 1 = M₁ - M₂ - M₃
                _sum_of_three(rows[0, b], 0, flat[b], flat[4 + b], flat[8 + b], start, run)
                _first_less_two(rows[1, b], 0, flat[4 + b], flat[8 + b], flat[12 + b], start, run)
            for r in range(2):   # (Aᵀ M) A: the same combinations of columns, and the bias
                m0, m1, m2, m3 = rows[r, 0], rows[r, 1], rows[r, 2], rows[r, 3]
                _sum_of_three_and(parted[0, 2 * i + r].reshape(-1), m0, m1, m2, bias_run, run)
                _first_less_two_and(parted[1, 2 * i + r].reshape(-1), m1, m2, m3, bias_run, run)
                for p in range(2):
                    largest = _largest_exponent(bits[p, 2 * i + r].reshape(-1), exponent, largest)
            t += tiles_w
        for o in range(out_channels):   # back to (O, H, W)
            for h in range(2 * first_row, min(2 * last_row, height)):
                even, odd = parted[0, h], parted[1, h]
                target = y[n, o, h]
                for w in range(width):
                    target[w] = even[w // 2, o] if w % 2 == 0 else odd[w // 2, o]
    return largest != exponent


@njit(cache=True, nogil=True)
def _grad_transform(dy, first, last, first_row, last_row, parted, rows, dM):
    """dM[:, t, o] = A (∂L/∂Y)_t Aᵀ for the 2×2 tile t of the chunk in dy[n, o] (zeros past
    its edge). ``parted`` (2, 2·th, tw, O) starts as zeros; ``rows`` (2, 4, tw·O) holds
    A g for a row of tiles, at the even and the odd columns."""
    out_channels = dy.shape[1]
    tiles_w = parted.shape[2]
    run = tiles_w * out_channels
    flat = dM.reshape(16, -1)
    t = 0
    for n in range(first, last):
        _channels_last(dy, n, 2 * first_row, 2 * last_row, 0, 0, parted)
        for i in range(first_row, last_row):
            for p in range(2):   # A g: rows g₀, g₀ + g₁, g₀ - g₁, -g₁ (g₀, g₁ the tile's rows)
                g0, g1 = parted[p, 2 * i].reshape(-1), parted[p, 2 * i + 1].reshape(-1)
                rows[p, 0, :] = g0
                _sum(rows[p, 1], 0, g0, 0, g1, 0, run)
                _difference(rows[p, 2], 0, g0, 0, g1, 0, run)
                _negated(rows[p, 3], 0, g1, 0, run)
            start = t * out_channels
            for a in range(4):   # (A g) Aᵀ: columns u, u + v, u - v, -v (u, v: even, odd)
                u, v = rows[0, a], rows[1, a]
                flat[4 * a, start:start + run] = u
                _sum(flat[4 * a + 1], start, u, 0, v, 0, run)
                _difference(flat[4 * a + 2], start, u, 0, v, 0, run)
                _negated(flat[4 * a + 3], start, v, 0, run)
            t += tiles_w


def _kernel_transform(xp, weight):
    """U = G g Gᵀ for every (c, o): (16, C, O), formed in float64 and rounded once."""
    g = xp.asarray(G, dtype=xp.float64)
    # on one thread: a product on OpenBLAS's threads leaves one of them spinning, on the core
    # that a share of the batch needs next
    with blas_threads.one_thread(), _overflow_told_by_the_result(xp):
        u = xp.einsum("ka,ocab,lb->klco", g, weight.astype(xp.float64), g, optimize=True)
        return xp.ascontiguousarray(u.reshape(16, weight.shape[1], weight.shape[0])
                                    .astype(weight.dtype))


# -- the passes -------------------------------------------------------------------------------
def _tiles(window):
    ho, wo = window.out_size
    return (ho + 1) // 2, (wo + 1) // 2


def _chunk_budget(channels, out_channels, itemsize):
    """The most tiles whose V and M fit in CHUNK_BYTES (at least one)."""
    return max(1, CHUNK_BYTES // (16 * (channels + out_channels) * itemsize))


def _chunks(start, stop, tiles_h, tiles_w, budget):
    """(first, last, first_row, last_row, tiles) of each chunk of the images [start, stop): whole
    images, as many as hold at most ``budget`` tiles, or, for a larger image, its rows of
    tiles in blocks of at most that many (at least one row)."""
    per_image = tiles_h * tiles_w
    if per_image <= budget:
        size = budget // per_image
        return [(first, min(first + size, stop), 0, tiles_h, (min(first + size, stop) - first) * per_image)
                for first in range(start, stop, size)]
    rows = max(1, budget // tiles_w)
    return [(n, n + 1, row, min(row + rows, tiles_h), (min(row + rows, tiles_h) - row) * tiles_w)
            for n in range(start, stop) for row in range(0, tiles_h, rows)]


def _chunk_tiles(tiles_h, tiles_w, budget):
    """The most tiles a chunk of ``_chunks`` holds."""
    per_image = tiles_h * tiles_w
    if per_image <= budget:
        return budget // per_image * per_image
    return min(tiles_h, max(1, budget // tiles_w)) * tiles_w


def _view(flat, shape):
    size = 1
    for n in shape:
        size *= n
    return flat[:size].reshape(shape)


# A float's exponent field, as an integer of its width: all ones for ±inf and NaN.
_EXPONENT_BITS = {4: lambda xp: xp.int32(0x7F800000), 8: lambda xp: xp.int64(0x7FF0000000000000)}


def _overflow_told_by_the_result(xp):
    """numpy's overflow and invalid warnings off: a pass whose result is not finite is done
    again by im2col + GEMM (see "Infinities"), which warns where it should. (The error state
    is per thread: each share of the batch sets its own.)"""
    return xp.errstate(over="ignore", invalid="ignore")


def _parted(xp, purpose, part, shape, dtype):
    """A zero-filled buffer for one image, channels last (``_channels_last``), per share of
    the batch: only the region of the image is ever written (the key fixes it), so the
    padding stays 0."""
    return workspace.get(xp, (purpose, part), shape, dtype, fill=0)


def forward(xp, x, weight, bias, window, stamp=None):
    """y = conv(x, weight) + bias, (B, O, Ho, Wo), by F(2×2, 3×3); None if a value of y is not
    finite (see "Infinities" above). (``stamp``: unused.)"""
    th, tw = _tiles(window)
    tiles = th * tw
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    top, left = window.padding[0], window.padding[2]
    U = _kernel_transform(xp, weight)
    y = xp.empty((batch, out_channels) + tuple(window.out_size), x.dtype)
    bias_run = (xp.zeros(tw * out_channels, x.dtype) if bias is None
                else xp.ascontiguousarray(xp.tile(bias.astype(x.dtype, copy=False), tw)))
    exponent = _EXPONENT_BITS[x.dtype.itemsize](xp)
    budget = _chunk_budget(channels, out_channels, x.dtype.itemsize)
    per_chunk = _chunk_tiles(th, tw, budget)
    multiply_adds = batch * tiles * 16 * channels * out_channels
    parts = batch_split.concurrent_parts(xp, x, multiply_adds)
    key = (window.in_size, window.padding, channels, out_channels)
    buffers = [(_parted(xp, ("winograd-input", key), part, (2, 2 * th + 2, tw + 1, channels),
                        x.dtype),
                batch_split.scratch(xp, "winograd-rows", part, (2, 4, (tw + 1) * channels), x.dtype),
                batch_split.scratch(xp, "winograd-V", part, (16 * per_chunk * channels,), x.dtype),
                batch_split.scratch(xp, "winograd-M", part, (16 * per_chunk * out_channels,), x.dtype),
                batch_split.scratch(xp, "winograd-output-rows", part, (2, 4, tw * out_channels),
                                    x.dtype),
                batch_split.scratch(xp, "winograd-output", part, (2, 2 * th, tw, out_channels),
                                    x.dtype)) for part in range(parts)]

    finite = [True] * parts

    def share(part, start, stop):
        parted, rows, V_flat, M_flat, out_rows, out_parted = buffers[part]
        bits = out_parted.view(exponent.dtype)
        for first, last, first_row, last_row, count in _chunks(start, stop, th, tw, budget):
            V = _view(V_flat, (16, count, channels))
            M = _view(M_flat, (16, count, out_channels))
            _input_transform(x, first, last, first_row, last_row, top, left, parted, rows, V)
            with _overflow_told_by_the_result(xp):
                xp.matmul(V, U, out=M)
            if not _output_transform(M, first, last, first_row, last_row, bias_run, out_rows,
                                     out_parted, bits, exponent, y):
                finite[part] = False

    batch_split.run(parts, batch, share, one_blas_thread=True)
    return y if all(finite) else None


def input_grad(xp, grad, weight, window):
    """∂L/∂x (B, C, H, W): the forward pass on ∂L/∂y padded by 2 - p, with the kernel turned
    by 180° and its channel axes swapped; None if a value is not finite."""
    top, bottom, left, right = window.padding
    turned = xp.ascontiguousarray(xp.flip(weight, axis=(2, 3)).transpose(1, 0, 2, 3))
    full = window._replace(in_size=tuple(grad.shape[2:]),
                           padding=(2 - top, 2 - bottom, 2 - left, 2 - right))
    return forward(xp, grad, turned, None, full)


def weight_grad(xp, x, grad, window, stamp=None):
    """∂L/∂g (O, C, 3, 3) = Gᵀ (Σ_t V_tᵀ ⊗ A (∂L/∂Y)_t Aᵀ) G; None if a value is not finite.
    (``stamp``: unused.)"""
    th, tw = _tiles(window)
    tiles = th * tw
    batch, channels = x.shape[:2]
    out_channels = grad.shape[1]
    top, left = window.padding[0], window.padding[2]
    budget = _chunk_budget(channels, out_channels, x.dtype.itemsize)
    per_chunk = _chunk_tiles(th, tw, budget)
    multiply_adds = batch * tiles * 16 * channels * out_channels
    parts = batch_split.concurrent_parts(xp, x, multiply_adds)
    sums = [xp.zeros((16, channels, out_channels), x.dtype) for _ in range(parts)]
    key = (window.in_size, window.padding, channels, out_channels)
    buffers = [(_parted(xp, ("winograd-input", key), part, (2, 2 * th + 2, tw + 1, channels),
                        x.dtype),
                batch_split.scratch(xp, "winograd-rows", part, (2, 4, (tw + 1) * channels), x.dtype),
                batch_split.scratch(xp, "winograd-V", part, (16 * per_chunk * channels,), x.dtype),
                _parted(xp, ("winograd-grad", key), part, (2, 2 * th, tw, out_channels), x.dtype),
                batch_split.scratch(xp, "winograd-output-rows", part, (2, 4, tw * out_channels),
                                    x.dtype),
                batch_split.scratch(xp, "winograd-M", part, (16 * per_chunk * out_channels,), x.dtype),
                batch_split.scratch(xp, "winograd-dU", part, (16, channels, out_channels), x.dtype))
               for part in range(parts)]

    def share(part, start, stop):
        parted, rows, V_flat, grad_parted, grad_rows, dM_flat, dU = buffers[part]
        total = sums[part]
        for first, last, first_row, last_row, count in _chunks(start, stop, th, tw, budget):
            V = _view(V_flat, (16, count, channels))
            dM = _view(dM_flat, (16, count, out_channels))
            _input_transform(x, first, last, first_row, last_row, top, left, parted, rows, V)
            _grad_transform(grad, first, last, first_row, last_row, grad_parted, grad_rows, dM)
            with _overflow_told_by_the_result(xp):
                xp.matmul(V.transpose(0, 2, 1), dM, out=dU)
                total += dU

    batch_split.run(parts, batch, share, one_blas_thread=True)
    dU = sums[0]
    for other in sums[1:]:
        dU += other
    g = xp.asarray(G, dtype=xp.float64)
    with blas_threads.one_thread(), _overflow_told_by_the_result(xp):   # (see _kernel_transform)
        dw = xp.einsum("ka,klco,lb->ocab", g,
                       dU.reshape(4, 4, channels, out_channels).astype(xp.float64), g, optimize=True)
        dw = xp.ascontiguousarray(dw.astype(x.dtype))   # (O·C·16 values: cheap in float64)
    return dw if bool(xp.isfinite(dw).all()) else None
