"""Encoders: seq2seq (``model.encoder``, ``model.integrator``) and seq2vec (``model.seq2vec_encoder``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.specs.layers import ACTIVATIONS
from k12ai_worker.limits import LAYERS, WIDTH, limited
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry

if TYPE_CHECKING:
    from k12ai_worker.k12nlp.modules.encoders import Seq2SeqEncoder, Seq2VecEncoder


@dataclass(frozen=True, kw_only=True)
class RnnSettings:
    """The keys of ``torch.nn.LSTM``/``GRU``/``RNN``, as AllenNLP passed them through."""

    input_size: int
    hidden_size: int = limited(WIDTH)
    num_layers: int = limited(LAYERS, default=1)
    bias: bool = True
    dropout: float = 0.0
    bidirectional: bool = False
    # Must stay true: every encoder takes (batch, tokens, features).
    batch_first: Literal[True] = True

    cell: ClassVar[Literal["lstm", "gru", "rnn"]]

    def check(self, path: str) -> None:
        for key in ("input_size", "hidden_size", "num_layers"):
            if getattr(self, key) < 1:
                raise ConfigError(join(path, key), "must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(join(path, "dropout"), f"must lie in [0, 1), got {self.dropout}")

    def get_input_dim(self) -> int:
        return self.input_size

    def get_output_dim(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    def rnn_kwargs(self) -> dict[str, object]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            # torch warns about dropout with one layer and ignores it; so do we, quietly.
            "dropout": self.dropout if self.num_layers > 1 else 0.0,
            "bidirectional": self.bidirectional,
            "batch_first": True,
        }


@dataclass(frozen=True, kw_only=True)
class Seq2SeqEncoderSpec:
    registry: ClassVar[Registry[Seq2SeqEncoderSpec]]

    def get_input_dim(self) -> int:
        raise NotImplementedError

    def get_output_dim(self) -> int:
        raise NotImplementedError

    def build(self) -> Seq2SeqEncoder:
        raise NotImplementedError


Seq2SeqEncoderSpec.registry = Registry("seq2seq encoder")


@dataclass(frozen=True, kw_only=True)
class RnnSeq2SeqSpec(RnnSettings, Seq2SeqEncoderSpec):
    def build(self) -> Seq2SeqEncoder:
        from k12ai_worker.k12nlp.modules.encoders import RnnSeq2Seq

        return RnnSeq2Seq(self.cell, **self.rnn_kwargs())


@Seq2SeqEncoderSpec.registry.register("lstm")
@dataclass(frozen=True, kw_only=True)
class LstmSeq2SeqSpec(RnnSeq2SeqSpec):
    cell = "lstm"


@Seq2SeqEncoderSpec.registry.register("gru")
@dataclass(frozen=True, kw_only=True)
class GruSeq2SeqSpec(RnnSeq2SeqSpec):
    cell = "gru"


@Seq2SeqEncoderSpec.registry.register("rnn")
@dataclass(frozen=True, kw_only=True)
class RnnTanhSeq2SeqSpec(RnnSeq2SeqSpec):
    cell = "rnn"


@dataclass(frozen=True, kw_only=True)
class Seq2VecEncoderSpec:
    registry: ClassVar[Registry[Seq2VecEncoderSpec]]

    def get_input_dim(self) -> int:
        raise NotImplementedError

    def get_output_dim(self) -> int:
        raise NotImplementedError

    def build(self) -> Seq2VecEncoder:
        raise NotImplementedError


Seq2VecEncoderSpec.registry = Registry("seq2vec encoder")


@dataclass(frozen=True, kw_only=True)
class RnnSeq2VecSpec(RnnSettings, Seq2VecEncoderSpec):
    def build(self) -> Seq2VecEncoder:
        from k12ai_worker.k12nlp.modules.encoders import RnnSeq2Vec

        return RnnSeq2Vec(self.cell, **self.rnn_kwargs())


@Seq2VecEncoderSpec.registry.register("lstm")
@dataclass(frozen=True, kw_only=True)
class LstmSeq2VecSpec(RnnSeq2VecSpec):
    cell = "lstm"


@Seq2VecEncoderSpec.registry.register("gru")
@dataclass(frozen=True, kw_only=True)
class GruSeq2VecSpec(RnnSeq2VecSpec):
    cell = "gru"


@Seq2VecEncoderSpec.registry.register("rnn")
@dataclass(frozen=True, kw_only=True)
class RnnTanhSeq2VecSpec(RnnSeq2VecSpec):
    cell = "rnn"


@Seq2VecEncoderSpec.registry.register("boe")
@dataclass(frozen=True, kw_only=True)
class BagOfEmbeddingsSpec(Seq2VecEncoderSpec):
    embedding_dim: int = limited(WIDTH)
    # Mean rather than sum of the token vectors.
    averaged: bool = False

    def get_input_dim(self) -> int:
        return self.embedding_dim

    def get_output_dim(self) -> int:
        return self.embedding_dim

    def build(self) -> Seq2VecEncoder:
        from k12ai_worker.k12nlp.modules.encoders import BagOfEmbeddings

        return BagOfEmbeddings(averaged=self.averaged)


@Seq2VecEncoderSpec.registry.register("cnn")
@dataclass(frozen=True, kw_only=True)
class CnnSpec(Seq2VecEncoderSpec):
    embedding_dim: int = limited(WIDTH)
    num_filters: int = limited(WIDTH)
    ngram_filter_sizes: list[int] | None = None
    conv_layer_activation: str = "relu"
    # When set, a linear projection to this size follows the max-pooled filters.
    output_dim: int | None = None

    @property
    def sizes(self) -> list[int]:
        return self.ngram_filter_sizes if self.ngram_filter_sizes is not None else [2, 3, 4, 5]

    def check(self, path: str) -> None:
        if not self.sizes or any(s < 1 for s in self.sizes):
            raise ConfigError(join(path, "ngram_filter_sizes"), "must be a non-empty list of positive sizes")
        if self.conv_layer_activation not in ACTIVATIONS:
            raise ConfigError(
                join(path, "conv_layer_activation"), f"unknown activation {self.conv_layer_activation!r}"
            )

    def get_input_dim(self) -> int:
        return self.embedding_dim

    def get_output_dim(self) -> int:
        return self.output_dim if self.output_dim is not None else self.num_filters * len(self.sizes)

    def build(self) -> Seq2VecEncoder:
        from k12ai_worker.k12nlp.modules.encoders import CnnEncoder

        return CnnEncoder(
            self.embedding_dim, self.num_filters, self.sizes, self.conv_layer_activation, self.output_dim
        )
