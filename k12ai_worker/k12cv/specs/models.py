"""``model``: the image classifiers, chosen by ``model.type``.

Every type takes ``num_classes`` and ``in_channels`` (both default to what the
training data has, and must match it when given), ``dropout`` before the
classifier layer, and ``pretrained_file``: a ``state_dict`` (``torch.save``)
under the data roots whose tensors are loaded where name and shape match, so
a backbone trained with another number of classes keeps all but its head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.limits import WIDTH, limited
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    registry: ClassVar[Registry[ModelSpec]]
    num_classes: int | None = None
    in_channels: int | None = None
    dropout: float = 0.0
    pretrained_file: str | None = None

    def check(self, path: str) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(join(path, "dropout"), f"must lie in [0, 1), got {self.dropout}")
        for key in ("num_classes", "in_channels"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(join(path, key), f"must be at least 1, got {value}")
        if self.num_classes is not None and self.num_classes < 2:
            raise ConfigError(
                join(path, "num_classes"), f"a classifier needs at least 2, got {self.num_classes}"
            )

    def build_network(self, *, num_classes: int, in_channels: int) -> torch.nn.Module:
        """The network from images ``(batch, in_channels, h, w)`` to logits ``(batch, num_classes)``."""
        raise NotImplementedError


ModelSpec.registry = Registry("model")


@ModelSpec.registry.register("small_cnn")
@dataclass(frozen=True, kw_only=True)
class SmallCnnSpec(ModelSpec):
    """Blocks of two 3x3 convolutions (batch-normed) and a 2x2 max-pool, then global average pooling."""

    channels: list[int] = limited(WIDTH, default_factory=lambda: [32, 64])

    def check(self, path: str) -> None:
        super().check(path)
        if not self.channels or any(c < 1 for c in self.channels):
            raise ConfigError(
                join(path, "channels"), f"must be positive widths, at least one; got {self.channels}"
            )

    def build_network(self, *, num_classes: int, in_channels: int) -> torch.nn.Module:
        from k12ai_worker.k12cv.models.small_cnn import SmallCnn

        return SmallCnn(in_channels, num_classes, self.channels, dropout=self.dropout)


@dataclass(frozen=True, kw_only=True)
class _ResNetSpec(ModelSpec):
    layers: ClassVar[tuple[int, int, int, int]]
    # "imagenet": 7x7 stride-2 convolution and max-pool, for images of 100+ pixels;
    # "small": one 3x3 stride-1 convolution, for small images (CIFAR, digits).
    stem: Literal["imagenet", "small"] = "imagenet"
    width: int = limited(WIDTH, default=64)

    def check(self, path: str) -> None:
        super().check(path)
        if self.width < 1:
            raise ConfigError(join(path, "width"), f"must be at least 1, got {self.width}")

    def build_network(self, *, num_classes: int, in_channels: int) -> torch.nn.Module:
        from k12ai_worker.k12cv.models.resnet import ResNet

        return ResNet(
            self.layers, in_channels, num_classes, stem=self.stem, width=self.width, dropout=self.dropout
        )


@ModelSpec.registry.register("resnet18")
@dataclass(frozen=True, kw_only=True)
class ResNet18Spec(_ResNetSpec):
    layers: ClassVar[tuple[int, int, int, int]] = (2, 2, 2, 2)


@ModelSpec.registry.register("resnet34")
@dataclass(frozen=True, kw_only=True)
class ResNet34Spec(_ResNetSpec):
    layers: ClassVar[tuple[int, int, int, int]] = (3, 4, 6, 3)


@ModelSpec.registry.register("mobilenet_v2")
@dataclass(frozen=True, kw_only=True)
class MobileNetV2Spec(ModelSpec):
    width_mult: float = 1.0
    # As for ResNets: "small" keeps the first convolution at stride 1.
    stem: Literal["imagenet", "small"] = "imagenet"

    def check(self, path: str) -> None:
        super().check(path)
        if self.width_mult <= 0:
            raise ConfigError(join(path, "width_mult"), f"must be positive, got {self.width_mult}")

    def build_network(self, *, num_classes: int, in_channels: int) -> torch.nn.Module:
        from k12ai_worker.k12cv.models.mobilenet import MobileNetV2

        return MobileNetV2(
            in_channels, num_classes, width_mult=self.width_mult, stem=self.stem, dropout=self.dropout
        )
