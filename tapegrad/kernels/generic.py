"""The numba loops of ``kernels/cpu`` written with array operations only.

numba compiles loops over numpy arrays; it cannot run on cupy (GPU) arrays. Where
``kernels/cuda`` has no kernel (or cannot be imported), a cuda tensor goes through these:
each loops in Python over the kh·kw taps of a window (never over elements) and lets the
array library do the rest, so they run on numpy and cupy alike. They are also the
reference the tests compare the numba kernels with.

The two scatter-adds (``scatter_add_last``, ``index_add``) sum with ``bincount`` on the
host (one pass, in float64); on a GPU with the backend's ``add_at`` (atomic additions, in
the array's own dtype: float16, float32 and float64 all have one).
"""


def col2im_add(xp, columns, out, window):
    """out[n, c, p·sh + i·dh - top, q·sw + j·dw - left] += columns[c, i, j, n, p, q]."""
    channels, kh, kw, batch, ho, wo = columns.shape
    height, width = out.shape[2], out.shape[3]
    (sh, sw), (dh, dw) = window.stride, window.dilation
    top, left = window.padding[0], window.padding[2]
    # Add into a padded image big enough for every window, then keep the inside.
    rows = max(height + top, (ho - 1) * sh + (kh - 1) * dh + 1)
    cols = max(width + left, (wo - 1) * sw + (kw - 1) * dw + 1)
    image = xp.zeros((batch, channels, rows, cols), out.dtype)
    for i in range(kh):
        for j in range(kw):
            r, c = i * dh, j * dw
            image[:, :, r:r + (ho - 1) * sh + 1:sh, c:c + (wo - 1) * sw + 1:sw] += (
                columns[:, i, j].transpose(1, 0, 2, 3))
    out += image[:, :, top:top + height, left:left + width]
    return out


def max_pool_forward(xp, x, window, out, indices):
    """Max over each window and the flat index (row·W + col) of the first maximum (NaN wins)."""
    batch, channels, height, width = x.shape
    ho, wo = out.shape[2], out.shape[3]
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, left = window.padding[0], window.padding[2]
    best = xp.full(out.shape, -xp.inf, x.dtype)
    where = xp.full(out.shape, -1, "int64")
    p_rows = xp.arange(ho) * sh - top
    q_cols = xp.arange(wo) * sw - left
    for i in range(kh):
        rows = p_rows + i * dh
        row_ok = (rows >= 0) & (rows < height)
        for j in range(kw):
            cols = q_cols + j * dw
            col_ok = (cols >= 0) & (cols < width)
            valid = row_ok[:, None] & col_ok[None, :]
            position = rows.clip(0, height - 1)[:, None] * width + cols.clip(0, width - 1)[None, :]
            value = x[:, :, rows.clip(0, height - 1)[:, None], cols.clip(0, width - 1)[None, :]]
            where = xp.where(valid & (where < 0), position, where)
            better = valid & ((value > best) | xp.isnan(value))
            best = xp.where(better, value, best)
            where = xp.where(better, position, where)
    out[...] = best
    indices[...] = where
    return out, indices


def scatter_add_last(xp, out, indices, values):
    """out[n, c, indices[n, c, k]] += values[n, c, k] (out is (B, C, M), C-contiguous); an
    index of -1 (a max-pool window of padding alone) adds nothing."""
    batch, channels, size = out.shape
    base = (xp.arange(batch * channels) * size).reshape(batch, channels, 1)
    nowhere = indices < 0
    values = xp.where(nowhere, xp.zeros((), dtype=values.dtype), values)
    flat = (xp.where(nowhere, 0, indices) + base).ravel()
    if xp.is_gpu:   # atomic additions in out's own dtype
        xp.add_at(out.reshape(-1), flat, values.ravel())
        return out
    sums = xp.bincount(flat, weights=values.ravel(), minlength=out.size)
    out += sums.reshape(out.shape).astype(out.dtype)
    return out


def index_add(xp, out, index, src):
    """out (A, n_in, B)[a, index[o], b] += src (A, n_out, B)[a, o, b]."""
    if xp.is_gpu:   # atomic additions in out's own dtype
        xp.add_at(out, (slice(None), xp.asarray(index), slice(None)), src)
        return out
    outer, n_in, inner = out.shape
    position = ((xp.arange(outer)[:, None, None] * n_in + xp.asarray(index)[None, :, None]) * inner
                + xp.arange(inner)[None, None, :])
    sums = xp.bincount(position.ravel(), weights=src.ravel(), minlength=out.size)
    out += sums.reshape(out.shape).astype(out.dtype)
    return out


# -- optimizer steps (the numba loops of cpu/optimizer_steps.py) -----------------------------
def _decayed_gradient(xp, theta, grad, weight_decay, maximize):
    """g = ±∇ + λ·θ as a new array (∇ itself when nothing changes: then only read it)."""
    g = -grad if maximize else grad
    return g + weight_decay * theta if weight_decay != 0 else g


def adam_step(xp, theta, grad, m, v, v_max, amsgrad, maximize, weight_decay, decay_factor,
              one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps):
    """One Adam step in place, in PyTorch's order of operations (see cpu/optimizer_steps.py)."""
    if decay_factor != 1:
        theta *= decay_factor                         # θ ← θ·(1 − lr·λ)  (AdamW)
    g = _decayed_gradient(xp, theta, grad, weight_decay, maximize)
    m += one_minus_beta1 * (g - m)                    # m ← lerp(m, g, 1 − β₁)
    v *= beta2                                        # v ← β₂·v + (1 − β₂)·g²
    v += one_minus_beta2 * g * g
    if amsgrad:
        xp.maximum(v_max, v, out=v_max)
        v = v_max
    denominator = xp.sqrt(v) / bias2_sqrt + eps
    theta -= step_size * (m / denominator)


def rmsprop_step(xp, theta, grad, square_avg, grad_avg, buffer, centered, use_momentum, maximize,
                 weight_decay, alpha, one_minus_alpha, eps, momentum, lr):
    """One RMSprop step in place (see cpu/optimizer_steps.py)."""
    g = _decayed_gradient(xp, theta, grad, weight_decay, maximize)
    square_avg *= alpha                               # s ← α·s + (1 − α)·g²
    square_avg += one_minus_alpha * g * g
    if centered:
        grad_avg += one_minus_alpha * (g - grad_avg)  # a ← lerp(a, g, 1 − α)
        denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        denominator = xp.sqrt(square_avg) + eps
    if use_momentum:
        buffer *= momentum                            # b ← μ·b + g/d
        buffer += g / denominator
        theta -= lr * buffer
    else:
        theta -= lr * (g / denominator)


def adagrad_step(xp, theta, grad, total, maximize, weight_decay, eps, lr):
    """One Adagrad step with the step's learning rate ``lr``, in place."""
    g = _decayed_gradient(xp, theta, grad, weight_decay, maximize)
    total += g * g                                    # s ← s + g²
    theta -= lr * (g / (xp.sqrt(total) + eps))
