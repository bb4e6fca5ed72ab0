"""Training on an imbalanced MNIST with a WeightedRandomSampler, visualised with TensorBoard
(in the manner of PyTorch's "Visualizing Models, Data, and Training with TensorBoard").

Keeps only a few examples of the odd digits, oversamples them so that every class is seen
about equally often, logs the loss, a grid of images, the weights' histograms and the graph
to TensorBoard, and writes the grid as a PNG that torchvision.io reads back."""
import argparse
import os
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset, WeightedRandomSampler
from torch.utils.tensorboard import SummaryWriter
from torchvision import datasets, transforms
from torchvision.io import ImageReadMode, read_image, write_png

parser = argparse.ArgumentParser(description="imbalanced MNIST with TensorBoard")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--keep-odd", type=int, default=5, help="examples kept of each odd digit")
parser.add_argument("--logdir", default="runs/imbalanced")
args = parser.parse_args()
torch.manual_seed(0)

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
full = datasets.MNIST("../data", train=True, download=True, transform=transform)
labels = full.targets.tolist()
seen = Counter()
keep = []
for index, label in enumerate(labels):
    if label % 2 == 0 or seen[label] < args.keep_odd:
        keep.append(index)
        seen[label] += 1
train = Subset(full, keep)
counts = Counter(labels[i] for i in keep)
print("examples per digit:", dict(sorted(counts.items())))

# Each example is drawn with probability inversely proportional to its class's size.
weights = torch.tensor([1.0 / counts[labels[i]] for i in keep], dtype=torch.double)
sampler = WeightedRandomSampler(weights, num_samples=len(keep), replacement=True)
loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)

drawn = Counter()
for _, target in loader:
    drawn.update(target.tolist())
odd_share = sum(n for digit, n in drawn.items() if digit % 2) / sum(drawn.values())
print(f"share of odd digits drawn in one epoch: {odd_share:.2f}")

model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
writer = SummaryWriter(args.logdir)

images, _ = next(iter(loader))
grid = torchvision.utils.make_grid(images[:16], nrow=4, normalize=True)
writer.add_image("mnist_images", grid)
writer.add_graph(model, images)

step = 0
while step < args.steps:
    for data, target in loader:
        loss = F.cross_entropy(model(data), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("training loss", loss.item(), step)
        step += 1
        if step >= args.steps:
            break
for name, parameter in model.named_parameters():
    writer.add_histogram(name, parameter, step)
writer.close()
print(f"step {step}: loss {loss.item():.4f}")

png = os.path.join(args.logdir, "grid.png")
write_png((grid * 255).to(torch.uint8), png)
back = read_image(png, mode=ImageReadMode.GRAY)
print(f"wrote {png}: {tuple(back.shape)} {back.dtype}")
print("event files:", sorted(f for f in os.listdir(args.logdir) if f.startswith("events")))
