"""``model.text_field_embedder``: token ids to vectors, per token indexer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.vocabulary import Vocabulary
from k12ai_worker.limits import WIDTH, limited
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry
from k12ai_worker.training.reporting import EventSink

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, kw_only=True)
class TokenEmbedderSpec:
    registry: ClassVar[Registry[TokenEmbedderSpec]]

    def get_output_dim(self) -> int:
        raise NotImplementedError

    def pretrained_files(self) -> list[tuple[str, str]]:
        """``(key, path)`` of the files this embedder reads, keys relative to it."""
        return []

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> torch.nn.Module:
        """The module; ``sink`` None means "weights come from an archive": read no pretrained file."""
        raise NotImplementedError


TokenEmbedderSpec.registry = Registry("token embedder")


@TokenEmbedderSpec.registry.register("embedding")
@dataclass(frozen=True, kw_only=True)
class EmbeddingSpec(TokenEmbedderSpec):
    embedding_dim: int = limited(WIDTH)
    # GloVe-format text (.txt or .txt.gz); only the vocabulary's words are read,
    # the others start from a normal distribution fitted to the file's vectors.
    pretrained_file: str | None = None
    trainable: bool = True
    vocab_namespace: str = "tokens"
    # Defaults to the size of vocab_namespace.
    num_embeddings: int | None = None
    projection_dim: int | None = limited(WIDTH, default=None)
    padding_index: int | None = None
    max_norm: float | None = None
    norm_type: float = 2.0
    scale_grad_by_freq: bool = False

    def check(self, path: str) -> None:
        for key in ("embedding_dim", "num_embeddings", "projection_dim"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(join(path, key), f"must be at least 1, got {value}")

    def get_output_dim(self) -> int:
        return self.projection_dim if self.projection_dim is not None else self.embedding_dim

    def pretrained_files(self) -> list[tuple[str, str]]:
        return [("pretrained_file", self.pretrained_file)] if self.pretrained_file else []

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> torch.nn.Module:
        from k12ai_worker.k12nlp.modules.embedders import TokenEmbedding, pretrained_weight

        num_embeddings = self.num_embeddings or vocab.size(self.vocab_namespace)
        if num_embeddings < 1:
            raise ConfigError(join(path, "vocab_namespace"), f"namespace {self.vocab_namespace!r} is empty")
        weight = None
        if self.pretrained_file and sink is not None:
            weight = pretrained_weight(
                self.pretrained_file,
                vocab.tokens(self.vocab_namespace),
                num_embeddings,
                self.embedding_dim,
                key=join(path, "pretrained_file"),
                sink=sink,
            )
        return TokenEmbedding(
            num_embeddings,
            self.embedding_dim,
            weight=weight,
            trainable=self.trainable,
            padding_index=self.padding_index,
            max_norm=self.max_norm,
            norm_type=self.norm_type,
            scale_grad_by_freq=self.scale_grad_by_freq,
            projection_dim=self.projection_dim,
        )


@dataclass(frozen=True, kw_only=True)
class TextFieldEmbedderSpec:
    registry: ClassVar[Registry[TextFieldEmbedderSpec]]

    def get_output_dim(self) -> int:
        raise NotImplementedError

    def pretrained_files(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def embedder_names(self) -> list[str]:
        raise NotImplementedError

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> torch.nn.Module:
        raise NotImplementedError


TextFieldEmbedderSpec.registry = Registry("text field embedder", default="basic")


@TextFieldEmbedderSpec.registry.register("basic")
@dataclass(frozen=True, kw_only=True)
class BasicTextFieldEmbedderSpec(TextFieldEmbedderSpec):
    # One embedder per token indexer of the reader, by the same name; their
    # vectors are concatenated in name order.
    token_embedders: dict[str, TokenEmbedderSpec]

    def check(self, path: str) -> None:
        if not self.token_embedders:
            raise ConfigError(join(path, "token_embedders"), "must hold at least one embedder")

    def get_output_dim(self) -> int:
        return sum(e.get_output_dim() for e in self.token_embedders.values())

    def embedder_names(self) -> list[str]:
        return sorted(self.token_embedders)

    def pretrained_files(self) -> list[tuple[str, str]]:
        return [
            (join(join("token_embedders", name), key), file)
            for name in self.embedder_names()
            for key, file in self.token_embedders[name].pretrained_files()
        ]

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> torch.nn.Module:
        from k12ai_worker.k12nlp.modules.embedders import BasicTextFieldEmbedder

        return BasicTextFieldEmbedder(
            {
                name: self.token_embedders[name].build(
                    vocab, path=join(join(path, "token_embedders"), name), sink=sink
                )
                for name in self.embedder_names()
            }
        )
