"""Layer and batch normalisation in one pass per statistic (numba).

numpy spends a pass per elementwise step (mean, subtract, square, mean, rsqrt, multiply,
add: seven over the whole tensor, each with a temporary). Here a row (layer norm) or a
channel (batch norm) is read twice for its mean and variance and once more to write y;
the backward reads x and g twice. Sums are kept in float64, whatever the input's dtype.
The sums may be reordered (``reassoc``: that is what lets them run in SIMD lanes, 4× faster
here), but NaN and inf keep their meaning (no ``nnan``/``ninf``), and a division by zero
(ε = 0 over constant values) gives inf, as in numpy, not Python's ZeroDivisionError.
"""
import math

from numba import njit

from .threads import split

_FAST = {"reassoc", "contract", "arcp"}


# error_model="numpy": ε = 0 on a constant row (or an empty row) gives 1/0 = inf and 0/0 =
# NaN, as in PyTorch, instead of Python's ZeroDivisionError
@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def layer_norm_forward(x, weight, bias, eps, y, mean, rstd):
    """y = (x - μ)·r·γ + β per row of x (rows, n), r = 1/√(σ² + ε); fills y, mean, rstd."""
    rows, n = x.shape
    for row in range(rows):
        total = 0.0
        for j in range(n):
            total += x[row, j]
        mu = total / n
        # Σ(x - μ) rides along with the squares and corrects μ by its mean: total/n of a
        # row of one value can be an ulp off that value, and (x - μ)·r·γ would turn that
        # ulp into a number (1e18 for γ = 1e30) where PyTorch's mean is the value exactly
        squares = 0.0
        residue = 0.0
        for j in range(n):
            d = x[row, j] - mu
            residue += d
            squares += d * d
        shift = residue / n
        if not math.isfinite(shift):
            shift = 0.0     # inf or NaN in the row: μ stays total/n, as before the correction
        mu += shift
        r = 1.0 / math.sqrt(max(squares / n - shift * shift, 0.0) + eps)
        if squares == math.inf:
            # the squares overflowed (float64 values beyond 1e154), not σ: with s = max |x - μ|,
            # r = 1/(s·√(mean(((x - μ)/s)²) + ε/s²)), whose squares stay below 1
            s = 0.0
            for j in range(n):
                s = max(s, abs(x[row, j] - mu))
            squares = 0.0
            for j in range(n):
                d = (x[row, j] - mu) / s
                squares += d * d
            r = 1.0 / (s * math.sqrt(squares / n + eps / (s * s)))
        mean[row] = mu
        rstd[row] = r
        for j in range(n):
            y[row, j] = (x[row, j] - mu) * r * weight[j] + bias[j]


# no ``contract`` backwards: a fused g·γ - mean(h) would subtract the rounded product from the
# exact one, and a row of one value (h - mean(h) = 0 exactly) would get that residue
@njit(cache=True, nogil=True, fastmath=_FAST - {"contract"}, error_model="numpy")
def layer_norm_backward(g, x, weight, mean, rstd, dx, dw, db):
    """dx = r·(h - mean(h) - x̂·mean(h·x̂)), h = g·γ, x̂ = (x - μ)·r, per row;
    dw = Σ_rows g·x̂ and db = Σ_rows g (float64 sums, written into dw, db)."""
    rows, n = x.shape
    for row in range(rows):
        mu, r = mean[row], rstd[row]
        sum_h = 0.0
        sum_hx = 0.0
        for j in range(n):
            xhat = (x[row, j] - mu) * r
            h = g[row, j] * weight[j]
            sum_h += h
            sum_hx += h * xhat
            dw[j] += g[row, j] * xhat
            db[j] += g[row, j]
        mean_h, mean_hx = sum_h / n, sum_hx / n
        if not math.isfinite(sum_h):
            # an infinite h (an inf weight or incoming gradient): the terms above meet ∞ - ∞
            # in an order of their own; PyTorch folds them into two numbers per row,
            # dx = r·h + b·x + c with b = (μ·Σh - Σh·x)·r³/n and c = -b·μ - r·Σh/n, so
            # its ±inf and NaN fall where these give them
            sum_hx = 0.0
            for j in range(n):
                sum_hx += g[row, j] * weight[j] * x[row, j]
            b = (sum_h * mu - sum_hx) * r * r * r / n
            c = -b * mu - sum_h * r / n
            for j in range(n):
                dx[row, j] = r * (g[row, j] * weight[j]) + b * x[row, j] + c
            continue
        for j in range(n):
            xhat = (x[row, j] - mu) * r
            dx[row, j] = r * (g[row, j] * weight[j] - mean_h - xhat * mean_hx)


# Batch norm's kernels are each a loop over a range of channels (or of images) written once,
# run whole by the serial kernel and split into ``chunks`` ranges, one per thread, by the
# ``_split`` one (``threads.chunks`` picks which; see threads.py).
@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _channel_statistics_range(first, stop, x, mean, var):
    batch, channels, size = x.shape
    count = batch * size
    for c in range(first, stop):
        total = 0.0
        for b in range(batch):
            for s in range(size):
                total += x[b, c, s]
        mu = total / count
        squares = 0.0
        for b in range(batch):
            for s in range(size):
                d = x[b, c, s] - mu
                squares += d * d
        mean[c] = mu
        var[c] = squares / count


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def channel_statistics(x, mean, var):
    """The mean and the biased variance of each channel of x (N, C, S), over N and S."""
    _channel_statistics_range(0, x.shape[1], x, mean, var)


def channel_statistics_split(chunks, x, mean, var):
    """``channel_statistics`` with the channels split into ``chunks`` ranges run at once."""
    split(_channel_statistics_range, x.shape[1], chunks, x, mean, var)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _scale_and_shift_range(first, stop, x, scale, shift, y):
    batch, channels, size = x.shape
    for b in range(first, stop):
        for c in range(channels):
            a, t = scale[c], shift[c]
            for s in range(size):
                y[b, c, s] = x[b, c, s] * a + t


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def scale_and_shift(x, scale, shift, y):
    """y = x·scale_c + shift_c for x (N, C, S): batch norm's last pass, in one."""
    _scale_and_shift_range(0, x.shape[0], x, scale, shift, y)


def scale_and_shift_split(chunks, x, scale, shift, y):
    """``scale_and_shift`` with the images split into ``chunks`` ranges run at once."""
    split(_scale_and_shift_range, x.shape[0], chunks, x, scale, shift, y)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _batch_norm_backward_range(first, stop, g, x, mean, rstd, weight, training, dx, dw, db):
    batch, channels, size = x.shape
    count = batch * size
    for c in range(first, stop):
        mu, r = mean[c], rstd[c]
        sum_g = 0.0
        sum_gx = 0.0
        for b in range(batch):
            for s in range(size):
                sum_g += g[b, c, s]
                sum_gx += g[b, c, s] * (x[b, c, s] - mu) * r
        dw[c] = sum_gx
        db[c] = sum_g
        k = r * weight[c]
        mean_g, mean_gx = sum_g / count, sum_gx / count
        for b in range(batch):
            for s in range(size):
                if training:
                    dx[b, c, s] = k * (g[b, c, s] - mean_g - (x[b, c, s] - mu) * r * mean_gx)
                else:
                    dx[b, c, s] = k * g[b, c, s]


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def batch_norm_backward(g, x, mean, rstd, weight, training, dx, dw, db):
    """Per channel: dw = Σ g·x̂, db = Σ g, and dx = r·γ·(g - db/m - x̂·dw/m) in training
    (m = N·S elements; μ and σ² depend on x), dx = r·γ·g with fixed statistics."""
    _batch_norm_backward_range(0, x.shape[1], g, x, mean, rstd, weight, training, dx, dw, db)


def batch_norm_backward_split(chunks, g, x, mean, rstd, weight, training, dx, dw, db):
    """``batch_norm_backward`` with the channels split into ``chunks`` ranges run at once."""
    split(_batch_norm_backward_range, x.shape[1], chunks, g, x, mean, rstd, weight, training,
          dx, dw, db)
