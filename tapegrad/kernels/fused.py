"""Fused kernels: normalisation, cross entropy, GELU and the LSTM/GRU gates in one pass each.

The operations in ``tapegrad/autograd/ops`` (normalization.py, loss.py, activation.py,
recurrent.py) call these with their device's array module ``xp``. float32 and float64
numpy arrays go to the numba loops of ``kernels/cpu`` (one or two passes over memory);
anything else (cupy arrays, float16) takes the array code written here with ``xp``, which
computes the same values in a few more passes.
"""
import math

from .cpu import cross_entropy as _ce, gelu as _gelu, normalization as _norm
from .cpu import recurrent_gates as _gates, threads as _threads


def _numba(xp, *arrays):
    """True when the numba loops can take these arrays (float32/float64 numpy, one dtype)."""
    if not xp.numba_cpu:
        return False
    dtype = arrays[0].dtype
    return dtype.kind == "f" and dtype.itemsize >= 4 and all(a.dtype == dtype for a in arrays)


def _or(xp, array, n, fill, dtype):
    return xp.full((n,), fill, dtype) if array is None else array


# -- layer normalisation ----------------------------------------------------------------------
def layer_norm_forward(xp, x, weight, bias, eps):
    """(y, mean, rstd) for x (rows, n) normalised per row; weight and bias (n,) or None."""
    rows, n = x.shape
    if _numba(xp, x, *(a for a in (weight, bias) if a is not None)):
        y = xp.empty(x.shape, x.dtype)
        # μ and r kept in float64 (a number per row): the backward's x̂ = (x - μ)·r then
        # carries no rounding of r, which 1 - x̂² (two values: ε/(σ² + ε)) would magnify
        mean, rstd = xp.empty(rows, xp.float64), xp.empty(rows, xp.float64)
        _norm.layer_norm_forward(x, _or(xp, weight, n, 1, x.dtype), _or(xp, bias, n, 0, x.dtype),
                                 eps, y, mean, rstd)
        return y, mean, rstd
    mean = x.mean(axis=1, keepdims=True)
    d = x - mean
    # the mean of d corrects μ (as in the numba loop): a row of one value then has μ equal
    # to that value exactly, and d = 0, not an ulp that γ = 1e30 would make 1e18
    shift = d.mean(axis=1, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)
    mean += shift
    d -= shift
    var = (d * d).mean(axis=1, keepdims=True)
    rstd = 1 / xp.sqrt(var + eps)
    if bool((var == xp.inf).any()):
        # the squares overflowed (float32 values near 1e30), not σ: with s = max |d| per row,
        # r = 1/(s·√(mean((d/s)²) + ε/s²)), whose squares stay below 1
        s = xp.abs(d).max(axis=1, keepdims=True)
        rstd = 1 / (s * xp.sqrt(((d / s) ** 2).mean(axis=1, keepdims=True) + eps / (s * s)))
    y = d * rstd
    if weight is not None:
        y *= weight
    if bias is not None:
        y += bias
    return y, mean[:, 0], rstd[:, 0]


def layer_norm_backward(xp, g, x, weight, mean, rstd):
    """(dx, dw, db) for layer_norm_forward, from its saved mean and rstd."""
    rows, n = x.shape
    if _numba(xp, g, x, *(a for a in (weight,) if a is not None)):
        dx = xp.empty(x.shape, x.dtype)
        dw, db = xp.zeros(n, dtype=xp.float64), xp.zeros(n, dtype=xp.float64)   # float64 sums
        _norm.layer_norm_backward(g, x, _or(xp, weight, n, 1, x.dtype), mean, rstd, dx, dw, db)
        return dx, dw.astype(x.dtype), db.astype(x.dtype)
    mean, rstd = mean.astype(x.dtype, copy=False), rstd.astype(x.dtype, copy=False)
    xhat = (x - mean[:, None]) * rstd[:, None]
    h = g if weight is None else g * weight
    sum_h = h.sum(axis=1, keepdims=True)
    r = rstd[:, None]
    dx = r * (h - sum_h / n - xhat * (h * xhat).mean(axis=1, keepdims=True))
    if not bool(xp.isfinite(sum_h).all()):
        # an infinite h: the rows where it is take PyTorch's folded form (as the numba loop)
        mu = mean[:, None]
        b = (sum_h * mu - (h * x).sum(axis=1, keepdims=True)) * r * r * r / n
        folded = r * h + b * x + (-b * mu - sum_h * r / n)
        dx = xp.where(xp.isfinite(sum_h), dx, folded)
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)


# -- batch normalisation ----------------------------------------------------------------------
def batch_norm_statistics(xp, x):
    """(mean, biased variance) per channel of x (N, C, S); float64 on the numba path."""
    channels = x.shape[1]
    if _numba(xp, x):
        # kept in float64 (a number per channel), as layer_norm's: the backward's x̂ = (x - μ)·r
        # then carries no rounding of μ or r, which 1 - x̂² (a batch of two: ε/(σ² + ε))
        # would magnify
        mean, var = xp.empty(channels, xp.float64), xp.empty(channels, xp.float64)
        chunks = _threads.chunks(x.size)
        if chunks > 1:
            _norm.channel_statistics_split(chunks, x, mean, var)
        else:
            _norm.channel_statistics(x, mean, var)
        return mean, var
    mean = x.mean(axis=(0, 2))
    d = x - mean[:, None]
    return mean, (d * d).mean(axis=(0, 2))


def scale_and_shift(xp, x, scale, shift):
    """x·scale_c + shift_c for x (N, C, S)."""
    if _numba(xp, x, scale, shift):
        y = xp.empty(x.shape, x.dtype)
        chunks = _threads.chunks(x.size)
        if chunks > 1:
            _norm.scale_and_shift_split(chunks, x, scale, shift, y)
        else:
            _norm.scale_and_shift(x, scale, shift, y)
        return y
    y = x * scale[:, None]
    y += shift[:, None]
    return y


def batch_norm_backward(xp, g, x, mean, rstd, weight, training):
    """(dx, dw, db) for x (N, C, S) normalised per channel with mean and rstd (the batch's
    when ``training``, so that they depend on x, else fixed; x's dtype or float64)."""
    channels = x.shape[1]
    if x.size == 0:   # an empty batch: every sum is 0 (the kernels would divide by a count of 0)
        return xp.zeros(x.shape, x.dtype), xp.zeros(channels, x.dtype), xp.zeros(channels, x.dtype)
    if _numba(xp, g, x, *(a for a in (weight,) if a is not None)) and \
            mean.dtype.kind == rstd.dtype.kind == "f" and mean.dtype == rstd.dtype:
        dx = xp.empty(x.shape, x.dtype)
        dw, db = xp.empty(channels, x.dtype), xp.empty(channels, x.dtype)
        weight = _or(xp, weight, channels, 1, x.dtype)
        chunks = _threads.chunks(x.size)
        if chunks > 1:
            _norm.batch_norm_backward_split(chunks, g, x, mean, rstd, weight, training, dx, dw,
                                            db)
        else:
            _norm.batch_norm_backward(g, x, mean, rstd, weight, training, dx, dw, db)
        return dx, dw, db
    count = x.shape[0] * x.shape[2]
    mean, rstd = mean.astype(x.dtype, copy=False), rstd.astype(x.dtype, copy=False)
    xhat = (x - mean[:, None]) * rstd[:, None]
    db = g.sum(axis=(0, 2))
    dw = (g * xhat).sum(axis=(0, 2))
    k = rstd if weight is None else rstd * weight
    if training:
        dx = k[:, None] * (g - (db / count)[:, None] - xhat * (dw / count)[:, None])
    else:
        dx = g * k[:, None]
    return dx, dw, db


# -- cross entropy ----------------------------------------------------------------------------
# Up to this many classes a numba loop per row wins (one call instead of a dozen); beyond,
# numpy's vectorised exp does (numba's exp is scalar: about 16× slower per element).
_NARROW = 32


def cross_entropy_forward(xp, x, target, weight, smoothing):
    """(loss per row, w_t per row, saved) for logits x (N, C) and class indices ``target``
    (N,) (-1 where ignored); ``weight`` (C,) of x's dtype. ``saved`` is what the backward
    needs: (max, log Σ e^{x - max}) per row (lse in two parts: in float32 their sum would
    round the small one away), and for wide rows the probabilities themselves."""
    rows, classes = x.shape
    if classes <= _NARROW and _numba(xp, x, weight):
        top, log_sum, loss, target_weight = (xp.empty(rows, x.dtype) for _ in range(4))
        _ce.forward(x, target, weight, smoothing, top, log_sum, loss, target_weight)
        return loss, target_weight, (top, log_sum, None)
    kept = target >= 0
    index = xp.where(kept, target, 0)
    top = x.max(axis=1, keepdims=True)
    shifted = x - top
    picked = shifted[xp.arange(rows), index]
    spread = shifted @ weight if smoothing > 0 else None   # Σ_c w_c (x_c - max), one GEMV
    probs = xp.exp(shifted, out=shifted)                   # (shifted is not needed again)
    total = probs.sum(axis=1)
    log_sum = xp.log(total)
    probs /= total[:, None]
    target_weight = xp.where(kept, weight[index], xp.zeros((), dtype=weight.dtype))
    loss = (1 - smoothing) * target_weight * (log_sum - picked)
    if smoothing > 0:
        loss = loss + smoothing / classes * (log_sum * weight.sum() - spread) * kept
    # an ignored row adds 0, also where its logits hold -inf or NaN (0·inf would be NaN)
    loss = xp.where(kept, loss, xp.zeros((), dtype=loss.dtype))
    return loss, target_weight, (top[:, 0], log_sum, probs)


def cross_entropy_backward(xp, x, target, weight, smoothing, saved, scale):
    """dx (N, C): scale[i]·(A·softmax(x_i) - a_i) (see kernels/cpu/cross_entropy.py)."""
    rows, classes = x.shape
    top, log_sum, probs = saved
    if probs is None and _numba(xp, x, weight, top, log_sum, scale):
        dx = xp.empty((rows, classes), x.dtype)
        _ce.backward(x, target, weight, smoothing, top, log_sum, scale, dx)
        return dx
    if probs is None:
        probs = xp.exp((x - top[:, None]) - log_sum[:, None])
    kept = target >= 0
    index = xp.where(kept, target, 0)
    target_weight = xp.where(kept, weight[index], xp.zeros((), dtype=weight.dtype))
    row_scale = xp.where(kept, scale, 0)   # an ignored row gets 0, also for a scale of ∞ or NaN
    total = (1 - smoothing) * target_weight
    if smoothing > 0:   # (only then: a weight of ±inf elsewhere would make 0·inf = NaN)
        total = total + smoothing / classes * weight.sum()
    dx = probs * (total * row_scale)[:, None]
    if smoothing > 0:
        dx -= (smoothing / classes) * weight * row_scale[:, None]
    # the target's element in one expression (from the rounded dx it would keep a residue)
    at = (xp.arange(rows), index)
    spread = (smoothing / classes) * weight[index] if smoothing > 0 else 0
    dx[at] = xp.where(kept, ((probs[at] * total - spread) - (1 - smoothing) * target_weight)
                      * row_scale, xp.zeros((), dtype=dx.dtype))
    if not kept.all():   # an ignored row gets 0, also where its probabilities are NaN
        dx[~kept] = 0
    return dx


# -- GELU -------------------------------------------------------------------------------------
_SQRT_HALF = math.sqrt(0.5)
_K, _A = math.sqrt(2 / math.pi), 0.044715


def _quiet_overflow(xp):
    return xp.errstate(over="ignore")   # e^{-2u} = inf is intended (cupy never warns)


def normal_cdf(xp, x):
    """Φ(x) = (1 + erf(x/√2))/2 (numba's erfc on the cpu: exact far out on the negative side)."""
    if _numba(xp, x):
        return _gelu.normal_cdf(x)
    return (xp.erf(x * _SQRT_HALF) + 1) * 0.5


def gelu(xp, x, approximate):
    """(y, Φ(x)) for ``approximate='none'``, y = x·Φ(x) (Φ kept for the backward); or
    (y, None) for the tanh form, x·(1 + tanh u)/2 = x·σ(2u) = x/(1 + e^{-2u}),
    u = k(x + a x³): no cancellation where y is tiny, and e^{-2u} overflowing to inf gives
    y = 0 exactly. float16 is computed in float32 and rounded once, as PyTorch does (Φ then
    stays float32 for the backward)."""
    if x.dtype == xp.float16:
        y, cdf = gelu(xp, x.astype(xp.float32), approximate)
        return y.astype(xp.float16), cdf
    if approximate == "none":
        cdf = normal_cdf(xp, x)
        return x * cdf, cdf
    e = xp.asarray(x * x)
    e *= -2 * _K * _A
    e += -2 * _K
    e *= x
    with _quiet_overflow(xp):
        e = xp.exp(e)
    e += 1
    return x / e, None


def gelu_backward(xp, g, x, approximate, cdf):
    """g·gelu'(x): Φ(x) + x·φ(x) (exact, Φ given), σ(2u) + 2k·x(1 + 3a x²)·σ(2u)(1 - σ(2u))
    (tanh). float16 is computed in float32 and rounded once, as PyTorch does: in float16
    x² overflows from |x| ≈ 256 and the tanh form would meet ∞·0."""
    if x.dtype == xp.float16:
        wide = xp.float32
        return gelu_backward(xp, g.astype(wide), x.astype(wide), approximate,
                             None if cdf is None else cdf.astype(wide)).astype(xp.float16)
    squares = xp.asarray(x * x)
    if approximate == "none":
        d = squares * -0.5
        d = xp.exp(d)
        d *= x
        d *= 1 / math.sqrt(2 * math.pi)
        d += cdf
        return d * g
    s = squares * (-2 * _K * _A)
    s += -2 * _K
    s *= x
    with _quiet_overflow(xp):
        s = xp.exp(s)
    s += 1
    s = 1 / s                  # σ(2u)
    # σ(1 - σ) first: where it is 0 (|x| ≳ 10) it meets x and 1 + 3a x² while they are
    # finite, as in PyTorch (x·(1 + 3a x²) overflows float32 from |x| ≈ 1.4e13: ∞·0 = NaN
    # where the slope is 1 or 0)
    d = 1 - s
    d *= s
    d *= x
    squares *= 3 * _A
    squares += 1
    d *= squares
    d *= 2 * _K
    d += s
    return d * g


# -- recurrent gates --------------------------------------------------------------------------
def _sigmoid(xp, x):
    return 1 / (1 + xp.exp(-x))


def lstm_gates_forward(xp, z, c):
    """(h', c', act, tanh c') from pre-activations z (N, 4H) and c (N, H) or None (zeros).
    Array code on every device: four of its five exponentials per element run on numpy's
    vectorised exp, which beat a numba loop here; the GRU, with three, is a numba loop."""
    rows, width = z.shape
    hidden = width // 4
    act = _sigmoid(xp, z)
    act[:, 2 * hidden:3 * hidden] = xp.tanh(z[:, 2 * hidden:3 * hidden])
    i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
    c_out = i * g if c is None else f * c + i * g
    tanh_c = xp.tanh(c_out)
    return o * tanh_c, c_out, act, tanh_c


def lstm_gates_backward(xp, grad_h, grad_c, act, tanh_c, c):
    """(dz (N, 4H), dc (N, H)) for lstm_gates_forward."""
    rows, width = act.shape
    hidden = width // 4
    i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
    d_cell = grad_h * o * (1 - tanh_c * tanh_c) + grad_c
    df = xp.zeros_like(f) if c is None else d_cell * c * f * (1 - f)
    dz = xp.concat([d_cell * g * i * (1 - i), df, d_cell * i * (1 - g * g),
                         grad_h * tanh_c * o * (1 - o)], axis=1)
    return dz, d_cell * f


def gru_gates_forward(xp, p, q, h):
    """(h', act) from p, q (N, 3H) (q None: zero, unused r) and h (N, H) or None."""
    rows, width = p.shape
    hidden = width // 3
    if _numba(xp, p, *(a for a in (q, h) if a is not None)):
        act = xp.empty((rows, width), p.dtype)
        h_out = xp.empty((rows, hidden), p.dtype)
        _gates.gru_forward(p, p if q is None else q, q is not None, act if h is None else h,
                           h is not None, act, h_out)
        return h_out, act
    s = p if q is None else p + q
    act = _sigmoid(xp, s)
    n_pre = p[:, 2 * hidden:] if q is None else p[:, 2 * hidden:] + act[:, :hidden] * q[:, 2 * hidden:]
    act[:, 2 * hidden:] = xp.tanh(n_pre)
    if q is None:
        act[:, :hidden] = 0
    z, n = act[:, hidden:2 * hidden], act[:, 2 * hidden:]
    h_out = n - z * n
    if h is not None:
        h_out += z * h
    return h_out, act


def gru_gates_backward(xp, grad, act, q, h):
    """(dp, dq or None, dh or None) for gru_gates_forward."""
    rows, width = act.shape
    hidden = width // 3
    if _numba(xp, grad, act, *(a for a in (q, h) if a is not None)):
        dp = xp.empty((rows, width), act.dtype)
        dq = xp.empty((rows, width), act.dtype) if q is not None else None
        dh = xp.empty((rows, hidden), act.dtype) if h is not None else None
        _gates.gru_backward(grad, act, act if q is None else q, q is not None,
                            grad if h is None else h, h is not None,
                            dp, dp if dq is None else dq, grad if dh is None else dh)
        return dp, dq, dh
    r, z, n = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 2 * hidden:]
    dn = grad * (1 - z) * (1 - n * n)
    dz = grad * ((0 if h is None else h) - n) * z * (1 - z)
    if q is None:
        return xp.concat([xp.zeros_like(dn), dz, dn], axis=1), None, None if h is None else grad * z
    dr = dn * q[:, 2 * hidden:] * r * (1 - r)
    dp = xp.concat([dr, dz, dn], axis=1)
    dq = xp.concat([dr, dz, dn * r], axis=1)
    return dp, dq, None if h is None else grad * z
