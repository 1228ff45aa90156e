"""The biattentive classification network (McCann et al., 2017), as AllenNLP's ``bcn``.

embed -> dropout -> feed-forward -> encoder (X) -> biattention of X over
itself (C) -> integrator over [X; X - C; X * C] -> max, min, mean and
self-attentive pooling -> dropout -> output layer. Every step is masked, so
padding changes no text's logits.
"""

from __future__ import annotations

import torch
from torch import nn

from k12ai_worker.k12nlp.batching import TextBatch
from k12ai_worker.k12nlp.models.classifier import TextClassifier
from k12ai_worker.k12nlp.modules.encoders import Seq2SeqEncoder
from k12ai_worker.k12nlp.modules.masking import (
    masked_max,
    masked_mean,
    masked_min,
    masked_softmax,
    weighted_sum,
)


class BiattentiveClassificationNetwork(TextClassifier):
    def __init__(
        self,
        *,
        labels: list[str],
        text_field_embedder: nn.Module,
        embedding_dropout: float,
        pre_encode_feedforward: nn.Module,
        encoder: Seq2SeqEncoder,
        integrator: Seq2SeqEncoder,
        integrator_output_dim: int,
        integrator_dropout: float,
        output_layer: nn.Module,
    ) -> None:
        super().__init__(labels)
        self.text_field_embedder = text_field_embedder
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.pre_encode_feedforward = pre_encode_feedforward
        self.encoder = encoder
        self.integrator = integrator
        self.self_attentive_pooling_projection = nn.Linear(integrator_output_dim, 1)
        self.integrator_dropout = nn.Dropout(integrator_dropout)
        self.output_layer = output_layer

    def compute_logits(self, batch: TextBatch) -> torch.Tensor:
        mask, lengths = batch.mask, batch.lengths
        embedded = self.embedding_dropout(self.text_field_embedder(batch.tokens))
        encoded = self.encoder(self.pre_encode_feedforward(embedded), mask, lengths)

        # Each token attends over the text's tokens (padding excluded): C = softmax(X X^T) X.
        attention = masked_softmax(encoded.bmm(encoded.transpose(1, 2)), mask)
        context = weighted_sum(encoded, attention)
        integrated = self.integrator(
            torch.cat([encoded, encoded - context, encoded * context], dim=2), mask, lengths
        )

        self_weights = masked_softmax(self.self_attentive_pooling_projection(integrated).squeeze(2), mask)
        pooled = torch.cat(
            [
                masked_max(integrated, mask),
                masked_min(integrated, mask),
                masked_mean(integrated, mask),
                weighted_sum(integrated, self_weights),
            ],
            dim=1,
        )
        logits: torch.Tensor = self.output_layer(self.integrator_dropout(pooled))
        return logits
