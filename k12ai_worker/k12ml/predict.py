"""predict: one ``predict`` event per instance, in the seed's shape.

Each event is ``{"index": i, "prediction": line}`` where ``line`` is the JSON
of ``{"logits": [...], "class_probabilities": [...], "label": "..."}``
followed by a newline, as AllenNLP's ``dump_line`` writes it; ``output_file``
gets the same lines. Vectors follow the model's classes (the ``classes`` of
the training ``info`` event); see ``scoring.py`` for what logits mean here.
"""

from __future__ import annotations

import json

import numpy as np

from k12ai_contract.errors import ConfigError
from k12ai_contract.rundir import ProjectDir
from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.k12ml import archive, datasets
from k12ai_worker.k12ml.archive import TrainedModel
from k12ai_worker.k12ml.config import CsvDataset, PredictConfig
from k12ai_worker.k12ml.datasets import Features
from k12ai_worker.k12ml.files import write_atomic
from k12ai_worker.k12ml.reporting import info, warnings_as_info
from k12ai_worker.k12ml.scoring import class_scores


def run(spec: JobSpec, events: EventWriter, config: PredictConfig) -> None:
    lines: list[str] = []
    with warnings_as_info(events):
        model = archive.load(spec.model_archive)
        features = _features(config, model)
        info(events, f"predicting {features.shape[0]} instances", instances=int(features.shape[0]))
        for start in range(0, features.shape[0], config.batch_size):
            scores = class_scores(model.pipeline, features[start : start + config.batch_size])
            for offset, label in enumerate(scores.labels(model.classes)):
                line = (
                    json.dumps(
                        {
                            "logits": scores.logits[offset].tolist(),
                            "class_probabilities": scores.probabilities[offset].tolist(),
                            "label": str(label),
                        }
                    )
                    + "\n"
                )
                events.emit("predict", {"index": start + offset, "prediction": line})
                lines.append(line)
    if config.output_file is not None:
        path = ProjectDir(spec.cache_dir).output_file(config.output_file)
        write_atomic(path, "".join(lines).encode("utf-8"))
        info(events, f"predictions written to {path}", path=str(path))


def _features(config: PredictConfig, model: TrainedModel) -> Features:
    expected = len(model.feature_names)
    if config.rows is not None:
        rows = np.asarray(config.rows, dtype=np.float64)
        if rows.shape[1] != expected:
            raise ConfigError(
                "input_text",
                f"rows have {rows.shape[1]} values; the model expects {expected}: "
                + ", ".join(model.feature_names),
            )
        return rows
    assert config.input_file is not None
    data = CsvDataset(path=config.input_file, path_key="input_file", label_key="input_file")
    table = datasets.read_csv(
        data, need_label=False, model_features=model.feature_names, model_label=model.label_column
    )
    return table.features
