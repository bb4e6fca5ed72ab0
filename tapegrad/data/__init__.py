"""Data: datasets, batching, transforms and real data set loaders (PyTorch's torch.utils.data
and torchvision's names).

    from tapegrad.data import DataLoader, MNIST
    loader = DataLoader(MNIST(), batch_size=64, shuffle=True)   # MNIST(): the embedded subset
    for images, labels in loader:                             # (64, 1, 28, 28) float32, (64,) int64
        ...

Where to read: ``dataset.py`` (Dataset, TensorDataset, Subset, random_split), ``collate.py``
(how samples become a batch), ``dataloader.py``, ``transforms.py``, and the loaders
``mnist.py`` (with ``idx.py``, the file format), ``cifar.py`` and ``text.py``;
``download.py`` fetches and checks files.
"""
from . import transforms
from .cifar import CIFAR10
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import Dataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .idx import CorruptFile
from .mnist import MNIST, FashionMNIST
from .text import TextCorpus
from .vision import ImageDataset

__all__ = ["CIFAR10", "CorruptFile", "DataLoader", "Dataset", "DistributedSampler", "FashionMNIST",
           "ImageDataset",
           "MNIST", "Subset", "TensorDataset", "TextCorpus", "default_collate", "default_convert",
           "random_split", "transforms"]
