"""The per-batch half of ``transforms``, run on the job's device.

Working on whole uint8 batches where they already are (the GPU, when there is
one) keeps the CPU out of the way: a batch crosses to the device as bytes, a
quarter of its float size, and crops and flips are a few tensor operations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12cv.specs.transforms import (
    NormalizeSpec,
    RandomCropSpec,
    RandomFlipSpec,
    TransformSpec,
    size_pair,
)
from k12ai_worker.training.params import join

Step = Callable[[torch.Tensor], torch.Tensor]


class BatchPipeline:
    """uint8 ``(B, C, H, W)`` to float model input: scaled to [0, 1], then each transform."""

    def __init__(self, steps: Sequence[Step], output_size: tuple[int, int]) -> None:
        self._steps = list(steps)
        self.output_size = output_size

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        # uint8 / float gives float32 in one kernel (a cast then a divide would be two).
        images = pixels / 255.0
        for step in self._steps:
            images = step(images)
        return images

    @classmethod
    def build(
        cls,
        transforms: Sequence[tuple[int, TransformSpec]],
        *,
        input_size: tuple[int, int],
        training: bool,
        path: str,
    ) -> BatchPipeline:
        """The pipeline for images of ``input_size``; ``transforms`` are (index in the config, spec)."""
        steps: list[Step] = []
        size = input_size
        for index, spec in transforms:
            key = join(join(path, "transforms"), index)
            if isinstance(spec, NormalizeSpec):
                steps.append(_normalize(spec))
            elif isinstance(spec, RandomCropSpec):
                crop = size_pair(spec.size)
                padded = (size[0] + 2 * spec.padding, size[1] + 2 * spec.padding)
                if crop[0] > padded[0] or crop[1] > padded[1]:
                    raise ConfigError(
                        join(key, "size"),
                        f"{list(crop)} is larger than the (padded) images, {list(padded)}",
                    )
                steps.append(
                    _random_crop(crop, spec.padding) if training else _center_crop(crop, spec.padding)
                )
            elif isinstance(spec, RandomFlipSpec):
                if training:
                    steps.append(_random_flip(spec))
            else:
                raise ConfigError(join(key, "type"), f"{type(spec).__name__} does not run on batches")
            size = spec.output_size(size)
        return cls(steps, size)


def _normalize(spec: NormalizeSpec) -> Step:
    shape = (1, len(spec.mean), 1, 1)
    mean = torch.tensor(spec.mean).view(shape)
    std = torch.tensor(spec.std).view(shape)
    # Copied to a device once, not per batch: a copy from pageable memory would stall the stream.
    on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def normalize(images: torch.Tensor) -> torch.Tensor:
        if images.device not in on_device:
            on_device[images.device] = (mean.to(images.device), std.to(images.device))
        device_mean, device_std = on_device[images.device]
        return (images - device_mean) / device_std

    return normalize


def _pad(images: torch.Tensor, padding: int) -> torch.Tensor:
    return torch.nn.functional.pad(images, (padding,) * 4) if padding else images


def _random_crop(size: tuple[int, int], padding: int) -> Step:
    height, width = size

    def crop(images: torch.Tensor) -> torch.Tensor:
        padded = _pad(images, padding)
        batch = padded.size(0)
        device = padded.device
        # One offset per image, all gathered at once rather than image by image.
        top = torch.randint(0, padded.size(2) - height + 1, (batch, 1), device=device)
        left = torch.randint(0, padded.size(3) - width + 1, (batch, 1), device=device)
        rows = (top + torch.arange(height, device=device)).view(batch, 1, height, 1)
        cols = (left + torch.arange(width, device=device)).view(batch, 1, 1, width)
        index = torch.arange(batch, device=device).view(batch, 1, 1, 1)
        channels = torch.arange(padded.size(1), device=device).view(1, -1, 1, 1)
        return padded[index, channels, rows, cols]

    return crop


def _center_crop(size: tuple[int, int], padding: int) -> Step:
    height, width = size

    def crop(images: torch.Tensor) -> torch.Tensor:
        padded = _pad(images, padding)
        top = (padded.size(2) - height) // 2
        left = (padded.size(3) - width) // 2
        return padded[:, :, top : top + height, left : left + width]

    return crop


def _random_flip(spec: RandomFlipSpec) -> Step:
    dim = 3 if spec.direction == "horizontal" else 2

    def flip(images: torch.Tensor) -> torch.Tensor:
        chosen = torch.rand(images.size(0), device=images.device) < spec.probability
        return torch.where(chosen.view(-1, 1, 1, 1), images.flip(dim), images)

    return flip
