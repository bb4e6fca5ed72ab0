"""Small fake data set files, written the way the real ones are."""
import gzip
import hashlib
import io
import pickle
import struct
import tarfile

import numpy as np


def md5(data):
    return hashlib.md5(data).hexdigest()


def idx_bytes(array, magic=None):
    """An IDX file's bytes: 0x00 0x00 0x08 ndim, the sizes as big-endian uint32, the values."""
    array = np.asarray(array, dtype=np.uint8)
    header = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path, array, magic=None, cut=0, compress=True):
    """Write an IDX file (gzip-compressed unless told not to), ``cut`` bytes short."""
    data = idx_bytes(array, magic)
    data = data[:len(data) - cut]
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def fake_mnist_arrays(n_train=12, n_test=6, seed=0):
    rng = np.random.default_rng(seed)
    return {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}


def write_fake_mnist(folder, compress=True, **kwargs):
    """The four MNIST files in ``folder``; returns their arrays by file name (without .gz)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = fake_mnist_arrays(**kwargs)
    for name, array in arrays.items():
        write_idx(folder / (name + ".gz" if compress else name), array, compress=compress)
    return arrays


def cifar_batch_bytes(data, labels):
    """A CIFAR-10 python batch: a pickled dict of bytes keys (protocol 2, as the originals)."""
    return pickle.dumps({b"batch_label": b"fake batch", b"labels": list(labels), b"data": data,
                         b"filenames": [b"x.png"] * len(labels)}, protocol=2)


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]


def fake_cifar_files(per_batch=4, seed=0):
    """{file name: bytes} for the seven files of cifar-10-batches-py, with small batches."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        files[name] = cifar_batch_bytes(data, labels)
    files["batches.meta"] = pickle.dumps(
        {b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_cases_per_batch": per_batch,
         b"num_vis": 3072}, protocol=2)
    return files


def use_md5s_of(monkeypatch, cifar_class, files):
    """Make ``cifar_class`` expect the MD5s of these fake files instead of the real ones."""
    monkeypatch.setattr(cifar_class, "train_list",
                        [[f"data_batch_{k}", md5(files[f"data_batch_{k}"])] for k in range(1, 6)])
    monkeypatch.setattr(cifar_class, "test_list", [["test_batch", md5(files["test_batch"])]])
    monkeypatch.setattr(cifar_class, "meta", {"filename": "batches.meta", "key": "label_names",
                                              "md5": md5(files["batches.meta"])})


def write_fake_cifar(root, files):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def tar_gz(members):
    """A .tar.gz in memory; ``members`` maps names to bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FakeResponse(io.BytesIO):
    """What urlopen returns, serving ``data`` from memory."""

    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


class FakeWeb:
    """A stand-in for urlopen: serves ``pages`` (url -> bytes or an exception to raise)."""

    def __init__(self, pages):
        self.pages = pages
        self.requested = []

    def __call__(self, url, timeout=None):
        self.requested.append(url)
        page = self.pages.get(url)
        if page is None:
            raise AssertionError(f"unexpected url {url}")
        if isinstance(page, BaseException):
            raise page
        return FakeResponse(page)
