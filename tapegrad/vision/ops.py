"""Building blocks shared by vision models (torchvision's ``torchvision.ops`` names)."""
from .. import nn


class Conv2dNormActivation(nn.Sequential):
    """Convolution, normalisation, activation as one ``Sequential`` (children 0, 1, 2).

    ``Conv2dNormActivation(in_channels, out_channels, kernel_size=3, stride=1, padding=None,
    groups=1, norm_layer=BatchNorm2d, activation_layer=ReLU, dilation=1, inplace=True,
    bias=None)``: ``padding=None`` keeps the size at stride 1, ``bias=None`` means a bias
    only when there is no normalisation to absorb it; ``None`` for a layer leaves it out.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1,
                 inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=inplace) if inplace is not None
                          else activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


__all__ = ["Conv2dNormActivation"]
