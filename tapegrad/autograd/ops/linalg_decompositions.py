"""Triangular factors and solves: ``cholesky`` and ``solve_triangular``.

Cholesky: a symmetric positive-definite A is L Lᵀ for one lower-triangular L with a
positive diagonal. Differentiating A = L Lᵀ gives L⁻¹ dA L⁻ᵀ = L⁻¹dL + (L⁻¹dL)ᵀ, and
since L⁻¹dL is lower triangular it is Φ(L⁻¹ dA L⁻ᵀ), where Φ keeps the lower triangle and
halves the diagonal. Taking adjoints (Φ is its own):

    S = L⁻ᵀ Φ(Lᵀ ∂L/∂L̄) L⁻¹,    ∂L/∂A = ½ (S + Sᵀ)

(symmetric, as A is: the gradient PyTorch gives too). It is computed as
L⁻ᵀ ½(Φ + Φᵀ) L⁻¹, the same matrix, in PyTorch's order.

solve_triangular: X = A⁻¹ B for a triangular A (``left=True``), or X = B A⁻¹ (``left=False``).
With Z = X,

    left:   ∂L/∂B = A⁻ᵀ ∂L/∂X,   ∂L/∂A = -(∂L/∂B) Xᵀ
    right:  ∂L/∂B = ∂L/∂X A⁻ᵀ,   ∂L/∂A = -Xᵀ (∂L/∂B)

each ∂L/∂A kept to A's triangle (the other triangle is never read). Both backwards are
written with these same operations, so second derivatives work too. Both work on batches
(leading dimensions, broadcast between A and B).

The arrays are computed with the backend's ``linalg.cholesky`` and ``linalg.solve`` (numpy
has no triangular solver; a general solve of the triangle gives the same X). Where A or B
holds ∞ or NaN (an infinite gradient reaching cholesky's backward) the triangle is solved
by substitution instead, so that they reach only the rows that depend on them.
"""
from ..operands import check_same_device, sum_to_shape
from ..quiet import quiet
from ..tape import OUTPUT, record
from ..tensor import Tensor
from .declare import operation
from .linalg import check_same_dtype


def _check_square(op, name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    shape = tuple(t.shape)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise RuntimeError(f"{op}: {name} must be a square matrix or a batch of them, got shape "
                           f"{shape}")
    if not t.dtype.is_floating_point:
        raise RuntimeError(f"{op}: {name} must be a floating-point tensor, got {t.dtype}")


def _is_linalg_error(error):
    """numpy's LinAlgError (cupy reports failures as NaN, or raises numpy's)."""
    return type(error).__name__ == "LinAlgError"


def _symmetrize_lower(x):
    """½(Φ(X) + Φ(X)ᵀ): X's lower triangle halved and mirrored above the diagonal (its
    diagonal halved once), as PyTorch forms it before its two solves. Built from tril,
    never by multiplying X with a 0/1 mask, so that an ∞ above the diagonal (an infinite L
    meeting the gradient) is dropped, not turned into 0·∞ = NaN."""
    lower = x.tril()
    return (lower + lower.tril(-1).mT) * 0.5


def _substitute(xp, triangle, rhs, lower):
    """X with T X = B for a triangular T, one row of X at a time (forward substitution for
    a lower T, backward for an upper one), as LAPACK's triangular solve: row i reads only
    the rows it depends on, so an ∞ or NaN in B or T reaches only the rows that depend on
    it, where a general solve mixes it into every row through the other triangle's zeros."""
    n = triangle.shape[-1]
    x = xp.zeros(rhs.shape, rhs.dtype)
    with quiet(xp):
        for i in (range(n) if lower else range(n - 1, -1, -1)):
            done = slice(0, i) if lower else slice(i + 1, n)
            known = triangle[..., i:i + 1, done] @ x[..., done, :]
            x[..., i, :] = (rhs[..., i, :] - known[..., 0, :]) / triangle[..., i, i:i + 1]
    return x


@operation(function=True, method=True)
def cholesky(input, *, upper=False):
    """The lower-triangular L with A = L Lᵀ, from A's lower triangle (with ``upper``, the
    upper-triangular U with A = Uᵀ U, from A's upper triangle, as PyTorch reads it).

    ∂L/∂A = ½(S + Sᵀ) with S = L⁻ᵀ Φ(Lᵀ ∂L/∂L̄) L⁻¹ (see the module docstring)."""
    _check_square("cholesky", "input", input)
    if input.dtype.name not in ("float32", "float64"):   # as PyTorch: no half, no integers
        raise TypeError(f"cholesky: expected a float32 or float64 input, got {input.dtype.name}")
    xp = input.device.xp
    read = xp.swapaxes(input.array, -1, -2) if upper else input.array   # its lower triangle
    try:
        lower = xp.linalg.cholesky(read)
    except Exception as error:
        if not _is_linalg_error(error):
            raise
        raise RuntimeError(f"cholesky: the input of shape {tuple(input.shape)} is not "
                           f"positive-definite (a symmetric matrix with positive eigenvalues), "
                           f"so it has no Cholesky factor") from None
    # cupy reports failure as NaN; numpy lets a NaN input through where LAPACK's check fails,
    # and an infinite entry below the diagonal, which makes LAPACK's next pivot -inf or NaN
    if bool(xp.isnan(lower).any()) or not (bool(xp.isfinite(lower).all())
                                           or bool(xp.isfinite(xp.tril(read, -1)).all())):
        raise RuntimeError(f"cholesky: the input of shape {tuple(input.shape)} is not "
                           f"positive-definite, so it has no Cholesky factor")
    factor = xp.ascontiguousarray(xp.swapaxes(lower, -1, -2)) if upper else lower

    def backward(ctx, grad):
        factor, = ctx.saved_tensors
        L, g = (factor.mT, grad.mT) if upper else (factor, grad)
        sym = _symmetrize_lower(L.mT @ g)                      # ½(Φ + Φᵀ)
        s = solve_triangular(L.mT, sym, upper=True)            # L⁻ᵀ ½(Φ + Φᵀ)
        return solve_triangular(L, s, upper=False, left=False)  # … L⁻¹ = ½(S + Sᵀ)
    return record("cholesky", factor, (input,), backward, save=(OUTPUT,))


@operation()   # PyTorch's torch.linalg.solve_triangular
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (``left``) or X A = B, for a triangular A.

    Only A's ``upper`` (or lower) triangle is read; with ``unitriangular`` its diagonal is
    taken to be ones. left: ∂L/∂B = A⁻ᵀ ∂L/∂X, ∂L/∂A = -(∂L/∂B) Xᵀ;
    right: ∂L/∂B = ∂L/∂X A⁻ᵀ, ∂L/∂A = -Xᵀ ∂L/∂B (each kept to A's triangle)."""
    _check_square("solve_triangular", "A", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"solve_triangular: B must be a Tensor, got {type(B).__name__}")
    check_same_dtype("solve_triangular", A, B)
    check_same_device("solve_triangular", A, B)
    n = A.shape[-1]
    a_shape, b_shape = tuple(A.shape), tuple(B.shape)
    if B.ndim < 2 or b_shape[-2 if left else -1] != n:
        side = "rows" if left else "columns"
        raise RuntimeError(f"solve_triangular: B of shape {b_shape} must have {n} {side} to "
                           f"match A of shape {a_shape} (left={left})")
    xp = A.device.xp
    try:
        batch = tuple(xp.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
    except ValueError:
        raise RuntimeError(f"solve_triangular: the batch dimensions of A {a_shape} and B "
                           f"{b_shape} do not broadcast") from None
    triangle = xp.triu(A.array) if upper else xp.tril(A.array)
    if unitriangular:
        triangle = triangle.copy()
        triangle[..., xp.arange(n), xp.arange(n)] = 1
    triangle = xp.broadcast_to(triangle, batch + (n, n))
    rhs = xp.broadcast_to(B.array, batch + b_shape[-2:])
    if not left:   # X A = B  <=>  Aᵀ Xᵀ = Bᵀ
        triangle, rhs = xp.swapaxes(triangle, -1, -2), xp.swapaxes(rhs, -1, -2)
    singular = (f"solve_triangular: A of shape {a_shape} is singular (a zero on its diagonal), "
                f"so A X = B has no unique solution")
    # (with ∞ or NaN, the other triangle's zeros would meet them in a general solve)
    finite = bool(xp.isfinite(triangle).all()) and bool(xp.isfinite(rhs).all())
    if not finite and not bool((triangle[..., xp.arange(n), xp.arange(n)] != 0).all()):
        raise RuntimeError(singular)
    try:
        x = (xp.linalg.solve(triangle, rhs) if finite
             else _substitute(xp, triangle, rhs, lower=upper != left))
    except Exception as error:
        if not _is_linalg_error(error):
            raise
        raise RuntimeError(singular) from None
    if not left:
        x = xp.ascontiguousarray(xp.swapaxes(x, -1, -2))

    def backward(ctx, grad):
        A, X = ctx.saved_tensors
        # the solve with Aᵀ: its triangle is the other one
        grad_b = solve_triangular(A.mT, grad, upper=not upper, left=left,
                                  unitriangular=unitriangular)
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = -(grad_b @ X.mT) if left else -(X.mT @ grad_b)
            keep = 1 if unitriangular else 0
            grad_a = grad_a.triu(keep) if upper else grad_a.tril(-keep)
            grad_a = sum_to_shape(grad_a, a_shape)
        return grad_a, (sum_to_shape(grad_b, b_shape) if ctx.needs_input_grad[1] else None)
    return record("solve_triangular", x, (A, B), backward, save=(A, OUTPUT))

