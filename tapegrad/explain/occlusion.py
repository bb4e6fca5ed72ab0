"""Occlusion (Zeiler & Fergus 2014): cover part of the input and see how the output drops.

A window (say 4 × 4 pixels) slides over the input with a stride; at each position the
covered elements are replaced by the baseline (0: black), the model is run, and the drop
F(x) − F(occluded) is credited to every element under the window. Where windows overlap,
an element's attribution is the mean drop over the windows that covered it (Captum's
rule); an element that no window covers (a stride that does not reach the border) gets 0.

It needs no gradient, so ``f`` may be any callable: a tapegrad model, a function of
tensors, or a function of numpy arrays (see _callable.py). Every (window, example) pair is
one row; the rows are built and evaluated ``internal_batch_size`` at a time.
"""
import math

import numpy

from .. import backend, dtypes
from ..autograd.tensor import Tensor
from . import _attribution as A
from ._callable import as_batched_function


class Occlusion:
    """``Occlusion(f).attribute(inputs, sliding_window_shapes, strides=None, baselines=0,
    target=None, internal_batch_size=None)``: attributions with the inputs' shape, as a
    tensor (same device and dtype) for tensor inputs, a numpy array for numpy inputs."""

    def __init__(self, forward_func):
        if not callable(forward_func):
            raise TypeError(f"Occlusion: forward_func must be callable, got "
                            f"{type(forward_func).__name__}")
        self.forward_func = forward_func

    def attribute(self, inputs, sliding_window_shapes, strides=None, baselines=0, target=None,
                  internal_batch_size=None):
        """``sliding_window_shapes``: the window's size in each dim after the batch dim (an
        int: the same in every dim); ``strides``: its step in each dim (None: 1)."""
        op = "Occlusion"
        is_tensor = isinstance(inputs, Tensor)
        x = inputs.array if is_tensor else (inputs if backend.is_array(inputs)
                                            else backend.host_array(inputs))
        if x.ndim < 2:
            raise ValueError(f"{op}: inputs must have shape (N, features...), got shape "
                             f"{tuple(x.shape)}")
        device = backend.device_of_array(x)
        xp = device.xp
        n, shape = x.shape[0], tuple(x.shape[1:])
        windows = _per_dim(op, "sliding_window_shapes", sliding_window_shapes, shape)
        steps = _per_dim(op, "strides", 1 if strides is None else strides, shape)
        for w, s in zip(windows, shape):
            if w > s:
                raise ValueError(f"{op}: sliding window {windows} does not fit in inputs "
                                 f"whose examples have shape {shape}")
        positions = tuple((s - w) // st + 1 for s, w, st in zip(shape, windows, steps))
        n_windows = math.prod(positions)
        features = math.prod(shape)

        base = A.baseline_array(op, baselines, inputs, x)
        target = A.Target.parse(op, target, n)
        batch = A.batch_rows(op, internal_batch_size, features)
        takes_tensors = True if is_tensor else None
        fn = as_batched_function(self.forward_func, batch_size=batch,
                                 takes_tensors=takes_tensors)
        result_dtype = x.dtype if x.dtype.kind == "f" else \
            (dtypes.get_default_dtype().numpy if is_tensor else numpy.float64)

        everyone = numpy.arange(n)
        original = numpy.asarray(target.select(op, fn(x), everyone), dtype=numpy.float64)
        total = xp.zeros((n, features), dtype=result_dtype)
        for start, stop in A.chunks(n * n_windows, batch):
            rows = numpy.arange(start, stop)
            window_ids, examples = rows // n, rows % n
            mask = _window_masks(xp, window_ids, positions, windows, steps, shape)
            on_device = xp.asarray(examples)
            occluded = xp.where(mask, base[on_device], x[on_device])
            scores = numpy.asarray(target.select(op, fn(occluded), examples),
                                    dtype=numpy.float64)
            drops = numpy.zeros((n, len(rows)))
            drops[examples, numpy.arange(len(rows))] = original[examples] - scores
            # each row's drop, credited to its example under its window: (n, R) @ (R, F)
            total += xp.asarray(drops.astype(result_dtype)) @ \
                mask.reshape(len(rows), features).astype(result_dtype)
        covered = xp.asarray(_coverage(positions, windows, steps, shape).astype(result_dtype))
        attributions = xp.where(covered > 0, total / xp.maximum(covered, 1), 0)
        attributions = attributions.reshape(x.shape).astype(result_dtype, copy=False)
        if is_tensor:
            return A.on_device(attributions, inputs.device)
        return attributions


def _per_dim(op, name, value, shape):
    """An int or a tuple of positive ints, as one int per dim of ``shape``."""
    values = (value,) * len(shape) if isinstance(value, int) and not isinstance(value, bool) \
        else value
    if not isinstance(values, (tuple, list)) or len(values) != len(shape) or \
            not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ValueError(f"{op}: {name} must be a positive int or a tuple of {len(shape)} "
                         f"positive ints (one per dim of an example of shape {shape}), got "
                         f"{value!r}")
    return tuple(values)


def _window_masks(xp, window_ids, positions, windows, steps, shape):
    """Bool masks (R, *shape): True under window ``window_ids[r]``."""
    corner = numpy.unravel_index(window_ids, positions)
    mask = None
    for d, (size, width, step) in enumerate(zip(shape, windows, steps)):
        start = xp.asarray(corner[d] * step).reshape(-1, 1)
        coords = xp.arange(size).reshape(1, -1)
        inside = (coords >= start) & (coords < start + width)  # (R, size)
        view = [len(window_ids)] + [1] * len(shape)
        view[1 + d] = size
        inside = inside.reshape(view)
        mask = inside if mask is None else mask & inside
    return mask


def _coverage(positions, windows, steps, shape):
    """How many windows cover each element, (F,), on the host: a product over dims."""
    count = numpy.ones(())
    for size, width, step, n_positions in zip(shape, windows, steps, positions):
        starts = numpy.arange(n_positions) * step
        coords = numpy.arange(size)
        per_dim = ((coords >= starts[:, None]) & (coords < starts[:, None] + width)).sum(axis=0)
        count = numpy.multiply.outer(count, per_dim)
    return count.reshape(-1)
