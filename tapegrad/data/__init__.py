"""Data: datasets, batching, transforms and real data set loaders (PyTorch's torch.utils.data
and torchvision's names).

    from tapegrad.data import DataLoader, MNIST
    loader = DataLoader(MNIST(), batch_size=64, shuffle=True)   # MNIST(): the embedded subset
    for images, labels in loader:                             # (64, 1, 28, 28) float32, (64,) int64
        ...

Where to read: ``dataset.py`` (Dataset, TensorDataset, Subset, random_split), ``collate.py``
(how samples become a batch), ``sampler.py`` (the order of the samples), ``dataloader.py``,
``transforms.py``, the loaders ``mnist.py`` (with ``idx.py``, the file format), ``cifar.py``
and ``text.py``, and ``fake.py`` (random images); ``download.py`` fetches and checks files.
"""
from . import transforms
from .cifar import CIFAR10
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import Dataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .fake import FakeData
from .idx import CorruptFile
from .mnist import MNIST, FashionMNIST
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .text import TextCorpus
from .vision import ImageDataset

__all__ = ["BatchSampler", "CIFAR10", "CorruptFile", "DataLoader", "Dataset",
           "DistributedSampler", "FakeData", "FashionMNIST", "ImageDataset", "MNIST",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "TextCorpus", "WeightedRandomSampler", "default_collate",
           "default_convert", "random_split", "transforms"]
