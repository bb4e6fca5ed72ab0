"""Dataset, TensorDataset, Subset and random_split."""
import pytest

import tapegrad as tg
from tapegrad.data import Dataset, Subset, TensorDataset, random_split


def test_tensor_dataset_sample_is_a_tuple_of_rows():
    x, y = tg.arange(12).reshape(4, 3), tg.tensor([10, 11, 12, 13])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    row, label = ds[2]
    assert row.tolist() == [6, 7, 8] and label.item() == 12 and label.ndim == 0


def test_tensor_dataset_rejects_tensors_whose_first_dims_differ_naming_the_sizes():
    with pytest.raises(ValueError, match=r"size mismatch.*\[4, 3\]"):
        TensorDataset(tg.zeros(4, 2), tg.zeros(3))


def test_tensor_dataset_rejects_non_tensors_and_0d_tensors():
    with pytest.raises(TypeError, match="argument 1 is a list"):
        TensorDataset(tg.zeros(2), [1, 2])
    with pytest.raises(ValueError, match="tensor 0 is 0-d"):
        TensorDataset(tg.tensor(1.0))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_dataset_base_class_asks_subclasses_for_getitem_and_len():
    class Empty(Dataset):
        pass
    with pytest.raises(NotImplementedError, match="Empty must define __getitem__"):
        Empty()[0]
    with pytest.raises(NotImplementedError, match="Empty must define __len__"):
        len(Empty())


def test_subset_maps_its_indices_into_the_dataset():
    ds = TensorDataset(tg.arange(10) * 10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][0].item() == 70 and sub[-1][0].item() == 50
    assert [item[0].item() for item in sub[[1, 2]]] == [20, 50]


def _all_indices(subsets):
    return [list(s.indices) for s in subsets]


def test_random_split_with_integer_lengths_partitions_the_dataset():
    parts = random_split(range(10), [3, 7], generator=tg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))


@pytest.mark.parametrize("n, fractions, sizes", [
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),   # floors 3, 3, 3; the remainder 1 goes to the first
    (11, [0.5, 0.5], [6, 5]),
    (7, [0.2, 0.2, 0.6], [2, 1, 4]),       # floors 1, 1, 4 (0.6 · 7 = 4.2); remainder 1
    (10, [0.8, 0.2], [8, 2]),
])
def test_random_split_fractions_floor_then_hand_out_the_remainder_round_robin(n, fractions, sizes):
    parts = random_split(range(n), fractions, generator=tg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == sizes


def test_random_split_is_repeatable_with_a_seeded_generator_and_differs_across_seeds():
    a = random_split(range(20), [10, 10], generator=tg.Generator().manual_seed(1))
    b = random_split(range(20), [10, 10], generator=tg.Generator().manual_seed(1))
    c = random_split(range(20), [10, 10], generator=tg.Generator().manual_seed(2))
    assert _all_indices(a) == _all_indices(b) != _all_indices(c)


def test_random_split_without_a_generator_follows_manual_seed():
    tg.manual_seed(5)
    a = random_split(range(20), [0.5, 0.5])
    tg.manual_seed(5)
    b = random_split(range(20), [0.5, 0.5])
    assert _all_indices(a) == _all_indices(b)


def test_random_split_refuses_lengths_that_do_not_sum_to_the_length():
    with pytest.raises(ValueError, match=r"\[4, 5\] sum to 9, but the dataset has 10 samples"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="non-negative integers"):
        random_split(range(10), [2.5, 7.5])


def test_random_split_refuses_fractions_outside_0_1_and_warns_about_empty_splits():
    with pytest.raises(ValueError, match="fraction at index 0 is -0.5"):
        random_split(range(10), [-0.5, 1.5])
    with pytest.warns(UserWarning, match="split at index 1 is 0"):
        parts = random_split(range(2), [0.95, 0.05])
    assert [len(p) for p in parts] == [2, 0]
