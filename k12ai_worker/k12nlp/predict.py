"""A k12nlp predict job: the ``text_classifier`` predictor over sentences.

Each instance yields one ``predict`` event, ``{"index": i, "prediction": line}``,
where ``line`` is the JSON AllenNLP's predictor printed:
``{"logits": [...], "class_probabilities": [...], "label": "..."}`` and a newline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from k12ai_contract.errors import ConfigError
from k12ai_contract.spec import JobSpec
from k12ai_worker import inputs, json_text
from k12ai_worker.k12nlp.archive import load_model_archive
from k12ai_worker.k12nlp.batching import TextBatch
from k12ai_worker.k12nlp.config import PredictParams, TrainConfig
from k12ai_worker.k12nlp.dataset import IndexedDataset, IntArray
from k12ai_worker.k12nlp.iterators import BasicIteratorSpec
from k12ai_worker.k12nlp.models.classifier import TextClassifier
from k12ai_worker.k12nlp.readers import Instance
from k12ai_worker.training.device import select_device
from k12ai_worker.training.job_params import read_archived_config, read_job_params
from k12ai_worker.training.predictions import emit_predictions, prediction_lines
from k12ai_worker.training.reporting import EventSink


def _sentence(item: Any, key: str) -> str:
    if isinstance(item, dict) and isinstance(item.get("sentence"), str):
        return str(item["sentence"])
    # What it got is named, not quoted: input_file's lines are a file's content.
    raise ConfigError(key, f'expected {{"sentence": "..."}}, got {_json_kind(item)}')


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def text_sentences(text: str) -> list[str]:
    """The sentences of ``input_text``: a JSON object (or list, or JSON lines) of
    ``{"sentence": ...}``, or else the text itself as one sentence."""
    try:
        whole = json_text.loads("input_text", text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        return [_sentence(item, f"input_text.{i}") for i, item in enumerate(whole)]
    if isinstance(whole, dict):
        return [_sentence(whole, "input_text")]
    if isinstance(whole, str):
        return [whole]
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        items = [json_text.loads("input_text", line) for line in lines]
    except json.JSONDecodeError:
        return [text]
    return [_sentence(item, f"input_text.{i}") for i, item in enumerate(items)]


def file_sentences(file: str) -> Iterator[str]:
    path = Path(file)
    if not path.is_file():
        raise ConfigError("input_file", f"file not found: {file}")
    with inputs.open_text("input_file", path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json_text.loads("input_file", line)
            except json.JSONDecodeError as exc:
                raise ConfigError("input_file", f"{file}:{number}: not JSON: {exc}") from None
            yield _sentence(item, f"input_file:{number}")


def _sentences(params: PredictParams) -> list[str]:
    if params.input_type == "text":
        assert params.input_text is not None
        return text_sentences(params.input_text)
    assert params.input_file is not None
    return list(file_sentences(params.input_file))


def run_predict(spec: JobSpec, sink: EventSink) -> None:
    params, overrides = read_job_params(PredictParams, spec.params)
    archive = load_model_archive(spec.model_archive)
    config = read_archived_config(TrainConfig, archive.config, overrides)
    sentences = _sentences(params)
    key = "input_text" if params.input_type == "text" else "input_file"
    reader = config.evaluation_reader
    instances = [Instance(reader.tokenize(sentence)) for sentence in sentences]
    for i, instance in enumerate(instances):
        if not instance.tokens:
            raise ConfigError(key, f"sentence {i} has no tokens")
    device = select_device(wants_gpu=params.cuda_device >= 0, sink=sink)
    model = archive.restore(config, device)
    dataset = IndexedDataset.index(instances, reader.token_indexers, archive.vocab)
    # In input order: event i is sentence i.
    plan = BasicIteratorSpec(batch_size=params.batch_size).plan(
        dataset.lengths, np.random.default_rng(0), shuffle=False
    )
    emit_predictions(sink, _predictions(model, dataset, plan, device), spec.cache_dir, params.output_file)


def _predictions(
    model: TextClassifier, dataset: IndexedDataset, plan: list[IntArray], device: torch.device
) -> Iterator[str]:
    """One JSON line per instance, in dataset order."""
    with torch.inference_mode():
        for indices in plan:
            result = model(TextBatch.gather(dataset, indices).to(device))
            yield from prediction_lines(result, model.labels)
