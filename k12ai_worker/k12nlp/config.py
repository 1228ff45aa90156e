"""The ``service_params`` of each kind of k12nlp job, read and checked without torch.

train: an AllenNLP 0.9 training config (``dataset_reader``, ``train_data_path``,
``model``, ``iterator``, ``trainer``, ...). evaluate: ``input_file``, optional
``output_file`` and ``cuda_device``. predict: ``input_type`` ("text" or
"file"), ``input_text`` or ``input_file``, optional ``output_file``,
``batch_size``, ``predictor``, ``cuda_device``.

Every kind also takes ``overrides``: an object (or its JSON text) merged into
the config before it is read, keys being dotted paths, as AllenNLP's
``--overrides``: ``{"iterator.batch_size": 32, "trainer.num_epochs": 1}``.
For evaluate and predict they apply to the config archived with the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12nlp.iterators import IteratorSpec
from k12ai_worker.k12nlp.readers import DatasetReaderSpec
from k12ai_worker.k12nlp.specs.models import ModelSpec
from k12ai_worker.k12nlp.vocabulary import VocabularySpec
from k12ai_worker.training import job_params
from k12ai_worker.training.job_params import check_predict_input
from k12ai_worker.training.params import join
from k12ai_worker.training.train_config_checks import check_data_for_trainer, check_validation_metric
from k12ai_worker.training.trainer_config import TrainerSpec

# What a k12nlp model reports, in the order events list them.
METRIC_NAMES = ("accuracy", "accuracy3", "loss")
DATASETS = ("train", "validation", "test")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    dataset_reader: DatasetReaderSpec
    train_data_path: str
    model: ModelSpec
    iterator: IteratorSpec
    trainer: TrainerSpec
    validation_dataset_reader: DatasetReaderSpec | None = None
    validation_data_path: str | None = None
    # Read with the validation reader; part of the vocabulary, as in AllenNLP,
    # and evaluated after training when evaluate_on_test is true.
    test_data_path: str | None = None
    evaluate_on_test: bool = False
    validation_iterator: IteratorSpec | None = None
    vocabulary: VocabularySpec = field(default_factory=VocabularySpec)
    # Defaults to every dataset the config names.
    datasets_for_vocab_creation: list[Literal["train", "validation", "test"]] | None = None
    random_seed: int = 13370
    numpy_seed: int = 1337
    pytorch_seed: int = 133

    @property
    def evaluation_reader(self) -> DatasetReaderSpec:
        return self.validation_dataset_reader or self.dataset_reader

    @property
    def evaluation_iterator(self) -> IteratorSpec:
        return self.validation_iterator or self.iterator

    def check(self, path: str) -> None:
        for key, reader in (
            ("dataset_reader", self.dataset_reader),
            ("validation_dataset_reader", self.evaluation_reader),
        ):
            indexers = sorted(reader.token_indexers)
            embedders = self.model.text_field_embedder.embedder_names()
            if indexers != embedders:
                raise ConfigError(
                    join(path, "model.text_field_embedder.token_embedders"),
                    f"has embedders {embedders}, but {key}.token_indexers are {indexers}; "
                    "they must match by name",
                )
        check_validation_metric(path, self.trainer, METRIC_NAMES)
        check_data_for_trainer(
            path,
            self.trainer,
            validation_data_path=self.validation_data_path,
            evaluate_on_test=self.evaluate_on_test,
            test_data_path=self.test_data_path,
        )

    def data_paths(self) -> dict[str, str]:
        """Dataset name -> path, for the datasets the config names."""
        paths = {"train": self.train_data_path}
        if self.validation_data_path:
            paths["validation"] = self.validation_data_path
        if self.test_data_path:
            paths["test"] = self.test_data_path
        return paths


@dataclass(frozen=True, kw_only=True)
class EvaluateParams:
    input_file: str
    # Where the metrics are also written, as JSON.
    output_file: str | None = None
    cuda_device: int = -1


@dataclass(frozen=True, kw_only=True)
class PredictParams:
    input_type: Literal["text", "file"]
    # JSON lines of {"sentence": ...}; input_text may also be plain text, one sentence.
    input_text: str | None = None
    input_file: str | None = None
    output_file: str | None = None
    batch_size: int = 32
    # "" (the seed's template) or null: the training config's, which for a classifier is text_classifier.
    predictor: Literal["text_classifier", ""] | None = None
    cuda_device: int = -1

    def check(self, path: str) -> None:
        check_predict_input(self, path)


def read_train_config(params: Mapping[str, Any]) -> tuple[dict[str, Any], TrainConfig]:
    """The training config with overrides applied (as archived), and its parsed form."""
    return job_params.read_train_config(TrainConfig, params)
