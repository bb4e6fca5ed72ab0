"""``DataLoader``: a dataset served in (shuffled) batches, one epoch per ``for`` loop.

Each epoch the loader decides the order of the sample indices (0, 1, 2, … or, with
``shuffle=True``, a fresh random permutation), cuts it into runs of ``batch_size``, and
turns each run into a batch. With the default collate it asks the dataset for the whole
batch at once (``dataset.get_batch(indices)``, see ``dataset.py``), so a ``TensorDataset``
batch costs one fancy-index per tensor rather than ``batch_size`` calls to ``__getitem__``.
"""
from .. import creation
from .collate import default_collate, default_convert


class DataLoader:
    """Batches of ``dataset``: ``for x, y in DataLoader(ds, batch_size=64, shuffle=True)``.

    - ``batch_size``: samples per batch; ``None`` turns batching off (each sample is
      yielded alone, numpy arrays converted to tensors), as in PyTorch.
    - ``shuffle``: a new random order every epoch, drawn from ``generator`` (a
      ``tg.Generator``), or from the default generator that ``tg.manual_seed`` reseeds.
    - ``drop_last``: skip the last batch when it would be smaller than ``batch_size``.
    - ``collate_fn``: merges a list of samples into a batch (default: ``default_collate``).
    - ``num_workers`` and ``pin_memory`` are accepted so PyTorch scripts run unchanged;
      tapegrad always loads in the calling process, so they change nothing.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 generator=None, *, num_workers=0, pin_memory=False):
        if batch_size is not None:
            if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
                raise ValueError(f"DataLoader: batch_size should be a positive integer or None, "
                                 f"got {batch_size!r}")
        elif drop_last:
            raise ValueError("DataLoader: batch_size=None turns batching off, so drop_last=True "
                             "means nothing; drop one of them")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, got "
                             f"{num_workers!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def __len__(self):
        """The number of batches in one epoch."""
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _order(self):
        """This epoch's sample indices, as a host int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            return creation.randperm(n, generator=self.generator).array
        return creation.arange(n).array

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            convert = self.collate_fn or default_convert
            for i in order.tolist():
                yield convert(self.dataset[i])
            return
        fetch = self._fetcher()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield fetch(order[start:start + self.batch_size])

    def _fetcher(self):
        """A function from a run of indices to a batch: the fast path when it is allowed."""
        if self.collate_fn is None or self.collate_fn is default_collate:
            get_batch = getattr(self.dataset, "get_batch", None)
            if get_batch is not None:
                return get_batch
        collate = self.collate_fn or default_collate
        return lambda indices: collate([self.dataset[i] for i in indices.tolist()])


__all__ = ["DataLoader"]
