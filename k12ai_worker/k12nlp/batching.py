"""Batches of text as tensors, and the per-epoch source the trainer iterates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from k12ai_worker.k12nlp.dataset import IndexedDataset, IntArray
from k12ai_worker.k12nlp.iterators import IteratorSpec


@dataclass(frozen=True)
class TextBatch:
    # Per indexer name, (batch, tokens) ids; 0 is padding.
    tokens: dict[str, torch.Tensor]
    # (batch, tokens), True at real tokens.
    mask: torch.Tensor
    # (batch,) on the CPU whatever the device: packing sequences for an RNN
    # reads them on the host, and keeping them there spares a GPU sync.
    lengths: torch.Tensor
    labels: torch.Tensor | None

    @property
    def target(self) -> torch.Tensor | None:
        return self.labels

    def to(self, device: torch.device) -> TextBatch:
        if device.type == "cpu":
            return self
        return TextBatch(
            tokens={k: v.to(device, non_blocking=True) for k, v in self.tokens.items()},
            mask=self.mask.to(device, non_blocking=True),
            lengths=self.lengths,
            labels=None if self.labels is None else self.labels.to(device, non_blocking=True),
        )

    @classmethod
    def gather(cls, dataset: IndexedDataset, indices: IntArray) -> TextBatch:
        ids, lengths, labels = dataset.gather(indices)
        tokens = {name: torch.from_numpy(array) for name, array in ids.items()}
        length_tensor = torch.from_numpy(lengths)
        width = next(iter(tokens.values())).size(1)
        mask = torch.arange(width).unsqueeze(0) < length_tensor.unsqueeze(1)
        label_tensor = None if labels is None else torch.from_numpy(labels)
        return cls(tokens, mask, length_tensor, label_tensor)


class TextBatchSource:
    """The batches of one pass over a dataset; each new pass re-plans (and reshuffles) them."""

    def __init__(
        self,
        dataset: IndexedDataset,
        iterator: IteratorSpec,
        *,
        shuffle: bool,
        seed: int,
    ) -> None:
        self._dataset = dataset
        self._iterator = iterator
        self._shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._plan = iterator.plan(dataset.lengths, self._rng, shuffle=shuffle)
        self._fresh = True

    def __len__(self) -> int:
        return len(self._plan)

    def __iter__(self) -> Iterator[TextBatch]:
        if not self._fresh:
            self._plan = self._iterator.plan(self._dataset.lengths, self._rng, shuffle=self._shuffle)
        self._fresh = False
        for indices in self._plan:
            yield TextBatch.gather(self._dataset, indices)
