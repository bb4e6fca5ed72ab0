"""im2col: every window of an image laid out as a column, so a convolution is one matmul.

For a window of kh×kw taps over C channels, column (n, p, q) holds the C·kh·kw input
values that output position (p, q) of image n reads. With the weight as a matrix
(out_channels, C·kh·kw), the convolution is ``weight_matrix @ columns``.

No Python loop copies anything: ``windows`` builds the columns as a *strided view* of the
padded image (``as_strided``: the same memory read with a stride per index), and one
``copyto`` materialises it in a reused workspace. The order of the axes of that copy
decides its speed (measured, see PERF-NOTES.md): the innermost axis should be a long
contiguous run. Two layouts are used:

* ``"merged"``: (C, kh, kw, B, rows), so the whole batch is one matrix (C·kh·kw, B·rows)
  and the product is a single large GEMM;
* ``"batched"``: (B, C, kh, kw, rows), one matrix per image, multiplied by a batched
  ``matmul`` (better for tiny images with few channels).

and two ways of laying out the ``rows`` of one column plane:

* exact: (Ho, Wo), only the outputs; the innermost run is one output row (Wo values);
* flat (stride 1 only): output (p, q) reads padded-image element (p + i·dh)·Wp + q + j·dw,
  which, as a function of the flat position t = p·Wp + q, is a plain shift by
  i·dh·Wp + j·dw. So one long contiguous run of (Ho - 1)·Wp + Wo values per (c, i, j, n)
  covers every output row *plus* Wp - Wo junk positions between rows (windows that wrap
  around the right edge). The junk columns are computed by the matmul and dropped
  afterwards (forward), or given a zero gradient so they add nothing (backward).

Everything here uses only the array module ``xp``, so it runs on cupy unchanged.
"""
from . import workspace


def row_width(window):
    """Positions per output row in the column layout: Wp (flat, with junk) or Wo (exact)."""
    return window.padded_size[1] if window.flat else window.out_size[1]


def strided_view(xp, array, shape, strides):
    """``array``'s memory read with these shape and strides (``as_strided``), never written
    through (read-only where the backend can mark it so)."""
    return xp.as_strided(array, shape, strides)


def padded(xp, x, window, fill=0.0):
    """``x`` (B, C, H, W) with ``window.padding`` around it, in a reused workspace whose
    border keeps ``fill`` (only the interior is ever written). Without padding, x itself."""
    top, bottom, left, right = window.padding
    if not (top or bottom or left or right):
        return x
    batch, channels, height, width = x.shape
    hp, wp = window.padded_size
    out = workspace.get(xp, ("padded", window.padding, fill), (batch, channels, hp, wp),
                        x.dtype, fill=fill)
    out[:, :, top:top + height, left:left + width] = x
    return out


def windows(xp, image, window, layout):
    """The columns as a strided view of the padded image (B, C, Hp, Wp), no copy.

    Shape (C, kh, kw, B, rows…) for "merged", (B, C, kh, kw, rows…) for "batched", where
    rows… is (Ho, Wo), or (L,) with L = (Ho - 1)·Wp + Wo in the flat layout.
    """
    batch, channels = image.shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    sn, sc, sy, sx = image.strides
    taps = (kh, kw), (dh * sy, dw * sx)
    if window.flat:
        if sy != image.shape[3] * sx:
            raise ValueError("the flat im2col layout needs rows stored one after the other")
        rows, row_strides = ((ho - 1) * image.shape[3] + wo,), (sx,)
    else:
        rows, row_strides = (ho, wo), (sh * sy, sw * sx)
    if layout == "merged":
        shape = (channels,) + taps[0] + (batch,) + rows
        strides = (sc,) + taps[1] + (sn,) + row_strides
    else:
        shape = (batch, channels) + taps[0] + rows
        strides = (sn, sc) + taps[1] + row_strides
    return strided_view(xp, image, shape, strides)


def columns_shape(x_shape, window, layout):
    """The shape of the column workspace: (C, kh, kw, B, Ho, row_width) ("merged") or
    (B, C, kh, kw, Ho, row_width) ("batched")."""
    batch, channels = x_shape[:2]
    ho = window.out_size[0]
    if layout == "merged":
        return (channels,) + window.kernel + (batch, ho, row_width(window))
    return (batch, channels) + window.kernel + (ho, row_width(window))


def im2col(xp, x, window, layout, out):
    """Fill ``out`` (of ``columns_shape``) with the windows of ``x`` (B, C, H, W); returns out.

    In the flat layout the last Wp - Wo positions of the last row are never written: a
    buffer from ``workspace.get(..., fill=0)`` keeps zeros there.
    """
    image = padded(xp, x, window)
    if window.flat and image.strides[2] != image.shape[3] * image.strides[3]:
        image = xp.ascontiguousarray(image)
    view = windows(xp, image, window, layout)
    if window.flat:
        flat = out.reshape(out.shape[:-2] + (out.shape[-2] * out.shape[-1],))
        xp.copyto(flat[..., :view.shape[-1]], view)
    else:
        xp.copyto(out, view)
    return out


def unfold(xp, x, window):
    """PyTorch's ``unfold``: a fresh (B, C·kh·kw, Ho·Wo) array of the windows of x."""
    image = padded(xp, x, window)
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = window.out_size
    sn, sc, sy, sx = image.strides
    view = strided_view(xp, image, image.shape[:2] + (kh, kw, ho, wo),
                        (sn, sc, dh * sy, dw * sx, sh * sy, sw * sx))
    batch, channels = x.shape[:2]
    # A copy always: the view may share memory with x or with the padding workspace.
    return view.copy().reshape(batch, channels * kh * kw, ho * wo)
