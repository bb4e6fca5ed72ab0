"""Adam (and AdamW), RMSprop and Adagrad steps in one pass over memory (numba).

Written with array operations, an Adam step makes about ten passes over arrays the size of
the parameter (m, v, a temporary for g², the square root, the quotient, …). Here each
element of θ, ∇, m and v is read once and written once: the step costs what moving those
arrays through the cache costs. PyTorch's fused/foreach Adam does the same in C++.

Each rule is written once, as a loop over a range of elements (``_*_range``), run whole
(one thread) or cut into one range per thread run at once (``*_parallel``: threads.split).
The caller splits only arrays large enough to pay for waking the threads
(``threads.PARALLEL_MIN_ELEMENTS``). The range loops run on unsigned indices: with a
signed index numba tests every index for a negative value to wrap it around, and unless
the compiler can see that the range starts at 0 (the serial call) that test keeps it from
vectorising the loop: split ranges ran 2–4× slower than the serial kernel did, and lost
to it at every size.

The arithmetic follows PyTorch's order of operations (lerp for m, addcmul for v, sqrt then
divide by √(1 − β₂ᵗ) then add ε, addcdiv for θ) in the array's own dtype: the scalars come
in already cast to it, so float32 stays float32. Arrays are C-contiguous, of one dtype and
shape; ``maximize`` negates ∇ before weight decay is added, as PyTorch does.
"""
import math

from numba import njit, uint64

from .threads import split


@njit(cache=True, nogil=True, error_model="numpy")
def _decayed(grad_i, theta_i, weight_decay, maximize):
    """g = ±∇ + λ·θ for one element (λ = 0: no decay)."""
    g = -grad_i if maximize else grad_i
    if weight_decay != 0:
        g = g + weight_decay * theta_i
    return g


# -- Adam / AdamW ----------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _adam_range(start, stop, theta, grad, m, v, v_max, amsgrad, maximize, weight_decay,
                decay_factor, one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt,
                eps):
    for i in range(uint64(start), uint64(stop)):
        t = theta[i]
        t = t * decay_factor                       # θ·(1 − lr·λ) (AdamW; 1 otherwise)
        g = _decayed(grad[i], t, weight_decay, maximize)
        mi = m[i] + one_minus_beta1 * (g - m[i])   # m ← lerp(m, g, 1 − β₁)
        vi = v[i] * beta2 + one_minus_beta2 * g * g
        m[i] = mi
        v[i] = vi
        if amsgrad:                                # v_max ← max(v_max, v), NaN wins
            vm = v_max[i]
            if vi > vm or vi != vi:
                vm = vi
            v_max[i] = vm
            vi = vm
        denominator = math.sqrt(vi) / bias2_sqrt + eps
        theta[i] = t - step_size * (mi / denominator)


@njit(cache=True, nogil=True, error_model="numpy")
def adam(theta, grad, m, v, v_max, amsgrad, maximize, weight_decay, decay_factor,
         one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps):
    """One Adam step on the flattened arrays, in place (v_max is read only with amsgrad)."""
    _adam_range(0, theta.size, theta.reshape(-1), grad.reshape(-1), m.reshape(-1),
                v.reshape(-1), v_max.reshape(-1), amsgrad, maximize, weight_decay, decay_factor,
                one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps)


def adam_parallel(chunks, theta, grad, m, v, v_max, amsgrad, maximize, weight_decay,
                  decay_factor, one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt,
                  eps):
    """``adam`` split into ``chunks`` ranges run at once (threads.split)."""
    split(_adam_range, theta.size, chunks, theta.reshape(-1), grad.reshape(-1), m.reshape(-1),
          v.reshape(-1), v_max.reshape(-1), amsgrad, maximize, weight_decay, decay_factor,
          one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps)


# -- RMSprop ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _rmsprop_range(start, stop, theta, grad, square_avg, grad_avg, buffer, centered, use_momentum,
                   maximize, weight_decay, alpha, one_minus_alpha, eps, momentum, lr):
    for i in range(uint64(start), uint64(stop)):
        t = theta[i]
        g = _decayed(grad[i], t, weight_decay, maximize)
        s = square_avg[i] * alpha + one_minus_alpha * g * g      # s ← α·s + (1 − α)·g²
        square_avg[i] = s
        if centered:
            a = grad_avg[i] + one_minus_alpha * (g - grad_avg[i])  # a ← lerp(a, g, 1 − α)
            grad_avg[i] = a
            denominator = math.sqrt(s - a * a) + eps
        else:
            denominator = math.sqrt(s) + eps
        if use_momentum:
            b = buffer[i] * momentum + g / denominator          # b ← μ·b + g/d
            buffer[i] = b
            theta[i] = t - lr * b
        else:
            theta[i] = t - lr * (g / denominator)


@njit(cache=True, nogil=True, error_model="numpy")
def rmsprop(theta, grad, square_avg, grad_avg, buffer, centered, use_momentum, maximize,
            weight_decay, alpha, one_minus_alpha, eps, momentum, lr):
    """One RMSprop step, in place (grad_avg read only if centered, buffer with momentum)."""
    _rmsprop_range(0, theta.size, theta.reshape(-1), grad.reshape(-1), square_avg.reshape(-1),
                   grad_avg.reshape(-1), buffer.reshape(-1), centered, use_momentum, maximize,
                   weight_decay, alpha, one_minus_alpha, eps, momentum, lr)


def rmsprop_parallel(chunks, theta, grad, square_avg, grad_avg, buffer, centered, use_momentum,
                     maximize, weight_decay, alpha, one_minus_alpha, eps, momentum, lr):
    """``rmsprop`` split into ``chunks`` ranges run at once (threads.split)."""
    split(_rmsprop_range, theta.size, chunks, theta.reshape(-1), grad.reshape(-1),
          square_avg.reshape(-1), grad_avg.reshape(-1), buffer.reshape(-1), centered,
          use_momentum, maximize, weight_decay, alpha, one_minus_alpha, eps, momentum, lr)


# -- Adagrad ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _adagrad_range(start, stop, theta, grad, total, maximize, weight_decay, eps, lr):
    for i in range(uint64(start), uint64(stop)):
        t = theta[i]
        g = _decayed(grad[i], t, weight_decay, maximize)
        s = total[i] + g * g                                    # s ← s + g²
        total[i] = s
        theta[i] = t - lr * (g / (math.sqrt(s) + eps))


@njit(cache=True, nogil=True, error_model="numpy")
def adagrad(theta, grad, total, maximize, weight_decay, eps, lr):
    """One Adagrad step with the step's learning rate ``lr``, in place."""
    _adagrad_range(0, theta.size, theta.reshape(-1), grad.reshape(-1), total.reshape(-1),
                   maximize, weight_decay, eps, lr)


def adagrad_parallel(chunks, theta, grad, total, maximize, weight_decay, eps, lr):
    """``adagrad`` split into ``chunks`` ranges run at once (threads.split)."""
    split(_adagrad_range, theta.size, chunks, theta.reshape(-1), grad.reshape(-1),
          total.reshape(-1), maximize, weight_decay, eps, lr)
