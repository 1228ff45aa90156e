"""A small real model on learnable data, and an event sink, for the training loop's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class PairBatch:
    x: torch.Tensor
    y: torch.Tensor

    @property
    def target(self) -> torch.Tensor:
        return self.y

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(self.x.to(device), self.y.to(device))


class Batches:
    def __init__(self, batches: list[PairBatch]) -> None:
        self._batches = batches

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[PairBatch]:
        return iter(self._batches)


class Linear(nn.Module):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 3)
        self.scale = scale

    def forward(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        logits = self.layer(batch.x) * self.scale
        return {"logits": logits, "loss": nn.functional.cross_entropy(logits, batch.y)}


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        self.items.append((type, payload))

    def of(self, type: str) -> list[dict[str, Any]]:
        return [p for t, p in self.items if t == type]


def separable(n: int = 48, batch: int = 8) -> Batches:
    """Three classes by the sign pattern of two coordinates: learnable in a few epochs."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return Batches([PairBatch(x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)])
