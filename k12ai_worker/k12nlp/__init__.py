"""k12nlp: text classification with AllenNLP 0.9-style configs, on PyTorch.

The hooks here are what the server and the worker call (see
``k12ai_worker.frameworks``). ``validate``, ``input_paths`` and
``gpus_wanted`` read configs without importing torch; ``run`` imports the
job's module, and torch with it, only when a job runs. The forms of
``service_params`` (``overrides`` included) are described in ``config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.k12nlp import config as _config
from k12ai_worker.training import job_hooks
from k12ai_worker.training.job_params import config_with_valid_overrides
from k12ai_worker.training.params import join

_DATA_KEYS = ("train_data_path", "validation_data_path", "test_data_path")


def validate(kind: str, params: Mapping[str, Any]) -> None:
    job_hooks.validate_job(
        "k12nlp",
        kind,
        params,
        train_config=_config.TrainConfig,
        evaluate_params=_config.EvaluateParams,
        predict_params=_config.PredictParams,
    )


def _pretrained_files(node: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "pretrained_file" and isinstance(value, str):
                found.append((join(path, key), value))
            else:
                found.extend(_pretrained_files(value, join(path, str(key))))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_pretrained_files(value, join(path, i)))
    return found


def input_paths(kind: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The data files a job reads; output files are not listed (they are written)."""
    if kind == "train":
        config = config_with_valid_overrides(params)
        paths = [(key, config[key]) for key in _DATA_KEYS if isinstance(config.get(key), str)]
        return paths + _pretrained_files(config.get("model"), "model")
    if kind == "evaluate" or (kind == "predict" and params.get("input_type") == "file"):
        file = params.get("input_file")
        return [("input_file", file)] if isinstance(file, str) else []
    return []


def gpus_wanted(kind: str, params: Mapping[str, Any]) -> int:
    return job_hooks.gpus_wanted(kind, params)


def run(spec: JobSpec, events: EventWriter) -> None:
    job_hooks.run_job(__name__, spec, events)
