"""MobileNetV2 (Sandler et al., 2018): inverted residual blocks with linear bottlenecks.

Module names follow torchvision's ``mobilenet_v2`` (``features.N``,
``classifier.1``), so its ``state_dict`` loads as ``pretrained_file``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

# (expansion, output channels, repeats, first stride) per stage, from the paper.
STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
# Channel counts are multiples of this.
CHANNEL_DIVISOR = 8


def make_divisible(value: float) -> int:
    """Channels rounded to a multiple of CHANNEL_DIVISOR, never down by more than 10%."""
    rounded = max(CHANNEL_DIVISOR, int(value + CHANNEL_DIVISOR / 2) // CHANNEL_DIVISOR * CHANNEL_DIVISOR)
    return rounded + CHANNEL_DIVISOR if rounded < 0.9 * value else rounded


class ConvBNReLU(nn.Sequential):
    def __init__(
        self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels, out_channels, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU(in_channels, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        width_mult: float,
        stem: Literal["imagenet", "small"],
        dropout: float,
    ) -> None:
        super().__init__()
        previous = make_divisible(32 * width_mult)
        last = make_divisible(LAST_CHANNELS * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNReLU(in_channels, previous, stride=2 if stem == "imagenet" else 1)]
        for expansion, channels, repeats, stride in STAGES:
            out = make_divisible(channels * width_mult)
            for i in range(repeats):
                features.append(InvertedResidual(previous, out, stride if i == 0 else 1, expansion))
                previous = out
        features.append(ConvBNReLU(previous, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(images), 1).flatten(1)
        logits: torch.Tensor = self.classifier(x)
        return logits
