"""LIME on images: finds the deciding superpixel; perturbations, batching, masks."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.explain.lime import LimeImage
from tapegrad.explain.lime.base import cosine_distance_to_first
from tapegrad.explain.segment import quickshift, slic

SQUARE = (slice(32, 64), slice(64, 96))       # the tile that decides the class (grid id 5)


def tiles(seed=0):
    """A 96×96 RGB image of 3×3 flat tiles of random colours (bright enough for class 1)."""
    rng = np.random.default_rng(seed)
    colours = rng.uniform(0.3, 1.0, size=(3, 3, 3))
    return np.repeat(np.repeat(colours, 32, axis=0), 32, axis=1)


def grid_segments():
    return np.repeat(np.repeat(np.arange(9).reshape(3, 3), 32, axis=0), 32, axis=1)


def bright_square_classifier(images):
    """Class 1 when the deciding square is bright: p = sigmoid(20·(brightness − 0.25))."""
    brightness = images[:, SQUARE[0], SQUARE[1]].mean(axis=(1, 2, 3))
    p = 1.0 / (1.0 + np.exp(-20 * (brightness - 0.25)))
    return np.stack([1 - p, p], axis=1)


class Recording:
    def __init__(self, f):
        self.f, self.batches = f, []

    def __call__(self, images):
        self.batches.append(np.array(images))
        return self.f(images)


SEGMENTATIONS = {"quickshift": "quickshift", "slic": lambda image: slic(image, n_segments=9),
                 "grid": grid_segments()}


@pytest.mark.parametrize("segmentation", SEGMENTATIONS)
def test_finds_the_superpixel_that_decides_the_class(segmentation):
    image = tiles()
    segmentation = SEGMENTATIONS[segmentation]
    explanation = LimeImage().explain(image, bright_square_classifier, hide_color=0,
                                      segmentation=segmentation, num_samples=300, seed=0)
    assert explanation.labels == [1, 0]           # top_labels: the likelier class first
    best, weight = explanation.weights[1][0]
    assert weight > 0.3 and abs(explanation.weights[1][1][1]) < 0.1 * weight
    region = explanation.segments == best
    np.testing.assert_array_equal(region, grid_segments() == 5)  # exactly the deciding tile
    assert explanation.weights[0][0] == (best, pytest.approx(-weight))
    _, mask = explanation.image_and_mask(1, num_features=1)
    np.testing.assert_array_equal(mask, region.astype(int))


def test_samples_show_or_hide_whole_superpixels_and_the_first_is_the_image():
    image = tiles()
    classifier = Recording(bright_square_classifier)
    explanation = LimeImage().explain(image, classifier, segmentation=grid_segments(),
                                      hide_color=0.5, num_samples=40, seed=0)
    images = np.concatenate(classifier.batches)
    np.testing.assert_array_equal(images[0], image)
    segments = explanation.segments
    for sample in images[1:]:
        for k in range(9):
            pixels = sample[segments == k]
            assert np.array_equal(pixels, image[segments == k]) or (pixels == 0.5).all()


def test_hidden_superpixels_take_their_mean_colour_by_default():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(16, 16, 3))
    segments = np.repeat(np.repeat(np.array([[3, 1], [7, 2]]), 8, axis=0), 8, axis=1)
    classifier = Recording(lambda images: np.ones((len(images), 2)) / 2)
    explanation = LimeImage().explain(image, classifier, segmentation=segments, num_samples=20,
                                      seed=0)
    segments = explanation.segments                 # ids 1, 2, 3, 7 become 0..3
    assert sorted(np.unique(segments)) == [0, 1, 2, 3]
    images = np.concatenate(classifier.batches)
    hidden = [(s, k) for s in range(1, 20) for k in range(4)
              if not np.array_equal(images[s][segments == k], image[segments == k])]
    assert hidden
    for s, k in hidden:
        np.testing.assert_allclose(images[s][segments == k],
                                   np.broadcast_to(image[segments == k].mean(axis=0), (64, 3)))


def test_the_classifier_is_called_in_batches():
    classifier = Recording(bright_square_classifier)
    LimeImage().explain(tiles(), classifier, segmentation=grid_segments(), num_samples=250,
                        seed=0)
    assert [len(b) for b in classifier.batches] == [100, 100, 50]
    classifier.batches.clear()
    LimeImage().explain(tiles(), classifier, segmentation=grid_segments(), num_samples=30,
                        batch_size=10, seed=0)
    assert [len(b) for b in classifier.batches] == [10, 10, 10]


def test_identical_with_the_same_seed():
    run = lambda seed: LimeImage().explain(tiles(), bright_square_classifier, num_samples=100,
                                           segmentation=grid_segments(), seed=seed)
    assert run(3).weights == run(3).weights
    assert run(3).weights != run(4).weights


def test_proximity_is_the_cosine_distance_to_the_full_image_with_width_one_quarter():
    data = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    # cos = 1 / (1 · 2) = ½ for one of four superpixels; a blank sample is at distance 1
    np.testing.assert_allclose(cosine_distance_to_first(data), [0.0, 0.5, 1.0])
    assert LimeImage().kernel_width == 0.25


def test_a_tensor_image_goes_to_a_tapegrad_model_channels_first():
    class Bright(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = tg.nn.Parameter(tg.tensor(20.0))

        def forward(self, x):                       # x: (N, C, H, W)
            b = x[:, :, 32:64, 64:96].mean(dim=(1, 2, 3))
            p = ((b - 0.25) * self.scale).sigmoid()
            return tg.stack([1 - p, p], dim=1)

    image = tiles()
    tensor = tg.tensor(image.transpose(2, 0, 1), dtype=tg.float64)
    from_tensor = LimeImage().explain(tensor, Bright().double(), segmentation=grid_segments(),
                                      hide_color=0, num_samples=100, seed=0)
    from_numpy = LimeImage().explain(image, bright_square_classifier,
                                     segmentation=grid_segments(), hide_color=0,
                                     num_samples=100, seed=0)
    assert from_tensor.image.shape == (96, 96, 3)
    for label in (0, 1):
        np.testing.assert_allclose([w for _, w in from_tensor.weights[label]],
                                   [w for _, w in from_numpy.weights[label]], atol=1e-9)


def test_the_named_segmentations_use_their_defaults():
    image = tiles()
    for name, segment in (("quickshift", quickshift), ("slic", slic)):
        explanation = LimeImage().explain(image, bright_square_classifier, segmentation=name,
                                          num_samples=10, seed=0)
        np.testing.assert_array_equal(explanation.segments, segment(image))
    custom = LimeImage().explain(image, bright_square_classifier, num_samples=10, seed=0,
                                 segmentation=lambda im: (im[..., 0] > 0.6).astype(int))
    np.testing.assert_array_equal(custom.segments, image[..., 0] > 0.6)


def test_grey_images_and_explicit_labels():
    grey = tiles()[..., 0]
    classifier = lambda images: bright_square_classifier(np.repeat(images[..., None], 3, axis=3))
    explanation = LimeImage().explain(grey, classifier, labels=(1,), hide_color=0,
                                      segmentation=grid_segments(), num_samples=200, seed=0)
    assert explanation.labels == [1]
    assert explanation.weights[1][0][0] == 5        # the deciding tile


def test_image_and_mask_shows_positive_negative_or_both():
    image = tiles()
    explanation = LimeImage().explain(image, bright_square_classifier, hide_color=0,
                                      segmentation=grid_segments(), num_samples=300, seed=0)
    shown, mask = explanation.image_and_mask(1, positive_only=True, num_features=1,
                                             hide_rest=True)
    np.testing.assert_array_equal(shown[mask == 1], image[mask == 1])
    assert (shown[mask == 0] == 0).all()
    _, negative = explanation.image_and_mask(0, positive_only=False, negative_only=True,
                                             num_features=1)
    np.testing.assert_array_equal(negative, mask)   # what speaks for 1 speaks against 0
    tinted, both = explanation.image_and_mask(1, positive_only=False, num_features=9,
                                              min_weight=0.0)
    assert set(np.unique(both)) <= {-1, 0, 1} and (both[SQUARE] == 1).all()
    assert (tinted[SQUARE][..., 1] == image.max()).all()     # positive: green raised
    with pytest.raises(ValueError, match="cannot both be True"):
        explanation.image_and_mask(1, positive_only=True, negative_only=True)
    with pytest.raises(KeyError, match="label 5 was not explained"):
        explanation.image_and_mask(5)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(image=np.zeros((2, 2, 2, 2))), ValueError, r"\(H, W, C\) or \(H, W\)"),
    (dict(segmentation="watershed"), ValueError, "segmentation must be one of"),
    (dict(segmentation=np.zeros((4, 4), dtype=int)), ValueError, r"label map of shape \(96, 96\)"),
    (dict(labels=(7,)), IndexError, "label 7 is out of range"),
    (dict(num_samples=0), ValueError, "num_samples"),
    (dict(batch_size=0), ValueError, "batch_size must be an int"),
    (dict(hide_color=[1, 2]), ValueError, "hide_color"),
])
def test_misuse_is_named_in_the_error(kwargs, error, message):
    kwargs = {"image": tiles(), "segmentation": grid_segments(), **kwargs}
    with pytest.raises(error, match=message):
        LimeImage().explain(classifier_fn=bright_square_classifier, num_samples=kwargs.pop(
            "num_samples", 20), **kwargs)


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_model_gets_cuda_batches():
    devices = []

    class Bright(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = tg.nn.Parameter(tg.tensor(20.0))

        def forward(self, x):
            devices.append(x.device.type)
            p = ((x[:, :, 32:64, 64:96].mean(dim=(1, 2, 3)) - 0.25) * self.scale).sigmoid()
            return tg.stack([1 - p, p], dim=1)

    image = tg.tensor(tiles().transpose(2, 0, 1), dtype=tg.float32, device="cuda")
    explanation = LimeImage().explain(image, Bright().cuda(), segmentation=grid_segments(),
                                      hide_color=0, num_samples=100, seed=0)
    assert set(devices) == {"cuda"} and explanation.weights[1][0][0] == 5
