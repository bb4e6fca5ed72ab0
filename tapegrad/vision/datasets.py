"""``torchvision.datasets``' names: the image data sets of ``tapegrad.data``."""
from ..data.cifar import CIFAR10
from ..data.fake import FakeData
from ..data.mnist import MNIST, FashionMNIST

__all__ = ["CIFAR10", "FakeData", "FashionMNIST", "MNIST"]
