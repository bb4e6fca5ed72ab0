"""DataLoader: order, shuffling from a seeded generator, batch sizes, and the fast path."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import DataLoader, MNIST, Subset, TensorDataset, TextCorpus, default_collate


def numbered(n):
    """A dataset whose sample i is (i as a float vector of 2, i as a label)."""
    x = tg.arange(n, dtype=tg.float32).reshape(n, 1) * tg.ones(1, 2)
    return TensorDataset(x, tg.arange(n))


def labels_seen(loader):
    return [batch[1].tolist() for batch in loader]


def slow(batch):
    """The default collate, passed explicitly, which takes the per-sample path."""
    return default_collate(batch)


def test_without_shuffle_batches_come_in_order():
    assert labels_seen(DataLoader(numbered(7), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_batch_is_a_list_of_stacked_tensors():
    inputs, labels = next(iter(DataLoader(numbered(7), batch_size=3)))
    assert inputs.shape == (3, 2) and inputs.dtype is tg.float32
    assert labels.shape == (3,) and labels.dtype is tg.int64


@pytest.mark.parametrize("n, batch_size, drop_last, length, last", [
    (10, 3, False, 4, 1), (10, 3, True, 3, 3), (9, 3, False, 3, 3), (9, 3, True, 3, 3),
    (2, 5, False, 1, 2), (2, 5, True, 0, None), (0, 4, False, 0, None),
])
def test_len_counts_the_last_partial_batch_unless_drop_last(n, batch_size, drop_last, length, last):
    loader = DataLoader(numbered(n), batch_size=batch_size, drop_last=drop_last)
    batches = labels_seen(loader)
    assert len(loader) == len(batches) == length
    if last is not None:
        assert len(batches[-1]) == last
    assert all(len(b) == batch_size for b in batches[:-1])


def test_shuffle_gives_a_permutation_and_a_new_one_each_epoch():
    loader = DataLoader(numbered(50), batch_size=8, shuffle=True,
                        generator=tg.Generator().manual_seed(0))
    first = sum(labels_seen(loader), [])
    second = sum(labels_seen(loader), [])
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second and first != list(range(50))


def test_the_same_generator_seed_gives_the_same_order_and_another_seed_another():
    def epochs(seed):
        loader = DataLoader(numbered(30), batch_size=4, shuffle=True,
                            generator=tg.Generator().manual_seed(seed))
        return [labels_seen(loader) for _ in range(3)]
    assert epochs(3) == epochs(3)
    assert epochs(3) != epochs(4)


def test_without_a_generator_shuffling_follows_manual_seed():
    loader = DataLoader(numbered(30), batch_size=4, shuffle=True)
    tg.manual_seed(11)
    a = [labels_seen(loader), labels_seen(loader)]
    tg.manual_seed(11)
    b = [labels_seen(loader), labels_seen(loader)]
    assert a == b and a[0] != a[1]


def test_shuffle_is_the_generators_permutation():
    loader = DataLoader(numbered(20), batch_size=20, shuffle=True,
                        generator=tg.Generator().manual_seed(9))
    expected = tg.randperm(20, generator=tg.Generator().manual_seed(9)).tolist()
    assert labels_seen(loader) == [expected]


def test_drop_last_with_shuffle_drops_the_partial_batch():
    loader = DataLoader(numbered(10), batch_size=4, shuffle=True, drop_last=True,
                        generator=tg.Generator().manual_seed(0))
    batches = labels_seen(loader)
    assert [len(b) for b in batches] == [4, 4] and len(set(sum(batches, []))) == 8


def test_batch_size_none_yields_single_samples_with_arrays_converted():
    class Arrays:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full(2, i, np.float32), i
    loader = DataLoader(Arrays(), batch_size=None)
    samples = list(loader)
    assert len(loader) == 3 and len(samples) == 3
    x, label = samples[2]
    assert isinstance(x, tg.Tensor) and x.tolist() == [2, 2] and label == 2


def test_a_custom_collate_fn_receives_the_list_of_samples():
    loader = DataLoader(numbered(5), batch_size=2, collate_fn=lambda samples: samples)
    batch = next(iter(loader))
    assert isinstance(batch, list) and len(batch) == 2 and batch[1][1].item() == 1


def test_plain_objects_with_len_and_getitem_are_datasets_too():
    loader = DataLoader([(i, float(i)) for i in range(5)], batch_size=2)
    ints, floats = next(iter(loader))
    assert ints.tolist() == [0, 1] and floats.dtype is tg.float64  # Python floats, as PyTorch


def test_bad_arguments_are_errors_that_say_why():
    with pytest.raises(ValueError, match="positive integer or None, got 0"):
        DataLoader(numbered(3), batch_size=0)
    with pytest.raises(ValueError, match="batch_size=None.*drop_last"):
        DataLoader(numbered(3), batch_size=None, drop_last=True)


# -- the fast path: a whole batch fetched at once, equal to collating sample by sample ---------

def assert_same_batches(fast_loader, slow_loader):
    fast, slow_batches = list(fast_loader), list(slow_loader)
    assert len(fast) == len(slow_batches)
    for a, b in zip(fast, slow_batches):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert x.dtype is y.dtype and x.shape == y.shape
            assert np.array_equal(x.numpy(), y.numpy())


def make_datasets():
    base = numbered(23)
    return {
        "TensorDataset": base,
        "Subset": Subset(base, list(range(22, 0, -2))),
        "MNIST": Subset(MNIST(train=False), range(0, 2000, 37)),
        "TextCorpus": TextCorpus("hello world, hello tapegrad!\n" * 3, seq_len=5, stride=3),
    }


@pytest.mark.parametrize("name", ["TensorDataset", "Subset", "MNIST", "TextCorpus"])
def test_fast_path_equals_the_per_sample_path(name):
    dataset = make_datasets()[name]
    for shuffle in (False, True):
        fast = DataLoader(dataset, batch_size=4, shuffle=shuffle,
                          generator=tg.Generator().manual_seed(1))
        per_sample = DataLoader(dataset, batch_size=4, shuffle=shuffle, collate_fn=slow,
                                generator=tg.Generator().manual_seed(1))
        assert_same_batches(fast, per_sample)


def test_fast_path_does_not_index_samples_one_by_one(monkeypatch):
    dataset = numbered(10)
    def per_sample(self, index):
        raise AssertionError("the fast path indexed a single sample")
    monkeypatch.setattr(tg.Tensor, "__getitem__", per_sample)
    assert [b.tolist() for _, b in DataLoader(dataset, batch_size=4)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_subclass_with_its_own_getitem_gets_its_own_samples():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x, y * 2
    loader = DataLoader(Doubled(tg.zeros(4, 1), tg.arange(4)), batch_size=4)
    assert labels_seen(loader) == [[0, 2, 4, 6]]


def test_tensors_that_require_grad_keep_their_tape_in_batches():
    w = tg.ones(4, 2, requires_grad=True)
    inputs, = next(iter(DataLoader(TensorDataset(w), batch_size=2)))
    inputs.sum().backward()
    assert w.grad.tolist() == [[1, 1], [1, 1], [0, 0], [0, 0]]


@pytest.mark.parametrize("shuffle, drop_last", [(False, False), (True, False), (True, True)])
def test_the_fast_batches_are_the_batches_the_samplers_yield_one_index_at_a_time(shuffle,
                                                                                 drop_last):
    # The default samplers hand the DataLoader int64 arrays; the batches must be the ones
    # cutting their index-by-index stream gives, from the same draws.
    data = tg.data.TensorDataset(tg.arange(70))
    tg.manual_seed(3)
    fast = [batch[0].tolist() for batch in tg.data.DataLoader(data, batch_size=16,
                                                              shuffle=shuffle,
                                                              drop_last=drop_last)]
    tg.manual_seed(3)
    sampler = (tg.data.RandomSampler(data) if shuffle else tg.data.SequentialSampler(data))
    one_by_one = list(tg.data.BatchSampler(sampler, 16, drop_last))
    assert fast == one_by_one
