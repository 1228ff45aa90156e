"""Metrics that accumulate on the model's device.

``update`` never reads a value back to the host, so a GPU never waits for
Python mid-epoch; ``value`` does, and the trainer calls it only when it
reports.
"""

from __future__ import annotations

from typing import Protocol

import torch


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

    def value(self) -> float:
        if self._sum is None:
            return 0.0
        return float(self._sum.item()) / self._count
