"""``DataLoader``: a dataset served in (shuffled) batches, one epoch per ``for`` loop.

The order of the samples comes from a sampler (``sampler.py``): ``SequentialSampler``
(0, 1, 2, …) by default, ``RandomSampler`` with ``shuffle=True``, or the one you pass.
A ``BatchSampler`` cuts that stream into runs of ``batch_size`` (or you pass your own
``batch_sampler``), and each run becomes a batch. With the default collate the loader asks
the dataset for the whole batch at once (``dataset.get_batch(indices)``, see
``dataset.py``), so a ``TensorDataset`` batch costs one fancy-index per tensor rather than
``batch_size`` calls to ``__getitem__``.
"""
import numpy as np

from .collate import default_collate, default_convert
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Batches of ``dataset``: ``for x, y in DataLoader(ds, batch_size=64, shuffle=True)``.

    - ``batch_size``: samples per batch; ``None`` turns batching off (each sample is
      yielded alone, numpy arrays converted to tensors), as in PyTorch.
    - ``shuffle``: a new random order every epoch (a ``RandomSampler``), drawn from
      ``generator`` (a ``tg.Generator``), or from the default generator that
      ``tg.manual_seed`` reseeds.
    - ``sampler``: the order of the indices instead (not with ``shuffle``);
      ``batch_sampler``: whole batches of indices instead (not with ``batch_size``,
      ``shuffle``, ``sampler`` or ``drop_last``).
    - ``drop_last``: skip the last batch when it would be smaller than ``batch_size``.
    - ``collate_fn``: merges a list of samples into a batch (default: ``default_collate``).
    - ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``,
      ``multiprocessing_context``, ``prefetch_factor``, ``persistent_workers``,
      ``pin_memory_device`` and ``in_order`` are checked as PyTorch checks them so PyTorch
      scripts run unchanged; tapegrad always loads in the calling process, so they change
      nothing (batches always come in the sampler's order, which ``in_order=False`` allows).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer or None, "
                             f"got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers option should be non-negative; use num_workers=0 to "
                             f"disable multiprocessing (got {num_workers!r})")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        # PyTorch's rules for which ways of choosing the order may be combined.
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order

    @property
    def _index_sampler(self):
        """What one epoch iterates: batches of indices, or single indices without batching."""
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self):
        """The number of batches in one epoch (of samples, with batching turned off)."""
        return len(self._index_sampler)

    def __iter__(self):
        if self.batch_sampler is None:
            convert = self.collate_fn or default_convert
            for i in self.sampler:
                yield convert(self.dataset[i])
            return
        fetch = self._fetcher()
        if getattr(fetch, "__func__", None) is not DataLoader._fetch_each and \
                type(self.batch_sampler) is BatchSampler and \
                hasattr(self.batch_sampler.sampler, "index_arrays"):
            # The default samplers: cut batches from int64 arrays rather than lists of ints
            batch_sampler = self.batch_sampler
            for indices in _batches_of(batch_sampler.sampler.index_arrays(),
                                       batch_sampler.batch_size, batch_sampler.drop_last):
                yield fetch(indices)
            return
        for indices in self.batch_sampler:
            yield fetch(indices)

    def _fetch_each(self, indices):
        return (self.collate_fn or default_collate)([self.dataset[i] for i in indices])

    def _fetcher(self):
        """A function from a list of indices to a batch: the fast path when it is allowed."""
        if self.collate_fn is None or self.collate_fn is default_collate:
            get_batch = getattr(self.dataset, "get_batch", None)
            if get_batch is not None:
                return lambda indices: self._batch_at(indices, get_batch)
        return self._fetch_each

    def _batch_at(self, indices, get_batch):
        """``get_batch`` at integer indices; other keys (a custom sampler's) go one by one."""
        array = np.asarray(indices)
        if array.dtype.kind not in "iu" or array.ndim != 1:
            return default_collate([self.dataset[i] for i in indices])
        return get_batch(array.astype(np.int64, copy=False))


def _batches_of(blocks, batch_size, drop_last):
    """Consecutive slices of ``batch_size`` indices across a stream of int64 arrays."""
    pending = np.empty(0, dtype=np.int64)
    for block in blocks:
        pending = np.concatenate([pending, block]) if pending.size else block
        while pending.size >= batch_size:
            yield pending[:batch_size]
            pending = pending[batch_size:]
    if pending.size and not drop_last:
        yield pending


__all__ = ["DataLoader"]
