"""Transforms: ToTensor, Normalize, RandomCrop, RandomHorizontalFlip, Compose, Flatten."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data.transforms import (Compose, Flatten, Normalize, RandomCrop,
                                      RandomHorizontalFlip, ToTensor)

rng = np.random.default_rng(0)
HWC = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
HW = rng.integers(0, 256, (5, 6), dtype=np.uint8)


def seeded(seed=0):
    return tg.Generator().manual_seed(seed)


def test_to_tensor_makes_uint8_hwc_a_float32_chw_tensor_in_0_1():
    x = ToTensor()(HWC)
    assert x.shape == (3, 5, 6) and x.dtype is tg.float32 and x.array.flags.c_contiguous
    np.testing.assert_array_equal(x.numpy(), HWC.transpose(2, 0, 1).astype(np.float32) / 255)


def test_to_tensor_gives_grayscale_one_channel():
    x = ToTensor()(HW)
    assert x.shape == (1, 5, 6)
    np.testing.assert_array_equal(x.numpy()[0], HW.astype(np.float32) / 255)


def test_to_tensor_keeps_float_values_and_dtype():
    image = rng.random((4, 4, 2))
    x = ToTensor()(image)
    assert x.dtype is tg.float64 and x.shape == (2, 4, 4)
    np.testing.assert_array_equal(x.numpy(), image.transpose(2, 0, 1))


def test_to_tensor_refuses_tensors_and_other_shapes():
    with pytest.raises(TypeError, match="already a tensor"):
        ToTensor()(tg.zeros(3, 4, 4))
    with pytest.raises(TypeError, match=r"\(H, W\) or \(H, W, C\)"):
        ToTensor()(np.zeros(4, np.uint8))


def test_normalize_subtracts_the_mean_and_divides_by_the_std_per_channel():
    image = ToTensor()(HWC)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    out = Normalize(mean, std)(image)
    expected = (image.numpy() - np.array(mean, np.float32)[:, None, None]) / np.array(
        std, np.float32)[:, None, None]
    assert out.dtype is tg.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    as_array = Normalize(mean, std)(image.numpy())          # arrays work too
    np.testing.assert_allclose(as_array, expected, rtol=1e-6)


def test_normalize_one_value_applies_to_every_channel_and_inplace_changes_the_input():
    image = ToTensor()(HWC)
    expected = (image.numpy() - 0.5) / 0.5
    out = Normalize((0.5,), (0.5,), inplace=True)(image)
    assert out is image
    np.testing.assert_allclose(image.numpy(), expected, rtol=1e-6)


def test_normalize_errors_name_the_problem():
    with pytest.raises(ValueError, match="2 means and stds for an image with 3 channels"):
        Normalize((0.5, 0.5), (1, 1))(ToTensor()(HWC))
    with pytest.raises(TypeError, match="floating point.*uint8"):
        Normalize((0.5,), (1,))(HWC.transpose(2, 0, 1).copy())
    with pytest.raises(ValueError, match="contains a zero"):
        Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match="mean has 2 values but std has 1"):
        Normalize((0.5, 0.5), (1.0,))


def test_random_crop_is_a_window_of_the_image():
    crop = RandomCrop(3, generator=seeded())(HWC)
    assert crop.shape == (3, 3, 3) and crop.dtype == np.uint8
    windows = [HWC[i:i + 3, j:j + 3] for i in range(3) for j in range(4)]
    assert any(np.array_equal(crop, w) for w in windows)


def test_random_crop_pads_with_zeros_first():
    crop = RandomCrop((7, 8), padding=1, generator=seeded())(HW)
    expected = np.pad(HW, 1)
    np.testing.assert_array_equal(crop, expected)   # the only window of that size


def test_random_crop_padding_forms_and_modes():
    assert RandomCrop(3, padding=(1, 2))(HW).shape == (3, 3)
    left_top_right_bottom = RandomCrop((5 + 3, 6 + 1), padding=(1, 2, 0, 1), padding_mode="edge")
    np.testing.assert_array_equal(left_top_right_bottom(HW), np.pad(HW, ((2, 1), (1, 0)), "edge"))
    assert RandomCrop(8, pad_if_needed=True)(HW).shape == (8, 8)


def test_random_crop_of_a_chw_tensor_crops_the_last_two_dims():
    image = ToTensor()(HWC)
    crop = RandomCrop(4, padding=2, generator=seeded())(image)
    assert isinstance(crop, tg.Tensor) and crop.shape == (3, 4, 4)


def test_random_crop_is_repeatable_with_a_seeded_generator():
    def draw(seed):
        crop = RandomCrop(2, generator=seeded(seed))
        return [crop(HWC) for _ in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(draw(3), draw(3)))
    assert not all(np.array_equal(a, b) for a, b in zip(draw(3), draw(4)))


def test_random_crop_larger_than_the_image_is_an_error_naming_both_sizes():
    with pytest.raises(ValueError, match=r"crop size \(6, 6\) is larger than the \(padded\) "
                                         r"image size \(5, 6\)"):
        RandomCrop(6)(HW)
    with pytest.raises(ValueError, match="padding must be"):
        RandomCrop(3, padding=(1, 2, 3))


def test_random_horizontal_flip_mirrors_with_probability_p():
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(HWC), HWC[:, ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(HWC), HWC)
    flip = RandomHorizontalFlip(generator=seeded(0))
    flipped = [np.array_equal(flip(HW), HW[:, ::-1]) for _ in range(200)]
    assert 70 < sum(flipped) < 130
    tensor = ToTensor()(HWC)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1)(tensor).numpy(),
                                  tensor.numpy()[:, :, ::-1])


def test_random_horizontal_flip_is_repeatable_with_a_seeded_generator():
    def draw():
        flip = RandomHorizontalFlip(generator=seeded(7))
        return [flip(HW)[0, 0] for _ in range(20)]
    assert draw() == draw()
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlip(p=2)


def test_compose_applies_transforms_in_order_and_flatten_makes_a_vector():
    pipeline = Compose([RandomCrop(4, generator=seeded()), ToTensor(), Normalize((0.5,), (0.5,)),
                        Flatten()])
    out = pipeline(HW)
    assert out.shape == (16,) and out.dtype is tg.float32
    assert float(out.min()) >= -1 and float(out.max()) <= 1
    assert Flatten()(HWC).shape == (90,)
    assert "RandomCrop" in repr(pipeline)


def test_random_transforms_without_a_generator_follow_manual_seed():
    crop = RandomCrop(2)
    tg.manual_seed(3)
    a = [crop(HWC) for _ in range(5)]
    tg.manual_seed(3)
    b = [crop(HWC) for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_lambda_applies_the_function_and_checks_it_is_callable():
    from tapegrad.data.transforms import Lambda
    double = Lambda(lambda x: x * 2)
    assert double(3) == 6 and repr(double) == "Lambda()"
    pipeline = Compose([ToTensor(), Lambda(lambda t: t.clamp(0, 0.5))])
    assert float(pipeline(HWC).max()) <= 0.5
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        Lambda(3)
