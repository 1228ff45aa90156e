"""``service_params`` of k12ml, checked and parsed into frozen dataclasses.

The schema is documented in the package docstring (``k12ai_worker.k12ml``).
Nothing here touches the file system or imports scikit-learn: the server runs
this for every request, and what only the data can tell (a missing CSV
column, a wrong feature count) is the job's to find out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from k12ai_contract.errors import ConfigError
from k12ai_worker import json_text
from k12ai_worker.k12ml.estimators import ParamValue, coerce_params, lookup
from k12ai_worker.k12ml.values import (
    Section,
    as_bool,
    as_float,
    as_int,
    as_mapping,
    as_str,
    describe,
    is_number,
)

BUILTIN_DATASETS = ("iris", "wine", "breast_cancer", "digits")
DEFAULT_VALIDATION_SPLIT = 0.2
DEFAULT_BATCH_SIZE = 32
# numpy's RandomState, which scikit-learn seeds from ``seed``, takes 32 bits.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True, kw_only=True)
class BuiltinDataset:
    name: str


@dataclass(frozen=True, kw_only=True)
class CsvDataset:
    path: str
    # None: the last column of the header.
    label_column: str | None = None
    # Where ``path`` and ``label_column`` sit in the config, so an error found
    # while reading the file names the key the user wrote.
    path_key: str = "dataset.path"
    label_key: str = "dataset.label_column"


DatasetConfig = BuiltinDataset | CsvDataset


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    type: str
    params: Mapping[str, ParamValue]


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    dataset: DatasetConfig
    model: ModelConfig
    validation_split: float = DEFAULT_VALIDATION_SPLIT
    seed: int = 0
    standardize: bool = True


@dataclass(frozen=True, kw_only=True)
class EvaluateConfig:
    data: DatasetConfig
    output_file: str | None = None


@dataclass(frozen=True, kw_only=True)
class PredictConfig:
    # Exactly one of the two is set, after ``input_type``.
    rows: tuple[tuple[float, ...], ...] | None = None
    input_file: str | None = None
    output_file: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE


JobConfig = TrainConfig | EvaluateConfig | PredictConfig


def parse(kind: str, params: Mapping[str, Any]) -> JobConfig:
    if kind == "train":
        return parse_train(params)
    if kind == "evaluate":
        return parse_evaluate(params)
    if kind == "predict":
        return parse_predict(params)
    raise ConfigError("", f"k12ml has no {kind!r} job; expected train, evaluate or predict")


def parse_train(params: Mapping[str, Any]) -> TrainConfig:
    top = Section("", params)
    dataset = _dataset(as_mapping("dataset", top.required("dataset")), "dataset")
    model = _model(as_mapping("model", top.required("model")))
    split = DEFAULT_VALIDATION_SPLIT
    if top.has("validation_split"):
        split = as_float("validation_split", top.optional("validation_split"))
        if not 0 < split < 1:
            raise ConfigError("validation_split", f"must lie strictly between 0 and 1, got {split}")
    seed = 0
    if top.has("seed"):
        seed = as_int("seed", top.optional("seed"))
        if not 0 <= seed <= MAX_SEED:
            raise ConfigError("seed", f"must lie in [0, {MAX_SEED}], got {seed}")
    standardize = True
    if top.has("standardize"):
        standardize = as_bool("standardize", top.optional("standardize"))
    top.reject_unknown()
    return TrainConfig(
        dataset=dataset, model=model, validation_split=split, seed=seed, standardize=standardize
    )


def parse_evaluate(params: Mapping[str, Any]) -> EvaluateConfig:
    top = Section("", params)
    input_file = top.optional("input_file")
    label_column = top.optional("label_column")
    dataset = top.optional("dataset")
    output_file = _optional_str(top, "output_file") or None  # the seed sends "" for none
    top.reject_unknown()
    if input_file is not None and dataset is not None:
        raise ConfigError("dataset", "give either input_file or dataset, not both")
    if dataset is not None:
        if label_column is not None:
            raise ConfigError("label_column", "goes inside dataset when dataset is given")
        return EvaluateConfig(
            data=_dataset(as_mapping("dataset", dataset), "dataset"), output_file=output_file
        )
    if input_file is None:
        raise ConfigError("input_file", "is missing (or give a builtin dataset as dataset)")
    data = CsvDataset(
        path=as_str("input_file", input_file),
        label_column=None if label_column is None else as_str("label_column", label_column),
        path_key="input_file",
        label_key="label_column",
    )
    return EvaluateConfig(data=data, output_file=output_file)


def parse_predict(params: Mapping[str, Any]) -> PredictConfig:
    top = Section("", params)
    input_type = as_str("input_type", top.required("input_type"))
    output_file = _optional_str(top, "output_file") or None  # the seed sends "" for none
    batch_size = DEFAULT_BATCH_SIZE
    if top.has("batch_size"):
        batch_size = as_int("batch_size", top.optional("batch_size"))
        if batch_size < 1:
            raise ConfigError("batch_size", f"must be at least 1, got {batch_size}")
    # The seed lets a client pick an AllenNLP predictor; k12ml has one kind of
    # model and one way to predict, so the key is accepted and has no effect.
    _optional_str(top, "predictor")
    # Both input keys are known whichever input_type is chosen: the seed's
    # request template carries both, one of them empty.
    top.optional("input_text")
    top.optional("input_file")
    top.reject_unknown()
    if input_type == "text":
        text = top.required("input_text", " (input_type is text)")
        return PredictConfig(
            rows=parse_rows("input_text", text), output_file=output_file, batch_size=batch_size
        )
    if input_type == "file":
        path = as_str("input_file", top.required("input_file", " (input_type is file)"))
        return PredictConfig(input_file=path, output_file=output_file, batch_size=batch_size)
    raise ConfigError("input_type", f'expected "text" or "file", got {describe(input_type)}')


def parse_rows(key: str, value: object) -> tuple[tuple[float, ...], ...]:
    """Feature rows from ``input_text``: a JSON list of rows, as a string or as a list.

    A flat list of numbers is one row, so ``[5.1, 3.5, 1.4, 0.2]`` predicts one
    instance as a user would expect.
    """
    if isinstance(value, str):
        try:
            value = json_text.loads(key, value)
        except json.JSONDecodeError as exc:
            raise ConfigError(key, f"is not JSON: {exc}") from None
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"expected a non-empty list of feature rows, got {describe(value)}")
    raw_rows: Sequence[object] = [value] if all(is_number(v) for v in value) else value
    rows: list[tuple[float, ...]] = []
    for i, raw in enumerate(raw_rows):
        row_key = f"{key}[{i}]"
        if not isinstance(raw, list) or not raw:
            raise ConfigError(row_key, f"expected a non-empty list of numbers, got {describe(raw)}")
        rows.append(tuple(as_float(f"{row_key}[{j}]", v) for j, v in enumerate(raw)))
        if len(rows[-1]) != len(rows[0]):
            raise ConfigError(row_key, f"has {len(rows[-1])} values but row 0 has {len(rows[0])}")
    return tuple(rows)


def input_paths(kind: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    config = parse(kind, params)
    if isinstance(config, TrainConfig | EvaluateConfig):
        data = config.dataset if isinstance(config, TrainConfig) else config.data
        return [(data.path_key, data.path)] if isinstance(data, CsvDataset) else []
    return [("input_file", config.input_file)] if config.input_file is not None else []


def _dataset(raw: Mapping[str, Any], prefix: str) -> DatasetConfig:
    section = Section(prefix, raw)
    kind = as_str(section.key("type"), section.required("type"))
    if kind == "builtin":
        name = as_str(section.key("name"), section.required("name"))
        section.reject_unknown()
        if name not in BUILTIN_DATASETS:
            raise ConfigError(
                section.key("name"),
                f"unknown builtin dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}",
            )
        return BuiltinDataset(name=name)
    if kind == "csv":
        path = as_str(section.key("path"), section.required("path"))
        label_column = _optional_str(section, "label_column")
        section.reject_unknown()
        return CsvDataset(
            path=path,
            label_column=label_column,
            path_key=section.key("path"),
            label_key=section.key("label_column"),
        )
    raise ConfigError(section.key("type"), f'expected "builtin" or "csv", got {describe(kind)}')


def _model(raw: Mapping[str, Any]) -> ModelConfig:
    section = Section("model", raw)
    name = as_str("model.type", section.required("type"))
    estimator = lookup("model.type", name)
    params: Mapping[str, ParamValue] = {}
    if section.has("params"):
        params = coerce_params(
            "model.params", estimator, as_mapping("model.params", section.optional("params"))
        )
    section.reject_unknown()
    return ModelConfig(type=name, params=params)


def _optional_str(section: Section, name: str) -> str | None:
    value = section.optional(name)
    return None if value is None else as_str(section.key(name), value)
