"""Image grids (``torchvision.utils``): ``make_grid`` tiles a batch into one image,
``save_image`` writes that image to a file.

    save_image(generated, "samples.png", nrow=8, normalize=True)   # generated: (64, 3, 32, 32)

A grid of ``nrow`` columns and ⌈N / nrow⌉ rows: each image sits ``padding`` pixels after the
previous one and after the border, the gaps filled with ``pad_value``, so the result is
``(C, rows·(H + padding) + padding, columns·(W + padding) + padding)``. It is built from
tensor operations (pad, reshape, permute), so it runs on any device and keeps the tape.
"""
import math
import os

from .. import creation
from ..autograd.ops.shape import cat, stack
from ..autograd.tensor import Tensor
from ..nn import functional as F
from .io import _pillow, encode_png, write_png


def _as_batch(tensor):
    """``tensor`` (or a list of same-size images) as (N, C, H, W), one channel made three."""
    if isinstance(tensor, (list, tuple)):
        for t in tensor:
            if not isinstance(t, Tensor):
                raise TypeError(f"make_grid: tensor or list of tensors expected, got a list "
                                f"containing {type(t).__name__}")
        tensor = stack(list(tensor), dim=0)
    elif not isinstance(tensor, Tensor):
        raise TypeError(f"make_grid: tensor or list of tensors expected, got "
                        f"{type(tensor).__name__}")
    if tensor.ndim == 2:  # one (H, W) image
        tensor = tensor.unsqueeze(0)
    if tensor.ndim == 3:  # one (C, H, W) image
        if tensor.shape[0] == 1:
            tensor = tensor.expand(3, -1, -1)
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(f"make_grid: expected images of shape (N, C, H, W), (C, H, W) or "
                         f"(H, W), got shape {tuple(tensor.shape)}")
    if tensor.shape[1] == 1:  # gray images are shown as RGB
        tensor = tensor.expand(-1, 3, -1, -1)
    return tensor


def _rescaled(batch, value_range, scale_each):
    """Values clamped to [low, high] and mapped to [0, 1]; the range is ``value_range`` or the
    data's own minimum and maximum (each image's own with ``scale_each``)."""
    if value_range is not None:
        if not (isinstance(value_range, tuple) and len(value_range) == 2):
            raise TypeError(f"value_range has to be a tuple (min, max) if specified. min and "
                            f"max are numbers, got {value_range!r}")
        low, high = float(value_range[0]), float(value_range[1])
        return (batch.clamp(low, high) - low) / max(high - low, 1e-5)
    dims = (1, 2, 3) if scale_each else (0, 1, 2, 3)
    low = batch.amin(dim=dims, keepdim=True).detach()
    high = batch.amax(dim=dims, keepdim=True).detach()
    return (batch - low) / (high - low).clamp(min=1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """The images of ``tensor`` (N, C, H, W) (or a list of (C, H, W)) tiled in one (C, H', W').

    ``nrow``: images per row. ``padding``: pixels between images and around them, of value
    ``pad_value``. ``normalize``: map values to [0, 1] using ``value_range`` (low, high), or
    the batch's minimum and maximum, or with ``scale_each`` each image's own. One image
    comes back without padding, as torchvision returns it. Gray images become RGB.
    """
    batch = _as_batch(tensor)
    if batch.shape[0] == 0:
        raise ValueError("make_grid: there are no images to tile (the batch is empty)")
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    if normalize:
        batch = _rescaled(batch, value_range, scale_each)
    if batch.shape[0] == 1:
        return batch.squeeze(0)
    count, channels, height, width = batch.shape
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    if rows * columns > count:  # empty cells at the end of the last row
        blanks = creation.full((rows * columns - count, channels, height, width), pad_value,
                               dtype=batch.dtype, device=batch.device)
        batch = cat([batch, blanks], dim=0)
    # Pad every image on its top and left, so each cell is (H + padding, W + padding) …
    cells = F.pad(batch, (padding, 0, padding, 0), value=pad_value)
    cell_h, cell_w = height + padding, width + padding
    grid = (cells.reshape(rows, columns, channels, cell_h, cell_w)
            .permute(2, 0, 3, 1, 4)
            .reshape(channels, rows * cell_h, columns * cell_w))
    # … then close the grid with one more strip on the right and at the bottom.
    return F.pad(grid, (0, padding, 0, padding), value=pad_value)


def save_image(tensor, fp, format=None, **kwargs):
    """Write ``make_grid(tensor, **kwargs)`` as an 8-bit image file: values in [0, 1] become
    round(255·x) (clamped). The format follows ``format`` or the file name's extension;
    PNG is written by tapegrad itself, other formats through Pillow."""
    grid = make_grid(tensor, **kwargs).detach()
    pixels = (grid * 255 + 0.5).clamp(0, 255).to(device="cpu", dtype="uint8")
    if pixels.shape[0] not in (1, 3, 4):
        raise ValueError(f"save_image: an image file holds 1, 3 or 4 channels, the grid has "
                         f"{pixels.shape[0]} (shape {tuple(pixels.shape)})")
    name = os.fspath(fp) if isinstance(fp, (str, os.PathLike)) else None
    if format is None and name is None:
        raise ValueError("save_image: writing to a file object needs format= (e.g. 'png')")
    extension = (format or os.path.splitext(name)[1].lstrip(".")).lower()
    if extension == "png":
        if name is not None:
            write_png(pixels, name)
        else:
            fp.write(encode_png(pixels).numpy().tobytes())
        return
    Image, _ = _pillow()
    array = pixels.numpy().transpose(1, 2, 0)
    Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(fp, format=format)


__all__ = ["make_grid", "save_image"]
