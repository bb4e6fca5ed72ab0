"""Occlusion on models and on plain numpy functions, and the batched-callable helper."""
import itertools

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain._callable import as_batched_function, select_scores
from tapegrad.explain.occlusion import Occlusion

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
rng = np.random.default_rng(0)


class Counting(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.rows = []

    def forward(self, x):
        self.rows.append(x.shape[0])
        return self.model(x)


def occlusion_by_hand(f, x, window, stride, baseline):
    """Captum's rule, one window at a time: the drop f(x) − f(occluded), averaged over the
    windows covering each element (0 where none does)."""
    shape = x.shape[1:]
    total, count = np.zeros(x.shape), np.zeros(shape)
    starts = [range(0, s - w + 1, st) for s, w, st in zip(shape, window, stride)]
    for corner in itertools.product(*starts):
        where = tuple(slice(c, c + w) for c, w in zip(corner, window))
        occluded = x.copy()
        occluded[(slice(None),) + where] = np.broadcast_to(baseline, x.shape)[(slice(None),)
                                                                             + where]
        drop = f(x) - f(occluded)
        mask = np.zeros(shape)
        mask[where] = 1
        total += drop.reshape((-1,) + (1,) * len(shape)) * mask
        count += mask
    return np.where(count > 0, total / np.maximum(count, 1), 0)


def test_one_by_one_windows_on_a_linear_model_give_w_times_x_minus_baseline():
    w = rng.normal(size=(2, 3))
    x = rng.normal(size=(4, 2, 3))
    f = lambda a: (a * w).sum(axis=(1, 2))
    for baseline in (0.0, 0.5, rng.normal(size=(2, 3)), rng.normal(size=(4, 2, 3))):
        out = Occlusion(f).attribute(x, (1, 1), baselines=baseline)
        assert isinstance(out, np.ndarray) and out.shape == x.shape
        np.testing.assert_allclose(out, w * (x - baseline), rtol=1e-12, atol=1e-14)


def test_a_tapegrad_model_on_tensors_gives_w_times_x_minus_baseline():
    lin = nn.Linear(6, 2).double()
    model = nn.Sequential(nn.Flatten(), lin)
    x = tg.tensor(rng.normal(size=(3, 2, 3)))
    out = Occlusion(model).attribute(x, (1, 1), target=1)
    w = lin.weight.detach().numpy()[1].reshape(2, 3)
    assert isinstance(out, tg.Tensor) and out.dtype == tg.float64
    np.testing.assert_allclose(out.numpy(), w * x.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("window,stride", [((2, 2), (1, 1)), ((2, 3), (2, 1)), ((3, 3), (2, 2)),
                                           ((1, 4), (3, 1)), ((4, 5), (1, 1))])
def test_overlapping_windows_follow_captums_rule_on_a_nonlinear_function(window, stride):
    x = rng.normal(size=(2, 4, 5))
    f = lambda a: np.tanh(a).sum(axis=(1, 2)) + (a[:, 0] * a[:, -1]).sum(axis=1)
    baseline = rng.normal(size=(4, 5))
    out = Occlusion(f).attribute(x, window, strides=stride, baselines=baseline)
    np.testing.assert_allclose(out, occlusion_by_hand(f, x, window, stride, baseline),
                               rtol=1e-10, atol=1e-12)


def test_a_one_dimensional_window_of_two_worked_by_hand():
    # f = x·(1, −2, 3) at (1, 2, 3) = 6; covering features 0,1 with 1 gives 8 (drop −2),
    # covering 1,2 gives 2 (drop 4): feature 1 gets the mean (−2 + 4)/2 = 1.
    f = lambda a: a @ np.array([1.0, -2.0, 3.0])
    out = Occlusion(f).attribute(np.array([[1.0, 2.0, 3.0]]), (2,), baselines=1.0)
    np.testing.assert_allclose(out, [[-2.0, 1.0, 4.0]])


def test_elements_no_window_reaches_get_zero():
    # windows [0, 2) and [2, 4) each drop the sum by 2, credited whole to each element under
    # them; feature 4 is under none
    f = lambda a: a.sum(axis=1)
    out = Occlusion(f).attribute(np.ones((1, 5)), 2, strides=2)
    np.testing.assert_allclose(out, [[2.0, 2.0, 2.0, 2.0, 0.0]])


def test_a_target_per_example_picks_each_examples_output():
    w = rng.normal(size=(3, 4))
    f = lambda a: a @ w.T                                             # (N, 3)
    x = rng.normal(size=(2, 4))
    out = Occlusion(f).attribute(x, (1,), target=[2, 0])
    np.testing.assert_allclose(out, w[[2, 0]] * x, rtol=1e-12)


def test_all_occluded_inputs_are_evaluated_in_batches():
    counting = Counting(nn.Sequential(nn.Flatten(), nn.Linear(9, 1).double()))
    x = tg.tensor(rng.normal(size=(2, 3, 3)))
    Occlusion(counting).attribute(x, (1, 1), internal_batch_size=5)
    # f(x) on the 2 examples, then 9 windows × 2 examples = 18 rows in batches of 5
    assert counting.rows == [2, 5, 5, 5, 3]
    counting.rows.clear()
    Occlusion(counting).attribute(x, (1, 1))
    assert counting.rows == [2, 18]


def test_the_result_does_not_depend_on_the_batch_size():
    f = lambda a: np.sin(a).sum(axis=(1, 2))
    x = rng.normal(size=(3, 4, 4))
    whole = Occlusion(f).attribute(x, (2, 2))
    for size in (1, 4, 7):
        np.testing.assert_allclose(Occlusion(f).attribute(x, (2, 2), internal_batch_size=size),
                                   whole, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_results_keep_the_inputs_device_and_float32(device):
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 2)).to(device)
    x = tg.tensor(rng.normal(size=(2, 2, 4)), dtype=tg.float32, device=device)
    out = Occlusion(model).attribute(x, (1, 2), target=0)
    assert out.dtype == tg.float32 and out.device == x.device and out.shape == (2, 2, 4)


def test_bad_windows_and_strides_are_refused_clearly():
    f = lambda a: a.sum(axis=(1, 2))
    x = np.ones((1, 3, 3))
    with pytest.raises(ValueError, match=r"sliding window \(4, 1\) does not fit"):
        Occlusion(f).attribute(x, (4, 1))
    with pytest.raises(ValueError, match="a tuple of 2 positive ints"):
        Occlusion(f).attribute(x, (1, 1, 1))
    with pytest.raises(ValueError, match="strides must be a positive int"):
        Occlusion(f).attribute(x, (1, 1), strides=0)
    with pytest.raises(ValueError, match=r"inputs must have shape \(N, features...\)"):
        Occlusion(f).attribute(np.ones(3), (1,))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        Occlusion(f).attribute(x, (1, 1), baselines=np.zeros((2, 2)))


# -- the batched-callable helper (_callable.py) ----------------------------------------------------
def test_a_numpy_function_is_called_on_host_arrays_in_batches():
    seen = []

    def f(a):
        seen.append((type(a), a.shape[0]))
        return a.sum(axis=1)

    fn = as_batched_function(f, batch_size=4)
    out = fn(tg.tensor(np.arange(20.0).reshape(10, 2)))
    np.testing.assert_array_equal(out, np.arange(20.0).reshape(10, 2).sum(axis=1))
    assert seen == [(np.ndarray, 4), (np.ndarray, 4), (np.ndarray, 2)] and fn.calls == 3


def test_a_module_gets_tensors_of_its_dtype_without_recording():
    lin = nn.Linear(3, 2)                                             # float32
    seen = []
    lin.register_forward_hook(lambda m, args, out: seen.append((args[0].dtype,
                                                                out.requires_grad)))
    fn = as_batched_function(lin)
    out = fn(np.ones((5, 3)))                                         # float64 rows
    assert isinstance(out, np.ndarray) and out.shape == (5, 2)
    assert seen == [(tg.float32, False)] and fn.takes_tensors


def test_scores_select_the_target_of_each_row():
    fn = as_batched_function(lambda a: np.stack([a.sum(1), a.prod(1)], axis=1), batch_size=2)
    rows = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(fn.scores(rows, 1), [2.0, 12.0, 30.0])
    np.testing.assert_array_equal(fn.scores(rows, [0, 1, 0]), [3.0, 12.0, 11.0])
    np.testing.assert_array_equal(select_scores(np.array([[1.0], [2.0]])), [1.0, 2.0])
    with pytest.raises(ValueError, match="target=None needs one output per example"):
        fn.scores(rows)


def test_a_function_must_return_one_output_per_row():
    fn = as_batched_function(lambda a: a.sum())
    with pytest.raises(ValueError, match=r"returned shape \(\) for a batch of 3 rows"):
        fn(np.ones((3, 2)))
    with pytest.raises(TypeError, match="expected a callable"):
        as_batched_function(5)
