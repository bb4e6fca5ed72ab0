"""MNIST and Fashion-MNIST: 28×28 grayscale images in 10 classes, 60,000 to train, 10,000 to test.

``MNIST(root)`` reads the four original IDX files (see ``idx.py``), gzip-compressed or not,
from ``root/MNIST/raw/`` (torchvision's layout, where ``download=True`` puts them) or from
``root`` itself. ``MNIST()`` with no root uses the subset shipped inside tapegrad
(``embedded/mnist_subset.npz``: 10,000 training and 2,000 test images, 1,000 and 200 of
each digit), so examples run with no network and no data folder. Fashion-MNIST has the
same files and layout (``root/FashionMNIST/raw/``), but no embedded subset.

As in torchvision, ``.data`` is a uint8 tensor (N, 28, 28), ``.targets`` an int64 tensor,
and ``.classes`` the class names. Items are described in ``vision.py``.
"""
import importlib.resources
import os

import numpy  # files are parsed on the host

from ..autograd.tensor import wrap
from ..backend import CPU
from .download import download_file
from .idx import CorruptFile, read_idx
from .vision import ImageDataset

EMBEDDED = "mnist_subset.npz"


def _load_embedded(train):
    """The embedded subset's images and labels (see scripts/make_mnist_subset.py)."""
    split = "train" if train else "test"
    resource = importlib.resources.files(__package__) / "embedded" / EMBEDDED
    with resource.open("rb") as file, numpy.load(file) as archive:
        return archive[f"{split}_images"], archive[f"{split}_labels"]


class MNIST(ImageDataset):
    """The MNIST handwritten digits (LeCun, Cortes and Burges; CC BY-SA 3.0).

    ``root``: a folder with the four IDX files (``train-images-idx3-ubyte.gz`` …), directly
    or in ``root/MNIST/raw/``; ``None`` means the subset shipped inside tapegrad.
    ``train``: the training split, else the test split. ``transform`` receives each image
    as a uint8 array (28, 28); ``target_transform`` each label (an int). ``download=True``
    fetches missing files into ``root/MNIST/raw/`` and checks their MD5s.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    has_embedded_subset = True

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = None if root is None else os.path.expanduser(os.fspath(root))
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        if self.root is None:
            images, labels = self._embedded(download)
        else:
            images, labels = self._read_files(download)
        self.data = wrap(images, CPU)
        self.targets = wrap(labels.astype(numpy.int64), CPU)

    @property
    def raw_folder(self):
        """Where ``download=True`` puts the files: ``root/<class name>/raw``."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _embedded(self, download):
        name = type(self).__name__
        if not self.has_embedded_subset:
            raise ValueError(f"{name}(root=None): only MNIST ships inside tapegrad; give {name} "
                             f"a root folder, with download=True to fetch the files into it")
        if download:
            raise ValueError(f"{name}(root=None, download=True): the embedded subset needs no "
                             f"download; to download the full data set, give a root folder")
        return _load_embedded(self.train)

    def _find(self, filename):
        """The path of ``filename`` (or of its uncompressed form) under root, or None."""
        for folder in (self.raw_folder, self.root):
            for name in (filename, filename[:-len(".gz")]):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    return path
        return None

    def _read_files(self, download):
        names = [name for name, _ in self.resources]
        image_file, label_file = names[:2] if self.train else names[2:]
        paths = []
        for filename in (image_file, label_file):
            path = self._find(filename)
            if path is None and download:
                md5 = dict(self.resources)[filename]
                urls = [mirror + filename for mirror in self.mirrors]
                path = download_file(urls, self.raw_folder, filename, md5)
            if path is None:
                raise FileNotFoundError(
                    f"{type(self).__name__}: {filename} not found in {self.raw_folder} or in "
                    f"{self.root}. Pass download=True to fetch it, or put the original file "
                    f"there" + (" (MNIST() with no root uses the embedded subset)"
                                if self.has_embedded_subset else ""))
            paths.append(path)
        images, labels = read_idx(paths[0], ndim=3), read_idx(paths[1], ndim=1)
        if len(images) != len(labels):
            raise CorruptFile(f"{paths[0]} holds {len(images)} images but {paths[1]} holds "
                              f"{len(labels)} labels: one of them is not the matching original "
                              f"file; delete them and download again")
        if labels.size and labels.max() >= len(self.classes):
            raise CorruptFile(f"{paths[1]}: label {labels.max()} is not one of the "
                              f"{len(self.classes)} classes: the file is corrupt; delete it and "
                              f"download it again")
        return images, labels

    def extra_repr(self):
        where = "the subset embedded in tapegrad" if self.root is None else self.root
        return f"Root location: {where}\nSplit: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: clothes in MNIST's format (Xiao, Rasul and Vollgraf; MIT license).

    The same arguments and file layout as ``MNIST`` (``root/FashionMNIST/raw/``), but a
    root folder is required: only MNIST has an embedded subset.
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    has_embedded_subset = False
