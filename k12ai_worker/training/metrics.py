"""Metrics that accumulate on the model's device.

``update`` never reads a value back to the host, so a GPU never waits for
Python mid-epoch; ``value`` does, and the trainer calls it only when it
reports. ``DeferredUpdates`` goes further for the training loop: it holds a
few batches' outputs back and feeds them to the metrics together, so a small
model's step is not slowed by a dozen metric kernels launched per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import torch

# Enough batches that the metric kernels are a small share of a dispatch-bound
# step, few enough that the held logits stay small next to the model.
MAX_DEFERRED_BATCHES = 32


class Metric(Protocol):
    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None: ...

    def value(self) -> float: ...


class CategoricalAccuracy:
    """Share of instances whose gold label is among the ``top_k`` highest logits.

    With fewer classes than ``top_k`` every instance counts as correct, where
    AllenNLP would fail: a 2-class job still reports ``accuracy3``.
    """

    def __init__(self, top_k: int = 1) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self._top_k = top_k
        self._correct: torch.Tensor | None = None
        self._total = 0

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        k = min(self._top_k, logits.size(-1))
        if k == 1:
            correct = (logits.argmax(dim=-1) == target).sum()
        else:
            top = logits.topk(k, dim=-1).indices
            correct = (top == target.unsqueeze(-1)).any(dim=-1).sum()
        self._correct = correct if self._correct is None else self._correct + correct
        self._total += target.numel()

    def value(self) -> float:
        if self._correct is None or self._total == 0:
            return 0.0
        return float(self._correct.item()) / self._total


class Average:
    """Mean of the values given, e.g. the batch losses of an epoch (as AllenNLP reports ``loss``)."""

    def __init__(self) -> None:
        self._sum: torch.Tensor | None = None
        self._count = 0

    def update_value(self, value: torch.Tensor) -> None:
        value = value.detach()
        self._sum = value if self._sum is None else self._sum + value
        self._count += 1

    def update_values(self, values: torch.Tensor) -> None:
        """Adds each element of ``values`` as one value."""
        total = values.detach().sum()
        self._sum = total if self._sum is None else self._sum + total
        self._count += values.numel()

    def value(self) -> float:
        if self._sum is None or self._count == 0:
            return 0.0
        return float(self._sum.item()) / self._count


class DeferredUpdates:
    """Batch losses and outputs held on the device until ``flush`` feeds them to their trackers.

    The metrics see the held batches as one concatenated batch, which gives
    the same counts as batch by batch for metrics that sum over instances
    (all here). Batches whose logits or targets differ in shape past the
    batch dimension cannot be joined; one such flushes what is held first.
    """

    def __init__(
        self, metrics: Mapping[str, Metric], loss: Average, *, max_batches: int = MAX_DEFERRED_BATCHES
    ) -> None:
        self._metrics = metrics
        self._loss = loss
        self._max_batches = max_batches
        self._losses: list[torch.Tensor] = []
        self._logits: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def add(self, loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor | None) -> None:
        """Holds one batch; ``target`` None counts its loss only."""
        if target is not None and self._logits and not self._joinable(logits, target):
            self._flush_outputs()
        self._losses.append(loss.detach().reshape(1))
        if target is not None:
            self._logits.append(logits.detach())
            self._targets.append(target)
        if len(self._losses) >= self._max_batches:
            self.flush()

    def flush(self) -> None:
        """Feeds every held batch to the loss and the metrics; reads nothing back to the host."""
        if self._losses:
            self._loss.update_values(torch.cat(self._losses))
            self._losses.clear()
        self._flush_outputs()

    def _joinable(self, logits: torch.Tensor, target: torch.Tensor) -> bool:
        last_logits, last_target = self._logits[-1], self._targets[-1]
        return (
            logits.shape[1:] == last_logits.shape[1:]
            and target.shape[1:] == last_target.shape[1:]
            and logits.dtype == last_logits.dtype
            and target.dtype == last_target.dtype
        )

    def _flush_outputs(self) -> None:
        if not self._logits:
            return
        logits = self._logits[0] if len(self._logits) == 1 else torch.cat(self._logits)
        target = self._targets[0] if len(self._targets) == 1 else torch.cat(self._targets)
        self._logits.clear()
        self._targets.clear()
        for metric in self._metrics.values():
            metric.update(logits, target)
