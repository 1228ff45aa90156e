"""One pass of a trained model over labelled batches, giving its metrics."""

from __future__ import annotations

import torch

from k12ai_worker.training.metrics import Average, DeferredUpdates
from k12ai_worker.training.trainer import BatchSource, MetricsFactory


def evaluate(
    model: torch.nn.Module, source: BatchSource, device: torch.device, metrics: MetricsFactory
) -> dict[str, float]:
    """The metrics and mean batch ``loss`` of ``model`` over ``source``, as AllenNLP's evaluate gave them."""
    model.eval()
    trackers = metrics()
    loss = Average()
    # As in training: no metric kernels per batch, nothing read back until the end.
    pending = DeferredUpdates(trackers, loss)
    with torch.inference_mode():
        for batch in source:
            on_device = batch.to(device)
            output = model(on_device)
            pending.add(output["loss"], output["logits"], on_device.target)
    pending.flush()
    values = {name: metric.value() for name, metric in trackers.items()}
    values["loss"] = loss.value()
    return values
