"""PyTorch's answers at the edges: infinite gradients, ties, constant inputs, bool and
integer dtypes, and the errors PyTorch raises. Expected values are PyTorch 2.13's,
written out; where torch is importable the same calls are compared with it too."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.gradcheck import gradcheck

INF = math.inf


def grad_of(function, values, dtype=tg.float32):
    x = tg.tensor(values, dtype=dtype, requires_grad=True)
    y = function(x)
    (y.sum() if y.ndim else y).backward()
    return x.grad.tolist()


# -- an infinite incoming gradient meets a derivative of 0: the gradient is 0 -----------------
ZERO_DERIVATIVE_UNDER_SQRT = {   # each f(x) is 0 at x, so sqrt sends back an infinite gradient
    "relu": (lambda x: x.relu().sqrt(), [-1.0, 4.0], [0.0, 0.25]),
    "clamp(min=)": (lambda x: x.clamp(min=0).sqrt(), [-1.0, 4.0], [0.0, 0.25]),
    "maximum": (lambda x: tg.maximum(x, tg.tensor(0.0)).sqrt(), [-1.0, 4.0], [0.0, 0.25]),
    "minimum": (lambda x: tg.minimum(-x, tg.tensor(0.0)).neg().sqrt(), [-1.0, 4.0], [0.0, 0.25]),
    "max": (lambda x: x.max().sqrt(), [-1.0, 0.0], [0.0, INF]),
    "min": (lambda x: x.neg().min().neg().sqrt(), [-1.0, 0.0], [0.0, INF]),
    "pow(x, 0)": (lambda x: (x.pow(0) - 1).sqrt(), [2.0], [0.0]),
    "cumsum": (lambda x: tg.cumsum(x, 0).sqrt(), [0.0, 1.0], [INF, 0.5]),
}


@pytest.mark.parametrize("name", ZERO_DERIVATIVE_UNDER_SQRT)
def test_an_infinite_gradient_times_a_zero_derivative_is_zero(name):
    function, values, expected = ZERO_DERIVATIVE_UNDER_SQRT[name]
    assert grad_of(function, values) == expected


def test_relu_backward_of_a_large_tensor_keeps_infinities_out_of_the_zero_region():
    x = tg.tensor(np.linspace(-1, 1, 1000, dtype=np.float32), requires_grad=True)
    x.relu().backward(tg.full((1000,), INF))
    grad = x.grad.numpy()
    assert (grad[:500] == 0).all() and (grad[500:] == INF).all()


def test_relu_backward_of_a_transposed_gradient_matches_the_contiguous_one():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    g = tg.tensor(np.random.default_rng(1).standard_normal((4, 3))).t()
    x.relu().backward(g)
    assert np.array_equal(x.grad.numpy(), np.where(x.detach().numpy() > 0, g.numpy(), 0))


def test_prod_with_a_zero_and_an_overflowing_rest_in_float32():
    assert grad_of(lambda x: x.prod(), [1e30, 1e30, 0.0]) == [0.0, 0.0, INF]


# -- std -------------------------------------------------------------------------------------
def test_std_of_constant_values_has_gradient_zero():
    assert grad_of(lambda x: x.std(), [2.0, 2.0, 2.0]) == [0.0, 0.0, 0.0]
    assert grad_of(lambda x: x.std(correction=0), [2.0]) == [0.0]


def test_std_of_one_value_with_bessels_correction_is_nan_and_so_is_its_gradient():
    assert math.isnan(grad_of(lambda x: x.std(), [2.0])[0])   # PyTorch: NaN too


def test_std_gradcheck_still_holds_away_from_constants():
    x = tg.tensor([[0.3, -1.2, 2.0], [0.5, 0.7, -0.1]], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda t: t.std(1), (x,))


# -- ties ------------------------------------------------------------------------------------
def test_median_of_all_elements_shares_its_gradient_among_ties():
    assert grad_of(lambda x: x.median(), [1.0, 1.0, 3.0, 3.0]) == [0.5, 0.5, 0.0, 0.0]


def test_median_along_a_dim_sends_its_gradient_to_the_returned_index():
    assert grad_of(lambda x: x.median(0).values, [1.0, 1.0, 3.0, 3.0]) == [0.0, 1.0, 0.0, 0.0]


def test_median_of_all_elements_gradchecks_without_ties():
    x = tg.tensor([[0.3, -1.2, 2.0], [0.5, 0.7, -0.1]], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda t: t.median(), (x,))


def test_median_of_an_empty_tensor_requires_grad_when_its_input_does():
    y = tg.median(tg.tensor([], requires_grad=True))
    assert y.requires_grad and math.isnan(y.item())


def test_clamp_at_a_tensor_bound_gives_the_gradient_to_the_input():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    low = tg.tensor(1.0, requires_grad=True)
    x.clamp(min=low).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and low.grad.item() == 0.0


def test_clamp_with_tensor_bounds_gradchecks():
    x = tg.tensor([-2.0, -0.3, 0.4, 2.5], dtype=tg.float64, requires_grad=True)
    low = tg.tensor(-1.0, dtype=tg.float64, requires_grad=True)
    high = tg.tensor([1.0, 1.0, 1.0, 2.0], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a, b, c: a.clamp(b, c), (x, low, high))


# -- values ------------------------------------------------------------------------------------
def test_sign_of_nan_is_zero_and_sign_of_bool_is_itself():
    assert tg.sign(tg.tensor([math.nan, -2.0, 3.0])).tolist() == [0.0, -1.0, 1.0]
    y = tg.sign(tg.tensor([True, False]))
    assert y.dtype is tg.bool and y.tolist() == [True, False]


def test_integer_pow_with_a_negative_exponent_entry_truncates():
    y = tg.pow(tg.tensor([2, 3, -1, 1, -1]), tg.tensor([-1, 2, -3, -2, -2]))
    assert y.tolist() == [0, 9, -1, 1, 1]


def test_unflatten_of_an_empty_tensor_infers_minus_one_from_the_dim():
    assert tuple(tg.zeros(2, 0, 3).unflatten(-1, (3, -1)).shape) == (2, 0, 3, 1)


# -- dtypes ------------------------------------------------------------------------------------
def test_result_dtypes_follow_pytorch():
    assert tg.tensor([True, False]).clamp(-1, 2).dtype is tg.int64
    assert tg.pow(tg.tensor([True]), 3).dtype is tg.int64
    both = tg.add(tg.tensor([True]), tg.tensor([True]), alpha=2)
    assert both.dtype is tg.bool and both.tolist() == [True]
    assert tg.outer(tg.ones(2), tg.ones(2, dtype=tg.int64)).dtype is tg.float32
    assert tg.outer(tg.ones(2, dtype=tg.float64), tg.ones(2)).dtype is tg.float64


# -- errors where PyTorch raises ----------------------------------------------------------------
REFUSED = {
    "integer % 0": (lambda: tg.tensor([1, 2]) % tg.tensor([0, 1]), "division by zero"),
    "floor division by 0": (lambda: tg.div(tg.tensor([1, 2]), tg.tensor([0, 1]),
                                           rounding_mode="floor"), "division by zero"),
    "maximum with a number": (lambda: tg.maximum(tg.ones(2), 0), "must be a Tensor"),
    "-bool": (lambda: -tg.tensor([True]), "bool"),
    "bool - bool": (lambda: tg.tensor([True]) - tg.tensor([True]), "bool"),
    "int ** -1": (lambda: tg.pow(tg.tensor([2]), -1), "negative integer powers"),
    "round(bool)": (lambda: tg.round(tg.tensor([True])), "bool"),
    "floor(bool)": (lambda: tg.floor(tg.tensor([True])), "bool"),
    "abs(bool)": (lambda: tg.abs(tg.tensor([True])), "bool"),
    "argmax(bool)": (lambda: tg.argmax(tg.tensor([True])), "bool"),
    "int - 1.5 * int": (lambda: tg.sub(tg.tensor([1]), tg.tensor([1]), alpha=1.5), "alpha"),
    "view_as(number)": (lambda: tg.ones(2).view_as(1), "must be a Tensor"),
    "isclose of unbroadcastable shapes": (lambda: tg.isclose(tg.ones(2, 3), tg.ones(2, 2, 4)),
                                          "cannot be broadcast"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_tapegrad_refuses_with_its_own_message_where_pytorch_refuses(name):
    call, message = REFUSED[name]
    with pytest.raises((TypeError, RuntimeError), match=message):
        call()


@pytest.mark.parametrize("name", REFUSED)
def test_pytorch_refuses_these_too(name):
    torch = pytest.importorskip("torch")
    source = {
        "integer % 0": lambda: torch.tensor([1, 2]) % torch.tensor([0, 1]),
        "floor division by 0": lambda: torch.div(torch.tensor([1, 2]), torch.tensor([0, 1]),
                                                 rounding_mode="floor"),
        "maximum with a number": lambda: torch.maximum(torch.ones(2), 0),
        "-bool": lambda: -torch.tensor([True]),
        "bool - bool": lambda: torch.tensor([True]) - torch.tensor([True]),
        "int ** -1": lambda: torch.pow(torch.tensor([2]), -1),
        "round(bool)": lambda: torch.round(torch.tensor([True])),
        "floor(bool)": lambda: torch.floor(torch.tensor([True])),
        "abs(bool)": lambda: torch.abs(torch.tensor([True])),
        "argmax(bool)": lambda: torch.argmax(torch.tensor([True])),
        "int - 1.5 * int": lambda: torch.sub(torch.tensor([1]), torch.tensor([1]), alpha=1.5),
        "view_as(number)": lambda: torch.ones(2).view_as(1),
        "isclose of unbroadcastable shapes": lambda: torch.isclose(torch.ones(2, 3),
                                                                   torch.ones(2, 2, 4)),
    }[name]
    with pytest.raises(Exception):
        source()


def test_the_written_out_gradients_are_pytorchs():
    torch = pytest.importorskip("torch")
    for name, (function, values, expected) in ZERO_DERIVATIVE_UNDER_SQRT.items():
        x = torch.tensor(values, requires_grad=True)
        torch_function = {
            "maximum": lambda t: torch.maximum(t, torch.tensor(0.0)).sqrt(),
            "minimum": lambda t: torch.minimum(-t, torch.tensor(0.0)).neg().sqrt(),
            "cumsum": lambda t: torch.cumsum(t, 0).sqrt(),
        }.get(name, function)
        y = torch_function(x)
        (y.sum() if y.ndim else y).backward()
        assert x.grad.tolist() == expected, name
    x = torch.tensor([1.0, 1.0, 3.0, 3.0], requires_grad=True)
    x.median().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.0, 0.0]


def test_copying_a_constant_over_a_result_cuts_the_gradient_to_the_old_values():
    x = tg.tensor([1.5, 2.5], requires_grad=True)
    y = tg.lgamma(x * 1)
    y.copy_(tg.tensor([5.0, 6.0]))   # y no longer depends on x
    assert y.requires_grad
    y.backward(tg.tensor([1.0, 1.0]))
    assert x.grad is None or x.grad.tolist() == [0.0, 0.0]   # not lgamma's gradient


def test_a_gathered_index_select_is_laid_out_row_major_so_view_works():
    x = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    picked = tg.index_select(x, 1, tg.tensor([0, 2]))
    assert picked.view(4).tolist() == [1.0, 3.0, 4.0, 6.0]   # PyTorch: the same
    assert x[:, [2, 0]].view(4).tolist() == [3.0, 1.0, 6.0, 4.0]


def test_polygamma_of_infinities_and_huge_negatives_returns_instead_of_looping():
    y = tg.polygamma(2, tg.tensor([-math.inf, math.inf, -1e30, -1.5], dtype=tg.float32))
    values = y.tolist()
    assert values[:3] == [-math.inf, 0.0, -math.inf]   # poles: -∞ for even n, as PyTorch


    # -inf and -1e30 are poles (every float beyond 2⁵² is an integer): -inf for n = 2,
    # as PyTorch
    assert values[0] == -math.inf and values[1] == 0.0 and values[2] == -math.inf
    assert abs(values[3] + 0.2362) < 1e-3


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 0)])
def test_grouped_conv2d_of_a_permuted_channel_slice_matches_the_contiguous_input(stride, padding):
    base = tg.tensor(np.random.default_rng(2).standard_normal((2, 6, 5, 4)), dtype=tg.float64)
    x = base.permute(0, 3, 1, 2)[:, :, 1:4, :]      # (2, 4, 3, 5), no row stored after row
    weight = tg.tensor(np.random.default_rng(3).standard_normal((4, 2, 2, 2)), dtype=tg.float64)
    y = tg.conv2d(x, weight, stride=stride, padding=padding, groups=2)
    expected = tg.conv2d(x.contiguous(), weight, stride=stride, padding=padding, groups=2)
    assert np.allclose(y.numpy(), expected.numpy())


def test_an_asked_for_integer_dtype_is_kept_by_cumsum_and_prod():
    x = tg.tensor([1, 2, 3], dtype=tg.int32)
    assert tg.cumsum(x, 0, dtype=tg.int32).dtype is tg.int32
    assert tg.prod(x, dtype=tg.int32).dtype is tg.int32
    assert tg.cumsum(x, 0).dtype is tg.int64 and tg.prod(x).dtype is tg.int64


def test_in_place_subtraction_of_bools_is_refused_like_the_operator():
    with pytest.raises(RuntimeError, match="bool"):
        tg.tensor([True]).sub_(tg.tensor([True]))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (), (5, 7)])
def test_relu_backward_in_every_float_dtype_and_odd_shape(dtype, shape):
    values = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    x = tg.tensor(values, requires_grad=True)
    g = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    x.relu().backward(tg.tensor(g))
    assert x.grad.dtype is getattr(tg, dtype)
    assert np.array_equal(x.grad.numpy(), np.where(values > 0, g, 0))
