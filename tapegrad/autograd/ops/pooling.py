"""Pooling and resampling: max/avg pooling, adaptive average pooling, interpolation.

* Max pooling keeps the largest value of each window and remembers where it was; its
  gradient goes to that one position (a scatter), and the gradient of the scatter reads
  those positions back (a gather), so second derivatives work.
* Average pooling is linear, y = A x: its gradient is the transpose, x̄ = Aᵀ ȳ (each
  output's gradient, divided like the output, spread over its window), and the
  gradient of that is A again.
* Interpolation and adaptive pooling are linear too, and *separable*: they act on each
  spatial axis on its own, and along one axis each output is a weighted sum of a few
  inputs, y[o] = Σ_t weight[t][o] · x[index[t][o]] (nearest: one tap of weight 1;
  linear: two taps, (1 - λ) and λ; adaptive average: the window, weights 1/len). That
  is ``resample``; its gradient adds each ȳ[o]·weight back at index[t][o].

The array work is in ``tapegrad/kernels``.
"""
import math
import operator

from ... import kernels
from .. import grad_mode
from ..tape import own_result, record
from ..tensor import Tensor, wrap
from .arguments import as_batch, n_ints
from .declare import operation


def is_half(*tensors):
    """True when every given tensor (None aside) is float16."""
    return all(t is None or isinstance(t, Tensor) and t.array.dtype.char == "e" for t in tensors)


def via_float32(function, *args, **kwargs):
    """``function`` of the float16 tensors among the arguments made float32, its floating
    results rounded back to float16 once: the kernels (numba loops, im2col matmuls) have no
    float16 of their own, and PyTorch's CPU kernels compute float16 in float32 too. The
    casts are operations, so gradients flow through them (and come back float16)."""
    def up(a):
        return a.float() if isinstance(a, Tensor) and a.array.dtype.char == "e" else a
    def down(r):
        return r.half() if isinstance(r, Tensor) and r.dtype.is_floating_point else r
    result = function(*map(up, args), **{k: up(v) for k, v in kwargs.items()})
    return tuple(map(down, result)) if isinstance(result, tuple) else down(result)


def _is_int64(x):
    return isinstance(x, Tensor) and x.array.dtype.char in "lq" and x.array.dtype.itemsize == 8


def _divided_toward_zero(xp, sums, divisor):
    """Average pooling of int64, as PyTorch's: sums / divisor in integers (the window sums
    wrap past ±2⁶³ as PyTorch's do), rounded toward zero (floor division rounds down: a negative
    quotient with a remainder is one too small)."""
    quotient = sums // divisor
    quotient += ((sums < 0) != (divisor < 0)) & (sums % divisor != 0)
    return quotient


def _require_float(op, x, integers=False):
    if x.array.dtype.kind not in ("fiu" if integers else "f"):
        raise RuntimeError(f"{op}: expected a floating point input, but got dtype {x.dtype}")


def _pool_size(n, k, s, p, d, ceil_mode):
    """PyTorch's output size; with ceil_mode the last window must start inside the input or
    its left padding."""
    reach = d * (k - 1) + 1
    out = (n + 2 * p - reach + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_window(op, x, spatial, kernel_size, stride, padding, dilation, ceil_mode, half_of):
    """The kernels.Window of a pooling (bottom/right padding grown to hold ceil_mode's last
    window), after PyTorch's checks."""
    kernel = n_ints(kernel_size, spatial, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else n_ints(stride, spatial, "stride", op)
    padding = n_ints(padding, spatial, "padding", op)
    dilation = n_ints(dilation, spatial, "dilation", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, got {kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride must be greater than zero, got {stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation must be greater than zero, got {dilation}")
    for k, p, d in zip(kernel, padding, dilation):
        limit = (d * (k - 1) + 1) // 2 if half_of == "effective" else k // 2
        if p < 0 or p > limit:
            raise RuntimeError(f"{op}: pad should be at most half of {half_of} kernel size, but "
                               f"got padding={padding}, kernel_size={kernel}"
                               + (f" and dilation={dilation}" if half_of == "effective" else ""))
    sizes = tuple(x.shape[2:])
    out = tuple(_pool_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op}: given an input of shape {tuple(x.shape)}, the calculated "
                           f"output size {out} is too small (kernel_size={kernel}, "
                           f"stride={stride}, padding={padding}, dilation={dilation})")
    pads = []
    for n, k, s, p, d, o in zip(sizes, kernel, stride, padding, dilation, out):
        pads += [p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)]
    if spatial == 1:
        sizes, kernel, stride, dilation = ((1,) + sizes, (1,) + kernel, (1,) + stride,
                                           (1,) + dilation)
        pads = [0, 0] + pads
    return kernels.Window(sizes, kernel, stride, dilation, tuple(pads)), padding


def _as_2d(x, spatial):
    """A (B, C, L) signal as (B, C, 1, L) images, so 1-d pooling is 2-d pooling."""
    return x if spatial == 2 else x.unsqueeze(2)


def _unbatch(y, batched, spatial):
    if spatial == 1:
        y = own_result(y.squeeze(2))
    return y if batched else own_result(y.squeeze(0))


# -- max pooling --------------------------------------------------------------------------------
def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, spatial):
    op = f"max_pool{spatial}d"
    x, batched = as_batch(op, input, spatial)
    _require_float(op, x, integers=True)
    window, _ = _pool_window(op, x, spatial, kernel_size, stride, padding, dilation, ceil_mode,
                             "effective")
    x2 = _as_2d(x, spatial)
    xp = x.device.xp
    need_indices = (return_indices or (grad_mode._enabled and x2.requires_grad)
                    or x.array.dtype.kind != "f")
    if need_indices:
        # int64 positions when returned (PyTorch's dtype); int32 suffice for the backward
        small = not return_indices and window.in_size[0] * window.in_size[1] < 2**31
        values, indices = kernels.max_pool(xp, x2.array, window, "int32" if small else "int64")
    else:   # no gradient will be asked for: the max alone is 5x faster
        values, indices = kernels.max_pool_values(xp, x2.array, window), None
    if x.array.dtype.kind != "f":
        # a window of padding alone is -inf for floats; an integer dtype's lowest value here,
        # as PyTorch gives (the kernels' -inf has no integer value)
        values = xp.where(indices < 0, xp.iinfo(values.dtype).min, values)
    in_size = window.in_size
    def backward(ctx, grad):
        return _max_unpool(grad, indices, in_size, op)
    y = _unbatch(record(op, values, (x2,), backward, attrs={"window": window}), batched, spatial)
    if not return_indices:
        return y
    positions = wrap(indices, x.device)
    return y, _unbatch(positions, batched, spatial)


def _max_unpool(grad, indices, in_size, op):
    """x̄ = zeros with ȳ added at the positions of the maxima;  its gradient reads them back"""
    xp = grad.device.xp
    out = kernels.max_unpool_add(xp, grad.array, indices, in_size)
    def backward(ctx, g):
        return _take_at(g, indices, op, in_size)
    return record(op + "_backward", out, (grad,), backward)


def _take_at(x, indices, op, in_size):
    """y = x at the positions of the maxima (pooling with the positions fixed);  its gradient
    is the scatter back"""
    batch, channels = x.shape[:2]
    flat = x.array.reshape(batch, channels, x.shape[2] * x.shape[3])
    positions = indices.reshape(batch, channels, indices.shape[2] * indices.shape[3])
    out = x.device.xp.take_along_axis(flat, positions, axis=2)
    def backward(ctx, grad):
        return _max_unpool(grad, indices, in_size, op)
    return record(op, out.reshape(indices.shape), (x,), backward)


@operation(function=True)
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n,c,p,q] = max of x over the window at (p, q);  ∂y/∂x = 1 at the (first) maximum of the
    window, 0 elsewhere"""
    if is_half(input):
        return via_float32(max_pool2d, input, kernel_size, stride, padding, dilation, ceil_mode,
                           return_indices)
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


@operation(function=True)
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n,c,t] = max of x over the window at t;  ∂y/∂x = 1 at the (first) maximum, else 0"""
    if is_half(input):
        return via_float32(max_pool1d, input, kernel_size, stride, padding, dilation, ceil_mode,
                           return_indices)
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


# -- average pooling ------------------------------------------------------------------------------
def _divisors(n, k, s, p, out, count_include_pad):
    """PyTorch's divisor of each window along one axis: its size clipped to the padded input
    (count_include_pad) or to the input itself."""
    result = []
    for o in range(out):
        start = o * s - p
        end = min(start + k, n + p)
        if not count_include_pad:
            start, end = max(start, 0), min(end, n)
        result.append(end - start)
    return result


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, spatial):
    op = f"avg_pool{spatial}d"
    x, batched = as_batch(op, input, spatial)
    integer = _is_int64(x)
    if not integer:
        _require_float(op, x)
    window, padding = _pool_window(op, x, spatial, kernel_size, stride, padding, 1, ceil_mode,
                                   "")
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor_override must be non-zero")
        divisor = divisor_override
    else:
        per_axis = [_divisors(n, k, s, p, o, count_include_pad) for n, k, s, p, o in zip(
            x.shape[2:], window.kernel[2 - spatial:], window.stride[2 - spatial:], padding,
            window.out_size[2 - spatial:])]
        rows = per_axis[0] if spatial == 2 else [1]
        cols = per_axis[-1]
        if 0 in rows or 0 in cols:
            raise RuntimeError(f"{op}: a window over the input of shape {tuple(input.shape)} "
                               f"holds only padding, and count_include_pad=False leaves it "
                               f"nothing to average")
        if len(set(rows)) == 1 and len(set(cols)) == 1:
            divisor = rows[0] * cols[0]
        else:
            xp = x.device.xp
            divisor = (xp.asarray(rows, dtype=x.array.dtype)[:, None]
                       * xp.asarray(cols, dtype=x.array.dtype)[None, :])
    if integer:   # no gradient: the window sums, then PyTorch's integer division
        xp = x.device.xp
        sums = kernels.avg_pool(xp, _as_2d(x, spatial).array, window, 1)
        y = wrap(_divided_toward_zero(xp, sums, divisor), x.device)
    else:
        y = _average(_as_2d(x, spatial), window, divisor, op)
    return _unbatch(y, batched, spatial)


def _average(x, window, divisor, op):
    """y = the window sums of x / divisor;  ∂y/∂x: each ȳ / divisor spread over its window"""
    a = x.array
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:   # float16 windows: summed in float32
        # (as PyTorch does): the sum of a window overflows float16 long before its mean
        out = kernels.avg_pool(x.device.xp, a.astype("float32"), window, divisor).astype(a.dtype)
    else:
        out = kernels.avg_pool(x.device.xp, a, window, divisor)
    def backward(ctx, grad):
        return _spread(grad, window, divisor, op)
    return record(op, out, (x,), backward, attrs={"window": window, "divisor": divisor})


def _spread(grad, window, divisor, op):
    """x̄ = each ȳ / divisor added over its window (the transpose of average pooling);  its
    gradient is average pooling again"""
    out = kernels.avg_pool_adjoint(grad.device.xp, grad.array, window, divisor)
    def backward(ctx, g):
        return _average(g, window, divisor, op)
    return record(op + "_backward", out, (grad,), backward)


@operation(function=True)
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """y[n,c,p,q] = (Σ of x over the window at (p, q)) / divisor;  ∂y/∂x = 1/divisor over the
    window"""
    if is_half(input):
        return via_float32(avg_pool2d, input, kernel_size, stride, padding, ceil_mode,
                           count_include_pad, divisor_override)
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2)


@operation(function=True)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """y[n,c,t] = (Σ of x over the window at t) / divisor;  ∂y/∂x = 1/divisor over the window"""
    if is_half(input):
        return via_float32(avg_pool1d, input, kernel_size, stride, padding, ceil_mode,
                           count_include_pad)
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


# -- resampling along one axis: interpolation and adaptive pooling --------------------------------
def resample(input, axis, index, weight, op, zero_taps_add_nothing=False):
    """y[…, o, …] = Σ_t weight[t][o] · x[…, index[t][o], …] along ``axis`` (weight None: all 1);
    ∂y/∂x adds each ȳ[o]·weight[t][o] back at index[t][o]. With ``zero_taps_add_nothing`` a tap
    of weight 0 adds 0 even where x is inf or NaN (adaptive pooling's windows of unequal length
    are padded with such taps; interpolation's 0·inf = NaN is PyTorch's too)."""
    x = input
    xp = x.device.xp
    index = [xp.asarray(i, dtype="int64") for i in index]
    if weight is not None:
        weight = [xp.asarray(w, dtype=x.array.dtype) for w in weight]
    return _resample(x, axis, index, weight, op, zero_taps_add_nothing)


def _along(vector, axis, ndim):
    """A vector shaped to broadcast along ``axis`` of an ndim-d array."""
    return vector.reshape((-1,) + (1,) * (ndim - axis - 1))


def _resample(x, axis, index, weight, op, zero_taps_add_nothing=False):
    xp = x.device.xp
    out = None
    for t, positions in enumerate(index):
        part = xp.take(x.array, positions, axis=axis)   # a fresh array
        if weight is not None:
            part *= _along(weight[t], axis, x.ndim)
            if zero_taps_add_nothing and not xp.all(weight[t] != 0):
                part = xp.where(_along(weight[t] != 0, axis, x.ndim), part,
                                xp.zeros((), dtype=part.dtype))
        out = part if out is None else xp.add(out, part, out=out)
    size = x.shape[axis]
    def backward(ctx, grad):
        return _resample_adjoint(grad, axis, index, weight, size, op, zero_taps_add_nothing)
    return record(op, out, (x,), backward, attrs={"axis": axis, "index": index, "weight": weight})


def _resample_adjoint(grad, axis, index, weight, size, op, zero_taps_add_nothing=False):
    """x̄ = Σ_t (ȳ · weight[t]) added at index[t] along axis;  its gradient is resample again
    (a tap of weight 0 sends back 0, not 0·inf, where the forward's added nothing)"""
    xp = grad.device.xp
    shape = list(grad.shape)
    shape[axis] = size
    half = grad.array.dtype.char == "e"   # float16 sums in float32, rounded once (as PyTorch)
    out = xp.zeros(shape, "float32" if half else grad.array.dtype)
    for t, positions in enumerate(index):
        values = grad.array if weight is None else grad.array * _along(weight[t], axis, grad.ndim)
        if weight is not None and zero_taps_add_nothing and not xp.all(weight[t] != 0):
            values = xp.where(_along(weight[t] != 0, axis, grad.ndim), values,
                              xp.zeros((), dtype=values.dtype))
        kernels.add_at(xp, out, axis, positions, values.astype(out.dtype, copy=False))
    if half:
        out = out.astype(grad.array.dtype)
    def backward(ctx, g):
        return _resample(g, axis, index, weight, op, zero_taps_add_nothing)
    return record(op + "_backward", out, (grad,), backward)


def _adaptive_taps(n, out):
    """Windows [⌊o·n/out⌋, ⌈(o+1)·n/out⌉) as taps: index and weight 1/len (0 past the end)."""
    starts = [(o * n) // out for o in range(out)]
    ends = [-((-(o + 1) * n) // out) for o in range(out)]
    taps = max((e - s for s, e in zip(starts, ends)), default=1)
    index = [[min(s + t, e - 1) for s, e in zip(starts, ends)] for t in range(taps)]
    weight = [[1.0 / (e - s) if s + t < e else 0.0 for s, e in zip(starts, ends)]
              for t in range(taps)]
    return index, weight


def _adaptive_avg_pool(input, output_size, spatial, op=None):
    op = op or f"adaptive_avg_pool{spatial}d"
    x, batched = as_batch(op, input, spatial)
    _require_float(op, x)
    sizes = tuple(x.shape[2:])
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else \
        (output_size,) * spatial
    if len(items) != spatial:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {spatial} ints (or "
                         f"None), got {output_size!r}")
    out = tuple(n if o is None else operator.index(o) for n, o in zip(sizes, items))
    if any(o < 0 for o in out) or any(n == 0 for n in sizes):
        raise RuntimeError(f"{op}: cannot pool an input of shape {tuple(x.shape)} to "
                           f"output_size {out}")
    if all(o > 0 and n % o == 0 for n, o in zip(sizes, out)):
        # Equal windows that tile the input: plain average pooling with kernel = stride = n/o.
        kernel = tuple(n // o for n, o in zip(sizes, out))
        window = kernels.Window((1,) * (2 - spatial) + sizes, (1,) * (2 - spatial) + kernel,
                                (1,) * (2 - spatial) + kernel, (1, 1), (0, 0, 0, 0))
        y = _average(_as_2d(x, spatial), window, math.prod(kernel), op)
        return _unbatch(y, batched, spatial)
    # Windows of unequal length: each window's sum (taps of weight 1, the padding taps of
    # weight 0), divided by its size once at the end, as PyTorch does (so a sum past the
    # largest float is inf in both, where weights 1/len would have kept the mean finite).
    y, counts = x, 1
    xp = x.device.xp
    for k, (n, o) in enumerate(zip(sizes, out)):
        index, weight = _adaptive_taps(n, o)
        ones = [[1.0 if w else 0.0 for w in row] for row in weight]
        y = resample(y, 2 + k, index, ones, op, zero_taps_add_nothing=True)
        lengths = xp.asarray([round(1 / w) for w in weight[0]], dtype=x.array.dtype)  # 1/len
        counts = counts * _along(lengths, k, spatial)
    y = y / wrap(counts, x.device)
    return y if batched else own_result(y.squeeze(0))


@operation(function=True)
def adaptive_avg_pool2d(input, output_size):
    """y[n,c,p,q] = mean of x over rows [⌊p·H/Ho⌋, ⌈(p+1)·H/Ho⌉) and the same for columns;
    ∂y/∂x = 1/(window size) over the window"""
    if is_half(input):
        return via_float32(adaptive_avg_pool2d, input, output_size)
    return _adaptive_avg_pool(input, output_size, 2)


@operation(function=True)
def adaptive_avg_pool1d(input, output_size):
    """y[n,c,t] = mean of x over [⌊t·L/Lo⌋, ⌈(t+1)·L/Lo⌉);  ∂y/∂x = 1/(window size) over it"""
    if is_half(input):
        return via_float32(adaptive_avg_pool1d, input, output_size)
    return _adaptive_avg_pool(input, output_size, 1)


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


@operation(functional=True)
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """y = x resampled to ``size``: nearest copies x at ⌊o·scale⌋; (bi/tri)linear mixes the two
    nearest inputs of each axis with weights 1 - λ and λ;  ∂y/∂x adds each ȳ back, with the
    same weights, onto the inputs it was made from"""
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if is_half(input):
        return via_float32(interpolate, input, size, scale_factor, mode, align_corners,
                           recompute_scale_factor, antialias)
    spatial = input.ndim - 2
    if spatial < 1:
        raise ValueError(f"{op}: expected an input with a batch and a channel dim and 1 to 3 "
                         f"spatial dims, but got shape {tuple(input.shape)}")
    if spatial > 3:   # (PyTorch's error type here)
        raise NotImplementedError(f"{op}: only 3-d, 4-d and 5-d inputs (1 to 3 spatial dims) "
                                  f"are supported, but got a {input.ndim}-d input of shape "
                                  f"{tuple(input.shape)}")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the "
                             f"interpolating modes: linear | bilinear | bicubic | trilinear")
    elif mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != spatial:
            raise NotImplementedError(f"{op}: got a {input.ndim}-d input (shape "
                                      f"{tuple(input.shape)}), but {mode} mode needs a "
                                      f"{_LINEAR_MODES[mode] + 2}-d input")
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported (nearest, "
                                  f"nearest-exact, linear, bilinear, trilinear, area)")
    if input.array.dtype.char == "B" and mode in _LINEAR_MODES and spatial == 2:
        raise RuntimeError(f"{op}: {mode} interpolation of uint8 is not supported (PyTorch's "
                           f"uint8 kernel rounds with fixed-point weights of its own); convert "
                           f"the input with .float()")
    if not (mode in ("nearest", "nearest-exact") and input.array.dtype.char == "B"):
        _require_float(op, input)   # nearest copies: uint8 images too, as in PyTorch
    sizes = tuple(input.shape[2:])
    out, scales = _output_size(op, sizes, size, scale_factor, recompute_scale_factor)
    if any(n == 0 and o > 0 for n, o in zip(sizes, out)):
        raise RuntimeError(f"{op}: cannot resample an empty spatial dim to a non-empty one: "
                           f"input of shape {tuple(input.shape)}, output size {out}")
    if mode == "area":   # the mean of each window of adaptive average pooling
        if spatial <= 2:
            return _adaptive_avg_pool(input, out, spatial, op)
        mode = "adaptive"
    y = input
    for k, (n, o, scale) in enumerate(zip(sizes, out, scales)):
        if mode in _LINEAR_MODES:
            index, weight = _linear_taps(n, o, scale, align_corners)
        elif mode == "adaptive":
            index, weight = _adaptive_taps(n, o)
        else:
            index, weight = _nearest_taps(n, o, scale, exact=mode == "nearest-exact"), None
        y = resample(y, 2 + k, index, weight, op)
    return y


def _output_size(op, sizes, size, scale_factor, recompute_scale_factor):
    """The output size, and the scale (input per output) each axis maps positions with."""
    spatial = len(sizes)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: either size or scale_factor should be defined, and only one")
    if size is not None:
        items = tuple(size) if isinstance(size, (tuple, list)) else (size,) * spatial
        if len(items) != spatial:
            raise ValueError(f"{op}: size {size!r} must have {spatial} entries for an input "
                             f"with {spatial} spatial dims")
        out = tuple(operator.index(s) for s in items)
        return out, tuple(None for _ in out)
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else \
        (scale_factor,) * spatial
    if len(factors) != spatial:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} must have {spatial} entries for "
                         f"an input with {spatial} spatial dims")
    out = tuple(int(math.floor(n * float(f))) for n, f in zip(sizes, factors))
    if any(o <= 0 for o in out):
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output for spatial "
                         f"size {sizes}")
    if recompute_scale_factor:
        return out, tuple(None for _ in out)
    return out, tuple(1.0 / float(f) for f in factors)


def _nearest_taps(n, out, scale, exact):
    """PyTorch's nearest source index (in float32, as its kernel): ⌊o·scale⌋, or ⌊(o + ½)·scale⌋
    for nearest-exact, clamped to n - 1; scale = n/out unless a scale_factor gave 1/factor."""
    from ... import backend
    f32 = backend.xp_for("cpu").float32
    scale = f32(n / out if scale is None else scale)
    index = []
    for o in range(out):
        position = (f32(o) + f32(0.5)) * scale if exact else f32(o) * scale
        index.append(min(int(math.floor(position)), n - 1))
    return [index]


def _linear_taps(n, out, scale, align_corners):
    """PyTorch's linear source position: o·(n-1)/(out-1) with align_corners, else
    (o + ½)·scale - ½ clamped at 0; taps ⌊src⌋ and ⌊src⌋ + 1 (not past n - 1), weights 1 - λ, λ.
    An axis whose size does not change is copied, whatever the scale: both taps are x[o],
    weighted 1 and 0, as PyTorch's kernel takes them (so an inf there gives inf + 0·inf = NaN)."""
    if n == out:
        return [list(range(n))] * 2, [[1.0] * n, [0.0] * n]
    if align_corners:
        step = (n - 1) / (out - 1) if out > 1 else 0.0
    else:
        step = n / out if scale is None else scale
    low, high, lam_low, lam_high = [], [], [], []
    for o in range(out):
        src = o * step if align_corners else max((o + 0.5) * step - 0.5, 0.0)
        i0 = min(int(src), n - 1)
        lam = min(max(src - i0, 0.0), 1.0)
        low.append(i0)
        high.append(i0 + 1 if i0 < n - 1 else i0)
        lam_low.append(1.0 - lam)
        lam_high.append(lam)
    return [low, high], [lam_low, lam_high]
