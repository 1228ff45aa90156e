"""``model.tar.gz``: what training leaves in the cache directory for evaluate and predict.

Members, read and written in memory (never extracted, so no member name can
reach the file system):

- ``model.joblib``: the fitted scikit-learn ``Pipeline`` (scaler, estimator);
- ``config.json``: the train ``service_params`` as the user sent them;
- ``metadata.json``: classes, feature names, label column, the held-out rows,
  the last validation metrics, and the versions that wrote it.

The pipeline is a pickle: only ever load an archive this framework wrote into
the project's own cache directory.
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k12ai_contract.errors import MissingArtefactError
from k12ai_contract.spec import JobSpec
from k12ai_worker import inputs
from k12ai_worker.k12ml.files import write_atomic
from k12ai_worker.model_runs import publish_latest, with_origin

FORMAT_VERSION = 1
_MODEL = "model.joblib"
_CONFIG = "config.json"
_METADATA = "metadata.json"


@dataclass(frozen=True, kw_only=True)
class TrainedModel:
    pipeline: Any
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    label_column: str | None
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    # The held-out split, as row numbers into the training data, so a builtin
    # set can be evaluated later on exactly the rows training never saw.
    validation_rows: tuple[int, ...]


def save(model: TrainedModel, spec: JobSpec) -> Path:
    """Writes the training's archive into its run folder and makes it the project's latest."""
    import joblib
    import sklearn

    buffer = io.BytesIO()
    joblib.dump(model.pipeline, buffer)
    metadata = {
        "format_version": FORMAT_VERSION,
        "framework": "k12ml",
        "sklearn_version": sklearn.__version__,
        "classes": list(model.classes),
        "feature_names": list(model.feature_names),
        "label_column": model.label_column,
        "metrics": dict(model.metrics),
        "validation_rows": list(model.validation_rows),
    }
    members = with_origin(
        spec, {_MODEL: buffer.getvalue(), _CONFIG: _json(model.params), _METADATA: _json(metadata)}
    )
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in members.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            entry.mtime = int(time.time())
            tar.addfile(entry, io.BytesIO(data))
    write_atomic(spec.model_archive, archive.getvalue())
    publish_latest(spec)
    return spec.model_archive


def load(path: Path) -> TrainedModel:
    import joblib

    if not path.is_file():
        raise MissingArtefactError(f"{path.name} is not found in {path.parent}")
    try:
        with inputs.open_binary(path.name, path) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
            members = {name: _member(tar, name) for name in (_MODEL, _CONFIG, _METADATA)}
        metadata = json.loads(members[_METADATA])
        params = json.loads(members[_CONFIG])
        pipeline = joblib.load(io.BytesIO(members[_MODEL]))
        return TrainedModel(
            pipeline=pipeline,
            classes=tuple(metadata["classes"]),
            feature_names=tuple(metadata["feature_names"]),
            label_column=metadata["label_column"],
            params=params,
            metrics=metadata["metrics"],
            validation_rows=tuple(metadata["validation_rows"]),
        )
    except (OSError, EOFError, tarfile.TarError, pickle.UnpicklingError, KeyError, ValueError) as exc:
        # The seed's 100202: the job cannot start on what is there.
        raise MissingArtefactError(f"{path.name} in {path.parent} is not a k12ml model: {exc}") from None


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    file = tar.extractfile(name)
    if file is None:
        raise KeyError(f"{name} is not a regular file")
    return file.read()


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode("utf-8")
