"""Superpixels for LIME: quickshift (Vedaldi & Soatto 2008) and SLIC (Achanta et al. 2012).

LIME explains an image through its *superpixels*: small regions of similar colour that
are switched on and off together. Both algorithms work on a feature image — each pixel
is a point (row, column, colour…) — and return an int label map (H, W) with labels
0..K−1, numbered in the order they first appear in a row-by-row scan.

Colour space, as scikit-image (which the LIME reference calls): RGB images are
converted to CIE Lab (L in 0..100, a and b roughly −100..100), where euclidean distance
follows perceived colour difference; a grey image (H, W) or (H, W, 1) is its own
lightness L (its Lab with a = b = 0). Images of other channel counts use their values,
scaled to 0..100 like L. uint8 images are divided by 255; float images are expected in
[0, 1], and are min-max rescaled into it when their values fall outside (for example a
normalised tensor) — scikit-image would leave them as they are.

The inner loops run pixel by pixel over small windows, so they are compiled with numba
(``cache=True``: compiled once, then loaded from the cache).
"""
import math

import numpy
from numba import njit

from .. import backend

# -- the feature image ---------------------------------------------------------------

_RGB_TO_XYZ = numpy.array([[0.412453, 0.357580, 0.180423],
                           [0.212671, 0.715160, 0.072169],
                           [0.019334, 0.119193, 0.950227]])
_D65_WHITE = numpy.array([0.95047, 1.0, 1.08883])


def rgb2lab(rgb):
    """sRGB in [0, 1] (…, 3) to CIE Lab under the D65 white point (as scikit-image)."""
    linear = numpy.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ _RGB_TO_XYZ.T / _D65_WHITE
    f = numpy.where(xyz > 0.008856, numpy.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lightness = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return numpy.stack([lightness, a, b], axis=-1)


def _unit_range(image, op):
    """The image as float64 values in [0, 1] (see the module docstring), shape (H, W, C)."""
    if hasattr(image, "array"):           # a tapegrad Tensor
        image = image.array
    image = backend.to_numpy(image)
    image = numpy.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{op}: expected an image (H, W) or (H, W, C), got shape {image.shape}")
    if image.dtype == numpy.bool_:
        return image.astype(numpy.float64)
    if image.dtype.kind in "ui":
        info = numpy.iinfo(image.dtype)
        return image.astype(numpy.float64) / (255.0 if image.dtype == numpy.uint8 else info.max)
    if image.dtype.kind != "f":
        raise TypeError(f"{op}: expected a numeric image, got dtype {image.dtype}")
    image = image.astype(numpy.float64)
    if not numpy.isfinite(image).all():
        raise ValueError(f"{op}: the image has NaN or infinite values")
    low, high = image.min(), image.max()
    if low < 0.0 or high > 1.0:
        image = (image - low) / (high - low) if high > low else numpy.zeros_like(image)
    return image


def feature_image(image, convert2lab=True, op="segment"):
    """The colour coordinates the segmentations measure distances in: Lab for RGB, L for
    grey, 100 × the [0, 1] values otherwise (or always, with ``convert2lab=False``)."""
    image = _unit_range(image, op)
    channels = image.shape[2]
    if not convert2lab:
        return numpy.ascontiguousarray(image * 100.0)
    if channels == 3:
        return numpy.ascontiguousarray(rgb2lab(image))
    if channels == 1:
        return numpy.ascontiguousarray(rgb2lab(numpy.repeat(image, 3, axis=2))[:, :, :1])
    return numpy.ascontiguousarray(image * 100.0)


def _first_appearance_labels(labels):
    """Relabel to 0..K−1 in the order labels first appear in a row-by-row scan."""
    flat = labels.reshape(-1)
    _, first, inverse = numpy.unique(flat, return_index=True, return_inverse=True)
    rank = numpy.empty(first.shape[0], dtype=numpy.int64)
    rank[numpy.argsort(first, kind="stable")] = numpy.arange(first.shape[0])
    return rank[inverse].reshape(labels.shape)


# -- quickshift ----------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _quickshift_parents(image, kernel_size, max_dist, tie_break):
    """Each pixel's parent: the nearest pixel (in (row, col, colour) space) of higher
    density within 3·kernel_size rows and columns, or itself when there is none or it is
    farther than max_dist. The density is a Gaussian (σ = kernel_size) Parzen estimate."""
    height, width, channels = image.shape
    reach = int(math.ceil(3 * kernel_size))
    inv_two_sigma_sq = -0.5 / (kernel_size * kernel_size)
    density = tie_break.copy()
    for r in range(height):
        for c in range(width):
            total = 0.0
            for r2 in range(max(r - reach, 0), min(r + reach + 1, height)):
                for c2 in range(max(c - reach, 0), min(c + reach + 1, width)):
                    d = (r - r2) * (r - r2) + (c - c2) * (c - c2)
                    for k in range(channels):
                        t = image[r, c, k] - image[r2, c2, k]
                        d += t * t
                    total += math.exp(d * inv_two_sigma_sq)
            density[r, c] += total
    parent = numpy.empty((height, width), dtype=numpy.int64)
    for r in range(height):
        for c in range(width):
            own = density[r, c]
            closest = numpy.inf
            best = r * width + c
            for r2 in range(max(r - reach, 0), min(r + reach + 1, height)):
                for c2 in range(max(c - reach, 0), min(c + reach + 1, width)):
                    if density[r2, c2] > own:
                        d = (r - r2) * (r - r2) + (c - c2) * (c - c2)
                        for k in range(channels):
                            t = image[r, c, k] - image[r2, c2, k]
                            d += t * t
                        if d < closest:
                            closest = d
                            best = r2 * width + c2
            parent[r, c] = best if math.sqrt(closest) <= max_dist else r * width + c
    return parent.reshape(-1)


def quickshift(image, kernel_size=4, max_dist=200, ratio=0.2, convert2lab=True, random_seed=42):
    """Quickshift superpixels: an int label map (H, W) with labels 0..K−1.

    Every pixel is a point (row, col, ratio·colour) with a Parzen density (Gaussian of
    width ``kernel_size``); it links to the nearest point of higher density within a
    window of 3·kernel_size, unless that is farther than ``max_dist``; each tree of links
    is a segment. ``ratio`` trades colour against space (larger: colour counts more).
    The defaults are LIME's. Density ties (flat regions) are broken by a tiny noise drawn
    with ``random_seed``, so the result is deterministic.
    """
    if kernel_size <= 0:
        raise ValueError(f"quickshift: kernel_size must be positive, got {kernel_size}")
    if max_dist < 0:
        raise ValueError(f"quickshift: max_dist must be non-negative, got {max_dist}")
    features = feature_image(image, convert2lab, "quickshift") * float(ratio)
    height, width = features.shape[:2]
    tie_break = numpy.random.default_rng(random_seed).random((height, width)) * 1e-5
    parent = _quickshift_parents(features, float(kernel_size), float(max_dist), tie_break)
    while True:  # follow the links to the roots (each step halves the remaining path)
        grand = parent[parent]
        if (grand == parent).all():
            break
        parent = grand
    return _first_appearance_labels(parent.reshape(height, width))


# -- SLIC ----------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _slic_assign(image, centers, step, compactness, max_iter):
    """k-means on (row, col, colour) restricted to 2·step windows around each center,
    with the distance D² = (d_space/step)² + (d_colour/compactness)²."""
    height, width, channels = image.shape
    n_centers = centers.shape[0]
    labels = numpy.zeros((height, width), dtype=numpy.int64)
    distance = numpy.empty((height, width))
    spatial = 1.0 / (step * step)
    colour = 1.0 / (compactness * compactness)
    reach = int(math.ceil(2 * step))
    sums = numpy.zeros((n_centers, 2 + channels))
    counts = numpy.zeros(n_centers)
    for _ in range(max_iter):
        distance[:, :] = numpy.inf
        for k in range(n_centers):
            cy, cx = centers[k, 0], centers[k, 1]
            for r in range(max(int(cy) - reach, 0), min(int(cy) + reach + 1, height)):
                for c in range(max(int(cx) - reach, 0), min(int(cx) + reach + 1, width)):
                    d = ((r - cy) * (r - cy) + (c - cx) * (c - cx)) * spatial
                    dc = 0.0
                    for ch in range(channels):
                        t = image[r, c, ch] - centers[k, 2 + ch]
                        dc += t * t
                    d += dc * colour
                    if d < distance[r, c]:
                        distance[r, c] = d
                        labels[r, c] = k
        sums[:, :] = 0.0
        counts[:] = 0.0
        for r in range(height):
            for c in range(width):
                k = labels[r, c]
                counts[k] += 1
                sums[k, 0] += r
                sums[k, 1] += c
                for ch in range(channels):
                    sums[k, 2 + ch] += image[r, c, ch]
        moved = False
        for k in range(n_centers):
            if counts[k] > 0:
                for j in range(2 + channels):
                    new = sums[k, j] / counts[k]
                    if new != centers[k, j]:
                        moved = True
                    centers[k, j] = new
        if not moved:
            break
    return labels


@njit(cache=True, nogil=True)
def _enforce_connectivity(labels, min_size, max_size):
    """Split each label into 4-connected pieces of at most ``max_size`` pixels; a piece
    smaller than ``min_size`` joins a piece it touches that the row-by-row scan has already
    numbered (as scikit-image, after Achanta et al.)."""
    height, width = labels.shape
    out = -numpy.ones((height, width), dtype=numpy.int64)
    queue_r = numpy.empty(height * width, dtype=numpy.int64)
    queue_c = numpy.empty(height * width, dtype=numpy.int64)
    dr = (-1, 1, 0, 0)
    dc = (0, 0, -1, 1)
    next_label = 0
    for r0 in range(height):
        for c0 in range(width):
            if out[r0, c0] >= 0:
                continue
            adjacent = -1
            out[r0, c0] = next_label
            queue_r[0], queue_c[0] = r0, c0
            head, tail = 0, 1
            while head < tail and tail < max_size:
                r, c = queue_r[head], queue_c[head]
                head += 1
                for k in range(4):
                    r2, c2 = r + dr[k], c + dc[k]
                    if not (0 <= r2 < height and 0 <= c2 < width):
                        continue
                    if out[r2, c2] < 0 and labels[r2, c2] == labels[r0, c0]:
                        if tail < max_size:
                            out[r2, c2] = next_label
                            queue_r[tail], queue_c[tail] = r2, c2
                            tail += 1
                    elif out[r2, c2] >= 0 and out[r2, c2] != next_label:
                        adjacent = out[r2, c2]
            if tail < min_size and adjacent >= 0:
                for i in range(tail):
                    out[queue_r[i], queue_c[i]] = adjacent
            else:
                next_label += 1
    return out


def _grid_steps(height, width, n_segments):
    """Row and column spacing of a regular grid of about n_segments points (scikit-image's
    ``regular_grid``: square cells, unless the image is thinner than a cell)."""
    area = float(height * width)
    if area <= n_segments:
        return 1, 1
    step = math.sqrt(area / n_segments)
    step_r, step_c = step, step
    if height < step:
        step_r, step_c = height, area / height / n_segments
    elif width < step:
        step_r, step_c = area / width / n_segments, width
    return step_r, step_c


def slic(image, n_segments=100, compactness=10.0, max_iter=10, convert2lab=True,
         enforce_connectivity=True, min_size_factor=0.5, max_size_factor=3.0):
    """SLIC superpixels: an int label map (H, W) with labels 0..K−1 (K about n_segments).

    Centers start on a regular grid of spacing S = sqrt(H·W / n_segments); each
    iteration assigns every pixel within 2S of a center to the nearest center by
    D² = (d_space / S)² + (d_colour / compactness)² (Achanta et al.'s distance, colour in
    Lab) and moves each center to the mean of its pixels. Larger ``compactness`` gives
    squarer segments. Afterwards every segment is made connected: pieces smaller than
    ``min_size_factor`` · H·W / n_segments join a neighbour, and pieces are cut at
    ``max_size_factor`` · H·W / n_segments pixels (as scikit-image).
    """
    if n_segments < 1:
        raise ValueError(f"slic: n_segments must be at least 1, got {n_segments}")
    if compactness <= 0:
        raise ValueError(f"slic: compactness must be positive, got {compactness}")
    features = feature_image(image, convert2lab, "slic")
    height, width, channels = features.shape
    step_r, step_c = _grid_steps(height, width, n_segments)
    rows = numpy.arange(int(step_r // 2), height, max(int(round(step_r)), 1))
    cols = numpy.arange(int(step_c // 2), width, max(int(round(step_c)), 1))
    grid_r, grid_c = numpy.meshgrid(rows, cols, indexing="ij")
    grid_r, grid_c = grid_r.ravel(), grid_c.ravel()
    centers = numpy.concatenate([grid_r[:, None].astype(numpy.float64),
                                 grid_c[:, None].astype(numpy.float64),
                                 features[grid_r, grid_c]], axis=1)
    step = float(max(step_r, step_c))
    labels = _slic_assign(features, numpy.ascontiguousarray(centers), step, float(compactness),
                          int(max_iter))
    if enforce_connectivity:
        segment_size = height * width / n_segments
        labels = _enforce_connectivity(labels, int(min_size_factor * segment_size),
                                       max(int(max_size_factor * segment_size), 1))
    return _first_appearance_labels(labels)


__all__ = ["quickshift", "slic", "rgb2lab"]
