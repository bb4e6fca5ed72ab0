"""numpy's floating-point warnings do not reach users where PyTorch is silent
(tapegrad/autograd/quiet.py): log of 0, division by zero, exp overflowing, sqrt of a
negative number, the mean of nothing, and the backward passes through them.
"""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg

SILENT_IN_PYTORCH = {
    "log of 0 and of a negative number": lambda: tg.log(tg.tensor([0.0, -1.0])),
    "log1p of -1": lambda: tg.log1p(tg.tensor([-1.0])),
    "log2 and log10 of 0": lambda: (tg.log2(tg.tensor([0.0])), tg.log10(tg.tensor([0.0]))),
    "division by zero": lambda: tg.tensor([1.0, 0.0]) / tg.tensor([0.0, 0.0]),
    "a number divided by zero": lambda: 1 / tg.tensor([0.0]),
    "division by the number zero": lambda: tg.tensor([1.0]) / 0,
    "remainder and floor division by zero": lambda: (tg.tensor([1.0]) % 0.0,
                                                     tg.tensor([1.0]) // 0.0),
    "exp overflowing": lambda: (tg.exp(tg.tensor([1000.0])), tg.expm1(tg.tensor([1000.0])),
                                tg.exp2(tg.tensor([1000.0]))),
    "sqrt and rsqrt of negatives and 0": lambda: (tg.sqrt(tg.tensor([-1.0])),
                                                  tg.rsqrt(tg.tensor([0.0, -1.0]))),
    "powers at 0 and overflowing": lambda: (tg.tensor([0.0, -1.0]) ** -0.5,
                                            tg.tensor([0.0]) ** tg.tensor([-1.0]),
                                            10.0 ** tg.tensor([1000.0])),
    "reciprocal of 0": lambda: tg.reciprocal(tg.tensor([0.0])),
    "mean of nothing": lambda: tg.tensor([]).mean(),
    "inverse trigonometric functions outside their domain": lambda: (
        tg.asin(tg.tensor([2.0])), tg.atanh(tg.tensor([1.0]))),
    "a product overflowing": lambda: tg.tensor([1e30, 1e30]).prod(),
    "backward of sqrt at 0": lambda: tg.sqrt(tg.tensor([0.0], requires_grad=True)).sum().backward(),
    "backward of log at 0": lambda: tg.log(tg.tensor([0.0], requires_grad=True)).sum().backward(),
    "backward of 1/x at 0": lambda: (1 / tg.tensor([0.0], requires_grad=True)).sum().backward(),
    "backward of a norm at 0": lambda: (
        (tg.zeros(3, requires_grad=True) ** 2).sum().sqrt().backward()),
    "autograd.grad through division by 0": lambda: tg.autograd.grad(
        (tg.tensor([1.0]) / tg.tensor([0.0], requires_grad=True)).sum(),
        [tg.tensor([0.0], requires_grad=True)], allow_unused=True),
}


@pytest.mark.parametrize("name", SILENT_IN_PYTORCH)
def test_no_runtime_warning(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SILENT_IN_PYTORCH[name]()
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not runtime, f"{name}: {runtime}"


def test_the_results_are_still_inf_and_nan():
    assert tg.log(tg.tensor([0.0])).item() == -math.inf
    assert math.isnan(tg.sqrt(tg.tensor([-1.0])).item())
    assert (tg.tensor([1.0]) / 0).item() == math.inf
    assert math.isnan(tg.tensor([]).mean().item())
    x = tg.tensor([0.0], requires_grad=True)
    tg.sqrt(x).sum().backward()
    assert x.grad.item() == math.inf


def test_numpy_warns_as_before_outside_tapegrad():
    # the silence is local to tapegrad's own computations, not a global numpy setting
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tg.log(tg.tensor([0.0]))
        np.log(np.zeros(1))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_the_same_operations_are_silent_in_pytorch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.log(torch.tensor([0.0, -1.0]))
        torch.tensor([1.0]) / 0
        torch.exp(torch.tensor([1000.0]))
        torch.sqrt(torch.tensor([-1.0]))
        torch.tensor([]).mean()
        x = torch.tensor([0.0], requires_grad=True)
        torch.sqrt(x).sum().backward()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
