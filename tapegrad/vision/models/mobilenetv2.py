"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
2018), torchvision's layout.

The building block is the inverted residual: a 1×1 convolution widens the channels by the
expansion factor t, a depthwise 3×3 convolution (one filter per channel, ``groups`` =
channels) filters each channel cheaply, and a 1×1 convolution with no activation (the
"linear bottleneck") narrows them again; a shortcut adds the input when the shape is kept.
ReLU6 clips activations at 6. ``features`` is one ``Sequential`` (a stride-2 stem, 17
blocks, a 1×1 convolution to 1280 channels), then a global average pool and a dropout +
linear ``classifier``.

Names and initialisation follow torchvision: convolutions from N(0, 2/fan_out), batch norms
at 1 and 0, the linear layer from N(0, 0.01²) with zero bias.
"""
from ... import nn
from ...nn import functional as F
from ..ops import Conv2dNormActivation
from ._weights import check_no_weights

# Each stage: expansion t, output channels c, number of blocks n, stride of the first s.
INVERTED_RESIDUAL_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                             [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never
    more than 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class InvertedResidual(nn.Module):
    """Expand (1×1, ReLU6), depthwise 3×3 (ReLU6), project (1×1, linear), + x if it fits."""

    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                 norm_layer=norm_layer, activation_layer=nn.ReLU6),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """``MobileNetV2(num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
    round_nearest=8, block=None, norm_layer=None, dropout=0.2)``.

    ``width_mult`` scales every layer's channels (rounded to multiples of ``round_nearest``).
    """

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
                 round_nearest=8, block=None, norm_layer=None, dropout=0.2):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        setting = inverted_residual_setting or INVERTED_RESIDUAL_SETTING
        if len(setting) == 0 or len(setting[0]) != 4:
            raise ValueError(f"inverted_residual_setting should be non-empty or a 4-element "
                             f"list, got {setting}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                         activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1,
                                      expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


def mobilenet_v2(*, weights=None, progress=True, **kwargs):
    """MobileNetV2 at width 1.0: 3,504,872 parameters at 1000 classes."""
    kwargs = check_no_weights("mobilenet_v2", weights, kwargs)
    return MobileNetV2(**kwargs)


__all__ = ["InvertedResidual", "MobileNetV2", "mobilenet_v2"]
