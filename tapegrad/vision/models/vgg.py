"""VGG (Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", 2014), torchvision's layout.

Stacks of 3×3 convolutions with ReLU (two 3×3s see as far as one 5×5, with fewer weights
and one more nonlinearity), a 2×2 max pool after each stack, then three fully connected
layers on a 7×7×512 map. ``features`` holds the convolutions and pools in one
``Sequential``, ``avgpool`` brings any input size to 7×7 (so 32×32 images work too), and
``classifier`` holds the linear layers with dropout. Configuration "A" is VGG-11:
8 convolutions and 3 linear layers.

Names and initialisation follow torchvision: convolutions from N(0, 2/fan_out) with zero
bias, linear layers from N(0, 0.01²) with zero bias.
"""
from ... import nn
from ._weights import check_no_weights

# Output channels of each 3×3 convolution, "M" a 2×2 max pool (torchvision's configuration A).
VGG11_LAYERS = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


class VGG(nn.Module):
    """``VGG(features, num_classes=1000, init_weights=True, dropout=0.5)``."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def make_layers(cfg, batch_norm=False):
    """``features`` from a configuration: each number a 3×3 convolution (+ batch norm) + ReLU."""
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


def vgg11(*, weights=None, progress=True, **kwargs):
    """VGG-11 (configuration "A"): 132,863,336 parameters at 1000 classes."""
    kwargs = check_no_weights("vgg11", weights, kwargs)
    return VGG(make_layers(VGG11_LAYERS), **kwargs)


__all__ = ["VGG", "make_layers", "vgg11"]
