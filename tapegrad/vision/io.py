"""Image files as tensors (``torchvision.io``): ``read_image`` gives a uint8 ``(C, H, W)`` tensor.

    image = read_image("cat.jpg")                       # (3, H, W) uint8
    gray = read_image("cat.jpg", ImageReadMode.GRAY)    # (1, H, W)
    write_png(image, "copy.png")

PNG files are written here, with the standard library: an 8-byte signature, then chunks
(length, type, data, CRC-32): ``IHDR`` (size, bit depth, colour type), ``IDAT`` (the rows,
each prefixed with a filter byte, compressed with zlib) and ``IEND``. Every other format,
and reading, goes through Pillow, which matplotlib brings: PNG, JPEG, GIF, BMP, TIFF, WebP …

differs: a 16-bit grayscale PNG comes back as int32 (tapegrad has no uint16); a 16-bit colour
PNG is refused, since Pillow would read it as 8-bit; converting colour to ``GRAY`` uses
Pillow's weights (L = 0.299 R + 0.587 G + 0.114 B).
"""
import enum
import io
import os
import struct
import zlib

import numpy as np  # files are read and written on the host

from .. import creation, dtypes
from ..autograd.tensor import Tensor

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA


class ImageReadMode(enum.Enum):
    """The channels to read: as stored, or converted to gray / gray+alpha / RGB / RGBA."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


def _read_mode(mode):
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str) and mode.upper() in ImageReadMode.__members__:
        return ImageReadMode[mode.upper()]
    raise ValueError(f"mode must be an ImageReadMode or one of "
                     f"{list(ImageReadMode.__members__)}, got {mode!r}")


def _pillow():
    try:
        from PIL import Image, ImageOps  # installed with matplotlib
    except ImportError as error:
        raise ImportError("tapegrad.vision.io reads images through Pillow, which comes with "
                          "matplotlib; pip install pillow") from error
    return Image, ImageOps


# -- raw bytes ----------------------------------------------------------------------------------

def read_file(path):
    """The bytes of the file at ``path`` as a 1-d uint8 tensor."""
    with open(os.fspath(path), "rb") as file:
        data = file.read()
    return creation.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename, data):
    """Write a 1-d uint8 tensor of bytes to ``filename``."""
    with open(os.fspath(filename), "wb") as file:
        file.write(_byte_string(data, "write_file"))


def _byte_string(data, name):
    if not isinstance(data, Tensor):
        raise TypeError(f"{name}: expected a 1-d uint8 Tensor of file bytes, got "
                        f"{type(data).__name__}")
    if data.dtype is not dtypes.uint8 or data.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d uint8 tensor of file bytes, got a "
                         f"{data.ndim}-d {data.dtype} tensor of shape {tuple(data.shape)}")
    return data.detach().cpu().numpy().tobytes()


# -- decoding -----------------------------------------------------------------------------------

def _refuse_16_bit_colour_png(data):
    if data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR":
        bit_depth, colour_type = data[24], data[25]
        if bit_depth == 16 and colour_type in (2, 4, 6):
            raise ValueError("decode_image: a 16-bit colour PNG; tapegrad reads images through "
                             "Pillow, which would drop it to 8 bits, so it is refused rather "
                             "than read inexactly")


def _sixteen_bit_gray(image, mode):
    """A 16-bit grayscale image as int32 (C, H, W), with the channels ``mode`` asks for."""
    gray = np.asarray(image, dtype=np.int32)
    opaque = np.full_like(gray, 65535)
    channels = {ImageReadMode.UNCHANGED: [gray], ImageReadMode.GRAY: [gray],
                ImageReadMode.GRAY_ALPHA: [gray, opaque], ImageReadMode.RGB: [gray] * 3,
                ImageReadMode.RGB_ALPHA: [gray] * 3 + [opaque]}[mode]
    return np.stack(channels)


def _pillow_mode(image, mode):
    """The Pillow mode to convert ``image`` to, for ``mode``."""
    if mode is ImageReadMode.UNCHANGED:
        if image.mode in ("L", "LA", "RGB", "RGBA"):
            return image.mode
        if image.mode == "1":
            return "L"
        if image.mode in ("P", "PA"):  # a palette: its colours, with alpha if it has any
            transparent = image.mode == "PA" or "transparency" in image.info
            return "RGBA" if transparent else "RGB"
        return "RGB"  # CMYK, YCbCr …
    return {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA", ImageReadMode.RGB: "RGB",
            ImageReadMode.RGB_ALPHA: "RGBA"}[mode]


def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """An image file's bytes (a 1-d uint8 tensor, or a path) as a ``(C, H, W)`` uint8 tensor.

    ``mode``: an ``ImageReadMode`` (or its name) choosing the channels; ``UNCHANGED`` keeps
    the file's (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; palettes become RGB or RGBA).
    ``apply_exif_orientation``: turn the image as its EXIF orientation tag says.
    """
    if isinstance(input, (str, os.PathLike)):
        input = read_file(input)
    data = _byte_string(input, "decode_image")
    mode = _read_mode(mode)
    _refuse_16_bit_colour_png(data)
    Image, ImageOps = _pillow()
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as error:  # Pillow raises several types for a bad file
        raise ValueError(f"decode_image: the {len(data)} bytes are not an image file Pillow can "
                         f"read ({error})") from error
    if apply_exif_orientation:
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16"):
        pixels = _sixteen_bit_gray(image, mode)
    else:
        target = _pillow_mode(image, mode)
        pixels = np.asarray(image if image.mode == target else image.convert(target))
        pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return creation.from_numpy(np.ascontiguousarray(pixels))


def decode_png(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """``decode_image`` for bytes that must be a PNG file."""
    if _byte_string(input, "decode_png")[:8] != PNG_SIGNATURE:
        raise ValueError("decode_png: the bytes do not start with the PNG signature")
    return decode_image(input, mode, apply_exif_orientation)


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """``decode_image`` for bytes that must be a JPEG file."""
    if _byte_string(input, "decode_jpeg")[:2] != b"\xff\xd8":
        raise ValueError("decode_jpeg: the bytes do not start with the JPEG marker FF D8")
    return decode_image(input, mode, apply_exif_orientation)


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """The image file at ``path`` as a ``(C, H, W)`` uint8 tensor (see ``decode_image``)."""
    return decode_image(read_file(path), mode, apply_exif_orientation)


# -- encoding -----------------------------------------------------------------------------------

def _image_array(input, name, channels):
    """A uint8 (C, H, W) tensor as a host (H, W, C) array, after checking it."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a uint8 Tensor (C, H, W), got {type(input).__name__}")
    if input.dtype is not dtypes.uint8:
        raise ValueError(f"{name}: input tensor dtype should be uint8, got {input.dtype}")
    if input.ndim != 3:
        raise ValueError(f"{name}: input data should be a 3-dimensional tensor (C, H, W), got "
                         f"shape {tuple(input.shape)}")
    if input.shape[0] not in channels:
        raise ValueError(f"{name}: the number of channels should be one of {channels}, got "
                         f"{input.shape[0]} (shape {tuple(input.shape)})")
    return np.ascontiguousarray(input.detach().cpu().numpy().transpose(1, 2, 0))


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(input, compression_level=6):
    """A uint8 ``(C, H, W)`` image (C = 1, 2, 3 or 4) as the bytes of a PNG file, a 1-d uint8
    tensor; ``compression_level`` is zlib's, 0 (none) to 9 (smallest)."""
    if not 0 <= compression_level <= 9:
        raise ValueError(f"Compression level should be between 0 and 9, got {compression_level}")
    pixels = _image_array(input, "encode_png", (1, 2, 3, 4))
    height, width, channels = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[channels], 0, 0, 0)
    # Each row starts with its filter type; 0 means the bytes are stored as they are.
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, -1)], axis=1)
    data = (PNG_SIGNATURE + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), compression_level))
            + _png_chunk(b"IEND", b""))
    return creation.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_png(input, filename, compression_level=6):
    """Write a uint8 ``(C, H, W)`` image to ``filename`` as a PNG file."""
    write_file(filename, encode_png(input, compression_level))


def encode_jpeg(input, quality=75):
    """A uint8 ``(C, H, W)`` image (C = 1 or 3) as the bytes of a JPEG file (through Pillow);
    ``quality`` from 1 to 100."""
    if not 1 <= quality <= 100:
        raise ValueError(f"Image quality should be a positive number between 1 and 100, got "
                         f"{quality}")
    pixels = _image_array(input, "encode_jpeg", (1, 3))
    Image, _ = _pillow()
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(
        buffer, format="JPEG", quality=quality)
    return creation.from_numpy(np.frombuffer(buffer.getvalue(), dtype=np.uint8).copy())


def write_jpeg(input, filename, quality=75):
    """Write a uint8 ``(C, H, W)`` image to ``filename`` as a JPEG file."""
    write_file(filename, encode_jpeg(input, quality))


__all__ = ["ImageReadMode", "decode_image", "decode_jpeg", "decode_png", "encode_jpeg",
           "encode_png", "read_file", "read_image", "write_file", "write_jpeg", "write_png"]
