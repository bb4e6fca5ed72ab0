"""Each ONNX node as tapegrad operations: the table ``IMPORTERS``, op type -> function.

An importer gets the node's inputs (tensors; None for an omitted optional input) and
its attributes (a dict), and returns its outputs as a tuple of tensors. Everything is
computed with tapegrad's differentiable operations, so an imported graph is trained
like any other model. Inputs that are sizes, axes or indices (a Reshape's shape, a
Slice's starts) are read as Python numbers: they must be constants of the graph.

The set covered is the one ``ops_to_onnx.py`` writes, plus the everyday ops of graphs
exported elsewhere (Flatten, Gemm with transB, BatchNormalization …).
"""
import math

import numpy as np

from ..autograd.ops.arithmetic import add, maximum, minimum, where
from ..autograd.ops.linalg import addmm
from ..autograd.ops.shape import cat
from ..nn import functional as F
from .errors import OnnxImportError


def _ints(t, op, what):
    """A constant input as a list of Python ints."""
    if t is None:
        return None
    if t.requires_grad or t.grad_fn is not None:
        raise OnnxImportError(f"{op}: its {what} must be a constant of the graph")
    return [int(v) for v in np.asarray(t.array).reshape(-1)]


def _number(t):
    return None if t is None else np.asarray(t.array).reshape(-1)[0].item()


def _one(function):
    """An importer for a one-output op computed by ``function(*inputs, **attributes)``."""
    def run(inputs, attributes):
        return (function(*inputs, **attributes),)
    return run


def _axes(inputs, attributes, op):
    if len(inputs) > 1 and inputs[1] is not None:
        return _ints(inputs[1], op, "axes")
    return attributes.get("axes")


def _reduce(method):
    def run(inputs, attributes):
        x = inputs[0]
        axes = _axes(inputs, attributes, method)
        keep = bool(attributes.get("keepdims", 1))
        if not axes:
            if attributes.get("noop_with_empty_axes", 0):
                return (x,)
            axes = list(range(x.ndim))
        axes = tuple(a % x.ndim for a in axes)
        if method == "prod":
            for a in sorted(axes, reverse=True):
                x = x.prod(a, keepdim=keep)
            return (x,)
        return (getattr(x, method)(axes, keepdim=keep),)
    return run


def _reshape(x, shape, allowzero=0):
    target = [x.shape[i] if s == 0 and not allowzero else s
              for i, s in enumerate(_ints(shape, "Reshape", "shape"))]
    return x.reshape(target)


def _flatten(x, axis=1):
    axis %= max(x.ndim, 1)
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _expand(x, shape):
    target = _ints(shape, "Expand", "shape")
    full = np.broadcast_shapes(tuple(x.shape), tuple(target))
    return x.expand(*full)


def _slice(x, starts, ends, axes=None, steps=None):
    starts, ends = _ints(starts, "Slice", "starts"), _ints(ends, "Slice", "ends")
    axes = _ints(axes, "Slice", "axes") or list(range(len(starts)))
    steps = _ints(steps, "Slice", "steps") or [1] * len(starts)
    y = x
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= x.ndim
        if step < 0:
            if step != -1 or start not in (-1, x.shape[axis] - 1) or end > -x.shape[axis] - 1:
                raise OnnxImportError(f"Slice: only full reversal is supported for a negative "
                                      f"step, got start {start}, end {end}, step {step}")
            y = y.flip(axis)
            continue
        size = x.shape[axis]
        stop = None if end >= size else end
        y = y[(slice(None),) * axis + (slice(start, stop, step),)]
    return y


def _gather(x, indices, axis=0):
    axis %= x.ndim
    if indices.grad_fn is None and not indices.requires_grad and indices.ndim == 0:
        return x[(slice(None),) * axis + (int(_number(indices)),)]
    return x[(slice(None),) * axis + (indices,)]


def _unsqueeze(x, axes):
    axes = _ints(axes, "Unsqueeze", "axes")
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return x


def _squeeze(x, axes=None):
    if axes is None:
        return x.squeeze()
    return x.squeeze(tuple(a % x.ndim for a in _ints(axes, "Squeeze", "axes")))


def _split(inputs, attributes):
    x = inputs[0]
    axis = attributes.get("axis", 0)
    sizes = _ints(inputs[1], "Split", "split") if len(inputs) > 1 and inputs[1] is not None \
        else attributes.get("split")
    if sizes is None:
        parts = attributes.get("num_outputs")
        if parts is None:
            raise OnnxImportError("Split: needs the split sizes or num_outputs")
        return tuple(x.chunk(parts, axis))
    return tuple(x.split(list(sizes), axis))


def _gemm(a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0):
    a = a.mT if transA else a
    b = b.mT if transB else b
    if c is None:
        return a @ b * alpha if alpha != 1 else a @ b
    return addmm(c, a, b, beta=beta, alpha=alpha)


def _symmetric_or_padded(x, pads, spatial, value):
    """(x padded where the pads are uneven, the symmetric padding left for the layer)."""
    begin, end = pads[:spatial], pads[spatial:]
    if begin == end:
        return x, tuple(begin)
    widths = []
    for b, e in zip(reversed(begin), reversed(end)):
        widths += [b, e]
    return F.pad(x, widths, value=value), (0,) * spatial


def _conv(x, w, b=None, kernel_shape=None, strides=None, dilations=None, pads=None, group=1,
          auto_pad="NOTSET"):
    spatial = x.ndim - 2
    if auto_pad not in ("NOTSET", "VALID"):
        raise OnnxImportError(f"Conv: auto_pad={auto_pad} is not supported; export with "
                              f"explicit pads")
    _check_spatial("Conv", spatial)
    x, padding = _symmetric_or_padded(x, pads or [0] * 2 * spatial, spatial, 0.0)
    conv = F.conv2d if spatial == 2 else F.conv1d
    return conv(x, w, b, stride=strides or 1, padding=padding, dilation=dilations or 1,
                groups=group)


def _conv_transpose(x, w, b=None, kernel_shape=None, strides=None, dilations=None, pads=None,
                    group=1, output_padding=None, auto_pad="NOTSET"):
    spatial = x.ndim - 2
    _check_spatial("ConvTranspose", spatial)
    pads = pads or [0] * 2 * spatial
    if pads[:spatial] != pads[spatial:] or auto_pad not in ("NOTSET", "VALID"):
        raise OnnxImportError(f"ConvTranspose: uneven pads {pads} are not supported")
    conv = F.conv_transpose2d if spatial == 2 else F.conv_transpose1d
    return conv(x, w, b, stride=strides or 1, padding=tuple(pads[:spatial]),
                output_padding=output_padding or 0, groups=group, dilation=dilations or 1)


def _check_spatial(op, spatial):
    if spatial not in (1, 2):
        raise OnnxImportError(f"{op} over {spatial} spatial dims is not supported (tapegrad has "
                              f"1-d and 2-d convolution and pooling)")


def _max_pool(x, kernel_shape, strides=None, dilations=None, pads=None, ceil_mode=0,
              auto_pad="NOTSET", storage_order=0):
    spatial = x.ndim - 2
    _check_spatial("MaxPool", spatial)
    if any(pads or ()):
        widths = []
        for b, e in zip(reversed(pads[:spatial]), reversed(pads[spatial:])):
            widths += [b, e]
        x = F.pad(x, widths, value=float("-inf"))
    pool = F.max_pool2d if spatial == 2 else F.max_pool1d
    return pool(x, kernel_shape, stride=strides or 1, dilation=dilations or 1,
                ceil_mode=bool(ceil_mode))


def _average_pool(x, kernel_shape, strides=None, pads=None, ceil_mode=0, count_include_pad=0,
                  auto_pad="NOTSET", dilations=None):
    spatial = x.ndim - 2
    _check_spatial("AveragePool", spatial)
    if any(d != 1 for d in dilations or ()):
        raise OnnxImportError(f"AveragePool: dilations {list(dilations)} are not supported")
    if any(pads or ()):
        if not count_include_pad:
            raise OnnxImportError("AveragePool: padding with count_include_pad=0 is not "
                                  "supported")
        widths = []
        for b, e in zip(reversed(pads[:spatial]), reversed(pads[spatial:])):
            widths += [b, e]
        x = F.pad(x, widths, value=0.0)
    pool = F.avg_pool2d if spatial == 2 else F.avg_pool1d
    return pool(x, kernel_shape, stride=strides or 1, ceil_mode=bool(ceil_mode))


def _global_average_pool(x):
    return x.mean(tuple(range(2, x.ndim)), keepdim=True)


def _pad(x, pads, constant_value=None, axes=None, mode="constant"):
    if mode != "constant" or axes is not None:
        raise OnnxImportError(f"Pad: mode {mode!r} (or axes) is not supported")
    pads = _ints(pads, "Pad", "pads")
    n = x.ndim
    widths = []
    for axis in reversed(range(n)):
        widths += [pads[axis], pads[n + axis]]
    while len(widths) > 2 and widths[-2:] == [0, 0]:
        widths = widths[:-2]
    value = _number(constant_value)
    return F.pad(x, widths, value=0.0 if value is None else value)


def _batch_norm(x, scale, bias, mean, var, epsilon=1e-5, momentum=0.9, training_mode=0):
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=epsilon)


def _cast(x, to):
    import onnx

    from .. import dtypes
    return x.to(dtypes.from_numpy(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(to))))


def _clip(x, low=None, high=None):
    return x.clamp(min=_number(low), max=_number(high))


def _softmax(function):
    def run(x, axis=-1):
        return getattr(x, function)(axis)
    return run


IMPORTERS = {
    "Identity": _one(lambda x: x), "Dropout": lambda i, a: (i[0],),
    "Add": _one(lambda a, b: a + b), "Sub": _one(lambda a, b: a - b),
    "Mul": _one(lambda a, b: a * b), "Div": _one(lambda a, b: a / b),
    "Pow": _one(lambda a, b: a ** b), "Max": _one(lambda *xs: _fold(maximum, xs)),
    "Min": _one(lambda *xs: _fold(minimum, xs)), "Sum": _one(lambda *xs: _fold(add, xs)),
    "Where": _one(where), "Equal": _one(lambda a, b: a == b),
    "Less": _one(lambda a, b: a < b), "LessOrEqual": _one(lambda a, b: a <= b),
    "Greater": _one(lambda a, b: a > b), "GreaterOrEqual": _one(lambda a, b: a >= b),
    "Not": _one(lambda a: ~a), "And": _one(lambda a, b: a & b), "Or": _one(lambda a, b: a | b),
    "Neg": _one(lambda x: -x), "Abs": _one(lambda x: x.abs()), "Exp": _one(lambda x: x.exp()),
    "Log": _one(lambda x: x.log()), "Sqrt": _one(lambda x: x.sqrt()),
    "Reciprocal": _one(lambda x: 1 / x), "Sin": _one(lambda x: x.sin()),
    "Cos": _one(lambda x: x.cos()), "Tanh": _one(lambda x: x.tanh()),
    "Sigmoid": _one(lambda x: x.sigmoid()), "Relu": _one(lambda x: x.relu()),
    "Erf": _one(lambda x: x.erf()), "Floor": _one(lambda x: x.floor()),
    "Ceil": _one(lambda x: x.ceil()), "Clip": _one(_clip), "Cast": _one(_cast),
    "LeakyRelu": _one(lambda x, alpha=0.01: F.leaky_relu(x, alpha)),
    "Elu": _one(lambda x, alpha=1.0: F.elu(x, alpha)), "Softplus": _one(lambda x: F.softplus(x)),
    "ReduceSum": _reduce("sum"), "ReduceMean": _reduce("mean"), "ReduceMax": _reduce("amax"),
    "ReduceMin": _reduce("amin"), "ReduceProd": _reduce("prod"),
    "ReduceLogSumExp": _reduce("logsumexp"),
    "Softmax": _one(_softmax("softmax")), "LogSoftmax": _one(_softmax("log_softmax")),
    "CumSum": _one(lambda x, axis: x.cumsum(int(_number(axis)))),
    "Reshape": _one(_reshape), "Flatten": _one(_flatten),
    "Transpose": _one(lambda x, perm=None: x.permute(perm or list(reversed(range(x.ndim))))),
    "Expand": _one(_expand), "Tile": _one(lambda x, r: x.repeat(_ints(r, "Tile", "repeats"))),
    "Slice": _one(_slice), "Gather": _one(_gather), "Unsqueeze": _one(_unsqueeze),
    "Squeeze": _one(_squeeze), "Split": _split,
    "Concat": _one(lambda *xs, axis: cat(list(xs), axis)),
    "Trilu": _one(lambda x, k=None, upper=1: (x.triu if upper else x.tril)(
        0 if k is None else int(_number(k)))),
    "MatMul": _one(lambda a, b: a @ b), "Gemm": _one(_gemm),
    "Conv": _one(_conv), "ConvTranspose": _one(_conv_transpose),
    "MaxPool": _one(_max_pool), "AveragePool": _one(_average_pool),
    "GlobalAveragePool": _one(_global_average_pool), "Pad": _one(_pad),
    "BatchNormalization": _one(_batch_norm),
}


def _fold(function, xs):
    result = xs[0]
    for x in xs[1:]:
        result = function(result, x)
    return result
