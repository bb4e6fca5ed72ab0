"""PyTorch's ``torch.utils`` paths, so ``from tapegrad.utils.data import DataLoader`` works
in a script written for PyTorch (``import tapegrad as torch``)."""
from . import data  # noqa: F401
