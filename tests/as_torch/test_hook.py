"""The import hook: torch's module paths are tapegrad's modules, under PyTorch's names."""
import pickle
import sys

import pytest

import tapegrad as tg
import tapegrad.as_torch as as_torch


def test_torch_names_are_tapegrads_objects_not_copies(torch_as_tapegrad):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    assert torch.Tensor is tg.Tensor and torch.nn.Linear is tg.nn.Linear
    assert nn.Module is tg.nn.Module and F.relu is tg.nn.functional.relu
    assert DataLoader is tg.data.DataLoader and torch.optim.SGD is tg.optim.SGD
    assert torch.cuda.is_available is tg.cuda.is_available
    import torch.multiprocessing as mp
    from torch.distributions import Categorical
    assert mp.Process is tg.multiprocessing.Process and Categorical is tg.distributions.Categorical
    assert torch.accelerator.is_available is tg.accelerator.is_available
    assert torch.autograd.Variable is tg.autograd.Variable and torch.finfo is tg.finfo
    from torch.functional import einsum
    assert einsum is tg.einsum
    assert isinstance(torch.ones(2), tg.Tensor)


def test_a_model_built_through_torch_names_has_tapegrads_state_dict_keys(torch_as_tapegrad):
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert isinstance(model, tg.nn.Module)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_torchvision_datasets_and_transforms_are_tapegrad_data(torch_as_tapegrad):
    import torchvision
    from torchvision import datasets, transforms
    assert datasets.MNIST is tg.data.MNIST and torchvision.datasets.CIFAR10 is tg.data.CIFAR10
    assert transforms.Normalize is tg.data.transforms.Normalize
    from torchvision import models, utils
    assert models.resnet18 is tg.vision.models.resnet18 and utils.save_image is tg.vision.utils.save_image


def test_pytorchs_module_paths_resolve_for_pickled_class_references(torch_as_tapegrad):
    from torch.nn.modules.activation import MultiheadAttention, ReLU
    from torch.nn.modules.batchnorm import BatchNorm2d
    from torch.nn.modules.container import Sequential
    from torch.nn.modules.linear import Linear
    from torch.nn.modules.transformer import TransformerEncoderLayer
    from torchvision.models.resnet import ResNet
    assert TransformerEncoderLayer is tg.nn.TransformerEncoderLayer
    assert ResNet is tg.vision.models.resnet.ResNet
    assert MultiheadAttention is tg.nn.MultiheadAttention and ReLU is tg.nn.ReLU
    assert Sequential is tg.nn.Sequential and Linear is tg.nn.Linear
    assert BatchNorm2d is tg.nn.BatchNorm2d
    # a pickle written by PyTorch names its classes by PyTorch's module paths
    pickled = pickle.dumps(tg.nn.Linear, protocol=2).replace(
        b"tapegrad.nn.modules.linear", b"torch.nn.modules.linear")
    assert b"torch.nn.modules.linear" in pickled
    assert pickle.loads(pickled) is tg.nn.Linear


def test_a_missing_name_says_it_is_pytorchs_and_tapegrad_lacks_it(torch_as_tapegrad):
    import torch
    with pytest.raises(AttributeError, match=r"torch\.jit is PyTorch's name; tapegrad does not "
                                             r"have it yet"):
        torch.jit
    with pytest.raises(AttributeError, match=r"torch\.nn\.functional\.not_a_function is "
                                             r"PyTorch's name"):
        torch.nn.functional.not_a_function
    with pytest.raises(AttributeError, match="--check"):
        torch.nn.NotALayer


def test_a_missing_module_raises_importerror_in_the_same_words(torch_as_tapegrad):
    with pytest.raises(ImportError, match=r"torch\.jit is PyTorch's name; tapegrad does not"):
        import torch.jit  # noqa: F401
    with pytest.raises(ImportError, match=r"torch\.not_a_module is PyTorch's name"):
        from torch import nn, not_a_module  # noqa: F401
    with pytest.raises(ImportError, match=r"torch\.nn\.not_a_module is PyTorch's name"):
        from torch.nn.not_a_module import Thing  # noqa: F401


def test_setting_a_flag_through_torch_sets_tapegrads(torch_as_tapegrad):
    import torch
    before = tg.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True
        assert tg.backends.cudnn.benchmark is True and torch.backends.cudnn.benchmark is True
    finally:
        tg.backends.cudnn.benchmark = before


def test_importing_a_submodule_does_not_hide_a_function_of_the_same_name(torch_as_tapegrad):
    import torch.autograd.gradcheck  # the module; the attribute stays the function
    import torch
    assert torch.autograd.gradcheck is tg.autograd.gradcheck
    assert callable(torch.autograd.gradcheck)


def test_the_finder_answers_before_a_real_torch_on_disk(torch_as_tapegrad):
    assert sys.meta_path[0] is as_torch.hook.FINDER
    assert type(sys.modules["torch"]) is as_torch.AliasModule
    assert "torch" in repr(sys.modules["torch"]) and "tapegrad" in repr(sys.modules["torch"])


def test_dir_lists_tapegrads_names_and_the_torch_submodules(torch_as_tapegrad):
    import torch
    names = dir(torch)
    assert "tensor" in names and "nn" in names and "backends" in names
    assert "_tapegrad_targets" not in names


def test_install_refuses_once_a_real_torch_is_loaded(monkeypatch):
    as_torch.uninstall()
    monkeypatch.setitem(sys.modules, "torch", type(sys)("torch"))
    with pytest.raises(RuntimeError, match="real PyTorch is already imported"):
        as_torch.install()
    assert not as_torch.installed()


def test_uninstall_forgets_the_aliases(torch_as_tapegrad):
    import torch.nn  # noqa: F401
    as_torch.uninstall()
    assert not any(isinstance(m, as_torch.AliasModule) for m in sys.modules.values())
    assert not as_torch.installed()


def test_star_imports_give_tapegrads_public_names(torch_as_tapegrad):
    namespace = {}
    exec("from torch.nn import *\nfrom torch.nn.modules.activation import *", namespace)
    assert namespace["Linear"] is tg.nn.Linear
    assert namespace["MultiheadAttention"] is tg.nn.MultiheadAttention
    assert namespace["ReLU"] is tg.nn.ReLU


def test_the_readme_shows_the_message_a_missing_name_gives(torch_as_tapegrad):
    import pathlib
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    with pytest.raises(AttributeError) as error:
        torch_as_tapegrad.jit
    assert f"AttributeError: {error.value}" in readme
