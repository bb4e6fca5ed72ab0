"""Checking a backward against finite differences.

For f with inputs x and outputs y, the Jacobian J[k, j] = ∂y_k/∂x_j is built twice:

* numerically, one column at a time, by central differences in float64:
  J[:, j] ≈ (f(x + ε·e_j) - f(x - ε·e_j)) / 2ε
* analytically, one row at a time, from vector-Jacobian products: backward with the
  gradient e_k on output k gives row k (this is what backward() computes).

They must agree to ``|analytical - numerical| ≤ atol + rtol·|numerical|`` everywhere.
``gradgradcheck`` does the same for the gradient function itself (second derivatives).
"""
import warnings

from .. import backend
from ..backend import CPU
from .engine import grad as autograd_grad
from .tensor import Tensor, wrap


class GradcheckError(RuntimeError):
    """Raised when an analytical Jacobian differs from the numerical one."""


def _as_tuple(value):
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _differentiable_outputs(outputs):
    return [o for o in _as_tuple(outputs)
            if isinstance(o, Tensor) and o.dtype.is_floating_point]


def _numerical_jacobians(fn, inputs, diff_indices, eps):
    """For each differentiable input: an array (total output size, input size) of central differences."""
    # No no_grad() here: fn may itself differentiate (gradgradcheck checks such a function).
    total = sum(o.numel() for o in _differentiable_outputs(fn(*inputs)))
    jacobians = []
    for i in diff_indices:
        array = inputs[i].array
        jacobian = CPU.xp.zeros((total, array.size), dtype="float64")
        for j in range(array.size):
            position = tuple(int(p) for p in CPU.xp.unravel_index(j, array.shape)) if array.ndim else ()
            original = array[position].copy()
            array[position] = original + eps
            plus = _flat_outputs(fn(*inputs))
            array[position] = original - eps
            minus = _flat_outputs(fn(*inputs))
            array[position] = original
            jacobian[:, j] = (plus - minus) / (2 * eps)
        jacobians.append(jacobian)
    return jacobians


def _flat_outputs(outputs):
    """Every differentiable output, flattened into one float64 array on the host (outputs
    may live on several devices: ``x.cuda().cpu()``)."""
    arrays = [backend.to_numpy(o.array).astype("float64").ravel()
              for o in _differentiable_outputs(outputs)]
    return CPU.xp.concat(arrays) if arrays else 0.0


def _analytical_jacobians(fn, inputs, diff_indices):
    """For each differentiable input: rows of vector-Jacobian products, one per output element."""
    outputs = _differentiable_outputs(fn(*inputs))
    total = sum(o.numel() for o in outputs)
    diff_inputs = [inputs[i] for i in diff_indices]
    # The Jacobians are small, and kept on the host whatever the devices involved.
    jacobians = [CPU.xp.zeros((total, inputs[i].numel()), dtype="float64") for i in diff_indices]
    row = 0
    for output in outputs:
        xp = output.device.xp
        for k in range(output.numel()):
            if output.requires_grad:
                seed = xp.zeros(output.array.size, dtype=output.array.dtype)
                seed[k] = 1
                grads = autograd_grad(output, diff_inputs,
                                      grad_outputs=wrap(seed.reshape(output.array.shape),
                                                        output.device),
                                      retain_graph=True, allow_unused=True)
                for jacobian, g in zip(jacobians, grads):
                    if g is not None:
                        jacobian[row] = backend.to_numpy(g.array).astype("float64").ravel()
            row += 1
    return jacobians


def _check_inputs(inputs, function_name):
    diff_indices = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff_indices:
        raise ValueError(f"{function_name}: no input requires grad, so there is nothing to check")
    for i in diff_indices:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"{function_name}: input {i} is {inputs[i].dtype}, not float64; finite "
                          f"differences in lower precision are unreliable", UserWarning,
                          stacklevel=3)
        if not inputs[i].is_leaf:
            raise ValueError(f"{function_name}: input {i} is not a leaf; pass leaves "
                             f"(tensors made with requires_grad=True)")
    return diff_indices


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when the backward of ``fn`` matches central finite differences for every input
    that requires grad; otherwise raises GradcheckError showing both Jacobians."""
    inputs = _as_tuple(inputs)
    diff_indices = _check_inputs(inputs, "gradcheck")
    analytical = _analytical_jacobians(fn, inputs, diff_indices)
    numerical = _numerical_jacobians(fn, inputs, diff_indices, eps)
    for i, a, n in zip(diff_indices, analytical, numerical):
        xp = CPU.xp
        error = xp.abs(a - n) - (atol + rtol * xp.abs(n))
        if error.size and (float(error.max()) > 0 or not bool(xp.isfinite(a).all())):
            if not raise_exception:
                return False
            raise GradcheckError(_mismatch_report(i, inputs[i], a, n, error))
    return True


def _mismatch_report(i, tensor, analytical, numerical, error):
    a, n, e = (backend.to_numpy(v) for v in (analytical, numerical, error))
    with_nan = e.copy()
    with_nan[~(abs(a) < float("inf"))] = float("inf")
    worst = divmod(int(with_nan.argmax()), a.shape[1])
    return (f"Jacobian mismatch for input {i} (shape {tuple(tensor.shape)}):\n"
            f"worst entry: output element {worst[0]}, input element {worst[1]}: "
            f"analytical {a[worst]:.8g} vs numerical {n[worst]:.8g}\n"
            f"numerical (rows: output elements, columns: input elements):\n"
            f"{backend.format_array(n)}\nanalytical:\n{backend.format_array(a)}")


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0):
    """gradcheck of the gradient itself: (x, v) ↦ vᵀ·∂f/∂x must match finite differences,
    which checks that backward recorded with ``create_graph=True`` is right."""
    inputs = _as_tuple(inputs)
    diff_indices = _check_inputs(inputs, "gradgradcheck")
    outputs = _differentiable_outputs(fn(*inputs))
    if grad_outputs is None:
        from ..random import Generator
        generator = Generator().manual_seed(seed)
        grad_outputs = []
        for o in outputs:
            v = generator.for_device(o.device).standard_normal(o.array.shape).astype(o.array.dtype)
            grad_outputs.append(wrap(v, o.device, requires_grad=True))
    grad_outputs = _as_tuple(grad_outputs)
    n_inputs = len(inputs)

    def first_derivative(*args):
        values, vectors = args[:n_inputs], args[n_inputs:]
        pairs = [(o, v) for o, v in zip(_differentiable_outputs(fn(*values)), vectors)
                 if o.requires_grad]
        grads = autograd_grad([o for o, _ in pairs], [values[i] for i in diff_indices],
                              grad_outputs=[v for _, v in pairs], create_graph=True,
                              allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
