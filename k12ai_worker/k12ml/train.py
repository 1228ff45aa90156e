"""train: fit on the data less a held-out split, report metrics on that split, save the model.

Ensembles (``Estimator.grows``) are grown in ``STAGES`` steps through
``warm_start``, each followed by a ``metrics`` event with ``epoch`` (the step),
``progress`` (the share of ``n_estimators`` grown) and ``n_estimators``; the
result is the same model a single fit would give, and a live chart has a
curve. Other estimators fit once and report once, with ``progress`` 1.0; so does
gradient boosting with ``n_iter_no_change``, because scikit-learn's early
stopping does not hold across ``warm_start`` calls (each call restarts its
patience and keeps adding stages).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from k12ai_contract.errors import ConfigError
from k12ai_contract.events import EventType
from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.k12ml import archive, datasets
from k12ai_worker.k12ml.config import CsvDataset, ModelConfig, TrainConfig
from k12ai_worker.k12ml.datasets import Table
from k12ai_worker.k12ml.estimators import ESTIMATORS, Estimator
from k12ai_worker.k12ml.reporting import info, warnings_as_info
from k12ai_worker.k12ml.scoring import class_scores, metrics

STAGES = 10
_PARAMETER_IN_MESSAGE = re.compile(r"The '(\w+)' parameter of ")


def run(spec: JobSpec, events: EventWriter, config: TrainConfig) -> None:
    started = time.monotonic()
    table = datasets.load(config.dataset)
    labels = _labels(table)
    classes = sorted(set(labels.tolist()))
    data_key = config.dataset.path_key if isinstance(config.dataset, CsvDataset) else "dataset.name"
    if table.rows < 2:
        raise ConfigError(data_key, f"has {table.rows} row; training needs at least 2 (one held out)")
    if len(classes) < 2:
        label_key = config.dataset.label_key if isinstance(config.dataset, CsvDataset) else data_key
        raise ConfigError(label_key, f"has the single class {classes[0]!r}; a classifier needs two or more")
    info(
        events,
        f"{table.source}: {table.rows} rows, {len(table.feature_names)} features, {len(classes)} classes",
        rows=table.rows,
        features=len(table.feature_names),
        classes=classes,
    )
    train_rows, validation_rows, stratified = _split(table, config)
    info(
        events,
        f"training on {len(train_rows)} rows, validating on {len(validation_rows)}"
        + ("" if stratified else " (not stratified: a class has too few rows)"),
        train_rows=len(train_rows),
        validation_rows=len(validation_rows),
    )
    train, held_out = table.take(train_rows), table.take(validation_rows)
    estimator = ESTIMATORS[config.model.type]
    with warnings_as_info(events), _refusals_as_config_errors(config.model):
        pipeline = _pipeline(estimator, config)
        if estimator.grows and config.model.params.get("n_iter_no_change") is None:
            final = _grow(events, pipeline, train, held_out)
        else:
            pipeline.fit(train.features, _labels(train))
            final = _report(events, pipeline, held_out, progress=1.0, **_size(pipeline[-1]))
    trained = archive.TrainedModel(
        pipeline=pipeline,
        classes=tuple(str(c) for c in pipeline.classes_),
        feature_names=table.feature_names,
        label_column=table.label_column,
        params=spec.params,
        metrics=final,
        validation_rows=tuple(int(r) for r in validation_rows),
    )
    path = archive.save(trained, spec)
    info(events, f"model saved to {path}", path=str(path))
    # The final model is the one kept (no best epoch to go back to): its held-out scores.
    summary: dict[str, Any] = {f"validation_{name}": value for name, value in final.items()}
    summary.update(training_duration_s=round(time.monotonic() - started, 3), archive=str(path))
    events.emit(EventType.RESULT, summary)


def _labels(table: Table) -> datasets.Labels:
    # datasets.load always reads a label; this only narrows the type.
    assert table.labels is not None
    return table.labels


def _split(table: Table, config: TrainConfig) -> tuple[Any, Any, bool]:
    from sklearn.model_selection import train_test_split

    rows = np.arange(table.rows)
    try:
        train, held_out = train_test_split(
            rows, test_size=config.validation_split, random_state=config.seed, stratify=table.labels
        )
        return train, held_out, True
    except ValueError:
        # A class with a single row, or fewer held-out rows than classes:
        # stratifying is impossible, a plain shuffle still validates.
        train, held_out = train_test_split(rows, test_size=config.validation_split, random_state=config.seed)
        return train, held_out, False


def _pipeline(estimator: Estimator, config: TrainConfig) -> Any:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps: list[tuple[str, Any]] = [("scale", StandardScaler())] if config.standardize else []
    steps.append(("model", estimator.new(config.model.params, config.seed)))
    return Pipeline(steps)


def _grow(events: EventWriter, pipeline: Any, train: Table, held_out: Table) -> dict[str, float]:
    model = pipeline[-1]
    total = int(model.get_params()["n_estimators"])
    model.set_params(warm_start=True)
    result: dict[str, float] = {}
    for epoch, size in enumerate(_stage_sizes(total), start=1):
        model.set_params(n_estimators=size)
        # Refits the scaler too: the same numbers each time, and cheap next to the trees.
        pipeline.fit(train.features, _labels(train))
        result = _report(events, pipeline, held_out, epoch=epoch, progress=size / total, n_estimators=size)
    model.set_params(warm_start=False)
    return result


def _size(model: Any) -> dict[str, float]:
    # Early stopping (n_iter_no_change) decides how many stages boosting kept.
    grown = getattr(model, "n_estimators_", None)
    return {} if grown is None else {"n_estimators": int(grown)}


def _stage_sizes(total: int) -> list[int]:
    return sorted({math.ceil(total * step / STAGES) for step in range(1, STAGES + 1)})


def _report(events: EventWriter, pipeline: Any, held_out: Table, **progress: float) -> dict[str, float]:
    classes = [str(c) for c in pipeline.classes_]
    result = metrics(_labels(held_out), class_scores(pipeline, held_out.features), classes)
    events.emit("metrics", {**result, **progress})
    return result


@contextmanager
def _refusals_as_config_errors(model: ModelConfig) -> Iterator[None]:
    """scikit-learn's refusals of the user's model, as ``ConfigError`` naming the key."""
    try:
        yield
    except ValueError as exc:
        # InvalidParameterError lives in a private scikit-learn module;
        # matching its name survives the module moving.
        if type(exc).__name__ == "InvalidParameterError":
            match = _PARAMETER_IN_MESSAGE.match(str(exc))
            name = match.group(1) if match else ""
            key = f"model.params.{name}" if name in model.params else "model"
            raise ConfigError(key, str(exc)) from exc
        # What no single parameter's type or range shows: a combination
        # (l1_ratio with a solver that has no L1) or a model that does not fit
        # the data (more neighbours than rows).
        raise ConfigError("model", f"scikit-learn refused the model: {exc}") from exc
