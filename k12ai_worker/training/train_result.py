"""The ``result`` event of a train job: what the training gave, and the test metrics where asked for."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from k12ai_contract.events import EventType
from k12ai_worker.training.evaluation import evaluate
from k12ai_worker.training.reporting import EventSink
from k12ai_worker.training.trainer import BatchSource, MetricsFactory, TrainingResult


def training_summary(result: TrainingResult, *, validated: bool) -> dict[str, Any]:
    """The result's keys; the best metrics are named by the phase they were measured on."""
    phase = "validation" if validated else "training"
    return {
        "best_epoch": result.best_epoch,
        "training_epochs": result.epochs_completed,
        "stopped_early": result.stopped_early,
        "training_duration_s": round(result.duration_s, 3),
        **{f"best_{phase}_{name}": value for name, value in result.best_metrics.items()},
    }


def report_train_result(
    sink: EventSink,
    result: TrainingResult,
    *,
    sources: Mapping[str, BatchSource],
    evaluate_on_test: bool,
    model: torch.nn.Module,
    device: torch.device,
    metrics: MetricsFactory,
    archive: Path,
) -> None:
    """Emits the ``result`` event, after the test set's ``metrics`` event where ``evaluate_on_test``."""
    summary = training_summary(result, validated="validation" in sources)
    if evaluate_on_test and "test" in sources:
        test_metrics = evaluate(model, sources["test"], device, metrics)
        sink.emit("metrics", {**test_metrics, "phase": "test"})
        summary.update({f"test_{name}": value for name, value in test_metrics.items()})
    summary["archive"] = str(archive)
    sink.emit(EventType.RESULT, summary)
