"""Run on every process by tests/nn/test_distributed_data_parallel.py: DistributedDataParallel
training against one process training on the concatenated batches (which every process can
replay by itself, since it can make every rank's batches)."""
import numpy as np

import tapegrad as tg
import tapegrad.distributed as dist
from tapegrad import nn
from tapegrad.data import DistributedSampler, TensorDataset
from tapegrad.nn import functional as F
from tapegrad.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()

generator = np.random.default_rng(7)
images = tg.from_numpy(generator.standard_normal((23, 1, 6, 6)).astype("float32"))
labels = tg.from_numpy(generator.integers(0, 4, 23))
dataset = TensorDataset(images, labels)
BATCH = 4


def batches(r, epoch):
    """Rank r's batches in this epoch: the sampler's indices, BATCH at a time (the last one
    smaller: 23 samples, drop_last cuts them to 22, so 11 per rank with 2 ranks: 4, 4, 3)."""
    sampler = DistributedSampler(dataset, num_replicas=size, rank=r, shuffle=True, seed=3,
                                 drop_last=True)
    sampler.set_epoch(epoch)
    order = list(sampler)
    return [order[i:i + BATCH] for i in range(0, len(order), BATCH)]


def convnet(seed, norm=nn.BatchNorm2d):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3), norm(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, 4))


def sgd(model):
    return tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)


def assert_same_state(model, reference, what):
    for (name, a), (_, b) in zip(model.state_dict().items(), reference.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=f"rank {rank}: {what}: {name}")


# -- 0. SyncBatchNorm alone: output, input gradient, parameter gradient, running statistics ---
everything = tg.from_numpy(np.random.default_rng(11).standard_normal((3 * size, 3, 4, 4)))
weights = tg.from_numpy(np.random.default_rng(12).standard_normal((3 * size, 3, 4, 4)))
x_all = everything.clone().requires_grad_()
plain = nn.BatchNorm2d(3).double()
(plain(x_all) * weights).sum().backward()
x = everything[3 * rank:3 * rank + 3].clone().requires_grad_()
synced = nn.SyncBatchNorm(3).double()
y = synced(x)
(y * weights[3 * rank:3 * rank + 3]).sum().backward()
expected = plain(everything).detach()[3 * rank:3 * rank + 3]   # plain is in training mode:
np.testing.assert_allclose(y.detach().numpy(), expected.numpy(), atol=1e-12)  # same stats
np.testing.assert_allclose(x.grad.numpy(), x_all.grad.numpy()[3 * rank:3 * rank + 3], atol=1e-12)
gamma_grad = synced.weight.grad.clone()
dist.all_reduce(gamma_grad)   # each rank has its batch's share of γ's gradient
np.testing.assert_allclose(gamma_grad.numpy(), plain.weight.grad.numpy(), atol=1e-12)
# plain saw two batches (the second above, to compare outputs): replay its first update
fresh = nn.BatchNorm2d(3).double()
fresh(everything)
for buffer in ("running_mean", "running_var"):
    np.testing.assert_allclose(getattr(synced, buffer).numpy(), getattr(fresh, buffer).numpy(),
                               atol=1e-12, err_msg=buffer)

# -- 1. SyncBatchNorm + momentum SGD + uneven last batches, 2 epochs --------------------------
reference = convnet(seed=0)
ref_opt = sgd(reference)
local = nn.SyncBatchNorm.convert_sync_batchnorm(convnet(seed=rank))   # different on each rank:
model = DDP(local, bucket_cap_mb=0.0005)                              # DDP broadcasts rank 0's
assert len(model._buckets) > 1, "a small cap must give several buckets"
opt = sgd(model)
for epoch in range(2):
    mine, everyone = batches(rank, epoch), [batches(r, epoch) for r in range(size)]
    for step, indices in enumerate(mine):
        opt.zero_grad()
        F.cross_entropy(model(images[indices]), labels[indices]).backward()
        opt.step()
        together = [i for b in everyone for i in b[step]]   # every rank's batch, concatenated
        ref_opt.zero_grad()
        F.cross_entropy(reference(images[together]), labels[together]).backward()
        ref_opt.step()
assert all(k.startswith("module.") for k in model.state_dict()), list(model.state_dict())
assert_same_state(model.module, reference, "SyncBatchNorm DDP vs one process")
assert model.module[1].num_batches_tracked.item() == 6

# -- 2. no_sync: accumulate two micro-batches, average once ---------------------------------
def mlp(seed):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 8), nn.Tanh(), nn.Linear(8, 4))


reference, model = mlp(0), DDP(mlp(0))
ref_opt, opt = sgd(reference), sgd(model)
for step, indices in enumerate(batches(rank, 0)[:2]):
    opt.zero_grad()
    first, second = indices[:2], indices[2:]
    with model.no_sync():   # local only: the gradients differ between the ranks here
        (F.cross_entropy(model(images[first]), labels[first], reduction="sum")
         / len(indices)).backward()
    local_grad = model.module[1].weight.grad.numpy().copy()
    gathered = [tg.zeros(*local_grad.shape) for _ in range(size)]
    dist.all_gather(gathered, tg.from_numpy(local_grad))
    assert not np.allclose(gathered[0].numpy(), gathered[1].numpy()), "no_sync must not average"
    (F.cross_entropy(model(images[second]), labels[second], reduction="sum")
     / len(indices)).backward()
    opt.step()
    together = [i for r in range(size) for i in batches(r, 0)[step]]
    ref_opt.zero_grad()
    F.cross_entropy(reference(images[together]), labels[together]).backward()
    ref_opt.step()
assert_same_state(model.module, reference, "no_sync accumulation")

# -- 3. plain BatchNorm: buffers follow broadcast_buffers -------------------------------------
for broadcast in (True, False):
    model = DDP(convnet(seed=0), broadcast_buffers=broadcast)
    opt = sgd(model)
    for indices in batches(rank, 0):
        opt.zero_grad()
        F.cross_entropy(model(images[indices]), labels[indices]).backward()
        opt.step()
    model.eval()
    model(images[:2])   # with gradients enabled, a forward broadcasts rank 0's buffers first
    stats = model.module[1].running_mean
    gathered = [tg.zeros(3) for _ in range(size)]
    dist.all_gather(gathered, stats)
    same = all(np.array_equal(g.numpy(), gathered[0].numpy()) for g in gathered)
    assert same == broadcast, f"broadcast_buffers={broadcast}: running means {gathered}"

# -- 4. unused parameters --------------------------------------------------------------------
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.used, self.unused = nn.Linear(36, 5), nn.Linear(5, 4), nn.Linear(5, 4)

    def forward(self, x):
        return self.used(self.body(x.flatten(1)).relu())


tg.manual_seed(0)
model = DDP(TwoHeads(), find_unused_parameters=True)
for indices in batches(rank, 0)[:2]:
    model.zero_grad()
    F.cross_entropy(model(images[indices]), labels[indices]).backward()
assert model.module.unused.weight.grad is None and model.module.used.weight.grad is not None

class EachRankItsHead(TwoHeads):   # rank 0 uses "used", the others "unused"
    def forward(self, x):
        head = self.used if rank == 0 else self.unused
        return head(self.body(x.flatten(1)).relu())


tg.manual_seed(0)
model = DDP(EachRankItsHead(), find_unused_parameters=True)
F.cross_entropy(model(images[:4]), labels[:4], reduction="sum").backward()
tg.manual_seed(0)
alone = EachRankItsHead()   # the same weights, this rank's gradient without averaging
F.cross_entropy(alone(images[:4]), labels[:4], reduction="sum").backward()
mine = alone.used if rank == 0 else alone.unused
theirs = model.module.used if rank == 0 else model.module.unused
np.testing.assert_allclose(theirs.weight.grad.numpy(), mine.weight.grad.numpy() / size,
                           rtol=1e-5, atol=1e-7)   # averaged with zeros from the others
other = model.module.unused if rank == 0 else model.module.used
assert other.weight.grad is not None   # used on another process: it gets their average

# The same with one parameter per bucket: each process fills its buckets in another order
# (its unused head first, during forward), and the buckets must still be reduced pairwise.
for bucket_cap_mb in (1e-6, 25):
    tg.manual_seed(0)
    model = DDP(EachRankItsHead(), find_unused_parameters=True, bucket_cap_mb=bucket_cap_mb)
    F.cross_entropy(model(images[:4]), labels[:4], reduction="sum").backward()
    theirs = model.module.used if rank == 0 else model.module.unused
    np.testing.assert_allclose(theirs.weight.grad.numpy(), mine.weight.grad.numpy() / size,
                               rtol=1e-5, atol=1e-7, err_msg=f"bucket_cap_mb={bucket_cap_mb}")

model = DDP(TwoHeads())
F.cross_entropy(model(images[:4]), labels[:4]).backward()
try:
    model(images[:4])
except RuntimeError as error:
    assert "find_unused_parameters=True" in str(error) and "unused.weight" in str(error), error
else:
    raise AssertionError("a forward after a backward that left parameters out must raise")

print(f"rank {rank} of {size}: DDP matches one process", flush=True)
