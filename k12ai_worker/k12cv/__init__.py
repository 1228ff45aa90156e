"""k12cv: image classification on the shared training loop, configured as k12nlp is.

The hooks here are what the server and the worker call (see
``k12ai_worker.frameworks``). ``validate``, ``input_paths`` and
``gpus_wanted`` read configs without importing torch or Pillow; ``run``
imports the job's module, and torch with it, only when a job runs. The forms of
``service_params`` are described in ``config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.k12cv import config as _config
from k12ai_worker.k12cv.specs.readers import DIGITS_SPLITS
from k12ai_worker.training import job_hooks
from k12ai_worker.training.job_params import config_with_valid_overrides

_DATA_KEYS = ("train_data_path", "validation_data_path", "test_data_path")


def validate(kind: str, params: Mapping[str, Any]) -> None:
    job_hooks.validate_job(
        "k12cv",
        kind,
        params,
        train_config=_config.TrainConfig,
        evaluate_params=_config.EvaluateParams,
        predict_params=_config.PredictParams,
    )


def _reads_files(reader: Any) -> bool:
    # sklearn_digits names splits, not files; any other reader (or a config too
    # broken to tell) reads files, which the server must check.
    return not (isinstance(reader, Mapping) and reader.get("type") == "sklearn_digits")


def input_paths(kind: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The data files a job reads; output files are not listed (they are written)."""
    if kind == "train":
        config = config_with_valid_overrides(params)
        train_reader = config.get("dataset_reader")
        validation_reader = config.get("validation_dataset_reader") or train_reader
        paths = [
            (key, config[key])
            for key in _DATA_KEYS
            if isinstance(config.get(key), str)
            and _reads_files(train_reader if key == "train_data_path" else validation_reader)
        ]
        model = config.get("model")
        pretrained = model.get("pretrained_file") if isinstance(model, Mapping) else None
        if isinstance(pretrained, str):
            paths.append(("model.pretrained_file", pretrained))
        return paths
    if kind == "evaluate" or (kind == "predict" and params.get("input_type") == "file"):
        file = params.get("input_file")
        # The archived reader may be sklearn_digits, whose input_file is a split name.
        if isinstance(file, str) and not (kind == "evaluate" and file in DIGITS_SPLITS):
            return [("input_file", file)]
    return []


def gpus_wanted(kind: str, params: Mapping[str, Any]) -> int:
    return job_hooks.gpus_wanted(kind, params)


def run(spec: JobSpec, events: EventWriter) -> None:
    job_hooks.run_job(__name__, spec, events)
