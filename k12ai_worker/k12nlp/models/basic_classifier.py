"""AllenNLP's ``basic_classifier``: embed, [seq2seq], seq2vec, [dropout], [feed-forward], linear."""

from __future__ import annotations

import torch
from torch import nn

from k12ai_worker.k12nlp.batching import TextBatch
from k12ai_worker.k12nlp.models.classifier import TextClassifier
from k12ai_worker.k12nlp.modules.encoders import Seq2SeqEncoder, Seq2VecEncoder


class BasicClassifier(TextClassifier):
    def __init__(
        self,
        *,
        labels: list[str],
        text_field_embedder: nn.Module,
        seq2seq_encoder: Seq2SeqEncoder | None,
        seq2vec_encoder: Seq2VecEncoder,
        feedforward: nn.Module | None,
        dropout: float | None,
        hidden_dim: int,
    ) -> None:
        super().__init__(labels)
        self.text_field_embedder = text_field_embedder
        self.seq2seq_encoder = seq2seq_encoder
        self.seq2vec_encoder = seq2vec_encoder
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.feedforward = feedforward
        self.classification_layer = nn.Linear(hidden_dim, len(labels))

    def compute_logits(self, batch: TextBatch) -> torch.Tensor:
        embedded = self.text_field_embedder(batch.tokens)
        if self.seq2seq_encoder is not None:
            embedded = self.seq2seq_encoder(embedded, batch.mask, batch.lengths)
        encoded = self.seq2vec_encoder(embedded, batch.mask, batch.lengths)
        if self.dropout is not None:
            encoded = self.dropout(encoded)
        if self.feedforward is not None:
            encoded = self.feedforward(encoded)
        logits: torch.Tensor = self.classification_layer(encoded)
        return logits
