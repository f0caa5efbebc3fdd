"""MobileNetV2 (width 1.0) in plain torch with torchvision's module names (``features.N...``), the
backbone of NAS-FPNLite. C3, C4, C5 are the outputs of ``features.6`` (32 channels, stride 8),
``features.13`` (96, stride 16) and ``features.18`` (the 1x1 conv to 1280, stride 32).
"""
from typing import List

from torch import Tensor, nn

from .backbone_base import Backbone

# (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
STAGE_ENDS = (2, 4, 7, 14, 19)  # features[:2] stride 2, [2:4] stride 4, ... [14:19] stride 32
RETURN_INDICES = (6, 13, 18)


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU6, children named 0, 1, 2 as in torchvision."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2,
                      groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> project (1x1, linear); identity shortcut when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(Backbone):
    """The MobileNetV2 feature trunk (no classifier) returning C3, C4, C5."""

    return_indices: List[int]

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        channels = 32
        for expansion, out_channels, repeats, stride in INVERTED_RESIDUAL_SETTING:
            for index in range(repeats):
                layers.append(InvertedResidual(channels, out_channels, stride if index == 0 else 1,
                                               expansion))
                channels = out_channels
        layers.append(ConvBNReLU6(channels, LAST_CHANNELS, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.return_indices = list(RETURN_INDICES)
        self.out_channels = (32, 96, LAST_CHANNELS)
        self.strides = (8, 16, 32)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")

    def stages(self) -> list[list[nn.Module]]:
        starts = (0,) + STAGE_ENDS[:-1]
        return [list(self.features[start:end]) for start, end in zip(starts, STAGE_ENDS)]

    def forward(self, x: Tensor) -> List[Tensor]:
        outputs: List[Tensor] = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.return_indices:
                outputs.append(x)
        return outputs
