"""``dataset_reader`` / ``validation_dataset_reader``: where images and labels come from.

- ``image_folder``: a directory with one sub-folder per class, holding PNG or
  JPEG files (the sub-folder's name is the label);
- ``csv_pixels``: rows of ``label, pixel, pixel, ...`` as MNIST-style CSV files
  are distributed (a header row is skipped);
- ``sklearn_digits``: scikit-learn's 8x8 digits, built in; the data path is a
  split name, ``train`` or ``test`` (a stratified, seeded hold-out), or ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12cv.specs.transforms import TransformSpec, check_size, size_pair
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry

if TYPE_CHECKING:
    from k12ai_worker.k12cv.images import ImageSet

DIGITS_SPLITS = ("train", "test", "all")


@dataclass(frozen=True, kw_only=True)
class DatasetReaderSpec:
    registry: ClassVar[Registry[DatasetReaderSpec]]
    transforms: list[TransformSpec] = field(default_factory=list)
    # Decoded images are kept in memory (on the GPU when there is one) when the
    # dataset fits in this many MiB; larger ones are decoded again each epoch
    # by DataLoader workers.
    cache_limit_mb: int = 2048

    @property
    def channels(self) -> int:
        raise NotImplementedError

    def reads_files(self) -> bool:
        """Whether data paths are files the server must hold to the data roots."""
        return True

    def read(self, path: str, key: str) -> ImageSet:
        """The labelled images at ``path``; ``key`` is the config key of the path, for errors."""
        raise NotImplementedError

    @property
    def decode_size(self) -> tuple[int, int] | None:
        """``(height, width)`` images are resized to when decoded, if a ``resize`` asks for one."""
        sizes = [t.output_size((0, 0)) for t in self.transforms if t.at_decode]
        return sizes[0] if sizes else None

    @property
    def batch_transforms(self) -> list[TransformSpec]:
        return [t for t in self.transforms if not t.at_decode]

    def check(self, path: str) -> None:
        for i, transform in enumerate(self.transforms):
            if transform.at_decode and i != 0:
                raise ConfigError(
                    join(join(path, "transforms"), i),
                    "resize runs when images are decoded, so it must be the first transform",
                )
            transform.output_channels(self.channels, join(join(path, "transforms"), i))
        if self.cache_limit_mb < 0:
            raise ConfigError(
                join(path, "cache_limit_mb"), f"must not be negative, got {self.cache_limit_mb}"
            )


DatasetReaderSpec.registry = Registry("dataset reader")


@DatasetReaderSpec.registry.register("image_folder")
@dataclass(frozen=True, kw_only=True)
class ImageFolderSpec(DatasetReaderSpec):
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    extensions: list[str] = field(default_factory=lambda: [".png", ".jpg", ".jpeg"])

    @property
    def channels(self) -> int:
        return 3 if self.color_mode == "rgb" else 1

    def read(self, path: str, key: str) -> ImageSet:
        from k12ai_worker.k12cv.images import read_image_folder

        return read_image_folder(Path(path), self, key)


@DatasetReaderSpec.registry.register("csv_pixels")
@dataclass(frozen=True, kw_only=True)
class CsvPixelsSpec(DatasetReaderSpec):
    # [height, width] (or one side); by default the square the pixel count makes.
    image_size: int | list[int] | None = None
    # Pixels of a row are channel after channel, each row by row.
    image_channels: Literal[1, 3] = 1
    label_column: int = 0
    # Largest pixel value: 255 for MNIST-style files.
    max_value: float = 255.0

    @property
    def channels(self) -> int:
        return self.image_channels

    @property
    def size(self) -> tuple[int, int] | None:
        return None if self.image_size is None else size_pair(self.image_size)

    def check(self, path: str) -> None:
        super().check(path)
        if self.image_size is not None:
            check_size(join(path, "image_size"), self.image_size)
        if self.max_value <= 0:
            raise ConfigError(join(path, "max_value"), f"must be positive, got {self.max_value}")

    def read(self, path: str, key: str) -> ImageSet:
        from k12ai_worker.k12cv.images import read_csv_pixels

        return read_csv_pixels(Path(path), self, key)


@DatasetReaderSpec.registry.register("sklearn_digits")
@dataclass(frozen=True, kw_only=True)
class SklearnDigitsSpec(DatasetReaderSpec):
    test_fraction: float = 0.2
    seed: int = 0

    @property
    def channels(self) -> int:
        return 1

    def reads_files(self) -> bool:
        return False

    def check(self, path: str) -> None:
        super().check(path)
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(join(path, "test_fraction"), f"must lie in (0, 1), got {self.test_fraction}")

    def read(self, path: str, key: str) -> ImageSet:
        from k12ai_worker.k12cv.images import read_sklearn_digits

        if path not in DIGITS_SPLITS:
            raise ConfigError(
                key, f"sklearn_digits reads a split, one of {', '.join(DIGITS_SPLITS)}; got {path!r}"
            )
        return read_sklearn_digits(path, self)
