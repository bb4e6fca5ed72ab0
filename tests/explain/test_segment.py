"""quickshift and SLIC: known segmentations, brute-force re-implementations, label rules."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.explain.segment import feature_image, quickshift, rgb2lab, slic

QUADRANT_COLOURS = [(0.9, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.1, 0.9), (0.95, 0.95, 0.2)]


def quadrants(size=40):
    """Four flat colour quadrants."""
    image = np.zeros((size, size, 3))
    half = size // 2
    for k, (rows, cols) in enumerate([(slice(0, half), slice(0, half)),
                                      (slice(0, half), slice(half, None)),
                                      (slice(half, None), slice(0, half)),
                                      (slice(half, None), slice(half, None))]):
        image[rows, cols] = QUADRANT_COLOURS[k]
    return image


def quadrant_ids(size=40):
    ids = np.zeros((size, size), dtype=np.int64)
    half = size // 2
    ids[:half, half:], ids[half:, :half], ids[half:, half:] = 1, 2, 3
    return ids


def smooth_image(size=24, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] / size
    image = np.stack([np.sin(5 * x) ** 2, np.cos(3 * y) ** 2, x * y], axis=-1)
    return np.clip(image + 0.05 * rng.random((size, size, 3)), 0, 1)


def is_connected(mask):
    """Brute force: a flood fill from one pixel reaches every pixel of ``mask``."""
    start = tuple(np.argwhere(mask)[0])
    seen, stack = {start}, [start]
    while stack:
        r, c = stack.pop()
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc] \
                    and (rr, cc) not in seen:
                seen.add((rr, cc))
                stack.append((rr, cc))
    return len(seen) == mask.sum()


def labelled_in_scan_order(labels):
    """Labels are 0..K−1, numbered in the order they first appear row by row."""
    _, first = np.unique(labels.ravel(), return_index=True)
    order = labels.ravel()[np.sort(first)]
    return order.tolist() == list(range(labels.max() + 1))


SEGMENTERS = {"quickshift": quickshift, "slic": lambda image: slic(image, n_segments=4)}


# -- known answers -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SEGMENTERS)
def test_four_flat_quadrants_give_four_segments_aligned_with_them(name):
    labels = SEGMENTERS[name](quadrants())
    assert labels.shape == (40, 40) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, quadrant_ids())


def test_many_slic_segments_never_cross_a_colour_edge():
    labels = slic(quadrants(), n_segments=64)
    assert labels.max() + 1 >= 16
    ids = quadrant_ids()
    for k in range(labels.max() + 1):
        assert len(np.unique(ids[labels == k])) == 1


def test_quickshift_with_max_dist_zero_makes_every_pixel_its_own_segment():
    labels = quickshift(smooth_image(8), max_dist=0)
    np.testing.assert_array_equal(labels, np.arange(64).reshape(8, 8))


def test_rgb2lab_gives_the_standard_values_of_white_black_and_red():
    lab = rgb2lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)


# -- brute-force re-implementations --------------------------------------------------------------
def brute_force_quickshift(image, kernel_size, max_dist, ratio):
    """Quickshift over all pairs of pixels, vectorised, with the same tie-break noise."""
    features = feature_image(image, True) * ratio
    h, w, _ = features.shape
    rows, cols = np.mgrid[:h, :w]
    points = np.concatenate([rows[..., None], cols[..., None], features], axis=2).reshape(h * w, -1)
    squared = ((points[:, None] - points[None]) ** 2).sum(axis=2)
    reach = int(np.ceil(3 * kernel_size))
    window = ((np.abs(rows.ravel()[:, None] - rows.ravel()[None]) <= reach)
              & (np.abs(cols.ravel()[:, None] - cols.ravel()[None]) <= reach))
    density = (np.exp(-squared / (2 * kernel_size ** 2)) * window).sum(axis=1)
    density += np.random.default_rng(42).random((h, w)).ravel() * 1e-5
    candidates = np.where(window & (density[None] > density[:, None]), squared, np.inf)
    parent = np.argmin(candidates, axis=1)
    own = np.sqrt(candidates[np.arange(h * w), parent]) > max_dist
    parent[own] = np.arange(h * w)[own]
    for _ in range(h * w):
        parent = parent[parent]
    return parent.reshape(h, w)


def same_partition(a, b):
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist()))
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("kernel_size, max_dist", [(2, 6.0), (1.5, 200), (3, 3.0)])
def test_quickshift_equals_a_brute_force_quickshift(kernel_size, max_dist):
    image = smooth_image(14, seed=1)
    labels = quickshift(image, kernel_size=kernel_size, max_dist=max_dist, ratio=0.5)
    expected = brute_force_quickshift(image, kernel_size, max_dist, 0.5)
    assert same_partition(labels, expected)
    assert labels.max() + 1 > 1


def brute_force_slic(image, centers, step, compactness, iterations):
    """k-means on (row, col, Lab) with SLIC's distance and 2·step windows, all pairs at once."""
    features = feature_image(image, True)
    h, w, c = features.shape
    rows, cols = np.mgrid[:h, :w]
    pixels = np.concatenate([rows[..., None], cols[..., None], features], axis=2).reshape(h * w, -1)
    centers = centers.copy()
    reach = int(np.ceil(2 * step))
    for _ in range(iterations):
        spatial = ((pixels[:, None, :2] - centers[None, :, :2]) ** 2).sum(axis=2) / step ** 2
        colour = ((pixels[:, None, 2:] - centers[None, :, 2:]) ** 2).sum(axis=2) / compactness ** 2
        inside = ((np.abs(pixels[:, None, 0] - centers[None, :, 0].astype(int)) <= reach)
                  & (np.abs(pixels[:, None, 1] - centers[None, :, 1].astype(int)) <= reach))
        labels = np.argmin(np.where(inside, spatial + colour, np.inf), axis=1)
        for k in range(len(centers)):
            if (labels == k).any():
                centers[k] = pixels[labels == k].mean(axis=0)
    return labels.reshape(h, w)


def test_slic_without_connectivity_equals_a_brute_force_k_means():
    image = smooth_image(16, seed=2)
    labels = slic(image, n_segments=16, compactness=5.0, enforce_connectivity=False)
    grid = np.arange(2, 16, 4)                    # step 4, first center at 4 // 2
    r, c = np.meshgrid(grid, grid, indexing="ij")
    r, c = r.ravel(), c.ravel()
    centers = np.concatenate([r[:, None], c[:, None], feature_image(image)[r, c]], axis=1)
    expected = brute_force_slic(image, centers.astype(float), 4.0, 5.0, 10)
    assert same_partition(labels, expected)


# -- label rules --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["quickshift", "slic"])
def test_labels_are_contiguous_numbered_in_scan_order_and_deterministic(name):
    segment = quickshift if name == "quickshift" else slic
    image = smooth_image(32)
    labels = segment(image)
    assert labelled_in_scan_order(labels)
    np.testing.assert_array_equal(labels, segment(image))


def test_slic_segments_are_connected_and_not_tiny():
    image = smooth_image(32, seed=3)
    labels = slic(image, n_segments=16)
    sizes = np.bincount(labels.ravel())
    assert (sizes >= 0.5 * 32 * 32 / 16).all()
    for k in range(labels.max() + 1):
        assert is_connected(labels == k)


def test_quickshift_segments_are_connected():
    labels = quickshift(smooth_image(24, seed=4), kernel_size=2)
    assert labels.max() + 1 > 2
    for k in range(labels.max() + 1):
        assert is_connected(labels == k)


@pytest.mark.parametrize("name", ["quickshift", "slic"])
def test_uint8_grey_and_tensor_images_segment_like_their_float_rgb_version(name):
    segment = quickshift if name == "quickshift" else (lambda im: slic(im, n_segments=4))
    grey = np.zeros((24, 24))
    grey[:, 12:] = 0.8
    grey[12:, :12] = 0.4
    expected = segment(np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(segment(grey), expected)
    np.testing.assert_array_equal(segment(grey[..., None]), expected)
    colour = quadrants(24)
    as_uint8 = np.round(colour * 255).astype(np.uint8)
    np.testing.assert_array_equal(segment(as_uint8), segment(as_uint8 / 255.0))
    np.testing.assert_array_equal(segment(tg.tensor(colour)), segment(colour))


def test_float_images_outside_the_unit_range_are_rescaled():
    image = quadrants(24)
    np.testing.assert_array_equal(quickshift(image * 4 - 2), quickshift(image))


@pytest.mark.parametrize("call, error, message", [
    (lambda: quickshift(np.zeros((2, 3, 4, 5))), ValueError,
     r"expected an image .* \(2, 3, 4, 5\)"),
    (lambda: quickshift(np.zeros((4, 4, 3)), kernel_size=0), ValueError,
     "kernel_size must be positive"),
    (lambda: slic(np.zeros((4, 4, 3)), n_segments=0), ValueError, "n_segments must be at least 1"),
    (lambda: slic(np.zeros((4, 4, 3)), compactness=0), ValueError, "compactness must be positive"),
    (lambda: slic(np.full((4, 4), np.nan)), ValueError, "NaN"),
    (lambda: slic(np.array([["a"]])), TypeError, "numeric image"),
])
def test_bad_images_and_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
