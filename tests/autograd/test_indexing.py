"""Indexing and its relatives: x[index], x[index] = v, gather, scatter, index_select, masks.

The rule behind every gradient here: reading x at some positions sends the gradient back
to those positions (zeros elsewhere), and a position read twice gets both gradients.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops import indexing
from tapegrad.autograd.ops.indexing import (gather, index_select, masked_fill, masked_select,
                                            nonzero, scatter, scatter_add, take_along_dim)
from tests.support import Case, constant, leaf, noncontiguous

getitem = indexing.getitem


def setitem(x, index, value):
    """``y = copy of x; y[index] = value; return y``: setitem as a function gradcheck can call."""
    y = x * 1
    indexing.setitem(y, index, value)
    return y


def ints(values):
    return tg.tensor(values, dtype=tg.int64)


MASK_3x4 = tg.tensor([[True, False, True, True], [False, False, True, False],
                      [True, True, False, False]])
CONSTANT_3x4 = constant(3, 4)

CASES = [
    # getitem: basic indexing (a view)
    Case("getitem", lambda x: getitem(x, 1), [leaf(3, 4)], name="int"),
    Case("getitem", lambda x: getitem(x, -1), [leaf(3, 4)], name="negative_int"),
    Case("getitem", lambda x: getitem(x, 2), [leaf(5)], name="int_to_0d"),
    Case("getitem", lambda x: getitem(x, (1, 2)), [leaf(3, 4)], name="two_ints_to_0d"),
    Case("getitem", lambda x: getitem(x, slice(1, 3)), [leaf(4, 2)], name="slice"),
    Case("getitem", lambda x: getitem(x, (slice(None), slice(0, 5, 2))), [leaf(3, 5)],
         name="slice_with_step"),
    Case("getitem", lambda x: getitem(x, (None, Ellipsis, 1)), [leaf(2, 3, 4)],
         name="none_ellipsis_int"),
    Case("getitem", lambda x: getitem(x, (0, ..., slice(1, 3))), [leaf(2, 3, 4)],
         name="ellipsis_in_the_middle"),
    Case("getitem", lambda x: getitem(x, None), [leaf()], name="0d_with_none"),
    Case("getitem", lambda x: getitem(x, (slice(None, None, 2), 1)), [noncontiguous(5, 3)],
         name="noncontiguous_basic"),
    # getitem: advanced indexing (a copy)
    Case("getitem", lambda x: getitem(x, ints([0, 2, 0, 0])), [leaf(3, 4)],
         name="repeated_int_tensor"),
    Case("getitem", lambda x: getitem(x, ints([[0, 1], [1, 1]])), [leaf(3)],
         name="2d_int_tensor"),
    Case("getitem", lambda x: getitem(x, tg.tensor([2, 0], dtype=tg.int32)), [leaf(3, 2)],
         name="int32_tensor"),
    Case("getitem", lambda x: getitem(x, [2, 2, 0]), [leaf(3, 2)], name="list_of_ints"),
    Case("getitem", lambda x: getitem(x, np.array([1, 0, 1])), [leaf(2, 3)],
         name="numpy_int_array"),
    Case("getitem", lambda x: getitem(x, MASK_3x4), [leaf(3, 4)], name="bool_mask"),
    Case("getitem", lambda x: getitem(x, tg.tensor([True, False, True])), [leaf(3, 2)],
         name="bool_mask_on_dim_0"),
    Case("getitem", lambda x: getitem(x, (slice(None), ints([1, 1, 3]))), [leaf(2, 4)],
         name="slice_then_int_tensor"),
    Case("getitem", lambda x: getitem(x, (ints([0, 1]), slice(1, 3), ints([2, 2]))),
         [leaf(2, 4, 3)], name="int_tensors_around_a_slice"),
    Case("getitem", lambda x: getitem(x, ([3, 0, 3], slice(None, None, 2))),
         [noncontiguous(4, 3)], name="noncontiguous_advanced"),
    # setitem: gradients to the old tensor (zero where overwritten) and to the value
    Case("setitem", lambda x, v: setitem(x, 0, v), [leaf(3, 4), leaf(4)], name="row"),
    Case("setitem", lambda x, v: setitem(x, (slice(None), 1), v), [leaf(3, 4), leaf(1)],
         name="broadcast_value"),
    Case("setitem", lambda x, v: setitem(x, (Ellipsis, slice(0, 3, 2)), v),
         [leaf(2, 4), leaf()], name="0d_value_into_a_strided_slice"),
    Case("setitem", lambda x, v: setitem(x, 1, v), [leaf(2, 3), leaf(1, 1, 3)],
         name="value_with_extra_leading_ones"),
    Case("setitem", lambda x, v: setitem(x, ints([2, 0]), v), [leaf(3, 4), leaf(2, 4)],
         name="int_tensor"),
    Case("setitem", lambda x, v: setitem(x, MASK_3x4, v), [leaf(3, 4), leaf()],
         name="bool_mask"),
    Case("setitem", lambda x: setitem(x, (1, slice(1, None)), 5.0), [leaf(3, 4)],
         name="number_value"),
    Case("setitem", lambda v: setitem(CONSTANT_3x4, (slice(None), 2), v), [leaf(3)],
         name="only_the_value_requires_grad"),
    Case("setitem", lambda x, v: setitem(x, (slice(None), [0, 2]), v),
         [noncontiguous(3, 4), leaf(3, 2)], name="noncontiguous"),
    # gather
    Case("gather", lambda x: gather(x, 1, ints([[0, 0, 3], [1, 2, 1], [3, 3, 3]])),
         [leaf(3, 4)], name="dim1_repeated"),
    Case("gather", lambda x: gather(x, -2, ints([[2, 0], [1, 1], [0, 2], [2, 2]])),
         [leaf(3, 2)], name="negative_dim_longer_index"),
    Case("gather", lambda x: gather(x, 1, ints([[1, 0], [2, 2]])), [leaf(3, 4)],
         name="index_smaller_than_input"),
    Case("gather", lambda x: gather(x, 2, ints([[[1, 0, 1]], [[0, 0, 1]]])), [leaf(2, 3, 2)],
         name="3d"),
    Case("gather", lambda x: gather(x, 0, ints(0)), [leaf()], name="0d"),
    Case("gather", lambda x: gather(x, 0, ints([[2, 0, 1], [1, 1, 0]])), [noncontiguous(3, 3)],
         name="noncontiguous"),
    # take_along_dim
    Case("take_along_dim", lambda x: take_along_dim(x, ints([5, 0, 5])), [leaf(2, 3)],
         name="flattened"),
    Case("take_along_dim", lambda x: take_along_dim(x, ints([[2], [0], [1]]), dim=1),
         [leaf(1, 3)], name="broadcast"),
    # scatter_add: gradient to input and src
    Case("scatter_add", lambda x, s: scatter_add(x, 1, ints([[0, 0, 3], [2, 1, 2]]), s),
         [leaf(2, 4), leaf(2, 3)], name="repeated_positions"),
    Case("scatter_add", lambda x, s: scatter_add(x, 0, ints([[1, 0], [1, 1]]), s),
         [leaf(3, 2), leaf(3, 3)], name="src_larger_than_index"),
    Case("scatter_add", lambda x, s: scatter_add(x, -1, ints([2, 2]), s),
         [noncontiguous(3), leaf(2)], name="noncontiguous_1d"),
    Case("scatter_add", lambda x, s: scatter_add(x, 0, ints(0), s), [leaf(), leaf()],
         name="0d"),
    # scatter (unique positions: with repeats, which src wins is undefined, as in PyTorch)
    Case("scatter", lambda x, s: scatter(x, 1, ints([[3, 0], [1, 2], [0, 1]]), s),
         [leaf(3, 4), leaf(3, 2)], name="src"),
    Case("scatter", lambda x, s: scatter(x, 0, ints([[1, 0]]), s), [leaf(2, 3), leaf(2, 2)],
         name="src_larger_than_index"),
    Case("scatter", lambda x: scatter(x, -1, ints([[2], [0]]), 1.5), [noncontiguous(2, 3)],
         name="value"),
    # index_select
    Case("index_select", lambda x: index_select(x, 0, ints([2, 0, 2])), [leaf(3, 2)],
         name="dim0_repeated"),
    Case("index_select", lambda x: index_select(x, -1, tg.tensor([1, 3], dtype=tg.int32)),
         [leaf(2, 4)], name="negative_dim_int32"),
    Case("index_select", lambda x: index_select(x, 1, ints(1)), [leaf(2, 3, 2)],
         name="0d_index"),
    Case("index_select", lambda x: index_select(x, 1, ints([0, 0])), [noncontiguous(3, 2)],
         name="noncontiguous"),
    # masked_fill: gradient zero where masked; the value's is the sum over the masked places
    Case("masked_fill", lambda x: masked_fill(x, MASK_3x4, 0.5), [leaf(3, 4)], name="number"),
    Case("masked_fill", lambda x, v: masked_fill(x, MASK_3x4, v), [leaf(3, 4), leaf()],
         name="0d_value_tensor"),
    Case("masked_fill", lambda x: masked_fill(x, tg.tensor([[True, False, False, True]]), -1.0),
         [noncontiguous(3, 4)], name="broadcast_mask_noncontiguous"),
    Case("masked_fill", lambda x: masked_fill(x, MASK_3x4, 2.0), [leaf(4)],
         name="mask_broadcasts_the_input"),
    # masked_select
    Case("masked_select", lambda x: masked_select(x, MASK_3x4), [leaf(3, 4)], name="same_shape"),
    Case("masked_select", lambda x: masked_select(x, MASK_3x4), [leaf(3, 1)], name="broadcast"),
    Case("masked_select", lambda x: masked_select(x, MASK_3x4), [noncontiguous(3, 4)],
         name="noncontiguous"),
    # integers mixed with index arrays select first, as in PyTorch
    Case("getitem", lambda x: x[1, :, [0, 2]], [leaf(2, 3, 4)], name="int, slice, list"),
    Case("getitem", lambda x: x[0, None, [1, 1]], [leaf(2, 3, 4)], name="int, None, repeats"),
    Case("setitem", lambda x, v: _assign(x, (1, slice(None), [0, 2]), v),
         [leaf(2, 3, 4), leaf(3, 2)], name="int, slice, list"),
]


def _assign(x, key, v):
    y = x * 1
    y[key] = v
    return y


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


# -- getitem ------------------------------------------------------------------------------------
ARRAY = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)

NUMPY_INDEXES = [1, -1, (1, 2), (0, 1, 3), slice(1, None), (slice(None), slice(0, 3, 2)),
                 (None, 0), (..., 2), (0, ..., None), ([1, 1, 0],), ([0, 1], [2, 0]),
                 (slice(None), [2, 2], slice(1, 3)), ([1, 0], slice(None), [3, 3]),
                 pytest.param((ARRAY > 10,), id="mask_over_3_dims"),
                 pytest.param((np.array([True, False]),), id="mask_over_dim_0"), (True,),
                 (0, [0, 2], None)]


@pytest.mark.parametrize("index", NUMPY_INDEXES, ids=repr)
def test_getitem_gives_numpys_values_and_shape(index):
    x = tg.tensor(ARRAY)
    result = getitem(x, index)
    np.testing.assert_array_equal(result.numpy(), ARRAY[index])
    assert result.dtype is tg.float32


def test_basic_indexing_gives_a_view_that_shares_memory_and_version():
    x = tg.tensor(ARRAY)
    row = getitem(x, (1, slice(None, None, 2)))
    assert np.shares_memory(row.array, x.array)
    assert row._base is x and row._version_counter is x._version_counter
    element = getitem(x, (0, 0, 0))
    assert element.shape == () and np.shares_memory(element.array, x.array)


def test_advanced_indexing_gives_a_copy():
    x = tg.tensor(ARRAY)
    picked = getitem(x, ints([0, 1]))
    assert not np.shares_memory(picked.array, x.array)
    assert picked._base is None


def test_repeated_indices_accumulate_their_gradients():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    getitem(x, ints([0, 2, 0, 0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_repeated_indices_with_a_slice_accumulate_per_row():
    x = tg.zeros(3, 2, requires_grad=True)
    y = getitem(x, ([1, 1], slice(None)))
    y.backward(tg.tensor([[1.0, 2.0], [10.0, 20.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [11, 22], [0, 0]])


def test_getitem_gradient_keeps_float32():
    x = tg.ones(3, 4, requires_grad=True)
    getitem(x, MASK_3x4).sum().backward()
    assert x.grad.dtype is tg.float32
    np.testing.assert_array_equal(x.grad.numpy(), MASK_3x4.numpy().astype(np.float32))


def test_a_0d_int_tensor_index_acts_like_an_int():
    x = tg.tensor(ARRAY)
    result = getitem(x, ints(1))
    assert result.shape == (3, 4) and np.shares_memory(result.array, x.array)


def test_a_uint8_tensor_index_is_a_mask_as_in_pytorch():
    x = tg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(getitem(x, tg.tensor([1, 0, 1], dtype=tg.uint8)).numpy(),
                                  [1.0, 3.0])


def test_an_empty_list_selects_nothing():
    assert getitem(tg.tensor(ARRAY), []).shape == (0, 3, 4)


def test_out_of_range_int_names_the_index_the_dim_and_its_size():
    with pytest.raises(IndexError, match=r"getitem: index 4 is out of range for dimension 1 "
                                         r"with size 3"):
        getitem(tg.tensor(ARRAY), (0, 4))
    with pytest.raises(IndexError, match=r"index -3 is out of range for dimension 0 with size 2"):
        getitem(tg.tensor(ARRAY), -3)


def test_out_of_range_index_tensor_names_the_bad_index():
    with pytest.raises(IndexError, match=r"index 5 is out of range for dimension 2 with size 4"):
        getitem(tg.tensor(ARRAY), (..., ints([0, 5, 1])))
    with pytest.raises(IndexError, match=r"index -4 is out of range for dimension 1 with size 3"):
        getitem(tg.tensor(ARRAY), (slice(None), [-4]))


def test_too_many_indices_is_an_index_error():
    with pytest.raises(IndexError, match=r"too many indices for a tensor of dimension 3"):
        getitem(tg.tensor(ARRAY), (0, 0, 0, 0))
    with pytest.raises(IndexError, match=r"too many indices for a tensor of dimension 0"):
        getitem(tg.tensor(1.0), 0)


def test_a_mask_of_the_wrong_shape_is_named():
    with pytest.raises(IndexError, match=r"the mask of shape \(3,\) \(index 0\) does not match "
                                         r"the shape \(2,\)"):
        getitem(tg.tensor(ARRAY), tg.tensor([True, False, True]))


def test_index_tensors_that_do_not_broadcast_together_are_an_index_error():
    with pytest.raises(IndexError, match=r"getitem: shape mismatch.*shape \(2, 3, 4\)"):
        getitem(tg.tensor(ARRAY), ([0, 1], [0, 1, 2]))


def test_float_index_tensors_are_refused_as_in_pytorch():
    with pytest.raises(IndexError, match=r"tensors used as indices must be long, int, byte or "
                                         r"bool tensors, got one of dtype tapegrad.float32"):
        getitem(tg.tensor(ARRAY), tg.tensor([0.0, 1.0]))


def test_float_and_other_scalar_indices_are_refused():
    with pytest.raises(IndexError, match=r"only integers, slices .* got float 1.5"):
        getitem(tg.tensor(ARRAY), 1.5)
    with pytest.raises(IndexError, match=r"got str 'a'"):
        getitem(tg.tensor(ARRAY), "a")
    with pytest.raises(IndexError, match=r"a list used as an index must hold only integers"):
        getitem(tg.tensor(ARRAY), [0, slice(None)])


def test_negative_slice_steps_are_refused_as_in_pytorch():
    with pytest.raises(ValueError, match=r"getitem: slice step must be greater than zero, got -1"):
        getitem(tg.tensor(ARRAY), slice(None, None, -1))
    with pytest.raises(ValueError, match=r"got 0"):
        getitem(tg.tensor(ARRAY), (0, slice(None, None, 0)))


def test_two_ellipses_are_refused():
    with pytest.raises(IndexError, match=r"only have a single ellipsis"):
        getitem(tg.tensor(ARRAY), (..., 0, ...))


def test_an_index_tensor_on_another_device_names_both_devices():
    index = ints([0])
    index.device = tg.device("cuda:0")  # stands in for a GPU tensor: the check comes first
    with pytest.raises(RuntimeError, match=r"the index tensor is on cuda:0, but the indexed "
                                           r"tensor is on cpu"):
        getitem(tg.tensor(ARRAY), index)


def test_changing_an_index_tensor_in_place_before_backward_is_caught():
    x = tg.ones(3, requires_grad=True)
    index = ints([0, 1])
    y = getitem(x, index)
    index.zero_()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation"):
        y.sum().backward()


def test_second_derivative_through_getitem_backward():
    x = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    y = (getitem(x, ints([2, 2, 0])) ** 2).sum()   # y = 2·x2² + x0²
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [2.0, 0.0, 12.0])
    (h,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [2.0, 0.0, 4.0])


# -- setitem ------------------------------------------------------------------------------------
def test_setitem_writes_in_place_like_numpy():
    for index, value in [((0, 1), 7.0), ((slice(None), 2), [5.0, 6.0, 7.0]), ([1, 0], 9.0),
                         (ARRAY[0] > 5, -1.0), ((..., slice(0, 4, 3)), [[1.0], [2.0], [3.0]])]:
        expected = ARRAY[0].copy()
        expected[index] = value
        x = tg.tensor(ARRAY[0])
        memory = x.array
        indexing.setitem(x, index, tg.tensor(value))
        np.testing.assert_array_equal(x.numpy(), expected)
        assert x.array is memory


def test_setitem_puts_the_tensor_on_the_tape_and_bumps_its_version():
    x = tg.zeros(3)
    value = tg.tensor([1.0, 2.0], requires_grad=True)
    indexing.setitem(x, [0, 2], value)
    assert x._version == 1 and x.grad_fn.name() == "CopySlices"
    (x * tg.tensor([10.0, 20.0, 30.0])).sum().backward()
    np.testing.assert_array_equal(value.grad.numpy(), [10.0, 30.0])


def test_setitem_gradient_to_the_old_tensor_is_zero_where_overwritten():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 2
    indexing.setitem(y, slice(1, 3), 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 0.0, 2.0])


def test_setitem_gradient_to_a_broadcast_value_is_summed():
    x = tg.zeros(2, 3)
    value = tg.tensor([1.0], requires_grad=True)
    indexing.setitem(x, (slice(None), slice(0, 2)), value)
    x.sum().backward()
    np.testing.assert_array_equal(value.grad.numpy(), [4.0])


def test_setitem_on_a_leaf_that_requires_grad_is_refused():
    weight = tg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"setitem: a leaf tensor that requires grad"):
        indexing.setitem(weight, 0, 0.0)
    np.testing.assert_array_equal(weight.detach().numpy(), np.ones((2, 3)))


def test_setitem_on_a_leaf_inside_no_grad_just_writes():
    weight = tg.ones(2, 3, requires_grad=True)
    with tg.no_grad():
        indexing.setitem(weight, 0, 0.0)
    np.testing.assert_array_equal(weight.detach().numpy(), [[0, 0, 0], [1, 1, 1]])
    assert weight.is_leaf and weight.grad_fn is None


def test_setitem_after_a_save_makes_that_backward_fail():
    x = tg.ones(3, requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    indexing.setitem(y, 0, 5.0)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*'setitem'"):
        z.backward()


def test_setitem_casts_the_value_to_the_tensors_dtype_truncating_floats_like_pytorch():
    x = tg.zeros(3, dtype=tg.int64)
    indexing.setitem(x, 0, 2.7)
    indexing.setitem(x, 1, tg.tensor(-3.9))
    assert x.dtype is tg.int64 and x.tolist() == [2, -3, 0]
    y = tg.zeros(2)
    indexing.setitem(y, 1, tg.tensor(0.5, dtype=tg.float64))
    assert y.dtype is tg.float32 and y.tolist() == [0.0, 0.5]


def test_setitem_accepts_a_numpy_array_value():
    x = tg.zeros(2, 2)
    indexing.setitem(x, 1, np.array([3.0, 4.0]))
    assert x.tolist() == [[0.0, 0.0], [3.0, 4.0]]


def test_setitem_value_of_the_wrong_shape_names_both_shapes():
    x = tg.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"setitem: shape mismatch: the value of shape \(2,\) "
                                           r"cannot be broadcast to the indexed shape \(3,\)"):
        indexing.setitem(x, 0, tg.tensor([1.0, 2.0]))
    assert x._version == 0


def test_setitem_bad_index_changes_nothing():
    x = tg.zeros(2, 3)
    with pytest.raises(IndexError, match=r"setitem: index 3 is out of range for dimension 1"):
        indexing.setitem(x, (slice(None), [0, 3]), 1.0)
    assert x._version == 0 and not x.numpy().any()


def test_setitem_refuses_a_list_value():
    with pytest.raises(TypeError, match=r"setitem: can only assign a number, a tensor or a numpy "
                                        r"array, got list"):
        indexing.setitem(tg.zeros(2), 0, [1.0])


# -- gather, scatter, index_select -------------------------------------------------------------
def test_gather_matches_numpy_take_along_axis():
    x = np.arange(12.0).reshape(3, 4)
    index = np.array([[3, 0], [1, 1], [2, 0]])
    np.testing.assert_array_equal(gather(tg.tensor(x), 1, ints(index)).numpy(),
                                  np.take_along_axis(x, index, axis=1))
    np.testing.assert_array_equal(gather(tg.tensor(x), 0, ints([[2, 0]])).numpy(),
                                  [[8.0, 1.0]])


def test_gather_gradient_adds_up_for_an_element_read_twice():
    x = tg.zeros(2, 3, requires_grad=True)
    gather(x, 1, ints([[0, 0, 2], [1, 1, 1]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 1], [0, 3, 0]])


def test_gather_errors_name_the_problem():
    x = tg.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"gather: expected the index to have dtype int64, "
                                           r"got tapegrad.int32"):
        gather(x, 0, tg.tensor([[0]], dtype=tg.int32))
    with pytest.raises(RuntimeError, match=r"gather: index of shape \(1,\) must have as many "
                                           r"dimensions as the input of shape \(3, 4\)"):
        gather(x, 0, ints([0]))
    with pytest.raises(RuntimeError, match=r"index of shape \(1, 5\) is larger than the input of "
                                           r"shape \(3, 4\) in dimension 1"):
        gather(x, 0, ints([[0] * 5]))
    with pytest.raises(IndexError, match=r"gather: index 4 is out of range for dimension 1 with "
                                         r"size 4"):
        gather(x, 1, ints([[4]]))
    with pytest.raises(IndexError, match=r"index -1 is out of range for dimension 1 with size 4"):
        gather(x, -1, ints([[-1]]))
    with pytest.raises(IndexError, match=r"gather: dimension 2 is out of range"):
        gather(x, 2, ints([[0]]))
    index = ints([[0]])
    index.device = tg.device("cuda")
    with pytest.raises(RuntimeError, match=r"gather: expected all tensors on the same device"):
        gather(x, 0, index)


def test_take_along_dim_matches_numpy():
    x = np.arange(6.0).reshape(2, 3)
    index = np.array([[2], [0]])
    np.testing.assert_array_equal(take_along_dim(tg.tensor(x), ints(index), dim=1).numpy(),
                                  np.take_along_axis(x, index, axis=1))
    np.testing.assert_array_equal(take_along_dim(tg.tensor(x), ints([5, 1])).numpy(), [5.0, 1.0])


def test_scatter_add_matches_numpy_add_at():
    x = np.ones((2, 4))
    index = np.array([[0, 0, 3], [2, 1, 2]])
    src = np.arange(6.0).reshape(2, 3)
    expected = x.copy()
    np.add.at(expected, (np.arange(2)[:, None], index), src)
    result = scatter_add(tg.tensor(x), 1, ints(index), tg.tensor(src))
    np.testing.assert_array_equal(result.numpy(), expected)
    np.testing.assert_array_equal(x, np.ones((2, 4)))  # out of place


def test_scatter_add_src_gradient_is_a_gather_and_zero_where_src_was_unused():
    src = tg.zeros(2, 3, requires_grad=True)
    out = scatter_add(tg.zeros(2, 2), 1, ints([[1, 0], [1, 1]]), src)
    out.backward(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(src.grad.numpy(), [[2.0, 1.0, 0.0], [4.0, 4.0, 0.0]])


def test_scatter_add_needs_src_of_the_inputs_dtype():
    with pytest.raises(RuntimeError, match=r"scatter_add: expected src to have the input's dtype "
                                           r"tapegrad.float32, got tapegrad.float64"):
        scatter_add(tg.zeros(3), 0, ints([0]), tg.ones(1, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"index of shape \(2,\) is larger than src of shape "
                                           r"\(1,\)"):
        scatter_add(tg.zeros(3), 0, ints([0, 1]), tg.ones(1))


def test_scatter_writes_src_or_a_value():
    x = tg.zeros(2, 3)
    result = scatter(x, 1, ints([[2], [0]]), tg.tensor([[5.0], [6.0]]))
    assert result.tolist() == [[0, 0, 5], [6, 0, 0]]
    assert scatter(x, 0, ints([[1, 0, 1]]), 7.0).tolist() == [[0, 7, 0], [7, 0, 7]]
    assert scatter(x, 0, ints([[1]]), value=2.0).tolist() == [[0, 0, 0], [2, 0, 0]]
    assert not x.numpy().any()


def test_scatter_input_gradient_is_zero_where_overwritten():
    x = tg.ones(2, 3, requires_grad=True)
    scatter(x, 1, ints([[2], [0]]), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1, 0], [0, 1, 1]])


def test_index_select_matches_numpy_take():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(index_select(tg.tensor(x), 1, ints([3, 0, 3])).numpy(),
                                  np.take(x, [3, 0, 3], axis=1))
    assert index_select(tg.tensor(x), 0, ints(2)).shape == (1, 4)


def test_index_select_gradient_adds_up_for_repeats():
    x = tg.zeros(3, 2, requires_grad=True)
    index_select(x, 0, ints([2, 2, 0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [0, 0], [2, 2]])


def test_index_select_errors():
    x = tg.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"index_select: expected the index to have dtype int64 "
                                           r"or int32, got tapegrad.float32"):
        index_select(x, 0, tg.tensor([0.0]))
    with pytest.raises(IndexError, match=r"index_select: the index must be a vector"):
        index_select(x, 0, ints([[0]]))
    with pytest.raises(IndexError, match=r"index_select: index 3 is out of range for dimension 0 "
                                         r"with size 3"):
        index_select(x, 0, ints([0, 3]))


# -- masks ---------------------------------------------------------------------------------------
def test_masked_fill_matches_numpy_where():
    x = np.arange(12.0).reshape(3, 4)
    mask = MASK_3x4.numpy()
    np.testing.assert_array_equal(masked_fill(tg.tensor(x), MASK_3x4, -1.0).numpy(),
                                  np.where(mask, -1.0, x))
    row_mask = tg.tensor([True, False, False, True])
    np.testing.assert_array_equal(masked_fill(tg.tensor(x), row_mask, 0.0).numpy()[:, 0], 0.0)


def test_masked_fill_keeps_the_dtype_truncating_a_float_into_ints():
    x = tg.tensor([1, 2, 3])
    result = masked_fill(x, tg.tensor([True, False, True]), 9.7)
    assert result.dtype is tg.int64 and result.tolist() == [9, 2, 9]
    y = masked_fill(tg.zeros(2), tg.tensor([True, False]), tg.tensor(1.0, dtype=tg.float64))
    assert y.dtype is tg.float32


def test_masked_fill_value_gradient_sums_over_the_masked_places():
    value = tg.tensor(0.0, requires_grad=True)
    masked_fill(tg.zeros(3, 4), MASK_3x4, value).sum().backward()
    assert value.grad.item() == MASK_3x4.numpy().sum()


def test_masked_fill_errors():
    with pytest.raises(RuntimeError, match=r"masked_fill: only bool masks are supported, got a "
                                           r"mask of dtype tapegrad.int64"):
        masked_fill(tg.zeros(3), tg.tensor([1, 0, 1]), 0.0)
    with pytest.raises(RuntimeError, match=r"masked_fill: only supports a 0-d value tensor, got "
                                           r"one of shape \(1,\)"):
        masked_fill(tg.zeros(3), tg.tensor([True, False, True]), tg.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"the mask of shape \(2,\) and the input of shape "
                                           r"\(3,\) cannot be broadcast together"):
        masked_fill(tg.zeros(3), tg.tensor([True, False]), 0.0)


def test_masked_select_matches_numpy_boolean_indexing():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(masked_select(tg.tensor(x), MASK_3x4).numpy(),
                                  x[MASK_3x4.numpy()])
    column = tg.tensor([[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(masked_select(column, MASK_3x4).numpy(),
                                  np.broadcast_to([[1.0], [2.0], [3.0]], (3, 4))[MASK_3x4.numpy()])


def test_nonzero_matches_numpy():
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    result = nonzero(tg.tensor(x))
    assert result.dtype is tg.int64
    np.testing.assert_array_equal(result.numpy(), np.argwhere(x))
    rows, cols = nonzero(tg.tensor(x), as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), [0, 1, 1])
    np.testing.assert_array_equal(cols.numpy(), [1, 0, 2])
    assert nonzero(tg.tensor(3.0)).shape == (1, 0)
    assert nonzero(tg.zeros(2, 3)).shape == (0, 2)


def test_nonzero_as_tuple_gives_views_refused_in_place_while_recording():
    # The vectors are columns of one (count, ndim) tensor, as in PyTorch: a fill with a value
    # that requires grad is refused (as for unbind's pieces); one that records nothing is not.
    x = tg.tensor([[-5, 3, -2]]).expand(3, 3)
    value = tg.tensor(-0.45, dtype=tg.float64, requires_grad=True)
    rows, cols = nonzero(x, as_tuple=True)
    with pytest.raises(RuntimeError, match=r"fill_: in-place change of a view \(shape \(9,\)\)"):
        rows.fill_(value)
    np.testing.assert_array_equal(rows.numpy(), [0, 0, 0, 1, 1, 1, 2, 2, 2])
    cols.fill_(7)
    np.testing.assert_array_equal(cols.numpy(), [7] * 9)
    with tg.no_grad():
        rows.fill_(value)
    np.testing.assert_array_equal(rows.numpy(), [0] * 9)
    assert nonzero(tg.tensor(3.0), as_tuple=True)[0].tolist() == [0]
    assert nonzero(tg.tensor(0.0), as_tuple=True)[0].shape == (0,)


def test_nonzero_has_no_gradient():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    assert nonzero(x).grad_fn is None and not nonzero(x).requires_grad


def test_a_number_that_does_not_fit_the_dtype_is_refused_naming_both():
    small = tg.zeros(2, dtype=tg.uint8)
    with pytest.raises(RuntimeError, match=r"setitem: value cannot be converted to type uint8 "
                                           r"without overflow \(the value 300\)"):
        indexing.setitem(small, 0, 300)
    with pytest.raises(RuntimeError, match=r"masked_fill: .* uint8 .*\(the value -256\)"):
        masked_fill(small, tg.tensor([True, False]), -256)
    with pytest.raises(RuntimeError, match=r"masked_fill: .* uint8 .*\(the value -11.5\)"):
        masked_fill(small, tg.tensor([True, False]), tg.tensor(-11.5))
    with pytest.raises(RuntimeError, match=r"scatter: .* uint8 .*\(the value 999\)"):
        scatter(small, 0, ints([0]), 999)
    assert small._version == 0 and not small.numpy().any()


def test_a_negative_number_an_n_bit_integer_holds_wraps_into_an_unsigned_dtype():
    # as in PyTorch: -1 is stored in uint8 as 255, -128 as 128, -255 as 1 (-256 is refused)
    small = tg.zeros(2, dtype=tg.uint8)
    assert masked_fill(small, tg.tensor([True, False]), -1).tolist() == [255, 0]
    assert masked_fill(small, tg.tensor([True, False]), tg.tensor(-255)).tolist() == [1, 0]
    assert scatter(small, 0, ints([1]), -128).tolist() == [0, 128]
    indexing.setitem(small, 0, -1)
    assert small.tolist() == [255, 0]


def test_0d_tensors_count_as_vectors_of_one_element_in_gather_and_scatter():
    assert gather(tg.tensor([1.0, 2.0]), 0, ints(1)).tolist() == 2.0
    assert scatter(tg.tensor(1.0), 0, ints(0), 3.0).tolist() == 3.0
    assert scatter_add(tg.tensor(1.0), 0, ints(0), tg.tensor(2.0)).tolist() == 3.0


# -- integers mixed with index arrays: the integers select first, as in PyTorch -------------
MIXED_KEYS = [  # (key, PyTorch's result written as integer selection, then the rest)
    ((1, slice(None), [0, 2]), lambda a: a[1][:, [0, 2]]),
    ((0, None, [1, 2]), lambda a: a[0][None, [1, 2]]),
    (([0, 1], 0, [1, 2]), lambda a: a[:, 0][[0, 1], [1, 2]]),
    ((0, slice(None), None, [1, 2]), lambda a: a[0][:, None, [1, 2]]),
    ((1, Ellipsis, [0, 2]), lambda a: a[1][..., [0, 2]]),
]


@pytest.mark.parametrize("key, integers_first", MIXED_KEYS, ids=str)
def test_integers_and_index_arrays_separated_by_a_slice_follow_pytorch(key, integers_first):
    values = np.arange(24.0).reshape(2, 3, 4)
    expected = integers_first(values)   # e.g. x[1, :, [0, 2]] is (3, 2), where numpy gives (2, 3)
    np.testing.assert_array_equal(tg.tensor(values)[key].numpy(), expected)


def test_a_zero_dim_index_tensor_selects_like_an_integer():
    x = tg.arange(24.0).reshape(2, 3, 4)
    assert tuple(x[tg.tensor(1), :, [0, 2]].shape) == (3, 2)


def test_assigning_through_a_mixed_key_writes_where_reading_reads():
    x = tg.zeros(2, 3, 4)
    x[1, :, [0, 2]] = tg.arange(6.0).reshape(3, 2)
    assert x[1, :, [0, 2]].tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert x.sum().item() == 15.0



def test_a_range_indexes_as_the_list_of_its_integers():
    x = tg.arange(10.0).reshape(5, 2)
    assert x[range(1, 4)].tolist() == x[[1, 2, 3]].tolist()
    assert x[range(0)].shape == (0, 2)
    assert x[:, range(2)].tolist() == x.tolist()
    w = tg.arange(4.0, requires_grad=True)
    w[range(0, 4, 2)].sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_an_empty_index_reads_and_writes_nothing_whatever_its_shape():
    # PyTorch checks no shapes for an empty index: gather gives an empty result, scatter x
    x = tg.ones(2, 3, requires_grad=True)
    y = gather(x, 1, ints([]).reshape(0))
    assert y.shape == (0,)
    y.sum().backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2
    assert scatter_add(tg.zeros(2, 2, 1), -1, ints([]), tg.ones(2, 2, 1)).tolist() == \
        [[[0.0], [0.0]]] * 2
    assert scatter(tg.zeros(2), 0, ints([]), 5.0).tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="must have as many dimensions"):
        gather(x, 1, ints([0]))


def test_scatter_takes_a_0d_tensor_as_its_value():
    x = tg.tensor([1.0, 2.0, 3.0])
    assert scatter(x, 0, ints([2, 0]), value=tg.tensor(-5.0)).tolist() == [-5.0, 2.0, -5.0]


def test_masked_fill_of_a_transposed_tensor_is_row_major_as_in_pytorch():
    x = tg.arange(9.0).reshape(3, 3).t()
    y = masked_fill(x, tg.tensor([True, False, False]), -1.0)
    assert y.view(9).tolist() == [-1.0, 3.0, 6.0, -1.0, 4.0, 7.0, -1.0, 5.0, 8.0]


def test_take_along_dim_of_a_0d_input_with_a_dim_is_refused():
    x, i = tg.tensor(1.0), tg.tensor(0)
    with pytest.raises(IndexError, match="take_along_dim: dim 0 was given but the input is 0-d"):
        tg.take_along_dim(x, i, dim=0)
    assert tg.take_along_dim(x, i).tolist() == [1.0]   # without dim: the flattened input


def test_scatter_of_a_0d_input_takes_a_0d_tensor_value_as_a_number():
    assert scatter(tg.tensor(3), 0, ints([0, 0]), value=tg.tensor(-2)).tolist() == -2


def test_an_empty_gather_is_a_new_tensor_that_may_change_in_place_before_backward():
    x = tg.zeros(5, 0, 5, requires_grad=True)
    taken = tg.take_along_dim(x.relu(), tg.zeros(5, 0, 5, dtype=tg.int64), dim=1)
    taken.mul_(2)   # relu saved its output; the empty result is not a view of it
    taken.sum().backward()
    assert x.grad.shape == (5, 0, 5)


def test_scatter_differentiates_with_respect_to_a_0d_value_tensor_that_requires_grad():
    x = tg.randn(3, 4, dtype=tg.float64, requires_grad=True)
    value = tg.tensor(0.5, dtype=tg.float64, requires_grad=True)
    index = tg.tensor([[0, 1, 2, 0], [2, 0, 1, 1]])   # eight distinct places
    assert tg.autograd.gradcheck(lambda x, v: tg.scatter(x, 0, index, value=v), (x, value))
    tg.scatter(x, 0, index, value=value).sum().backward()
    assert value.grad.item() == 8.0
