"""``dataset_reader.transforms``: how images are shaped before the model sees them.

``resize`` runs when an image is decoded (on the CPU, with Pillow), so every
decoded image of a dataset has one size and can be cached as one array. The
others run on whole batches on the job's device: pixels are scaled to [0, 1],
then each transform applies in the order listed. The random ones
(``random_crop``, ``random_flip``) act on training batches only; elsewhere
``random_crop`` takes the centre crop, so shapes match, and ``random_flip``
does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry


def size_pair(size: int | list[int]) -> tuple[int, int]:
    """``(height, width)`` of a size given as one side or ``[height, width]``."""
    if isinstance(size, int):
        return size, size
    return size[0], size[1]


def check_size(path: str, size: int | list[int]) -> None:
    if isinstance(size, list) and len(size) != 2:
        raise ConfigError(path, f"must be one side or [height, width], got {size}")
    sides = [size] if isinstance(size, int) else size
    if any(side < 1 for side in sides):
        raise ConfigError(path, f"sides must be at least 1, got {size}")


@dataclass(frozen=True, kw_only=True)
class TransformSpec:
    registry: ClassVar[Registry[TransformSpec]]
    # Applied when decoding (per image, CPU) rather than per batch.
    at_decode: ClassVar[bool] = False

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The image size after this transform, given the size before."""
        return size

    def output_channels(self, channels: int, path: str) -> int:
        return channels


TransformSpec.registry = Registry("transform")


@TransformSpec.registry.register("resize")
@dataclass(frozen=True, kw_only=True)
class ResizeSpec(TransformSpec):
    at_decode: ClassVar[bool] = True
    size: int | list[int]

    def check(self, path: str) -> None:
        check_size(join(path, "size"), self.size)

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return size_pair(self.size)


@TransformSpec.registry.register("normalize")
@dataclass(frozen=True, kw_only=True)
class NormalizeSpec(TransformSpec):
    """``(x - mean) / std`` per channel, on pixels already scaled to [0, 1]."""

    mean: list[float]
    std: list[float]

    def check(self, path: str) -> None:
        if not self.mean or len(self.mean) != len(self.std):
            raise ConfigError(
                join(path, "std"), f"needs one value per mean value ({len(self.mean)}), got {len(self.std)}"
            )
        if any(s <= 0 for s in self.std):
            raise ConfigError(join(path, "std"), f"values must be positive, got {self.std}")

    def output_channels(self, channels: int, path: str) -> int:
        if len(self.mean) not in (1, channels):
            raise ConfigError(
                join(path, "mean"), f"has {len(self.mean)} values, but the images have {channels} channels"
            )
        return channels


@TransformSpec.registry.register("random_crop")
@dataclass(frozen=True, kw_only=True)
class RandomCropSpec(TransformSpec):
    size: int | list[int]
    # Zero pixels added on every side before cropping.
    padding: int = 0

    def check(self, path: str) -> None:
        check_size(join(path, "size"), self.size)
        if self.padding < 0:
            raise ConfigError(join(path, "padding"), f"must not be negative, got {self.padding}")

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return size_pair(self.size)


@TransformSpec.registry.register("random_flip")
@dataclass(frozen=True, kw_only=True)
class RandomFlipSpec(TransformSpec):
    direction: Literal["horizontal", "vertical"] = "horizontal"
    probability: float = 0.5

    def check(self, path: str) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(join(path, "probability"), f"must lie in [0, 1], got {self.probability}")
