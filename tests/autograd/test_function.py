"""A user's own operation: autograd.Function, and gradcheck on it."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import Function, GradcheckError, gradcheck, gradgradcheck

from ..support import leaf


class ScaledExp(Function):
    """y = k·eˣ;  dy/dx = y"""

    @staticmethod
    def forward(ctx, x, k):
        y = x.exp() * k
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y, None


class WrongExp(Function):
    """A deliberately wrong backward: dy/dx should be eˣ, this says 2."""

    @staticmethod
    def forward(ctx, x):
        return x.exp()

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


class SumAndProduct(Function):
    """Two outputs: (a + b, a·b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b

    @staticmethod
    def backward(ctx, grad_sum, grad_product):
        a, b = ctx.saved_tensors
        return grad_sum + grad_product * b, grad_sum + grad_product * a


def test_a_custom_function_passes_gradcheck_and_gradgradcheck():
    x = leaf(4)
    assert gradcheck(lambda x: ScaledExp.apply(x, 3.0), x)
    assert gradgradcheck(lambda x: ScaledExp.apply(x, 3.0), x)


def test_gradcheck_fails_on_a_wrong_backward_and_shows_both_jacobians():
    x = leaf(3)
    with pytest.raises(GradcheckError, match=r"(?s)worst entry.*numerical.*analytical"):
        gradcheck(WrongExp.apply, x)
    assert gradcheck(WrongExp.apply, x, raise_exception=False) is False


def test_functions_with_several_outputs():
    a, b = leaf(3), leaf(3)
    assert gradcheck(SumAndProduct.apply, (a, b))
    total, product = SumAndProduct.apply(a, b)
    product.sum().backward()   # the unused output's gradient is materialised as zeros
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy())


def test_ctx_knows_which_inputs_need_a_gradient():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            return x * y * k

        @staticmethod
        def backward(ctx, grad):
            seen["needs"] = ctx.needs_input_grad
            return grad, grad, None

    Probe.apply(leaf(2), tg.ones(2, dtype=tg.float64), 2.0).sum().backward()
    assert seen["needs"] == (True, False, False)


def test_forward_is_not_recorded_and_the_output_has_the_functions_node():
    x = leaf(3)
    y = ScaledExp.apply(x, 1.0)
    assert y.grad_fn.name() == "ScaledExpBackward"
    assert [edge[0].name() for edge in y.grad_fn.next_functions if edge[0]] == ["AccumulateGrad"]


def test_non_differentiable_outputs_get_no_grad_fn():
    class ArgmaxAndMax(Function):
        @staticmethod
        def forward(ctx, x):
            index = tg.tensor(float(x.argmax().item()), dtype=tg.float64)
            ctx.mark_non_differentiable(index)
            return x.amax(), index

        @staticmethod
        def backward(ctx, grad, grad_index):
            return grad * tg.ones(3, dtype=tg.float64)

    values, index = ArgmaxAndMax.apply(leaf(3))
    assert values.requires_grad and not index.requires_grad


def test_a_backward_returning_the_wrong_number_of_gradients_is_an_error():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match=r"'TooMany' returned 2 gradients.*1 inputs"):
        TooMany.apply(leaf(2)).sum().backward()


def test_a_backward_returning_a_wrongly_shaped_gradient_is_an_error():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    with pytest.raises(RuntimeError, match=r"'WrongShape'.*shape \(\).*shape \(2,\)"):
        WrongShape.apply(leaf(2)).sum().backward()


def test_in_place_change_of_a_tensor_saved_by_a_function_is_caught():
    x = leaf(3)
    h = x * 1.0
    y = ScaledExp.apply(h, 1.0)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()
