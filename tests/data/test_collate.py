"""default_collate: how a list of samples becomes one batch (PyTorch's rules)."""
import collections

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import default_collate, default_convert


def test_tensors_are_stacked_along_a_new_first_dim():
    batch = default_collate([tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]), tg.tensor([5.0, 6.0])])
    assert batch.shape == (3, 2) and batch.dtype is tg.float32
    assert batch.tolist() == [[1, 2], [3, 4], [5, 6]]


def test_tensors_of_different_shapes_give_an_error_naming_both():
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        default_collate([tg.zeros(2), tg.zeros(3)])


def test_numpy_arrays_become_tensors_of_their_dtype():
    batch = default_collate([np.ones((2, 2), np.float64), np.zeros((2, 2), np.float64)])
    assert batch.dtype is tg.float64 and batch.shape == (2, 2, 2)
    assert default_collate([np.arange(3, dtype=np.uint8)] * 2).dtype is tg.uint8


@pytest.mark.parametrize("values, dtype", [
    ([1.5, 2.5], tg.float64),        # as PyTorch: Python floats are float64
    ([1, 2], tg.int64),
    ([True, False], tg.bool),
    ([np.float64(1.0), np.float64(2.0)], tg.float64),
    ([np.int32(1), np.int32(2)], tg.int32),
])
def test_numbers_become_a_1d_tensor(values, dtype):
    batch = default_collate(values)
    assert batch.dtype is dtype and batch.tolist() == [v.item() if hasattr(v, "item") else v
                                                       for v in values]


def test_python_floats_become_float64_whatever_the_default_dtype_as_in_pytorch():
    assert default_collate([0.5, 1.5]).dtype is tg.float64


def test_strings_are_left_as_a_list():
    assert default_collate(["a", "bc"]) == ["a", "bc"]


def test_nested_tuple_of_tensor_int_and_dict_is_collated_inside_out():
    samples = [(tg.full((2,), float(i)), i,
                {"id": i, "name": f"s{i}", "x": np.full(3, i, np.int16)}) for i in range(4)]
    batch = default_collate(samples)
    assert isinstance(batch, list) and len(batch) == 3   # a tuple becomes a list, as PyTorch
    images, labels, info = batch
    assert images.shape == (4, 2) and images[:, 0].tolist() == [0, 1, 2, 3]
    assert labels.dtype is tg.int64 and labels.tolist() == [0, 1, 2, 3]
    assert set(info) == {"id", "name", "x"}
    assert info["id"].tolist() == [0, 1, 2, 3] and info["name"] == ["s0", "s1", "s2", "s3"]
    assert info["x"].dtype is tg.int16 and info["x"].shape == (4, 3)


def test_lists_are_transposed_and_named_tuples_keep_their_type():
    assert [t.tolist() for t in default_collate([[1, 2.0], [3, 4.0]])] == [[1, 3], [2.0, 4.0]]
    Pair = collections.namedtuple("Pair", "x y")
    batch = default_collate([Pair(1, 2.0), Pair(3, 4.0)])
    assert isinstance(batch, Pair) and batch.x.tolist() == [1, 3] and batch.y.tolist() == [2, 4]


def test_sequences_of_different_lengths_are_an_error():
    with pytest.raises(RuntimeError, match="equal size.*sample 0 has 2 entries and sample 1 has 3"):
        default_collate([[1, 2], [1, 2, 3]])


def test_unknown_types_and_empty_batches_are_errors():
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="non-empty list"):
        default_collate([])
    with pytest.raises(TypeError, match="strings or objects"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_turns_arrays_into_tensors_without_batching():
    converted = default_convert((np.zeros(3, np.float32), 2, {"y": np.ones(2)}))
    assert isinstance(converted, list)
    assert converted[0].shape == (3,) and converted[0].dtype is tg.float32
    assert converted[1] == 2 and converted[2]["y"].dtype is tg.float64
