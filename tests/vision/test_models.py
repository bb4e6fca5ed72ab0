"""Vision models: torchvision's parameter counts, state_dict keys, initialisation and shapes."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.vision import models
from tapegrad.vision.models.mobilenetv2 import InvertedResidual, _make_divisible
from tapegrad.vision.models.resnet import BasicBlock, Bottleneck
from tapegrad.vision.ops import Conv2dNormActivation

# torchvision's published counts (the "num_params" of each model's ImageNet weights)
PUBLISHED_PARAMETERS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                        "vgg11": 132_863_336, "mobilenet_v2": 3_504_872}
SMALL = ["resnet18", "resnet34", "resnet50", "mobilenet_v2"]


def count(model):
    return sum(p.numel() for p in model.parameters())


def values(tensor):
    return tensor.detach().numpy()


@pytest.fixture(scope="module")
def built():
    """One model of each kind at 1000 classes, built once for this file (VGG-11 holds 0.5 GB)."""
    tg.manual_seed(0)
    return {name: getattr(models, name)() for name in PUBLISHED_PARAMETERS}


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMETERS))
def test_parameter_counts_are_torchvisions(built, name):
    assert count(built[name]) == PUBLISHED_PARAMETERS[name]


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMETERS))
def test_a_32x32_image_gives_1000_logits(built, name):
    model = built[name].eval()
    with tg.no_grad():
        logits = model(tg.randn(1, 3, 32, 32))
    assert logits.shape == (1, 1000) and logits.dtype is tg.float32
    assert np.isfinite(logits.numpy()).all()


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])  # resnet34/50: the same code
def test_num_classes_sets_the_last_layer_and_training_mode_runs_a_batch(name):
    model = getattr(models, name)(num_classes=10)
    logits = model(tg.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    last = model.fc if name.startswith("resnet") else model.classifier[1]
    assert last.out_features == 10
    expected = PUBLISHED_PARAMETERS[name] - 990 * (last.in_features + 1)
    assert count(model) == expected


def test_resnet18_trains_end_to_end():
    model = models.resnet18(num_classes=3)
    loss = nn.functional.cross_entropy(model(tg.randn(2, 3, 32, 32)), tg.tensor([0, 2]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing and math.isfinite(loss.item())
    assert model.bn1.num_batches_tracked.item() == 1


# -- state_dict keys: torchvision's, so its checkpoints load ------------------------------------

def resnet_keys(block, layers):
    """torchvision's ResNet state_dict keys, written out from the architecture."""
    def bn(prefix):
        return [f"{prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var",
                                          "num_batches_tracked")]
    keys = ["conv1.weight", *bn("bn1")]
    convs = 2 if block == "basic" else 3
    for stage, blocks in enumerate(layers, start=1):
        for b in range(blocks):
            for c in range(1, convs + 1):
                keys += [f"layer{stage}.{b}.conv{c}.weight", *bn(f"layer{stage}.{b}.bn{c}")]
            if b == 0 and (stage > 1 or block == "bottleneck"):
                keys += [f"layer{stage}.0.downsample.0.weight",
                         *bn(f"layer{stage}.0.downsample.1")]
    return [*keys, "fc.weight", "fc.bias"]


@pytest.mark.parametrize("name, block, layers", [
    ("resnet18", "basic", [2, 2, 2, 2]), ("resnet34", "basic", [3, 4, 6, 3]),
    ("resnet50", "bottleneck", [3, 4, 6, 3]),
])
def test_resnet_state_dict_keys_are_torchvisions(built, name, block, layers):
    assert list(built[name].state_dict()) == resnet_keys(block, layers)


def test_vgg11_state_dict_keys_are_torchvisions(built):
    convs = [0, 3, 6, 8, 11, 13, 16, 18]  # positions in features: conv, ReLU, (pool) …
    expected = [f"features.{i}.{k}" for i in convs for k in ("weight", "bias")]
    expected += [f"classifier.{i}.{k}" for i in (0, 3, 6) for k in ("weight", "bias")]
    assert list(built["vgg11"].state_dict()) == expected
    assert built["vgg11"].state_dict()["classifier.0.weight"].shape == (4096, 25088)


def test_mobilenet_v2_state_dict_keys_are_torchvisions(built):
    state = built["mobilenet_v2"].state_dict()
    assert len(state) == 314
    assert list(state)[:2] == ["features.0.0.weight", "features.0.1.weight"]
    assert list(state)[-2:] == ["classifier.1.weight", "classifier.1.bias"]
    # block 1 has no expansion: depthwise conv.0, projection conv.1, its batch norm conv.2
    assert state["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)
    assert state["features.1.conv.1.weight"].shape == (16, 32, 1, 1)
    assert "features.1.conv.2.running_var" in state
    # later blocks expand first: conv.0 (1×1), conv.1 (depthwise), conv.2 and conv.3
    assert state["features.2.conv.0.0.weight"].shape == (96, 16, 1, 1)
    assert state["features.2.conv.1.0.weight"].shape == (96, 1, 3, 3)
    assert state["features.2.conv.2.weight"].shape == (24, 96, 1, 1)
    assert state["features.18.0.weight"].shape == (1280, 320, 1, 1)


def test_a_state_dict_round_trips_into_a_fresh_model(built):
    source = built["resnet18"]
    target = models.resnet18()
    target.load_state_dict(source.state_dict())
    source.eval(), target.eval()
    x = tg.randn(1, 3, 32, 32)
    with tg.no_grad():
        np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_reprs_print_torchvisions_module_tree(built):
    text = repr(built["mobilenet_v2"])
    assert "(0): Conv2dNormActivation(" in text and "(2): ReLU6(inplace=True)" in text
    assert "(downsample): Sequential(" in repr(built["resnet18"])


# -- initialisation: torchvision's ---------------------------------------------------------------

def test_convolutions_are_kaiming_normal_fan_out_and_batch_norms_start_at_identity(built):
    for name in ("resnet50", "mobilenet_v2"):
        for module in built[name].modules():
            if isinstance(module, nn.Conv2d) and module.weight.numel() >= 4096:
                w = module.weight
                fan_out = w.shape[0] * w.shape[2] * w.shape[3]
                assert abs(values(w).std() / math.sqrt(2 / fan_out) - 1) < 0.1
            if isinstance(module, nn.BatchNorm2d):
                assert (values(module.weight) == 1).all() and (values(module.bias) == 0).all()


def test_vgg_and_mobilenet_linear_layers_are_normal_0_01_with_zero_bias(built):
    for linear in (built["vgg11"].classifier[6], built["mobilenet_v2"].classifier[1]):
        assert abs(values(linear.weight).std() - 0.01) < 0.0005
        assert (values(linear.bias) == 0).all()
    conv = built["vgg11"].features[0]
    assert (values(conv.bias) == 0).all()


def test_resnet_fc_keeps_pytorchs_default_linear_init(built):
    fc = built["resnet18"].fc
    bound = 1 / math.sqrt(512)
    assert np.abs(values(fc.weight)).max() <= bound and np.abs(values(fc.bias)).max() <= bound
    assert np.abs(values(fc.bias)).max() > 0


def test_zero_init_residual_zeroes_each_blocks_last_batch_norm():
    model = models.resnet18(zero_init_residual=True)
    assert all((values(block.bn2.weight) == 0).all() for block in model.modules()
               if isinstance(block, BasicBlock))
    assert (values(model.layer1[0].bn1.weight) == 1).all()


# -- the builders' arguments ---------------------------------------------------------------------

def test_pretrained_weights_are_refused_with_the_way_forward():
    for name in PUBLISHED_PARAMETERS:
        with pytest.raises(ValueError, match="weights='IMAGENET1K_V1'.*load_state_dict"):
            getattr(models, name)(weights="IMAGENET1K_V1")
    with pytest.warns(UserWarning, match="pretrained"), pytest.raises(ValueError):
        models.resnet18(pretrained=True)


def test_legacy_pretrained_false_builds_with_a_warning():
    with pytest.warns(UserWarning, match="deprecated"):
        model = models.mobilenet_v2(pretrained=False, num_classes=4)
    assert model.classifier[1].out_features == 4


def test_weights_is_keyword_only_as_in_torchvision():
    with pytest.raises(TypeError):
        models.resnet18(None)


def test_block_arguments_are_checked():
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1 and base_width=64"):
        BasicBlock(64, 64, groups=2)
    with pytest.raises(ValueError, match="stride should be 1 or 2 instead of 3"):
        InvertedResidual(16, 16, 3, 6)
    with pytest.raises(ValueError, match="replace_stride_with_dilation"):
        models.ResNet(Bottleneck, [1, 1, 1, 1], replace_stride_with_dilation=[True])


def test_dilation_keeps_the_last_stages_resolution():
    model = models.ResNet(Bottleneck, [1, 1, 1, 1], num_classes=5,
                          replace_stride_with_dilation=[False, True, True]).eval()
    with tg.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(tg.randn(1, 3, 64, 64)))))
        assert model.layer4(model.layer3(model.layer2(model.layer1(x)))).shape == (1, 2048, 8, 8)
    assert model.layer4[0].conv2.dilation in (2, (2, 2))


def test_make_divisible_rounds_to_multiples_of_8_never_10_percent_down():
    assert [_make_divisible(v, 8) for v in (32, 16 * 0.75, 1280, 3, 100)] == [32, 16, 1280, 8, 104]
    assert _make_divisible(19, 8) == 24  # 16 would lose more than 10%


def test_width_mult_scales_the_channels():
    model = models.MobileNetV2(num_classes=10, width_mult=0.5)
    assert model.features[0][0].out_channels == 16 and model.last_channel == 1280
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.eval()(tg.randn(1, 3, 32, 32)).shape == (1, 10)


def test_conv2d_norm_activation_pads_to_keep_size_and_has_bias_only_without_norm():
    block = Conv2dNormActivation(3, 8, kernel_size=5)
    assert block[0].padding in (2, (2, 2)) and block[0].bias is None
    assert isinstance(block[1], nn.BatchNorm2d) and isinstance(block[2], nn.ReLU)
    bare = Conv2dNormActivation(3, 8, norm_layer=None, activation_layer=None, dilation=2)
    assert len(bare) == 1 and bare[0].bias is not None and bare[0].padding in (2, (2, 2))
    assert bare(tg.randn(1, 3, 9, 9)).shape == (1, 8, 9, 9)


def test_agrees_with_torchvision_when_it_is_installed():
    """Optional: the same keys and shapes, and the same logits from the same weights."""
    pytest.importorskip("torchvision")
    torch = pytest.importorskip("torch")
    tvm = pytest.importorskip("torchvision.models")
    for name in SMALL:
        theirs, ours = getattr(tvm, name)(num_classes=7), getattr(models, name)(num_classes=7)
        shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == shapes
        ours.load_state_dict({k: tg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
        x = np.random.default_rng(0).standard_normal((2, 3, 48, 48)).astype(np.float32)
        with torch.no_grad():
            expected = theirs.eval()(torch.from_numpy(x)).numpy()
        with tg.no_grad():
            np.testing.assert_allclose(ours.eval()(tg.tensor(x)).numpy(), expected, rtol=1e-4,
                                       atol=1e-4)
