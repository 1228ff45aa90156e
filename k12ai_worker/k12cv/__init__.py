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

from k12ai_worker.errors import ConfigError
from k12ai_worker.events import EventWriter
from k12ai_worker.k12cv import config as _config
from k12ai_worker.k12cv.specs.readers import DIGITS_SPLITS
from k12ai_worker.spec import JobSpec
from k12ai_worker.training.params import apply_overrides

_DATA_KEYS = ("train_data_path", "validation_data_path", "test_data_path")


def validate(kind: str, params: Mapping[str, Any]) -> None:
    if kind == "train":
        _config.read_train_config(params)
    elif kind == "evaluate":
        _config.validate_overrides(_config.read_evaluate_params(params)[1])
    elif kind == "predict":
        _config.validate_overrides(_config.read_predict_params(params)[1])
    else:
        raise ConfigError("", f"k12cv has no {kind!r} jobs")


def _with_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    rest, overrides = _config.split_overrides(params)
    if overrides is None:
        return rest
    try:
        return apply_overrides(rest, overrides, _config.OVERRIDES_KEY)
    except ConfigError:
        return rest


def _reads_files(reader: Any) -> bool:
    # sklearn_digits names splits, not files; any other reader (or a config too
    # broken to tell) reads files, which the server must check.
    return not (isinstance(reader, Mapping) and reader.get("type") == "sklearn_digits")


def input_paths(kind: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The data files a job reads; output files are not listed (they are written)."""
    if kind == "train":
        config = _with_overrides(params)
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
    if kind == "train":
        trainer = _with_overrides(params).get("trainer")
        device = trainer.get("cuda_device", -1) if isinstance(trainer, Mapping) else -1
    else:
        device = params.get("cuda_device", -1)
    return 1 if isinstance(device, int) and not isinstance(device, bool) and device >= 0 else 0


def run(spec: JobSpec, events: EventWriter) -> None:
    if spec.kind == "train":
        from k12ai_worker.k12cv.train import run_train

        run_train(spec, events)
    elif spec.kind == "evaluate":
        from k12ai_worker.k12cv.evaluate import run_evaluate

        run_evaluate(spec, events)
    elif spec.kind == "predict":
        from k12ai_worker.k12cv.predict import run_predict

        run_predict(spec, events)
    else:
        raise ConfigError("", f"k12cv has no {spec.kind!r} jobs")
