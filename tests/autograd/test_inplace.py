"""In-place operations (tapegrad/autograd/ops/inplace.py): ``x.add_(y)``, ``x += y``, ``zero_``…

An in-place op writes into the tensor's own memory, bumps its version, and moves the
tensor onto the tape at the op's place. A value that backward still needs and that was
changed since is caught at backward time; misuse is refused before anything changes.
"""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck

from ..support import Case, constant, leaf, positive, values


def nonzero(*shape):
    magnitude = values(*shape, low=0.5, high=2.0)
    sign = np.where(values(*shape, low=-1.0, high=1.0) < 0, -1.0, 1.0)
    return tg.tensor(magnitude * sign, dtype=tg.float64, requires_grad=True)


def iadd(a, b):
    a += b
    return a


def isub(a, b):
    a -= b
    return a


def imul(a, b):
    a *= b
    return a


def idiv(a, b):
    a /= b
    return a


# Each case changes a fresh non-leaf (x * 1) in place, so the leaves stay untouched.
CASES = [
    Case("add", lambda x, y: (x * 1).add_(y), [leaf(3, 4), leaf(4)], name="add_"),
    Case("add", lambda x, y: (x * 1).add_(y, alpha=-2.0), [leaf(3), leaf(3)], name="add_alpha"),
    Case("add", lambda x, y: iadd(x * 1, y), [leaf(2, 3), leaf()], name="+="),
    Case("sub", lambda x, y: (x * 1).sub_(y), [leaf(3, 4), leaf(3, 1)], name="sub_"),
    Case("sub", lambda x, y: isub(x * 1, y), [leaf(3), leaf(3)], name="-="),
    Case("mul", lambda x, c: (x * 1).mul_(c), [leaf(3, 4), constant(4)], name="mul_constant"),
    Case("mul", lambda x: imul(x * 1, 2.5), [leaf(3)], name="*=number"),
    Case("div", lambda x, y: (x * 1).div_(y), [leaf(3, 4), nonzero(4)], name="div_"),
    Case("div", lambda x, y: idiv(x * 1, y), [leaf(3), nonzero(3)], name="/="),
    Case("copy", lambda x, src: (x * 1).copy_(src), [leaf(3, 4), leaf(4)], name="copy_broadcast"),
    Case("copy", lambda src: tg.zeros(2, 3, dtype=tg.float64).copy_(src), [leaf(2, 3)],
         name="copy_into_a_constant"),
    Case("fill", lambda x: (x * 2).fill_(3.0) * x, [leaf(3)], name="fill_"),
    Case("fill", lambda x: (x * 2).zero_() + x.exp(), [leaf(3)], name="zero_"),
]

# In-place forms whose out-of-place op saves the very tensor being overwritten: they
# must read a snapshot of the old values, not the memory they overwrite.
CASES_SAVING_THE_OVERWRITTEN_INPUT = [
    Case("mul", lambda x, y: (x * 1).mul_(y), [leaf(3, 4), leaf(4)], name="mul_"),
    Case("mul", lambda x, y: imul(x * 1, y), [leaf(3), leaf(3)], name="*="),
    Case("pow", lambda x: (x * 1).pow_(3), [leaf(3)], name="pow_"),
    Case("pow", lambda x, y: (x * 1).pow_(y), [positive(3), leaf(3)], name="pow_tensor"),
    Case("clamp", lambda x: (x * 1).clamp_(-0.5, 0.5),
         [tg.tensor([-1.0, -0.2, 0.3, 1.5], dtype=tg.float64, requires_grad=True)], name="clamp_"),
]


@pytest.mark.parametrize("case", CASES + CASES_SAVING_THE_OVERWRITTEN_INPUT, ids=repr)
def test_gradcheck(case):
    case.check()


# -- versions and the saved-value check ----------------------------------------------------
def test_every_in_place_op_bumps_the_version_and_returns_the_tensor_itself():
    x = tg.ones(3)
    for i, change in enumerate([lambda t: t.add_(1), lambda t: t.sub_(1), lambda t: t.mul_(2),
                                lambda t: t.div_(2), lambda t: t.pow_(2), lambda t: t.clamp_(0, 5),
                                lambda t: t.fill_(4), lambda t: t.zero_(),
                                lambda t: t.copy_(tg.ones(3))], start=1):
        assert change(x) is x
        assert x._version == i
    assert x.tolist() == [1.0, 1.0, 1.0]


def test_operators_bump_the_version_too():
    x = tg.ones(2)
    x += 1
    x -= 1
    x *= 3
    x /= 3
    assert x._version == 4 and x.tolist() == [1.0, 1.0]


def test_a_view_shares_its_base_version():
    base = tg.zeros(2, 3)
    view = base.reshape(6)
    view.add_(1)
    assert base._version == 1 and base.tolist() == [[1.0] * 3] * 2


def test_changing_a_saved_output_is_caught_at_backward_naming_both_ops():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"(?s)in-place.*output of 'exp'.*shape \(3,\).*"
                                           r"version 0.*'add_'.*version 1"):
        y.sum().backward()


def test_changing_a_saved_input_is_caught_at_backward_naming_both_ops():
    x = leaf(2, 2)
    y = x * 1
    z = y.sin()
    y.mul_(2)
    with pytest.raises(RuntimeError, match=r"(?s)shape \(2, 2\).*input of 'sin'.*version 0.*"
                                           r"'mul_'.*version 1"):
        z.sum().backward()


def test_changing_a_value_nobody_saved_is_fine():
    x = leaf(3)
    y = x * 2
    z = y + 1          # add saves nothing
    y.add_(5)
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# -- leaves --------------------------------------------------------------------------------
def test_a_leaf_that_requires_grad_cannot_change_in_place_outside_no_grad():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.fill_(3.0),
                   lambda: w.copy_(tg.zeros(2)), lambda: w.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad.*\(2,\).*no_grad"):
            change()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1
    assert w.tolist() == [1.0, 2.0] and w._version == 0


def test_a_leaf_that_requires_grad_can_change_in_place_inside_no_grad():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.sum().backward()
    with tg.no_grad():
        w -= 0.5 * w.grad            # an optimizer step
        w.mul_(2)
    assert w.tolist() == [1.0, 3.0]
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    (w * w).sum().backward()         # and it can be used again
    assert w.grad.tolist() == [3.0, 7.0]


def test_a_constant_changed_by_a_tensor_that_requires_grad_joins_the_tape():
    b = leaf(3)
    a = tg.zeros(3, dtype=tg.float64)
    a.add_(b, alpha=3)
    assert not a.is_leaf and a.requires_grad and a.grad_fn.name() == "AddBackward0"
    a.sum().backward()
    assert b.grad.tolist() == [3.0, 3.0, 3.0]


def test_alpha_scales_a_narrower_other_in_the_result_dtype():
    # alpha·y is taken in the dtype both promote to: -1·(uint8 3) is -3, not 253
    x = tg.tensor([-3, -2, 100], dtype=tg.int32)
    y = tg.tensor([1, 3, 0], dtype=tg.uint8)
    assert x.clone().sub_(y, alpha=-1).tolist() == [-2, 1, 100]
    assert x.clone().add_(y, alpha=-1).tolist() == [-4, -5, 100]
    z = tg.tensor([-3780.5, 1.0], dtype=tg.float64)
    assert z.add_(tg.tensor([3, 0], dtype=tg.uint8), alpha=-1).tolist() == [-3783.5, 1.0]


def test_alpha_of_a_same_dtype_uint8_other_wraps_as_uint8():
    x = tg.tensor([10, 0], dtype=tg.uint8)
    assert x.add_(tg.tensor([1, 1], dtype=tg.uint8), alpha=-1).tolist() == [9, 255]


# -- gradients through in-place ops, against the out-of-place formula ----------------------
def test_add_on_a_non_leaf_keeps_its_history():
    x, b = leaf(3), leaf(3)
    a = x * 2
    a.add_(b)
    assert a.grad_fn.name() == "AddBackward0"
    a.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and b.grad.tolist() == [1.0, 1.0, 1.0]


def test_mul_on_a_non_leaf_by_a_tensor_that_requires_grad_gives_the_out_of_place_gradients():
    x, b, v = leaf(4), leaf(4), values(4)
    a = x.sin()        # sin saves its input x, not its output a, so a may change
    a.mul_(b)
    (a * tg.tensor(v)).sum().backward()
    x_values, b_values = x.detach().numpy(), b.detach().numpy()
    np.testing.assert_allclose(b.grad.numpy(), v * np.sin(x_values), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), v * b_values * np.cos(x_values), rtol=1e-12)


def test_mul_on_a_non_leaf_by_a_constant_gives_the_out_of_place_gradient():
    x = leaf(4)
    a = x.sin()
    a.mul_(tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64))
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.detach().numpy()) * [1, 2, 3, 4])


def test_div_on_a_non_leaf_gives_the_out_of_place_gradients():
    x, b = leaf(3), positive(3)
    a = x * 1
    a.div_(b)
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / b.detach().numpy())
    np.testing.assert_allclose(b.grad.numpy(), -x.detach().numpy() / b.detach().numpy() ** 2)


def test_div_in_place_takes_a_rounding_mode_as_pytorch():
    a = tg.tensor([-7, 7])
    a.div_(2, rounding_mode="trunc")
    assert a.dtype is tg.int64 and a.tolist() == [-3, 3]
    b = tg.tensor([-7.0, 7.0])
    b.div_(2, rounding_mode="floor")
    assert b.tolist() == [-4.0, 3.0]
    with pytest.raises(ValueError, match="rounding_mode.*'round'"):
        b.div_(2, rounding_mode="round")
    assert b.tolist() == [-4.0, 3.0]   # unchanged


def test_clamp_on_a_non_leaf_gives_the_out_of_place_gradient():
    x = tg.tensor([-2.0, 0.5, 2.0], dtype=tg.float64, requires_grad=True)
    a = x * 1
    a.clamp_(-1.0, 1.0)
    a.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


# -- zero_, fill_, copy_, clamp_ -----------------------------------------------------------
def test_zero_and_fill_overwrite_every_value_and_keep_the_dtype():
    x = tg.tensor([[1, 2], [3, 4]])
    assert x.fill_(7).tolist() == [[7, 7], [7, 7]] and x.dtype is tg.int64
    assert x.zero_().tolist() == [[0, 0], [0, 0]]
    y = tg.ones(3, dtype=tg.float16)
    assert y.fill_(2.5).tolist() == [2.5, 2.5, 2.5] and y.dtype is tg.float16


def test_fill_takes_a_one_element_tensor():
    assert tg.zeros(2).fill_(tg.tensor([4.0])).tolist() == [4.0, 4.0]
    with pytest.raises(RuntimeError, match=r"fill_.*\(2,\)"):
        tg.zeros(2).fill_(tg.tensor([1.0, 2.0]))


def test_fill_with_a_tensor_value_passes_the_gradient_to_it():
    value = tg.tensor(2.0, requires_grad=True)
    x = tg.zeros(3)
    x.fill_(value)
    x.sum().backward()
    assert value.grad.item() == 3.0


def test_zero_blocks_the_gradient_of_the_overwritten_values():
    x = leaf(3)
    y = x * 2
    y.zero_()
    (y + x).sum().backward()
    assert y.tolist() == [0.0, 0.0, 0.0]
    assert x.grad.tolist() == [1.0, 1.0, 1.0]   # only through "+ x", none through y


def test_copy_broadcasts_the_source_and_passes_it_the_gradient():
    src = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    x = leaf(2, 3)
    y = x * 5
    y.copy_(src)
    assert y.tolist() == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    (y * tg.tensor([[1.0], [10.0]], dtype=tg.float64)).sum().backward()
    assert src.grad.tolist() == [11.0, 11.0, 11.0]
    assert x.grad.tolist() == [[0.0] * 3] * 2   # the overwritten values: zeros, as in PyTorch


def test_copy_casts_to_the_destination_dtype_and_the_gradient_back_to_the_source_dtype():
    src = tg.tensor([1.5, -2.5], dtype=tg.float64, requires_grad=True)
    x = tg.zeros(2)
    x.copy_(src)
    assert x.dtype is tg.float32 and x.tolist() == [1.5, -2.5]
    x.sum().backward()
    assert src.grad.dtype is tg.float64 and src.grad.tolist() == [1.0, 1.0]
    n = tg.zeros(2, dtype=tg.int64)
    n.copy_(tg.tensor([1.7, -2.7]))
    assert n.tolist() == [1, -2]


def test_copy_from_an_incompatible_shape_names_both_shapes_and_changes_nothing():
    x = tg.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"copy_.*\(4,\).*\(2, 3\)"):
        x.copy_(tg.zeros(4))
    assert x.tolist() == [[1.0] * 3] * 2 and x._version == 0


def test_clamp_in_place():
    x = tg.tensor([-2.0, 0.5, 2.0])
    x.clamp_(min=-1.0)
    assert x.tolist() == [-1.0, 0.5, 2.0]
    x.clamp_(max=1.0)
    assert x.tolist() == [-1.0, 0.5, 1.0]
    x.clamp_(tg.tensor([0.0, 0.0, 0.0]), tg.tensor([0.2, 0.2, 0.2]))
    np.testing.assert_allclose(x.numpy(), [0.0, 0.2, 0.2])


# -- refused before anything changes -------------------------------------------------------
def test_a_result_that_broadcasts_to_a_bigger_shape_is_refused_and_nothing_changes():
    x = tg.ones(3)
    with pytest.raises(RuntimeError, match=r"add_.*\(2, 3\).*\(3,\)"):
        x.add_(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"mul_.*\(2, 3\).*\(3,\)"):
        x *= tg.ones(2, 1)
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 0


def test_a_float_result_cannot_go_into_an_integer_tensor_and_nothing_changes():
    x = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"add_.*float32.*int64"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match=r"div_.*float32.*int64"):
        x /= 2
    with pytest.raises(RuntimeError, match=r"mul_.*float64.*int64"):
        x.mul_(tg.tensor([1.0, 2.0], dtype=tg.float64))
    assert x.tolist() == [1, 2] and x.dtype is tg.int64 and x._version == 0


def test_a_higher_precision_result_of_the_same_kind_is_stored_in_the_tensors_dtype():
    x = tg.ones(2)                                   # float32
    x.add_(tg.tensor([0.5, 0.25], dtype=tg.float64))
    assert x.dtype is tg.float32 and x.tolist() == [1.5, 1.25]
    n = tg.tensor([1, 2], dtype=tg.int32)
    n += tg.tensor([1, 1])                           # int64 into int32, as PyTorch allows
    assert n.dtype is tg.int32 and n.tolist() == [2, 3]


def test_a_view_cannot_change_in_place_while_gradients_are_recorded():
    # tapegrad's documented limit (PyTorch would rebase the view's history): the error says
    # what to do instead, and nothing changes.
    base = leaf(2, 3) * 1
    view = base.reshape(6)
    with pytest.raises(RuntimeError, match=r"view.*\(6,\).*\(2, 3\).*clone"):
        view.add_(1)
    assert view._version == 0


@pytest.mark.parametrize("view", [lambda x: x.transpose(0, 1), lambda x: x[:, :, ::2],
                                  lambda x: x.reshape(1, 0, 2), lambda x: x[0:0]])
def test_a_view_of_an_empty_tensor_is_a_view_too(view):
    # (an empty view shares no bytes with its base, but it is one, as in PyTorch)
    x = tg.zeros(0, 1, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place change of a view"):
        view(x).cos_()
    assert x[tg.tensor([], dtype=tg.int64)].cos_().shape == (0, 1, 2)   # a gather copies


# -- results that are no view in PyTorch may be changed in place --------------------------------
# (conv1d is conv2d of an unsqueezed input, squeezed back: the squeeze is of a temporary.)
FRESH_RESULTS = {
    "conv1d": lambda w: F.conv1d(tg.randn(1, 2, 5), w.reshape(3, 2, 2)),
    "conv1d unbatched": lambda w: F.conv1d(tg.randn(2, 5), w.reshape(3, 2, 2)),
    "conv2d unbatched": lambda w: F.conv2d(tg.randn(2, 5, 5), w.reshape(3, 2, 2, 1)),
    "max_pool1d": lambda w: F.max_pool1d(w.reshape(1, 3, 4), 2),
    "max_pool2d 3-d": lambda w: F.max_pool2d(w.reshape(3, 2, 2), 2),
    "avg_pool2d 3-d": lambda w: F.avg_pool2d(w.reshape(3, 2, 2), 2),
    "median dim": lambda w: tg.median(w, dim=0).values,
    "gather 0-d": lambda w: tg.gather(w[0], 0, tg.tensor(0)),
    "sort 0-d": lambda w: tg.sort(w[0]).values,
    "index_select 0-d": lambda w: tg.index_select(w[0], 0, tg.tensor([0])),
    "embedding 0-d": lambda w: F.embedding(tg.tensor(1), w),
}


@pytest.mark.parametrize("name", list(FRESH_RESULTS))
def test_a_fresh_result_of_an_operation_may_be_changed_in_place(name):
    # Adding 1 in place changes no gradient: it must equal the gradient without the add_.
    gradients = []
    for change_in_place in (False, True):
        tg.manual_seed(0)
        w = tg.randn(3, 4, requires_grad=True)
        out = FRESH_RESULTS[name](w)
        if change_in_place:
            out.add_(1)
        out.sum().backward()
        gradients.append(w.grad.numpy())
    np.testing.assert_array_equal(*gradients)


def test_copy_gives_the_overwritten_values_a_zero_gradient_not_none():
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    src = tg.tensor([4.0, 5.0, 6.0], requires_grad=True)
    x = a * 2
    x.copy_(src)
    assert [None if f is None else f.name() for f, _ in x.grad_fn.next_functions] == [
        "MulBackward0", "AccumulateGrad"]
    (x * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]
    assert src.grad.tolist() == [1.0, 2.0, 3.0]


def test_copy_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tg, torch):
        a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        src = lib.tensor([5.0, 6.0], requires_grad=True)
        x = a * 3
        x.copy_(src)
        (x * x).sum().backward()
        grads.append((a.grad.tolist(), src.grad.tolist()))
    assert grads[0] == grads[1]


# -- in-place changes of shape ----------------------------------------------------------------
def test_squeeze_unsqueeze_t_and_transpose_in_place_change_the_tensor_itself():
    x = tg.zeros(1, 3, 1)
    assert x.squeeze_() is x and x.shape == (3,)
    x.unsqueeze_(0)
    assert x.shape == (1, 3)
    x.t_()
    assert x.shape == (3, 1)
    x.transpose_(0, 1)
    assert x.shape == (1, 3)
    y = tg.zeros(2, 1, 4)
    y.squeeze_(1)
    assert y.shape == (2, 4) and y._version == 1


def test_a_shape_change_in_place_is_recorded_and_refused_on_a_leaf():
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 2
    y.unsqueeze_(0)
    assert y.grad_fn.name() == "UnsqueezeBackward0"
    (y * tg.tensor([[1.0, 10.0, 100.0]])).sum().backward()
    assert a.grad.tolist() == [2.0, 20.0, 200.0]
    with pytest.raises(RuntimeError, match="leaf"):
        a.unsqueeze_(0)


def test_shape_changes_in_place_match_pytorch():
    torch = pytest.importorskip("torch")
    shapes = []
    for lib in (tg, torch):
        x = lib.zeros(1, 2, 1, 3)
        x.squeeze_(0)
        x.unsqueeze_(-1)
        shapes.append(tuple(x.squeeze_().t_().shape))
    assert shapes[0] == shapes[1]


# -- memory that elements share: an expanded view ------------------------------------------------
@pytest.mark.parametrize("change", [lambda x: x.exp_(), lambda x: x.add_(1),
                                    lambda x: x.nan_to_num_(), lambda x: x.tan_(),
                                    lambda x: F.relu6(x, inplace=True),
                                    lambda x: x.fill_(tg.tensor(2.0)),
                                    lambda x: x.copy_(tg.zeros(2)),
                                    lambda x: x.__setitem__(slice(None), 0.0),
                                    lambda x: x.__setitem__(tg.tensor([0, 2]), 0.0)])
def test_an_expanded_view_is_not_written_in_place_and_nothing_changes(change):
    base = tg.tensor([1.0, 2.0])
    expanded = base.expand(3, 2)   # three rows, one memory row
    with pytest.raises(RuntimeError, match=r"more than one element of the written-to tensor "
                                           r"\(shape \(3, 2\).*clone"):
        change(expanded)
    assert base.tolist() == [1.0, 2.0] and expanded._version == 0


def test_an_expand_that_grows_no_dim_is_an_ordinary_view_written_in_place():
    base = tg.tensor([[1.0, 2.0]])
    base.expand(1, 2).mul_(3)
    base[0].expand(1, 2).add_(1)
    assert base.tolist() == [[4.0, 7.0]]


def test_an_empty_expanded_view_changes_in_place_without_writing():
    empty = tg.zeros(1, 0).expand(3, 0)
    assert empty.relu_().shape == (3, 0) and empty.zero_().shape == (3, 0)
    empty[0] = 1.0
    assert empty.shape == (3, 0)


def test_read_only_memory_is_refused_by_name():
    array = np.arange(3.0)
    array.flags.writeable = False
    shared = tg.from_numpy(array)
    with pytest.raises(RuntimeError, match=r"add_: the tensor of shape \(3,\) is a read-only "
                                           r"view \(of a read-only array given to from_numpy"):
        shared.add_(1)


def test_nan_to_num_of_an_integer_tensor_writes_nothing_even_when_expanded():
    x = tg.tensor([1, 2]).expand(3, 2)
    assert x.nan_to_num_() is x and x._version == 0


def test_a_number_fills_an_expanded_view_through_the_memory_its_elements_share():
    base = tg.tensor([[1.0], [2.0]])
    expanded = base.expand(2, 3)
    expanded.fill_(5.0)
    assert base.tolist() == [[5.0], [5.0]] and expanded.tolist() == [[5.0] * 3] * 2
    expanded.zero_()
    assert base.tolist() == [[0.0], [0.0]] and expanded._version == 2


def test_a_part_of_an_expanded_view_that_repeats_no_element_is_written_through():
    base = tg.tensor([[1.0, -2.0]])
    expanded = base.expand(3, 2)
    expanded[0].abs_()           # the row's two elements have memory of their own
    assert base.tolist() == [[1.0, 2.0]]
    expanded[1] = tg.tensor([5.0, 6.0])
    expanded[2, 0] = 7.0
    assert base.tolist() == [[7.0, 6.0]] and expanded.tolist() == [[7.0, 6.0]] * 3


def test_in_place_arithmetic_with_a_python_int_outside_uint8_wraps_as_pytorch():
    u = tg.tensor([1, 2], dtype=tg.uint8)
    assert u.add_(-1).tolist() == [0, 1]      # -1 is 255 in uint8: 1 + 255 = 0 mod 256
    assert u.sub_(-1).tolist() == [1, 2]
    assert u.mul_(-1).tolist() == [255, 254]


def test_float16_add_and_sub_in_place_with_alpha_round_x_plus_alpha_y_once():
    # as add and sub: 2·35328 is ∞ in float16, x + 2·y = 50048 fits; recorded or not
    for requires_grad in (False, True):
        x = tg.tensor([-20608.0, 1.0], dtype=tg.float16, requires_grad=requires_grad)
        y = tg.tensor([35328.0, 3.0], dtype=tg.float16)
        z = x * 1
        assert z.add_(y, alpha=2).tolist() == [50048.0, 7.0]
        z = x * 1
        assert z.sub_(y, alpha=-2).tolist() == [50048.0, 7.0] and z.dtype is tg.float16


def test_pow_into_a_narrower_float_differentiates_the_exponent_through_the_stored_power():
    # a float16 x to a float32 y is computed in float32 and stored in float16: 2³⁰ is ∞
    # there, and the exponent's slope xʸ·ln x reads that stored ∞, as PyTorch's
    x = tg.tensor([8.836, 2.0], dtype=tg.float16, requires_grad=True)
    y = tg.tensor([3.0, 30.0], requires_grad=True)
    z = x * 1
    z.pow_(y)
    assert z.dtype is tg.float16 and z.tolist() == [690.0, math.inf]
    z.backward(tg.ones(2, dtype=tg.float16))
    assert y.grad.tolist() == [pytest.approx(690.0 * math.log(np.float16(8.836)), rel=1e-6),
                               math.inf]
    x = tg.tensor([2.0, 3.0], dtype=tg.float64, requires_grad=True)   # one dtype: as pow
    y = tg.tensor([0.5, 1.5], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda x, y: (x * 1).pow_(y), (x, y))
    with pytest.raises(RuntimeError, match="pow_: the result has dtype tapegrad.float32, which "
                                           "cannot be stored in place into a tensor of dtype "
                                           "tapegrad.int64"):
        tg.tensor([2, 3]).pow_(tg.tensor([0.5, 1.0]))


# -- PyTorch's other names for the in-place arithmetic -------------------------------------------
@pytest.mark.parametrize("alias, original", [("divide_", "div_"), ("true_divide_", "div_"),
                                             ("subtract_", "sub_"), ("multiply_", "mul_"),
                                             ("clip_", "clamp_")])
def test_in_place_aliases_are_the_same_methods(alias, original):
    assert getattr(tg.Tensor, alias) is getattr(tg.Tensor, original)


def test_in_place_aliases_write_into_the_tensor_and_differentiate():
    x = tg.tensor([4.0, 6.0])
    assert x.divide_(2) is x and x.tolist() == [2.0, 3.0]
    x.true_divide_(2).subtract_(1).multiply_(4)
    assert x.tolist() == [0.0, 2.0]
    assert x.clip_(0.5, 1.5).tolist() == [0.5, 1.5]
    assert tg.tensor([7.0]).divide_(2, rounding_mode="floor").tolist() == [3.0]
    assert tg.tensor([5.0]).subtract_(tg.tensor([1.0]), alpha=2).tolist() == [3.0]
    a = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = a * 1
    y.multiply_(3).subtract_(1).divide_(2)
    y.sum().backward()
    assert a.grad.tolist() == [1.5, 1.5]


def test_in_place_aliases_refuse_misuse_before_writing():
    x = tg.tensor([1, 2])
    with pytest.raises(Exception, match="div_"):
        x.divide_(2)   # an int64 tensor cannot hold the float quotient, as in PyTorch
    assert x.tolist() == [1, 2]
    with pytest.raises(Exception, match="leaf"):
        tg.tensor([1.0], requires_grad=True).multiply_(2)


def test_hypot_into_a_narrower_float_takes_its_slopes_from_the_unrounded_result():
    # float16 x with a float32 y: z = √(60000² + 40000²) = 72111 is computed in float32 and
    # stored as float16's ∞. The slopes x/z, y/z are those of hypot at its inputs (0.832,
    # 0.555), the narrowing a rounding, as every in-place op into a narrower float treats it;
    # PyTorch divides by the stored ∞ and gives 0 (where z fits, the two agree to a rounding)
    x = tg.tensor([60000.0, 3.0], dtype=tg.float16, requires_grad=True)
    y = tg.tensor([40000.0, 4.0], requires_grad=True)
    z = x * 1
    z.hypot_(y)
    assert z.dtype is tg.float16 and z.tolist() == [math.inf, 5.0]
    z.backward(tg.ones(2, dtype=tg.float16))
    assert x.grad.tolist() == [float(np.float16(60000 / 72111.03)), float(np.float16(0.6))]
    assert y.grad.tolist() == [pytest.approx(40000 / 72111.03, rel=1e-6), pytest.approx(0.8)]
    x = tg.tensor([2.0, -3.0], dtype=tg.float64, requires_grad=True)   # one dtype: as hypot
    y = tg.tensor([0.5, 1.5], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda x, y: (x * 1).hypot_(y), (x, y))


def test_fill_refuses_a_number_its_dtype_cannot_hold_before_changing_anything():
    # as in PyTorch: -1.5 and 256.0 fit no uint8, NaN no int64, 1e30 no float16
    for x, value in ((tg.tensor([1, 2], dtype=tg.uint8), -1.5),
                     (tg.tensor([1, 2], dtype=tg.uint8), 256.0),
                     (tg.tensor([1, 2]), math.nan),
                     (tg.tensor([1.0, 2.0], dtype=tg.float16), 1e30)):
        before = x.tolist()
        with pytest.raises(RuntimeError, match=rf"fill_: value cannot be converted to type "
                                               rf"{x.dtype.name} without overflow"):
            x.fill_(value)
        assert x.tolist() == before and x._version == 0
    assert tg.tensor([1, 2], dtype=tg.uint8).fill_(-129).tolist() == [127, 127]
    assert tg.tensor([1, 2], dtype=tg.int8).fill_(-1.5).tolist() == [-1, -1]
    assert tg.tensor([1.0], dtype=tg.float16).fill_(math.inf).tolist() == [math.inf]


def test_copy_of_a_number_casts_it_unchecked_unlike_fill():
    # as in PyTorch: copy_ casts a tensor of the number, so nothing is refused
    assert tg.tensor([1, 2], dtype=tg.uint8).copy_(300).tolist() == [44, 44]
    assert tg.tensor([1, 2], dtype=tg.uint8).copy_(-1.5).tolist() == [255, 255]
    assert tg.tensor([1.0], dtype=tg.float16).copy_(1e30).tolist() == [math.inf]


def test_add_and_sub_in_place_refuse_an_alpha_the_dtype_cannot_hold():
    # as in PyTorch (and as add): 300 fits no uint8, 1e30 no float16
    for x, alpha in ((tg.tensor([1, 2], dtype=tg.uint8), 300),
                     (tg.tensor([1.0, 2.0], dtype=tg.float16), 1e30)):
        for method in ("add_", "sub_"):
            with pytest.raises(RuntimeError, match=rf"{method}: .* {x.dtype.name} without overflow"):
                getattr(x, method)(x.clone(), alpha=alpha)
            assert x.tolist() == [1, 2] and x._version == 0
    assert tg.tensor([1, 2], dtype=tg.uint8).add_(tg.tensor([1, 1], dtype=tg.uint8),
                                                  alpha=-1).tolist() == [0, 1]
