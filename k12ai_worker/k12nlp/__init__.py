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

from k12ai_worker.errors import ConfigError
from k12ai_worker.events import EventWriter
from k12ai_worker.k12nlp import config as _config
from k12ai_worker.spec import JobSpec
from k12ai_worker.training.params import apply_overrides, join

_DATA_KEYS = ("train_data_path", "validation_data_path", "test_data_path")


def validate(kind: str, params: Mapping[str, Any]) -> None:
    if kind == "train":
        _config.read_train_config(params)
    elif kind == "evaluate":
        _config.validate_overrides(_config.read_evaluate_params(params)[1])
    elif kind == "predict":
        _config.validate_overrides(_config.read_predict_params(params)[1])
    else:
        raise ConfigError("", f"k12nlp has no {kind!r} jobs")


def _with_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    rest, overrides = _config.split_overrides(params)
    if overrides is None:
        return rest
    try:
        return apply_overrides(rest, overrides, _config.OVERRIDES_KEY)
    except ConfigError:
        return rest


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
        config = _with_overrides(params)
        paths = [(key, config[key]) for key in _DATA_KEYS if isinstance(config.get(key), str)]
        return paths + _pretrained_files(config.get("model"), "model")
    if kind == "evaluate" or (kind == "predict" and params.get("input_type") == "file"):
        file = params.get("input_file")
        return [("input_file", file)] if isinstance(file, str) else []
    return []


def gpus_wanted(kind: str, params: Mapping[str, Any]) -> int:
    if kind == "train":
        trainer = _with_overrides(params).get("trainer")
        device = trainer.get("cuda_device", -1) if isinstance(trainer, Mapping) else -1
    else:
        device = params.get("cuda_device", -1)
    return 1 if isinstance(device, int) and not isinstance(device, bool) and device >= 0 else 0


def run(spec: JobSpec, events: EventWriter) -> None:
    if spec.kind == "train":
        from k12ai_worker.k12nlp.train import run_train

        run_train(spec, events)
    elif spec.kind == "evaluate":
        from k12ai_worker.k12nlp.evaluate import run_evaluate

        run_evaluate(spec, events)
    elif spec.kind == "predict":
        from k12ai_worker.k12nlp.predict import run_predict

        run_predict(spec, events)
    else:
        raise ConfigError("", f"k12nlp has no {spec.kind!r} jobs")
