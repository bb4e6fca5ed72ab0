"""DistributedDataParallel and SyncBatchNorm on 2 real processes: SyncBatchNorm's output and
gradients equal BatchNorm's on the whole batch; training equals one process on the
concatenated batches (SyncBatchNorm, momentum, uneven last batches, several buckets),
no_sync accumulation, BatchNorm buffers and broadcast_buffers, unused parameters
(tests/distributed/ranks/ddp.py does the checking on each process)."""
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn.parallel import DistributedDataParallel

from ..distributed.launch import assert_succeeded, launch


def test_ddp_training_on_two_processes_equals_one_process_on_the_whole_batch():
    result = launch("ddp.py", 2, timeout=120)
    assert_succeeded(result, 2, "rank {rank} of {size}: DDP matches one process")


def test_ddp_needs_a_process_group():
    import tapegrad.distributed as dist
    if dist.is_initialized():
        pytest.skip("a process group is up in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_sync_batchnorm_without_a_process_group_is_batchnorm():
    tg.manual_seed(0)
    plain = nn.BatchNorm2d(3)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)))[0]
    assert isinstance(synced, nn.SyncBatchNorm)
    x = tg.randn(4, 3, 5, 5)
    assert tg.allclose(plain(x), synced(x))
    assert tg.allclose(plain.running_var, synced.running_var)


@pytest.fixture
def world_of_one(monkeypatch):
    pytest.importorskip("mpi4py")
    import tapegrad.distributed as dist
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    dist.init_process_group("mpi")
    yield dist
    dist.destroy_process_group()


def test_a_bucket_starts_its_all_reduce_while_backward_is_still_computing(world_of_one):
    # After the first backward the buckets follow the order the gradients arrived in, so
    # the buckets of the later layers are on their way before the first layer's gradient
    # exists, and only the last, small bucket waits for the end of backward.
    dist = world_of_one
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                        nn.Linear(64, 4))
    model = DistributedDataParallel(net, bucket_cap_mb=64 * 65 * 4 / 2 ** 20)
    events = []
    started = dist.all_reduce

    def logging_all_reduce(tensor, *args, **kwargs):
        events.append(tensor.numel())
        return started(tensor, *args, **kwargs)
    model._dist = type("Logged", (), {"all_reduce": staticmethod(logging_all_reduce),
                                      "broadcast": staticmethod(dist.broadcast)})
    net[0].weight.register_post_accumulate_grad_hook(lambda p: events.append("first layer"))
    for _ in range(2):
        events.clear()
        model(tg.randn(8, 64)).sum().backward()
    before = events[:events.index("first layer")]
    assert len(before) >= 2, events
    assert sum(before) >= 4096 + 256 and events[-1] < 256, events   # last: the biases

def test_gradients_in_a_world_of_one_are_the_local_ones_and_no_sync_skips_them(world_of_one):
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    reference = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    reference.load_state_dict(net.state_dict())
    model = DistributedDataParallel(net)
    x = tg.randn(5, 3)
    model(x).pow(2).sum().backward()
    reference(x).pow(2).sum().backward()
    for p, q in zip(net.parameters(), reference.parameters()):
        assert tg.allclose(p.grad, q.grad)
    with model.no_sync():
        model(x).pow(2).sum().backward()
    assert tg.allclose(net[0].weight.grad, 2 * reference[0].weight.grad)
    assert list(model.state_dict()) == ["module." + k for k in reference.state_dict()]


def test_a_second_backward_through_one_forward_is_refused(world_of_one):
    model = DistributedDataParallel(nn.Linear(3, 2))
    loss = model(tg.randn(4, 3)).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward through one forward"):
        loss.backward()
