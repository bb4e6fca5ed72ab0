"""tapegrad.vision answers to torchvision's module names."""
import importlib

import pytest

import tapegrad.data
import tapegrad.data.transforms


@pytest.mark.parametrize("module", ["datasets", "transforms", "models", "utils", "io", "ops"])
def test_each_torchvision_submodule_is_an_importable_module(module):
    assert importlib.import_module(f"tapegrad.vision.{module}").__name__ == f"tapegrad.vision.{module}"


def test_datasets_and_transforms_are_tapegrad_datas_own():
    from tapegrad.vision import datasets, transforms
    assert datasets.FakeData is tapegrad.data.FakeData and datasets.MNIST is tapegrad.data.MNIST
    assert datasets.CIFAR10 is tapegrad.data.CIFAR10
    for name in tapegrad.data.transforms.__all__:
        assert getattr(transforms, name) is getattr(tapegrad.data.transforms, name)
    assert transforms.Lambda is tapegrad.data.transforms.Lambda
