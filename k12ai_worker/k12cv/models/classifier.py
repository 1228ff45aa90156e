"""The model a k12cv job trains: a network from images to logits, with its labels and loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from k12ai_worker.k12cv.batching import ImageBatch


class ImageClassifier(nn.Module):
    def __init__(self, network: nn.Module, labels: Sequence[str]) -> None:
        super().__init__()
        self.network = network
        self.labels = list(labels)

    def forward(self, batch: ImageBatch) -> dict[str, torch.Tensor]:
        logits: torch.Tensor = self.network(batch.images)
        output = {"logits": logits}
        # Training reads none: a kernel per batch saved where small models are launch-bound.
        if not self.training:
            output["class_probabilities"] = torch.softmax(logits, dim=-1)
        if batch.labels is not None:
            output["loss"] = nn.functional.cross_entropy(logits, batch.labels)
        return output


def load_matching(network: nn.Module, weights: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Copies the tensors of ``weights`` whose name and shape match ``network``'s.

    Names may carry the ``network.`` prefix of an ``ImageClassifier``'s state.
    Returns (loaded names, skipped names: missing here or of another shape).
    """
    own = network.state_dict()
    loaded: list[str] = []
    skipped: list[str] = []
    updates: dict[str, torch.Tensor] = {}
    for name, tensor in weights.items():
        bare = name.removeprefix("network.")
        if bare in own and own[bare].shape == tensor.shape:
            updates[bare] = tensor
            loaded.append(bare)
        else:
            skipped.append(name)
    network.load_state_dict(updates, strict=False)
    return loaded, skipped
