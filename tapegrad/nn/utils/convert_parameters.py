"""All parameters as one flat vector and back (for second-order methods, evolution
strategies, or looking at a model as a point in weight space)."""
from ...autograd.tensor import Tensor


def _check_same_device(parameters):
    device = None
    for p in parameters:
        if device is None:
            device = p.device
        elif p.device != device:
            raise TypeError(f"Found two parameters on different devices ({device} and "
                            f"{p.device}), this is currently not supported.")


def parameters_to_vector(parameters):
    """The parameters, flattened and concatenated into one 1-D tensor (a new tensor,
    recorded on the tape like any concatenation)."""
    from ...autograd.ops.shape import cat
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    _check_same_device(parameters)
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Make the parameters take their values from consecutive slices of the 1-D ``vec``.

    As in PyTorch (``param.data = ...``), each parameter then shares memory with ``vec``;
    the parameter objects and their dtypes stay the same.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    _check_same_device(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: expected a 1-D vector of {total} elements "
                           f"(the parameters' total), got shape {tuple(vec.shape)}")
    start = 0
    for p in parameters:
        n = p.numel()
        piece = vec.array[start:start + n].reshape(p.array.shape)
        p.array = piece.astype(p.array.dtype, copy=False)
        p.device = vec.device
        start += n


__all__ = ["parameters_to_vector", "vector_to_parameters"]
