"""Encoders of padded token sequences.

A seq2seq encoder maps (batch, tokens, dim) to (batch, tokens, dim'); a
seq2vec encoder to (batch, dim'). RNNs run on packed sequences, so padding
never reaches them and never changes a text's encoding; their outputs at
padded positions are zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from k12ai_worker.k12nlp.modules.layers import activation

_CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class Seq2SeqEncoder(nn.Module):
    def forward(self, inputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Seq2VecEncoder(nn.Module):
    def forward(self, inputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _pack(inputs: torch.Tensor, lengths: torch.Tensor) -> nn.utils.rnn.PackedSequence:
    # An empty text still gets one (padding) step; its mask keeps it out of every result.
    return pack_padded_sequence(inputs, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)


class RnnSeq2Seq(Seq2SeqEncoder):
    def __init__(self, cell: str, **rnn_kwargs: Any) -> None:
        super().__init__()
        self.rnn = _CELLS[cell](**rnn_kwargs)

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed, _ = self.rnn(_pack(inputs, lengths))
        output: torch.Tensor = pad_packed_sequence(packed, batch_first=True, total_length=inputs.size(1))[0]
        return output


class RnnSeq2Vec(Seq2VecEncoder):
    """The last layer's final state (both directions' when bidirectional)."""

    def __init__(self, cell: str, **rnn_kwargs: Any) -> None:
        super().__init__()
        self.rnn = _CELLS[cell](**rnn_kwargs)

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(_pack(inputs, lengths))
        final: torch.Tensor = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.rnn.bidirectional else 1
        # (layers * directions, batch, hidden) -> (batch, directions * hidden) of the top layer.
        return final[-directions:].transpose(0, 1).reshape(inputs.size(0), -1)


class BagOfEmbeddings(Seq2VecEncoder):
    def __init__(self, *, averaged: bool) -> None:
        super().__init__()
        self.averaged = averaged

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(inputs.dtype)
        summed = (inputs * weights).sum(dim=1)
        return summed / weights.sum(dim=1).clamp(min=1.0) if self.averaged else summed


class CnnEncoder(Seq2VecEncoder):
    """Convolutions of several widths, each max-pooled over the windows inside the text.

    Unlike AllenNLP's, windows that start in the padding are left out of the
    max, so a text's encoding does not depend on how much its batch is padded,
    and texts shorter than a filter still get one (zero-padded) window.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_filters: int,
        sizes: Sequence[int],
        activation_name: str,
        output_dim: int | None,
    ) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.convolutions = nn.ModuleList(nn.Conv1d(embedding_dim, num_filters, size) for size in sizes)
        self.activation = activation(activation_name)
        pooled = num_filters * len(self.sizes)
        self.projection = nn.Linear(pooled, output_dim) if output_dim is not None else None

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        tokens = (inputs * mask.unsqueeze(-1).to(inputs.dtype)).transpose(1, 2)
        widest = max(self.sizes)
        if tokens.size(2) < widest:
            tokens = nn.functional.pad(tokens, (0, widest - tokens.size(2)))
        text_lengths = mask.sum(dim=1, keepdim=True)
        pooled = []
        for size, convolution in zip(self.sizes, self.convolutions, strict=True):
            windows = self.activation(convolution(tokens))
            valid_windows = (text_lengths - size + 1).clamp(min=1)
            inside = torch.arange(windows.size(2), device=windows.device).unsqueeze(0) < valid_windows
            pooled.append(
                windows.masked_fill(~inside.unsqueeze(1), torch.finfo(windows.dtype).min).amax(dim=2)
            )
        output = torch.cat(pooled, dim=1)
        return self.projection(output) if self.projection is not None else output
