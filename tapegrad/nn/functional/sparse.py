"""Looking rows up by index: ``embedding`` and ``one_hot``.

An embedding is a table: ``weight[i]`` is the learned vector of item i, and looking a
batch of indices up is integer indexing, ``weight[input]``. Its gradient puts each output
row's gradient back into the row it came from; an index that occurs twice receives both
gradients (the indexing backward adds them up), which is what makes a word that appears
several times in a batch learn from every occurrence.
"""
import numbers

from ... import dtypes
from ...autograd import grad_mode
from ...autograd.ops.arithmetic import where
from ...autograd.tape import own_result
from ...autograd.tensor import Tensor, wrap


def _check_indices(op, input, size, what):
    """Integer indices within [0, size): clear errors naming the bad index."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor of indices, got {type(input).__name__}")
    if input.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"{op}: expected the indices to be an int64 (or int32) tensor, got "
                           f"{input.dtype}")
    if input.numel():
        low, high = int(input.array.min()), int(input.array.max())
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise IndexError(f"{op}: index {bad} is out of range for {what}={size} (valid "
                             f"indices are 0..{size - 1})")


def _renorm_rows(weight, indices, max_norm, norm_type):
    """Rescale, in place and unrecorded, the rows of ``weight`` used by ``indices`` whose
    ``norm_type``-norm exceeds ``max_norm`` so that it equals max_norm (as PyTorch does,
    with its 1e-7 guard)."""
    xp = weight.device.xp
    rows = xp.unique(indices.array.reshape(-1))
    if rows.size == 0:
        return
    selected = weight.array[rows]
    norms = xp.linalg.vector_norm(selected, ord=norm_type, axis=1)
    too_long = norms > max_norm
    if not too_long.any():
        return
    scale = xp.where(too_long, max_norm / (norms + 1e-7), 1).astype(selected.dtype, copy=False)
    weight.array[rows] = selected * scale[:, None]
    weight._version_counter.bump("embedding_renorm_")


def _scale_grad_by_frequency(output, indices):
    """Make the gradient of each looked-up row be divided by how often its index occurs in
    the batch (the value is unchanged: only the gradient passing through ``output``)."""
    xp = indices.device.xp
    flat = indices.array.reshape(-1)
    _, inverse, counts = xp.unique(flat, return_inverse=True, return_counts=True)
    inverse_frequency = (1.0 / counts[inverse.reshape(-1)]).astype(output.array.dtype)
    scale = wrap(xp.asarray(inverse_frequency.reshape(tuple(indices.shape) + (1,))),
                 output.device)
    output.register_hook(lambda grad: grad * scale)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """y[…] = W[input[…]]: a (*, embedding_dim) tensor for integer indices of any shape
    and a table W (num_embeddings, embedding_dim);  ∂L/∂W[i] = Σ of ∂L/∂y over the
    positions where input = i (0 for the ``padding_idx`` row)

    ``max_norm``: rows about to be looked up whose ``norm_type``-norm exceeds it are first
    rescaled in place to that norm. ``scale_grad_by_freq``: each row's gradient is divided
    by its index's count in the batch. ``sparse``: accepted for compatibility; the
    gradient is always dense here.
    """
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be a 2-D tensor (num_embeddings, "
                           f"embedding_dim), got "
                           f"{tuple(weight.shape) if isinstance(weight, Tensor) else weight!r}")
    num_embeddings = weight.shape[0]
    _check_indices("embedding", input, num_embeddings, "num_embeddings")
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings, got "
                             f"padding_idx={padding_idx} for num_embeddings={num_embeddings}")
        padding_idx %= num_embeddings
    if max_norm is not None:
        if not isinstance(max_norm, numbers.Real):
            raise TypeError(f"embedding: max_norm must be a number, got {max_norm!r}")
        with grad_mode.no_grad():
            _renorm_rows(weight, input, max_norm, norm_type)
    if input.ndim == 0:   # one row, as a new tensor (weight[i] would be a view of the table)
        output = own_result(weight[input.reshape(1)].reshape(weight.shape[1:]))
    else:
        output = weight[input]
    if not output.requires_grad:
        return output
    if scale_grad_by_freq:
        _scale_grad_by_frequency(output, input)
    if padding_idx is not None:
        padded = input.array == padding_idx
        if padded.any():
            # Same values, but the padding positions take theirs from a detached copy, so no
            # gradient reaches the padding row.
            output = where(wrap(padded[..., None], input.device), output.detach(), output)
    return output


def one_hot(tensor, num_classes=-1):
    """y[…, k] = 1 if tensor[…] = k else 0: an int64 tensor of shape (*, num_classes)
    (num_classes=-1: one more than the largest index); not differentiable"""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot: expected a Tensor of class indices, got "
                        f"{type(tensor).__name__}")
    if tensor.dtype is not dtypes.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type int64 "
                           f"(LongTensor), got {tensor.dtype}")
    xp = tensor.device.xp
    a = tensor.array
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("one_hot: can not infer the total number of classes from an "
                               "empty tensor; pass num_classes")
        num_classes = int(a.max()) + 1
    if a.size:
        low, high = int(a.min()), int(a.max())
        if low < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {low}")
        if high >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                               f"({num_classes}), got {high}")
    result = (a[..., None] == xp.arange(num_classes)).astype(dtypes.int64.numpy)
    return wrap(result, tensor.device)


__all__ = ["embedding", "one_hot"]
