"""``_standard_gamma(concentration)``: samples of Gamma(α, 1) that gradients flow through.

The sampler is the backend's own (numpy's or cupy's ``standard_gamma``, Marsaglia and
Tsang's method), drawn from tapegrad's generator so that ``tg.manual_seed`` repeats it.
Rejection sampling is not a smooth function of α, so the gradient is the implicit one
(Figurnov et al., 2018): a sample x is the α-quantile of some uniform u = P(α, x), P the
Gamma CDF; holding u fixed,

    dx/dα = -(∂P/∂α)(α, x) / (∂P/∂x)(α, x)

computed by ``kernels/cpu/gamma_functions.gamma_sample_grad`` (a series; on a GPU the
arrays go through the host). Its own derivative is not implemented: differentiating the
gradient again raises.
"""
from .. import backend, dtypes
from ..autograd.tape import OUTPUT, record
from ..random import rng_for


def _gamma_sample_grad(xp, x, alpha):
    from ..kernels.cpu.gamma_functions import gamma_sample_grad
    host = gamma_sample_grad(backend.to_numpy(x).astype("float64"),
                             backend.to_numpy(alpha).astype("float64"))
    return xp.asarray(host, dtype=x.dtype)


def _standard_gamma(concentration, generator=None):
    """x ~ Gamma(α, 1) elementwise, of α's shape and dtype;  dx/dα = -(∂P/∂α) / (∂P/∂x)"""
    alpha = concentration
    xp = alpha.device.xp
    rng = rng_for(alpha.device, generator)
    draw = rng.standard_gamma(alpha.array.astype(dtypes.float64.numpy))
    # The smallest positive normal number instead of 0 (tiny α underflows), so that
    # log_prob of a sample stays finite, as in PyTorch.
    x = xp.maximum(xp.asarray(draw, dtype=alpha.array.dtype), xp.finfo(alpha.array.dtype).tiny)

    def backward(ctx, grad):
        x, alpha = ctx.saved_tensors
        dx_dalpha = _gamma_sample_grad(xp, x.array, alpha.array)
        return record("standard_gamma_grad", grad.array * dx_dalpha, (grad, alpha),
                      _second_derivative_not_implemented)
    return record("standard_gamma", x, (alpha,), backward, save=(OUTPUT, alpha))


def _second_derivative_not_implemented(ctx, grad):
    raise RuntimeError("the second derivative of a Gamma (or Beta) rsample with respect to its "
                       "concentration is not implemented")
