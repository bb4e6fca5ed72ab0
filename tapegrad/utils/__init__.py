"""PyTorch's ``torch.utils`` paths, so ``from tapegrad.utils.data import DataLoader`` works
in a script written for PyTorch (``import tapegrad as torch``). ``tapegrad.utils.tensorboard``
(``SummaryWriter``) is imported on its own, as it needs the tensorboard package."""
from . import data  # noqa: F401
