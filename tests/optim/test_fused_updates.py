"""Adam, AdamW, RMSprop and Adagrad on float32 parameters (their one-pass kernels) follow
PyTorch's float32 trajectories to float32 precision, every option on or off.

The gradients are a fixed random sequence set as ``p.grad`` (not computed from the
parameters), so both libraries see exactly the same inputs at every step.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optim

torch = pytest.importorskip("torch")

STEPS = 12
SHAPES = [(48, 33), (33,)]
CASES = [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-4, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "maximize": True, "alpha": 0.9}),
    ("Adagrad", {"lr": 0.05}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.1, "maximize": True}),
]


def case_id(case):
    return case[0] + "(" + ",".join(f"{k}={v}" for k, v in case[1].items()) + ")"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_trajectory_is_pytorchs(case):
    name, options = case
    rng = np.random.default_rng(5)
    starts = [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]
    gradients = [[rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]
                 for _ in range(STEPS)]

    ours = [tg.from_numpy(s.copy()).requires_grad_() for s in starts]
    theirs = [torch.from_numpy(s.copy()).requires_grad_() for s in starts]
    our_optimizer = getattr(optim, name)(ours, **options)
    their_optimizer = getattr(torch.optim, name)(theirs, **options)
    for step, grads in enumerate(gradients, start=1):
        for p, q, g in zip(ours, theirs, grads):
            p.grad = tg.from_numpy(g.copy())
            q.grad = torch.from_numpy(g.copy())
        our_optimizer.step()
        their_optimizer.step()
        for p, q in zip(ours, theirs):
            assert p.dtype is tg.float32
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=2e-6,
                                       atol=2e-6, err_msg=f"{name} step {step}")
    for p, q in zip(ours, theirs):
        for key, value in their_optimizer.state[q].items():
            if key == "step":
                continue
            np.testing.assert_allclose(our_optimizer.state[p][key].numpy(), value.numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=key)
