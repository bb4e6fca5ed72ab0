"""The one-pass optimizer updates (kernels.adam_step, rmsprop_step, adagrad_step, add_scaled).

* the numba loops agree with their array-only versions in kernels/generic.py (what cupy
  arrays, Fortran-ordered or float16 parameters run), in float32 and float64, with every
  option;
* the parallel versions give the serial results bit for bit, however the array is split;
* the first step of each rule has a closed form (m̂ = g, v̂ = g²), checked written out;
* a NaN in the second moment survives amsgrad's maximum, as in PyTorch.
"""
import itertools

import numba
import numpy as np
import pytest

from tapegrad import kernels
from tapegrad.backend.device import HOST as xp  # numpy's backend namespace
from tapegrad.kernels import generic
from tapegrad.kernels.cpu import optimizer_steps, threads

SHAPE = (37, 29)


def arrays(count, dtype, seed=0, shape=SHAPE):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(count)]


ADAM_OPTIONS = [dict(amsgrad=a, maximize=m, weight_decay=w, decoupled_weight_decay=d)
                for a, m, w, d in itertools.product((False, True), (False, True), (0.0, 0.1),
                                                    (False, True))]


def adam_state(dtype, seed):
    theta, grad, m = arrays(3, dtype, seed)
    v, v_max = (a * a for a in arrays(2, dtype, seed + 1))
    return theta, grad, m, v, np.maximum(v_max, v)


def adam_kwargs(options, step=3):
    return dict(step=step, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8,
                weight_decay=options["weight_decay"],
                decoupled_weight_decay=options["decoupled_weight_decay"],
                maximize=options["maximize"])


def generic_adam(theta, grad, m, v, v_max, options, step=3):
    """generic.adam_step with the scalars kernels.adam_step derives, the array-only path."""
    lr, beta1, beta2, wd = 0.01, 0.9, 0.99, options["weight_decay"]
    decoupled = options["decoupled_weight_decay"]
    generic.adam_step(xp, theta, grad, m, v, v_max if options["amsgrad"] else v,
                      options["amsgrad"], options["maximize"], 0.0 if decoupled else wd,
                      1 - lr * wd if decoupled else 1.0, 1 - beta1, beta2, 1 - beta2,
                      lr / (1 - beta1 ** step), np.sqrt(1 - beta2 ** step), 1e-8)


def tolerance(dtype):
    return dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", ADAM_OPTIONS,
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_adam_step_is_its_array_version(dtype, options):
    fused = adam_state(dtype, 1)
    reference = [a.copy() for a in fused]
    theta, grad, m, v, v_max = fused
    out = kernels.adam_step(xp, theta, grad, m, v, v_max if options["amsgrad"] else None,
                            **adam_kwargs(options))
    assert out is theta
    generic_adam(*reference, options)
    for name, got, want in zip(("theta", "grad", "m", "v", "v_max"), fused, reference):
        assert got.dtype == dtype, name
        np.testing.assert_allclose(got, want, **tolerance(dtype), err_msg=name)


RMSPROP_OPTIONS = [dict(centered=c, momentum=mo, maximize=m, weight_decay=w)
                   for c, mo, m, w in itertools.product((False, True), (0.0, 0.8), (False, True),
                                                        (0.0, 0.1))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", RMSPROP_OPTIONS,
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_rmsprop_step_is_its_array_version(dtype, options):
    theta, grad, grad_avg, buffer = arrays(4, dtype, 2)
    square_avg = grad_avg * grad_avg + np.abs(arrays(1, dtype, 3)[0])   # s ≥ a², as it stays
    fused = [theta, grad, square_avg, grad_avg, buffer]
    reference = [a.copy() for a in fused]
    centered, momentum = options["centered"], options["momentum"]
    kernels.rmsprop_step(xp, theta, grad, square_avg, grad_avg if centered else None,
                         buffer if momentum else None, lr=0.01, alpha=0.9, eps=1e-8,
                         weight_decay=options["weight_decay"], momentum=momentum,
                         maximize=options["maximize"])
    generic.rmsprop_step(xp, reference[0], reference[1], reference[2], reference[3],
                         reference[4], centered, momentum > 0, options["maximize"],
                         options["weight_decay"], 0.9, 1 - 0.9, 1e-8, momentum, 0.01)
    for name, got, want in zip(("theta", "grad", "square_avg", "grad_avg", "buffer"), fused,
                               reference):
        np.testing.assert_allclose(got, want, **tolerance(dtype), err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("maximize,weight_decay", [(False, 0.0), (True, 0.0), (False, 0.1),
                                                   (True, 0.1)])
def test_adagrad_step_is_its_array_version(dtype, maximize, weight_decay):
    theta, grad, total = arrays(3, dtype, 4)
    total = total * total
    fused = [theta, grad, total]
    reference = [a.copy() for a in fused]
    kernels.adagrad_step(xp, theta, grad, total, lr=0.05, weight_decay=weight_decay, eps=1e-10,
                         maximize=maximize)
    generic.adagrad_step(xp, *reference, maximize, weight_decay, 1e-10, 0.05)
    for name, got, want in zip(("theta", "grad", "sum"), fused, reference):
        np.testing.assert_allclose(got, want, **tolerance(dtype), err_msg=name)


# -- closed forms of the first step -------------------------------------------------------------
def test_adams_first_step_moves_each_coordinate_by_lr_times_the_sign_of_its_gradient():
    # t = 1: m̂ = g, v̂ = g², so θ₁ = θ₀ − lr·g / (|g| + ε)
    theta, grad = arrays(2, np.float64, 5)
    start = theta.copy()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    kernels.adam_step(xp, theta, grad, m, v, None, step=1, lr=0.1, beta1=0.9, beta2=0.999,
                      eps=1e-8, weight_decay=0, decoupled_weight_decay=False, maximize=False)
    np.testing.assert_allclose(theta, start - 0.1 * grad / (np.abs(grad) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(m, 0.1 * grad, rtol=1e-12)
    np.testing.assert_allclose(v, 0.001 * grad * grad, rtol=1e-12)


def test_adamws_first_step_decays_theta_before_the_adam_step():
    theta, grad = arrays(2, np.float64, 6)
    start = theta.copy()
    zeros = [np.zeros_like(theta) for _ in range(3)]
    kernels.adam_step(xp, theta, grad, *zeros, step=1, lr=0.1, beta1=0.9, beta2=0.999,
                      eps=1e-8, weight_decay=0.5, decoupled_weight_decay=True, maximize=True)
    # maximize: the step follows −g; the decay multiplies θ by 1 − lr·λ = 0.95
    expected = 0.95 * start + 0.1 * grad / (np.abs(grad) + 1e-8)
    np.testing.assert_allclose(theta, expected, rtol=1e-12)


def test_rmsprops_first_step_divides_by_the_root_of_one_minus_alpha_times_g_squared():
    theta, grad = arrays(2, np.float64, 7)
    start = theta.copy()
    square_avg = np.zeros_like(theta)
    kernels.rmsprop_step(xp, theta, grad, square_avg, None, None, lr=0.01, alpha=0.99, eps=1e-8,
                         weight_decay=0, momentum=0, maximize=False)
    expected = start - 0.01 * grad / (np.sqrt(0.01) * np.abs(grad) + 1e-8)
    np.testing.assert_allclose(theta, expected, rtol=1e-12)


def test_adagrads_first_step_with_an_initial_sum():
    theta, grad = arrays(2, np.float64, 8)
    start = theta.copy()
    total = np.full_like(theta, 0.25)
    kernels.adagrad_step(xp, theta, grad, total, lr=0.1, weight_decay=0.0, eps=1e-10,
                         maximize=False)
    np.testing.assert_allclose(total, 0.25 + grad * grad, rtol=1e-12)
    np.testing.assert_allclose(theta, start - 0.1 * grad / (np.sqrt(0.25 + grad * grad) + 1e-10),
                               rtol=1e-12)


# -- NaN, the array-only fallback, the parallel split --------------------------------------------
def test_a_nan_in_the_second_moment_stays_in_amsgrads_maximum():
    theta, grad, m, v, v_max = adam_state(np.float32, 9)
    grad[0, 0] = np.nan            # v becomes NaN there
    v_max[1, 1] = np.nan           # and an old NaN in v_max is kept
    kernels.adam_step(xp, theta, grad, m, v, v_max, **adam_kwargs(ADAM_OPTIONS[8]))
    assert np.isnan(v_max[0, 0]) and np.isnan(v_max[1, 1])
    assert np.isnan(theta[0, 0]) and np.isnan(theta[1, 1])
    assert np.isfinite(np.delete(theta.ravel(), [0, SHAPE[1] + 1])).all()


def test_fortran_ordered_and_float16_parameters_take_the_array_path():
    for make in (np.asfortranarray, lambda a: a.astype(np.float16)):
        contiguous = adam_state(np.float32, 10)
        other = [make(a.copy()) for a in contiguous]
        for state in (contiguous, other):
            kernels.adam_step(xp, *state[:4], None, **adam_kwargs(ADAM_OPTIONS[0]))
        assert other[0].flags.f_contiguous or other[0].dtype == np.float16
        atol = 1e-6 if other[0].dtype == np.float32 else 2e-3
        np.testing.assert_allclose(other[0].astype(np.float32), contiguous[0], atol=atol)


def test_a_gradient_of_another_dtype_takes_the_array_path_and_keeps_the_parameters_dtype():
    theta, m, v = arrays(3, np.float32, 11)
    v = v * v
    (grad,) = arrays(1, np.float64, 12)
    kernels.adagrad_step(xp, theta, grad, v, lr=0.1, weight_decay=0, eps=1e-10, maximize=False)
    assert theta.dtype == np.float32 and v.dtype == np.float32


@pytest.mark.parametrize("chunks", [2, 3, 7])
def test_the_parallel_kernels_give_the_serial_results_bit_for_bit(chunks):
    shape = (1001,)   # not a multiple of the chunk count
    state = [a.reshape(-1)[:1001].copy() for a in adam_state(np.float32, 13)]
    copy = [a.copy() for a in state]
    scalars = tuple(np.float32(s) for s in (0.1, 0.999, 0.1, 0.99, 0.01, 0.05, 0.3, 1e-8))
    optimizer_steps.adam(*state, True, True, *scalars)
    optimizer_steps.adam_parallel(chunks, *copy, True, True, *scalars)
    for got, want in zip(copy, state):
        np.testing.assert_array_equal(got, want)

    theta, grad, s, a, b = arrays(5, np.float64, 14, shape)
    s = s * s + a * a
    state, copy = [theta, grad, s, a, b], [x.copy() for x in (theta, grad, s, a, b)]
    scalars = (0.1, 0.9, 0.1, 1e-8, 0.5, 0.01)
    optimizer_steps.rmsprop(*state, True, True, False, *scalars)
    optimizer_steps.rmsprop_parallel(chunks, *copy, True, True, False, *scalars)
    for got, want in zip(copy, state):
        np.testing.assert_array_equal(got, want)

    theta, grad, total = arrays(3, np.float64, 15, shape)
    state, copy = [theta, grad, total * total], [x.copy() for x in (theta, grad, total * total)]
    optimizer_steps.adagrad(*state, False, 0.1, 1e-10, 0.05)
    optimizer_steps.adagrad_parallel(chunks, *copy, False, 0.1, 1e-10, 0.05)
    for got, want in zip(copy, state):
        np.testing.assert_array_equal(got, want)


def test_arrays_from_the_threshold_on_are_split_between_numbas_threads():
    assert threads.chunks(threads.PARALLEL_MIN_ELEMENTS - 1) == 1
    assert threads.chunks(threads.PARALLEL_MIN_ELEMENTS) == numba.get_num_threads()


def test_the_update_runs_the_parallel_kernel_when_the_array_is_split(monkeypatch):
    monkeypatch.setattr(threads, "chunks", lambda size: 2 if size >= 100 else 1)
    calls = []
    original = optimizer_steps.adam_parallel
    monkeypatch.setattr(optimizer_steps, "adam_parallel",
                        lambda chunks, *args: calls.append(chunks) or original(chunks, *args))
    big = adam_state(np.float32, 16)
    small = [a[:2, :3].copy() for a in big]   # 6 elements: under the threshold
    reference = [a.copy() for a in big]
    kernels.adam_step(xp, *big[:4], None, **adam_kwargs(ADAM_OPTIONS[0]))
    kernels.adam_step(xp, *small[:4], None, **adam_kwargs(ADAM_OPTIONS[0]))
    assert calls == [2]
    generic_adam(*reference, ADAM_OPTIONS[0])
    np.testing.assert_allclose(big[0], reference[0], **tolerance(np.float32))


def test_add_scaled_split_between_threads_is_the_serial_result(monkeypatch):
    y, x = arrays(2, np.float32, 17, (4097,))
    expected = y + np.float32(-0.01) * x
    monkeypatch.setattr(threads, "chunks", lambda size: 3)
    kernels.add_scaled(xp, y, x, -0.01)
    np.testing.assert_array_equal(y, expected)
