"""Datasets: anything with ``len(ds)`` and ``ds[i]``, plus a few ways to make and cut them.

A dataset answers two questions: how many samples there are, and what sample ``i`` is.
``DataLoader`` asks them to build batches. A dataset may also answer a third, faster one,
``get_batch(indices)``: the whole collated batch at once (tapegrad's own hook; PyTorch has
no such method). The default asks ``self[i]`` for each index and collates the samples;
``TensorDataset`` overrides it with one fancy-index per tensor, which is what makes
training loops on in-memory data fast.
"""
import math
import warnings

from .. import backend, creation
from ..autograd.tensor import Tensor, wrap
from .collate import default_collate


class Dataset:
    """The base class of map-style datasets: override ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    def get_batch(self, indices):
        """The samples at ``indices`` (a host int array), as ``default_collate([self[i] …])``.

        Subclasses may override this with something faster that returns the same thing.
        """
        return default_collate([self[i] for i in indices.tolist()])


class TensorDataset(Dataset):
    """Sample ``i`` is ``(t[i] for t in tensors)``: tensors that share their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {k} is a {type(t).__name__}, not a "
                                f"Tensor (make one with tg.tensor(...))")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; each tensor needs a first "
                                 f"dimension that counts the samples")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: their first "
                             f"dimensions are {sizes}, and they must all be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """One fancy-index per tensor instead of one ``self[i]`` per sample, then a stack."""
        if (type(self).__getitem__ is not TensorDataset.__getitem__
                or any(t.requires_grad for t in self.tensors)):
            return super().get_batch(indices)  # a subclass's own items, or a tape to record
        # A list, as default_collate turns the samples' tuples into lists (as PyTorch).
        return [wrap(t.array[t.device.xp.asarray(indices)], t.device) for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in order: ``Subset(ds, idx)[k] = ds[idx[k]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._index_array = (None, None)  # (the indices it was made from, a host int array)

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        """The wrapped dataset's fast ``get_batch`` at the mapped indices, if it has one."""
        fetch = getattr(self.dataset, "get_batch", None)
        if fetch is None or type(self).__getitem__ is not Subset.__getitem__:
            return super().get_batch(indices)
        source, array = self._index_array
        if source is not self.indices:
            array = backend.host_array(self.indices).astype("int64", copy=False).reshape(-1)
            self._index_array = (self.indices, array)
        return fetch(array[indices])


def _split_lengths(n, lengths):
    """Integer lengths from ``lengths``, which are integers or fractions that sum to 1."""
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        # Fractions: floor each share, then hand out the remainder one by one, round-robin
        # from the first subset (PyTorch's rule).
        for k, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {k} is {fraction}, which is "
                                 f"not between 0 and 1")
        sizes = [int(math.floor(n * fraction)) for fraction in lengths]
        for k in range(n - sum(sizes)):
            sizes[k % len(sizes)] += 1
        for k, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {k} is 0; this split "
                              f"will be empty", stacklevel=3)
        return sizes
    if any(int(length) != length or length < 0 for length in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers summing to the "
                         f"dataset's length ({n}), or fractions summing to 1; got {lengths}")
    if total != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {total}, but the dataset "
                         f"has {n} samples")
    return [int(length) for length in lengths]


def random_split(dataset, lengths, generator=None):
    """``dataset`` cut into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are integers summing to ``len(dataset)``, or fractions summing to 1 (the
    floor of each share, then the remainder one each to the first splits, as PyTorch).
    The shuffle comes from ``generator`` (a ``tg.Generator``), or else from the default
    generator that ``tg.manual_seed`` reseeds.
    """
    sizes = _split_lengths(len(dataset), lengths)
    order = creation.randperm(sum(sizes), generator=generator).tolist()
    subsets, start = [], 0
    for size in sizes:
        subsets.append(Subset(dataset, order[start:start + size]))
        start += size
    return subsets


__all__ = ["Dataset", "Subset", "TensorDataset", "random_split"]
