"""CIFAR-10: 32×32 colour images in 10 classes, 50,000 to train and 10,000 to test.

``CIFAR10(root)`` reads the python version of the data set, as torchvision does:
``root/cifar-10-batches-py/`` holding ``data_batch_1`` … ``data_batch_5``, ``test_batch`` and
``batches.meta`` (unpacked from ``cifar-10-python.tar.gz``). Each batch is a Python pickle of
a dict: ``b"data"`` a (10000, 3072) uint8 array whose rows are 1024 red, 1024 green, then
1024 blue values, and ``b"labels"`` 10000 ints.

Unpickling a file can run any code hidden in it, so every file is unpickled only after its
MD5 matched the published one, and even then by an unpickler that allows nothing but numpy
arrays and plain values.

Credit: Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", University of
Toronto, 2009 (collected by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton).
"""
import codecs
import os
import pickle

import numpy  # files are parsed on the host

from .download import check_md5, download_file, extract_tar, md5_of
from .idx import CorruptFile
from .vision import ImageDataset

# The only globals a CIFAR-10 batch refers to: how numpy arrays (and Python 2 strings) are
# rebuilt. ``numpy.ndarray.__reduce__`` names the rebuilding function of this numpy version.
_RECONSTRUCT = numpy.zeros(1).__reduce__()[0]
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
            ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
            ("numpy", "ndarray"): numpy.ndarray,
            ("numpy", "dtype"): numpy.dtype,
            ("_codecs", "encode"): codecs.encode}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch "
                                         f"holds only numpy arrays and plain values")
        return _ALLOWED[module, name]


def _unpickle(path):
    with open(path, "rb") as file:
        try:
            return _ArraysOnlyUnpickler(file, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
            raise CorruptFile(f"{path}: cannot read this CIFAR-10 batch ({error}); delete the "
                              f"folder and download the data set again") from None


class CIFAR10(ImageDataset):
    """CIFAR-10 from ``root/cifar-10-batches-py/`` (the python version of the data set).

    ``train``: the five training batches, else the test batch. ``transform`` receives each
    image as a uint8 array (32, 32, 3); ``target_transform`` each label (an int).
    ``download=True`` fetches ``cifar-10-python.tar.gz`` into ``root``, checks its MD5 and
    unpacks it, unless the batches are already there. As in torchvision, ``.data`` is a
    uint8 numpy array (N, 32, 32, 3) and ``.targets`` a list of ints.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        if root is None:
            raise ValueError("CIFAR10 needs a root folder (only MNIST ships inside tapegrad); "
                             "pass download=True to fetch the data set into it")
        self.root = os.path.expanduser(os.fspath(root))
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        images, labels = [], []
        for name, md5 in self.train_list if self.train else self.test_list:
            batch = self._load(name, md5)
            data, batch_labels = batch.get(b"data"), batch.get(b"labels")
            if (not isinstance(data, numpy.ndarray) or data.dtype != numpy.uint8
                    or data.ndim != 2 or data.shape[1] != 3072
                    or len(batch_labels or ()) != len(data)):
                raise CorruptFile(f"{self._path(name)}: not a CIFAR-10 batch (expected b'data' "
                                  f"of shape (N, 3072) uint8 and N b'labels')")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.extend(int(label) for label in batch_labels)
        # (N, 3, 32, 32) -> (N, 32, 32, 3): images as the transforms expect them (H, W, C)
        self.data = numpy.ascontiguousarray(numpy.concatenate(images).transpose(0, 2, 3, 1))
        self.targets = labels
        names = self._load(self.meta["filename"], self.meta["md5"])[self.meta["key"].encode()]
        self.classes = [name.decode("utf-8") for name in names]

    def _path(self, name):
        return os.path.join(self.root, self.base_folder, name)

    def _load(self, name, md5):
        """The unpickled file ``name``, after its MD5 matched ``md5`` (never before)."""
        path = self._path(name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CIFAR10: {path} not found. Pass download=True to fetch "
                                    f"the data set, or download {self.url} by hand and unpack "
                                    f"it into {self.root}")
        check_md5(path, md5, f"It was not unpickled. Delete {os.path.dirname(path)} and pass "
                             f"download=True (or unpack {self.filename} again)")
        return _unpickle(path)

    def download(self):
        """Fetch and unpack the archive into root, unless the batches are there and intact."""
        files = self.train_list + self.test_list + [[self.meta["filename"], self.meta["md5"]]]
        if all(_has_md5(self._path(name), md5) for name, md5 in files):
            return
        archive = os.path.join(self.root, self.filename)
        if not _has_md5(archive, self.tgz_md5):
            download_file([self.url], self.root, self.filename, self.tgz_md5)
        extract_tar(archive, self.root)

    def extra_repr(self):
        return f"Root location: {self.root}\nSplit: {'Train' if self.train else 'Test'}"


def _has_md5(path, md5):
    return os.path.isfile(path) and md5_of(path) == md5
