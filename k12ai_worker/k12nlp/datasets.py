"""Reading a job's data files, with errors that name the config key of the file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.dataset import IndexedDataset, UnknownLabelError
from k12ai_worker.k12nlp.indexers import TokenIndexerSpec
from k12ai_worker.k12nlp.readers import DataFormatError, DatasetReaderSpec, Instance
from k12ai_worker.k12nlp.vocabulary import Vocabulary


def read_instances(reader: DatasetReaderSpec, file: str, key: str) -> list[Instance]:
    path = Path(file)
    if not path.is_file():
        raise ConfigError(key, f"file not found: {file}")
    try:
        instances = list(reader.read(path, key))
    except DataFormatError as exc:
        raise ConfigError(key, str(exc)) from None
    except UnicodeDecodeError as exc:
        # Where, not what: the codec's own message would quote the byte.
        raise ConfigError(
            key, f"{file} is not UTF-8 text ({exc.reason} at byte {exc.start} of a line)"
        ) from None
    if not instances:
        raise ConfigError(key, f"{file} holds no instances")
    return instances


def index_instances(
    instances: list[Instance], indexers: Mapping[str, TokenIndexerSpec], vocab: Vocabulary, key: str
) -> IndexedDataset:
    try:
        return IndexedDataset.index(instances, indexers, vocab)
    except UnknownLabelError as exc:
        raise ConfigError(key, str(exc)) from None
