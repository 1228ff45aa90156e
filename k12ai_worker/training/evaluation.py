"""One pass of a trained model over labelled batches, giving its metrics."""

from __future__ import annotations

import torch

from k12ai_worker.training.metrics import Average
from k12ai_worker.training.trainer import BatchSource, MetricsFactory


def evaluate(
    model: torch.nn.Module, source: BatchSource, device: torch.device, metrics: MetricsFactory
) -> dict[str, float]:
    """The metrics and mean batch ``loss`` of ``model`` over ``source``, as AllenNLP's evaluate gave them."""
    model.eval()
    trackers = metrics()
    loss = Average()
    with torch.inference_mode():
        for batch in source:
            on_device = batch.to(device)
            output = model(on_device)
            loss.update_value(output["loss"])
            target = on_device.target
            if target is not None:
                for metric in trackers.values():
                    metric.update(output["logits"], target)
    values = {name: metric.value() for name, metric in trackers.items()}
    values["loss"] = loss.value()
    return values
