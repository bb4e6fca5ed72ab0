"""A Node keeps exactly what its backward reads: saved values (version-checked), shapes and
constants; never an input tensor by closure. So an unneeded input can be freed, and an
in-place change of anything backward reads is caught instead of giving a wrong gradient."""
import gc
import types
import weakref

import pytest

import tapegrad as tg
from tapegrad.autograd import ops


def _input_is_freed(make_output):
    """True when the operand ``make_output`` got can be garbage-collected while the output lives."""
    operand = tg.randn(3, 4)
    alive = weakref.ref(operand)
    output = make_output(operand)
    del operand
    gc.collect()
    freed = alive() is None
    del output
    return freed


weight = tg.randn(3, 4, requires_grad=True)


@pytest.mark.parametrize("make_output", [
    lambda c: weight + c, lambda c: c - weight, lambda c: c * 2 + weight,
    lambda c: tg.where(c > 0, weight, 0.0), lambda c: tg.cat([weight, c]),
], ids=["add", "sub", "add a product", "where", "cat"])
def test_an_input_that_does_not_require_grad_is_not_kept_alive_by_the_tape(make_output):
    assert _input_is_freed(make_output)


def test_a_setitem_value_is_not_kept_alive_by_the_tape():
    def assign(value):
        x = weight * 1
        x[0] = value[0]
        return x
    assert _input_is_freed(assign)


def test_no_backward_closure_captures_an_input_tensor():
    # The closures may capture shapes, dims, devices, array modules and numbers; these names
    # are the ones the operations use for their input tensors.
    tensor_names = {"x", "y", "input", "other", "tensors", "v", "condition", "operands"}
    for op in ops.OPERATIONS.values():
        for constant in op.function.__code__.co_consts:
            if isinstance(constant, types.CodeType) and constant.co_name == "backward":
                captured = set(constant.co_freevars) & tensor_names
                assert not captured, f"{op.name}'s backward captures {captured}"


def test_changing_the_where_mask_in_place_before_backward_is_caught():
    x = tg.randn(4, requires_grad=True)
    mask = tg.tensor([True, False, True, False])
    y = tg.where(mask, x, 0.0).sum()
    mask.logical_not_() if hasattr(mask, "logical_not_") else mask.copy_(~mask)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_the_indices_of_max_along_a_dim_are_checked_before_backward_reads_them():
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    indices.zero_()
    with pytest.raises(RuntimeError, match="in-place"):
        values.sum().backward()


def test_the_indices_of_max_left_alone_give_the_gradient_at_the_maximum():
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]] and indices.tolist() == [1, 0]


def test_a_node_has_no_instance_dict():
    y = tg.randn(2, requires_grad=True).exp()
    assert not hasattr(y.grad_fn, "__dict__")
    with pytest.raises(AttributeError):
        y.grad_fn.anything = 1


def test_a_custom_function_ctx_still_takes_attributes():
    class Scale(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, factor):
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.factor, None

    x = tg.randn(3, requires_grad=True)
    Scale.apply(x, 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
