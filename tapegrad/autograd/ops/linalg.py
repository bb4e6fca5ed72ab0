"""Products of matrices and vectors: matmul (and its cases mm, bmm, mv, dot), outer, einsum.

For z = x @ y, with x of shape (n, k) and y of shape (k, m), each z[i, j] = Σₖ x[i, k]·y[k, j], so

    ∂L/∂x = ∂L/∂z @ yᵀ   (n, m) @ (m, k) -> (n, k)
    ∂L/∂y = xᵀ @ ∂L/∂z   (k, n) @ (n, m) -> (k, m)

Everything else here is bookkeeping around those two lines:

* vectors: a 1-D x is the row (1, k), a 1-D y the column (k, 1); the dimension they add is
  dropped from z, and put back (a reshape) on the gradient before the two lines above;
* batches: x and y may carry leading batch dimensions, broadcast against each other; the
  gradient of a broadcast operand is summed back to its shape (`sum_to_shape`);
* speed, since every layer of a network runs through here:
  - only the gradients some input needs are computed;
  - a stack of rows times one matrix, (B, T, K) @ (K, N), is one big (B·T, K) @ (K, N)
    product, forwards and backwards: ∂L/∂y is then one GEMM over all B·T rows, instead of
    B small products followed by a sum;
  - a gradient comes out in its operand's own memory layout: when y is a transposed view
    (``x @ W.T``, PyTorch's layout for a Linear weight), ∂L/∂y is computed as (∂L/∂zᵀ @ x)ᵀ,
    so that after the transpose's own backward, W's gradient is a plain C-ordered array,
    which the optimizer then updates at full speed. The same GEMM, the better layout.

``einsum`` sums products over named indices; the gradient for one operand is itself an
einsum of the incoming gradient with all the other operands (see `_einsum_operand_grad`).
"""
import math
from functools import lru_cache

from ... import dtypes
from ...kernels.cpu import blas_threads as blas
from .. import grad_mode
from ..operands import check_same_device, promote, sum_to_shape
from ..tape import is_view_of, mark_view, record
from .shape import matrix_transpose
from ..tensor import Tensor, wrap
from .declare import alias, operation


# -- helpers ---------------------------------------------------------------------------------
def _shape(t):
    return t.array.shape


def _as_shape(t, shape):
    """``t.reshape(shape)``, but no recorded op when it already has that shape."""
    return t if _shape(t) == tuple(shape) else t.reshape(shape)


def _transposed_layout(array):
    """True when the last two axes of ``array`` are a transposed view of C-ordered memory."""
    return (array.ndim >= 2 and not array.flags.c_contiguous
            and array.swapaxes(-1, -2).flags.c_contiguous)


def _rows_times_matrix(xp, x, w):
    """x @ w for a matrix x (n, k) and w (k, m), as a fresh C-ordered (n, m) array.

    A Linear layer multiplies by Wᵀ, a transposed view of the (m, k) weight. For a small
    batch (16 to 32 rows) and a weight of 32768 elements or more, numpy's OpenBLAS runs
    W @ xᵀ 1.4-1.8 times faster than x @ Wᵀ (784→256 at batch 16: 84 against 149 µs, the
    copy back to C order included): the same product, with W packed along its rows. At
    batch 64 and beyond, and for small weights, the plain form is as fast or faster.
    """
    rows = x.shape[0]
    if (16 <= rows <= 32 and not xp.is_gpu and w.size >= 32768 and w.dtype.char in "fd"
            and _transposed_layout(w)):   # (float32 and float64: the dtypes BLAS runs)
        y = xp.empty((rows, w.shape[1]), dtype=w.dtype)
        xp.copyto(y, blas.matmul(xp, w.T, x.T).T)
        return y
    return blas.matmul(xp, x, w)


def _tensors(op, input, other):
    """Both operands as tensors (numpy arrays are accepted too) of one dtype.

    As in PyTorch, matrix products do not promote: a float64 batch fed to a float32 model
    is an error rather than a silent, slower float64 computation.
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{op}: expected tensors, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    check_same_dtype(op, input, other)
    return promote(op, input, other)


def check_same_dtype(op, *operands):
    """Refuse operands of different dtypes, naming both and the fix."""
    kinds = [operand.dtype if isinstance(operand, Tensor) else dtypes.from_numpy(operand.dtype)
             for operand in operands if hasattr(operand, "dtype")]
    for kind in kinds[1:]:
        if kind is not kinds[0]:
            raise RuntimeError(
                f"{op}: expected operands of one dtype, but got {kinds[0]} and {kind}; convert "
                f"one of them, e.g. x.float() for a float64 batch fed to a float32 model, or "
                f"model.double()")


# -- matmul and its special cases -------------------------------------------------------------
def _matmul_plan(op, x, y):
    """Check the shapes of x @ y and work out how to compute it.

    Returns (out_shape, rows): ``rows`` is the number of rows of the one 2-D product that
    computes everything when y has no real batch dimensions, else None (a batched product).
    """
    xs, ys = x.array.shape, y.array.shape
    if len(xs) == 2 and len(ys) == 2 and xs[1] == ys[0]:   # the common case, checked quickly
        return (xs[0], ys[1]), xs[0]
    if not xs or not ys:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, got shapes "
                           f"{xs} and {ys}")
    k_x = xs[-1]
    k_y = ys[-2] if len(ys) > 1 else ys[0]
    if k_x != k_y:
        raise RuntimeError(f"{op}: shapes {xs} and {ys} cannot be multiplied ({k_x} != {k_y})")
    x_batch, y_batch = xs[:-2], ys[:-2]
    batch = []
    for i in range(1, max(len(x_batch), len(y_batch)) + 1):
        a = x_batch[-i] if i <= len(x_batch) else 1
        b = y_batch[-i] if i <= len(y_batch) else 1
        if a != b and a != 1 and b != 1:
            raise RuntimeError(f"{op}: shapes {xs} and {ys} cannot be multiplied: their batch "
                               f"dimensions {x_batch} and {y_batch} do not broadcast "
                               f"(size {a} against {b})")
        batch.append(max(a, b) if a and b else 0)
    batch = tuple(reversed(batch))
    out_shape = batch + xs[-2:-1] + ys[-1:] if len(ys) > 1 else batch + xs[-2:-1]
    if all(s == 1 for s in y_batch):
        rows = math.prod(xs[:-1]) if len(xs) > 1 else 1
        return out_shape, rows
    return out_shape, None


def _product(op, x, y):
    """z = x @ y for tensors of one dtype and checked shapes, recorded as ``op``."""
    out_shape, rows = _matmul_plan(op, x, y)
    xp = x.device.xp
    x_shape, y_shape = x.array.shape, y.array.shape
    k = x_shape[-1]
    m = y_shape[-1] if len(y_shape) > 1 else 1
    if len(x_shape) == 2 and len(y_shape) == 2:
        z = _rows_times_matrix(xp, x.array, y.array)
    elif rows is None:
        z = blas.matmul(xp, x.array, y.array)   # a batch of products (broadcast)
    else:                                 # vectors, or rows of x stacked: one (rows, k) @ (k, m)
        z = blas.matmul(xp, x.array.reshape(rows, k), y.array.reshape(k, m)).reshape(out_shape)

    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        if len(x_shape) == 1 and len(y_shape) == 1:     # dot product: z = Σₖ xₖ·yₖ
            return (grad * y if ctx.needs_input_grad[0] else None,
                    grad * x if ctx.needs_input_grad[1] else None)
        grad_x = grad_y = None
        if rows is not None:   # the 2-D product (rows, k) @ (k, m) of the forward
            g = _as_shape(grad, (rows, m))
            if ctx.needs_input_grad[0]:
                grad_x = _grad_left(g, _as_shape(y, (k, m)), len(x_shape) == 2 and x_transposed)
                grad_x = _as_shape(grad_x, x_shape)
            if ctx.needs_input_grad[1]:
                grad_y = _grad_right(_as_shape(x, (rows, k)), g, y_transposed)
                grad_y = _as_shape(grad_y, y_shape)
            return grad_x, grad_y
        # Batched (y has 3+ dimensions): a vector x is the row (1, k) again, and z gets back
        # the axis it lost; broadcast batch dimensions are summed back.
        # (Only what the needed gradient reads was saved: x for y's gradient, y for x's.)
        row_shape = x_shape if len(x_shape) > 1 else (1, k)
        g = grad if len(x_shape) > 1 else grad.reshape(out_shape[:-1] + (1, m))
        if (ctx.needs_input_grad[0] and len(y_shape) > 2 and y.dtype.itemsize == 2
                and y.dtype.is_floating_point and all(s == 1 for s in x_shape[:-2])):
            # float16 x with no batch dimensions (or only 1s), y with: Σ_b g_b @ y_bᵀ is one
            # product with the batch folded into the contraction, (n, B·m) @ (B·m, k),
            # summed in one float32 accumulator and rounded once as in PyTorch, where
            # per-batch products overflow to ±inf and their sum to inf - inf = NaN. (Folding
            # copies y, as no view has (b, m) as one axis; float32 and float64 products
            # overflow only past 1e38, so they take the batched products and their sum.)
            n, batch = row_shape[-2], math.prod(y_shape[:-2])
            folded_g = g.reshape(batch, n, m).permute(1, 0, 2).reshape(n, batch * m)
            folded_y = y.reshape(batch, k, m).permute(0, 2, 1).reshape(batch * m, k)
            grad_x = _as_shape(_product("matmul", folded_g, folded_y), x_shape)
        elif ctx.needs_input_grad[0]:
            grad_x = sum_to_shape(_grad_left(g, y, x_transposed), row_shape)
            grad_x = _as_shape(grad_x, x_shape)
        if ctx.needs_input_grad[1]:
            x2 = x if len(x_shape) > 1 else x.reshape(1, k)
            grad_y = sum_to_shape(_grad_right(x2, g, y_transposed), y_shape)
        return grad_x, grad_y

    x_transposed = x.requires_grad and _transposed_layout(x.array)
    y_transposed = y.requires_grad and _transposed_layout(y.array)
    # x is read only by y's gradient, and y only by x's.
    return record(op, z, (x, y), backward,
                  save=(x if y.requires_grad else None, y if x.requires_grad else None))


def _grad_left(g, y, in_transposed_layout):
    """∂L/∂x = g @ yᵀ for z = x @ y; as (y @ gᵀ)ᵀ when x is itself a transposed view."""
    if in_transposed_layout:
        return matrix_transpose(_product("matmul", y, matrix_transpose(g)))
    return _product("matmul", g, matrix_transpose(y))


def _grad_right(x, g, in_transposed_layout):
    """∂L/∂y = xᵀ @ g for z = x @ y; as (gᵀ @ x)ᵀ when y is itself a transposed view
    (``x @ W.T``), so that W's gradient comes out C-ordered like W."""
    if in_transposed_layout:
        return matrix_transpose(_product("matmul", matrix_transpose(g), x))
    return _product("matmul", matrix_transpose(x), g)


@operation(function=True, method=True, out=True)
def matmul(input, other):
    """z = x @ y, zᵢⱼ = Σₖ xᵢₖ·yₖⱼ;  ∂L/∂x = ∂L/∂z @ yᵀ,  ∂L/∂y = xᵀ @ ∂L/∂z

    1-D @ 1-D is the dot product (a 0-d result); a 1-D x is a row and a 1-D y a column,
    whose added dimension is then dropped; leading batch dimensions broadcast.
    """
    x, y = _tensors("matmul", input, other)
    return _product("matmul", x, y)


@operation(function=True, method=True, out=True)
def mm(input, mat2):
    """z = x @ y for two matrices, (n, k) @ (k, m) -> (n, m);  see matmul"""
    x, y = _tensors("mm", input, mat2)
    if x.ndim != 2 or y.ndim != 2:
        raise RuntimeError(f"mm: expected two 2-D tensors (matrices), got shapes {_shape(x)} "
                           f"and {_shape(y)}; use matmul for vectors and batches")
    return _product("mm", x, y)


@operation(function=True, method=True, out=True)
def bmm(input, mat2):
    """zᵦ = xᵦ @ yᵦ for two equal batches of matrices, (b, n, k) @ (b, k, m);  see matmul"""
    x, y = _tensors("bmm", input, mat2)
    if x.ndim != 3 or y.ndim != 3:
        raise RuntimeError(f"bmm: expected two 3-D tensors (batches of matrices), got shapes "
                           f"{_shape(x)} and {_shape(y)}")
    if x.shape[0] != y.shape[0]:
        raise RuntimeError(f"bmm: shapes {_shape(x)} and {_shape(y)} have different batch "
                           f"sizes ({x.shape[0]} != {y.shape[0]}); bmm does not broadcast, "
                           f"matmul does")
    return _product("bmm", x, y)


@operation(function=True, method=True)
def mv(input, vec):
    """z = A @ v, zᵢ = Σₖ Aᵢₖ·vₖ;  ∂L/∂A = ∂L/∂z ⊗ v,  ∂L/∂v = Aᵀ @ ∂L/∂z"""
    x, y = _tensors("mv", input, vec)
    if x.ndim != 2 or y.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got shapes {_shape(x)} "
                           f"and {_shape(y)}")
    return _product("mv", x, y)


@operation(function=True, method=True)
def dot(input, other):
    """z = Σₖ xₖ·yₖ (a 0-d tensor);  ∂z/∂x = y,  ∂z/∂y = x"""
    x, y = _tensors("dot", input, other)
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"dot: expected two 1-D tensors, got shapes {_shape(x)} and "
                           f"{_shape(y)}")
    if x.shape[0] != y.shape[0]:
        raise RuntimeError(f"dot: shapes {_shape(x)} and {_shape(y)} have different lengths "
                           f"({x.shape[0]} != {y.shape[0]})")
    return _product("dot", x, y)


@operation(function=True, method=True)
def outer(input, vec2):
    """zᵢⱼ = xᵢ·yⱼ;  ∂L/∂xᵢ = Σⱼ ∂L/∂zᵢⱼ·yⱼ,  ∂L/∂yⱼ = Σᵢ xᵢ·∂L/∂zᵢⱼ

    The gradients are sums of the rounded products (a broadcast product's gradients, as
    PyTorch's outer is x[:, None] * y), not matrix-vector products: a product that
    overflows is ±∞ in the sum, so ∞ and -∞ there give NaN, as in PyTorch.
    """
    if hasattr(input, "dtype") and hasattr(vec2, "dtype") and input.dtype is not vec2.dtype:
        from ...dtypes import result_type   # outer is a product of elements: it promotes
        promoted = result_type([input.dtype, vec2.dtype])
        input, vec2 = input.to(promoted), vec2.to(promoted)
    x, y = _tensors("outer", input, vec2)
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"outer: expected two 1-D tensors, got shapes {_shape(x)} and "
                           f"{_shape(y)}")
    z = x.device.xp.linalg.outer(x.array, y.array)

    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return ((grad * y).sum(1) if ctx.needs_input_grad[0] else None,
                (x.unsqueeze(1) * grad).sum(0) if ctx.needs_input_grad[1] else None)
    return record("outer", z, (x, y), backward,
                  save=(x if y.requires_grad else None, y if x.requires_grad else None))


ger = alias(outer, 'ger')


def _check_addmm(b, x, w, beta, alpha):
    """Tensors of one dtype on one device, (n, k) @ (k, m), b broadcastable to (n, m), and
    real scales (ints for integer tensors, as torch.add and torch.addr require: torch.addmm
    itself truncates a float beta to an integer, 0.5 to 0, which is not β·b)."""
    for name, value in (("input", b), ("mat1", x), ("mat2", w)):
        if not isinstance(value, Tensor):
            raise TypeError(f"addmm: {name} must be a Tensor, got {type(value).__name__}")
    if not b.array.dtype == x.array.dtype == w.array.dtype:
        check_same_dtype("addmm", b, x, w)   # raises, naming the dtypes
    if not (b.device is x.device is w.device):
        check_same_device("addmm", b, x, w)
    whole = x.array.dtype.kind in "biu"
    for name, value in (("beta", beta), ("alpha", alpha)):
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise TypeError(f"addmm: {name} must be {'an integer' if whole else 'a real number'}"
                            f" for {x.dtype} tensors, got {value!r}")
        if x.array.dtype.kind in "iu" and not _fits_integer_dtype(value, x.dtype):
            raise RuntimeError(f"addmm: {name}={value} cannot be converted to {x.dtype} without "
                               f"overflow")
    xs, ws, bs = _shape(x), _shape(w), _shape(b)
    if len(xs) == 2 and len(ws) == 2 and xs[1] == ws[0] and bs in ((ws[1],), (xs[0], ws[1])):
        return   # the shapes of a Linear layer or an RNN step, checked quickly
    if len(xs) != 2 or len(ws) != 2:
        raise RuntimeError(f"addmm: mat1 and mat2 must be 2-D matrices, got shapes {xs} "
                           f"and {ws}")
    if xs[1] != ws[0]:
        raise RuntimeError(f"addmm: shapes {xs} and {ws} cannot be multiplied "
                           f"({xs[1]} != {ws[0]})")
    out_shape = (xs[0], ws[1])
    if len(bs) > 2 or any(s not in (1, o) for s, o in zip(reversed(bs), reversed(out_shape))):
        raise RuntimeError(f"addmm: input of shape {bs} does not broadcast to the shape "
                           f"{out_shape} of mat1 {xs} @ mat2 {ws}")


def _fits_integer_dtype(value, dtype):
    """Whether an integer scale fits ``dtype`` as PyTorch checks it: within the dtype's range,
    or for an unsigned dtype down to -max too (-1 on uint8 is 255, which multiplies as -1)."""
    info = dtypes.iinfo(dtype)
    return (-info.max if info.min == 0 else info.min) <= value <= info.max


def _scale(xp, value, dtype):
    """The scale as an array of ``dtype``: an integer one wraps as the dtype does (-1 → 255 for
    uint8), so that the product wraps as PyTorch's does; numpy refuses -1 * uint8 outright."""
    return xp.asarray(value).astype(dtype) if dtype.kind in "iu" else value


@operation(function=True, method=True)
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """y = β·b + α·(x @ W), for x (n, k), W (k, m) and b broadcastable to (n, m);
    ∂L/∂b = β·∂L/∂y summed to b's shape,  ∂L/∂x = α·∂L/∂y @ Wᵀ,  ∂L/∂W = α·xᵀ @ ∂L/∂y

    A Linear layer is ``addmm(bias, x, weight.T)``: one recorded operation where
    ``x @ weight.T + bias`` takes two, and the bias is added in place into the fresh product.
    With beta = 0, b is ignored (its NaNs do not spread), and with alpha = 0 the product,
    as in PyTorch.
    """
    b, x, w = input, mat1, mat2
    _check_addmm(b, x, w, beta, alpha)
    b_shape = _shape(b)
    xp = x.device.xp
    if x.array.dtype.kind == "f" and x.array.dtype.itemsize == 2:
        y = _half_addmm(xp, b.array, x.array, w.array, beta, alpha)
    else:
        if alpha == 0:   # the product is ignored (its infs and NaNs too), as BLAS and PyTorch do
            y = xp.zeros((x.shape[0], w.shape[1]), dtype=x.array.dtype)
        else:
            y = _rows_times_matrix(xp, x.array, w.array)   # a fresh array: scale, add in place
        logical = y.dtype.kind == "b"   # bools: any nonzero scale is True, and + is or
        if alpha not in (0, 1) and not logical:
            y *= _scale(xp, alpha, y.dtype)
        if beta != 0:
            y += b.array if beta == 1 or logical else _scale(xp, beta, y.dtype) * b.array

    def backward(ctx, grad):
        # As PyTorch: the product of the gradient first, then α (a float16 product that
        # overflows stays ±inf, however small α).
        x, w = ctx.saved_tensors
        if not grad_mode._enabled and alpha == 1:
            return _addmm_gradients(ctx, grad, x, w, beta, b_shape, x_transposed, w_transposed)
        grad_x = grad_w = None
        if ctx.needs_input_grad[1]:
            grad_x = _grad_left(grad, w, x_transposed)
            grad_x = grad_x if alpha == 1 else grad_x * alpha
        if ctx.needs_input_grad[2]:
            grad_w = _grad_right(x, grad, w_transposed)
            grad_w = grad_w if alpha == 1 else grad_w * alpha
        return (sum_to_shape(grad if beta == 1 else grad * beta, b_shape)
                if ctx.needs_input_grad[0] else None, grad_x, grad_w)

    x_transposed = x.requires_grad and _transposed_layout(x.array)
    w_transposed = w.requires_grad and _transposed_layout(w.array)
    return record("addmm", y, (b, x, w), backward, attrs={"beta": beta, "alpha": alpha},
                  save=(x if w.requires_grad else None, w if x.requires_grad else None))


def _half_addmm(xp, b, x, w, beta, alpha):
    """β·b + α·(x @ W) for float16 arrays, as PyTorch computes it: the sums, the scaling and the
    addition in float32, rounded to float16 once at the end (the product alone may overflow
    float16 where α·(x @ W) + β·b does not)."""
    wide = xp.float32
    if alpha == 0:
        y = xp.zeros((x.shape[0], w.shape[1]), dtype=wide)
    else:
        y = xp.matmul(x.astype(wide), w.astype(wide))
        if alpha != 1:
            y *= alpha
    if beta != 0:
        y += b.astype(wide) if beta == 1 else beta * b.astype(wide)
    return y.astype(x.dtype)


def stacked_addmm(b, x, w):
    """y = b + x @ W for rows stacked in x (*, k), W (k, m), b (m,): a Linear layer on a
    batch of sequences, (B, T, k) → (B, T, m), as ``addmm`` on the (B·T, k) rows (one GEMM,
    the bias added in place), recorded once and under addmm's name, with x's own shape (an
    ONNX export writes MatMul and Add, so any of the leading dimensions may be dynamic).
    Gradients as addmm's, over all rows: ∂L/∂b = Σ ∂L/∂y,  ∂L/∂x = ∂L/∂y Wᵀ,  ∂L/∂W = xᵀ ∂L/∂y.
    For linear's use: tensors of one dtype and device, shapes already checked."""
    xp = x.device.xp
    k, m = _shape(w)
    lead = _shape(x)[:-1]
    rows = math.prod(lead)
    if x.array.dtype.kind == "f" and x.array.dtype.itemsize == 2:
        y = _half_addmm(xp, b.array, x.array.reshape(rows, k), w.array, 1, 1)
    else:
        y = _rows_times_matrix(xp, x.array.reshape(rows, k), w.array)
        y += b.array
    y = y.reshape(lead + (m,))

    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        x_rows = None if x is None else x.reshape(rows, k)
        g_rows = grad.reshape(rows, m)
        if not grad_mode._enabled:
            grad_b, grad_x, grad_w = _addmm_gradients(ctx, g_rows, x_rows, w, 1, _shape(b),
                                                      False, w_transposed)
        else:
            needs = ctx.needs_input_grad
            grad_b = sum_to_shape(g_rows, _shape(b)) if needs[0] else None
            grad_x = _grad_left(g_rows, w, False) if needs[1] else None
            grad_w = _grad_right(x_rows, g_rows, w_transposed) if needs[2] else None
        return grad_b, None if grad_x is None else _as_shape(grad_x, lead + (k,)), grad_w

    w_transposed = w.requires_grad and _transposed_layout(w.array)
    return record("addmm", y, (b, x, w), backward, attrs={"beta": 1, "alpha": 1},
                  save=(x if w.requires_grad else None, w if x.requires_grad else None))


def _addmm_gradients(ctx, grad, x, w, beta, b_shape, x_transposed, w_transposed):
    """addmm's three gradients in a plain backward (no create_graph, so nothing is recorded):
    the same products as ``_grad_left`` and ``_grad_right``, in the same layouts, computed on
    the arrays and wrapped once each. Every Linear layer's backward runs here; the general
    path would wrap two transposes and a product per gradient, Python time for nothing."""
    xp, device, g = grad.device.xp, grad.device, grad.array
    needs = ctx.needs_input_grad
    grad_b = sum_to_shape(grad if beta == 1 else grad * beta, b_shape) if needs[0] else None
    grad_x = grad_w = None
    if needs[1]:   # g Wᵀ, or (W gᵀ)ᵀ for a transposed x
        grad_x = wrap(blas.matmul(xp, w.array, g.T).T if x_transposed
                      else blas.matmul(xp, g, w.array.T), device)
    if needs[2]:   # xᵀ g, or (gᵀ x)ᵀ for a transposed W (a Linear's Wᵀ): W's gradient in C order
        grad_w = wrap(blas.matmul(xp, g.T, x.array).T if w_transposed
                      else blas.matmul(xp, x.array.T, g), device)
    return grad_b, grad_x, grad_w


# -- einsum -----------------------------------------------------------------------------------
# The subscripts, in the order an implicit output lists them (upper case first, as in torch).
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class _EinsumSpec:
    """A parsed equation: one string of letters per operand, without '...' (its dimensions
    get letters of their own), the output letters, and each letter's size.

    An operand's dimension of size 1 that broadcasts against a larger one elsewhere is
    dropped from that operand (``squeezed``): the operand is constant along it, exactly as
    if it did not have that index at all.
    """

    def __init__(self, terms, output, sizes, squeezed, used):
        self.terms, self.output, self.sizes = tuple(terms), output, sizes
        self.squeezed, self.used = tuple(squeezed), frozenset(used)

    def equation(self):
        return ",".join(self.terms) + "->" + self.output


@lru_cache(maxsize=512)   # a model calls the same einsum with the same shapes every step
def _parse_einsum(equation, shapes):
    """The _EinsumSpec of ``equation`` for operands of these ``shapes`` (a tuple of tuples)."""
    def fail(message):
        raise RuntimeError(f"einsum: {message} (equation {equation!r})")

    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        fail("'->' may appear only once")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        fail(f"the equation names {len(terms)} operand{'s' * (len(terms) != 1)} but "
             f"{len(shapes)} tensor{'s' * (len(shapes) != 1)} were given")

    def letters_of(term, where):
        if term.count("...") > 1:
            fail(f"{where} has more than one '...'")
        for ch in term.replace("...", ""):
            if ch not in _LETTERS:
                fail(f"invalid subscript {ch!r} in {where}: subscripts are letters a-z and "
                     f"A-Z, with at most one '...'")
        return term.replace("...", "")

    used = set()
    for i, term in enumerate(terms):
        used.update(letters_of(term, f"operand {i}"))
    if arrow:
        used.update(letters_of(rhs, "the output"))

    # The dimensions '...' covers get letters of their own; they broadcast, aligned right.
    n_ellipsis = 0
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if "..." in term:
            if len(shape) < named:
                fail(f"operand {i} has {len(shape)} dimensions but its subscripts {term!r} "
                     f"need at least {named}")
            n_ellipsis = max(n_ellipsis, len(shape) - named)
        elif len(shape) != named:
            fail(f"operand {i} has {len(shape)} dimensions but its subscripts {term!r} "
                 f"name {named}")
    free = [ch for ch in _LETTERS if ch not in used]
    if n_ellipsis > len(free):
        fail(f"too many dimensions: at most {len(_LETTERS)} different subscripts")
    ellipsis = "".join(free[:n_ellipsis])
    used.update(ellipsis)
    expanded = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", ellipsis[n_ellipsis - n:])
        expanded.append(term)

    if arrow:
        output = rhs.replace("...", ellipsis)
        for ch in output:
            if output.count(ch) > 1:
                fail(f"output subscript {ch!r} appears more than once")
            if not any(ch in term for term in expanded):
                fail(f"output subscript {ch!r} does not appear in any operand")
    else:   # implicit: '...' first, then the letters used exactly once, in alphabetical order
        counts = {}
        for term in terms:
            for ch in term.replace("...", ""):
                counts[ch] = counts.get(ch, 0) + 1
        output = ellipsis + "".join(ch for ch in _LETTERS if counts.get(ch) == 1)

    sizes = {}
    for i, (term, shape) in enumerate(zip(expanded, shapes)):
        seen = {}
        for ch, size in zip(term, shape):
            if ch in seen and seen[ch] != size:
                fail(f"subscript {ch!r} is repeated in operand {i} with sizes {seen[ch]} and "
                     f"{size}; a repeated subscript takes a diagonal, so they must match")
            seen[ch] = size
            if ch in sizes and size != sizes[ch][0] and 1 not in (size, sizes[ch][0]):
                fail(f"subscript {ch!r} has size {sizes[ch][0]} in operand {sizes[ch][1]} but "
                     f"{size} in operand {i} (sizes must match or be 1)")
            if ch not in sizes or sizes[ch][0] == 1:
                sizes[ch] = (size, i)
    sizes = {ch: size for ch, (size, _) in sizes.items()}

    final_terms, squeezed = [], []
    for term, shape in zip(expanded, shapes):
        kept = [(ch, s) for ch, s in zip(term, shape) if not (s == 1 and sizes[ch] != 1)]
        final_terms.append("".join(ch for ch, _ in kept))
        squeezed.append(tuple(s for _, s in kept) if len(kept) < len(term) else None)
    return _EinsumSpec(final_terms, output, sizes, squeezed, used)


@operation(function=True)
def einsum(equation, *operands):
    """z = Σ Πᵢ operandᵢ over the indices not in the output;  ∂L/∂operandᵢ = an einsum too

    ``einsum("ij,jk->ik", a, b)`` is a @ b: zᵢₖ = Σⱼ aᵢⱼ·bⱼₖ, so ∂L/∂a = einsum("ik,jk->ij",
    ∂L/∂z, b). Without "->" the output is '...' then the letters used once, sorted;
    a repeated letter in one operand takes a diagonal; '...' stands for broadcast dimensions.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise RuntimeError("einsum: expected at least one operand")
    check_same_dtype("einsum", *operands)
    tensors = promote("einsum", *operands)
    spec = _parse_einsum(equation, tuple(_shape(t) for t in tensors))
    xp = tensors[0].device.xp
    arrays = [t.array if shape is None else t.array.reshape(shape)
              for t, shape in zip(tensors, spec.squeezed)]
    if len(arrays) == 1 and arrays[0].dtype.kind in "bui" and set(spec.terms[0]) - set(spec.output):
        arrays = [arrays[0].astype("int64")]   # a sum of integers or bools is int64, as sum()
    z = xp.asarray(xp.einsum(spec.equation(), *arrays, optimize=True))
    # One operand only permuted or its diagonal taken ("ij->ji", "ii->i"): a view of it, as
    # in PyTorch (so an in-place change is seen by, and refused like, one of a transpose).
    view_of = operands[0] if len(arrays) == 1 and tensors[0] is operands[0] else None
    if view_of is not None and z.ndim == 0 == arrays[0].ndim:
        z = arrays[0][...]   # "->" of a 0-d tensor: itself (numpy gives a copy)
    if any(xp.may_share_memory(z, a) for a in arrays) and view_of is None:
        z = z.copy()
    elif view_of is not None and not is_view_of(xp, z, arrays[0]):
        view_of = None
    if view_of is None and arrays[0].dtype.kind == "f" and arrays[0].dtype.itemsize == 2:
        # float16 sums are accumulated in float32 (as PyTorch's): partial sums of float16
        # overflow long before the result does
        z = xp.einsum(spec.equation(), *[a.astype("float32") for a in arrays], optimize=True)
        z = xp.asarray(z).astype(arrays[0].dtype)

    shapes = [_shape(t) for t in tensors]   # backward keeps the shapes, not the inputs
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        return tuple(_einsum_operand_grad(spec, i, grad, saved, shapes[i])
                     if ctx.needs_input_grad[i] else None for i in range(len(saved)))

    # Operand j is read by the gradients of the others.
    save = tuple(t if any(o.requires_grad for o in tensors[:j] + tensors[j + 1:]) else None
                 for j, t in enumerate(tensors))
    out = record("einsum", z, tuple(tensors), backward, save=save)
    return out if view_of is None else mark_view(out, view_of)


def _einsum_operand_grad(spec, i, grad, saved, shape):
    """∂L/∂operandᵢ: an einsum of ∂L/∂z with every other operand, giving operandᵢ's indices.

    Two kinds of index of operand i cannot come out of that einsum directly:
    * a repeated index ("ii->i" reads only the diagonal): its second occurrence gets a new
      letter p, and the identity matrix δᵢₚ joins the einsum, which puts the gradient on the
      diagonal and zeros elsewhere;
    * an index summed inside operand i alone ("ij->i" sums over j): nothing else carries it,
      and ∂z/∂x is 1 along it, so the gradient is broadcast (expanded) along it.
    """
    xp = grad.device.xp
    term = spec.terms[i]
    free = iter(ch for ch in _LETTERS if ch not in spec.used)
    target, deltas = [], []
    for ch in term:
        if ch in target:
            new = next(free)
            deltas.append(ch + new)
            target.append(new)
        else:
            target.append(ch)
    others = [j for j in range(len(spec.terms)) if j != i]
    available = set(spec.output).union(*(spec.terms[j] for j in others), *deltas)
    kept = "".join(ch for ch in target if ch in available)
    terms = [spec.output] + [spec.terms[j] for j in others] + deltas
    inputs = [grad] + [saved[j] if spec.squeezed[j] is None else saved[j].reshape(spec.squeezed[j])
                       for j in others]
    inputs += [wrap(xp.eye(spec.sizes[d[0]], dtype=grad.array.dtype), grad.device) for d in deltas]
    g = einsum(",".join(terms) + "->" + kept, *inputs)
    full = tuple(spec.sizes[ch] for ch in term)
    if len(kept) < len(target):
        g = g.reshape(tuple(s if ch in available else 1 for ch, s in zip(target, full)))
        g = g.expand(full)
    return _as_shape(g, shape)
