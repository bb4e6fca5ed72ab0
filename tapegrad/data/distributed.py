"""``DistributedSampler``: which samples each process of a data-parallel job reads.

Each epoch, every process draws the same order of the whole data set (shuffled with the
seed ``seed + epoch``, so call ``set_epoch(epoch)`` before each epoch), pads it by repeating
its beginning (or, with ``drop_last``, cuts it) to a multiple of the number of processes,
and takes every ``num_replicas``-th index starting at its rank. So the processes read
disjoint slices of equal length, which together cover the data set.
"""
import math

import numpy as np

from .. import random as tg_random
from .sampler import Sampler


class DistributedSampler(Sampler[int]):
    """``DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
    drop_last=False)``: the indices of ``dataset`` for process ``rank`` of ``num_replicas``
    (both default to the process group's)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed
            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "tapegrad.distributed.init_process_group first")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)   # the tail dropped
        else:
            self.num_samples = math.ceil(n / num_replicas)                    # the tail padded
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:   # the same order on every process: a generator seeded alike
            generator = tg_random.Generator().manual_seed(self.seed + self.epoch)
            from ..creation import randperm
            order = randperm(n, generator=generator).numpy()
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:   # repeat the order from its start, as often as needed
            order = np.resize(order, self.total_size)
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use a new shuffle for this epoch (the same on every process)."""
        self.epoch = epoch
