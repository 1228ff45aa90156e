"""What every k12nlp classifier returns, and the loss it trains on."""

from __future__ import annotations

import torch
from torch import nn

from k12ai_worker.k12nlp.batching import TextBatch


class TextClassifier(nn.Module):
    """Maps a ``TextBatch`` to ``logits``, ``class_probabilities`` and (with labels) ``loss``."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        # Label strings in logit order (the vocabulary's ``labels`` namespace).
        self.labels = list(labels)

    def compute_logits(self, batch: TextBatch) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: TextBatch) -> dict[str, torch.Tensor]:
        logits = self.compute_logits(batch)
        output = {"logits": logits, "class_probabilities": torch.softmax(logits, dim=-1)}
        if batch.labels is not None:
            output["loss"] = nn.functional.cross_entropy(logits, batch.labels)
        return output
