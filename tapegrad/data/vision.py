"""``ImageDataset``: labelled uint8 images held in memory, the common part of MNIST and CIFAR-10.

Sample ``i`` is ``(image, label)``. The image goes through ``transform`` as a uint8 numpy
array, ``(H, W)`` for grayscale or ``(H, W, C)`` for colour (where torchvision passes a PIL
image). Without a transform the image comes out as ``ToTensor()`` would make it: a float32
``(C, H, W)`` tensor in [0, 1] (differs: torchvision would return the PIL image). The label
is a Python int, passed through ``target_transform`` if there is one.
"""
import operator

from .. import backend, creation
from ..autograd.tensor import Tensor
from .dataset import Dataset
from .transforms import ToTensor, uint8_to_float

_to_tensor = ToTensor()


def _host(values):
    """A tensor's, array's or list's values as a host array (no copy for tensors and arrays)."""
    if isinstance(values, Tensor):
        return backend.to_numpy(values.array)
    return backend.host_array(values)


class ImageDataset(Dataset):
    """Subclasses set ``data`` (N images), ``targets`` (N labels), ``classes``, ``transform``
    and ``target_transform``."""

    def _images(self):
        return _host(self.data)

    def _labels(self):
        cached = getattr(self, "_label_cache", (None, None))
        if cached[0] is not self.targets:  # targets may be a list (CIFAR-10, as torchvision)
            cached = (self.targets, _host(self.targets).astype("int64", copy=False))
            self._label_cache = cached
        return cached[1]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        n, index = len(self), operator.index(index)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for a data "
                             f"set of {n} samples")
        image = self._images()[index].copy()  # a copy: a transform may change it in place
        target = int(self._labels()[index])
        image = _to_tensor(image) if self.transform is None else self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def get_batch(self, indices):
        """Without transforms: a batch straight from the arrays (equal to collating samples)."""
        if (self.transform is not None or self.target_transform is not None
                or type(self).__getitem__ is not ImageDataset.__getitem__):
            return super().get_batch(indices)
        images = self._images()[indices]
        # (N, H, W) or (N, H, W, C) becomes (N, C, H, W), scaled as ToTensor scales one image
        nchw = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
        return [uint8_to_float(nchw), creation.as_tensor(self._labels()[indices])]

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines += [f"    {line}" for line in self.extra_repr().splitlines()]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
