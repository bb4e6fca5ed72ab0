"""One batched interface for "any callable": a tapegrad model, or a function of numpy arrays.

The perturbation methods (Occlusion, KernelShap, LIME) only need to *evaluate* the model
on many perturbed inputs. This module hides how:

    fn = as_batched_function(f, device=None, batch_size=None, takes_tensors=None, dtype=None)

    outputs = fn(rows)                   # f on every row: a numpy array (R, ...)
    scores = fn.scores(rows, target)     # the explained output of each row: numpy (R,)

- ``rows`` is an array of R inputs stacked along the first dim: a numpy array, a backend
  (cupy) array or a tapegrad Tensor.
- ``f`` is called on at most ``batch_size`` rows at a time (None: 256 rows, fewer for
  large rows), never row by row, and never records on the tape.
- ``takes_tensors``: whether ``f`` takes tapegrad Tensors (True) or numpy arrays (False).
  None means True for a ``tapegrad.nn.Module`` and False for any other callable.
- Tensors are made on ``device`` (None: the module's parameters' device; for a plain
  function, the device the rows are on) with ``dtype`` (None: a module's parameter dtype
  for floating rows, else the rows' own); numpy functions get host numpy arrays.
- ``f`` may return a Tensor, a numpy array or a list; it must return one output (or one
  row of outputs) per input row. Outputs always come back as host numpy arrays.
- ``target`` in ``scores``: None (f returns one value per row), an int (or a tuple of ints)
  for every row, or a sequence / integer array of R targets, one per row;
  ``select_scores(outputs, target)`` does the same on outputs already computed.
- ``fn.calls`` counts the calls of ``f`` so far; ``fn.device``, ``fn.batch_size`` and
  ``fn.takes_tensors`` are what was decided.
"""
import numpy

from .. import backend, dtypes
from ..autograd import no_grad
from ..autograd.tensor import Tensor, wrap
from . import _attribution as A


def as_batched_function(f, device=None, batch_size=None, takes_tensors=None, dtype=None):
    """``f`` as a ``BatchedFunction`` (see the module docstring)."""
    return f if isinstance(f, BatchedFunction) else BatchedFunction(
        f, device=device, batch_size=batch_size, takes_tensors=takes_tensors, dtype=dtype)


def select_scores(outputs, target=None, op="select_scores"):
    """The explained output of each row of ``outputs`` (R, ...), a numpy array (R,)."""
    outputs = backend.to_numpy(outputs)
    rows = outputs.shape[0] if outputs.ndim else 1
    target = A.Target.parse(op, target, rows)
    return numpy.asarray(target.select(op, outputs, numpy.arange(rows)))


class BatchedFunction:
    """``f`` evaluated on stacked rows, ``batch_size`` rows per call (see the module doc)."""

    def __init__(self, f, device=None, batch_size=None, takes_tensors=None, dtype=None):
        if not callable(f):
            raise TypeError(f"expected a callable (a tapegrad model or a function of numpy "
                            f"arrays), got {type(f).__name__}")
        from ..nn import Module
        is_module = isinstance(f, Module)
        self.f = f
        self.takes_tensors = is_module if takes_tensors is None else bool(takes_tensors)
        self.device = backend.as_device(device) if device is not None else \
            (A.model_device(f) if is_module else None)
        if dtype is None and is_module:
            dtype = next((p.dtype for p in f.parameters() if p.dtype.is_floating_point), None)
        self.dtype = None if dtype is None else dtypes.as_dtype(dtype)
        if batch_size is not None:
            A.batch_rows("as_batched_function", batch_size, 1)  # checks it
        self.batch_size = batch_size
        self.calls = 0

    def __call__(self, rows):
        rows = rows.array if isinstance(rows, Tensor) else rows
        if not backend.is_array(rows):
            rows = backend.host_array(rows)
        if rows.ndim == 0:
            raise ValueError("a batched function needs rows stacked along a first dim, got a "
                             "0-d array")
        size = A.batch_rows("as_batched_function", self.batch_size,
                            rows[0].size if rows.shape[0] else 1)
        pieces = [self._call(rows[start:stop]) for start, stop in A.chunks(rows.shape[0], size)]
        if not pieces:
            return numpy.zeros((0,))
        return numpy.concatenate(pieces) if len(pieces) > 1 else pieces[0]

    def scores(self, rows, target=None):
        """The explained output of each row, numpy (R,)."""
        return select_scores(self(rows), target, op="scores")

    def _call(self, rows):
        self.calls += 1
        if self.takes_tensors:
            device = self.device or backend.device_of_array(rows)
            array = backend.to_device(rows, device)
            if self.dtype is not None and array.dtype.kind == "f" and \
                    array.dtype != self.dtype.numpy:
                array = array.astype(self.dtype.numpy)
            with no_grad():
                out = self.f(wrap(array, device))
        else:
            out = self.f(backend.to_numpy(rows))
        if isinstance(out, Tensor):
            out = backend.to_numpy(out.detach().array)
        elif backend.is_array(out):
            out = backend.to_numpy(out)
        else:
            out = backend.host_array(out)
        if out.ndim == 0 or out.shape[0] != rows.shape[0]:
            raise ValueError(f"the function returned shape {tuple(out.shape)} for a batch of "
                             f"{rows.shape[0]} rows; it must return one output (or one row of "
                             f"outputs) per input row")
        return out

