"""Batches of images and the per-epoch sources the trainer iterates.

A dataset that fits under ``cache_limit_mb`` is decoded once into one uint8
tensor, kept on the job's device, so a batch is one ``index_select`` there and
the GPU never waits for the host. A larger one is decoded each epoch by
``DataLoader`` workers into pinned memory, copied without blocking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.utils.data

from k12ai_contract.errors import ConfigError, InputRefusedError
from k12ai_worker.k12cv.augment import BatchPipeline
from k12ai_worker.k12cv.images import ImageDecodeError, ImageSet, decode
from k12ai_worker.k12cv.specs.iterators import IteratorSpec

MAX_AUTO_WORKERS = 8


@dataclass(frozen=True)
class ImageBatch:
    """Model input: float images on the model's device."""

    images: torch.Tensor
    labels: torch.Tensor | None

    @property
    def target(self) -> torch.Tensor | None:
        return self.labels

    def to(self, device: torch.device) -> ImageBatch:
        if self.images.device == device:
            return self
        labels = None if self.labels is None else self.labels.to(device, non_blocking=True)
        return ImageBatch(self.images.to(device, non_blocking=True), labels)


@dataclass(frozen=True)
class PixelBatch:
    """uint8 pixels as read; ``to`` moves them to the device and runs the batch transforms there."""

    pixels: torch.Tensor
    labels: torch.Tensor | None
    pipeline: BatchPipeline

    @property
    def target(self) -> torch.Tensor | None:
        return self.labels

    def to(self, device: torch.device) -> ImageBatch:
        pixels = self.pixels.to(device, non_blocking=True)
        labels = None if self.labels is None else self.labels.to(device, non_blocking=True)
        return ImageBatch(self.pipeline(pixels), labels)


# uint8 (C, H, W) pixels, label id, why the file could not be used ("" when it could), and
# whether that was because the job may not read it.
DecodedItem = tuple[torch.Tensor, int, str, bool]


class DecodedImages(torch.utils.data.Dataset[DecodedItem]):
    """Image files decoded one by one (in DataLoader workers), with their label ids.

    A file that cannot be used gives blank pixels and the reason, rather than
    raising: an exception in a worker reaches the job as a bare ``RuntimeError``,
    which would lose the config key that ``raise_unusable`` names.
    """

    def __init__(
        self,
        files: list[Path],
        label_ids: list[int],
        channels: int,
        *,
        resize: tuple[int, int] | None,
        size: tuple[int, int],
        key: str,
    ) -> None:
        self._key = key
        self._files = files
        self._label_ids = label_ids
        self._channels = channels
        self._resize = resize
        self._size = size

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, index: int) -> DecodedItem:
        file = self._files[index]
        label = self._label_ids[index]
        blank = torch.zeros((self._channels, *self._size), dtype=torch.uint8)
        try:
            pixels = decode(file, self._channels, self._resize, key=self._key)
        except ImageDecodeError as exc:
            return blank, label, f"{file} is not an image: {exc}", False
        except InputRefusedError as exc:
            return blank, label, exc.detail, True
        if pixels.shape[1:] != self._size:
            height, width = self._size
            return (
                blank,
                label,
                f"{file} is {pixels.shape[1]}x{pixels.shape[2]}, not the {height}x{width} this job "
                "expects; add a resize transform",
                False,
            )
        return torch.from_numpy(pixels), label, "", False


def raise_unusable(errors: list[str], refused: torch.Tensor, key: str) -> None:
    """Raises the first reason a batch's files could not be used, naming the data's config key."""
    for error, was_refused in zip(errors, refused.tolist(), strict=True):
        if was_refused:
            raise InputRefusedError(key, error)
        if error:
            raise ConfigError(key, error)


def worker_count(iterator: IteratorSpec) -> int:
    if iterator.num_workers is not None:
        return iterator.num_workers
    return min(MAX_AUTO_WORKERS, len(os.sched_getaffinity(0)))


def image_size(images: ImageSet, decode_size: tuple[int, int] | None, key: str) -> tuple[int, int]:
    """The (height, width) every image of the set has once decoded."""
    if images.pixels is not None:
        return images.pixels.shape[2], images.pixels.shape[3]
    if decode_size is not None:
        return decode_size
    assert images.files
    try:
        first = decode(images.files[0], images.channels, None, key=key)
    except ImageDecodeError as exc:
        raise ConfigError(key, f"{images.files[0]} is not an image: {exc}") from None
    return first.shape[1], first.shape[2]


def cache_pixels(dataset: DecodedImages, *, workers: int, key: str) -> torch.Tensor:
    """All images decoded into one uint8 tensor ``(N, C, H, W)`` on the CPU."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=256, num_workers=workers if len(dataset) > 256 else 0
    )
    chunks: list[torch.Tensor] = []
    for pixels, _, errors, refused in loader:
        raise_unusable(errors, refused, key)
        chunks.append(pixels)
    return torch.cat(chunks)


def cached_bytes(images: ImageSet, size: tuple[int, int]) -> int:
    return len(images) * images.channels * size[0] * size[1]


class CachedSource:
    """Batches gathered from decoded images held on one device."""

    def __init__(
        self,
        pixels: torch.Tensor,
        labels: torch.Tensor | None,
        iterator: IteratorSpec,
        pipeline: BatchPipeline,
        *,
        shuffle: bool,
        seed: int,
    ) -> None:
        self._pixels = pixels
        self._labels = labels
        self._iterator = iterator
        self._pipeline = pipeline
        self._shuffle = shuffle
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self._pixels), self._iterator.batch_size)
        return full + (1 if rest and not self._iterator.skip_smaller_batches else 0)

    def __iter__(self) -> Iterator[PixelBatch]:
        count = len(self._pixels)
        order = torch.randperm(count, generator=self._generator) if self._shuffle else torch.arange(count)
        order = order.to(self._pixels.device)
        size = self._iterator.batch_size
        for batch in range(len(self)):
            indices = order[batch * size : (batch + 1) * size]
            labels = None if self._labels is None else self._labels.index_select(0, indices)
            yield PixelBatch(self._pixels.index_select(0, indices), labels, self._pipeline)


class LoaderSource:
    """Batches decoded from files each pass by DataLoader workers."""

    def __init__(
        self,
        dataset: DecodedImages,
        iterator: IteratorSpec,
        pipeline: BatchPipeline,
        *,
        shuffle: bool,
        seed: int,
        pin_memory: bool,
        key: str,
    ) -> None:
        workers = worker_count(iterator)
        self._loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=iterator.batch_size,
            shuffle=shuffle,
            drop_last=iterator.skip_smaller_batches,
            num_workers=workers,
            pin_memory=pin_memory,
            persistent_workers=workers > 0,
            generator=torch.Generator().manual_seed(seed),
        )
        self._pipeline = pipeline
        self._key = key

    def __len__(self) -> int:
        return len(self._loader)

    def __iter__(self) -> Iterator[PixelBatch]:
        for pixels, labels, errors, refused in self._loader:
            raise_unusable(errors, refused, self._key)
            yield PixelBatch(pixels, labels, self._pipeline)
