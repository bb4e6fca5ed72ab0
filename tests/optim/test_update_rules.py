"""Every optimizer, with every option, follows its update rule as written out here in numpy.

Each reference rule below is the pseudo-code of the optimizer's PyTorch documentation,
written independently of tapegrad's code; two details follow PyTorch's implementation where
the pseudo-code is vaguer: ``maximize`` negates the gradient before weight decay is added,
and amsgrad keeps the maximum of the raw second moment v (max_exp_avg_sq), dividing it by the
current bias correction. A rule gets one parameter's value θ, gradient g, its state dict s
and the step number t (from 1), and returns the new θ.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optim

from .problem import B0, W0, loss, make_params, numpy_gradients, train

STEPS = 20


# -- the reference rules -----------------------------------------------------------------------

def sgd_rule(theta, g, s, t, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
             maximize=False):
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * theta
    if momentum:
        s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return theta - lr * g


def adam_rule(theta, g, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              amsgrad=False, maximize=False, decoupled_weight_decay=False):
    beta1, beta2 = betas
    if maximize:
        g = -g
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * theta
    s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g * g
    v = s["v"]
    if amsgrad:
        s["v_max"] = np.maximum(s.get("v_max", 0), v)
        v = s["v_max"]
    m_hat = s["m"] / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def adamw_rule(theta, g, s, t, weight_decay=1e-2, **options):
    return adam_rule(theta, g, s, t, weight_decay=weight_decay, decoupled_weight_decay=True,
                     **options)


def rmsprop_rule(theta, g, s, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, maximize=False):
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * theta
    s["square_avg"] = alpha * s.get("square_avg", 0) + (1 - alpha) * g * g
    if centered:
        s["grad_avg"] = alpha * s.get("grad_avg", 0) + (1 - alpha) * g
        denominator = np.sqrt(s["square_avg"] - s["grad_avg"] ** 2) + eps
    else:
        denominator = np.sqrt(s["square_avg"]) + eps
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0) + g / denominator
        return theta - lr * s["b"]
    return theta - lr * g / denominator


def adagrad_rule(theta, g, s, t, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, maximize=False):
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * theta
    lr_t = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return theta - lr_t * g / (np.sqrt(s["sum"]) + eps)


def adadelta_rule(theta, g, s, t, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * theta
    s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
    return theta - lr * delta


def adamax_rule(theta, g, s, t, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                maximize=False):
    beta1, beta2 = betas
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * theta
    s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s.get("u", 0), np.abs(g) + eps)
    return theta - lr / (1 - beta1 ** t) * s["m"] / s["u"]


def nadam_rule(theta, g, s, t, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
               momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    beta1, beta2 = betas
    if maximize:
        g = -g
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * theta
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g * g
    m_hat = (mu_next * s["m"] / (1 - s["mu_product"] * mu_next)
             + (1 - mu) * g / (1 - s["mu_product"]))
    v_hat = s["v"] / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


RULES = {optim.SGD: sgd_rule, optim.Adam: adam_rule, optim.AdamW: adamw_rule,
         optim.RMSprop: rmsprop_rule, optim.Adagrad: adagrad_rule, optim.Adadelta: adadelta_rule,
         optim.Adamax: adamax_rule, optim.NAdam: nadam_rule}


def reference_trajectory(rule, options_per_tensor, steps=STEPS, values=(W0, B0),
                         gradients=numpy_gradients):
    thetas = [v.copy() for v in values]
    states = [{} for _ in thetas]
    trajectory = []
    for t in range(1, steps + 1):
        grads = gradients(*thetas)
        thetas = [rule(theta, g, s, t, **options)
                  for theta, g, s, options in zip(thetas, grads, states, options_per_tensor)]
        trajectory.append([theta.copy() for theta in thetas])
    return trajectory


def assert_same_trajectory(actual, expected, rtol=1e-10, atol=1e-10):
    assert len(actual) == len(expected)
    for step, (got, want) in enumerate(zip(actual, expected), start=1):
        for i, (a, e) in enumerate(zip(got, want)):
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol,
                                       err_msg=f"parameter {i} after step {step}")


# -- every option of every optimizer -----------------------------------------------------------

CASES = [
    (optim.SGD, {}),  # the default lr, 1e-3
    (optim.SGD, {"lr": 0.05}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (optim.SGD, {"lr": 0.05, "weight_decay": 0.1}),
    (optim.SGD, {"lr": 0.02, "maximize": True}),
    (optim.SGD, {"lr": 0.02, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1,
                 "maximize": True}),
    (optim.Adam, {}),
    (optim.Adam, {"lr": 0.05}),
    (optim.Adam, {"lr": 0.05, "betas": (0.8, 0.99)}),
    (optim.Adam, {"lr": 0.05, "eps": 1e-3}),
    (optim.Adam, {"lr": 0.05, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.05, "amsgrad": True}),
    (optim.Adam, {"lr": 0.05, "maximize": True}),
    (optim.Adam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (optim.Adam, {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    (optim.AdamW, {}),
    (optim.AdamW, {"lr": 0.05}),
    (optim.AdamW, {"lr": 0.05, "weight_decay": 0}),
    (optim.AdamW, {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    (optim.AdamW, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "maximize": True}),
    (optim.RMSprop, {}),
    (optim.RMSprop, {"alpha": 0.9, "eps": 1e-2}),
    (optim.RMSprop, {"weight_decay": 0.1}),
    (optim.RMSprop, {"centered": True}),
    (optim.RMSprop, {"momentum": 0.8}),
    (optim.RMSprop, {"centered": True, "momentum": 0.8}),
    (optim.RMSprop, {"lr": 0.005, "maximize": True}),
    (optim.RMSprop, {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1,
                     "maximize": True}),
    (optim.Adagrad, {}),
    (optim.Adagrad, {"lr": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "weight_decay": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "initial_accumulator_value": 0.5}),
    (optim.Adagrad, {"lr": 0.1, "eps": 1e-2}),
    (optim.Adagrad, {"lr": 0.1, "maximize": True}),
    (optim.Adadelta, {}),
    (optim.Adadelta, {"rho": 0.5}),
    (optim.Adadelta, {"eps": 1e-3}),
    (optim.Adadelta, {"lr": 0.5, "weight_decay": 0.1}),
    (optim.Adadelta, {"maximize": True}),
    (optim.Adamax, {}),
    (optim.Adamax, {"lr": 0.05}),
    (optim.Adamax, {"lr": 0.05, "betas": (0.8, 0.9)}),
    (optim.Adamax, {"lr": 0.05, "eps": 1e-2}),
    (optim.Adamax, {"lr": 0.05, "weight_decay": 0.1}),
    (optim.Adamax, {"lr": 0.05, "maximize": True}),
    (optim.NAdam, {}),
    (optim.NAdam, {"lr": 0.05}),
    (optim.NAdam, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-4}),
    (optim.NAdam, {"lr": 0.05, "weight_decay": 0.1}),
    (optim.NAdam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (optim.NAdam, {"lr": 0.05, "momentum_decay": 0.05}),
    (optim.NAdam, {"lr": 0.05, "maximize": True}),
]


# one case per optimizer with most options on
RICH_CASES = [
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    (optim.AdamW, {"lr": 0.05, "amsgrad": True}),
    (optim.RMSprop, {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1}),
    (optim.Adadelta, {"weight_decay": 0.1}),
    (optim.Adamax, {"lr": 0.05, "weight_decay": 0.1}),
    (optim.NAdam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
]


def case_id(case):
    cls, options = case
    return cls.__name__ + "(" + ", ".join(f"{k}={v}" for k, v in options.items()) + ")"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_twenty_steps_follow_the_update_rule(case):
    cls, options = case
    params = make_params()
    trajectory = train(cls(params, **options), params, STEPS)
    assert_same_trajectory(trajectory, reference_trajectory(RULES[cls], [options, options]))


def test_the_problem_gradient_of_tapegrad_matches_the_numpy_one():
    params = make_params()
    loss(*params).backward()
    for p, expected in zip(params, numpy_gradients(W0, B0)):
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-12, atol=1e-14)


# -- checkpoints -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", RICH_CASES, ids=case_id)
def test_resuming_from_a_saved_state_dict_continues_the_identical_trajectory(case, tmp_path):
    cls, options = case
    params = make_params()
    uninterrupted = train(cls(params, **options), params, STEPS)

    params = make_params()
    optimizer = cls(params, **options)
    first_half = train(optimizer, params, STEPS // 2)
    tg.save({"params": [p.detach() for p in params], "optimizer": optimizer.state_dict()},
            tmp_path / "checkpoint.tg")
    del optimizer, params

    checkpoint = tg.load(tmp_path / "checkpoint.tg")
    params = [p.requires_grad_() for p in checkpoint["params"]]
    optimizer = cls(params, **options)
    optimizer.load_state_dict(checkpoint["optimizer"])
    second_half = train(optimizer, params, STEPS - STEPS // 2)
    for got, want in zip(first_half + second_half, uninterrupted):
        for a, e in zip(got, want):
            np.testing.assert_array_equal(a, e)


# -- parameter groups --------------------------------------------------------------------------

GROUP_CASES = [
    (optim.SGD, {"lr": 0.05}, {"momentum": 0.9}, {"lr": 0.1, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.05}, {"betas": (0.8, 0.9), "amsgrad": True},
     {"lr": 0.01, "weight_decay": 0.1}),
    (optim.RMSprop, {}, {"centered": True}, {"momentum": 0.9, "alpha": 0.9}),
    (optim.Adagrad, {"lr": 0.1}, {"lr_decay": 0.5}, {"initial_accumulator_value": 1.0}),
    (optim.NAdam, {"lr": 0.05}, {"momentum_decay": 0.01}, {"lr": 0.01}),
]


@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda case: case[0].__name__)
def test_each_parameter_group_follows_the_rule_with_its_own_options(case):
    cls, defaults, first, second = case
    w, b = make_params()
    optimizer = cls([{"params": [w], **first}, {"params": [b], **second}], **defaults)
    trajectory = train(optimizer, [w, b], STEPS)
    expected = reference_trajectory(RULES[cls], [{**defaults, **first}, {**defaults, **second}])
    assert_same_trajectory(trajectory, expected)


def test_parameters_of_the_same_shape_keep_separate_state():
    # the update rules share scratch arrays between parameters of one shape, never state
    targets = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    starts = np.zeros(2), np.ones(2)

    def numpy_grads(a, c):
        return [2 * (a - targets[0]), 4 * (c - targets[1]) ** 3]

    params = [tg.tensor(v, requires_grad=True) for v in starts]
    optimizer = optim.Adam(params, lr=0.1, amsgrad=True)
    trajectory = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        a, c = params
        (((a - tg.tensor(targets[0])) ** 2).sum() + ((c - tg.tensor(targets[1])) ** 4).sum()
         ).backward()
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    options = {"lr": 0.1, "amsgrad": True}
    expected = reference_trajectory(adam_rule, [options, options], values=starts,
                                    gradients=numpy_grads)
    assert_same_trajectory(trajectory, expected)


def test_a_parameter_in_fortran_order_is_updated_in_place_correctly():
    w = tg.from_numpy(np.asfortranarray(W0.copy())).requires_grad_()
    b = tg.tensor(B0, requires_grad=True)
    memory = w.array
    options = {"lr": 0.05, "momentum": 0.9, "nesterov": True}
    trajectory = train(optim.SGD([w, b], **options), [w, b], STEPS)
    assert w.array is memory and w.array.flags.f_contiguous
    assert_same_trajectory(trajectory, reference_trajectory(sgd_rule, [options, options]))


# -- float32 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", RICH_CASES, ids=case_id)
def test_float32_parameters_keep_float32_values_and_state(case):
    cls, options = case
    params = make_params(tg.float32)
    optimizer = cls(params, **options)
    trajectory = train(optimizer, params, STEPS)
    for p in params:
        assert p.dtype is tg.float32 and p.array.dtype == np.float32
        for name, value in optimizer.state[p].items():
            if isinstance(value, tg.Tensor):
                assert value.array.dtype == np.float32, name
    expected = reference_trajectory(RULES[cls], [options, options])
    assert_same_trajectory(trajectory, expected, rtol=1e-4, atol=1e-5)
