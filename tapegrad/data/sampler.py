"""Samplers: the order in which a ``DataLoader`` visits a dataset (PyTorch's
``torch.utils.data.sampler``).

A sampler is an iterable of dataset indices, one epoch per ``iter(sampler)``, and usually
has a ``len``. ``DataLoader`` builds one for you (``SequentialSampler``, or
``RandomSampler`` with ``shuffle=True``) and cuts its stream into batches with a
``BatchSampler``; pass ``sampler=`` to choose the order yourself, or ``batch_sampler=`` to
choose whole batches.

Randomness follows PyTorch's rules: a sampler given a ``generator`` (a ``tg.Generator``)
draws from it directly, so its epochs continue one stream. ``RandomSampler`` without one
draws a fresh seed from the default generator at the start of each epoch, so
``tg.manual_seed`` makes its epochs repeat; ``SubsetRandomSampler`` and
``WeightedRandomSampler`` without one draw from the default generator itself.
"""
import itertools
import numbers
from typing import Generic, TypeVar

import numpy as np

from .. import creation, dtypes
from ..autograd.tensor import Tensor
from ..random import Generator, rng_for

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """The base class: subclasses define ``__iter__`` (one epoch's indices) and usually
    ``__len__``. ``Sampler[int]`` and ``Sampler[list[int]]`` work as type hints, as in
    PyTorch."""

    def __init__(self, data_source=None):
        pass  # older PyTorch took data_source here; subclasses that still pass it keep working

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__()")


class SequentialSampler(Sampler[int]):
    """0, 1, …, len(data_source) - 1, the same every epoch."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def index_arrays(self):
        """The same indices as int64 arrays (the DataLoader's fast path slices them)."""
        yield np.arange(len(self.data_source), dtype=np.int64)

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random order of the dataset's indices, a new one each epoch.

    - ``replacement=False``: shuffled passes over all ``n`` indices; a ``num_samples``
      larger than ``n`` chains whole permutations and a part of one more.
    - ``replacement=True``: ``num_samples`` independent uniform draws from [0, n).
    ``num_samples`` defaults to ``len(data_source)``.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        for block in self.index_arrays():
            yield from block.tolist()

    def index_arrays(self):
        """The indices, drawn block by block as int64 arrays (the DataLoader's fast path
        slices them; iterating the sampler yields them one by one)."""
        n = len(self.data_source)
        if n == 0:
            raise ValueError(f"RandomSampler: the data source is empty, so there is nothing to "
                             f"draw {self.num_samples} samples from")
        generator = self.generator
        if generator is None:
            # A fresh stream per epoch, seeded from the default generator (PyTorch's rule).
            seed = int(rng_for("cpu").integers(0, 2**63 - 1, dtype=np.int64))
            generator = Generator().manual_seed(seed)
        if self.replacement:
            # In blocks of 32, so a long stream is not drawn all at once (as PyTorch).
            for _ in range(self.num_samples // 32):
                yield creation.randint(0, n, (32,), generator=generator).numpy()
            yield creation.randint(0, n, (self.num_samples % 32,), generator=generator).numpy()
        else:
            for _ in range(self.num_samples // n):
                yield creation.randperm(n, generator=generator).numpy()
            yield creation.randperm(n, generator=generator).numpy()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order, a new one each epoch (without replacement)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in creation.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


def _weights_vector(weights):
    """``weights`` as a 1-d float64 host array (from a tensor, an array or a sequence)."""
    if isinstance(weights, Tensor):
        weights = weights.detach().cpu().numpy()
    try:
        array = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"weights should be a sequence of numbers, got {weights!r}") from None
    if array.ndim != 1:
        raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                         f"{tuple(array.shape)}")
    return array


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices of [0, len(weights)), index i drawn with probability
    weights[i] / sum(weights) (the weights need not sum to 1).

    With ``replacement=False`` an index is drawn at most once: each draw renormalises the
    weights of the indices not drawn yet.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        weights = _weights_vector(weights)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"WeightedRandomSampler: weights must be finite and non-negative, "
                             f"got {weights.tolist() if weights.size <= 10 else weights}")
        if not weights.sum() > 0:
            raise ValueError(f"WeightedRandomSampler: the weights sum to {weights.sum()}; at "
                             f"least one must be positive")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                             f"replacement from {np.count_nonzero(weights)} indices of positive "
                             f"weight")
        self.weights = creation.tensor(weights, dtype=dtypes.float64)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        rng = rng_for("cpu", self.generator)
        weights = self.weights.numpy()
        if self.replacement:
            # Inverse-CDF sampling: the first index whose cumulative weight exceeds u·total.
            cumulative = np.cumsum(weights)
            u = rng.random(self.num_samples) * cumulative[-1]
            drawn = np.searchsorted(cumulative, u, side="right")
            drawn = np.minimum(drawn, len(weights) - 1)  # u·total rounding up to the total
        else:
            # Gumbel-top-k: the k largest log(w) + Gumbel noise are a weighted draw without
            # replacement, in the order the draws would come.
            with np.errstate(divide="ignore"):
                keys = np.log(weights) - np.log(-np.log(rng.random(len(weights))))
            drawn = np.argsort(-keys, kind="stable")[:self.num_samples]
        yield from drawn.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """The indices of ``sampler`` (any iterable of indices) in lists of ``batch_size``;
    ``drop_last=True`` drops a last list that would be shorter."""

    def __init__(self, sampler, batch_size, drop_last):
        if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)


__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler",
           "SubsetRandomSampler", "WeightedRandomSampler"]
