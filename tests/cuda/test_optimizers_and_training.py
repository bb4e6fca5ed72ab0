"""Every optimizer, with every option, updates cuda parameters as it updates cpu ones, and
keeps its state on the parameter's device; checkpoints, gradient clipping and ``fit`` on cuda.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optim
from tests.optim import problem
from tests.optim.test_update_rules import CASES, RICH_CASES, case_id
from tests.training.test_fit import toy  # noqa: F401  (a fixture, used below)
from tapegrad.training import fit, predict

from .on_device import where_it_says

pytestmark = pytest.mark.cuda
STEPS = 10


def loss(w, b):
    """problem.loss, with its data on the parameters' device."""
    x = tg.tensor(problem.X, dtype=w.dtype, device=w.device)
    y = tg.tensor(problem.Y, dtype=w.dtype, device=w.device)
    r = x @ w + b - y
    return (r * r).mean() + 0.1 * (w ** 4).sum()


def make_params(device, dtype=tg.float64):
    return [tg.tensor(v, dtype=dtype, device=device, requires_grad=True)
            for v in (problem.W0, problem.B0)]


def train(optimizer, params, steps):
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss(*params).backward()
        optimizer.step()
        trajectory.append([p.detach().cpu().numpy().copy() for p in params])
    return trajectory


def assert_state_on(optimizer, params):
    for p in params:
        assert p.device.type == "cuda" and where_it_says(p)
        for name, value in optimizer.state[p].items():
            if isinstance(value, tg.Tensor):
                assert value.device == p.device and where_it_says(value), name


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_an_optimizer_steps_cuda_parameters_as_it_steps_cpu_ones(case):
    cls, options = case
    params, gpu_params = make_params("cpu"), make_params("cuda")
    expected = train(cls(params, **options), params, STEPS)
    optimizer = cls(gpu_params, **options)
    got = train(optimizer, gpu_params, STEPS)
    for step, (a, e) in enumerate(zip(got, expected)):
        for x, y in zip(a, e):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")
    assert_state_on(optimizer, gpu_params)


@pytest.mark.parametrize("case", RICH_CASES, ids=case_id)
def test_float32_cuda_parameters_keep_float32_values_and_state(case):
    cls, options = case
    params = make_params("cuda", tg.float32)
    optimizer = cls(params, **options)
    train(optimizer, params, 3)
    assert_state_on(optimizer, params)
    for p in params:
        assert p.dtype is tg.float32
        for value in optimizer.state[p].values():
            if isinstance(value, tg.Tensor) and value.dtype.is_floating_point:
                assert value.dtype is tg.float32


@pytest.mark.parametrize("case", RICH_CASES, ids=case_id)
def test_a_checkpoint_of_a_cuda_optimizer_resumes_on_cuda(case, tmp_path):
    cls, options = case
    params = make_params("cuda")
    uninterrupted = train(cls(params, **options), params, STEPS)

    params = make_params("cuda")
    optimizer = cls(params, **options)
    first_half = train(optimizer, params, STEPS // 2)
    tg.save({"params": [p.detach() for p in params], "optimizer": optimizer.state_dict()},
            tmp_path / "checkpoint.tg")
    checkpoint = tg.load(tmp_path / "checkpoint.tg", map_location="cpu")
    params = [p.to("cuda").requires_grad_() for p in checkpoint["params"]]
    optimizer = cls(params, **options)
    optimizer.load_state_dict(checkpoint["optimizer"])   # state moves to the params' device
    assert_state_on(optimizer, params)
    second_half = train(optimizer, params, STEPS - STEPS // 2)
    for got, want in zip(first_half + second_half, uninterrupted):
        for a, e in zip(got, want):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_steps_cuda_parameters_as_it_steps_cpu_ones(line_search_fn, tmp_path):
    def run(device, steps, optimizer=None, params=None):
        params = params or make_params(device)
        optimizer = optimizer or optim.LBFGS(params, lr=0.5, max_iter=5, history_size=3,
                                             line_search_fn=line_search_fn)

        def closure():
            optimizer.zero_grad()
            value = loss(*params)
            value.backward()
            return value
        for _ in range(steps):
            optimizer.step(closure)
        return optimizer, params

    _, cpu_params = run("cpu", 4)
    optimizer, gpu_params = run("cuda", 2)
    for p in gpu_params:
        state = optimizer.state[p]
        for value in [state.get("d"), state.get("prev_flat_grad"), *state.get("old_dirs", [])]:
            if value is not None:
                assert value.device == p.device and where_it_says(value)
    tg.save(optimizer.state_dict(), tmp_path / "lbfgs.tg")
    resumed = optim.LBFGS(gpu_params, lr=0.5, max_iter=5, history_size=3,
                          line_search_fn=line_search_fn)
    resumed.load_state_dict(tg.load(tmp_path / "lbfgs.tg"))
    run("cuda", 2, resumed, gpu_params)
    for a, e in zip(gpu_params, cpu_params):
        assert where_it_says(a)
        np.testing.assert_allclose(a.detach().cpu().numpy(), e.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_a_learning_rate_schedule_drives_a_cuda_optimizer():
    params = make_params("cuda")
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)
    schedule = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for _ in range(4):
        train(optimizer, params, 1)
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    assert_state_on(optimizer, params)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clipping_the_gradients_of_cuda_parameters(norm_type):
    cpu, gpu = make_params("cpu"), make_params("cuda")
    for params in (cpu, gpu):
        loss(*params).backward()
    total = tg.nn.utils.clip_grad_norm_(cpu, 0.5, norm_type=norm_type)
    total_gpu = tg.nn.utils.clip_grad_norm_(gpu, 0.5, norm_type=norm_type)
    assert total_gpu.device.type == "cuda" and where_it_says(total_gpu)
    np.testing.assert_allclose(total_gpu.item(), total.item(), rtol=1e-12)
    for a, b in zip(gpu, cpu):
        assert a.grad.device.type == "cuda" and where_it_says(a.grad)
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.numpy(), rtol=1e-12)
    tg.nn.utils.clip_grad_value_(gpu, 0.1)
    assert all(where_it_says(p.grad) for p in gpu)


def test_fit_and_predict_on_cuda(toy):  # noqa: F811
    toy.model.to("cuda")
    history = fit(toy.model, toy.train, tg.nn.functional.cross_entropy,
                  optim.SGD(toy.model.parameters(), lr=0.5), 3, val_loader=toy.val,
                  device="cuda", progress=False)
    assert history["loss"][-1] < history["loss"][0]
    predicted = predict(toy.model, toy.x, device="cuda")
    assert predicted.device == tg.device("cuda:0") and where_it_says(predicted)


def test_the_training_metrics_of_cuda_outputs_equal_the_cpu_ones():
    from tapegrad.training import metrics
    scores = np.random.default_rng(4).standard_normal((12, 4))
    labels = np.arange(12) % 4
    for fn in (metrics.accuracy, lambda o, t: metrics.top_k_accuracy(o, t, k=2),
               lambda o, t: metrics.confusion_matrix(o.argmax(dim=1), t, 4),
               lambda o, t: metrics.precision_recall_f1(o.argmax(dim=1), t, 4)):
        cpu = fn(tg.tensor(scores), tg.tensor(labels))
        gpu = fn(tg.tensor(scores, device="cuda"), tg.tensor(labels, device="cuda"))
        assert as_host(gpu) == as_host(cpu)


def as_host(value):
    if isinstance(value, tg.Tensor):
        assert value.device.type == "cpu" or where_it_says(value)
        return value.cpu().tolist()
    if isinstance(value, dict):
        return {k: as_host(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [as_host(v) for v in value]
    return value
