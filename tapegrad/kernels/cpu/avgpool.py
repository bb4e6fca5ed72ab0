"""Average pooling: the sum over each window of strided views, and its adjoint.

The forward adds the kh·kw shifted, strided views of the (zero-padded) image, one
array operation per window tap, then divides by the window's divisor. Average pooling
is linear, y = A x, so its backward is the transpose, x̄ = Aᵀ ȳ: every output's
gradient, divided by the same divisor, is spread over the positions of its window.
That is col2im with the same gradient in every tap, a broadcast view (stride 0 over the
taps) that is never materialised. Windows that do not overlap (stride = kernel, no
dilation or padding: 2×2 pooling, global pooling) need no sums at all: each input position
takes its one window's gradient, a broadcast copy (global pooling of a 32-channel 32×32
batch of 32: 0.3 ms, where col2im's loop over the 32×32 taps took 50).
"""
from .col2im import col2im
from .im2col import padded, strided_view


def avg_pool(xp, x, window, divisor):
    """A fresh (B, C, Ho, Wo) array: the window sums of x divided by ``divisor``."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    if (ho, wo) == (1, 1) and window.kernel == window.in_size and not any(window.padding):
        out = x.sum(axis=(2, 3), keepdims=True)   # global pooling: one reduction
        out *= out.dtype.type(1 / divisor)
        return out
    image = padded(xp, x, window)
    out = None
    for i in range(kh):
        for j in range(kw):
            r, c = i * dh, j * dw
            view = image[:, :, r:r + (ho - 1) * sh + 1:sh, c:c + (wo - 1) * sw + 1:sw]
            if out is None:
                out = view.copy()
            else:
                xp.add(out, view, out=out)
    if out is None:   # an empty window: nothing to add
        return xp.zeros(x.shape[:2] + (ho, wo), x.dtype)
    if isinstance(divisor, (int, float)):
        out *= out.dtype.type(1 / divisor)
    else:
        out /= divisor
    return out


def avg_pool_adjoint(xp, grad, window, divisor):
    """A fresh (B, C, H, W) array: each grad[n, c, p, q] / divisor added over its window."""
    batch, channels, ho, wo = grad.shape
    scaled = grad * grad.dtype.type(1 / divisor) if isinstance(divisor, (int, float)) else \
        grad / divisor
    if _disjoint(window):
        return _spread_disjoint(xp, scaled, window)
    sn, sc, sp, sq = scaled.strides
    columns = strided_view(xp, scaled, (channels,) + tuple(window.kernel) + (batch, ho, wo),
                           (sc, 0, 0, sn, sp, sq))
    out = xp.zeros((batch, channels) + tuple(window.in_size), grad.dtype)
    return col2im(xp, columns, out, window)


def _disjoint(window):
    """True when the windows tile the image without overlap, gaps or padding."""
    return (window.stride == window.kernel and window.dilation == (1, 1)
            and not any(window.padding))


def _spread_disjoint(xp, scaled, window):
    """avg_pool_adjoint for disjoint windows: every position of window (p, q) gets
    scaled[..., p, q]; the rows and columns no window covers (the input's remainder) get 0."""
    batch, channels, ho, wo = scaled.shape
    (kh, kw), (height, width) = window.kernel, window.in_size
    out = xp.empty((batch, channels, height, width), scaled.dtype)
    covered = out[:, :, :ho * kh, :wo * kw].reshape(batch, channels, ho, kh, wo, kw)
    covered[...] = scaled[:, :, :, None, :, None]
    out[:, :, ho * kh:, :] = 0
    out[:, :, :ho * kh, wo * kw:] = 0
    return out
