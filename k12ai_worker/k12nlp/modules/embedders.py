"""Token embeddings, optionally initialised from a pretrained vector file."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.glove import read_vectors
from k12ai_worker.training.reporting import EventSink


def pretrained_weight(
    file: str, tokens: Sequence[str], num_embeddings: int, dim: int, *, key: str, sink: EventSink
) -> torch.Tensor:
    """An embedding matrix: the file's vectors for the vocabulary's words, the rest random.

    Words without a vector are drawn from a normal distribution with the mean
    and deviation of the vectors found, as AllenNLP does, so they sit among
    the pretrained ones.
    """
    path = Path(file)
    if not path.is_file():
        raise ConfigError(key, f"file not found: {file}")
    started = time.monotonic()
    try:
        found = read_vectors(path, tokens[:num_embeddings], dim, key=key)
    except ValueError:
        # numpy's message would quote the value: say where, not what.
        raise ConfigError(key, f"{file} holds a vector value that is not a number") from None
    except (OSError, EOFError) as exc:
        raise ConfigError(key, f"cannot read {file}: {exc}") from None
    if len(found.indices) == 0:
        raise ConfigError(
            key,
            f"no vector of dimension {dim} for any vocabulary word in {file}; "
            "does embedding_dim match the file?",
        )
    mean, std = float(found.vectors.mean()), float(found.vectors.std())
    weight = torch.empty(num_embeddings, dim).normal_(mean, std)
    weight[torch.from_numpy(found.indices)] = torch.from_numpy(np.ascontiguousarray(found.vectors))
    sink.emit(
        "info",
        {
            "message": f"read {len(found.indices)} of {num_embeddings} vocabulary vectors from {file} "
            f"({found.lines_read} lines) in {time.monotonic() - started:.2f} s"
        },
    )
    return weight


class TokenEmbedding(nn.Module):
    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        weight: torch.Tensor | None,
        trainable: bool,
        padding_index: int | None,
        max_norm: float | None,
        norm_type: float,
        scale_grad_by_freq: bool,
        projection_dim: int | None,
    ) -> None:
        super().__init__()
        if weight is None:
            weight = torch.empty(num_embeddings, embedding_dim)
            nn.init.xavier_uniform_(weight)
            if padding_index is not None:
                weight[padding_index].fill_(0.0)
        # A frozen embedding stays a parameter so it is saved and moved with the model.
        self.weight = nn.Parameter(weight, requires_grad=trainable)
        self.padding_index = padding_index
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.projection = nn.Linear(embedding_dim, projection_dim) if projection_dim is not None else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        embedded = nn.functional.embedding(
            ids,
            self.weight,
            padding_idx=self.padding_index,
            max_norm=self.max_norm,
            norm_type=self.norm_type,
            scale_grad_by_freq=self.scale_grad_by_freq,
        )
        return self.projection(embedded) if self.projection is not None else embedded


class BasicTextFieldEmbedder(nn.Module):
    """Each indexer's ids through its embedder, concatenated in name order."""

    def __init__(self, embedders: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.token_embedders = nn.ModuleDict(dict(sorted(embedders.items())))

    def forward(self, tokens: Mapping[str, torch.Tensor]) -> torch.Tensor:
        vectors = [embedder(tokens[name]) for name, embedder in self.token_embedders.items()]
        return vectors[0] if len(vectors) == 1 else torch.cat(vectors, dim=-1)
