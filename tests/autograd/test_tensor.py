"""What a Tensor is: leaves and non-leaves, requires_grad, detach, versions, conversion."""
import numpy as np
import pytest

import tapegrad as tg

from ..support import leaf


def test_shape_is_a_tuple_that_prints_like_pytorch():
    x = tg.zeros(3, 4)
    assert x.shape == (3, 4) and x.size() == (3, 4) and x.size(1) == 4 and x.size(-1) == 4
    assert repr(x.shape) == "tapegrad.Size([3, 4])"
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 12 and len(x) == 3


def test_size_of_a_dim_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"dimension 2 is out of range.*\(3, 4\)"):
        tg.zeros(3, 4).size(2)


def test_a_dim_to_read_must_be_an_int():
    for method in ("size", "stride"):
        with pytest.raises(TypeError, match=f"{method}: dim must be an int, got str"):
            getattr(tg.ones(2, 3), method)("1")


def test_a_0d_tensor_has_no_dimension_to_read():
    for method in ("size", "stride"):
        with pytest.raises(IndexError, match=f"{method}: dimension 0 was given but a 0-d tensor"):
            getattr(tg.ones(()), method)(0)


@pytest.mark.parametrize("make, strides, contiguous", [
    (lambda: tg.zeros(2, 3, 4), (12, 4, 1), True),
    (lambda: tg.zeros(2, 3).t(), (1, 3), False),
    (lambda: tg.zeros(3, 1).expand(3, 4), (1, 0), False),
    (lambda: tg.zeros(2, 3, 4)[:, ::2], (12, 8, 1), False),
    (lambda: tg.zeros(1, 3).t(), (1, 3), True),      # a size-1 dim's step does not matter
    (lambda: tg.zeros(0, 3), (3, 1), True),
    (lambda: tg.zeros(2, 0, 4), (4, 4, 1), True),   # a 0-size dim steps as a 1-size one
    (lambda: tg.zeros(3, 0), (1, 1), True),
    (lambda: tg.zeros(()), (), True),
], ids=["row-major", "transposed", "expanded", "sliced", "size-1 dim", "empty", "empty inner",
        "empty last", "0-d"])
def test_strides_count_elements_and_contiguity_is_row_major_order(make, strides, contiguous):
    x = make()
    assert x.stride() == strides and x.is_contiguous() is contiguous
    if strides:
        assert x.stride(-1) == strides[-1]
    assert x.contiguous().is_contiguous()


def test_leaves_and_results():
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward0"
    assert tg.ones(2).is_leaf


def test_operations_on_tensors_that_need_no_grad_record_nothing():
    y = tg.ones(2) * 2
    assert y.grad_fn is None and not y.requires_grad


def test_no_grad_records_nothing_even_for_tensors_that_require_grad():
    x = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        y = x * 2
    assert y.grad_fn is None and not y.requires_grad


def test_integer_and_bool_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point.*int64"):
        tg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point.*bool"):
        tg.tensor([True]).requires_grad = True


def test_requires_grad_of_a_non_leaf_cannot_be_switched_off():
    y = tg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf.*'mul'.*detach"):
        y.requires_grad_(False)


def test_detach_shares_memory_and_version_but_not_history():
    x = leaf(3)
    y = x * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.numpy(), y.array)
    d.add_(1)
    assert y._version == 1


def test_in_place_change_of_a_saved_tensor_is_caught_at_backward():
    x = leaf(3)
    y = x.exp()
    z = y.sum() * 1.0
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*'exp'.*version 0.*"
                                           r"'add_'.*version 1"):
        (y * z).sum().backward()


def test_in_place_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w.mul_(2)
    np.testing.assert_allclose(w.detach().numpy(), np.ones(3))
    with tg.no_grad():
        w.mul_(2)
    np.testing.assert_allclose(w.detach().numpy(), np.full(3, 2.0))


def test_numpy_of_a_tensor_that_requires_grad_says_to_detach():
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        tg.ones(2, requires_grad=True).numpy()


def test_item_and_tolist():
    assert tg.tensor([[2.5]]).item() == 2.5
    assert tg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(RuntimeError, match=r"one element.*\(2,\)"):
        tg.tensor([1.0, 2.0]).item()


def test_truth_value_of_a_many_element_tensor_is_ambiguous():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tg.ones(2))
    assert bool(tg.ones(1))


def test_assigned_grad_must_match_shape_and_dtype():
    x = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*shape \(3,\)"):
        x.grad = tg.ones(2)
    with pytest.raises(RuntimeError, match="dtype"):
        x.grad = tg.ones(3, dtype=tg.float64)
    x.grad = tg.zeros(3)
    assert x.grad.shape == (3,)


def test_repr_shows_values_and_grad_state():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(tg.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(tg.ones(1, requires_grad=True) * 2)
    assert "dtype=tapegrad.float64" in repr(tg.ones(1, dtype=tg.float64))


def test_numpy_functions_see_tensors_as_arrays_but_operators_stay_tapegrad():
    x = tg.tensor([1.0, 2.0])
    assert np.asarray(x).tolist() == [1.0, 2.0]
    y = np.array([2.0, 2.0], dtype=np.float32) * x
    assert isinstance(y, tg.Tensor)


def test_float_conversions():
    x = tg.tensor([1.5, 2.5])
    assert x.double().dtype == tg.float64 and x.long().dtype == tg.int64
    assert x.to(tg.float64).dtype == tg.float64 and x.to("cpu") is x
    assert x.half().dtype == tg.float16 and x.int().dtype == tg.int32 and x.bool().dtype == tg.bool


def test_deepcopy_of_a_leaf_copies_values_grad_and_requires_grad():
    import copy
    x = tg.ones(2, requires_grad=True)
    (x * 3).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.grad.tolist() == [3.0, 3.0]
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    assert copy.deepcopy(tg.device("cuda:1")) == "cuda:1"


def test_deepcopy_of_an_operation_result_is_refused_as_in_pytorch():
    import copy
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        copy.deepcopy(tg.ones(2, requires_grad=True) * 2)


def test_repr_shows_small_values_instead_of_zeros():
    assert "1.43e-05" in repr(tg.tensor([1.43e-5]))


# -- formatting and type names, as PyTorch -------------------------------------------------
def test_a_0d_tensor_formats_as_its_number():
    loss = tg.tensor(0.123456)
    assert "{:.4f}".format(loss) == "0.1235" and f"{loss:.2e}" == "1.23e-01"
    assert f"{tg.tensor(7):d}" == "7" and f"{tg.tensor(2.5, requires_grad=True) * 2:.1f}" == "5.0"


def test_other_tensors_format_as_str_and_refuse_a_format_spec():
    x = tg.tensor([1.0, 2.0])
    assert "{}".format(x) == str(x)
    with pytest.raises(TypeError, match="unsupported format string"):
        "{:.2f}".format(x)


def test_type_names_the_tensor_type_as_pytorch_and_casts_with_an_argument():
    assert tg.zeros(1).type() == "torch.FloatTensor"
    assert tg.zeros(1, dtype=tg.int64).type() == "torch.LongTensor"
    assert tg.zeros(1, dtype=tg.bool).type() == "torch.BoolTensor"
    assert tg.zeros(1, dtype=tg.uint8).type() == "torch.ByteTensor"
    x = tg.tensor([1.7, -2.2])
    assert x.type(tg.float64).dtype is tg.float64
    assert x.type("torch.IntTensor").tolist() == [1, -2]
    assert x.type("tapegrad.DoubleTensor").dtype is tg.float64
    assert x.type(tg.LongTensor).dtype is tg.int64
    with pytest.raises(TypeError, match="unknown tensor type"):
        x.type("torch.ComplexTensor")


def test_format_and_type_match_pytorch():
    torch = pytest.importorskip("torch")
    for make in (lambda lib: lib.tensor(1.5), lambda lib: lib.tensor([1, 2]),
                 lambda lib: lib.tensor([True]), lambda lib: lib.zeros(2, dtype=lib.float16)):
        assert make(tg).type() == make(torch).type()
    assert "{:.3f}".format(tg.tensor(1.23456)) == "{:.3f}".format(torch.tensor(1.23456))


def test_a_tensor_and_a_parameter_pickle_after_backward_as_leaves_with_their_grads():
    import pickle
    parameter = tg.nn.Parameter(tg.tensor([1.0, 2.0]))
    (parameter * 3).sum().backward()
    copy = pickle.loads(pickle.dumps(parameter))
    assert type(copy) is tg.nn.Parameter and copy.is_leaf and copy.requires_grad
    assert copy.tolist() == [1.0, 2.0] and copy.grad.tolist() == [3.0, 3.0]
    result = pickle.loads(pickle.dumps(parameter.exp()))   # a result: a leaf, as in PyTorch
    assert result.is_leaf and result.requires_grad and result.grad_fn is None


def test_pytorchs_device_questions_have_answers():
    x = tg.zeros(2)
    assert x.is_cpu and not x.is_cuda and not x.is_xpu and not x.is_mps
