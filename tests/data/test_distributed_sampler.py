"""DistributedSampler: disjoint equal slices that cover the data set, one order per epoch."""
import pytest

import tapegrad as tg
from tapegrad.data import DataLoader, DistributedSampler, Sampler, TensorDataset


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False),
                                                    (2, 5, False), (23, 2, True)])
def test_the_slices_have_equal_length_and_together_cover_the_data_set(n, replicas, drop_last):
    slices = [list(DistributedSampler(range(n), replicas, r, seed=1, drop_last=drop_last))
              for r in range(replicas)]
    lengths = {len(s) for s in slices}
    assert lengths == {len(DistributedSampler(range(n), replicas, 0, drop_last=drop_last))}
    together = [i for s in slices for i in s]
    if drop_last:   # the tail is cut: no index twice, n // replicas each
        assert len(set(together)) == len(together) == replicas * (n // replicas)
    else:           # the tail is padded by repeating the order's start: every index is there
        assert set(together) == set(range(n))


def test_same_order_on_every_process_in_an_epoch_and_another_next_epoch():
    a, b = DistributedSampler(range(50), 2, 0), DistributedSampler(range(50), 2, 0)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert list(DistributedSampler(range(50), 2, 0, shuffle=False)) == list(range(0, 50, 2))


def test_matches_pytorch_without_shuffling():
    torch_sampler = pytest.importorskip("torch.utils.data.distributed").DistributedSampler
    for n, replicas, drop_last in [(10, 3, False), (10, 3, True), (2, 5, False), (7, 7, True)]:
        for r in range(replicas):
            ours = list(DistributedSampler(range(n), replicas, r, shuffle=False,
                                           drop_last=drop_last))
            theirs = list(torch_sampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
            assert ours == theirs, (n, replicas, r, drop_last)


def test_a_bad_rank_is_named():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(5), num_replicas=3, rank=3)


def test_a_dataloader_batches_the_slice_of_its_process():
    data = TensorDataset(tg.arange(10))
    sampler = DistributedSampler(data, num_replicas=2, rank=1, shuffle=False)
    assert isinstance(sampler, Sampler)
    batches = [b.tolist() for b, in DataLoader(data, batch_size=2, sampler=sampler)]
    assert batches == [[1, 3], [5, 7], [9]]


def test_reachable_at_pytorchs_path():
    from tapegrad.utils.data.distributed import DistributedSampler as at_torchs_path
    assert at_torchs_path is DistributedSampler
