"""Optimizers and learning-rate schedulers, with PyTorch's names and update rules.

    opt = tapegrad.optim.Adam(model.parameters(), lr=1e-3)
    sched = tapegrad.optim.lr_scheduler.StepLR(opt, step_size=10)
    for batch in data:
        opt.zero_grad()
        loss_fn(model(batch.x), batch.y).backward()
        opt.step()
    sched.step()   # once per epoch

``optimizer.py`` has what all optimizers share (parameter groups, state, checkpoints); each
other file holds one update rule, written out in its docstring.
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer",
           "RMSprop", "SGD", "lr_scheduler", "required"]
