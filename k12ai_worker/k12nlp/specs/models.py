"""``model``: the classifiers, chosen by ``model.type``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.specs.embedders import TextFieldEmbedderSpec
from k12ai_worker.k12nlp.specs.encoders import Seq2SeqEncoderSpec, Seq2VecEncoderSpec
from k12ai_worker.k12nlp.specs.layers import FeedForwardSpec, MaxoutSpec
from k12ai_worker.k12nlp.vocabulary import LABELS, Vocabulary
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry
from k12ai_worker.training.reporting import EventSink

if TYPE_CHECKING:
    from k12ai_worker.k12nlp.models.classifier import TextClassifier


def check_dims(path: str, key: str, actual: int, expected: int, what: str) -> None:
    if actual != expected:
        raise ConfigError(join(path, key), f"is {actual}, but must equal {what} ({expected})")


def _check_dropout(path: str, key: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value < 1.0:
        raise ConfigError(join(path, key), f"must lie in [0, 1), got {value}")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    registry: ClassVar[Registry[ModelSpec]]
    text_field_embedder: TextFieldEmbedderSpec

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> TextClassifier:
        """The model for ``vocab``; ``sink`` None means weights come from an archive."""
        raise NotImplementedError

    def count_labels(self, vocab: Vocabulary, path: str) -> int:
        count = vocab.size(LABELS)
        if count < 2:
            raise ConfigError(
                join(path, "type"), f"a classifier needs at least 2 labels in the data, found {count}"
            )
        return count


ModelSpec.registry = Registry("model")


@ModelSpec.registry.register("bcn")
@dataclass(frozen=True, kw_only=True)
class BcnSpec(ModelSpec):
    """The biattentive classification network of McCann et al. (2017), as AllenNLP built it."""

    embedding_dropout: float
    pre_encode_feedforward: FeedForwardSpec
    encoder: Seq2SeqEncoderSpec
    integrator: Seq2SeqEncoderSpec
    integrator_dropout: float
    output_layer: FeedForwardSpec | MaxoutSpec
    # ELMo is not available; the keys are accepted with their "off" values.
    elmo: None = None
    use_input_elmo: Literal[False] = False
    use_integrator_output_elmo: Literal[False] = False

    def check(self, path: str) -> None:
        _check_dropout(path, "embedding_dropout", self.embedding_dropout)
        _check_dropout(path, "integrator_dropout", self.integrator_dropout)
        check_dims(
            join(path, "pre_encode_feedforward"),
            "input_dim",
            self.pre_encode_feedforward.get_input_dim(),
            self.text_field_embedder.get_output_dim(),
            "the text field embedder's output dim",
        )
        check_dims(
            join(path, "encoder"),
            "input_size",
            self.encoder.get_input_dim(),
            self.pre_encode_feedforward.get_output_dim(),
            "the pre-encode feedforward's output dim",
        )
        check_dims(
            join(path, "integrator"),
            "input_size",
            self.integrator.get_input_dim(),
            3 * self.encoder.get_output_dim(),
            "3 x the encoder's output dim",
        )
        check_dims(
            join(path, "output_layer"),
            "input_dim",
            self.output_layer.get_input_dim(),
            4 * self.integrator.get_output_dim(),
            "4 x the integrator's output dim",
        )

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> TextClassifier:
        from k12ai_worker.k12nlp.models.bcn import BiattentiveClassificationNetwork

        output_key = "output_dims" if isinstance(self.output_layer, MaxoutSpec) else "hidden_dims"
        check_dims(
            join(path, "output_layer"),
            output_key,
            self.output_layer.get_output_dim(),
            self.count_labels(vocab, path),
            "the number of labels in the data",
        )
        return BiattentiveClassificationNetwork(
            labels=vocab.tokens(LABELS),
            text_field_embedder=self.text_field_embedder.build(
                vocab, path=join(path, "text_field_embedder"), sink=sink
            ),
            embedding_dropout=self.embedding_dropout,
            pre_encode_feedforward=self.pre_encode_feedforward.build(),
            encoder=self.encoder.build(),
            integrator=self.integrator.build(),
            integrator_output_dim=self.integrator.get_output_dim(),
            integrator_dropout=self.integrator_dropout,
            output_layer=self.output_layer.build(),
        )


@ModelSpec.registry.register("basic_classifier")
@dataclass(frozen=True, kw_only=True)
class BasicClassifierSpec(ModelSpec):
    """Embed, optionally contextualise, pool to a vector, optionally feed forward, then a linear layer."""

    seq2vec_encoder: Seq2VecEncoderSpec
    seq2seq_encoder: Seq2SeqEncoderSpec | None = None
    feedforward: FeedForwardSpec | None = None
    dropout: float | None = None
    # Defaults to the number of labels in the data.
    num_labels: int | None = None
    label_namespace: Literal["labels"] = "labels"

    def check(self, path: str) -> None:
        _check_dropout(path, "dropout", self.dropout)
        dim = self.text_field_embedder.get_output_dim()
        if self.seq2seq_encoder is not None:
            check_dims(join(path, "seq2seq_encoder"), "input_size", self.seq2seq_encoder.get_input_dim(), dim,
                       "the text field embedder's output dim")  # fmt: skip
            dim = self.seq2seq_encoder.get_output_dim()
        key = "input_size" if hasattr(self.seq2vec_encoder, "input_size") else "embedding_dim"
        check_dims(join(path, "seq2vec_encoder"), key, self.seq2vec_encoder.get_input_dim(), dim,
                   "the output dim of what comes before it")  # fmt: skip
        if self.feedforward is not None:
            check_dims(join(path, "feedforward"), "input_dim", self.feedforward.get_input_dim(),
                       self.seq2vec_encoder.get_output_dim(), "the seq2vec encoder's output dim")  # fmt: skip

    def build(self, vocab: Vocabulary, *, path: str, sink: EventSink | None) -> TextClassifier:
        from k12ai_worker.k12nlp.models.basic_classifier import BasicClassifier

        labels = self.count_labels(vocab, path)
        if self.num_labels is not None:
            check_dims(path, "num_labels", self.num_labels, labels, "the number of labels in the data")
        hidden = (self.feedforward or self.seq2vec_encoder).get_output_dim()
        return BasicClassifier(
            labels=vocab.tokens(LABELS),
            text_field_embedder=self.text_field_embedder.build(
                vocab, path=join(path, "text_field_embedder"), sink=sink
            ),
            seq2seq_encoder=None if self.seq2seq_encoder is None else self.seq2seq_encoder.build(),
            seq2vec_encoder=self.seq2vec_encoder.build(),
            feedforward=None if self.feedforward is None else self.feedforward.build(),
            dropout=self.dropout,
            hidden_dim=hidden,
        )
