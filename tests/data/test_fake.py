"""FakeData: torchvision's defaults, one fixed random sample per index, transforms applied."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import DataLoader, FakeData
from tapegrad.data.transforms import Lambda


def test_defaults_are_torchvisions():
    data = FakeData()
    assert len(data) == 1000 and data.image_size == (3, 224, 224) and data.num_classes == 10
    assert data.random_offset == 0 and data.transform is None and data.target_transform is None
    image, label = data[0]
    assert image.shape == (3, 224, 224) and image.dtype is tg.float32
    assert isinstance(label, int) and 0 <= label < 10
    assert 0 <= float(image.min()) and float(image.max()) <= 1


def test_each_index_is_the_same_sample_every_time_and_leaves_the_global_stream_alone():
    data = FakeData(size=5, image_size=(3, 8, 6))
    tg.manual_seed(0)
    expected_next = tg.rand(3).tolist()
    tg.manual_seed(0)
    first = [data[i] for i in range(5)]
    assert tg.rand(3).tolist() == expected_next
    again = [data[i] for i in reversed(range(5))][::-1]
    for (a, la), (b, lb) in zip(first, again):
        assert tg.equal(a, b) and la == lb
    assert not tg.equal(first[0][0], first[1][0])


def test_the_image_is_the_seeded_normal_noise_as_bytes():
    data = FakeData(size=3, image_size=(2, 4, 5), num_classes=7, random_offset=10,
                    transform=Lambda(lambda pixels: pixels))
    pixels, label = data[2]
    generator = tg.Generator().manual_seed(12)  # index 2 + random_offset 10
    noise = tg.randn(2, 4, 5, generator=generator).numpy()
    assert label == tg.randint(0, 7, (1,), generator=generator).item()
    expected = np.trunc(noise * 255).astype(np.int64) % 256
    assert pixels.dtype == np.uint8 and pixels.shape == (4, 5, 2)  # (H, W, C), as a file's
    np.testing.assert_array_equal(pixels, expected.transpose(1, 2, 0))


def test_random_offset_gives_other_samples():
    a, b = FakeData(size=2), FakeData(size=2, random_offset=2)
    assert tg.equal(FakeData(size=4)[2][0], b[0][0])
    assert not tg.equal(a[0][0], b[0][0])


def test_one_channel_images_reach_the_transform_as_height_by_width():
    data = FakeData(size=2, image_size=(1, 5, 3), transform=Lambda(lambda pixels: pixels.shape))
    assert data[0][0] == (5, 3)
    assert FakeData(size=2, image_size=(1, 5, 3))[0][0].shape == (1, 5, 3)


def test_target_transform_and_labels_in_range():
    data = FakeData(size=50, image_size=(1, 2, 2), num_classes=3, target_transform=lambda y: -y)
    labels = [data[i][1] for i in range(50)]
    assert set(labels) == {0, -1, -2}


def test_batches_from_a_loader():
    images, labels = next(iter(DataLoader(FakeData(size=6, image_size=(3, 4, 4)), batch_size=4)))
    assert images.shape == (4, 3, 4, 4) and labels.dtype is tg.int64 and labels.shape == (4,)


def test_indices_out_of_range_raise_index_error():
    data = FakeData(size=3, image_size=(1, 2, 2))
    assert tg.equal(data[-1][0], data[2][0])
    with pytest.raises(IndexError, match="FakeData index out of range: 3 for a data set of 3"):
        data[3]
    assert len([sample for sample in data]) == 3  # iteration stops at the IndexError


@pytest.mark.parametrize("kwargs, message", [
    ({"size": -1}, "size must be a non-negative integer"),
    ({"image_size": (3, 4)}, r"image_size must be \(channels, height, width\)"),
    ({"num_classes": 0}, "num_classes must be a positive integer"),
])
def test_bad_arguments_say_which(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FakeData(**kwargs)
