"""``text_classification_json``: one JSON object a line, ``{"text": ..., "label": ...}``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from k12ai_contract.errors import ConfigError
from k12ai_worker import inputs, json_text
from k12ai_worker.k12nlp.readers.base import DataFormatError, DatasetReaderSpec, Instance
from k12ai_worker.k12nlp.tokenizers import TokenizerSpec, WordTokenizerSpec
from k12ai_worker.training.params import join


@DatasetReaderSpec.registry.register("text_classification_json")
@dataclass(frozen=True, kw_only=True)
class TextClassificationJsonReader(DatasetReaderSpec):
    tokenizer: TokenizerSpec = field(default_factory=WordTokenizerSpec)
    # Longer texts are cut to this many tokens.
    max_sequence_length: int | None = None

    def check(self, path: str) -> None:
        if self.max_sequence_length is not None and self.max_sequence_length < 1:
            raise ConfigError(join(path, "max_sequence_length"), "must be at least 1")

    def read(self, path: Path, key: str) -> Iterator[Instance]:
        with inputs.open_text(key, path) as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json_text.loads(key, line)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(f"{path}:{number}: not JSON: {exc}") from None
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    raise DataFormatError(f'{path}:{number}: expected an object with a "text" string')
                label = item.get("label")
                yield Instance(self.tokenize(item["text"]), None if label is None else str(label))

    def tokenize(self, sentence: str) -> list[str]:
        tokens = self.tokenizer.tokenize(sentence)
        return tokens if self.max_sequence_length is None else tokens[: self.max_sequence_length]
