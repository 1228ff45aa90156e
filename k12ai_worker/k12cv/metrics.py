"""What a k12cv classifier reports (with ``loss``): ``accuracy``, and ``accuracy3`` given 3+ classes."""

from __future__ import annotations

from k12ai_worker.training.metrics import CategoricalAccuracy, Metric
from k12ai_worker.training.trainer import MetricsFactory


def classification_metrics(num_classes: int) -> MetricsFactory:
    def metrics() -> dict[str, Metric]:
        found: dict[str, Metric] = {"accuracy": CategoricalAccuracy(top_k=1)}
        if num_classes >= 3:
            found["accuracy3"] = CategoricalAccuracy(top_k=3)
        return found

    return metrics
