"""Image transforms: small callables that a dataset applies to each sample.

They follow torchvision's names and its usual pipeline, with numpy arrays where
torchvision has PIL images::

    Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(m, s)])

Before ``ToTensor`` an image is a numpy array laid out as the files store it: ``(H, W)``
for grayscale (MNIST) or ``(H, W, C)`` for colour (CIFAR-10), usually uint8 in [0, 255].
``ToTensor`` turns it into a ``(C, H, W)`` tensor, and after it the layout is torchvision's
for tensors: ``(…, H, W)``. ``RandomCrop``, ``RandomHorizontalFlip`` and ``Flatten`` accept
both; ``Normalize`` needs ``(C, H, W)`` floats (a tensor or an array).

The random transforms draw from ``generator`` (a ``tg.Generator``) when given one, else
from the default generator, so ``tg.manual_seed`` makes augmentation repeatable.
"""
import numbers

from .. import backend, creation, dtypes
from ..autograd.tensor import Tensor, wrap
from ..random import rng_for


def _array_and_axes(image, name):
    """The image's array, the (height, width) axes, and a function that rewraps an array."""
    if isinstance(image, Tensor):
        if image.ndim < 2:
            raise ValueError(f"{name}: expected a tensor image of shape (..., H, W), got shape "
                             f"{tuple(image.shape)}")
        return image.array, (image.ndim - 2, image.ndim - 1), lambda a: wrap(a, image.device)
    if backend.is_array(image):
        if image.ndim not in (2, 3):
            raise ValueError(f"{name}: expected an array image of shape (H, W) or (H, W, C), "
                             f"got shape {tuple(image.shape)}")
        return image, (0, 1), lambda a: a
    raise TypeError(f"{name}: expected a numpy array or a Tensor image, got "
                    f"{type(image).__name__}")


def _pair(value, name, what):
    if isinstance(value, numbers.Integral):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise ValueError(f"{name}: {what} must be an int or a pair (height, width), got {value!r}")


def uint8_to_float(array):
    """uint8 values in [0, 255] as a contiguous tensor of the default float dtype, in [0, 1]."""
    xp = backend.xp_for(backend.device_of_array(array))
    floats = xp.ascontiguousarray(array, dtype=dtypes.get_default_dtype().numpy)
    floats /= 255
    return creation.as_tensor(floats)


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """An image array ``(H, W)`` or ``(H, W, C)`` as a ``(C, H, W)`` tensor (as torchvision).

    uint8 values in [0, 255] become floats in [0, 1] of the default dtype (float32);
    float arrays keep their values and dtype, only the layout changes.
    """

    def __call__(self, image):
        if isinstance(image, Tensor):
            raise TypeError("ToTensor: the image is already a tensor")
        if not backend.is_array(image) or image.ndim not in (2, 3):
            raise TypeError(f"ToTensor: expected a numpy array of shape (H, W) or (H, W, C), got "
                            f"{getattr(image, 'shape', type(image).__name__)}")
        chw = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
        if chw.dtype == "uint8":
            return uint8_to_float(chw)
        xp = backend.xp_for(backend.device_of_array(image))
        contiguous = xp.empty(chw.shape, chw.dtype)   # a C-ordered copy, as PyTorch's
        xp.copyto(contiguous, chw)
        return creation.as_tensor(contiguous)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """output[c] = (input[c] - mean[c]) / std[c] for each channel of a ``(C, H, W)`` image.

    ``mean`` and ``std`` are sequences of one value per channel (or one value for all).
    The input is a float tensor or a float array; the result has the same type and dtype.
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = [float(m) for m in (mean if isinstance(mean, (tuple, list)) else [mean])]
        self.std = [float(s) for s in (std if isinstance(std, (tuple, list)) else [std])]
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean has {len(self.mean)} values but std has "
                             f"{len(self.std)}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains a zero, which would divide "
                             f"by zero")
        self.inplace = inplace

    def __call__(self, image):
        array, _, _ = _array_and_axes(image, "Normalize")
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: the image must be floating point (apply ToTensor "
                            f"first), got dtype {array.dtype}")
        if array.ndim < 3:
            raise ValueError(f"Normalize: expected an image of shape (C, H, W), got shape "
                             f"{tuple(array.shape)}")
        channels = array.shape[-3]
        if len(self.mean) not in (1, channels):
            raise ValueError(f"Normalize: {len(self.mean)} means and stds for an image with "
                             f"{channels} channels (shape {tuple(array.shape)})")
        if isinstance(image, Tensor):  # tensor arithmetic, so a tape sees it
            mean, std = (creation.tensor(v, dtype=image.dtype, device=image.device)
                         .reshape(-1, 1, 1) for v in (self.mean, self.std))
            if self.inplace:
                return image.sub_(mean).div_(std)
            return (image - mean) / std
        xp = backend.xp_for(backend.device_of_array(array))
        mean, std = (xp.asarray(v, dtype=array.dtype).reshape(-1, 1, 1)
                     for v in (self.mean, self.std))
        if self.inplace:
            array -= mean
            array /= std
            return array
        return (array - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class RandomCrop:
    """A random ``size`` window of the image, after padding each border by ``padding``.

    ``size`` is an int (square) or (height, width). ``padding`` is an int (all borders),
    (left/right, top/bottom) or (left, top, right, bottom), as torchvision; the border is
    ``fill`` for ``padding_mode="constant"``, else numpy's "edge", "reflect" or
    "symmetric" padding. ``pad_if_needed`` pads an image smaller than ``size`` up to it.
    """

    def __init__(self, size, padding=0, pad_if_needed=False, fill=0, padding_mode="constant",
                 generator=None):
        self.size = _pair(size, "RandomCrop", "size")
        self.padding = self._borders(padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: padding_mode must be 'constant', 'edge', 'reflect' or "
                             f"'symmetric', got {padding_mode!r}")
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    @staticmethod
    def _borders(padding):
        """(left, top, right, bottom) from torchvision's three ways of giving padding."""
        if isinstance(padding, numbers.Integral):
            padding = (padding,) * 4
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        if not (isinstance(padding, (tuple, list)) and len(padding) == 4
                and all(isinstance(p, numbers.Integral) and p >= 0 for p in padding)):
            raise ValueError(f"RandomCrop: padding must be a non-negative int, or a sequence of "
                             f"2 or 4 of them, got {padding!r}")
        return tuple(int(p) for p in padding)

    def _pad(self, array, axes, left, top, right, bottom):
        if not (left or top or right or bottom):
            return array
        widths = [(0, 0)] * array.ndim
        widths[axes[0]], widths[axes[1]] = (top, bottom), (left, right)
        xp = backend.xp_for(backend.device_of_array(array))
        if self.padding_mode == "constant":
            return xp.pad(array, widths, mode="constant", constant_values=self.fill)
        return xp.pad(array, widths, mode=self.padding_mode)

    def __call__(self, image):
        array, axes, rewrap = _array_and_axes(image, "RandomCrop")
        array = self._pad(array, axes, *self.padding)
        height, width = array.shape[axes[0]], array.shape[axes[1]]
        crop_h, crop_w = self.size
        if self.pad_if_needed and (height < crop_h or width < crop_w):
            grow_h, grow_w = max(crop_h - height, 0), max(crop_w - width, 0)
            array = self._pad(array, axes, grow_w, grow_h, grow_w, grow_h)
            height, width = array.shape[axes[0]], array.shape[axes[1]]
        if height < crop_h or width < crop_w:
            raise ValueError(f"RandomCrop: the crop size {(crop_h, crop_w)} is larger than the "
                             f"(padded) image size {(height, width)}")
        top = left = 0
        if (height, width) != (crop_h, crop_w):  # (torchvision draws nothing in this case)
            rng = rng_for("cpu", self.generator)
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
        window = [slice(None)] * array.ndim
        window[axes[0]] = slice(top, top + crop_h)
        window[axes[1]] = slice(left, left + crop_w)
        return rewrap(array[tuple(window)].copy())

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """The image mirrored left to right, with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, image):
        array, axes, rewrap = _array_and_axes(image, "RandomHorizontalFlip")
        if rng_for("cpu", self.generator).random() >= self.p:
            return image
        xp = backend.xp_for(backend.device_of_array(array))
        return rewrap(xp.flip(array, axis=axes[1]).copy())

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Lambda:
    """Your own function as a transform: ``Lambda(lambda x: x.clamp(0, 1))``."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, image):
        return self.lambd(image)

    def __repr__(self):
        return "Lambda()"


class Flatten:
    """The image as one vector (for a multilayer perceptron): shape (C·H·W,) or (H·W·C,)."""

    def __call__(self, image):
        if isinstance(image, Tensor):
            return image.reshape(-1)
        if backend.is_array(image):
            return image.reshape(-1)
        raise TypeError(f"Flatten: expected a numpy array or a Tensor, got {type(image).__name__}")

    def __repr__(self):
        return "Flatten()"


__all__ = ["Compose", "Flatten", "Lambda", "Normalize", "RandomCrop", "RandomHorizontalFlip", "ToTensor"]
