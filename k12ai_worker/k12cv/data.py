"""From a reader's config and a data path to the batch source the trainer (or evaluate) iterates."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12cv.augment import BatchPipeline
from k12ai_worker.k12cv.batching import (
    CachedSource,
    DecodedImages,
    LoaderSource,
    cache_pixels,
    cached_bytes,
    image_size,
    worker_count,
)
from k12ai_worker.k12cv.images import ImageSet
from k12ai_worker.k12cv.specs.iterators import IteratorSpec
from k12ai_worker.k12cv.specs.readers import DatasetReaderSpec
from k12ai_worker.training.trainer import BatchSource

MIB = 1 << 20


def read_images(reader: DatasetReaderSpec, path: str, key: str) -> ImageSet:
    images = reader.read(path, key)
    if len(images) == 0:
        raise ConfigError(key, f"{path} holds no images")
    return images


def label_ids(images: ImageSet, labels: Sequence[str], key: str) -> list[int]:
    ids = {label: i for i, label in enumerate(labels)}
    try:
        return [ids[label] for label in images.labels]
    except KeyError:
        known = ", ".join(repr(label) for label in labels)
        # The data's own label is not quoted: messages never show what a file holds.
        raise ConfigError(key, f"holds a label the model does not know (it knows {known})") from None


def batch_source(
    images: ImageSet,
    *,
    reader: DatasetReaderSpec,
    reader_key: str,
    iterator: IteratorSpec,
    labels: Sequence[str],
    device: torch.device,
    training: bool,
    shuffle: bool,
    seed: int,
    key: str,
    size: tuple[int, int] | None = None,
) -> BatchSource:
    """Batches of ``images`` (labels as ids of ``labels``) for ``device``.

    ``training`` turns the random transforms on; ``shuffle`` reorders each pass.

    ``size`` is the decoded size the images must have (a trained model's); by
    default the reader's ``resize`` or the images' own.
    """
    size = size or image_size(images, reader.decode_size, key)
    ids = label_ids(images, labels, key)
    pipeline = BatchPipeline.build(
        [(i, t) for i, t in enumerate(reader.transforms) if not t.at_decode],
        input_size=size,
        training=training,
        path=reader_key,
    )
    if images.pixels is not None:
        # Images read into memory (CSV, digits) are held there whatever their size.
        pixels = torch.from_numpy(images.pixels)
        if tuple(pixels.shape[2:]) != size:
            raise ConfigError(
                key,
                f"images are {pixels.shape[2]}x{pixels.shape[3]}, the model's {size[0]}x{size[1]}; "
                "add a resize transform",
            )
    else:
        assert images.files is not None
        dataset = DecodedImages(
            images.files, ids, images.channels, resize=reader.decode_size, size=size, key=key
        )
        if cached_bytes(images, size) > reader.cache_limit_mb * MIB:
            return LoaderSource(
                dataset,
                iterator,
                pipeline,
                shuffle=shuffle,
                seed=seed,
                pin_memory=device.type == "cuda",
                key=key,
            )
        pixels = cache_pixels(dataset, workers=worker_count(iterator), key=key)
    return CachedSource(
        pixels.to(device),
        torch.tensor(ids, dtype=torch.int64, device=device),
        iterator,
        pipeline,
        shuffle=shuffle,
        seed=seed,
    )
