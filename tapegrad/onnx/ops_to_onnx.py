"""Each recorded operation as ONNX nodes: the table ``CONVERTERS``, op name -> converter.

A converter gets the GraphBuilder ``g`` and one traced Event ``e`` (``e.inputs``,
``e.outputs``, ``e.attrs``) and returns the names of the graph values that hold
``e.outputs``. Most operations are one ONNX node; a few are several (``expm1`` is
Exp then Sub, ``var`` is a mean, a square and a sum). Layers are not converted as
layers: a Linear is the ``addmm`` (Gemm) it recorded, a LayerNorm the ``layer_norm`` it
recorded (its means and products: LayerNormalization exists only from opset 17), an LSTM
the matrix products and the ``lstm_gates`` of every time step.
"""
import numpy as np

from .errors import ExportError

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def _x(g, e, i=0):
    return g.value(e.inputs[i])


def _dtype(t):
    return np.dtype(t.array.dtype)


def _scalar_like(g, value, t):
    """A 0-d constant of ``t``'s dtype."""
    return g.constant(np.asarray(value, dtype=_dtype(t)))


# -- elementwise ------------------------------------------------------------------------------
def _unary(op_type):
    def convert(g, e):
        return [g.node(op_type, [_x(g, e)])]
    return convert


def _binary(op_type):
    def convert(g, e):
        return [g.node(op_type, [_x(g, e, 0), _x(g, e, 1)])]
    return convert


def _add_or_sub(op_type):
    def convert(g, e):
        y = _x(g, e, 1)
        alpha = e.attrs.get("alpha", 1)
        if alpha != 1:
            y = g.node("Mul", [y, _scalar_like(g, alpha, e.inputs[1])])
        return [g.node(op_type, [_x(g, e, 0), y])]
    return convert


def _pow(g, e):
    if len(e.inputs) == 2:
        return [g.node("Pow", [_x(g, e, 0), _x(g, e, 1)])]
    if "base" in e.attrs:   # number ** tensor
        return [g.node("Pow", [_scalar_like(g, e.attrs["base"], e.outputs[0]), _x(g, e)])]
    exponent = e.attrs["exponent"]
    x = _x(g, e)
    if exponent == 2:
        return [g.node("Mul", [x, x])]
    return [g.node("Pow", [x, _scalar_like(g, exponent, e.outputs[0])])]


def _rsub(g, e):
    """y - α·x, y a tensor (second input) or a number (attrs)"""
    x = _x(g, e)
    alpha = e.attrs.get("alpha", 1)
    if alpha != 1:
        x = g.node("Mul", [x, _scalar_like(g, alpha, e.inputs[0])])
    y = _x(g, e, 1) if len(e.inputs) == 2 else _scalar_like(g, e.attrs["other"], e.outputs[0])
    return [g.node("Sub", [y, x])]


def _expm1(g, e):
    return [g.node("Sub", [g.node("Exp", [_x(g, e)]), _scalar_like(g, 1, e.outputs[0])])]


def _log1p(g, e):
    return [g.node("Log", [g.node("Add", [_x(g, e), _scalar_like(g, 1, e.outputs[0])])])]


def _rsqrt(g, e):
    return [g.node("Reciprocal", [g.node("Sqrt", [_x(g, e)])])]


def _clamp(g, e):
    x = e.inputs[0]
    if len(e.inputs) == 3:   # tensor bounds (Clip takes only 0-d ones): Max, then Min
        y = g.value(x)
        for bound, op_type in zip(e.inputs[1:], ("Max", "Min")):
            if bound is not None:
                y = g.node(op_type, [y, g.value(bound)])
        return [y]
    low, high = e.attrs.get("min"), e.attrs.get("max")
    bounds = ["" if b is None else _scalar_like(g, b, x) for b in (low, high)]
    while bounds and bounds[-1] == "":
        bounds.pop()
    return [g.node("Clip", [g.value(x)] + bounds)]


def _where(g, e):
    return [g.node("Where", [g.value(e.attrs["condition"]), _x(g, e, 0), _x(g, e, 1)])]


def _not_equal(g, e):
    return [g.node("Not", [g.node("Equal", [_x(g, e, 0), _x(g, e, 1)])])]


def _bitwise(logical, bitwise):
    def convert(g, e):
        op_type = logical if e.inputs[0].array.dtype.kind == "b" else bitwise
        return [g.node(op_type, [_x(g, e, 0), _x(g, e, 1)])]
    return convert


def _identity(g, e):
    return [g.node("Identity", [_x(g, e)])]


def _cast(g, e):
    to = g.helper.np_dtype_to_tensor_dtype(_dtype(e.outputs[0]))
    return [g.node("Cast", [_x(g, e)], to=to)]


def _masked_fill(g, e):
    value = e.inputs[1]
    fill = g.value(value) if value is not None else _scalar_like(g, e.attrs["value"], e.inputs[0])
    return [g.node("Where", [g.value(e.attrs["mask"]), fill, _x(g, e)])]


# -- reductions -------------------------------------------------------------------------------
def _reduction(op_type):
    def convert(g, e):
        return [g.reduce(op_type, _x(g, e), e.attrs["dims"], e.attrs["keepdim"])]
    return convert


def _variance(g, e, x):
    dims, correction = e.attrs["dims"], e.attrs["correction"]
    t = e.inputs[0]
    if any(g.dynamic_dims(t)[d] for d in dims):
        raise ExportError(f"'{e.op}' over a dynamic axis cannot be exported")
    count = int(np.prod([t.shape[d] for d in dims])) if dims else 1
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, dims, True)])
    squares = g.reduce("ReduceSum", g.node("Mul", [centred, centred]), dims, e.attrs["keepdim"])
    return g.node("Div", [squares, _scalar_like(g, max(count - correction, 0), t)])


def _var(g, e):
    return [_variance(g, e, _x(g, e))]


def _std(g, e):
    return [g.node("Sqrt", [_variance(g, e, _x(g, e))])]


def _softmax(op_type):
    def convert(g, e):
        dims = e.attrs["dims"]
        if not dims:   # a 0-d tensor: softmax is 1, log_softmax 0
            return [g.node("Identity", [_scalar_like(g, 1 if op_type == "Softmax" else 0,
                                                     e.outputs[0])])]
        return [g.node(op_type, [_x(g, e)], axis=dims[0])]
    return convert


def _cumsum(g, e):
    dims = e.attrs["dims"]
    if not dims:
        return _identity(g, e)
    return [g.node("CumSum", [_x(g, e), g.constant(np.asarray(dims[0], dtype=np.int64))])]


# -- shapes ---------------------------------------------------------------------------------
def _reshape(g, e):
    x, out = e.inputs[0], e.outputs[0]
    return [g.node("Reshape", [g.value(x), g.reshape_target(x, out)])]


def _transpose_with(perm):
    def convert(g, e):
        n = e.inputs[0].ndim
        permutation = perm(e, n)
        if n < 2 or list(permutation) == list(range(n)):
            return _identity(g, e)
        return [g.node("Transpose", [_x(g, e)], perm=list(permutation))]
    return convert


def _swapped(n, a, b):
    order = list(range(n))
    order[a], order[b] = order[b], order[a]
    return order


def _expand(g, e):
    x, out = e.inputs[-1], e.outputs[0]   # (x.copy_(src) records (x's old values, src))
    in_shape, out_shape = tuple(x.shape), tuple(out.shape)
    lead = len(out_shape) - len(in_shape)
    dynamic = g.dynamic_dims(out)
    target = []
    for i, size in enumerate(out_shape):
        if i >= lead and in_shape[i - lead] == size and (
                g.dynamic_dims(x)[i - lead] == dynamic[i]):
            target.append(1)   # Expand broadcasts both ways: 1 keeps the input's size
        elif dynamic[i]:
            raise ExportError(f"'{e.op}' to shape {out_shape}: dim {i} grows with a dynamic "
                              f"axis, which the exported graph cannot compute")
        else:
            target.append(size)
    return [g.node("Expand", [g.value(x), g.ints(target)])]


def _repeat(g, e):
    x, sizes = e.inputs[0], e.attrs["sizes"]
    value = g.value(x)
    if len(sizes) > x.ndim:
        value = g.unsqueeze(value, list(range(len(sizes) - x.ndim)))
    return [g.node("Tile", [value, g.ints(sizes)])]


def _flip(g, e):
    axes = list(e.attrs["dims"])
    if not axes:
        return _identity(g, e)
    n = len(axes)
    return [g.node("Slice", [_x(g, e), g.ints([-1] * n), g.ints([INT64_MIN] * n), g.ints(axes),
                             g.ints([-1] * n)])]


def _slice(g, e):
    a = e.attrs
    x = e.inputs[0]
    stop = a["stop"]
    if stop == x.shape[a["dim"]] and g.dynamic_dims(x)[a["dim"]]:
        stop = INT64_MAX   # to the end, whatever the size
    return [g.node("Slice", [g.value(x), g.ints([a["start"]]), g.ints([stop]),
                             g.ints([a["dim"]])])]


def _select(g, e):
    index = g.constant(np.asarray(e.attrs["index"], dtype=np.int64))
    return [g.node("Gather", [_x(g, e), index], axis=e.attrs["dim"])]


def _trilu(upper):
    def convert(g, e):
        k = g.constant(np.asarray(e.attrs["diagonal"], dtype=np.int64))
        return [g.node("Trilu", [_x(g, e), k], upper=upper)]
    return convert


def _cat(g, e):
    joined = e.attrs.get("joined", range(len(e.inputs)))
    inputs = [g.value(e.inputs[i]) for i in joined]
    if len(inputs) == 1:
        return [g.node("Identity", inputs)]
    return [g.node("Concat", inputs, axis=e.attrs["dim"])]


def _stack(g, e):
    d = e.attrs["dim"]
    pieces = [g.unsqueeze(g.value(t), [d]) for t in e.inputs]
    return [g.node("Concat", pieces, axis=d) if len(pieces) > 1 else g.node("Identity", pieces)]


def _split(g, e):
    d, sizes = e.attrs["dim"], e.attrs["sizes"]
    if g.dynamic_dims(e.inputs[0])[d]:
        raise ExportError(f"'{e.op}' along a dynamic axis cannot be exported")
    if len(sizes) == 1:
        return [g.node("Identity", [_x(g, e)])]
    return g.node("Split", [_x(g, e), g.ints(sizes)], outputs=len(sizes), axis=d)


def _unbind(g, e):
    d = e.attrs["dim"]
    x = _x(g, e)
    return [g.node("Gather", [x, g.constant(np.asarray(i, dtype=np.int64))], axis=d)
            for i in range(len(e.outputs))]


# -- indexing -------------------------------------------------------------------------------
def _getitem(g, e):
    """x[index] for ints, slices (positive steps), None, Ellipsis and one integer index
    tensor or list (an embedding lookup is weight[indices]): Slice, Gather and Unsqueeze,
    left to right."""
    from ..autograd.tensor import Tensor
    x = e.inputs[0]
    items = e.attrs["index"]
    items = list(items) if isinstance(items, tuple) else [items]
    used = sum(0 if (i is None or i is Ellipsis) else 1 for i in items)
    arrays = [i for i in items if isinstance(i, (Tensor, list, np.ndarray))]
    if len(arrays) > 1:
        raise ExportError("'getitem' with more than one index tensor or list cannot be exported")
    # (An int selects first and an index tensor gathers where it stands, as in PyTorch, so
    # the Gathers below, left to right, give x[1, :, index] its PyTorch shape.)
    value, axis = g.value(x), 0
    for item in items:
        if item is Ellipsis:
            axis += x.ndim - used
        elif item is None:
            value = g.unsqueeze(value, [axis])
            axis += 1
        elif isinstance(item, slice):
            if item != slice(None):
                if item.step is not None and item.step <= 0:
                    raise ExportError("'getitem' with a non-positive slice step")
                start = 0 if item.start is None else item.start
                stop = INT64_MAX if item.stop is None else item.stop
                step = 1 if item.step is None else item.step
                value = g.node("Slice", [value, g.ints([start]), g.ints([stop]), g.ints([axis]),
                                         g.ints([step])])
            axis += 1
        elif _is_int(item):
            value = g.node("Gather", [value, g.constant(np.asarray(int(item), dtype=np.int64))],
                           axis=axis)
        else:
            index, ndim = _index_value(g, item)
            value = g.node("Gather", [value, index], axis=axis)
            axis += ndim
    return [value if value != g.value(x) else g.node("Identity", [value])]


def _is_int(item):
    return isinstance(item, (int, np.integer)) and not isinstance(item, bool)


def _index_value(g, item):
    from ..autograd.tensor import Tensor
    if isinstance(item, Tensor):
        kind = item.array.dtype.kind
        if kind == "b" or (kind == "u" and item.array.dtype.itemsize == 1):
            raise ExportError("'getitem' with a bool mask has a data-dependent shape; it cannot "
                              "be exported")
        value = g.value(item)
        if item.array.dtype != np.int64:
            value = g.node("Cast", [value], to=g.helper.np_dtype_to_tensor_dtype(np.dtype("int64")))
        return value, item.ndim
    array = np.asarray(item)
    if array.dtype.kind == "b":
        raise ExportError("'getitem' with a bool mask has a data-dependent shape; it cannot be "
                          "exported")
    return g.constant(array.astype(np.int64)), array.ndim


# -- matrix products ------------------------------------------------------------------------
def _addmm(g, e):
    beta, alpha = e.attrs.get("beta", 1), e.attrs.get("alpha", 1)
    b, x, w = (g.value(t) for t in e.inputs)
    if e.inputs[1].ndim > 2:   # a Linear layer on stacked rows (B, T, k): MatMul broadcasts
        return [g.node("Add", [g.node("MatMul", [x, w]), b])]
    return [g.node("Gemm", [x, w, b], alpha=float(alpha), beta=float(beta))]


def _outer(g, e):
    return [g.node("Mul", [g.unsqueeze(_x(g, e, 0), [1]), g.unsqueeze(_x(g, e, 1), [0])])]


# -- convolution and pooling ------------------------------------------------------------------
def _onnx_pads(window):
    top, bottom, left, right = window.padding
    return [top, left, bottom, right]


def _conv(g, e):
    w = e.attrs["window"]
    inputs = [g.value(t) for t in e.inputs if t is not None]
    return [g.node("Conv", inputs, kernel_shape=list(w.kernel), strides=list(w.stride),
                   dilations=list(w.dilation), pads=_onnx_pads(w), group=w.groups)]


def _conv_transpose(g, e):
    """The transposed convolution of the convolution described by the window: its output
    has the window's in_size, reached with symmetric pads and output_padding."""
    w = e.attrs["window"]
    x = e.inputs[0]
    top, _, left, _ = w.padding
    begin = [top, left]
    output_padding = []
    for n, k, s, d, p, target in zip(x.shape[2:], w.kernel, w.stride, w.dilation, begin,
                                     w.in_size):
        output_padding.append(target - ((n - 1) * s + d * (k - 1) + 1 - 2 * p))
    if min(output_padding) < 0:
        raise ExportError(f"'{e.op}': the window {w} has no ConvTranspose form")
    inputs = [g.value(t) for t in e.inputs if t is not None]
    return [g.node("ConvTranspose", inputs, kernel_shape=list(w.kernel), strides=list(w.stride),
                   dilations=list(w.dilation), pads=begin + begin, group=w.groups,
                   output_padding=output_padding)]


def _max_pool(g, e):
    w = e.attrs["window"]
    return [g.node("MaxPool", [_x(g, e)], kernel_shape=list(w.kernel), strides=list(w.stride),
                   dilations=list(w.dilation), pads=_onnx_pads(w))]


def _average_pool(g, e):
    """The window sums (AveragePool counting the padding, times the kernel size) divided by
    tapegrad's divisor (a number, or one per output position)."""
    if "axis" in e.attrs:
        return _resample(g, e)
    w, divisor = e.attrs["window"], e.attrs["divisor"]
    mean = g.node("AveragePool", [_x(g, e)], kernel_shape=list(w.kernel), strides=list(w.stride),
                  pads=_onnx_pads(w), count_include_pad=1)
    size = int(np.prod(w.kernel))
    if np.ndim(divisor) == 0 and float(divisor) == size:
        return [mean]
    scale = size / np.asarray(divisor, dtype=np.float64)
    return [g.node("Mul", [mean, g.constant(scale.astype(_dtype(e.outputs[0])))])]


def _resample(g, e):
    """Σ_t weight[t] · x gathered at index[t] along one axis (interpolation, adaptive
    pooling, reflect/replicate/circular padding)."""
    axis, index, weight = e.attrs["axis"], e.attrs["index"], e.attrs["weight"]
    x, out = _x(g, e), e.outputs[0]
    total = None
    for t, positions in enumerate(index):
        part = g.node("Gather", [x, g.constant(np.asarray(positions, dtype=np.int64))], axis=axis)
        if weight is not None:
            shape = (-1,) + (1,) * (out.ndim - axis - 1)
            w = np.asarray(weight[t], dtype=_dtype(out)).reshape(shape)
            part = g.node("Mul", [part, g.constant(w)])
        total = part if total is None else g.node("Add", [total, part])
    return [total]


def _pad(g, e):
    if "axis" in e.attrs:
        return _resample(g, e)
    x = e.inputs[0]
    widths = e.attrs["widths"]
    begins, ends = [0] * x.ndim, [0] * x.ndim
    for k in range(len(widths) // 2):
        begins[x.ndim - 1 - k], ends[x.ndim - 1 - k] = widths[2 * k], widths[2 * k + 1]
    value = e.attrs.get("value")
    fill = _scalar_like(g, 0 if value is None else value, x)
    return [g.node("Pad", [g.value(x), g.ints(begins + ends), fill], mode="constant")]


# -- fused operations (autograd/ops/normalization.py, activation.py, recurrent.py) ----------
def _normalise(g, x, axes, eps, like):
    """(x - mean)/√(var + ε) over ``axes`` (biased variance), as ONNX nodes."""
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, _scalar_like(g, eps, like)])])
    return g.node("Div", [centred, std])


def _affine(g, y, weight, bias, shape=None):
    for t, op_type in ((weight, "Mul"), (bias, "Add")):
        if t is not None:
            v = g.value(t)
            y = g.node(op_type, [y, v if shape is None else g.node("Reshape", [v, g.ints(shape)])])
    return y


def _layer_norm(g, e):
    x, weight, bias = e.inputs
    axes = list(range(x.ndim - e.attrs["normalized_ndim"], x.ndim))
    return [_affine(g, _normalise(g, _x(g, e), axes, e.attrs["eps"], x), weight, bias)]


def _batch_norm(g, e):
    x, weight, bias = e.inputs
    channels = x.shape[1]
    if not e.attrs["training"]:
        ones = lambda t: g.value(t) if t is not None else g.constant(  # noqa: E731
            np.full(channels, 1 if t is weight else 0, dtype=_dtype(x)))
        mean, var = e.attrs["running_mean"], e.attrs["running_var"]
        return [g.node("BatchNormalization", [_x(g, e), ones(weight), ones(bias), g.value(mean),
                                              g.value(var)], epsilon=float(e.attrs["eps"]))]
    axes = [0] + list(range(2, x.ndim))
    y = _normalise(g, _x(g, e), axes, e.attrs["eps"], x)
    return [_affine(g, y, weight, bias, (channels,) + (1,) * (x.ndim - 2))]


def _gelu(g, e):
    x, like = _x(g, e), e.inputs[0]
    if e.attrs["approximate"] == "tanh":
        cube = g.node("Mul", [x, g.node("Mul", [x, x])])
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar_like(g, 0.044715, like)])])
        t = g.node("Tanh", [g.node("Mul", [inner, _scalar_like(g, np.sqrt(2 / np.pi), like)])])
    else:
        t = g.node("Erf", [g.node("Mul", [x, _scalar_like(g, np.sqrt(0.5), like)])])
    half = g.node("Mul", [x, _scalar_like(g, 0.5, like)])
    return [g.node("Mul", [half, g.node("Add", [t, _scalar_like(g, 1, like)])])]


def _silu(g, e):
    x = _x(g, e)
    return [g.node("Mul", [x, g.node("Sigmoid", [x])])]


def _mish(g, e):
    """x·tanh(softplus(x))"""
    x = _x(g, e)
    return [g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])]


def _hardsigmoid(g, e):
    """min(max(x/6 + 1/2, 0), 1), ONNX's HardSigmoid with α = 1/6, β = 1/2"""
    return [g.node("HardSigmoid", [_x(g, e)], alpha=1 / 6, beta=0.5)]


def _hardswish(g, e):
    """x·hardsigmoid(x)"""
    x = _x(g, e)
    return [g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])]


def _elu(g, e):
    """elu, and selu (scaled) and celu (input scaled by 1/α), its other forms"""
    alpha = float(e.attrs["alpha"])
    scale, input_scale = e.attrs.get("scale", 1.0), e.attrs.get("input_scale", 1.0)
    if input_scale == 1 and scale == 1:
        return [g.node("Elu", [_x(g, e)], alpha=alpha)]
    if input_scale == 1:
        return [g.node("Selu", [_x(g, e)], alpha=alpha, gamma=float(scale))]
    if scale == 1 and input_scale == 1 / alpha:
        return [g.node("Celu", [_x(g, e)], alpha=alpha)]
    raise ExportError(f"'elu' with scale={scale} and input_scale={input_scale} has no ONNX form")


def _logsigmoid(g, e):
    """log σ(x) = -softplus(-x)"""
    return [g.node("Neg", [g.node("Softplus", [g.node("Neg", [_x(g, e)])])])]


def _softplus(g, e):
    """x where βx > threshold, else log(1 + e^{min(βx, threshold)})/β"""
    x, like = _x(g, e), e.inputs[0]
    beta, threshold = e.attrs["beta"], e.attrs["threshold"]
    z = x if beta == 1 else g.node("Mul", [x, _scalar_like(g, beta, like)])
    limit = _scalar_like(g, threshold, like)
    exp = g.node("Exp", [g.node("Min", [z, limit])])
    soft = g.node("Log", [g.node("Add", [exp, _scalar_like(g, 1, like)])])
    if beta != 1:
        soft = g.node("Div", [soft, _scalar_like(g, beta, like)])
    return [g.node("Where", [g.node("Greater", [z, limit]), x, soft])]


def _thirds_or_quarters(g, x, parts, hidden):
    return g.node("Split", [x, g.ints([hidden] * parts)], outputs=parts, axis=-1)


def _lstm_gates(g, e):
    z, cell = e.inputs
    return _lstm_gate_nodes(g, _x(g, e), None if cell is None else g.value(cell),
                            z.shape[-1] // 4)


def _lstm_gate_nodes(g, z, cell, hidden):
    i, f, c_in, o = _thirds_or_quarters(g, z, 4, hidden)
    i, f, o = (g.node("Sigmoid", [t]) for t in (i, f, o))
    c = g.node("Mul", [i, g.node("Tanh", [c_in])])
    if cell is not None:
        c = g.node("Add", [g.node("Mul", [f, cell]), c])
    return [g.node("Mul", [o, g.node("Tanh", [c])]), c]


def _unrolled(g, e, states, step):
    """A whole layer's time loop (rnn_sequence, lstm_sequence, gru_sequence) unrolled over
    the traced length: step(p_t, h_{t-1} W_hhᵀ or None, state) -> the new state (a list
    whose first entry is h_t)."""
    inputs, w_hh = e.inputs[0], e.inputs[1]
    if g.dynamic_dims(inputs)[0]:
        raise ExportError(f"'{e.op}' is unrolled over the traced length ({inputs.shape[0]} "
                          f"steps): it runs other operations for other lengths, so the "
                          f"sequence length cannot be a dynamic axis")
    parts = _x(g, e)
    w_t = g.node("Transpose", [g.value(w_hh)], perm=[1, 0])
    state = [None if s is None else g.value(s) for s in states]
    steps = inputs.shape[0]
    outputs = [None] * steps
    for t in (range(steps - 1, -1, -1) if e.attrs["reverse"] else range(steps)):
        p = g.node("Gather", [parts, g.constant(np.asarray(t, dtype=np.int64))], axis=0)
        product = None if state[0] is None else g.node("MatMul", [state[0], w_t])
        state = step(p, product, state)
        outputs[t] = g.unsqueeze(state[0], [0])
    stacked = g.node("Concat", outputs, axis=0) if steps > 1 else g.node("Identity", outputs)
    return [stacked] + state


def _plus(g, p, product):
    return p if product is None else g.node("Add", [p, product])


def _rnn_sequence(g, e):
    activation = "Relu" if e.attrs["relu"] else "Tanh"
    return _unrolled(g, e, e.inputs[2:], lambda p, product, state: [
        g.node(activation, [_plus(g, p, product)])])


def _lstm_sequence(g, e):
    hidden = e.inputs[1].shape[1]
    return _unrolled(g, e, e.inputs[2:], lambda p, product, state: _lstm_gate_nodes(
        g, _plus(g, p, product), state[1], hidden))


def _gru_sequence(g, e):
    hidden = e.inputs[1].shape[1]
    bias = None if e.inputs[2] is None else g.value(e.inputs[2])

    def step(p, product, state):   # q = h W_hhᵀ + b_hh stays apart from p
        if product is None:
            q = bias
        else:
            q = product if bias is None else g.node("Add", [product, bias])
        return [_gru_gate_nodes(g, p, q, state[0], hidden)]
    return _unrolled(g, e, e.inputs[3:], step)


def _gru_gates(g, e):
    p, q, state = e.inputs
    return [_gru_gate_nodes(g, _x(g, e), None if q is None else g.value(q),
                            None if state is None else g.value(state), p.shape[-1] // 3)]


def _gru_gate_nodes(g, p, q, state, hidden):
    """h' of the GRU gates from the graph values p, q (a bias row, a batch, or None) and h."""
    p_r, p_z, p_n = _thirds_or_quarters(g, p, 3, hidden)
    if q is None:
        z, n = g.node("Sigmoid", [p_z]), g.node("Tanh", [p_n])
    else:
        q_r, q_z, q_n = g.node("Split", [q, g.ints([hidden] * 3)], outputs=3, axis=-1)
        r = g.node("Sigmoid", [g.node("Add", [p_r, q_r])])
        z = g.node("Sigmoid", [g.node("Add", [p_z, q_z])])
        n = g.node("Tanh", [g.node("Add", [p_n, g.node("Mul", [r, q_n])])])
    out = g.node("Sub", [n, g.node("Mul", [z, n])])
    if state is not None:
        out = g.node("Add", [out, g.node("Mul", [z, state])])
    return out


CONVERTERS = {
    # elementwise
    "add": _add_or_sub("Add"), "sub": _add_or_sub("Sub"), "mul": _binary("Mul"),
    "div": _binary("Div"), "pow": _pow, "maximum": _binary("Max"), "minimum": _binary("Min"),
    "where": _where, "neg": _unary("Neg"), "abs": _unary("Abs"), "exp": _unary("Exp"),
    "expm1": _expm1, "log": _unary("Log"), "log1p": _log1p, "sqrt": _unary("Sqrt"),
    "rsqrt": _rsqrt, "sin": _unary("Sin"), "cos": _unary("Cos"), "tanh": _unary("Tanh"),
    "sigmoid": _unary("Sigmoid"), "relu": _unary("Relu"), "erf": _unary("Erf"),
    "clamp": _clamp, "floor": _unary("Floor"), "ceil": _unary("Ceil"), "round": _unary("Round"),
    "sign": _unary("Sign"), "sgn": _unary("Sign"),
    "eq": _binary("Equal"), "ne": _not_equal, "lt": _binary("Less"), "le": _binary("LessOrEqual"),
    "gt": _binary("Greater"), "ge": _binary("GreaterOrEqual"), "logical_not": _unary("Not"),
    "logical_and": _binary("And"), "logical_or": _binary("Or"),
    "bitwise_and": _bitwise("And", "BitwiseAnd"), "bitwise_or": _bitwise("Or", "BitwiseOr"),
    "masked_fill": _masked_fill,
    # conversions and copies
    "cast": _cast, "to_device": _identity, "clone": _identity, "contiguous": _identity,
    "copy": _expand,   # (x.copy_(src): src broadcast to x's shape)
    "rsub": _rsub, "reciprocal": _unary("Reciprocal"), "tan": _unary("Tan"),
    "asin": _unary("Asin"), "acos": _unary("Acos"), "atan": _unary("Atan"),
    "sinh": _unary("Sinh"), "cosh": _unary("Cosh"), "asinh": _unary("Asinh"),
    "acosh": _unary("Acosh"), "atanh": _unary("Atanh"),
    # reductions
    "sum": _reduction("ReduceSum"), "mean": _reduction("ReduceMean"),
    "prod": _reduction("ReduceProd"), "amax": _reduction("ReduceMax"),
    "amin": _reduction("ReduceMin"), "max": _reduction("ReduceMax"),
    "min": _reduction("ReduceMin"), "logsumexp": _reduction("ReduceLogSumExp"),
    "var": _var, "std": _std, "softmax": _softmax("Softmax"),
    "log_softmax": _softmax("LogSoftmax"), "cumsum": _cumsum,
    # shapes
    "reshape": _reshape, "view": _reshape, "view_as": _reshape, "flatten": _reshape,
    "unflatten": _reshape, "squeeze": _reshape, "unsqueeze": _reshape,
    "transpose": _transpose_with(lambda e, n: _swapped(n, *e.attrs["dims"])),
    "t": _transpose_with(lambda e, n: list(reversed(range(n)))),
    "numpy_T": _transpose_with(lambda e, n: list(reversed(range(n)))),
    "matrix_transpose": _transpose_with(lambda e, n: _swapped(n, n - 2, n - 1)),
    "permute": _transpose_with(lambda e, n: e.attrs["perm"]),
    "movedim": _transpose_with(lambda e, n: e.attrs["perm"]),
    "expand": _expand, "expand_as": _expand, "broadcast_to": _expand, "repeat": _repeat,
    "flip": _flip, "slice": _slice, "narrow": _slice, "select": _select,
    "tril": _trilu(0), "triu": _trilu(1), "cat": _cat, "stack": _stack,
    "split": _split, "chunk": _split, "unbind": _unbind, "getitem": _getitem,
    # products
    "matmul": _binary("MatMul"), "mm": _binary("MatMul"), "bmm": _binary("MatMul"),
    "addmm": _addmm, "outer": _outer,
    # convolution, pooling, resampling
    "conv1d": _conv, "conv2d": _conv, "conv_transpose1d": _conv_transpose,
    "conv_transpose2d": _conv_transpose, "max_pool1d": _max_pool, "max_pool2d": _max_pool,
    "avg_pool1d": _average_pool, "avg_pool2d": _average_pool,
    "adaptive_avg_pool1d": _average_pool, "adaptive_avg_pool2d": _average_pool,
    "interpolate": _resample, "pad": _pad,
    # fused operations
    "layer_norm": _layer_norm, "batch_norm": _batch_norm, "gelu": _gelu,
    "silu": _silu, "softplus": _softplus, "elu": _elu, "logsigmoid": _logsigmoid,
    "mish": _mish, "hardsigmoid": _hardsigmoid, "hardswish": _hardswish,
    "lstm_gates": _lstm_gates, "gru_gates": _gru_gates,
    "rnn_sequence": _rnn_sequence, "lstm_sequence": _lstm_sequence,
    "gru_sequence": _gru_sequence,
}


def convert(g, e):
    """The graph values of ``e``'s outputs; an error naming the op when it has no ONNX form."""
    converter = CONVERTERS.get(e.op)
    if converter is None:
        raise ExportError(f"the operation '{e.op}' has no ONNX form in tapegrad.onnx.export "
                          f"(it converts: {', '.join(sorted(CONVERTERS))})")
    return converter(g, e)
