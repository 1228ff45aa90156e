"""The metrics every k12nlp classifier reports (with ``loss``): the seed's ``accuracy`` and ``accuracy3``."""

from __future__ import annotations

from k12ai_worker.training.metrics import CategoricalAccuracy, Metric


def classification_metrics() -> dict[str, Metric]:
    return {"accuracy": CategoricalAccuracy(top_k=1), "accuracy3": CategoricalAccuracy(top_k=3)}
