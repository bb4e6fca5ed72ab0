"""The same trajectories and schedules as PyTorch itself (skipped when torch is not installed)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optim
from tapegrad.optim import lr_scheduler

from .problem import B0, W0, X, Y, make_params, train
from .test_update_rules import CASES, STEPS, case_id

torch = pytest.importorskip("torch")


def torch_trajectory(cls_name, options, steps=STEPS):
    params = [torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)]
    x, y = torch.tensor(X), torch.tensor(Y)
    optimizer = getattr(torch.optim, cls_name)(params, **options)
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        w, b = params
        r = x @ w + b - y
        ((r * r).mean() + 0.1 * (w ** 4).sum()).backward()
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, optimizer


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_trajectory_is_pytorchs(case):
    cls, options = case
    params = make_params()
    optimizer = cls(params, **options)
    ours = train(optimizer, params, STEPS)
    # PyTorch keeps NAdam's mu_product in the default dtype (float32 unless changed), which
    # moves its trajectory by ~1e-9; tapegrad keeps it as a Python float (float64).
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        theirs, torch_optimizer = torch_trajectory(cls.__name__, options)
    finally:
        torch.set_default_dtype(previous)
    for step, (got, want) in enumerate(zip(ours, theirs), start=1):
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10, err_msg=f"step {step}")
    ours_state, theirs_state = optimizer.state_dict(), torch_optimizer.state_dict()
    assert set(ours_state["state"]) == set(theirs_state["state"])
    for index, entries in theirs_state["state"].items():
        assert list(ours_state["state"][index]) == list(entries)
    assert ours_state["param_groups"][0]["params"] == theirs_state["param_groups"][0]["params"]
    for key, value in ours_state["param_groups"][0].items():
        assert theirs_state["param_groups"][0][key] == value, key


def lr_sequences(make, steps=15, cls_name="SGD", options=None, groups=1, metrics=None):
    """The lr (and momentum or beta1) of each group after construction and each step, for
    tapegrad and for torch; ``make(module, optimizer)`` builds the scheduler."""
    options = {"lr": 0.1, "momentum": 0.9} if options is None else options
    results = []
    for library, module in ((tg, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        tensors = [library.zeros(2, requires_grad=True) for _ in range(groups)]
        opt_module = optim if library is tg else torch.optim
        optimizer = getattr(opt_module, cls_name)(
            [{"params": [t], "lr": options["lr"] * (i + 1)} for i, t in enumerate(tensors)],
            **{k: v for k, v in options.items() if k != "lr"})
        scheduler = make(module, optimizer)
        seen = []
        for step in range(steps):
            seen.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in optimizer.param_groups])
            optimizer.step()
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[step])
        results.append(seen)
    return results


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=6, eta_min=0.01),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda epoch: 1 / (1 + epoch)),
    "LinearLR": lambda m, o: m.LinearLR(o),
    "LinearLR-down": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=7),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=16),
    "OneCycleLR-linear-3": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], epochs=4,
                                                      steps_per_epoch=4, anneal_strategy="linear",
                                                      three_phase=True, pct_start=0.25),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=3), m.ExponentialLR(o, gamma=0.5),
            m.CosineAnnealingLR(o, T_max=4)], milestones=[4, 9]),
}


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_schedule_is_pytorchs(name):
    ours, theirs = lr_sequences(SCHEDULES[name], groups=2)
    np.testing.assert_allclose(np.array([[g[0] for g in s] for s in ours]),
                               np.array([[g[0] for g in s] for s in theirs]), rtol=1e-12)
    momenta = [g[1] for s in ours for g in s]
    assert momenta == pytest.approx([g[1] for s in theirs for g in s], rel=1e-12)


def test_one_cycle_cycles_adams_beta1_as_pytorch_does():
    make = SCHEDULES["OneCycleLR"]
    ours, theirs = lr_sequences(make, cls_name="Adam", options={"lr": 0.1}, groups=2)
    for a, b in zip(ours, theirs):
        for (lr_a, _, betas_a), (lr_b, _, betas_b) in zip(a, b):
            assert lr_a == pytest.approx(lr_b, rel=1e-12)
            assert betas_a == pytest.approx(tuple(betas_b), rel=1e-12)


@pytest.mark.parametrize("options", [
    {"mode": "min", "patience": 2, "factor": 0.5},
    {"mode": "min", "patience": 1, "cooldown": 2, "threshold": 0.1, "threshold_mode": "abs"},
    {"mode": "max", "patience": 0, "min_lr": [0.02, 0.05], "factor": 0.3},
    {"mode": "max", "patience": 1, "threshold": 0.05, "eps": 0.02},
])
def test_reduce_on_plateau_is_pytorchs(options):
    metrics = [5, 4, 4, 4.1, 3.99, 4, 4, 4, 3, 3, 3, 3, 3.5, 3.5, 3.5, 2, 2, 2, 2, 2]
    make = lambda m, o: m.ReduceLROnPlateau(o, **options)  # noqa: E731
    ours, theirs = lr_sequences(make, steps=20, groups=2, metrics=metrics)
    np.testing.assert_allclose(np.array([[g[0] for g in s] for s in ours]),
                               np.array([[g[0] for g in s] for s in theirs]), rtol=1e-12)


def _to_tapegrad(value):
    """A PyTorch state dict's values in tapegrad: tensors become tapegrad tensors."""
    if isinstance(value, torch.Tensor):
        return tg.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _to_tapegrad(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tapegrad(v) for v in value)
    return value


@pytest.mark.parametrize("case", [(optim.Adam, {"lr": 0.05, "amsgrad": True}),
                                  (optim.SGD, {"lr": 0.05, "momentum": 0.9}),
                                  (optim.RMSprop, {"centered": True, "momentum": 0.5})],
                         ids=case_id)
def test_a_pytorch_state_dict_loads_and_continues_pytorchs_trajectory(case):
    # PyTorch keeps "step" as a 0-d float tensor; loading turns it into tapegrad's int
    cls, options = case
    theirs, torch_optimizer = torch_trajectory(cls.__name__, options, steps=STEPS // 2)
    params = make_params(values=[p.detach().numpy().copy()
                                 for p in torch_optimizer.param_groups[0]["params"]])
    optimizer = cls(params, **options)
    optimizer.load_state_dict(_to_tapegrad(torch_optimizer.state_dict()))
    ours = train(optimizer, params, STEPS - STEPS // 2)
    whole, _ = torch_trajectory(cls.__name__, options)
    for got, want in zip(ours, whole[STEPS // 2:]):
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)
