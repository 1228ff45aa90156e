"""``model.tar.gz``: what a k12cv training job leaves for evaluate and predict.

It holds ``config.json`` (the training config, overrides applied),
``labels.json`` (the class labels in logit order, the image channels and the
decoded image size the network was trained on) and ``weights.th`` (the best
epoch's ``state_dict``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from k12ai_contract.errors import MissingArtefactError
from k12ai_contract.spec import JobSpec
from k12ai_worker.k12cv.config import TrainConfig
from k12ai_worker.k12cv.models.classifier import ImageClassifier
from k12ai_worker.model_runs import publish_latest, with_origin
from k12ai_worker.training.archive import read_archive, write_archive

CONFIG = "config.json"
LABELS = "labels.json"
WEIGHTS = "weights.th"


@dataclass(frozen=True)
class ModelInputs:
    """What the network was trained on: label order, channels, decoded image size."""

    labels: list[str]
    channels: int
    image_size: tuple[int, int]

    def to_json(self) -> bytes:
        return json.dumps(
            {"labels": self.labels, "channels": self.channels, "image_size": list(self.image_size)}, indent=2
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ModelInputs:
        raw = json.loads(data)
        height, width = raw["image_size"]
        return cls(list(raw["labels"]), int(raw["channels"]), (int(height), int(width)))


def build_classifier(config: TrainConfig, inputs: ModelInputs) -> ImageClassifier:
    network = config.model.build_network(num_classes=len(inputs.labels), in_channels=inputs.channels)
    return ImageClassifier(network, inputs.labels)


@dataclass(frozen=True)
class ModelArchive:
    config: dict[str, Any]
    inputs: ModelInputs
    weights: dict[str, torch.Tensor]

    def restore(self, config: TrainConfig, device: torch.device) -> ImageClassifier:
        """The archived model, built from ``config`` (the archived one, maybe overridden), in eval mode."""
        model = build_classifier(config, self.inputs)
        model.load_state_dict(self.weights)
        return model.to(device).eval()


def save_model_archive(
    spec: JobSpec, config: Mapping[str, Any], inputs: ModelInputs, weights: Mapping[str, torch.Tensor]
) -> None:
    """Writes the training's archive into its run folder and makes it the project's latest."""
    buffer = io.BytesIO()
    torch.save(dict(weights), buffer)
    members = {
        CONFIG: json.dumps(config, indent=2).encode(),
        LABELS: inputs.to_json(),
        WEIGHTS: buffer.getvalue(),
    }
    write_archive(spec.model_archive, with_origin(spec, members))
    publish_latest(spec)


def load_model_archive(path: Path) -> ModelArchive:
    if not path.is_file():
        raise MissingArtefactError(f"{path.name} is not found in {path.parent}")
    members = read_archive(path)
    weights = torch.load(io.BytesIO(members[WEIGHTS]), map_location="cpu", weights_only=True)
    return ModelArchive(json.loads(members[CONFIG]), ModelInputs.from_json(members[LABELS]), weights)
