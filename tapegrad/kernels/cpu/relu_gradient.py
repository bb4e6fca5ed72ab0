"""relu's backward in one pass (numba): g where y > 0, else 0 — also where g is ±inf.

numpy's ``g * (y > 0)`` is one pass too, but gives NaN where an infinite g meets a 0
(0·∞), where the derivative (and PyTorch) says 0; ``where(y > 0, g, 0)`` is right but
about 7× slower on a random mask. The loop is both: right, and faster than the product.
A NaN in y passes its gradient on (``not y <= 0``), as in PyTorch.
"""
from numba import njit


@njit(cache=True, nogil=True)
def relu_gradient(grad, output, out):
    """out = grad where not output <= 0, else 0; C-contiguous arrays of one shape (flattened)."""
    flat_grad = grad.reshape(-1)
    flat_output = output.reshape(-1)
    flat_out = out.reshape(-1)
    for i in range(flat_out.size):
        flat_out[i] = 0 if flat_output[i] <= 0 else flat_grad[i]
