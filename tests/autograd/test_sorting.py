"""Sorting: sort, argsort, topk, kthvalue, median.

The values are read from the input at the found indices, so each value's gradient goes
back to the element it came from. Gradchecks use random values (no ties: at a tie the
order, and so the gradient, would jump).
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.sorting import argsort, kthvalue, median, sort, topk
from tests.support import Case, leaf, noncontiguous

CASES = [
    Case("sort", lambda x: sort(x).values, [leaf(5)], name="1d"),
    Case("sort", lambda x: sort(x, dim=0, descending=True).values, [leaf(4, 3)],
         name="dim0_descending"),
    Case("sort", lambda x: sort(x, -2, stable=True).values, [noncontiguous(3, 4)],
         name="negative_dim_noncontiguous"),
    Case("sort", lambda x: sort(x).values, [leaf()], name="0d"),
    Case("topk", lambda x: topk(x, 2).values, [leaf(5)], name="largest"),
    Case("topk", lambda x: topk(x, 3, dim=0, largest=False).values, [leaf(4, 2)],
         name="smallest_dim0"),
    Case("topk", lambda x: topk(x, 4, dim=-1).values, [noncontiguous(2, 4)],
         name="k_equals_size_noncontiguous"),
    Case("kthvalue", lambda x: kthvalue(x, 2).values, [leaf(3, 4)], name="last_dim"),
    Case("kthvalue", lambda x: kthvalue(x, 3, dim=0, keepdim=True).values, [leaf(4, 2)],
         name="dim0_keepdim"),
    Case("median", lambda x: median(x), [leaf(3, 4)], name="median_of_all_elements"),
    Case("median", lambda x: median(x, dim=1).values, [leaf(3, 5)], name="dim1"),
    Case("median", lambda x: median(x, 0, keepdim=True).values, [noncontiguous(4, 3)],
         name="dim0_keepdim_noncontiguous"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


VALUES = np.array([[0.5, -1.0, 3.0, 2.0], [4.0, 0.0, -2.0, 1.0], [1.5, 2.5, -0.5, 0.25]],
                  dtype=np.float32)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_matches_numpy(dim):
    values, indices = sort(tg.tensor(VALUES), dim)
    np.testing.assert_array_equal(values.numpy(), np.sort(VALUES, axis=dim))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(VALUES, axis=dim, kind="stable"))
    assert values.dtype is tg.float32 and indices.dtype is tg.int64


def test_sort_descending_matches_numpy_reversed():
    values, indices = sort(tg.tensor(VALUES), descending=True)
    np.testing.assert_array_equal(values.numpy(), -np.sort(-VALUES, axis=-1))
    np.testing.assert_array_equal(np.take_along_axis(VALUES, indices.numpy(), -1), values.numpy())


def test_sort_returns_a_named_tuple():
    result = sort(tg.tensor([2.0, 1.0]))
    assert result.values.tolist() == [1.0, 2.0] and result.indices.tolist() == [1, 0]
    assert type(result).__name__ == "sort"


def test_sort_is_stable_both_ways_keeping_equal_elements_in_order():
    x = tg.tensor([1.0, 3.0, 1.0, 3.0, 2.0])
    assert sort(x).indices.tolist() == [0, 2, 4, 1, 3]
    assert sort(x, descending=True).indices.tolist() == [1, 3, 4, 0, 2]
    assert argsort(x, descending=True, stable=True).tolist() == [1, 3, 4, 0, 2]


def test_sort_puts_nan_last_ascending_and_first_descending():
    x = tg.tensor([2.0, float("nan"), 1.0])
    assert sort(x).indices.tolist() == [2, 0, 1]
    assert sort(x, descending=True).indices.tolist() == [1, 0, 2]


def test_sort_works_on_integers_and_bools():
    assert sort(tg.tensor([3, -1, 2])).values.tolist() == [-1, 2, 3]
    assert sort(tg.tensor([True, False, True]), descending=True).indices.tolist() == [0, 2, 1]


def test_sort_gradient_goes_back_to_where_each_value_came_from():
    x = tg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    sort(x).values.backward(tg.tensor([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 10.0, 20.0])


def test_sort_of_a_0d_tensor():
    values, indices = sort(tg.tensor(5.0))
    assert values.shape == () and values.item() == 5.0 and indices.item() == 0


def test_sort_dim_out_of_range():
    with pytest.raises(IndexError, match=r"sort: dimension 2 is out of range for a tensor of "
                                         r"shape \(3, 4\)"):
        sort(tg.tensor(VALUES), 2)


def test_changing_the_returned_indices_in_place_before_backward_is_caught():
    x = tg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, indices = sort(x)
    indices.zero_()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation"):
        values.sum().backward()


def test_argsort_equals_the_sort_indices_and_has_no_gradient():
    x = tg.tensor(VALUES, requires_grad=True)
    order = argsort(x, dim=0)
    np.testing.assert_array_equal(order.numpy(), np.argsort(VALUES, axis=0, kind="stable"))
    assert order.dtype is tg.int64 and order.grad_fn is None
    assert argsort(tg.tensor(1.0)).tolist() == 0


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_descending_indices_are_contiguous_so_view_works_as_in_pytorch(dim):
    # A descending sort reverses an ascending one; the reversal must not leave negative
    # strides in the result, or x.argsort(descending=True).view(-1) fails where PyTorch's works.
    x = tg.tensor(np.arange(24.0).reshape(2, 3, 4) % 5)
    size = x.shape[dim]
    for indices in (argsort(x, dim=dim, descending=True), sort(x, dim, descending=True).indices,
                    sort(x, dim, descending=True).values, topk(x, size, dim=dim).indices,
                    topk(x, size, dim=dim).values):
        assert indices.is_contiguous() and all(step > 0 for step in indices.stride())
        np.testing.assert_array_equal(indices.view(-1).numpy(), indices.numpy().reshape(-1))


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_topk_matches_numpy(k, largest):
    values, indices = topk(tg.tensor(VALUES), k, largest=largest)
    ordered = -np.sort(-VALUES, axis=-1) if largest else np.sort(VALUES, axis=-1)
    np.testing.assert_array_equal(values.numpy(), ordered[:, :k])
    np.testing.assert_array_equal(np.take_along_axis(VALUES, indices.numpy(), -1), values.numpy())
    assert indices.dtype is tg.int64 and type(topk(tg.tensor(VALUES), k)).__name__ == "topk"


def test_topk_along_dim_0():
    values, indices = topk(tg.tensor(VALUES), 2, dim=0)
    np.testing.assert_array_equal(values.numpy(), -np.sort(-VALUES, axis=0)[:2])
    np.testing.assert_array_equal(indices.numpy(), [[1, 2, 0, 0], [2, 1, 2, 1]])


def test_topk_counts_nan_as_the_largest():
    values, indices = topk(tg.tensor([1.0, float("nan"), 3.0]), 2)
    assert np.isnan(values.tolist()[0]) and indices.tolist() == [1, 2]


def test_topk_gradient_is_zero_for_the_elements_not_chosen():
    x = tg.tensor([1.0, 5.0, 3.0, 4.0], requires_grad=True)
    topk(x, 2).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 1.0])


def test_topk_k_larger_than_the_dimension_names_k_and_the_size():
    with pytest.raises(RuntimeError, match=r"topk: k \(5\) is out of range: it must be in \[0, 4\]"
                                           r", the size of dimension -1"):
        topk(tg.tensor(VALUES), 5)
    with pytest.raises(RuntimeError, match=r"topk: k \(-1\) is out of range"):
        topk(tg.tensor(VALUES), -1)


def test_kthvalue_matches_numpy_and_counts_k_from_one():
    result = kthvalue(tg.tensor(VALUES), 2)
    np.testing.assert_array_equal(result.values.numpy(), np.sort(VALUES, axis=-1)[:, 1])
    np.testing.assert_array_equal(result.indices.numpy(), [0, 1, 3])
    assert result.values.shape == (3,) and type(result).__name__ == "kthvalue"
    kept = kthvalue(tg.tensor(VALUES), 1, dim=0, keepdim=True)
    assert kept.values.shape == (1, 4) and kept.indices.shape == (1, 4)
    np.testing.assert_array_equal(kept.values.numpy(), VALUES.min(axis=0, keepdims=True))


def test_kthvalue_k_out_of_range():
    with pytest.raises(RuntimeError, match=r"kthvalue: k \(0\) is out of range: it must be in "
                                           r"\[1, 4\]"):
        kthvalue(tg.tensor(VALUES), 0)


def test_median_of_all_elements_is_the_lower_middle_one():
    assert median(tg.tensor([4.0, 1.0, 3.0, 2.0])).item() == 2.0
    result = median(tg.tensor(VALUES))
    assert result.shape == () and result.item() == np.sort(VALUES.ravel())[5]


def test_median_along_a_dim_returns_values_and_indices():
    result = median(tg.tensor(VALUES), dim=1)
    np.testing.assert_array_equal(result.values.numpy(), [0.5, 0.0, 0.25])
    np.testing.assert_array_equal(result.indices.numpy(), [0, 1, 3])
    assert type(result).__name__ == "median"
    assert median(tg.tensor(VALUES), 0, keepdim=True).values.shape == (1, 4)


def test_median_propagates_nan():
    x = tg.tensor([[1.0, float("nan"), 2.0], [3.0, 1.0, 2.0]])
    result = median(x, dim=1)
    assert np.isnan(result.values.tolist()[0]) and result.indices.tolist() == [1, 2]
    assert np.isnan(median(x).item())


def test_median_gradient_goes_to_the_middle_element():
    x = tg.tensor([5.0, 1.0, 3.0], requires_grad=True)
    median(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


def test_median_of_all_elements_shares_its_gradient_among_ties_and_nans_as_pytorch():
    inf, nan = float("inf"), float("nan")
    x = tg.tensor([inf, 1.0, inf, inf, 2.0], requires_grad=True)   # median inf, 3 ties
    median(x).backward(tg.tensor(3.0))
    assert x.grad.tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    x = tg.tensor([nan, 1.0, nan, 2.0], requires_grad=True)   # median NaN: the NaNs share
    median(x).backward(tg.tensor(inf))
    assert x.grad.tolist() == [inf, 0.0, inf, 0.0]


def test_median_of_all_elements_written_over_in_place_still_finds_its_element():
    # The backward looks for the elements equal to the median: the one it computed, not
    # what an in-place step wrote into the result later (PyTorch refuses this backward;
    # with the in-place step on a copy it gives these gradients).
    x = tg.tensor([5.0, 1.0, 3.0], requires_grad=True)
    median(x).mul_(2.0).backward()
    assert x.grad.tolist() == [0.0, 0.0, 2.0]
    x = tg.tensor([2.0, -3.0], requires_grad=True)
    median(x).relu_().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_median_of_an_empty_dim_is_an_error():
    with pytest.raises(RuntimeError, match=r"median: dimension 0 of the input of shape \(0, 2\) "
                                           r"is empty"):
        median(tg.zeros(0, 2), 0)


def test_sort_of_a_0d_tensor_takes_dim_0_or_minus_1_only():
    x = tg.tensor(2.0)
    assert sort(x, dim=-1).values.item() == 2.0 and sort(x, dim=0).indices.item() == 0
    with pytest.raises(IndexError, match="sort"):
        sort(x, dim=1)
