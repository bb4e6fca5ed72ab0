"""Anomaly mode finds the first NaN or infinity, and names the user's line."""
import pytest

import tapegrad as tg
from tapegrad import autograd


@pytest.fixture(autouse=True)
def anomaly_mode_off_afterwards():
    yield
    autograd.set_detect_anomaly(False)


def this_line_contains(text):
    import inspect
    return inspect.currentframe().f_back.f_lineno, text


def test_a_planted_log_of_zero_in_the_forward_names_the_op_the_line_and_the_inputs():
    x = tg.tensor([1.0, 0.0, 2.0], requires_grad=True)
    with autograd.detect_anomaly():
        h = x * 2
        with pytest.raises(autograd.AnomalyError) as caught:
            h.log()  # the planted log(0)
    message = str(caught.value)
    assert "'log' produced NaN or infinity from finite inputs" in message
    assert "h.log()  # the planted log(0)" in message and "test_anomaly.py" in message
    assert "input 0: shape (3,), float32, values in [0, 4]" in message


def test_a_nan_that_came_in_from_outside_is_not_blamed_on_the_next_op():
    x = tg.tensor([float("nan"), 1.0])
    with autograd.detect_anomaly():
        y = x * 2   # nan in, nan out: not this op's fault
    assert y.shape == (2,)


class NaNInBackward(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        zero = grad * 0
        return zero / zero  # the planted NaN


def test_a_planted_nan_in_a_custom_backward_names_that_line_and_the_forward_line():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = NaNInBackward.apply(x)  # created here
        with pytest.raises(autograd.AnomalyError) as caught:
            y.sum().backward()
    message = str(caught.value)
    assert "return zero / zero  # the planted NaN" in message
    assert "backward of 'NaNInBackward'" in message and "y = NaNInBackward.apply(x)" in message


def test_a_backward_returning_nan_directly_is_named_with_its_forward_line():
    class ReturnsNaN(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return tg.full(tuple(grad.shape), float("nan"))

    x = tg.ones(2, requires_grad=True)
    with autograd.detect_anomaly():
        y = ReturnsNaN.apply(x)  # the forward line
        with pytest.raises(autograd.AnomalyError,
                           match=r"(?s)backward of 'ReturnsNaN'.*input 0.*y = ReturnsNaN\.apply"):
            y.sum().backward()


def test_without_anomaly_mode_nothing_is_checked_and_no_line_is_kept():
    x = tg.tensor([0.0], requires_grad=True)
    y = x.log()   # -inf, silently (as in PyTorch)
    assert y.grad_fn.anomaly_trace is None


def test_set_detect_anomaly_switches_it_on_and_off():
    autograd.set_detect_anomaly(True)
    assert autograd.is_anomaly_enabled()
    autograd.set_detect_anomaly(False)
    assert not autograd.is_anomaly_enabled()


def test_the_in_place_error_names_both_lines_in_anomaly_mode():
    autograd.set_detect_anomaly(True)
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = a.exp()  # saves its output
    b.add_(1)  # changes it
    with pytest.raises(RuntimeError) as caught:
        b.sum().backward()
    message = str(caught.value)
    assert "saved by 'exp' at version 0" in message and "changed by 'add_' to version 1" in message
    assert "b = a.exp()  # saves its output" in message
    assert "b.add_(1)  # changes it" in message


def test_the_in_place_error_without_anomaly_mode_says_how_to_see_the_lines():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = a.exp()
    b.mul_(3)
    with pytest.raises(RuntimeError, match=r"(?s)'exp'.*'mul_'.*set_detect_anomaly\(True\)"):
        b.sum().backward()
