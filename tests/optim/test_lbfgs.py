"""LBFGS: PyTorch's trajectory (fixed steps and strong Wolfe line search), convergence on a
quadratic, checkpoints that resume the same trajectory, and its errors."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn, optim

rng = np.random.default_rng(7)


def rosenbrock(xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def closure_for(optimizer, loss_fn, *args):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(*args)
        loss.backward()
        return loss
    return closure


# -- without PyTorch -------------------------------------------------------------------------------
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_converges_to_the_minimum_of_a_quadratic(line_search_fn):
    # f(x) = ½ xᵀAx − bᵀx, A symmetric positive definite: the minimum is A⁻¹b.
    m = rng.normal(size=(6, 6))
    a, b = m @ m.T + 6 * np.eye(6), rng.normal(size=6)
    A, B = tg.tensor(a), tg.tensor(b)
    x = tg.zeros(6, dtype=tg.float64, requires_grad=True)
    # (Tolerances tightened: by default it stops once the loss changes by less than 1e-9.)
    opt = optim.LBFGS([x], lr=1 if line_search_fn else 0.1, max_iter=100,
                      tolerance_grad=1e-12, tolerance_change=1e-15,
                      line_search_fn=line_search_fn)
    closure = closure_for(opt, lambda: 0.5 * (x @ (A @ x)) - B @ x)
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), np.linalg.solve(a, b), atol=1e-7)


def test_strong_wolfe_solves_rosenbrock_from_the_usual_start():
    xy = tg.tensor([-1.5, 2.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([xy], line_search_fn="strong_wolfe", max_iter=100)
    opt.step(closure_for(opt, rosenbrock, xy))
    np.testing.assert_allclose(xy.detach().numpy(), [1.0, 1.0], atol=1e-5)
    state = opt.state[xy]
    assert state["n_iter"] <= 100 and state["func_evals"] <= 125


def test_the_first_step_is_scaled_by_the_gradients_l1_norm():
    # One iteration without a line search: θ ← θ − min(1, 1/‖g‖₁)·lr·g.
    x = tg.tensor([3.0, -4.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([x], lr=0.5, max_iter=1)
    loss = opt.step(closure_for(opt, lambda: (x * x).sum()))
    g = np.array([6.0, -8.0])
    np.testing.assert_allclose(x.detach().numpy(), [3.0, -4.0] - 0.5 / 14 * g)
    assert loss.item() == 25.0     # the loss of the first evaluation
    assert opt.state[x]["func_evals"] == 1 and opt.state[x]["n_iter"] == 1


def test_a_point_that_is_already_optimal_is_left_alone():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([x])
    opt.step(closure_for(opt, lambda: ((x - tg.tensor([1.0, 2.0], dtype=tg.float64)) ** 2)
                         .sum()))
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])
    assert opt.state[x]["n_iter"] == 0


def test_parameters_without_gradient_count_as_zero_gradient():
    x = tg.tensor([2.0], dtype=tg.float64, requires_grad=True)
    unused = tg.tensor([5.0, 6.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([x, unused], line_search_fn="strong_wolfe")
    opt.step(closure_for(opt, lambda: ((x - 1) ** 2).sum()))
    np.testing.assert_allclose(x.detach().numpy(), [1.0], atol=1e-7)
    np.testing.assert_array_equal(unused.detach().numpy(), [5.0, 6.0])
    assert opt.state[x]["d"].shape == (3,)     # one flat vector over both parameters


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_float32_parameters_keep_a_float32_memory(line_search_fn):
    xy = tg.tensor([-1.2, 1.0], requires_grad=True)
    opt = optim.LBFGS([xy], lr=0.1, max_iter=5, line_search_fn=line_search_fn)
    for _ in range(2):
        opt.step(closure_for(opt, rosenbrock, xy))
    state = opt.state[xy]
    assert xy.dtype is tg.float32 and state["n_iter"] >= 2 and state["old_dirs"]
    for value in [state["d"], state["prev_flat_grad"], *state["old_dirs"], *state["old_stps"]]:
        assert value.dtype is tg.float32


def test_the_step_bumps_the_parameters_version():
    x = tg.tensor([2.0], dtype=tg.float64, requires_grad=True)
    y = x * x     # saves x for its backward
    opt = optim.LBFGS([x], max_iter=2)
    opt.step(closure_for(opt, lambda: (x ** 2).sum()))
    with pytest.raises(RuntimeError):
        y.sum().backward()     # x changed in place since it was saved


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_a_checkpoint_resumes_the_same_trajectory(line_search_fn, tmp_path):
    def fresh():
        xy = tg.tensor([-1.2, 1.0], dtype=tg.float64, requires_grad=True)
        opt = optim.LBFGS([xy], max_iter=4, history_size=3, line_search_fn=line_search_fn)
        return xy, opt, closure_for(opt, rosenbrock, xy)

    xy, opt, closure = fresh()
    for _ in range(4):
        opt.step(closure)
    straight = xy.detach().numpy().copy()

    xy, opt, closure = fresh()
    for _ in range(2):
        opt.step(closure)
    tg.save({"x": xy.detach(), "opt": opt.state_dict()}, tmp_path / "ckpt.tg")
    saved = tg.load(tmp_path / "ckpt.tg")
    xy2, opt2, closure2 = fresh()
    with tg.no_grad():
        xy2.copy_(saved["x"])
    opt2.load_state_dict(saved["opt"])
    assert set(opt2.state[xy2]) == set(opt.state[xy])
    for _ in range(2):
        opt2.step(closure2)
    np.testing.assert_allclose(xy2.detach().numpy(), straight, rtol=1e-12)


def test_errors_name_the_problem():
    x = tg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [x]}, {"params": [tg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported.*'armijo'"):
        optim.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(ValueError, match="Invalid learning rate: lr=-1"):
        optim.LBFGS([x], lr=-1)
    with pytest.raises(ValueError, match="history_size must be a positive int, got 0"):
        optim.LBFGS([x], history_size=0)
    opt = optim.LBFGS([x])
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step()
    assert opt.defaults["max_eval"] == 25 and optim.LBFGS([x], max_iter=8).defaults[
        "max_eval"] == 10


# -- against PyTorch -------------------------------------------------------------------------------
def _torch_closure(torch_opt, loss_fn, *args):
    def closure():
        torch_opt.zero_grad()
        loss = loss_fn(*args)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("options", [{}, {"max_iter": 5, "history_size": 2, "lr": 0.8}])
def test_the_rosenbrock_trajectory_is_pytorchs(line_search_fn, options):
    torch = pytest.importorskip("torch")
    start = [-1.5, 2.0]
    if line_search_fn is None and not options:
        options = {"lr": 0.05}     # fixed steps of size 1 leave Rosenbrock's valley at once
    xy = tg.tensor(start, dtype=tg.float64, requires_grad=True)
    ref = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = optim.LBFGS([xy], line_search_fn=line_search_fn, **options)
    ref_opt = torch.optim.LBFGS([ref], line_search_fn=line_search_fn, **options)
    closure = closure_for(opt, rosenbrock, xy)
    ref_closure = _torch_closure(ref_opt, rosenbrock, ref)
    for _ in range(4):
        loss, ref_loss = opt.step(closure), ref_opt.step(ref_closure)
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(xy.detach().numpy(), ref.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)
        state, ref_state = opt.state[xy], ref_opt.state[ref]
        assert state["func_evals"] == ref_state["func_evals"]
        assert state["n_iter"] == ref_state["n_iter"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_a_small_mlp_least_squares_trajectory_is_pytorchs(line_search_fn):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    data = np.random.default_rng(0)
    x, y = data.normal(size=(16, 3)), data.normal(size=(16, 1))
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    ref_model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                                    torch.nn.Linear(5, 1)).double()
    model.load_state_dict({k: v.detach().numpy() for k, v in ref_model.state_dict().items()})
    options = {"lr": 1 if line_search_fn else 0.5, "max_iter": 10, "history_size": 4,
               "line_search_fn": line_search_fn}
    opt = optim.LBFGS(model.parameters(), **options)
    ref_opt = torch.optim.LBFGS(ref_model.parameters(), **options)
    X, Y = tg.tensor(x), tg.tensor(y)
    rX, rY = torch.from_numpy(x), torch.from_numpy(y)
    closure = closure_for(opt, lambda: ((model(X) - Y) ** 2).mean())
    ref_closure = _torch_closure(ref_opt, lambda: ((ref_model(rX) - rY) ** 2).mean())
    for _ in range(3):
        loss, ref_loss = opt.step(closure), ref_opt.step(ref_closure)
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-9)
        # 30 iterations of a non-convex problem amplify last-bit differences a little.
        for (key, p), p_ref in zip(model.named_parameters(), ref_model.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), p_ref.detach().numpy(), rtol=1e-7,
                                       atol=1e-8, err_msg=key)
    assert opt.state[model[0].weight]["func_evals"] == ref_opt.state[ref_model[0].weight][
        "func_evals"]
