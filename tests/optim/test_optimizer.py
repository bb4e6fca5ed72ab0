"""What every optimizer shares: parameter groups, zero_grad, step with a closure, state_dict,
and errors that name the problem."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optim

from .problem import loss, make_params

ALL = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad, optim.Adadelta,
       optim.Adamax, optim.NAdam]


def backward_once(params):
    loss(*params).backward()


# -- defaults ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, expected", [
    (optim.SGD, dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                     maximize=False)),
    (optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                      maximize=False, decoupled_weight_decay=False)),
    (optim.AdamW, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                       amsgrad=False, maximize=False, decoupled_weight_decay=True)),
    (optim.RMSprop, dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                         centered=False, maximize=False)),
    (optim.Adagrad, dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                         eps=1e-10, maximize=False)),
    (optim.Adadelta, dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)),
    (optim.Adamax, dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                        maximize=False)),
    (optim.NAdam, dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                       momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_the_default_options_are_pytorchs(cls, expected):
    optimizer = cls(make_params())
    assert optimizer.defaults == expected
    group = optimizer.param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == expected


# -- parameter groups --------------------------------------------------------------------------

def test_groups_take_the_defaults_for_the_options_they_leave_out():
    w, b = make_params()
    optimizer = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    first, second = optimizer.param_groups
    assert first["params"][0] is w and second["params"] == [b]  # a lone tensor becomes a list
    assert (first["lr"], first["momentum"]) == (0.1, 0.9)
    assert (second["lr"], second["momentum"]) == (0.5, 0.9)


def test_add_param_group_adds_a_group_that_is_updated_from_the_next_step():
    w, b = make_params()
    optimizer = optim.Adam([w], lr=0.1)
    optimizer.add_param_group({"params": [b], "lr": 0.01})
    assert len(optimizer.param_groups) == 2 and optimizer.param_groups[1]["betas"] == (0.9, 0.999)
    before = b.detach().numpy().copy()
    backward_once([w, b])
    optimizer.step()
    assert optimizer.state[b]["step"] == 1
    # Adam's first step moves every coordinate by about lr
    np.testing.assert_allclose(np.abs(b.detach().numpy() - before), 0.01, rtol=1e-3)


def test_a_parameter_added_to_adagrad_later_gets_its_state_on_its_first_step():
    w, b = make_params()
    optimizer = optim.Adagrad([w], initial_accumulator_value=0.5)
    optimizer.add_param_group({"params": [b]})
    backward_once([w, b])
    optimizer.step()
    g = b.grad.numpy()
    np.testing.assert_allclose(optimizer.state[b]["sum"].numpy(), 0.5 + g * g)


def test_adagrad_has_its_state_before_the_first_step_as_in_pytorch():
    w, b = make_params()
    optimizer = optim.Adagrad([w, b], initial_accumulator_value=0.25)
    state = optimizer.state_dict()["state"]
    assert sorted(state) == [0, 1] and state[0]["step"] == 0
    np.testing.assert_array_equal(state[1]["sum"].numpy(), np.full(2, 0.25))


# -- zero_grad ---------------------------------------------------------------------------------

def test_zero_grad_sets_the_gradients_to_none_by_default():
    params = make_params()
    optimizer = optim.SGD(params, lr=0.1)
    backward_once(params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_with_set_to_none_false_zeroes_the_same_gradient_tensors_in_place():
    params = make_params(tg.float32)
    optimizer = optim.SGD(params, lr=0.1)
    backward_once(params)
    grads = [p.grad for p in params]
    arrays = [g.array for g in grads]
    optimizer.zero_grad(set_to_none=False)
    for p, g, a in zip(params, grads, arrays):
        assert p.grad is g and p.grad.array is a
        assert p.grad.dtype is tg.float32 and not p.grad.numpy().any()
    backward_once(params)  # the next backward accumulates into the zeroed arrays
    assert params[0].grad.array is arrays[0] and params[0].grad.numpy().any()


def test_zero_grad_in_place_replaces_a_gradient_that_is_part_of_a_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    optim.SGD([x]).zero_grad(set_to_none=False)
    assert x.grad.grad_fn is None and x.grad.tolist() == [0.0, 0.0]


# -- step --------------------------------------------------------------------------------------

def test_step_returns_the_loss_of_the_closure_evaluated_with_gradients_enabled():
    params = make_params()
    optimizer = optim.SGD(params, lr=0.1)
    calls = []

    def closure():
        optimizer.zero_grad()
        value = loss(*params)
        value.backward()
        calls.append(value.item())
        return value

    with tg.no_grad():  # the closure still records its graph
        returned = optimizer.step(closure)
    assert calls and returned.item() == calls[0]
    assert optimizer.step() is None


def test_step_skips_parameters_without_a_gradient_and_keeps_no_state_for_them():
    w, b = make_params()
    frozen = tg.tensor([1.0, 2.0], requires_grad=True)
    optimizer = optim.Adam([w, b, frozen], lr=0.1)
    backward_once([w, b])
    optimizer.step()
    assert frozen.tolist() == [1.0, 2.0]
    assert frozen not in optimizer.state and w in optimizer.state


def test_step_leaves_the_gradient_unchanged():
    params = make_params()
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.5, maximize=True)
    backward_once(params)
    before = [p.grad.numpy().copy() for p in params]
    optimizer.step()
    optimizer.step()
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad.numpy(), g)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_step_changes_parameters_in_place_and_bumps_their_version(cls):
    params = make_params()
    arrays = [p.array for p in params]
    versions = [p._version for p in params]
    optimizer = cls(params)
    backward_once(params)
    optimizer.step()
    assert all(p.array is a for p, a in zip(params, arrays))
    assert all(p._version > v for p, v in zip(params, versions))


def test_a_graph_that_saved_a_parameter_before_the_step_refuses_to_run_backward():
    w, b = make_params()
    optimizer = optim.SGD([w, b], lr=0.1)
    backward_once([w, b])
    stale = (w * w).sum()  # saves w for its backward
    optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation|version"):
        stale.backward()


def test_the_step_is_not_recorded_on_the_tape():
    params = make_params()
    optimizer = optim.Adam(params, lr=0.1)
    backward_once(params)
    optimizer.step()
    assert all(p.is_leaf and p.grad_fn is None for p in params)


# -- state_dict --------------------------------------------------------------------------------

def test_state_dict_names_parameters_by_their_position_in_the_groups():
    w, b = make_params()
    c = tg.tensor([0.5], requires_grad=True)
    optimizer = optim.Adam([{"params": [w, b]}, {"params": [c], "lr": 0.1}], lr=0.01)
    (loss(w, b) + (c * c).sum()).backward()
    optimizer.step()
    state_dict = optimizer.state_dict()
    assert [g["params"] for g in state_dict["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in state_dict["param_groups"]] == [0.01, 0.1]
    assert sorted(state_dict["state"]) == [0, 1, 2]
    assert list(state_dict["state"][0]) == ["step", "exp_avg", "exp_avg_sq"]
    assert state_dict["state"][2]["exp_avg"] is optimizer.state[c]["exp_avg"]  # live, as PyTorch


def test_load_state_dict_takes_the_options_and_copies_the_state():
    params = make_params()
    source = optim.SGD(params, lr=0.3, momentum=0.5)
    backward_once(params)
    source.step()
    state_dict = source.state_dict()

    other = make_params()
    target = optim.SGD(other, lr=0.1, momentum=0.9)
    target.load_state_dict(state_dict)
    assert target.param_groups[0]["lr"] == 0.3 and target.param_groups[0]["momentum"] == 0.5
    assert target.param_groups[0]["params"][0] is other[0]
    loaded = target.state[other[0]]["momentum_buffer"]
    np.testing.assert_array_equal(loaded.numpy(),
                                  source.state[params[0]]["momentum_buffer"].numpy())
    assert loaded.array is not source.state[params[0]]["momentum_buffer"].array


def test_loaded_state_is_cast_to_the_parameters_dtype():
    params = make_params(tg.float64)
    source = optim.Adam(params, lr=0.1)
    backward_once(params)
    source.step()
    other = make_params(tg.float32)
    target = optim.Adam(other, lr=0.1)
    target.load_state_dict(source.state_dict())
    assert target.state[other[0]]["exp_avg"].dtype is tg.float32
    assert target.state[other[0]]["step"] == 1


def test_a_step_counter_saved_as_a_tensor_loads_as_a_number():
    params = make_params()
    optimizer = optim.NAdam(params)
    backward_once(params)
    optimizer.step()
    state_dict = optimizer.state_dict()
    state_dict["state"][0]["step"] = tg.tensor(1.0)
    state_dict["state"][0]["mu_product"] = tg.tensor(state_dict["state"][0]["mu_product"],
                                                     dtype=tg.float64)
    fresh = make_params()
    target = optim.NAdam(fresh)
    target.load_state_dict(state_dict)
    assert target.state[fresh[0]]["step"] == 1 and type(target.state[fresh[0]]["step"]) is int
    assert target.state[fresh[0]]["mu_product"] == optimizer.state[params[0]]["mu_product"]


def test_loading_adams_state_into_adamw_keeps_the_weight_decay_decoupled():
    params = make_params()
    optimizer = optim.AdamW(params)
    optimizer.load_state_dict(optim.Adam(make_params()).state_dict())
    assert optimizer.param_groups[0]["decoupled_weight_decay"] is True


def test_load_state_dict_refuses_a_different_number_of_groups():
    w, b = make_params()
    two_groups = optim.SGD([{"params": [w]}, {"params": [b]}]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups: 2 in the "
                                         "state dict, 1 in this optimizer"):
        optim.SGD(make_params()).load_state_dict(two_groups)


def test_load_state_dict_refuses_a_group_of_another_size():
    w, b = make_params()
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state dict and 2 in "
                                         "this optimizer"):
        optim.SGD(make_params()).load_state_dict(optim.SGD([w]).state_dict())


def test_load_state_dict_refuses_state_of_the_wrong_shape_before_changing_anything():
    w, b = make_params()
    source = optim.Adam([b, w], lr=0.5)  # the same sizes, in the other order
    backward_once([w, b])
    source.step()
    params = make_params()
    target = optim.Adam(params, lr=0.1)
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\] of shape \(2,\), but the "
                                         r"parameter it belongs to has shape \(3, 2\)"):
        target.load_state_dict(source.state_dict())
    assert target.param_groups[0]["lr"] == 0.1 and not target.state


def test_load_state_dict_refuses_something_that_is_not_a_state_dict():
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        optim.SGD(make_params()).load_state_dict({"weight": tg.zeros(2)})


def test_repr_lists_each_group_s_options_as_pytorch_prints_them():
    w, b = make_params()
    text = repr(optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1))
    assert text.splitlines()[:3] == ["SGD (", "Parameter Group 0", "    dampening: 0"]
    assert "Parameter Group 1" in text and "    lr: 0.5" in text and text.endswith(")")


# -- misuse ------------------------------------------------------------------------------------

def test_a_single_tensor_instead_of_an_iterable_is_a_type_error():
    w, _ = make_params()
    with pytest.raises(TypeError, match=r"iterable of Tensors or dicts, but got a single Tensor "
                                        r"of shape \(3, 2\)"):
        optim.SGD(w, lr=0.1)


def test_a_single_dict_instead_of_a_list_of_groups_is_a_type_error():
    w, _ = make_params()
    with pytest.raises(TypeError, match="single dict"):
        optim.SGD({"params": [w]}, lr=0.1)


def test_an_empty_parameter_list_is_a_value_error():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])


def test_a_set_of_parameters_is_refused_because_its_order_changes():
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD(set(make_params()))


def test_something_that_is_not_a_tensor_is_refused():
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the "
                                        "params is ndarray"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(TypeError, match="params should be an iterable of Tensors, got float"):
        optim.SGD(0.5)


def test_a_non_leaf_tensor_is_refused_as_in_pytorch():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor \(shape \(2,\), "
                                         r"made by 'mul'\)"):
        optim.SGD([x * 2])


def test_a_parameter_in_two_groups_is_refused():
    w, b = make_params()
    with pytest.raises(ValueError, match=r"some parameters appear in more than one parameter "
                                         r"group: a tensor of shape \(2,\) is already in "
                                         r"group 0"):
        optim.SGD([{"params": [w, b]}, {"params": [b]}])
    optimizer = optim.SGD([w])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [b, w]})
    assert len(optimizer.param_groups) == 1


def test_a_parameter_twice_in_one_group_warns():
    w, _ = make_params()
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w])


def test_add_param_group_needs_a_dict_with_params():
    optimizer = optim.SGD(make_params())
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        optimizer.add_param_group([tg.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="must have a 'params' entry"):
        optimizer.add_param_group({"lr": 0.1})


def test_a_group_without_a_required_option_is_refused():
    class Custom(optim.Optimizer):
        def __init__(self, params, lr=optim.required):
            super().__init__(params, {"lr": lr})

    w, b = make_params()
    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter lr"):
        Custom([w])
    optimizer = Custom([{"params": [w], "lr": 0.1}])
    assert optimizer.param_groups[0]["lr"] == 0.1
    with pytest.raises(NotImplementedError, match="Custom does not define its update rule"):
        backward_once([w, b])
        optimizer.step()


def test_an_invalid_option_in_a_group_is_refused_before_the_group_is_added():
    w, b = make_params()
    optimizer = optim.SGD([w], lr=0.1)
    group = {"params": [b], "lr": -0.5}
    with pytest.raises(ValueError, match=r"Invalid learning rate: lr=-0.5"):
        optimizer.add_param_group(group)
    assert len(optimizer.param_groups) == 1 and group["params"] == [b] and "momentum" not in group


INVALID = [
    (optim.SGD, {"lr": -0.1}, r"Invalid learning rate: lr=-0.1 \(it must be >= 0\)"),
    (optim.SGD, {"momentum": -0.9}, r"Invalid momentum value: momentum=-0.9"),
    (optim.SGD, {"weight_decay": -1}, r"Invalid weight_decay value: weight_decay=-1"),
    (optim.SGD, {"nesterov": True}, r"Nesterov momentum requires a momentum and zero dampening, "
                                    r"got momentum=0, dampening=0"),
    (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     r"requires a momentum and zero dampening, got momentum=0.9, dampening=0.1"),
    (optim.Adam, {"lr": math.nan}, r"Invalid learning rate: lr=nan"),
    (optim.Adam, {"eps": -1e-8}, r"Invalid epsilon value: eps=-1e-08"),
    (optim.Adam, {"betas": (1.0, 0.999)}, r"Invalid beta parameter at index 0: betas\[0\]=1.0 "
                                          r"\(it must be in \[0, 1\)\)"),
    (optim.Adam, {"betas": (0.9, -0.1)}, r"Invalid beta parameter at index 1: betas\[1\]=-0.1"),
    (optim.Adam, {"betas": 0.9}, r"Invalid betas: expected a pair \(beta1, beta2\), got 0.9"),
    (optim.Adam, {"weight_decay": -0.1}, r"Invalid weight_decay value: weight_decay=-0.1"),
    (optim.AdamW, {"betas": (0.9, 1.5)}, r"Invalid beta parameter at index 1"),
    (optim.RMSprop, {"alpha": -0.5}, r"Invalid alpha value: alpha=-0.5"),
    (optim.RMSprop, {"momentum": -1}, r"Invalid momentum value: momentum=-1"),
    (optim.RMSprop, {"eps": -1}, r"Invalid epsilon value: eps=-1"),
    (optim.Adagrad, {"lr_decay": -0.1}, r"Invalid lr_decay value: lr_decay=-0.1"),
    (optim.Adagrad, {"initial_accumulator_value": -1},
     r"Invalid initial_accumulator_value value: initial_accumulator_value=-1"),
    (optim.Adagrad, {"eps": -1}, r"Invalid epsilon value: eps=-1"),
    (optim.Adadelta, {"rho": 1.5}, r"Invalid rho value: rho=1.5 \(it must be in \[0, 1\]\)"),
    (optim.Adadelta, {"lr": -1}, r"Invalid learning rate: lr=-1"),
    (optim.Adamax, {"betas": (0.9, 1.0)}, r"Invalid beta parameter at index 1: betas\[1\]=1.0"),
    (optim.Adamax, {"eps": -1}, r"Invalid epsilon value"),
    (optim.NAdam, {"momentum_decay": -4e-3}, r"Invalid momentum_decay value: "
                                             r"momentum_decay=-0.004"),
    (optim.NAdam, {"weight_decay": -1}, r"Invalid weight_decay value"),
]


@pytest.mark.parametrize("cls, options, message", INVALID,
                         ids=[f"{c.__name__}-{next(iter(o))}" for c, o, _ in INVALID])
def test_invalid_options_raise_a_value_error_naming_the_option_and_its_value(cls, options,
                                                                             message):
    with pytest.raises(ValueError, match=message):
        cls(make_params(), **options)


def test_an_option_that_is_not_a_number_is_a_type_error():
    with pytest.raises(TypeError, match="the option lr must be a number, got str"):
        optim.SGD(make_params(), lr="0.1")
