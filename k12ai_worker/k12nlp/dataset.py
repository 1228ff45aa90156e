"""A dataset turned into ids once, kept as flat numpy arrays.

Indexing happens once per job rather than once per epoch, and a batch is
then gathered with a few vectorised numpy operations, whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from k12ai_worker.k12nlp.indexers import TokenIndexerSpec
from k12ai_worker.k12nlp.readers.base import Instance
from k12ai_worker.k12nlp.vocabulary import LABELS, OOV, Vocabulary

IntArray = npt.NDArray[np.int64]


class UnknownLabelError(ValueError):
    """The data has a label the model was not trained on."""


@dataclass(frozen=True)
class IndexedDataset:
    # Per indexer: all instances' ids, concatenated.
    ids: dict[str, IntArray]
    starts: IntArray
    lengths: IntArray
    # None when the instances carry no labels (prediction).
    labels: IntArray | None
    # Batches are padded to at least this many tokens.
    min_padding: int = 0

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def index(
        cls,
        instances: Sequence[Instance],
        indexers: Mapping[str, TokenIndexerSpec],
        vocab: Vocabulary,
    ) -> IndexedDataset:
        lengths = np.fromiter((len(i.tokens) for i in instances), dtype=np.int64, count=len(instances))
        starts = np.zeros(len(instances), dtype=np.int64)
        if len(instances) > 1:
            np.cumsum(lengths[:-1], out=starts[1:])
        ids: dict[str, IntArray] = {}
        for name, indexer in indexers.items():
            table = vocab.ids(indexer.namespace)
            oov = table.get(OOV, 0)
            normalize = indexer.normalize
            flat = (table.get(normalize(t), oov) for instance in instances for t in instance.tokens)
            ids[name] = np.fromiter(flat, dtype=np.int64, count=int(lengths.sum()))
        labels = None
        if instances and all(i.label is not None for i in instances):
            table = vocab.ids(LABELS)
            try:
                labels = np.fromiter(
                    (table[str(i.label)] for i in instances), dtype=np.int64, count=len(instances)
                )
            except KeyError:
                known = ", ".join(repr(t) for t in vocab.tokens(LABELS))
                # The data's own label is not quoted: messages never show what a file holds.
                raise UnknownLabelError(f"holds a label the model does not know (it knows {known})") from None
        min_padding = max((i.token_min_padding_length for i in indexers.values()), default=0)
        return cls(ids, starts, lengths, labels, min_padding)

    def gather(self, batch: IntArray) -> tuple[dict[str, IntArray], IntArray, IntArray | None]:
        """Padded ids (batch, longest) per indexer, lengths and labels of the instances in ``batch``."""
        lengths = self.lengths[batch]
        width = max(int(lengths.max(initial=0)), self.min_padding, 1)
        offsets = np.arange(width, dtype=np.int64)
        valid = offsets[None, :] < lengths[:, None]
        positions = np.where(valid, self.starts[batch][:, None] + offsets[None, :], 0)
        padded = {}
        for name, flat in self.ids.items():
            padded[name] = np.where(valid, flat[positions], 0) if len(flat) else np.zeros_like(positions)
        labels = self.labels[batch] if self.labels is not None else None
        return padded, lengths, labels
