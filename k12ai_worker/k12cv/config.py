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

from k12ai_worker.errors import ConfigError
from k12ai_worker.k12cv.specs.iterators import BasicIteratorSpec, IteratorSpec
from k12ai_worker.k12cv.specs.models import ModelSpec
from k12ai_worker.k12cv.specs.readers import DatasetReaderSpec
from k12ai_worker.training.params import apply_overrides, join, parse
from k12ai_worker.training.trainer_config import TrainerSpec

METRIC_NAMES = ("accuracy", "accuracy3", "loss")
OVERRIDES_KEY = "overrides"


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
        metric = self.trainer.metric_name
        if metric not in METRIC_NAMES:
            raise ConfigError(
                join(path, "trainer.validation_metric"),
                f"unknown metric {metric!r}; expected one of {', '.join(METRIC_NAMES)}",
            )
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
        scheduler = self.trainer.learning_rate_scheduler
        if scheduler is not None and scheduler.needs_validation_metric and not self.validation_data_path:
            raise ConfigError(
                join(path, "trainer.learning_rate_scheduler.type"),
                "reduce_on_plateau follows the validation metric, so it needs validation_data_path",
            )
        if self.evaluate_on_test and not self.test_data_path:
            raise ConfigError(join(path, "evaluate_on_test"), "needs test_data_path")

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
        if self.input_type == "text" and self.input_text is None:
            raise ConfigError(join(path, "input_text"), 'is required when input_type is "text"')
        if self.input_type == "file" and self.input_file is None:
            raise ConfigError(join(path, "input_file"), 'is required when input_type is "file"')
        if self.batch_size < 1:
            raise ConfigError(join(path, "batch_size"), f"must be at least 1, got {self.batch_size}")


def split_overrides(params: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    rest = dict(params)
    return rest, rest.pop(OVERRIDES_KEY, None)


def read_train_config(params: Mapping[str, Any]) -> tuple[dict[str, Any], TrainConfig]:
    """The training config with overrides applied (as archived), and its parsed form."""
    config, overrides = split_overrides(params)
    if overrides is not None:
        config = apply_overrides(config, overrides, OVERRIDES_KEY)
    return config, parse(TrainConfig, config)


def read_archived_config(config: Mapping[str, Any], overrides: Any) -> TrainConfig:
    if overrides is not None:
        config = apply_overrides(config, overrides, OVERRIDES_KEY)
    return parse(TrainConfig, config)


def read_evaluate_params(params: Mapping[str, Any]) -> tuple[EvaluateParams, Any]:
    rest, overrides = split_overrides(params)
    return parse(EvaluateParams, rest), overrides


def read_predict_params(params: Mapping[str, Any]) -> tuple[PredictParams, Any]:
    rest, overrides = split_overrides(params)
    return parse(PredictParams, rest), overrides


def validate_overrides(overrides: Any) -> None:
    """Overrides of an archived config can only be checked against it; here, their form."""
    if overrides is not None:
        apply_overrides({}, overrides, OVERRIDES_KEY)
