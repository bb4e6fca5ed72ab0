"""Turning a list of samples into one batch: ``default_collate`` (and ``default_convert``).

A sample is usually a tuple ``(image, label)``; a batch of them should be the tuple
``(images, labels)`` with one new leading dimension. ``default_collate`` does this
recursively, following PyTorch:

    tensors          -> tg.stack(samples)                  (shapes must match)
    numpy arrays     -> tensors of the same dtype, stacked
    numpy scalars    -> a 1-d tensor of their dtype
    Python floats    -> a 1-d float64 tensor, as PyTorch makes it (cast targets with .float())
    Python ints      -> a 1-d int64 tensor;  bools -> a 1-d bool tensor
    str / bytes      -> left alone: the list of samples
    dicts            -> a dict of collated values, key by key
    tuples, lists    -> "transposed": a list whose k-th entry collates the samples' k-th
                        entries (tuples become lists, as in PyTorch; named tuples stay named)
"""
import collections.abc

from .. import backend, creation, dtypes
from ..autograd.ops.shape import stack
from ..autograd.tensor import Tensor


def _is_numpy_scalar(value):
    return (type(value).__module__ == "numpy" and hasattr(value, "dtype")
            and not backend.is_array(value))


def _transposed(batch):
    size = len(batch[0])
    for k, sample in enumerate(batch):
        if len(sample) != size:
            raise RuntimeError(f"default_collate: each element in list of batch should be of "
                               f"equal size, but sample 0 has {size} entries and sample {k} has "
                               f"{len(sample)}")
    return list(zip(*batch))


def default_collate(batch):
    """The samples of ``batch`` (a list) merged into one batch, as described in this module."""
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise TypeError(f"default_collate expects a non-empty list of samples, got {batch!r}")
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(list(batch))
    if backend.is_array(first):
        if first.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: numpy arrays of dtype {first.dtype} (strings or "
                            f"objects) cannot become tensors")
        return stack([creation.as_tensor(array) for array in batch])
    if _is_numpy_scalar(first):
        return creation.tensor(backend.host_array(list(batch)))
    if isinstance(first, int):  # bools too: tg.tensor makes ints int64 and bools bool
        return creation.tensor(list(batch))
    if isinstance(first, float):
        return creation.tensor(list(batch), dtype=dtypes.float64)
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in first}
        try:
            return type(first)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
        return type(first)(*(default_collate(list(samples)) for samples in _transposed(batch)))
    if isinstance(first, collections.abc.Sequence):
        return [default_collate(list(samples)) for samples in _transposed(batch)]
    raise TypeError(f"default_collate: a batch must contain tensors, numpy arrays, numbers, "
                    f"strings, dicts or lists; found {type(first).__name__}")


def default_convert(data):
    """One sample made tensor-friendly without batching (for ``DataLoader(batch_size=None)``):
    numpy arrays become tensors, containers are converted inside, everything else is kept."""
    if backend.is_array(data) and data.dtype.kind not in "OSUV":
        return creation.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(value) for value in data]
    return data


__all__ = ["default_collate", "default_convert"]
