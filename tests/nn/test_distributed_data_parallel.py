"""DistributedDataParallel on 2 real processes: training equals one process on the
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
