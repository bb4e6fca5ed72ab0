"""Convolution: conv1d, conv2d, their transposes, unfold/fold (im2col as operations) and pad.

A 2-d convolution with weight w (O, C/groups, kh, kw) computes

    y[n, o, p, q] = Σ_{c, i, j} w[o, c, i, j] · x_padded[n, c, p·sh + i·dh, q·sw + j·dw]

It is linear in x and linear in w, so each gradient is another convolution-like map:

* ∂L/∂x is the *transposed* convolution of ∂L/∂y with w: every output gradient is sent
  back, through the weights, to the input positions its window read
  (``conv_transpose2d``, computed as col2im(wᵀ @ dy));
* ∂L/∂w correlates x with ∂L/∂y (``conv2d_weight``, computed as dy @ im2colᵀ).

These three maps, F = conv2d(x, w), T = conv_transpose2d(dy, w) and
W = conv2d_weight(x, dy), are each other's gradients: T's gradients are F and W, W's
are T and F. So each is one recorded operation whose backward calls the other two,
and second derivatives (create_graph=True) come for free. A convolution's backward that
needs both T and W records them as one operation (``conv2d_backward``): the kernels then
compute both in one pass over the batch, and its own derivative is again made of F, T
and W. The array work is in ``tapegrad/kernels`` (one matmul each).

A 1-d convolution is a 2-d one on an image of height 1. unfold/fold expose im2col and
its adjoint col2im as operations (each is the other's backward); ``pad`` pads with a
constant (its backward crops: a pad with the negated widths) or by reflecting,
replicating or wrapping around the edges (gathers, see pooling.resample).
"""
import operator

from ... import kernels
from ..operands import check_same_device
from ..tape import own_result, record, record_many
from ..tensor import Tensor, wrap
from .arguments import as_batch, n_ints
from .pooling import is_half, resample, via_float32
from .declare import operation


# -- arguments --------------------------------------------------------------------------------
def _check_geometry(op, stride, dilation, padding, groups):
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported (stride={stride})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero (dilation={dilation})")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported (padding={padding})")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported (groups={groups})")


def _check_operands(op, input, weight, bias):
    """Tensors of one numeric dtype on one device; a clear error otherwise."""
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    present = [t for t in (input, weight, bias) if t is not None]
    check_same_device(op, *present)
    # (an empty bool input gives an empty result, as PyTorch: nothing is computed in bool)
    numeric = "fiu" if input.array.size else "fiub"
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and t.array.dtype.kind not in numeric:
            raise RuntimeError(f"{op}: expected numeric tensors, but {name} has dtype "
                               f"{t.dtype}")
    if weight.dtype is not input.dtype or (bias is not None and bias.dtype is not input.dtype):
        bias_part = "" if bias is None else f", bias ({bias.dtype})"
        raise RuntimeError(f"{op}: input ({input.dtype}), weight ({weight.dtype}){bias_part} "
                           f"should have the same dtype")


def _same_padding(kernel, dilation):
    """"same": total padding d·(k - 1) per dim, the odd one out on the bottom/right (PyTorch)."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def _conv_window(op, x, weight, stride, padding, dilation, groups, spatial):
    """The Window of conv{1,2}d, after checking every shape against the others."""
    if x.shape[0] and x.shape[1] and 0 in x.shape[2:]:
        # PyTorch refuses an empty image or sequence (padding would make outputs of nothing)
        raise RuntimeError(f"{op}: an input with an empty spatial dimension is only supported "
                           f"with zero batch or zero channels, got input shape {tuple(x.shape)}")
    if weight.ndim != spatial + 2:
        raise RuntimeError(f"{op}: expected a {spatial + 2}-d weight (out_channels, "
                           f"in_channels/groups, {'kH, kW' if spatial == 2 else 'kW'}), but got "
                           f"a weight of shape {tuple(weight.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = n_ints(stride, spatial, "stride", op)
    dilation = n_ints(dilation, spatial, "dilation", op)
    groups = operator.index(groups)
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0) * spatial
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                                   f"convolutions (stride={stride})")
            pads = _same_padding(kernel, dilation)
        else:
            raise RuntimeError(f"{op}: invalid padding string {padding!r}, should be one of "
                               f"'valid', 'same'")
    else:
        pads = tuple(p for p in n_ints(padding, spatial, "padding", op) for _ in (0, 1))
    _check_geometry(op, stride, dilation, pads, groups)
    channels, out_channels = x.shape[1], weight.shape[0]
    if out_channels % groups:
        raise RuntimeError(f"{op}: the weight's out_channels ({out_channels}, weight of shape "
                           f"{tuple(weight.shape)}) must be divisible by groups={groups}")
    if channels != weight.shape[1] * groups:
        raise RuntimeError(f"{op}: given groups={groups} and a weight of shape "
                           f"{tuple(weight.shape)}, expected the input of shape "
                           f"{tuple(x.shape)} to have {weight.shape[1] * groups} channels, "
                           f"but it has {channels}")
    return _window(op, tuple(x.shape[2:]), kernel, stride, dilation, pads, groups, spatial)


def _window(op, in_size, kernel, stride, dilation, pads, groups, spatial):
    """A 2-d kernels.Window (a 1-d one gets height 1), checked to have outputs."""
    if spatial == 1:
        in_size, kernel, stride, dilation = ((1,) + tuple(in_size), (1,) + tuple(kernel),
                                             (1,) + tuple(stride), (1,) + tuple(dilation))
        pads = (0, 0) + tuple(pads)
    window = kernels.Window(tuple(in_size), tuple(kernel), tuple(stride), tuple(dilation),
                            tuple(pads), groups)
    padded = window.padded_size
    reach = tuple(d * (k - 1) + 1 for k, d in zip(window.kernel, window.dilation))
    if any(r > p for r, p in zip(reach, padded)):
        raise RuntimeError(f"{op}: the padded input size per channel "
                           f"{_sizes(padded, spatial)} is smaller than the (dilated) kernel "
                           f"size {_sizes(reach, spatial)}")
    return window


def _sizes(pair, spatial):
    return "(" + " x ".join(str(v) for v in pair[2 - spatial:]) + ")"


# -- the three maps: convolution, transposed convolution, weight gradient ------------------------
# Each takes 4-d tensors (a 1-d convolution is given height-1 images) and a Window whose
# in_size is the size of x (the convolution's input, the transposed convolution's output).
# ``name`` is the public name ("conv1d"/"conv2d"), used for the names of the recorded ops.

def _convolution(x, weight, bias, window, name, stamp=None):
    """y = conv(x, w) + b;  ∂y/∂x: transposed convolution with w,  ∂y/∂w: correlation with x,
    ∂y/∂b: sum over batch and positions"""
    xp = x.device.xp
    stamp = stamp if stamp is not None else kernels.Stamp()   # (for what the forward keeps)
    y = kernels.conv_forward(xp, x.array, weight.array, None if bias is None else bias.array,
                             window, stamp)
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0] and ctx.needs_input_grad[1]:
            grad_x, grad_w = _both_grads(x, grad, weight, window, name, stamp)
        elif ctx.needs_input_grad[1]:
            grad_w = _weight_grad(x, grad, window, name, stamp)
        elif ctx.needs_input_grad[0]:
            grad_x = _transposed(grad, weight, None, window, name)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b
    return record(name, y, (x, weight, bias), backward, attrs={"window": window},
                  save=(x if weight.requires_grad else None,
                        weight if x.requires_grad else None))


def _both_grads(x, grad, weight, window, name, stamp=None):
    """(x̄, w̄) = (convᵀ(ȳ, w), corr(x, ȳ)) in one pass over the batch (one recorded
    operation); its derivative is that of the two maps: for incoming gradients (g_x, g_w),
    ∂/∂ȳ = conv(g_x, w) + conv(x, g_w),  ∂/∂x = convᵀ(ȳ, g_w),  ∂/∂w = corr(g_x, ȳ)"""
    xp = x.device.xp
    grad_x, grad_w = kernels.conv_backward(xp, x.array, grad.array, weight.array, window, stamp)
    def backward(ctx, g_x, g_w):
        x, ybar, weight = ctx.saved_tensors
        grad_x = grad_ybar = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = _transposed(ybar, g_w, None, window, name)
        if ctx.needs_input_grad[1]:
            grad_ybar = (_convolution(g_x, weight, None, window, name)
                         + _convolution(x, g_w, None, window, name))
        if ctx.needs_input_grad[2]:
            grad_weight = _weight_grad(g_x, ybar, window, name)
        return grad_x, grad_ybar, grad_weight
    return tuple(record_many(name + "_backward", [grad_x, grad_w], (x, grad, weight), backward,
                             save=(x, grad, weight)))


def _transposed(grad, weight, bias, window, name):
    """x̄ = convᵀ(ȳ, w) + b;  ∂x̄/∂ȳ: convolution with w,  ∂x̄/∂w: correlation of the incoming
    gradient with ȳ,  ∂x̄/∂b: sum over batch and positions"""
    xp = grad.device.xp
    out = kernels.conv_input_grad(xp, grad.array, weight.array, window)
    if bias is not None:
        out += bias.array.reshape(1, -1, 1, 1)
    def backward(ctx, g):
        ybar, weight = ctx.saved_tensors
        stamp = kernels.Stamp()   # what conv(g, w) keeps of g for W (the GPU's columns)
        grad_ybar = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_ybar = _convolution(g, weight, None, window, name, stamp)
        if ctx.needs_input_grad[1]:
            grad_w = _weight_grad(g, ybar, window, name, stamp)
        if ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=(0, 2, 3))
        return grad_ybar, grad_w, grad_b
    return record(name.replace("conv", "conv_transpose"), out, (grad, weight, bias), backward,
                  attrs={"window": window}, save=(grad if weight.requires_grad else None,
                        weight if grad.requires_grad else None))


def _weight_grad(x, grad, window, name, stamp=None):
    """w̄ = corr(x, ȳ);  ∂w̄/∂x: transposed convolution of ȳ (with the incoming gradient as
    weight),  ∂w̄/∂ȳ: convolution of x with the incoming gradient"""
    xp = x.device.xp
    out = kernels.conv_weight_grad(xp, x.array, grad.array, window, stamp)
    def backward(ctx, g):
        x, ybar = ctx.saved_tensors
        grad_x = grad_ybar = None
        if ctx.needs_input_grad[0]:
            grad_x = _transposed(ybar, g, None, window, name)
        if ctx.needs_input_grad[1]:
            grad_ybar = _convolution(x, g, None, window, name)
        return grad_x, grad_ybar
    return record(name + "_weight", out, (x, grad), backward, save=(x, grad))


# -- the public operations ----------------------------------------------------------------------
@operation(function=True)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n,o] = b[o] + Σ_{c,i,j} w[o,c,i,j]·x[n, c, p·s+i·d, q·s+j·d];  ∂y/∂x: conv_transpose2d
    with w,  ∂y/∂w: x correlated with ∂y,  ∂y/∂b = Σ over n, p, q"""
    _check_operands("conv2d", input, weight, bias)
    if is_half(input, weight, bias):
        return via_float32(conv2d, input, weight, bias, stride, padding, dilation, groups)
    x, batched = as_batch("conv2d", input, 2)
    window = _conv_window("conv2d", x, weight, stride, padding, dilation, groups, 2)
    _check_bias("conv2d", bias, weight.shape[0])
    y = _convolution(x, weight, bias, window, "conv2d")
    return y if batched else own_result(y.squeeze(0))


@operation(function=True)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n,o,t] = b[o] + Σ_{c,j} w[o,c,j]·x[n, c, t·s+j·d] (conv2d on images of height 1);
    ∂y/∂x: conv_transpose1d with w,  ∂y/∂w: x correlated with ∂y,  ∂y/∂b = Σ over n, t"""
    _check_operands("conv1d", input, weight, bias)
    if is_half(input, weight, bias):
        return via_float32(conv1d, input, weight, bias, stride, padding, dilation, groups)
    x, batched = as_batch("conv1d", input, 1)
    window = _conv_window("conv1d", x, weight, stride, padding, dilation, groups, 1)
    _check_bias("conv1d", bias, weight.shape[0])
    y = own_result(_convolution(x.unsqueeze(2), weight.unsqueeze(2), bias, window, "conv1d").squeeze(2))
    return y if batched else own_result(y.squeeze(0))


def _check_bias(op, bias, channels):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise RuntimeError(f"{op}: expected a bias of shape ({channels},) (one per output "
                           f"channel), but got a bias of shape {tuple(bias.shape)}")


def _transposed_window(op, x, weight, stride, padding, output_padding, groups, dilation, spatial):
    """The Window of the convolution that conv_transpose inverts: its input is the transposed
    convolution's output, of size (in - 1)·s - 2p + d·(k - 1) + output_padding + 1."""
    if weight.ndim != spatial + 2:
        raise RuntimeError(f"{op}: expected a {spatial + 2}-d weight (in_channels, "
                           f"out_channels/groups, {'kH, kW' if spatial == 2 else 'kW'}), but got "
                           f"a weight of shape {tuple(weight.shape)}")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    if x.shape[0] and x.shape[1] and 0 in x.shape[2:]:   # (as conv's _conv_window, PyTorch)
        raise RuntimeError(f"{op}: an input with an empty spatial dimension is only supported "
                           f"with zero batch or zero channels, got input shape {tuple(x.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = n_ints(stride, spatial, "stride", op)
    padding = n_ints(padding, spatial, "padding", op)
    output_padding = n_ints(output_padding, spatial, "output_padding", op)
    dilation = n_ints(dilation, spatial, "dilation", op)
    groups = operator.index(groups)
    _check_geometry(op, stride, dilation, padding, groups)
    for op_, s, d in zip(output_padding, stride, dilation):
        if not 0 <= op_ < max(s, d):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                               f"dilation, but got output_padding={output_padding}, "
                               f"stride={stride}, dilation={dilation}")
    channels = x.shape[1]
    if channels != weight.shape[0]:
        raise RuntimeError(f"{op}: expected the input of shape {tuple(x.shape)} to have "
                           f"{weight.shape[0]} channels (the weight of shape "
                           f"{tuple(weight.shape)} has in_channels={weight.shape[0]}), but it "
                           f"has {channels}")
    if channels % groups:
        raise RuntimeError(f"{op}: in_channels ({channels}) must be divisible by groups={groups}")
    out_size, pads, crops = [], [], []
    sizes = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1
             for n, k, s, p, o, d in zip(x.shape[2:], kernel, stride, padding, output_padding,
                                         dilation)]
    if 0 in sizes and min(sizes) == 0:
        return None, tuple(sizes)   # an empty output (the padding crops every row), as PyTorch
    if x.shape[0] == 0 and 0 in x.shape[2:] and min(sizes) > 0:
        # a batch of no empty signals: an output of no rows, of the size the formula gives
        # (length 0, kernel 2: 1), as PyTorch, with no window to convolve over
        return None, tuple(sizes)
    for n, k, s, p, o, d in zip(x.shape[2:], kernel, stride, padding, output_padding, dilation):
        size = (n - 1) * s - 2 * p + d * (k - 1) + o + 1
        if size <= 0:
            raise RuntimeError(f"{op}: the output size {size} is too small for an input of "
                               f"shape {tuple(x.shape)} (kernel {kernel}, stride {stride}, "
                               f"padding {padding}, output_padding {output_padding})")
        # A convolution over the output must give back exactly n positions:
        # ⌊((n - 1)·s + o - p + after) / s⌋ = n - 1, so after ∈ [p - o, p - o + s - 1].
        # When even p - o + s - 1 < 0 (output_padding ≥ stride, allowed when the dilation is
        # larger), the last rows are never reached: they are left out (cropped) here and
        # added back as zeros afterwards.
        after = max(p - o, 0)
        crop = max(o - p - s + 1, 0)
        out_size.append(size - crop)
        pads += [p, after]
        crops.append(crop)
    window = _window(op, tuple(out_size), kernel, stride, dilation, tuple(pads), groups, spatial)
    return window, tuple(crops)


@operation(function=True)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """the adjoint of conv2d: each input value is spread, through w, over the output window it
    would have been read from;  ∂/∂x: conv2d with w,  ∂/∂w: the incoming gradient correlated
    with x,  ∂/∂b = Σ over n, p, q"""
    _check_operands("conv_transpose2d", input, weight, bias)
    if is_half(input, weight, bias):
        return via_float32(conv_transpose2d, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
    x, batched = as_batch("conv_transpose2d", input, 2)
    window, crops = _transposed_window("conv_transpose2d", x, weight, stride, padding,
                                       output_padding, groups, dilation, 2)
    _check_bias("conv_transpose2d", bias, weight.shape[1] * operator.index(groups))
    y = (_empty_output(x, weight, bias, groups, crops) if window is None else
         _uncropped(_transposed, x, weight, bias, window, "conv2d", crops))
    return y if batched else own_result(y.squeeze(0))


def _empty_output(x, weight, bias, groups, sizes):
    """A transposed convolution whose output has a size of 0: zeros of the output's shape,
    tied to x, w and b by empty sums (0, whatever their values), so each gets a zero gradient"""
    shape = (x.shape[0], weight.shape[1] * operator.index(groups)) + tuple(sizes)
    tie = x.reshape(-1)[:0].sum() + weight.reshape(-1)[:0].sum()
    if bias is not None:
        tie = tie + bias[:0].sum()
    # (a bool sum is int64: the tie is cast back so an empty bool input gives a bool result)
    return wrap(x.device.xp.zeros(shape, x.array.dtype), x.device) + tie.to(x.dtype)


def _uncropped(transposed, x, weight, bias, window, name, crops):
    """The transposed convolution, with the rows/columns it cannot reach (crops) added back
    as zeros (+ bias)."""
    if not any(crops):
        return transposed(x, weight, bias, window, name)
    y = _pad_constant(transposed(x, weight, None, window, name),
                      (0, crops[-1], 0, crops[0]) if len(crops) == 2 else (0, crops[0]), 0)
    return y if bias is None else y + bias.reshape((-1,) + (1,) * (y.ndim - 2))


@operation(function=True)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """conv_transpose2d on signals seen as images of height 1"""
    _check_operands("conv_transpose1d", input, weight, bias)
    if is_half(input, weight, bias):
        return via_float32(conv_transpose1d, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
    x, batched = as_batch("conv_transpose1d", input, 1)
    window, crops = _transposed_window("conv_transpose1d", x, weight, stride, padding,
                                       output_padding, groups, dilation, 1)
    _check_bias("conv_transpose1d", bias, weight.shape[1] * operator.index(groups))
    y = (_empty_output(x, weight, bias, groups, crops) if window is None else
         _uncropped(_transposed, x.unsqueeze(2), weight.unsqueeze(2), bias, window, "conv1d",
                    (0,) + crops).squeeze(2))
    return y if batched else own_result(y.squeeze(0))


# -- im2col and col2im as operations -----------------------------------------------------------
def _fold_window(op, in_size, kernel_size, dilation, padding, stride):
    kernel = n_ints(kernel_size, 2, "kernel_size", op)
    dilation = n_ints(dilation, 2, "dilation", op)
    padding = n_ints(padding, 2, "padding", op)
    stride = n_ints(stride, 2, "stride", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size should be greater than zero, got {kernel}")
    _check_geometry(op, stride, dilation, padding, 1)
    pads = (padding[0], padding[0], padding[1], padding[1])
    return _window(op, tuple(in_size), kernel, stride, dilation, pads, 1, 2)


@operation(functional=True)
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: column l holds the C·kh·kw values of window l;  the gradient is added back onto
    the positions each window read: fold"""
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold: input must be a Tensor, got {type(input).__name__}")
    if is_half(input):
        return via_float32(unfold, input, kernel_size, dilation, padding, stride)
    x, batched = as_batch("unfold", input, 2)
    window = _fold_window("unfold", x.shape[2:], kernel_size, dilation, padding, stride)
    out = kernels.unfold(x.device.xp, x.array, window)
    def backward(ctx, grad):
        return _fold(grad, window)
    y = record("unfold", out, (x,), backward)
    return y if batched else own_result(y.squeeze(0))


@operation(functional=True)
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: each value of column l is added onto the position of window l it stands for;
    the gradient reads those positions back: unfold"""
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if is_half(input):
        return via_float32(fold, input, output_size, kernel_size, dilation, padding, stride)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-d (unbatched) or 3-d (batched) input, but got an "
                           f"input of shape {tuple(input.shape)}")
    columns = input if input.ndim == 3 else input.unsqueeze(0)
    size = n_ints(output_size, 2, "output_size", op)
    window = _fold_window(op, size, kernel_size, dilation, padding, stride)
    taps = window.taps
    if columns.shape[1] % taps:
        raise RuntimeError(f"{op}: expected the size of dimension 1 of the input (of shape "
                           f"{tuple(input.shape)}) to be divisible by the product of "
                           f"kernel_size {window.kernel} = {taps}")
    ho, wo = window.out_size
    if columns.shape[2] != ho * wo:
        raise RuntimeError(f"{op}: given output_size={size}, kernel_size={window.kernel}, "
                           f"dilation={window.dilation}, padding={window.padding[::2]}, "
                           f"stride={window.stride}, expected the size of dimension 2 of the "
                           f"input (of shape {tuple(input.shape)}) to be the number of sliding "
                           f"blocks {ho} * {wo} = {ho * wo}")
    y = _fold(columns, window)
    return y if input.ndim == 3 else own_result(y.squeeze(0))


def _fold(columns, window):
    out = kernels.fold(columns.device.xp, columns.array, window)
    def backward(ctx, grad):
        return unfold(grad, window.kernel, window.dilation, window.padding[::2], window.stride)
    return record("fold", out, (columns,), backward)


# -- padding ----------------------------------------------------------------------------------
@operation(functional=True)
def pad(input, pad, mode="constant", value=None):
    """y = x surrounded by pad[0] values on the left of the last dim, pad[1] on its right,
    pad[2], pad[3] around the one before, …;  constant: ∂y/∂x crops the gradient back (a pad
    with the negated widths); reflect/replicate/circular: each y is a copy of one x, so the
    gradient adds up the copies"""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    try:
        widths = tuple(operator.index(p) for p in pad)
    except TypeError:
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}") from None
    if len(widths) % 2 or len(widths) // 2 > input.ndim:
        raise ValueError(f"pad: pad must have an even length of at most 2·ndim = "
                         f"{2 * input.ndim} for an input of shape {tuple(input.shape)}, got "
                         f"{pad!r}")
    if mode == "constant":
        if isinstance(value, Tensor):   # PyTorch wants a number; a one-element tensor is one
            if value.numel() != 1:
                raise RuntimeError(f"pad: value must be a number or a one-element tensor, got "
                                   f"a tensor of shape {tuple(value.shape)}")
            if value.requires_grad:
                # a value that requires grad: y = pad(x, 0) + value·(1 where y is padding)
                xp = input.device.xp
                padding = 1 - _pad_constant(wrap(xp.ones(tuple(input.shape), input.array.dtype),
                                                 input.device), widths, 0)
                return _pad_constant(input, widths, 0) + value.reshape(()) * padding
            value = value.item()
        if value is None or max(widths, default=0) <= 0:
            value = 0   # (a pad that only crops fills nothing: its value is not looked at)
        elif not hasattr(value, "shape"):
            # pad, unlike fill_, refuses -1 for uint8, as PyTorch does
            from ...dtypes import stored_scalar
            value = stored_scalar("pad", value, input.array.dtype, strict_unsigned=True)
        return _pad_constant(input, widths, value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unknown padding mode {mode!r} (constant, reflect, "
                                  f"replicate and circular are supported)")
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in a value argument")
    dims = len(widths) // 2
    if input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(f"pad: {mode} padding of the last {dims} dim(s) needs a "
                                  f"{dims + 1}-d or {dims + 2}-d input, got shape "
                                  f"{tuple(input.shape)}")
    y = input
    for k in range(dims):
        axis = input.ndim - 1 - k
        before, after = widths[2 * k], widths[2 * k + 1]
        y = resample(y, axis, _pad_index(mode, input.shape[axis], before, after, axis,
                                         tuple(input.shape)), None, "pad")
    return y


def _pad_index(mode, size, before, after, axis, shape):
    """The input position each output position along one axis is a copy of."""
    if size + before + after <= 0:
        raise RuntimeError(f"pad: padding ({before}, {after}) of dimension {axis} of the input "
                           f"of shape {shape} leaves nothing")
    if mode == "reflect" and (before >= size or after >= size):
        raise ValueError(f"pad: padding ({before}, {after}) should be less than the size "
                         f"{size} of dimension {axis} of the input of shape {shape} in reflect "
                         f"mode")
    if mode == "circular" and (before > size or after > size):
        raise ValueError(f"pad: padding ({before}, {after}) should be at most the size {size} "
                         f"of dimension {axis} of the input of shape {shape} in circular mode")
    if mode == "replicate" and size == 0:
        raise ValueError(f"pad: cannot replicate-pad an empty dimension {axis} (shape {shape})")
    positions = range(-before, size + after)
    if mode == "reflect":
        index = [-i if i < 0 else (2 * (size - 1) - i if i >= size else i) for i in positions]
    elif mode == "replicate":
        index = [min(max(i, 0), size - 1) for i in positions]
    else:   # circular: negative widths crop first, then the rest wraps around what is left
        low, high = max(-before, 0), size - max(-after, 0)
        index = [low + i % (high - low) for i in range(-max(before, 0), high - low + max(after, 0))]
    return [index]


def _pad_constant(x, widths, value):
    shape = list(x.shape)
    source, target = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    for k in range(len(widths) // 2):
        axis = x.ndim - 1 - k
        before, after = widths[2 * k], widths[2 * k + 1]
        size = shape[axis] + before + after
        if shape[axis] + min(before, 0) + min(after, 0) < 0:   # cropping comes first, as PyTorch
            raise RuntimeError(f"pad: the input size {shape[axis]} of dimension {axis}, plus "
                               f"negative padding {before} and {after}, is negative "
                               f"(input of shape {tuple(x.shape)})")
        source[axis] = slice(max(-before, 0), shape[axis] - max(-after, 0))
        target[axis] = slice(max(before, 0), size - max(after, 0))
        shape[axis] = size
    xp = x.device.xp
    out = xp.full(shape, value, dtype=x.array.dtype)
    if all(s.start < s.stop for s in source[x.ndim - len(widths) // 2:]):
        out[tuple(target)] = x.array[tuple(source)]
    def backward(ctx, grad):
        return _pad_constant(grad, tuple(-w for w in widths), 0)
    return record("pad", out, (x,), backward, attrs={"widths": widths, "value": value})
