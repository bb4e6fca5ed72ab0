"""Samplers: each one's index stream, its length, its randomness and its errors, as PyTorch's."""
import collections
import itertools

import hypothesis
import hypothesis.strategies as st
import pytest

import tapegrad as tg
from tapegrad.data import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler,
                           SubsetRandomSampler, TensorDataset, WeightedRandomSampler)
from tapegrad.data import sampler as sampler_module


def seeded(seed):
    return tg.Generator().manual_seed(seed)


# -- Sampler and SequentialSampler ------------------------------------------------------------

def test_the_base_class_is_generic_and_asks_subclasses_for_iter():
    class Evens(Sampler[int]):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

    assert list(Evens(7)) == [0, 2, 4, 6]
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(Sampler())


def test_sequential_sampler_counts_up_to_the_length_every_epoch():
    sampler = SequentialSampler(range(10, 15))
    assert list(sampler) == list(sampler) == [0, 1, 2, 3, 4] and len(sampler) == 5


# -- RandomSampler -------------------------------------------------------------------------

def test_random_sampler_with_a_generator_is_that_generators_permutations():
    sampler = RandomSampler(range(6), generator=seeded(5))
    mirror = seeded(5)
    for _ in range(3):  # each epoch continues the same stream
        assert list(sampler) == tg.randperm(6, generator=mirror).tolist()
        # PyTorch then draws one more permutation for the remaining num_samples % n = 0
        tg.randperm(6, generator=mirror)


def test_random_sampler_num_samples_beyond_n_chains_permutations_then_a_part():
    sampler = RandomSampler(range(4), num_samples=10, generator=seeded(2))
    mirror = seeded(2)
    expected = sum((tg.randperm(4, generator=mirror).tolist() for _ in range(2)), [])
    expected += tg.randperm(4, generator=mirror).tolist()[:2]
    stream = list(sampler)
    assert stream == expected and len(sampler) == 10
    assert sorted(stream[:4]) == sorted(stream[4:8]) == [0, 1, 2, 3]


def test_random_sampler_num_samples_below_n_is_the_start_of_one_permutation():
    stream = list(RandomSampler(range(9), num_samples=4, generator=seeded(0)))
    assert stream == tg.randperm(9, generator=seeded(0)).tolist()[:4]


def test_random_sampler_with_replacement_draws_uniformly_in_blocks_of_32():
    sampler = RandomSampler(range(5), replacement=True, num_samples=70, generator=seeded(4))
    mirror = seeded(4)
    expected = sum((tg.randint(0, 5, (size,), generator=mirror).tolist() for size in (32, 32, 6)),
                   [])
    assert list(sampler) == expected and len(sampler) == 70
    counts = collections.Counter(RandomSampler(range(5), True, 5000, seeded(1)))
    assert set(counts) == {0, 1, 2, 3, 4}
    assert all(abs(c / 5000 - 0.2) < 0.03 for c in counts.values())


def test_random_sampler_without_a_generator_follows_manual_seed_and_differs_per_epoch():
    sampler = RandomSampler(range(20))
    tg.manual_seed(3)
    first = [list(sampler), list(sampler)]
    tg.manual_seed(3)
    again = [list(sampler), list(sampler)]
    assert first == again and first[0] != first[1]
    assert sorted(first[0]) == list(range(20))


def test_random_sampler_without_a_generator_seeds_a_fresh_one_per_epoch():
    """PyTorch's rule: one draw from the default generator per epoch, whatever the length."""
    tg.manual_seed(8)
    list(RandomSampler(range(1000)))
    after_long = tg.rand(1).item()
    tg.manual_seed(8)
    list(RandomSampler(range(3)))
    assert tg.rand(1).item() == after_long


def test_random_sampler_num_samples_follows_the_data_source():
    data = [1, 2, 3]
    sampler = RandomSampler(data)
    data.append(4)
    assert len(sampler) == sampler.num_samples == 4


def test_random_sampler_arguments_are_checked_with_pytorchs_words():
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got "
                                        "replacement=1"):
        RandomSampler(range(3), replacement=1)
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match=f"num_samples should be a positive integer value, "
                                             f"but got num_samples={bad}"):
            RandomSampler(range(3), num_samples=bad)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])  # an empty data source has no samples to draw
    with pytest.raises(ValueError, match="empty"):
        list(RandomSampler([], num_samples=3))


# -- SubsetRandomSampler ---------------------------------------------------------------------

def test_subset_random_sampler_permutes_the_given_indices():
    indices = [10, 20, 30, 40, 50]
    sampler = SubsetRandomSampler(indices, generator=seeded(6))
    order = tg.randperm(5, generator=seeded(6)).tolist()
    assert list(sampler) == [indices[i] for i in order] and len(sampler) == 5
    tg.manual_seed(1)
    a = list(SubsetRandomSampler(indices))
    tg.manual_seed(1)
    assert list(SubsetRandomSampler(indices)) == a and sorted(a) == indices


# -- WeightedRandomSampler -------------------------------------------------------------------

def test_weighted_sampler_with_replacement_follows_the_weights():
    weights = [1.0, 0.0, 3.0, 6.0]
    sampler = WeightedRandomSampler(weights, 20000, generator=seeded(0))
    counts = collections.Counter(sampler)
    assert len(sampler) == 20000 and 1 not in counts
    for i, w in enumerate(weights):
        assert abs(counts[i] / 20000 - w / 10) < 0.015


def test_weighted_sampler_accepts_tensors_and_keeps_float64_weights():
    sampler = WeightedRandomSampler(tg.tensor([0.5, 0.5]), 3)
    assert sampler.weights.dtype is tg.float64 and sampler.weights.tolist() == [0.5, 0.5]
    assert sampler.replacement is True


def test_weighted_sampler_without_replacement_draws_each_index_once_in_weighted_order():
    weights = [1.0, 2.0, 7.0]
    total = sum(weights)
    pairs = collections.Counter()
    generator = seeded(3)
    trials = 6000
    for _ in range(trials):
        stream = list(WeightedRandomSampler(weights, 2, replacement=False, generator=generator))
        assert len(set(stream)) == 2
        pairs[tuple(stream)] += 1
    # P(first i, then j) = w_i / S · w_j / (S - w_i): drawing one by one, renormalising
    for i, j in itertools.permutations(range(3), 2):
        expected = weights[i] / total * weights[j] / (total - weights[i])
        assert abs(pairs[i, j] / trials - expected) < 0.02, (i, j)


def test_weighted_sampler_without_replacement_never_draws_a_zero_weight():
    for seed in range(20):
        stream = list(WeightedRandomSampler([0, 1, 0, 2, 5], 3, False, seeded(seed)))
        assert sorted(stream) == [1, 3, 4]


def test_weighted_sampler_streams_repeat_under_manual_seed():
    tg.manual_seed(4)
    a = list(WeightedRandomSampler([1, 2, 3], 10))
    tg.manual_seed(4)
    assert list(WeightedRandomSampler([1, 2, 3], 10)) == a


def test_weighted_sampler_arguments_are_checked():
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match=f"num_samples should be a positive integer value, "
                                             f"but got num_samples={bad}"):
            WeightedRandomSampler([1, 2], bad)
    with pytest.raises(ValueError, match="replacement should be a boolean value, but got "
                                         "replacement=0"):
        WeightedRandomSampler([1, 2], 1, replacement=0)
    with pytest.raises(ValueError, match=r"weights should be a 1d sequence but given weights "
                                         r"have shape \(2, 2\)"):
        WeightedRandomSampler([[1, 2], [3, 4]], 1)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, -1], 1)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, float("nan")], 1)
    with pytest.raises(ValueError, match="sum to 0"):
        WeightedRandomSampler([0, 0], 1)
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement from 2"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(TypeError, match="weights should be a sequence of numbers, got"):
        WeightedRandomSampler(["a", "b"], 1)


def test_a_generator_that_is_not_a_tapegrad_generator_is_refused_by_name():
    for sampler in (RandomSampler(range(3), generator=5),
                    WeightedRandomSampler([1, 2], 2, generator=5)):
        with pytest.raises(TypeError, match="generator must be a tapegrad.Generator .*got int 5"):
            list(sampler)


# -- BatchSampler ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, size, drop_last, batches", [
    (10, 3, False, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    (10, 3, True, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    (6, 3, True, [[0, 1, 2], [3, 4, 5]]),
    (2, 5, True, []),
    (0, 2, False, []),
])
def test_batch_sampler_cuts_the_stream_into_lists(n, size, drop_last, batches):
    sampler = BatchSampler(SequentialSampler(range(n)), size, drop_last)
    assert list(sampler) == batches and len(sampler) == len(batches)


def test_batch_sampler_takes_any_iterable_of_indices():
    assert list(BatchSampler([5, 3, 1, 4], 3, False)) == [[5, 3, 1], [4]]


def test_batch_sampler_arguments_are_checked_with_pytorchs_words():
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match=f"batch_size should be a positive integer value, "
                                             f"but got batch_size={bad}"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got "
                                         "drop_last=1"):
        BatchSampler(range(3), 2, 1)


# -- DataLoader with samplers ----------------------------------------------------------------

def numbered(n):
    return TensorDataset(tg.arange(n, dtype=tg.float32).reshape(n, 1), tg.arange(n))


def labels_seen(loader):
    return [labels.tolist() for _, labels in loader]


def test_the_default_samplers_are_sequential_or_random():
    loader = DataLoader(numbered(5), batch_size=2)
    assert type(loader.sampler) is SequentialSampler
    assert type(loader.batch_sampler) is BatchSampler and loader.batch_sampler.batch_size == 2
    generator = seeded(0)
    shuffled = DataLoader(numbered(5), shuffle=True, generator=generator)
    assert type(shuffled.sampler) is RandomSampler and shuffled.sampler.generator is generator


def test_a_sampler_chooses_the_order_and_batch_size_cuts_it():
    loader = DataLoader(numbered(10), batch_size=3, sampler=[9, 7, 5, 3, 1], drop_last=False)
    assert labels_seen(loader) == [[9, 7, 5], [3, 1]] and len(loader) == 2
    weighted = DataLoader(numbered(4), batch_size=50,
                          sampler=WeightedRandomSampler([0, 0, 1, 0], 50))
    assert labels_seen(weighted) == [[2] * 50]


def test_a_batch_sampler_chooses_whole_batches():
    loader = DataLoader(numbered(10), batch_sampler=[[0, 9], [4], [2, 2, 2]])
    assert labels_seen(loader) == [[0, 9], [4], [2, 2, 2]] and len(loader) == 3
    assert loader.batch_size is None and loader.drop_last is False
    sampler = BatchSampler(SubsetRandomSampler([1, 3, 5, 7], seeded(0)), 2, drop_last=False)
    batches = labels_seen(DataLoader(numbered(8), batch_sampler=sampler))
    assert [len(b) for b in batches] == [2, 2] and sorted(sum(batches, [])) == [1, 3, 5, 7]


def test_batch_size_none_with_a_sampler_yields_the_sampled_items():
    loader = DataLoader(numbered(6), batch_size=None, sampler=[4, 1])
    assert [y.item() for _, y in loader] == [4, 1] and len(loader) == 2


def test_the_fast_path_serves_sampled_batches(monkeypatch):
    def per_sample(self, index):
        raise AssertionError("the fast path indexed a single sample")
    dataset = numbered(10)
    monkeypatch.setattr(tg.Tensor, "__getitem__", per_sample)
    loader = DataLoader(dataset, batch_size=4, sampler=RandomSampler(dataset, generator=seeded(1)))
    order = tg.randperm(10, generator=seeded(1)).tolist()
    assert labels_seen(loader) == [order[:4], order[4:8], order[8:]]


def test_a_sampler_of_keys_reaches_a_mapping_dataset():
    class Squares:
        def __getitem__(self, key):
            return {"a": 1, "b": 4, "c": 9}[key]

        def __len__(self):
            return 3
    loader = DataLoader(Squares(), batch_size=2, sampler=["c", "a", "b"])
    assert [batch.tolist() for batch in loader] == [[9, 1], [4]]


def test_mutually_exclusive_options_raise_pytorchs_errors():
    dataset = numbered(4)
    with pytest.raises(ValueError, match="^sampler option is mutually exclusive with shuffle$"):
        DataLoader(dataset, shuffle=True, sampler=[0, 1])
    message = ("^batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
               "and drop_last$")
    for extra in ({"batch_size": 2}, {"shuffle": True}, {"sampler": [0]}, {"drop_last": True}):
        with pytest.raises(ValueError, match=message):
            DataLoader(dataset, batch_sampler=[[0]], **extra)
    with pytest.raises(ValueError, match="^batch_size=None option disables auto-batching and is "
                                         "mutually exclusive with drop_last$"):
        DataLoader(dataset, batch_size=None, drop_last=True)


def test_worker_options_are_checked_as_pytorch_checks_them():
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(numbered(3), persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(numbered(3), prefetch_factor=2)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(numbered(3), timeout=-1)
    loader = DataLoader(numbered(3), num_workers=2, prefetch_factor=2, persistent_workers=True)
    assert labels_seen(loader) == [[0], [1], [2]]
    unordered = DataLoader(numbered(3), num_workers=2, in_order=False)   # any order is allowed
    assert labels_seen(unordered) == [[0], [1], [2]] and unordered.in_order is False


def test_the_arguments_take_pytorchs_positions():
    loader = DataLoader(numbered(4), 2, False, None, None, 0, None, False, True)
    assert loader.batch_size == 2 and loader.drop_last is True


def test_the_module_exports_pytorchs_names():
    assert set(sampler_module.__all__) == {"Sampler", "SequentialSampler", "RandomSampler",
                                           "SubsetRandomSampler", "WeightedRandomSampler",
                                           "BatchSampler"}


def test_lengths_and_errors_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import sampler as theirs
    for args in [(range(7), False, None), (range(7), True, 30), (range(7), False, 20)]:
        assert len(RandomSampler(*args)) == len(theirs.RandomSampler(*args))
    for n, size, drop in itertools.product([0, 1, 7, 9], [1, 3, 4], [False, True]):
        ours = list(BatchSampler(range(n), size, drop))
        assert ours == list(theirs.BatchSampler(range(n), size, drop))
        assert len(BatchSampler(range(n), size, drop)) == len(theirs.BatchSampler(range(n), size,
                                                                                   drop))
    for call in (lambda m: m.RandomSampler(range(3), num_samples=-1),
                 lambda m: m.BatchSampler(range(3), 0, False),
                 lambda m: m.WeightedRandomSampler([1, 2], 0)):
        with pytest.raises(ValueError) as ours:
            call(sampler_module)
        with pytest.raises(ValueError) as expected:
            call(theirs)
        assert str(ours.value) == str(expected.value)
    del torch


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(n=st.integers(1, 40), num_samples=st.integers(1, 90), replacement=st.booleans(),
                  batch_size=st.integers(1, 12), drop_last=st.booleans(), seed=st.integers(0, 99))
def test_batches_are_the_sampler_stream_cut_in_order(n, num_samples, replacement, batch_size,
                                                     drop_last, seed):
    sampler = RandomSampler(range(n), replacement, num_samples, seeded(seed))
    stream = list(RandomSampler(range(n), replacement, num_samples, seeded(seed)))
    assert len(stream) == num_samples and all(0 <= i < n for i in stream)
    if not replacement:  # each full pass is a permutation
        for start in range(0, num_samples - n + 1, n):
            assert sorted(stream[start:start + n]) == list(range(n))
    batches = list(BatchSampler(sampler, batch_size, drop_last))
    assert len(batches) == len(BatchSampler(sampler, batch_size, drop_last))
    kept = len(stream) - len(stream) % batch_size if drop_last else len(stream)
    assert [i for batch in batches for i in batch] == stream[:kept]
    assert all(len(batch) == batch_size for batch in batches[:-1])
