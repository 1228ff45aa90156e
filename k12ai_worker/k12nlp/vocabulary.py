"""The vocabulary: token <-> id per namespace, built from the training data.

As in AllenNLP: a *padded* namespace (``tokens``) starts with ``@@PADDING@@``
(id 0) and ``@@UNKNOWN@@`` (id 1) and maps unseen tokens to the latter; a
namespace matching ``*labels`` or ``*tags`` is not padded. Tokens are ordered
by count, most frequent first, ties in order of first appearance. Saved as one
text file per namespace, AllenNLP's format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.indexers import TokenIndexerSpec
from k12ai_worker.k12nlp.readers.base import Instance
from k12ai_worker.training.params import join

PADDING = "@@PADDING@@"
OOV = "@@UNKNOWN@@"
LABELS = "labels"
_NEWLINE = "@@NEWLINE@@"
_NON_PADDED_FILE = "non_padded_namespaces.txt"


@dataclass(frozen=True, kw_only=True)
class VocabularySpec:
    min_count: dict[str, int] = field(default_factory=dict)
    max_vocab_size: int | dict[str, int] | None = None
    non_padded_namespaces: list[str] = field(default_factory=lambda: ["*tags", "*labels"])

    def check(self, path: str) -> None:
        for namespace, count in self.min_count.items():
            if count < 1:
                raise ConfigError(join(join(path, "min_count"), namespace), "must be at least 1")


def _matches(pattern: str, namespace: str) -> bool:
    return namespace.endswith(pattern[1:]) if pattern.startswith("*") else namespace == pattern


class Vocabulary:
    def __init__(self, namespaces: Mapping[str, list[str]], non_padded: Iterable[str]) -> None:
        """``namespaces`` maps a namespace to its tokens in id order, padding tokens included."""
        self.non_padded = list(non_padded)
        self._tokens = {name: list(tokens) for name, tokens in namespaces.items()}
        self._ids = {name: {t: i for i, t in enumerate(tokens)} for name, tokens in self._tokens.items()}

    @classmethod
    def from_instances(
        cls,
        instances: Iterable[Instance],
        indexers: Iterable[TokenIndexerSpec],
        spec: VocabularySpec,
    ) -> Vocabulary:
        counts: dict[str, Counter[str]] = {}
        indexers = list(indexers)
        for indexer in indexers:
            counts.setdefault(indexer.namespace, Counter())
        label_counts: Counter[str] = Counter()
        for instance in instances:
            for indexer in indexers:
                counts[indexer.namespace].update(map(indexer.normalize, instance.tokens))
            if instance.label is not None:
                label_counts[instance.label] += 1
        counts[LABELS] = label_counts
        namespaces: dict[str, list[str]] = {}
        for name, counter in counts.items():
            # sorted() is stable, so equal counts keep their first-seen order.
            ranked = [t for t, c in sorted(counter.items(), key=lambda tc: tc[1], reverse=True)]
            min_count = spec.min_count.get(name, 1)
            ranked = [t for t in ranked if counter[t] >= min_count]
            limit = (
                spec.max_vocab_size.get(name)
                if isinstance(spec.max_vocab_size, dict)
                else spec.max_vocab_size
            )
            if limit is not None:
                ranked = ranked[:limit]
            padded = not any(_matches(p, name) for p in spec.non_padded_namespaces)
            namespaces[name] = [PADDING, OOV, *ranked] if padded else ranked
        return cls(namespaces, spec.non_padded_namespaces)

    def is_padded(self, namespace: str) -> bool:
        return not any(_matches(p, namespace) for p in self.non_padded)

    def size(self, namespace: str) -> int:
        return len(self._tokens.get(namespace, ()))

    def tokens(self, namespace: str) -> list[str]:
        return list(self._tokens.get(namespace, ()))

    def ids(self, namespace: str) -> Mapping[str, int]:
        return self._ids.get(namespace, {})

    def save(self) -> dict[str, bytes]:
        """File name -> content, for the model archive."""
        files = {_NON_PADDED_FILE: "".join(f"{p}\n" for p in self.non_padded).encode()}
        for name, tokens in self._tokens.items():
            kept = tokens[1:] if self.is_padded(name) else tokens
            files[f"{name}.txt"] = "".join(t.replace("\n", _NEWLINE) + "\n" for t in kept).encode()
        return files

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Vocabulary:
        non_padded = files[_NON_PADDED_FILE].decode().splitlines()
        namespaces: dict[str, list[str]] = {}
        for file_name, content in files.items():
            if file_name == _NON_PADDED_FILE or not file_name.endswith(".txt"):
                continue
            name = file_name[: -len(".txt")]
            tokens = [t.replace(_NEWLINE, "\n") for t in content.decode().split("\n")[:-1]]
            padded = not any(_matches(p, name) for p in non_padded)
            namespaces[name] = [PADDING, *tokens] if padded else tokens
        return cls(namespaces, non_padded)
