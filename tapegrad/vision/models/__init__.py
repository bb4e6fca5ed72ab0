"""Image classifiers with torchvision's builders, layouts, initialisation and state_dict keys.

    from tapegrad.vision import models
    net = models.resnet18(num_classes=10)       # weights=None: freshly initialised
    logits = net(tg.randn(8, 3, 32, 32))        # (8, 10); any size from 32×32 up works

Where to read: ``resnet.py`` (residual blocks), ``vgg.py`` (plain 3×3 stacks),
``mobilenetv2.py`` (inverted residuals with depthwise convolutions).
"""
from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .resnet import ResNet, resnet18, resnet34, resnet50
from .vgg import VGG, vgg11

__all__ = ["VGG", "MobileNetV2", "ResNet", "mobilenet_v2", "resnet18", "resnet34", "resnet50",
           "vgg11"]
