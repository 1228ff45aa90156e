"""evaluate: score the trained model on labelled data, one ``metrics`` event.

A builtin set that the model was trained on is scored on the rows held out
at training time (recorded in the archive), so the numbers are an honest
estimate; any other data (a CSV, another builtin set) is scored whole.
"""

from __future__ import annotations

import json

from k12ai_contract.errors import ConfigError
from k12ai_contract.rundir import ProjectDir
from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.k12ml import archive, datasets
from k12ai_worker.k12ml.archive import TrainedModel
from k12ai_worker.k12ml.config import BuiltinDataset, CsvDataset, EvaluateConfig
from k12ai_worker.k12ml.datasets import Table
from k12ai_worker.k12ml.files import write_atomic
from k12ai_worker.k12ml.reporting import info, warnings_as_info
from k12ai_worker.k12ml.scoring import class_scores, metrics


def run(spec: JobSpec, events: EventWriter, config: EvaluateConfig) -> None:
    with warnings_as_info(events):
        model = archive.load(spec.model_archive)
        table = _table(events, config, model)
        assert table.labels is not None
        result = metrics(table.labels, class_scores(model.pipeline, table.features), model.classes)
    events.emit("metrics", result)
    if config.output_file is not None:
        path = ProjectDir(spec.cache_dir).output_file(config.output_file)
        write_atomic(path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
        info(events, f"metrics written to {path}", path=str(path))


def _table(events: EventWriter, config: EvaluateConfig, model: TrainedModel) -> Table:
    data = config.data
    if isinstance(data, CsvDataset):
        table = datasets.load(data, model_features=model.feature_names, model_label=model.label_column)
        info(events, f"evaluating on {table.rows} rows of {table.source}", rows=table.rows)
        return table
    table = datasets.load(data)
    if table.features.shape[1] != len(model.feature_names):
        raise ConfigError(
            "dataset.name",
            f"{data.name} has {table.features.shape[1]} features; the model was trained on "
            f"{len(model.feature_names)}",
        )
    if _trained_on(model, data):
        table = table.take(model.validation_rows)
        info(
            events,
            f"evaluating on the {table.rows} rows of {data.name} held out in training",
            rows=table.rows,
        )
    else:
        info(events, f"evaluating on all {table.rows} rows of {data.name}", rows=table.rows)
    return table


def _trained_on(model: TrainedModel, data: BuiltinDataset) -> bool:
    trained = model.params.get("dataset")
    return isinstance(trained, dict) and trained.get("type") == "builtin" and trained.get("name") == data.name
