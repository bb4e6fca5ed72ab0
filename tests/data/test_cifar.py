"""CIFAR10 read from small fake python batches written by the tests."""
import collections
import pickle

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import CIFAR10, CorruptFile, DataLoader, cifar
from tapegrad.data.transforms import ToTensor

from .fakes import CIFAR_NAMES, fake_cifar_files, md5, use_md5s_of, write_fake_cifar


@pytest.fixture
def fake(tmp_path, monkeypatch):
    files = fake_cifar_files(per_batch=4)
    use_md5s_of(monkeypatch, CIFAR10, files)
    write_fake_cifar(tmp_path, files)
    return tmp_path, files


def batch(files, name):
    return pickle.loads(files[name], encoding="bytes")


def test_reads_five_training_batches_and_the_test_batch(fake):
    root, files = fake
    train, test = CIFAR10(root), CIFAR10(root, train=False)
    assert len(train) == 20 and len(test) == 4
    assert train.classes == CIFAR_NAMES and train.class_to_idx["truck"] == 9
    assert train.targets[4:8] == batch(files, "data_batch_2")[b"labels"]
    assert isinstance(train.targets, list) and isinstance(train.data, np.ndarray)


def test_rows_of_red_green_blue_planes_become_hwc_images(fake):
    root, files = fake
    row = batch(files, "test_batch")[b"data"][1]
    image = CIFAR10(root, train=False).data[1]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    # pixel (row 2, column 5): red at 2·32 + 5, green 1024 further, blue 2048 further
    assert image[2, 5].tolist() == [row[69], row[1024 + 69], row[2048 + 69]]


def test_an_item_is_a_chw_float_tensor_and_an_int_label(fake):
    root, _ = fake
    ds = CIFAR10(root, train=False)
    image, label = ds[3]
    assert image.shape == (3, 32, 32) and image.dtype is tg.float32 and type(label) is int
    np.testing.assert_array_equal(image.numpy(), ToTensor()(ds.data[3]).numpy())
    images, labels = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(images.numpy()[3], image.numpy())
    assert labels.tolist() == ds.targets


def test_a_checksum_mismatch_names_the_file_and_both_md5s_and_it_is_not_unpickled(
        fake, monkeypatch):
    root, files = fake
    path = root / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(files["data_batch_3"] + b"tampered")
    actual = md5(path.read_bytes())
    unpickled = []
    real_unpickle = cifar._unpickle
    monkeypatch.setattr(cifar, "_unpickle", lambda p: unpickled.append(p) or real_unpickle(p))
    with pytest.raises(RuntimeError, match=f"data_batch_3 has MD5 {actual}, but the original file "
                                           f"has MD5 {md5(files['data_batch_3'])}.*not unpickled"):
        CIFAR10(root)
    assert [p.rsplit("_", 1)[-1] for p in unpickled] == ["1", "2"]


def test_even_a_file_with_the_right_md5_may_only_hold_arrays(fake, monkeypatch):
    root, files = fake
    files = dict(files, test_batch=pickle.dumps(collections.OrderedDict(), protocol=2))
    use_md5s_of(monkeypatch, CIFAR10, files)
    write_fake_cifar(root, files)
    with pytest.raises(CorruptFile, match="refusing to load collections.OrderedDict"):
        CIFAR10(root, train=False)


def test_a_batch_of_the_wrong_shape_is_an_error(fake, monkeypatch):
    root, files = fake
    files = dict(files, test_batch=pickle.dumps({b"data": np.zeros((2, 100), np.uint8),
                                                 b"labels": [0, 1]}, protocol=2))
    use_md5s_of(monkeypatch, CIFAR10, files)
    write_fake_cifar(root, files)
    with pytest.raises(CorruptFile, match=r"test_batch: not a CIFAR-10 batch"):
        CIFAR10(root, train=False)


def test_a_missing_batch_names_the_file_and_what_to_do(fake):
    root, _ = fake
    (root / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch not found. Pass download=True"):
        CIFAR10(root, train=False)


def test_cifar_needs_a_root():
    with pytest.raises(ValueError, match="CIFAR10 needs a root folder"):
        CIFAR10(None)
