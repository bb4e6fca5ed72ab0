"""``FakeData``: random labelled images made on demand, for trying a pipeline without data.

Sample ``i`` is drawn from its own generator seeded with ``i + random_offset``, so it is the
same every time it is asked for and does not disturb ``tg.manual_seed``'s stream: the
image is ``tg.randn(*image_size)`` and the label ``tg.randint(0, num_classes, (1,))[0]``,
both from that generator. As torchvision does (it makes a PIL image of the noise), the
noise times 255 becomes 8-bit pixels, truncated toward zero and wrapped modulo 256, so
the transform receives a uint8 array laid out as the other image data sets' are: ``(H, W)``
for one channel, else ``(H, W, C)``. Without a transform the image comes out as
``ToTensor()`` would make it: a float32 ``(C, H, W)`` tensor in [0, 1].
"""
import operator

import numpy as np  # pixels are made on the host

from .. import creation
from ..random import Generator
from .dataset import Dataset
from .transforms import ToTensor

_to_tensor = ToTensor()


class FakeData(Dataset):
    """``FakeData(size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
    target_transform=None, random_offset=0)``: torchvision's arguments and defaults."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"FakeData: size must be a non-negative integer, got {size!r}")
        image_size = tuple(image_size)
        if len(image_size) != 3 or any(not isinstance(d, int) or d <= 0 for d in image_size):
            raise ValueError(f"FakeData: image_size must be (channels, height, width) of positive "
                             f"integers, got {image_size!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"FakeData: num_classes must be a positive integer, got "
                             f"{num_classes!r}")
        self.size = size
        self.image_size = image_size
        self.num_classes = num_classes
        self.transform = transform
        self.target_transform = target_transform
        self.random_offset = random_offset

    def __len__(self):
        return self.size

    def _pixels_and_label(self, index):
        """Sample ``index``'s uint8 image, laid out (H, W) or (H, W, C), and its label."""
        generator = Generator().manual_seed(index + self.random_offset)
        noise = creation.randn(*self.image_size, generator=generator).numpy()
        label = int(creation.randint(0, self.num_classes, (1,), generator=generator)[0])
        pixels = ((noise * 255).astype(np.int64) % 256).astype(np.uint8)  # wraps, as a byte cast
        pixels = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
        return np.ascontiguousarray(pixels), label

    def __getitem__(self, index):
        index = operator.index(index)
        if not -self.size <= index < self.size:
            raise IndexError(f"FakeData index out of range: {index} for a data set of "
                             f"{self.size} samples")
        image, target = self._pixels_and_label(index % self.size)
        image = _to_tensor(image) if self.transform is None else self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self):
        lines = ["Dataset FakeData", f"    Number of datapoints: {self.size}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


__all__ = ["FakeData"]
