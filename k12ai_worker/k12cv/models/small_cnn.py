"""A small convolutional network: enough for digits, MNIST-like and CIFAR-like sets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SmallCnn(nn.Module):
    """Per width: two 3x3 convolutions and a 2x2 max-pool (skipped once the image is 1 pixel);
    then global average pooling, dropout and a linear layer."""

    def __init__(self, in_channels: int, num_classes: int, widths: Sequence[int], *, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in widths:
            layers += [*_conv(previous, width), *_conv(width, width), nn.MaxPool2d(2, ceil_mode=True)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(previous, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.pool(self.features(images)).flatten(1)
        logits: torch.Tensor = self.classifier(self.dropout(features))
        return logits
