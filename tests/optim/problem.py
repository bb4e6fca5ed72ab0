"""The fixed problem the optimizer tests train on, and a loop that records the trajectory.

Two parameter tensors, w (3×2) and b (2,), and a smooth non-quadratic loss
    L(w, b) = mean((X·w + b − Y)²) + 0.1·Σ w⁴,
whose gradient is computed by tapegrad's autograd in ``train`` and written out in numpy in
``numpy_gradients`` for the reference rules.
"""
import numpy as np

import tapegrad as tg

_rng = np.random.default_rng(20240601)
X = _rng.normal(size=(8, 3))
Y = _rng.normal(size=(8, 2))
W0 = _rng.normal(size=(3, 2))
B0 = _rng.normal(size=(2,))


def loss(w, b):
    x, y = tg.tensor(X, dtype=w.dtype), tg.tensor(Y, dtype=w.dtype)
    r = x @ w + b - y
    return (r * r).mean() + 0.1 * (w ** 4).sum()


def numpy_gradients(w, b):
    r = X @ w + b - Y
    return [2 / r.size * X.T @ r + 0.4 * w ** 3, 2 / r.size * r.sum(axis=0)]


def make_params(dtype=tg.float64, values=(W0, B0)):
    return [tg.tensor(v, dtype=dtype, requires_grad=True) for v in values]


def train(optimizer, params, steps):
    """``steps`` optimizer steps on the problem; the parameters' values after each step."""
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss(*params).backward()
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory
