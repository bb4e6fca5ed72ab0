"""Each scheduler's learning rates, epoch by epoch, against values computed by hand here.

``lrs(scheduler, n)`` reads the groups' lr after construction (epoch 0) and after each of
n − 1 steps, with ``optimizer.step()`` before each ``scheduler.step()`` as in training.
"""
import math
import warnings
from bisect import bisect_right

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optim
from tapegrad.optim import lr_scheduler as S

BASE = 0.1


def make_optimizer(cls=optim.SGD, lrs=(BASE,), **options):
    """An optimizer with one group per lr (one parameter each)."""
    groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **options)


def lrs(scheduler, n=15, group=0):
    optimizer = scheduler.optimizer
    seen = [optimizer.param_groups[group]["lr"]]
    for _ in range(n - 1):
        optimizer.step()
        scheduler.step()
        seen.append(optimizer.param_groups[group]["lr"])
    return seen


def assert_lrs(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


# -- the schedules -----------------------------------------------------------------------------

def test_step_lr_multiplies_by_gamma_every_step_size_epochs():
    scheduler = S.StepLR(make_optimizer(), step_size=3, gamma=0.5)
    assert_lrs(lrs(scheduler), [BASE * 0.5 ** (t // 3) for t in range(15)])


def test_multi_step_lr_multiplies_by_gamma_at_each_milestone_counting_repeats():
    scheduler = S.MultiStepLR(make_optimizer(), milestones=[9, 2, 5, 5], gamma=0.3)
    expected = [BASE * 0.3 ** bisect_right([2, 5, 5, 9], t) for t in range(15)]
    assert expected[4] == pytest.approx(BASE * 0.3) and expected[5] == pytest.approx(BASE * 0.3 ** 3)
    assert_lrs(lrs(scheduler), expected)


def test_exponential_lr_multiplies_by_gamma_every_epoch():
    assert_lrs(lrs(S.ExponentialLR(make_optimizer(), gamma=0.9)), [BASE * 0.9 ** t for t in range(15)])


def test_cosine_annealing_follows_the_cosine_from_the_initial_lr_to_eta_min_and_back():
    T, eta_min = 6, 0.01
    expected = [eta_min + (BASE - eta_min) * (1 + math.cos(math.pi * t / T)) / 2
                for t in range(25)]
    assert expected[6] == pytest.approx(eta_min) and expected[12] == pytest.approx(BASE)
    assert_lrs(lrs(S.CosineAnnealingLR(make_optimizer(), T_max=T, eta_min=eta_min), 25), expected)


def test_cosine_annealing_s_step_by_step_form_agrees_with_its_closed_form():
    scheduler = S.CosineAnnealingLR(make_optimizer(lrs=(0.1, 0.02)), T_max=7, eta_min=0.001)
    for _ in range(30):
        scheduler.optimizer.step()
        scheduler.step()
        assert_lrs(scheduler.get_last_lr(), scheduler._get_closed_form_lr())


def test_lambda_lr_multiplies_the_initial_lr_by_the_function_of_the_epoch():
    scheduler = S.LambdaLR(make_optimizer(), lambda epoch: 1 / (1 + epoch))
    assert_lrs(lrs(scheduler), [BASE / (1 + t) for t in range(15)])


def test_lambda_lr_takes_one_function_per_group():
    scheduler = S.LambdaLR(make_optimizer(lrs=(0.1, 1.0)),
                           [lambda epoch: 0.5 ** epoch, lambda epoch: epoch])
    assert_lrs(lrs(scheduler, group=1), [1.0 * t for t in range(15)])
    assert_lrs([g["lr"] for g in scheduler.optimizer.param_groups], [0.1 * 0.5 ** 14, 14.0])


def test_linear_lr_ramps_the_factor_from_a_third_to_one_over_five_epochs_by_default():
    expected = [BASE * (1 / 3 + (1 - 1 / 3) * min(t, 5) / 5) for t in range(15)]
    assert_lrs(lrs(S.LinearLR(make_optimizer())), expected)


def test_linear_lr_can_decay_to_an_end_factor():
    scheduler = S.LinearLR(make_optimizer(), start_factor=1.0, end_factor=0.25, total_iters=6)
    assert_lrs(lrs(scheduler), [BASE * (1 - 0.75 * min(t, 6) / 6) for t in range(15)])


def test_schedulers_act_on_each_group_from_its_own_initial_lr():
    scheduler = S.StepLR(make_optimizer(lrs=(0.1, 0.02)), step_size=2, gamma=0.1)
    for _ in range(5):
        scheduler.optimizer.step()
        scheduler.step()
    assert_lrs(scheduler.get_last_lr(), [0.1 * 0.01, 0.02 * 0.01])
    assert [g["initial_lr"] for g in scheduler.optimizer.param_groups] == [0.1, 0.02]
    assert scheduler.base_lrs == [0.1, 0.02]


def test_two_schedulers_on_one_optimizer_compose():
    optimizer = make_optimizer()
    first = S.ExponentialLR(optimizer, gamma=0.9)
    second = S.StepLR(optimizer, step_size=2, gamma=0.5)
    for _ in range(6):
        optimizer.step()
        first.step()
        second.step()
    assert_lrs([optimizer.param_groups[0]["lr"]], [BASE * 0.9 ** 6 * 0.5 ** 3])


# -- OneCycleLR --------------------------------------------------------------------------------

def one_cycle_expected(total, max_lr, pct=0.3, div=25.0, final_div=1e4, low=0.85, high=0.95,
                       anneal="cos"):
    def between(start, end, fraction):
        if anneal == "cos":
            return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2
        return start + (end - start) * fraction

    initial = max_lr / div
    peak = pct * total - 1
    lrs, momenta = [], []
    for t in range(total):
        if t <= peak:
            fraction = t / peak
            lrs.append(between(initial, max_lr, fraction))
            momenta.append(between(high, low, fraction))
        else:
            fraction = (t - peak) / (total - 1 - peak)
            lrs.append(between(max_lr, initial / final_div, fraction))
            momenta.append(between(low, high, fraction))
    return lrs, momenta


def test_one_cycle_rises_to_max_lr_then_anneals_to_a_tiny_lr_with_momentum_mirrored():
    optimizer = make_optimizer(momentum=0.9)
    scheduler = S.OneCycleLR(optimizer, max_lr=1.0, total_steps=15)
    seen_lr, seen_momentum = [], []
    for _ in range(15):
        seen_lr.append(optimizer.param_groups[0]["lr"])
        seen_momentum.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        if len(seen_lr) < 15:
            scheduler.step()
    lrs_, momenta = one_cycle_expected(15, 1.0)
    assert_lrs(seen_lr, lrs_)
    assert_lrs(seen_momentum, momenta)
    assert seen_lr[0] == pytest.approx(1.0 / 25) and seen_lr[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert seen_momentum[0] == 0.95


def test_one_cycle_cycles_beta1_for_adam_and_keeps_beta2():
    optimizer = make_optimizer(optim.Adam, betas=(0.9, 0.99))
    scheduler = S.OneCycleLR(optimizer, max_lr=0.5, epochs=2, steps_per_epoch=5,
                             anneal_strategy="linear", base_momentum=0.8, max_momentum=0.9)
    expected_lr, expected_beta1 = one_cycle_expected(10, 0.5, low=0.8, high=0.9,
                                                     anneal="linear")
    for t in range(10):
        group = optimizer.param_groups[0]
        assert group["lr"] == pytest.approx(expected_lr[t], rel=1e-12)
        assert group["betas"] == pytest.approx((expected_beta1[t], 0.99), rel=1e-12)
        optimizer.step()
        if t < 9:
            scheduler.step()


def test_one_cycle_with_three_phases_returns_to_the_initial_lr_before_annihilating():
    scheduler = S.OneCycleLR(make_optimizer(momentum=0.9), max_lr=1.0, total_steps=20,
                             pct_start=0.25, anneal_strategy="linear", three_phase=True)
    seen = lrs(scheduler, 20)
    # phases end at steps 4, 8 and 19
    assert_lrs(seen[:5], np.linspace(0.04, 1.0, 5))
    assert_lrs(seen[4:9], np.linspace(1.0, 0.04, 5))
    assert_lrs(seen[8:], np.linspace(0.04, 0.04 / 1e4, 12))


def test_one_cycle_refuses_to_step_past_total_steps():
    optimizer = make_optimizer(momentum=0.9)
    scheduler = S.OneCycleLR(optimizer, max_lr=1.0, total_steps=3)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    optimizer.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total "
                                         "steps is 3"):
        scheduler.step()


@pytest.mark.parametrize("options, message", [
    ({}, r"either total_steps OR \(epochs AND steps_per_epoch\)"),
    ({"total_steps": 0}, "Expected positive integer total_steps, but got 0"),
    ({"epochs": 2, "steps_per_epoch": 2.5}, "Expected positive integer steps_per_epoch"),
    ({"total_steps": 10, "pct_start": 1.5}, "Expected float between 0 and 1 pct_start"),
    ({"total_steps": 10, "anneal_strategy": "exp"}, "anneal_strategy must be one of 'cos' or "
                                                    "'linear', instead got 'exp'"),
    ({"total_steps": 10, "max_lr": [1.0, 2.0]}, "max_lr must have the same length as "
                                                "optimizer.param_groups"),
])
def test_one_cycle_option_errors(options, message):
    options = {"max_lr": 1.0, **options}
    with pytest.raises(ValueError, match=message):
        S.OneCycleLR(make_optimizer(momentum=0.9), **options)


def test_one_cycle_needs_an_optimizer_with_momentum_to_cycle_it():
    optimizer = make_optimizer(optim.Adagrad)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(optimizer, max_lr=1.0, total_steps=10)
    S.OneCycleLR(optimizer, max_lr=1.0, total_steps=10, cycle_momentum=False)


# -- ReduceLROnPlateau -------------------------------------------------------------------------

def plateau_lrs(metrics, **options):
    optimizer = make_optimizer(lrs=(1.0,))
    scheduler = S.ReduceLROnPlateau(optimizer, **options)
    seen = []
    for metric in metrics:
        optimizer.step()
        scheduler.step(metric)
        seen.append(optimizer.param_groups[0]["lr"])
    return seen, scheduler


def test_plateau_cuts_the_lr_after_patience_epochs_without_improvement():
    # best 9 at epoch 2; epochs 3, 4 are bad (patience 2), the 3rd bad epoch (5) cuts
    seen, scheduler = plateau_lrs([10, 9, 9, 9, 9, 9, 9, 9, 8.5], patience=2, factor=0.5)
    assert seen == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert scheduler.best == 8.5 and scheduler.num_bad_epochs == 0
    assert scheduler.get_last_lr() == [0.25]


def test_plateau_cooldown_ignores_bad_epochs_after_a_cut():
    seen, _ = plateau_lrs([5] + [5] * 9, patience=1, cooldown=2, factor=0.5)
    # cut at epoch 3 (its 2nd bad epoch), 2 cooldown epochs, then bad epochs 6, 7: cut at 7
    assert seen == [1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]


def test_plateau_relative_threshold_needs_a_relative_improvement():
    # improving 10 → 9.5 is not below 10·(1 − 0.1) = 9: a bad epoch
    seen, scheduler = plateau_lrs([10, 9.5, 9.2], patience=1, threshold=0.1, factor=0.5)
    assert seen == [1, 1, 0.5] and scheduler.best == 10


def test_plateau_absolute_threshold_needs_an_absolute_improvement():
    # 9.5 < 10 − 0.1 improves; 9.45 and 9.42 are not below 9.5 − 0.1
    seen, scheduler = plateau_lrs([10, 9.5, 9.45, 9.42], patience=1, threshold=0.1,
                                  threshold_mode="abs", factor=0.5)
    assert seen == [1, 1, 1, 0.5] and scheduler.best == 9.5


def test_plateau_in_max_mode_waits_for_the_metric_to_rise():
    seen, scheduler = plateau_lrs([0.5, 0.6, 0.6, 0.59, 0.7, 0.7], mode="max", patience=1,
                                  factor=0.1)
    assert_lrs(seen, [1, 1, 1, 0.1, 0.1, 0.1])
    assert scheduler.best == 0.7 and scheduler.num_bad_epochs == 1


def test_plateau_never_goes_below_min_lr_and_skips_cuts_smaller_than_eps():
    seen, _ = plateau_lrs([1] * 8, patience=0, factor=0.5, min_lr=0.2)
    assert seen == [1, 0.5, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2]
    seen, _ = plateau_lrs([1] * 4, patience=0, factor=0.5, eps=0.6)  # a cut of 0.5 < eps
    assert seen == [1, 1, 1, 1]


def test_plateau_takes_a_min_lr_per_group():
    optimizer = make_optimizer(lrs=(1.0, 1.0))
    scheduler = S.ReduceLROnPlateau(optimizer, patience=0, factor=0.1, min_lr=[0.5, 0.0])
    for metric in [3, 3, 3]:
        scheduler.step(metric)
    assert_lrs(scheduler.get_last_lr(), [0.5, 0.01])


def test_plateau_accepts_a_one_element_tensor_as_metric():
    optimizer = make_optimizer(lrs=(1.0,))
    scheduler = S.ReduceLROnPlateau(optimizer)
    scheduler.step(tg.tensor(2.5))
    assert scheduler.best == 2.5 and scheduler.last_epoch == 1


@pytest.mark.parametrize("options, message", [
    ({"factor": 1.0}, r"Factor should be < 1.0, got factor=1.0"),
    ({"mode": "lowest"}, "mode 'lowest' is unknown"),
    ({"threshold_mode": "relative"}, "threshold mode 'relative' is unknown"),
    ({"min_lr": [0.1, 0.2]}, "expected 1 min_lrs, got 2"),
])
def test_plateau_option_errors(options, message):
    with pytest.raises(ValueError, match=message):
        S.ReduceLROnPlateau(make_optimizer(), **options)


# -- SequentialLR ------------------------------------------------------------------------------

def test_sequential_lr_switches_scheduler_at_each_milestone():
    optimizer = make_optimizer()
    warmup = S.LinearLR(optimizer, start_factor=0.1, total_iters=3)
    decay = S.ExponentialLR(optimizer, gamma=0.5)
    scheduler = S.SequentialLR(optimizer, [warmup, decay], milestones=[4])
    expected = [BASE * (0.1 + 0.9 * t / 3) for t in range(4)]      # warm-up, epochs 0–3
    expected += [BASE * 0.5 ** (t - 4) for t in range(4, 15)]        # decay from epoch 4
    assert_lrs(lrs(scheduler), expected)
    assert scheduler.get_last_lr() == [optimizer.param_groups[0]["lr"]]


def test_sequential_lr_with_three_schedulers():
    optimizer = make_optimizer()
    schedulers = [S.ExponentialLR(optimizer, gamma=0.5), S.StepLR(optimizer, step_size=2),
                  S.CosineAnnealingLR(optimizer, T_max=4)]
    scheduler = S.SequentialLR(optimizer, schedulers, milestones=[3, 7])
    expected = [BASE * 0.5 ** t for t in range(3)]
    expected += [BASE * 0.1 ** ((t - 3) // 2) for t in range(3, 7)]
    expected += [BASE / 2 * (1 + math.cos(math.pi * (t - 7) / 4)) for t in range(7, 15)]
    assert_lrs(lrs(scheduler), expected)


def test_sequential_lr_errors():
    optimizer = make_optimizer()
    other = make_optimizer()
    first = S.ExponentialLR(optimizer, gamma=0.5)
    with pytest.raises(ValueError, match="number of schedulers 1 and the number of milestones "
                                         "to be equal to 1"):
        S.SequentialLR(optimizer, [first], milestones=[3])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        S.SequentialLR(optimizer, [first, S.ReduceLROnPlateau(optimizer)], milestones=[3])
    with pytest.raises(ValueError, match="same optimizer, but got scheduler StepLR at index 1"):
        S.SequentialLR(optimizer, [first, S.StepLR(other, 2)], milestones=[3])
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.SequentialLR(optimizer, [], milestones=[])


# -- the scheduler machinery -------------------------------------------------------------------

def test_constructing_a_scheduler_sets_initial_lr_and_takes_the_first_step():
    optimizer = make_optimizer(lrs=(0.1, 0.3))
    scheduler = S.LinearLR(optimizer, start_factor=0.5)
    assert scheduler.last_epoch == 0
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.3]
    assert_lrs(scheduler.get_last_lr(), [0.05, 0.15])


def test_resuming_with_last_epoch_needs_initial_lr_in_the_groups():
    with pytest.raises(KeyError, match=r"initial_lr' is not specified in param_groups\[0\]"):
        S.StepLR(make_optimizer(), step_size=2, last_epoch=5)


def test_a_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.StepLR([tg.zeros(2)], step_size=2)


@pytest.mark.parametrize("make, message", [
    (lambda o: S.StepLR(o, step_size=0), "Expected positive integer step_size, but got 0"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), "Expected positive integer T_max"),
    (lambda o: S.LinearLR(o, start_factor=0), "Starting multiplicative factor expected to be "
                                              "greater than 0"),
    (lambda o: S.LinearLR(o, end_factor=1.5), "Ending multiplicative factor expected to be "
                                              "between 0 and 1, got end_factor=1.5"),
    (lambda o: S.LambdaLR(o, [lambda e: 1, lambda e: 2]), "Expected 1 lr_lambdas, but got 2"),
])
def test_scheduler_option_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make(make_optimizer())


def test_stepping_the_scheduler_before_the_optimizer_warns():
    scheduler = S.StepLR(make_optimizer(), step_size=2)
    with pytest.warns(UserWarning, match=r"`lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        scheduler.step()


def test_stepping_in_the_right_order_does_not_warn():
    scheduler = S.StepLR(make_optimizer(), step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs(scheduler, 4)


def test_step_with_an_epoch_uses_the_closed_form_and_warns():
    scheduler = S.StepLR(make_optimizer(), step_size=3, gamma=0.5)
    scheduler.optimizer.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        scheduler.step(7)
    assert scheduler.last_epoch == 7
    assert_lrs(scheduler.get_last_lr(), [BASE * 0.25])


SAVED = [
    lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9]),
    lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
    lambda o: S.LinearLR(o, total_iters=8),
    lambda o: S.LambdaLR(o, lambda epoch: 0.9 ** epoch),
    lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20),
    lambda o: S.SequentialLR(o, [S.LinearLR(o, total_iters=4), S.ExponentialLR(o, 0.8)], [5]),
]


@pytest.mark.parametrize("make", SAVED, ids=["StepLR", "MultiStepLR", "CosineAnnealingLR",
                                             "LinearLR", "LambdaLR", "OneCycleLR",
                                             "SequentialLR"])
def test_a_saved_and_loaded_scheduler_continues_the_same_schedule(make, tmp_path):
    whole = lrs(make(make_optimizer(momentum=0.9)), 18)

    optimizer = make_optimizer(momentum=0.9)
    scheduler = make(optimizer)
    first = lrs(scheduler, 7)
    tg.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
            tmp_path / "checkpoint.tg")
    checkpoint = tg.load(tmp_path / "checkpoint.tg")

    optimizer = make_optimizer(momentum=0.9)
    scheduler = make(optimizer)
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    rest = lrs(scheduler, 12)
    assert first + rest[1:] == whole


def test_a_saved_plateau_scheduler_continues_its_counts(tmp_path):
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3]
    whole, _ = plateau_lrs(metrics, patience=1, cooldown=1, factor=0.5)

    optimizer = make_optimizer(lrs=(1.0,))
    scheduler = S.ReduceLROnPlateau(optimizer, patience=1, cooldown=1, factor=0.5)
    first = []
    for metric in metrics[:4]:
        scheduler.step(metric)
        first.append(optimizer.param_groups[0]["lr"])
    tg.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
            tmp_path / "checkpoint.tg")
    checkpoint = tg.load(tmp_path / "checkpoint.tg")
    assert checkpoint["scheduler"]["mode_worse"] == math.inf

    optimizer = make_optimizer(lrs=(1.0,))
    scheduler = S.ReduceLROnPlateau(optimizer)
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    rest = []
    for metric in metrics[4:]:
        scheduler.step(metric)
        rest.append(optimizer.param_groups[0]["lr"])
    assert first + rest == whole


def test_lambda_lr_saves_the_attributes_of_a_callable_object_but_not_a_function():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    scheduler = S.LambdaLR(make_optimizer(lrs=(0.1, 0.1)), [Warmup(4), lambda epoch: 1.0])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None] and "optimizer" not in state
    state["lr_lambdas"][0]["steps"] = 10
    scheduler.load_state_dict(state)
    assert scheduler.lr_lambdas[0].steps == 10
