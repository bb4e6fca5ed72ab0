"""Saving and loading a general checkpoint to resume training: the model's and the
optimizer's state_dict, the epoch and the loss in one file; a new model and optimizer
load it and go on exactly where the first run stopped."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--path", default="checkpoint.pt")
args = parser.parse_args()

torch.manual_seed(0)
inputs = torch.randn(8, 3, 32, 32)
labels = torch.randint(0, 10, (8,))
criterion = nn.CrossEntropyLoss()


def train(net, optimizer, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(net(inputs), labels)
        loss.backward()
        optimizer.step()
    return loss


net = Net()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
loss = train(net, optimizer, args.steps)
scheduler.step()
print("trained for {} steps, loss {:.6f}".format(args.steps, loss.item()))

torch.save({
    'epoch': 1,
    'model_state_dict': net.state_dict(),
    'optimizer_state_dict': optimizer.state_dict(),
    'scheduler_state_dict': scheduler.state_dict(),
    'loss': loss,
}, args.path)

# the run we compare with: two more steps straight on
straight_on = train(net, optimizer, 2).item()

model = Net()
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

checkpoint = torch.load(args.path, weights_only=True)
model.load_state_dict(checkpoint['model_state_dict'])
optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
scheduler.load_state_dict(checkpoint['scheduler_state_dict'])
epoch = checkpoint['epoch']
loss = checkpoint['loss']
print("resumed at epoch {} with loss {:.6f}, lr {}".format(epoch, loss.item(),
                                                           optimizer.param_groups[0]['lr']))

model.train()
resumed = train(model, optimizer, 2).item()
print("two more steps: straight on {:.6f}, resumed {:.6f}".format(straight_on, resumed))
assert abs(straight_on - resumed) < 1e-6, (straight_on, resumed)
print("the resumed run continues exactly")
