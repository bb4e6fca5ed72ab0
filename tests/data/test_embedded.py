"""The MNIST subset that ships inside tapegrad (made by scripts/make_mnist_subset.py)."""
import importlib.resources
import importlib.util
import pathlib

import numpy as np

import tapegrad as tg
from tapegrad.data import MNIST

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_file_is_in_the_package_and_at_most_3_mb():
    resource = importlib.resources.files("tapegrad.data") / "embedded" / "mnist_subset.npz"
    assert resource.is_file()
    assert len(resource.read_bytes()) <= 3 * 2**20


def test_training_subset_is_10000_images_1000_of_each_digit():
    ds = MNIST()
    assert len(ds) == 10000 and ds.root is None and ds.train
    assert ds.data.dtype is tg.uint8 and ds.data.shape == (10000, 28, 28)
    assert ds.targets.dtype is tg.int64
    assert np.bincount(ds.targets.numpy()).tolist() == [1000] * 10


def test_test_subset_is_2000_images_200_of_each_digit():
    ds = MNIST(train=False)
    assert len(ds) == 2000 and ds.data.shape == (2000, 28, 28)
    assert np.bincount(ds.targets.numpy()).tolist() == [200] * 10


def test_items_are_float_images_in_0_1_that_look_like_digits():
    image, label = MNIST(train=False)[0]
    assert image.shape == (1, 28, 28) and image.dtype is tg.float32 and label == 7
    pixels = image.numpy()
    assert pixels.min() == 0 and pixels.max() == 1
    assert 0.05 < (pixels > 0.5).mean() < 0.4     # some ink, mostly background


def test_the_script_takes_the_first_of_each_class_in_file_order():
    spec = importlib.util.spec_from_file_location("make_mnist_subset",
                                                  ROOT / "scripts" / "make_mnist_subset.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    labels = np.array([3, 1, 3, 0, 1, 3, 0, 2, 2, 1])
    chosen = script.first_of_each_class(labels, per_class=2)
    assert chosen.tolist() == [0, 1, 2, 3, 4, 6, 7, 8]
