"""``model.tar.gz``: what a training job leaves for evaluate and predict.

It holds ``config.json`` (the training config, overrides applied),
``vocabulary/*.txt`` (AllenNLP's format) and ``weights.th`` (the best
epoch's ``state_dict``). Loading it needs no data file: the pretrained
vectors are in the weights, so the embedding file is not read again.
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
from k12ai_worker.k12nlp.config import TrainConfig
from k12ai_worker.k12nlp.models.classifier import TextClassifier
from k12ai_worker.k12nlp.vocabulary import Vocabulary
from k12ai_worker.model_runs import publish_latest, with_origin
from k12ai_worker.training.archive import read_archive, write_archive

CONFIG = "config.json"
WEIGHTS = "weights.th"
VOCABULARY = "vocabulary/"


@dataclass(frozen=True)
class ModelArchive:
    config: dict[str, Any]
    vocab: Vocabulary
    weights: dict[str, torch.Tensor]

    def restore(self, config: TrainConfig, device: torch.device) -> TextClassifier:
        """The archived model, built from ``config`` (the archived one, maybe overridden), in eval mode."""
        model = config.model.build(self.vocab, path="model", sink=None)
        model.load_state_dict(self.weights)
        return model.to(device).eval()


def save_model_archive(
    spec: JobSpec, config: Mapping[str, Any], vocab: Vocabulary, weights: Mapping[str, torch.Tensor]
) -> None:
    """Writes the training's archive into its run folder and makes it the project's latest."""
    buffer = io.BytesIO()
    torch.save(dict(weights), buffer)
    members = {CONFIG: json.dumps(config, indent=2).encode()}
    members.update({VOCABULARY + name: data for name, data in vocab.save().items()})
    members[WEIGHTS] = buffer.getvalue()
    write_archive(spec.model_archive, with_origin(spec, members))
    publish_latest(spec)


def load_model_archive(path: Path) -> ModelArchive:
    if not path.is_file():
        raise MissingArtefactError(f"{path.name} is not found in {path.parent}")
    members = read_archive(path)
    vocab = Vocabulary.load(
        {name[len(VOCABULARY) :]: data for name, data in members.items() if name.startswith(VOCABULARY)}
    )
    weights = torch.load(io.BytesIO(members[WEIGHTS]), map_location="cpu", weights_only=True)
    return ModelArchive(json.loads(members[CONFIG]), vocab, weights)
