"""LeNet-5 on MNIST, trained on several processes with DistributedDataParallel.

Launch it with tapegrad's launcher (torchrun's flags, over mpiexec):

    python -m tapegrad.distributed.run --nproc-per-node 2 examples/ddp_mnist.py
    python -m tapegrad.distributed.run --nproc-per-node 2 examples/ddp_mnist.py --quick

Each process builds the same LeNet-5 (DDP copies rank 0's weights to the others), reads
its own slice of every epoch (DistributedSampler: the same shuffled order on all
processes, every ``world_size``-th sample from its rank on), and computes the gradient of
its slice. DDP averages the gradients over the processes during backward, so every process
takes the same Adam step and the replicas stay equal: with 2 processes and 32 images each,
a step is a step on 64 images. Rank 0 evaluates and prints.

The DataLoader takes the sampler (``DataLoader(train, batch_size=32, sampler=sampler)``),
so each process's batches come from its slice only. With the defaults, on 2 processes:
95.1% test accuracy after 3 epochs (about 20 s on a 2-core VM).
"""
import argparse
import time

import tapegrad as tg
import tapegrad.distributed as dist
from tapegrad import nn
from tapegrad.data import MNIST, DataLoader, DistributedSampler, TensorDataset
from tapegrad.nn import functional as F
from tapegrad.nn.parallel import DistributedDataParallel

MEAN, STD = 0.1307, 0.3081


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def as_inputs(dataset):
    """The images as normalised float32 (N, 1, 28, 28), and the labels."""
    images = dataset.data.float().unsqueeze(1) / 255.0
    return (images - MEAN) / STD, dataset.targets


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 2,000 images")
    args = parser.parse_args()

    dist.init_process_group("gloo")          # PyTorch's CPU name; tapegrad runs it on MPI
    rank, world = dist.get_rank(), dist.get_world_size()
    tg.manual_seed(0)
    train, test = MNIST(), MNIST(train=False)  # the embedded subset: no download
    images, labels = as_inputs(train)
    if args.quick:
        images, labels, args.epochs = images[:2000], labels[:2000], 1
    model = DistributedDataParallel(lenet5())
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr)
    data = TensorDataset(images, labels)
    sampler = DistributedSampler(data, shuffle=True, seed=0)   # this process's slice
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)   # a new shuffle, the same on every process
        begin, total, seen = time.perf_counter(), 0.0, 0
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()          # the gradients are averaged over the processes here
            optimizer.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        mean_loss = tg.tensor([total / seen])
        dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG)
        took = time.perf_counter() - begin
        if rank == 0:
            print(f"epoch {epoch + 1}: loss {mean_loss.item():.4f}, {seen * world / took:.0f} "
                  f"images/s on {world} processes ({took:.1f} s)", flush=True)

    if rank == 0:
        model.eval()
        test_images, test_labels = as_inputs(test)
        with tg.no_grad():
            predicted = model.module(test_images).argmax(1)
        accuracy = (predicted == test_labels).float().mean().item()
        print(f"test accuracy: {accuracy:.1%} (rank 0 of {world})", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
