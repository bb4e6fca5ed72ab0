"""Image files: PNG written by tapegrad and read back by others, reading modes, JPEG, errors."""
import io

import numpy as np
import pytest
from matplotlib import image as mpimg
from PIL import Image

import tapegrad as tg
from tapegrad.vision.io import (ImageReadMode, decode_image, decode_jpeg, decode_png,
                                encode_jpeg, encode_png, read_file, read_image, write_file,
                                write_jpeg, write_png)

rng = np.random.default_rng(0)


def random_image(channels, height=5, width=7):
    return tg.from_numpy(rng.integers(0, 256, (channels, height, width), dtype=np.uint8))


def pillow_file(array, tmp_path, name, **save_args):
    """``array`` (H, W[, C]) saved by Pillow: files tapegrad did not write."""
    path = tmp_path / name
    Image.fromarray(array).save(path, **save_args)
    return path


@pytest.mark.parametrize("channels, pillow_mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_write_png_is_read_back_exactly_by_pillow_and_matplotlib(tmp_path, channels, pillow_mode):
    image = random_image(channels)
    write_png(image, tmp_path / "x.png")
    hwc = image.numpy().transpose(1, 2, 0)
    with Image.open(tmp_path / "x.png") as read_back:
        assert read_back.mode == pillow_mode and read_back.size == (7, 5)
        np.testing.assert_array_equal(np.asarray(read_back).reshape(hwc.shape), hwc)
    if channels != 2:  # (matplotlib shows gray + alpha as RGBA)
        floats = mpimg.imread(tmp_path / "x.png")  # matplotlib gives k / 255
        np.testing.assert_array_equal(np.round(floats * 255).reshape(hwc.shape), hwc)


def test_read_image_round_trips_write_png(tmp_path):
    for channels in (1, 2, 3, 4):
        image = random_image(channels, 9, 4)
        write_png(image, tmp_path / "x.png")
        read_back = read_image(tmp_path / "x.png")
        assert read_back.dtype is tg.uint8 and read_back.shape == (channels, 9, 4)
        assert tg.equal(read_back, image)


def test_compression_levels_change_the_size_not_the_pixels():
    image = tg.zeros(3, 64, 64, dtype=tg.uint8)
    stored, smallest = encode_png(image, 0), encode_png(image, 9)
    assert stored.numel() > 3 * 64 * 64 > smallest.numel()
    assert tg.equal(decode_png(stored), decode_png(smallest))
    with pytest.raises(ValueError, match="Compression level should be between 0 and 9"):
        encode_png(image, 10)


def test_encode_png_gives_the_bytes_of_a_png_file():
    data = encode_png(random_image(3))
    assert data.dtype is tg.uint8 and data.ndim == 1
    assert bytes(data.numpy()[:8]) == b"\x89PNG\r\n\x1a\n"
    assert bytes(data.numpy()[12:16]) == b"IHDR" and bytes(data.numpy()[-8:-4]) == b"IEND"


@pytest.mark.parametrize("mode, channels", [
    (ImageReadMode.UNCHANGED, 3), (ImageReadMode.GRAY, 1), (ImageReadMode.GRAY_ALPHA, 2),
    (ImageReadMode.RGB, 3), (ImageReadMode.RGB_ALPHA, 4), ("gray", 1), ("RGBA", 4),
])
def test_read_modes_choose_the_channels(tmp_path, mode, channels):
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    image = read_image(pillow_file(rgb, tmp_path, "rgb.png"), mode)
    assert image.shape == (channels, 6, 5) and image.dtype is tg.uint8
    if channels >= 3:
        np.testing.assert_array_equal(image.numpy()[:3], rgb.transpose(2, 0, 1))
    if channels in (2, 4):
        assert (image.numpy()[-1] == 255).all()  # no alpha in the file: opaque


def test_gray_from_colour_uses_luma_weights(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    gray = read_image(pillow_file(rgb, tmp_path, "rgb.png"), ImageReadMode.GRAY).numpy()[0, 0]
    np.testing.assert_allclose(gray, [0.299 * 255, 0.587 * 255, 0.114 * 255, 255], atol=1)


def test_gray_files_read_as_rgb_repeat_the_channel(tmp_path):
    gray = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    image = read_image(pillow_file(gray, tmp_path, "g.png"), ImageReadMode.RGB).numpy()
    assert all((image[c] == gray).all() for c in range(3))
    assert read_image(tmp_path / "g.png").shape == (1, 4, 3)


def test_a_palette_png_reads_as_its_colours(tmp_path):
    palette_image = Image.new("P", (3, 2))
    palette_image.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
    palette_image.putdata([0, 1, 0, 1, 1, 0])
    palette_image.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png").numpy()
    assert image.shape == (3, 2, 3)
    assert image[:, 0, 0].tolist() == [10, 20, 30] and image[:, 0, 1].tolist() == [200, 100, 0]


def test_a_16_bit_gray_png_keeps_its_values_as_int32(tmp_path):
    values = np.array([[0, 1, 65535], [300, 40000, 7]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.dtype is tg.int32 and image.shape == (1, 2, 3)
    np.testing.assert_array_equal(image.numpy()[0], values)
    assert read_image(tmp_path / "deep.png", "RGB").shape == (3, 2, 3)


def test_a_16_bit_colour_png_is_refused_rather_than_read_inexactly():
    header = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0d" + b"IHDR"
              + b"\x00\x00\x00\x02\x00\x00\x00\x02" + bytes([16, 2, 0, 0, 0]) + b"\x00" * 4)
    with pytest.raises(ValueError, match="16-bit colour PNG"):
        decode_image(tg.from_numpy(np.frombuffer(header, np.uint8).copy()))


def test_jpeg_round_trip_is_close(tmp_path):
    smooth = np.broadcast_to(np.linspace(0, 255, 32, dtype=np.uint8), (3, 32, 32)).copy()
    write_jpeg(tg.from_numpy(smooth), tmp_path / "x.jpg", quality=95)
    image = read_image(tmp_path / "x.jpg")
    assert image.shape == (3, 32, 32) and image.dtype is tg.uint8
    assert np.abs(image.numpy().astype(int) - smooth).mean() < 3
    assert tg.equal(decode_jpeg(read_file(tmp_path / "x.jpg")), image)
    assert encode_jpeg(tg.from_numpy(smooth), quality=10).numel() < encode_jpeg(
        tg.from_numpy(smooth), quality=95).numel()
    with pytest.raises(ValueError, match="between 1 and 100"):
        encode_jpeg(tg.from_numpy(smooth), quality=0)


def test_exif_orientation_is_applied_on_request(tmp_path):
    wide = rng.integers(0, 256, (4, 8, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = pillow_file(wide, tmp_path, "turned.jpg", exif=exif)
    assert read_image(path).shape == (3, 4, 8)
    assert read_image(path, apply_exif_orientation=True).shape == (3, 8, 4)


def test_decode_image_takes_file_bytes_or_a_path(tmp_path):
    image = random_image(3)
    write_png(image, tmp_path / "x.png")
    data = read_file(tmp_path / "x.png")
    assert data.dtype is tg.uint8 and data.ndim == 1
    assert tg.equal(decode_image(data), image) and tg.equal(decode_image(str(tmp_path / "x.png")),
                                                            image)
    write_file(tmp_path / "copy.png", data)
    assert (tmp_path / "copy.png").read_bytes() == (tmp_path / "x.png").read_bytes()


def test_other_formats_pillow_reads(tmp_path):
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    for name in ("x.bmp", "x.tiff"):
        np.testing.assert_array_equal(
            read_image(pillow_file(rgb, tmp_path, name)).numpy(), rgb.transpose(2, 0, 1))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="GIF")
    assert decode_image(tg.from_numpy(np.frombuffer(buffer.getvalue(), np.uint8).copy())).shape[
        1:] == (3, 4)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="dtype should be uint8, got tapegrad.float32"):
        write_png(tg.zeros(3, 2, 2), "never.png")
    with pytest.raises(ValueError, match=r"3-dimensional.*\(2, 2\)"):
        encode_png(tg.zeros(2, 2, dtype=tg.uint8))
    with pytest.raises(ValueError, match="channels should be one of"):
        encode_jpeg(tg.zeros(4, 2, 2, dtype=tg.uint8))
    with pytest.raises(ValueError, match="1-d uint8 tensor of file bytes"):
        decode_image(tg.zeros(2, 3, dtype=tg.uint8))
    with pytest.raises(ValueError, match="not an image file"):
        decode_image(tg.from_numpy(np.frombuffer(b"hello, world", np.uint8).copy()))
    with pytest.raises(ValueError, match="PNG signature"):
        decode_png(encode_jpeg(tg.zeros(3, 2, 2, dtype=tg.uint8)))
    with pytest.raises(ValueError, match="mode must be an ImageReadMode"):
        decode_image(encode_png(tg.zeros(3, 2, 2, dtype=tg.uint8)), mode="CMYK")
