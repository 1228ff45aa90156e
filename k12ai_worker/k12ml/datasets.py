"""Tables of numeric features and string labels: scikit-learn's toy sets, or a CSV file.

Labels are strings everywhere in k12ml: a builtin set's class names
(``"setosa"``), a CSV's label cells as written. Predictions report them as
strings, as the seed does, and labels are compared as strings, so an
evaluation file must spell its labels like the training file.
"""

from __future__ import annotations

import csv
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from k12ai_contract.errors import ConfigError
from k12ai_worker import inputs
from k12ai_worker.k12ml.config import BuiltinDataset, CsvDataset, DatasetConfig

Features = npt.NDArray[np.float64]
Labels = npt.NDArray[np.str_]


@dataclass(frozen=True)
class Table:
    features: Features
    # None for prediction input that has no label column.
    labels: Labels | None
    feature_names: tuple[str, ...]
    # None for builtin sets, whose target has no column name.
    label_column: str | None
    # Where the rows came from, for info events and messages.
    source: str

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])

    def take(self, rows: Sequence[int]) -> Table:
        index = np.asarray(rows, dtype=np.intp)
        labels = None if self.labels is None else self.labels[index]
        return Table(self.features[index], labels, self.feature_names, self.label_column, self.source)


def load(
    data: DatasetConfig, *, model_features: Sequence[str] | None = None, model_label: str | None = None
) -> Table:
    """A labelled table; ``model_*`` say how a trained model reads a CSV (see ``read_csv``)."""
    if isinstance(data, BuiltinDataset):
        return load_builtin(data.name)
    return read_csv(data, need_label=True, model_features=model_features, model_label=model_label)


def load_builtin(name: str) -> Table:
    loader = getattr(importlib.import_module("sklearn.datasets"), f"load_{name}")
    bunch = loader()
    target_names = np.asarray([str(t) for t in bunch.target_names])
    return Table(
        features=np.asarray(bunch.data, dtype=np.float64),
        labels=target_names[bunch.target],
        feature_names=tuple(str(f) for f in bunch.feature_names),
        label_column=None,
        source=f"builtin dataset {name}",
    )


def read_csv(
    data: CsvDataset,
    *,
    need_label: bool,
    model_features: Sequence[str] | None = None,
    model_label: str | None = None,
) -> Table:
    """A CSV with a header row, every cell but the label's a finite number.

    The label column is ``data.label_column`` when given; else the trained
    model's label column if the header has it; else, when a label is needed,
    the last column. Features are every other column for training. For a
    trained model they are its feature columns by name when the header has
    them all (extra columns ignored), else the remaining columns in order,
    which must be as many as the model's features.
    """
    header, body = _read_cells(data)
    label = _label_column(data, header, need_label=need_label, model_label=model_label)
    candidates = [name for name in header if name != label]
    if model_features is None:
        features = candidates
    elif all(name in header for name in model_features):
        features = list(model_features)
    elif len(candidates) == len(model_features):
        features = candidates
    else:
        raise ConfigError(
            data.path_key,
            f"has {len(candidates)} feature columns, not named as the model's; the model was trained on "
            f"{len(model_features)}: {', '.join(model_features)}",
        )
    if not features:
        raise ConfigError(data.path_key, "has no feature column besides its label column")
    columns = [header.index(name) for name in features]
    matrix = np.empty((len(body), len(columns)), dtype=np.float64)
    for i, (line, cells) in enumerate(body):
        for j, column in enumerate(columns):
            matrix[i, j] = _number(data.path_key, line, column + 1, cells[column])
    labels = None
    if label is not None:
        at = header.index(label)
        labels = np.asarray([cells[at].strip() for _, cells in body], dtype=np.str_)
    return Table(matrix, labels, tuple(features), label, data.path)


def _read_cells(data: CsvDataset) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their line numbers; blank lines skipped."""
    try:
        with inputs.open_text(data.path_key, data.path, encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            # line_num after a row is its last physical line: right for error
            # messages even when a quoted cell spans lines.
            rows = [(reader.line_num, row) for row in reader if row]
    except FileNotFoundError:
        raise ConfigError(data.path_key, f"{data.path} does not exist") from None
    except UnicodeDecodeError as exc:
        # Where, not what: the codec's own message would quote the byte.
        where = f"{exc.reason} at byte {exc.start} of a line"
        raise ConfigError(data.path_key, f"{data.path} is not UTF-8 text ({where})") from None
    except (OSError, csv.Error) as exc:
        raise ConfigError(data.path_key, f"cannot read {data.path}: {exc}") from None
    if not rows:
        raise ConfigError(data.path_key, f"{data.path} is empty; expected a header row and data rows")
    header = [name.strip() for name in rows[0][1]]
    for number, name in enumerate(header, start=1):
        if header.index(name) < number - 1:
            raise ConfigError(
                data.path_key, f"column {number} of the header repeats an earlier column's name"
            )
    body = rows[1:]
    if not body:
        raise ConfigError(data.path_key, f"{data.path} has a header but no data rows")
    for line, cells in body:
        if len(cells) != len(header):
            raise ConfigError(
                data.path_key, f"line {line} has {len(cells)} fields; the header has {len(header)}"
            )
    return header, body


def _label_column(
    data: CsvDataset, header: list[str], *, need_label: bool, model_label: str | None
) -> str | None:
    if data.label_column is not None:
        if data.label_column not in header:
            raise ConfigError(
                data.label_key,
                f"column {data.label_column!r} is not in the header of {data.path} ({len(header)} columns)",
            )
        return data.label_column
    if model_label is not None and model_label in header:
        return model_label
    return header[-1] if need_label else None


def _number(key: str, line: int, column: int, cell: str) -> float:
    # Where the value is, never what it is: messages do not quote a data file's cells.
    try:
        value = float(cell)
    except ValueError:
        raise ConfigError(key, f"line {line}, column {column}: the value is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(key, f"line {line}, column {column}: the value is not a finite number")
    return value
