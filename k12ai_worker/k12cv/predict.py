"""A k12cv predict job: the archived classifier over images given as files or base64 text.

Each image yields one ``predict`` event, ``{"index": i, "prediction": line}``,
``line`` being the JSON k12nlp's predictor gives too:
``{"logits": [...], "class_probabilities": [...], "label": "..."}`` and a newline.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from k12ai_contract.errors import ConfigError
from k12ai_contract.spec import JobSpec
from k12ai_worker import inputs, json_text
from k12ai_worker.k12cv.archive import ModelInputs, load_model_archive
from k12ai_worker.k12cv.augment import BatchPipeline
from k12ai_worker.k12cv.batching import PixelBatch
from k12ai_worker.k12cv.config import PredictParams, TrainConfig
from k12ai_worker.k12cv.images import ImageDecodeError, Pixels, decode
from k12ai_worker.k12cv.models.classifier import ImageClassifier
from k12ai_worker.training.device import select_device
from k12ai_worker.training.job_params import read_archived_config, read_job_params
from k12ai_worker.training.predictions import emit_predictions, prediction_lines
from k12ai_worker.training.reporting import EventSink

# An image (or its bytes) and the key naming it in errors.
Source = tuple[Path | bytes, str]


def text_images(text: str) -> list[Source]:
    """The images of ``input_text``: base64 strings, as a JSON list or one a line."""
    try:
        whole = json_text.loads("input_text", text)
    except json.JSONDecodeError:
        whole = None
    items = whole if isinstance(whole, list) else [line for line in text.split() if line]
    if not items:
        raise ConfigError("input_text", "holds no image")
    sources: list[Source] = []
    for i, item in enumerate(items):
        key = f"input_text.{i}" if len(items) > 1 else "input_text"
        if not isinstance(item, str):
            raise ConfigError(key, "expected base64 image bytes")
        # A data URL ("data:image/png;base64,...") as a browser gives it works too.
        encoded = item.split(",", 1)[1] if item.startswith("data:") else item
        try:
            sources.append((base64.b64decode(encoded, validate=True), key))
        except (binascii.Error, ValueError):
            raise ConfigError(key, "is not base64") from None
    return sources


def file_images(file: str) -> list[Source]:
    """``input_file`` as one image, or else as a listing of images, one path a line.

    Listed paths are relative to the listing's folder and must stay inside it: the server
    holds ``input_file`` to the data roots, and cannot see what it lists (each listed image is
    held to them again as it is opened).
    """
    path = Path(file)
    if not path.is_file():
        raise ConfigError("input_file", f"file not found: {file}")
    try:
        decode(path, 1, None, key="input_file")
        return [(path, "input_file")]
    except ImageDecodeError:
        pass
    try:
        with inputs.open_text("input_file", path) as listing:
            lines = listing.read().splitlines()
    except UnicodeDecodeError:
        raise ConfigError("input_file", f"{file} is neither an image nor a text listing of images") from None
    folder = path.parent.resolve()
    sources: list[Source] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        listed = (folder / line.strip()).resolve()
        key = f"input_file:{number}"
        if not listed.is_relative_to(folder):
            # The listed name is not quoted: messages never show what a file holds.
            raise ConfigError(key, f"names a file outside the listing's folder {folder}")
        if not listed.is_file():
            raise ConfigError(key, f"file not found: {listed}")
        sources.append((listed, key))
    if not sources:
        raise ConfigError("input_file", f"{file} lists no image")
    return sources


def _sources(params: PredictParams) -> list[Source]:
    if params.input_type == "text":
        assert params.input_text is not None
        return text_images(params.input_text)
    assert params.input_file is not None
    return file_images(params.input_file)


def _decoded(source: Source, model_inputs: ModelInputs) -> Pixels:
    data, key = source
    try:
        # Resized to what the network was trained on, whatever the image's own size.
        return decode(data, model_inputs.channels, model_inputs.image_size, key=key)
    except ImageDecodeError as exc:
        raise ConfigError(key, f"is not an image: {exc}") from None


def run_predict(spec: JobSpec, sink: EventSink) -> None:
    params, overrides = read_job_params(PredictParams, spec.params)
    archive = load_model_archive(spec.model_archive)
    config = read_archived_config(TrainConfig, archive.config, overrides)
    sources = _sources(params)
    device = select_device(wants_gpu=params.cuda_device >= 0, sink=sink)
    model = archive.restore(config, device)
    reader = config.evaluation_reader
    pipeline = BatchPipeline.build(
        [(i, t) for i, t in enumerate(reader.transforms) if not t.at_decode],
        input_size=archive.inputs.image_size,
        training=False,
        path="validation_dataset_reader" if config.validation_dataset_reader else "dataset_reader",
    )
    lines = _predictions(model, sources, archive.inputs, pipeline, params.batch_size, device)
    emit_predictions(sink, lines, spec.cache_dir, params.output_file)


def _predictions(
    model: ImageClassifier,
    sources: list[Source],
    model_inputs: ModelInputs,
    pipeline: BatchPipeline,
    batch_size: int,
    device: torch.device,
) -> Iterator[str]:
    """One JSON line per image, in input order."""
    with torch.inference_mode():
        for start in range(0, len(sources), batch_size):
            pixels = np.stack([_decoded(s, model_inputs) for s in sources[start : start + batch_size]])
            result = model(PixelBatch(torch.from_numpy(pixels), None, pipeline).to(device))
            yield from prediction_lines(result, model.labels)
