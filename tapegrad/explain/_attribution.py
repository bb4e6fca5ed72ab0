"""What the attribution methods share: checking inputs, choosing the explained output
(``target``), cutting model calls into batches, and taking input gradients.

Every method explains one number per example: the model maps a batch ``x`` of shape
(N, ...) to outputs of shape (N, ...), and ``target`` picks one of each row's outputs:

- ``None``: each row has exactly one output (shape (N,) or (N, 1)), which is explained;
- an int ``c`` (or a tuple of ints for outputs with several dims): ``output[i, c]`` for
  every example ``i``;
- a list of N ints (or tuples), or an integer tensor of shape (N,) (or (N, k)): a
  different class per example.

Because each example's output depends only on its own input, the gradient of the *sum*
of the selected outputs over the batch gives every example's own gradient in one
backward pass: that is how all the gradient methods batch their work.

The methods evaluate many inputs per example (IG: ``n_steps`` points on a path,
NoiseTunnel: ``nt_samples`` noisy copies, Occlusion: one per window). They lay these
out as *rows*: row ``r`` belongs to example ``example_ids[r]``, and the rows are fed to
the model ``batch_size`` at a time, so memory stays bounded however many there are.
"""
import math

import numpy

from .. import backend, dtypes
from ..autograd import enable_grad, grad as autograd_grad, no_grad
from ..autograd.tensor import Tensor, wrap


# Rows per model call when the caller gives no ``internal_batch_size``: at most this many
# rows, and at most DEFAULT_BATCH_ELEMENTS input elements per call (so a call on large
# images holds fewer rows).
DEFAULT_BATCH_ROWS = 256
DEFAULT_BATCH_ELEMENTS = 2 ** 22


def check_inputs(op, inputs, floating=True):
    """``inputs`` as a batched Tensor (N, ...), with clear errors for anything else."""
    if not isinstance(inputs, Tensor):
        raise TypeError(f"{op}: inputs must be a tapegrad Tensor of shape (N, ...), got "
                        f"{type(inputs).__name__}")
    if inputs.ndim == 0:
        raise ValueError(f"{op}: inputs must have a batch dimension (shape (N, ...)), got a "
                         f"0-d tensor")
    if floating and not inputs.dtype.is_floating_point:
        raise TypeError(f"{op}: gradients need floating-point inputs, got {inputs.dtype}; "
                        f"convert them first with .float()")
    return inputs


def batch_rows(op, internal_batch_size, example_numel):
    """How many rows to send to the model per call."""
    if internal_batch_size is None:
        by_size = DEFAULT_BATCH_ELEMENTS // max(1, int(example_numel))
        return max(1, min(DEFAULT_BATCH_ROWS, by_size))
    if isinstance(internal_batch_size, bool) or not isinstance(internal_batch_size, int) \
            or internal_batch_size < 1:
        raise ValueError(f"{op}: internal_batch_size must be a positive int or None, got "
                         f"{internal_batch_size!r}")
    return internal_batch_size


def chunks(total, size):
    """(start, stop) pairs covering range(total) in pieces of at most ``size``."""
    for start in range(0, total, size):
        yield start, min(start + size, total)


def model_device(model):
    """The device of a module's first parameter or buffer (None for plain functions, or
    modules without any): where inputs must be to call it."""
    for getter in ("parameters", "buffers"):
        members = getattr(model, getter, None)
        if callable(members):
            try:
                for t in members():
                    return t.device
            except TypeError:
                pass
    return None


def on_device(array, device):
    """A tensor (no grad) around ``array`` on ``device`` (no copy when it is already there)."""
    return wrap(backend.to_device(array, device), device)


# -- target ------------------------------------------------------------------------------------
class Target:
    """A parsed ``target``: ``index`` (a tuple of ints, the same for every row) or
    ``per_example`` (a host int array (N, k): one index tuple per example), or neither."""

    __slots__ = ("index", "per_example")

    def __init__(self, index=None, per_example=None):
        self.index = index
        self.per_example = per_example

    @classmethod
    def parse(cls, op, target, n):
        """Check ``target`` against a batch of ``n`` examples."""
        if isinstance(target, Target):
            return target
        if target is None:
            return cls()
        if isinstance(target, Tensor) or backend.is_array(target):
            array = backend.to_numpy(target.array if isinstance(target, Tensor) else target)
            if array.dtype.kind not in "iu":
                raise TypeError(f"{op}: a target tensor must hold integer class indices, got "
                                f"dtype {array.dtype}")
            if array.ndim == 0:
                return cls(index=(int(array),))
            if array.ndim > 2 or array.shape[0] != n:
                raise ValueError(f"{op}: a target tensor must have shape ({n},) or ({n}, k), "
                                 f"one target per example, got shape {tuple(array.shape)}")
            return cls(per_example=array.reshape(n, -1).astype(numpy.int64))
        if _is_int(target):
            return cls(index=(int(target),))
        if isinstance(target, tuple):
            if not all(_is_int(t) for t in target):
                raise TypeError(f"{op}: a tuple target must hold ints, got {target!r}")
            return cls(index=tuple(int(t) for t in target))
        if isinstance(target, list):
            if len(target) != n:
                raise ValueError(f"{op}: a list target needs one entry per example: got "
                                 f"{len(target)} entries for {n} examples")
            rows = [t if isinstance(t, tuple) else (t,) for t in target]
            if not all(_is_int(i) for row in rows for i in row) or \
                    len({len(row) for row in rows}) > 1:
                raise TypeError(f"{op}: a list target must hold ints (or tuples of ints of "
                                f"one length), got {target!r}")
            return cls(per_example=numpy.array(rows, dtype=numpy.int64).reshape(n, -1))
        raise TypeError(f"{op}: target must be None, an int, a tuple of ints, a list or an "
                        f"integer tensor, got {type(target).__name__}")

    def expanded(self, example_ids):
        """The target of rows whose examples are ``example_ids`` (host int array)."""
        if self.per_example is None:
            return self
        return Target(per_example=self.per_example[example_ids])

    def select(self, op, output, example_ids):
        """The explained output of each row, shape (R,): a Tensor (differentiable) for a
        Tensor ``output``, an array for an array ``output``."""
        rows = len(example_ids)
        shape = tuple(output.shape)
        if self.index is None and self.per_example is None:
            if (len(shape) == 0 and rows == 1) or (len(shape) >= 1 and shape[0] == rows
                                                   and math.prod(shape[1:]) == 1):
                return output.reshape(rows)
            raise ValueError(f"{op}: target=None needs one output per example, but the "
                             f"model returned shape {shape} for {rows} rows; pass "
                             f"target= to say which output to explain")
        if len(shape) == 0 or shape[0] != rows:
            raise ValueError(f"{op}: the model returned shape {shape} for {rows} rows; it "
                             f"must return one row of outputs per input row")
        k = len(self.index) if self.index is not None else self.per_example.shape[1]
        if len(shape) - 1 != k:
            raise ValueError(f"{op}: the target names {k} index(es) per row, but the model's "
                             f"outputs have shape {shape} ({len(shape) - 1} dims per row)")
        if self.index is not None:
            for i, (t, size) in enumerate(zip(self.index, shape[1:])):
                if not -size <= t < size:
                    raise IndexError(f"{op}: target {self.index} is out of range for outputs "
                                     f"of shape {shape} (dim {i + 1} has size {size})")
            return output[(slice(None),) + self.index]
        index = self.per_example[example_ids]
        sizes = numpy.array(shape[1:])
        if ((index < -sizes) | (index >= sizes)).any():
            bad = index[((index < -sizes) | (index >= sizes)).any(axis=1)][0]
            raise IndexError(f"{op}: target {tuple(int(i) for i in bad)} is out of range "
                             f"for outputs of shape {shape}")
        return output[(numpy.arange(rows),) + tuple(index[:, j] for j in range(k))]


def _is_int(value):
    try:
        return dtypes.scalar_category(value) == 1
    except TypeError:
        return False


# -- calling the model -----------------------------------------------------------------------
def input_gradients(op, model, rows, target, example_ids):
    """d(selected output)/d(rows) for one batch of rows (a backend array on the model's
    device), as an array of the rows' shape and dtype, with no tape kept."""
    xp = backend.device_of_array(rows).xp
    device = backend.device_of_array(rows)
    leaf = wrap(rows, device, requires_grad=True)
    with enable_grad():
        scores = target.select(op, _call(op, model, leaf), example_ids)
        if not isinstance(scores, Tensor):
            raise TypeError(f"{op}: the model must return a tapegrad Tensor, got "
                            f"{type(scores).__name__}")
        if not scores.requires_grad:
            raise RuntimeError(f"{op}: the model's outputs do not depend on its input through "
                               f"recorded operations (was it run under no_grad, or through "
                               f"numpy?), so they have no gradient")
        gradient, = autograd_grad(scores.sum(), leaf, allow_unused=True)
    if gradient is None:  # the explained output does not depend on the input at all
        return xp.zeros_like(rows)
    return gradient.array


def output_scores(op, model, rows, target, example_ids, batch_size):
    """The selected outputs of ``rows`` (a backend array), shape (R,), computed without
    recording, ``batch_size`` rows per call."""
    device = backend.device_of_array(rows)
    pieces = []
    with no_grad():
        for start, stop in chunks(rows.shape[0], batch_size):
            out = _call(op, model, wrap(rows[start:stop], device))
            scores = target.select(op, out, example_ids[start:stop])
            pieces.append(scores.array if isinstance(scores, Tensor) else scores)
    if not pieces:
        return device.xp.zeros((0,), dtype=rows.dtype)
    return device.xp.concat([device.xp.asarray(p).reshape(-1) for p in pieces])


def _call(op, model, x):
    out = model(x)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: the model must return a tapegrad Tensor, got "
                        f"{type(out).__name__}")
    return out


def prepared(op, model, inputs):
    """The inputs' array on the model's device (the device to compute on), and that device."""
    device = model_device(model) or inputs.device
    return backend.to_device(inputs.array, device), device


def result(array, inputs):
    """An attribution array as a tensor with the inputs' device and dtype (no grad)."""
    array = backend.to_device(array, inputs.device)
    if array.dtype != inputs.array.dtype and inputs.dtype.is_floating_point:
        array = array.astype(inputs.array.dtype)
    return wrap(array, inputs.device)


def non_batch_axes(ndim):
    return tuple(range(1, ndim))


def baseline_array(op, baselines, inputs, rows):
    """``baselines`` (None → 0, a number, or a tensor/array broadcastable to the inputs) as
    an array with the shape, dtype and device of ``rows`` (the inputs' array where the model
    computes): a broadcast view, no copy of the input's size. A baseline tensor must be on
    the device of ``inputs`` when that is a Tensor."""
    device = backend.device_of_array(rows)
    xp = device.xp
    if baselines is None:
        baselines = 0
    if isinstance(baselines, Tensor):
        if isinstance(inputs, Tensor) and baselines.device != inputs.device:
            raise RuntimeError(f"{op}: the baselines are on {baselines.device}, but the inputs "
                               f"are on {inputs.device}")
        array = backend.to_device(baselines.array, device)
    elif backend.is_array(baselines):
        array = backend.to_device(baselines, device)
    else:
        try:
            dtypes.scalar_category(baselines)
        except TypeError:
            raise TypeError(f"{op}: baselines must be None, a number or a tensor, got "
                            f"{type(baselines).__name__}") from None
        array = xp.asarray(baselines)
    try:
        return xp.broadcast_to(array.astype(rows.dtype, copy=False), rows.shape)
    except ValueError:
        raise ValueError(f"{op}: baselines of shape {tuple(array.shape)} cannot be broadcast to "
                         f"the inputs' shape {tuple(rows.shape)}") from None
