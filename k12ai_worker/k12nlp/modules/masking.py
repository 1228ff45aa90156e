"""Attention and pooling over padded sequences."""

from __future__ import annotations

import torch


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension, giving padded positions (``mask`` False) zero weight.

    ``mask`` is (batch, tokens) and broadcasts over any middle dimensions.
    """
    while mask.dim() < logits.dim():
        mask = mask.unsqueeze(1)
    return torch.softmax(logits.masked_fill(~mask, torch.finfo(logits.dtype).min), dim=-1)


def weighted_sum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(batch, tokens, dim) values summed with (batch, [queries,] tokens) weights."""
    if weights.dim() == 2:
        return weights.unsqueeze(1).bmm(values).squeeze(1)
    return weights.bmm(values)


def masked_max(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return values.masked_fill(~mask.unsqueeze(-1), torch.finfo(values.dtype).min).amax(dim=1)


def masked_min(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return values.masked_fill(~mask.unsqueeze(-1), torch.finfo(values.dtype).max).amin(dim=1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(values.dtype)
    return (values * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
