"""MNIST and FashionMNIST read from small fake IDX files written by the tests."""
import gzip

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import MNIST, CorruptFile, DataLoader, FashionMNIST
from tapegrad.data.idx import read_idx

from .fakes import idx_bytes, write_fake_mnist, write_idx


def test_reads_the_four_files_directly_in_root(tmp_path):
    arrays = write_fake_mnist(tmp_path)
    train, test = MNIST(tmp_path), MNIST(tmp_path, train=False)
    assert len(train) == 12 and len(test) == 6
    assert train.data.dtype is tg.uint8 and train.data.shape == (12, 28, 28)
    assert train.targets.dtype is tg.int64
    np.testing.assert_array_equal(train.data.numpy(), arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(test.targets.numpy(), arrays["t10k-labels-idx1-ubyte"])


def test_reads_torchvisions_layout_and_uncompressed_files(tmp_path):
    arrays = write_fake_mnist(tmp_path / "MNIST" / "raw", compress=False)
    ds = MNIST(tmp_path)
    np.testing.assert_array_equal(ds.data.numpy(), arrays["train-images-idx3-ubyte"])


def test_an_item_is_a_float_image_in_0_1_and_an_int_label(tmp_path):
    arrays = write_fake_mnist(tmp_path)
    image, label = MNIST(tmp_path)[3]
    assert image.shape == (1, 28, 28) and image.dtype is tg.float32
    np.testing.assert_array_equal(image.numpy()[0],
                                  arrays["train-images-idx3-ubyte"][3].astype(np.float32) / 255)
    assert type(label) is int and label == arrays["train-labels-idx1-ubyte"][3]


def test_transforms_receive_the_uint8_array_and_the_int_label(tmp_path):
    write_fake_mnist(tmp_path)
    seen = []
    ds = MNIST(tmp_path, transform=lambda im: seen.append((im.dtype, im.shape)) or "image",
               target_transform=lambda y: ("label", y))
    image, target = ds[0]
    assert seen == [(np.uint8, (28, 28))] and image == "image" and target[0] == "label"


def test_out_of_range_index_names_the_length(tmp_path):
    write_fake_mnist(tmp_path)
    with pytest.raises(IndexError, match="index 12 is out of range for a data set of 12"):
        MNIST(tmp_path)[12]


def test_a_loader_batches_mnist(tmp_path):
    write_fake_mnist(tmp_path)
    images, labels = next(iter(DataLoader(MNIST(tmp_path), batch_size=5)))
    assert images.shape == (5, 1, 28, 28) and labels.shape == (5,) and labels.dtype is tg.int64


def test_a_missing_file_says_which_and_what_to_do(tmp_path):
    write_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    MNIST(tmp_path)  # the training files are all there
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz not found.*"
                                                "download=True"):
        MNIST(tmp_path, train=False)


def test_a_bad_magic_number_names_the_file(tmp_path):
    write_fake_mnist(tmp_path)
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28)),
                     magic=bytes([0, 0, 8, 2]))
    with pytest.raises(CorruptFile, match=f"{path.name}: bad magic number 0x00000802 "
                                          r"\(expected 0x00000803"):
        MNIST(tmp_path)
    write_idx(path, np.zeros((2, 28, 28)), magic=bytes([0, 0, 0x0D, 3]))  # float32 values
    with pytest.raises(CorruptFile, match="bad magic number 0x00000d03"):
        MNIST(tmp_path)


def test_a_truncated_file_names_the_file_and_says_to_download_again(tmp_path):
    write_fake_mnist(tmp_path)
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz",
                     np.zeros((12, 28, 28), np.uint8), cut=100)
    with pytest.raises(CorruptFile, match=f"{path.name}: the header announces shape "
                                          r"\(12, 28, 28\) \(9408 values\) but the file holds "
                                          r"only 9308.*delete it and download it again"):
        MNIST(tmp_path)
    write_idx(path, np.zeros((12, 28, 28), np.uint8), cut=9408 + 5)  # inside the header
    with pytest.raises(CorruptFile, match="ends inside the header"):
        MNIST(tmp_path)


def test_a_truncated_gzip_stream_is_reported_as_damaged(tmp_path):
    write_fake_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(CorruptFile, match=f"{path.name}: the gzip stream is damaged"):
        MNIST(tmp_path)
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(CorruptFile, match="gzip stream is damaged"):
        MNIST(tmp_path)


def test_extra_bytes_after_the_values_are_an_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(4)) + b"\0"))
    with pytest.raises(CorruptFile, match="bytes after the 4 values"):
        read_idx(path, ndim=1)


def test_images_and_labels_of_different_counts_are_an_error(tmp_path):
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11))
    with pytest.raises(CorruptFile, match="holds 12 images but .*train-labels.* holds 11 labels"):
        MNIST(tmp_path)


def test_labels_outside_the_classes_are_an_error(tmp_path):
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(12, 10))
    with pytest.raises(CorruptFile, match="label 10 is not one of the 10 classes"):
        MNIST(tmp_path)


def test_fashion_mnist_reads_its_own_folder_and_names_its_classes(tmp_path):
    arrays = write_fake_mnist(tmp_path / "FashionMNIST" / "raw", seed=1)
    ds = FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data.numpy(), arrays["t10k-images-idx3-ubyte"])
    assert ds.classes[9] == "Ankle boot" and ds.class_to_idx["Trouser"] == 1
    assert "FashionMNIST" in repr(ds) and "Split: Test" in repr(ds)


def test_fashion_mnist_has_no_embedded_subset():
    with pytest.raises(ValueError, match="only MNIST ships inside tapegrad"):
        FashionMNIST()


def test_a_missing_fashion_file_does_not_mention_the_embedded_subset(tmp_path):
    with pytest.raises(FileNotFoundError, match="FashionMNIST.*download=True") as error:
        FashionMNIST(tmp_path)
    assert "embedded" not in str(error.value)
