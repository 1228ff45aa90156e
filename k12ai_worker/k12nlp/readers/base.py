"""What every dataset reader shares: its instances, its indexers, its registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from k12ai_worker.k12nlp.indexers import SingleIdIndexerSpec, TokenIndexerSpec
from k12ai_worker.k12nlp.tokenizers import ptb_tokens
from k12ai_worker.training.registry import Registry


@dataclass(frozen=True, slots=True)
class Instance:
    """One text to classify; ``label`` is None where the data has none (prediction)."""

    tokens: list[str]
    label: str | None = None


class DataFormatError(ValueError):
    """A data file does not hold what its reader expects; the message names file and line."""


def _default_indexers() -> dict[str, TokenIndexerSpec]:
    return {"tokens": SingleIdIndexerSpec()}


@dataclass(frozen=True, kw_only=True)
class DatasetReaderSpec:
    registry: ClassVar[Registry[DatasetReaderSpec]]
    token_indexers: dict[str, TokenIndexerSpec] = field(default_factory=_default_indexers)
    # Accepted for AllenNLP configs: k12nlp reads a dataset once and keeps it in memory.
    lazy: bool = False

    def read(self, path: Path, key: str) -> Iterator[Instance]:
        """The instances of the file at ``path``, opened through ``inputs`` as config key ``key``."""
        raise NotImplementedError

    def tokenize(self, sentence: str) -> list[str]:
        """Tokens of raw text given to a predictor, as this reader's data is tokenized."""
        return ptb_tokens(sentence)


DatasetReaderSpec.registry = Registry("dataset reader")
