"""Norms: the size of a vector or a matrix, as one number (or one per slice).

    vector p-norm   ‖x‖ₚ = (Σᵢ |xᵢ|ᵖ)^{1/p}      ∂‖x‖ₚ/∂xᵢ = sign(xᵢ)·|xᵢ|^{p-1} / ‖x‖ₚ^{p-1}
    ‖x‖_∞ = maxᵢ |xᵢ|,  ‖x‖_{-∞} = minᵢ |xᵢ|,  ‖x‖₀ = the number of non-zero entries
    Frobenius       ‖A‖_F = ‖A as one vector‖₂
    ‖A‖₁ = the largest column sum of |A|,  ‖A‖_∞ = the largest row sum (-1, -∞: smallest)

``linalg.vector_norm`` and ``linalg.matrix_norm`` are PyTorch's two functions;
``linalg.norm`` picks one of them from ``ord`` and ``dim``, and the older ``tapegrad.norm``
and ``x.norm(p, dim)`` do what PyTorch's do. The p-norm is one operation (its gradient at
the zero vector is 0, as in PyTorch, instead of 0/0); the others are made of abs, sums and
max/min, whose gradients at ties are shared evenly.
"""
import math
import numbers

from ... import dtypes
from ..tape import OUTPUT, record
from ..tensor import Tensor
from .arithmetic import where
from .declare import operation
from .reduction import _kept, _rescaled, amax, amin, normalize_dims


def _float_tensor(op, x, dtype):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    # the input itself must be floating, as in PyTorch: dtype= widens a float, it does not
    # turn integers into floats
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {x.dtype} "
                           f"(convert it with .float())")
    if dtype is not None:
        wanted = dtypes.as_dtype(dtype)
        if not wanted.is_floating_point:
            raise RuntimeError(f"{op}: dtype should be a floating-point dtype, got {dtype}")
        if dtypes.promote_pair(x.dtype, wanted) is not wanted:
            raise RuntimeError(f"{op}: the input's dtype {x.dtype.name} should be convertible "
                               f"without narrowing to dtype={wanted.name}")
        x = x.to(dtype)
    return x


@operation()
def linalg_vector_norm(input, ord, dim, keepdim):
    """y = (Σᵢ |xᵢ|ᵖ)^{1/p} over ``dim`` for a finite p ≠ 0;
    ∂y/∂xᵢ = sign(xᵢ)·|xᵢ|^{p-1} / y^{p-1}  (0 where y = 0)"""
    x, p = input, float(ord)
    axes = normalize_dims(x, dim, "vector_norm")
    xp = x.device.xp
    magnitude = xp.abs(x.array)
    if magnitude.dtype == xp.float16:   # in float32, rounded once, as PyTorch (|x|² overflows
        # float16 from 256 on); the backward stays in float16 steps, as PyTorch's for p = 2
        magnitude = magnitude.astype(xp.float32)
    def p_norm(magnitude):
        if p == 2:
            return xp.sqrt((magnitude * magnitude).sum(axis=axes, keepdims=keepdim))
        if p == 1:
            return magnitude.sum(axis=axes, keepdims=keepdim)
        return xp.pow(xp.pow(magnitude, p).sum(axis=axes, keepdims=keepdim), 1 / p)
    if all(x.shape[axis] == 1 for axis in axes):
        # a slice of one element: its norm is |x| exactly, as PyTorch's (where (|x|ᵖ)^{1/p}
        # rounds: the 3-norm of 0.54298 would be 0.5429801, and x/‖x‖ above 1)
        y = magnitude if keepdim else magnitude.reshape(
            tuple(n for axis, n in enumerate(x.shape) if axis not in axes))
    else:
        y = xp.asarray(p_norm(magnitude))
    if p != 1 and magnitude.size:
        # |x|ᵖ overflowed (or an input is infinite), or underflowed to 0 for values that are
        # not all 0: the norm again of x/max|x|, times max|x|
        underflow = (y == 0) & (magnitude.max(axis=axes, keepdims=keepdim) > 0)
        if (y == xp.inf).any() or underflow.any():
            y = _rescaled(xp, magnitude, axes, keepdim, y, p_norm, (y == xp.inf) | underflow)
    shape = tuple(x.shape)
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        y_kept, grad_kept = _kept(y, shape, axes, keepdim), _kept(grad, shape, axes, keepdim)
        if p == 1:
            return grad_kept * x.sign()
        zero = y_kept == 0
        safe_y = where(zero, 1.0, y_kept)   # ‖x‖ = 0 only where every xᵢ = 0: slope 0 there
        if p == 2:
            slope = x / safe_y
        else:
            slope = x.sign() * (x.abs() / safe_y) ** (p - 1)   # (|x|ᵖ⁻¹ and yᵖ⁻¹ may underflow)
        if p > 1 and p != 2:
            # as PyTorch's: for these p the 0 at the zero vector replaces g/yᵖ⁻¹ itself, so a
            # NaN or infinite g there gives 0 too (for p = 2 and p < 1 it is g·0: NaN)
            return where(zero, 0.0, grad_kept * slope)
        return grad_kept * where(zero, 0.0, slope)
    return record("linalg_vector_norm", xp.asarray(y).astype(x.array.dtype, copy=False), (x,),
                  backward, save=(x, OUTPUT), attrs={"ord": p, "dims": axes, "keepdim": keepdim})


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """‖x‖ over ``dim`` (all elements by default): ord a number, inf or -inf"""
    x = _float_tensor("vector_norm", x, dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"vector_norm: ord must be a number, got {ord!r} (for 'fro' and "
                           f"'nuc' use matrix_norm)")
    if not isinstance(ord, numbers.Real) or isinstance(ord, bool):
        raise TypeError(f"vector_norm: ord must be a number, got {type(ord).__name__} {ord!r}")
    if ord == math.inf:
        return amax(x.abs(), () if dim is None else dim, keepdim)
    if ord == -math.inf:
        return amin(x.abs(), () if dim is None else dim, keepdim)
    if ord == 0:
        # a count: recorded, as PyTorch records it (the result requires grad), but its
        # gradient is nothing: no input gets one through it
        count = (x != 0).to(x.dtype).sum(dim, keepdim=keepdim)
        return record("linalg_vector_norm", count.array, (x,), lambda ctx, grad: (None,),
                      attrs={"ord": 0, "dims": dim, "keepdim": keepdim})
    return linalg_vector_norm(x, ord, dim, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """‖A‖ of the matrices in the two dims ``dim``: ord 'fro', 1, -1, inf or -inf"""
    A = _float_tensor("matrix_norm", A, dtype)
    if A.ndim < 2:
        raise RuntimeError(f"matrix_norm: expected a tensor with 2 or more dimensions, got one "
                           f"of shape {tuple(A.shape)}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"matrix_norm: dim must be a pair of dims, got {dim!r}")
    rows, columns = normalize_dims(A, dim, "matrix_norm")
    if rows == columns:
        raise RuntimeError(f"matrix_norm: the two dims must differ, got {dim!r}")
    rows, columns = (rows, columns) if dim[0] % A.ndim < dim[1] % A.ndim else (columns, rows)
    if ord == "fro":
        return linalg_vector_norm(A, 2, (rows, columns), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        # 1: sum over the rows (a column sum), then the largest; inf: the other way round
        summed, other = (rows, columns) if abs(ord) == 1 else (columns, rows)
        sums = A.abs().sum(summed, keepdim=True)
        result = (amax if ord > 0 else amin)(sums, other, keepdim=True)
        return result if keepdim else result.squeeze((rows, columns))
    raise RuntimeError(f"matrix_norm: ord must be 'fro', 1, -1, inf or -inf, got {ord!r} "
                       f"('nuc', 2 and -2 need singular values, which tapegrad does not compute)")


def norm_of_linalg(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """linalg.norm: a vector norm for one dim (or a 1-d input), a matrix norm for two"""
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is None or len(dim) == 1:
            return vector_norm(A, 2, dim, keepdim, dtype=dtype)
        return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: with ord={ord!r} and no dim the input must be 1-d "
                               f"or 2-d, got shape {tuple(A.shape)}")
        dim = tuple(range(A.ndim))
    if len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim, keepdim, dtype=dtype)


@operation(function=True, method=True, composite=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """PyTorch's older norm: the p-norm of all elements (or over ``dim``); 'fro' is the
    2-norm of all elements (or of the matrices in two dims)"""
    if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) > 2:
        raise RuntimeError(f"norm: p='fro' takes a dim of one or two dims (a vector or a "
                           f"matrix norm), got dim={tuple(dim)}")
    if p == "fro" or p is None:
        p = 2
    elif isinstance(p, str):
        raise RuntimeError(f"norm: p must be 'fro' or a number, got {p!r}")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)
