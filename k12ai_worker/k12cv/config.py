"""The ``service_params`` of each kind of k12cv job, read and checked without torch.

train: a config in k12nlp's shape (``dataset_reader``, ``train_data_path``,
``validation_data_path``, ``model``, ``iterator``, ``trainer``, ...) with the
image readers, transforms and models of ``k12cv.specs``. evaluate:
``input_file`` (read as the validation data was), optional ``output_file``,
``batch_size`` and ``cuda_device``. predict: ``input_type`` ``file`` (an image,
or a text file listing image paths, one a line, relative ones from the
listing's folder) or ``text`` (base64 image bytes; several separated by
newlines or as a JSON list), optional ``output_file``, ``batch_size``,
``cuda_device``.

Every kind also takes ``overrides`` (dotted keys merged into the config, as
k12nlp's); for evaluate and predict they apply to the archived config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12cv.specs.iterators import BasicIteratorSpec, IteratorSpec
from k12ai_worker.k12cv.specs.models import ModelSpec
from k12ai_worker.k12cv.specs.readers import DatasetReaderSpec
from k12ai_worker.training import job_params
from k12ai_worker.training.job_params import check_predict_input
from k12ai_worker.training.params import join
from k12ai_worker.training.train_config_checks import check_data_for_trainer, check_validation_metric
from k12ai_worker.training.trainer_config import TrainerSpec

METRIC_NAMES = ("accuracy", "accuracy3", "loss")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    dataset_reader: DatasetReaderSpec
    train_data_path: str
    model: ModelSpec
    trainer: TrainerSpec
    iterator: IteratorSpec = field(default_factory=BasicIteratorSpec)
    validation_dataset_reader: DatasetReaderSpec | None = None
    validation_data_path: str | None = None
    validation_iterator: IteratorSpec | None = None
    test_data_path: str | None = None
    evaluate_on_test: bool = False
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
        check_validation_metric(path, self.trainer, METRIC_NAMES)
        if self.validation_dataset_reader is not None:
            train, validation = self.dataset_reader.channels, self.validation_dataset_reader.channels
            if train != validation:
                raise ConfigError(
                    join(path, "validation_dataset_reader"),
                    f"gives {validation}-channel images, but dataset_reader gives {train}",
                )
        if self.model.in_channels is not None and self.model.in_channels != self.dataset_reader.channels:
            raise ConfigError(
                join(path, "model.in_channels"),
                f"is {self.model.in_channels}, but dataset_reader gives "
                f"{self.dataset_reader.channels}-channel images",
            )
        check_data_for_trainer(
            path,
            self.trainer,
            validation_data_path=self.validation_data_path,
            evaluate_on_test=self.evaluate_on_test,
            test_data_path=self.test_data_path,
        )

    def data_paths(self) -> dict[str, tuple[str, str]]:
        """Dataset name -> (config key, path), for the datasets the config names."""
        paths = {"train": ("train_data_path", self.train_data_path)}
        if self.validation_data_path:
            paths["validation"] = ("validation_data_path", self.validation_data_path)
        if self.test_data_path:
            paths["test"] = ("test_data_path", self.test_data_path)
        return paths

    def reader_for(self, dataset: str) -> DatasetReaderSpec:
        return self.dataset_reader if dataset == "train" else self.evaluation_reader


@dataclass(frozen=True, kw_only=True)
class EvaluateParams:
    input_file: str
    # Where the metrics are also written, as JSON (relative: in the cache directory).
    output_file: str | None = None
    batch_size: int | None = None
    cuda_device: int = -1

    def check(self, path: str) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(join(path, "batch_size"), f"must be at least 1, got {self.batch_size}")


@dataclass(frozen=True, kw_only=True)
class PredictParams:
    input_type: Literal["text", "file"]
    input_text: str | None = None
    input_file: str | None = None
    output_file: str | None = None
    batch_size: int = 32
    # Accepted as k12nlp's key; images have the one predictor.
    predictor: Literal["image_classifier"] | None = None
    cuda_device: int = -1

    def check(self, path: str) -> None:
        check_predict_input(self, path)


def read_train_config(params: Mapping[str, Any]) -> tuple[dict[str, Any], TrainConfig]:
    """The training config with overrides applied (as archived), and its parsed form."""
    return job_params.read_train_config(TrainConfig, params)
