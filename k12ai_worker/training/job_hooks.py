"""The framework hooks (see ``k12ai_worker.frameworks``) that the PyTorch frameworks share.

Each such framework is a package with ``config`` (its config classes, read
without torch) and one module a job kind, ``train``, ``evaluate`` and
``predict``, each with ``run_<kind>(spec, events)``. The job modules import
torch, so ``run_job`` imports them only when a job runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from k12ai_contract.errors import ConfigError
from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.training.job_params import (
    config_with_valid_overrides,
    read_job_params,
    read_train_config,
    validate_overrides,
)


class JobRunner(Protocol):
    def __call__(self, spec: JobSpec, events: EventWriter) -> None: ...


def validate_job(
    framework: str,
    kind: str,
    params: Mapping[str, Any],
    *,
    train_config: type[Any],
    evaluate_params: type[Any],
    predict_params: type[Any],
) -> None:
    if kind == "train":
        read_train_config(train_config, params)
    elif kind == "evaluate":
        validate_overrides(read_job_params(evaluate_params, params)[1])
    elif kind == "predict":
        validate_overrides(read_job_params(predict_params, params)[1])
    else:
        raise ConfigError("", f"{framework} has no {kind!r} jobs")


def gpus_wanted(kind: str, params: Mapping[str, Any]) -> int:
    if kind == "train":
        trainer = config_with_valid_overrides(params).get("trainer")
        device = trainer.get("cuda_device", -1) if isinstance(trainer, Mapping) else -1
    else:
        device = params.get("cuda_device", -1)
    return 1 if isinstance(device, int) and not isinstance(device, bool) and device >= 0 else 0


def run_job(package: str, spec: JobSpec, events: EventWriter) -> None:
    """Runs ``spec`` with ``<package>.<kind>.run_<kind>``, importing only that module."""
    runner: JobRunner = getattr(
        importlib.import_module(f"{package}.{spec.kind.value}"), f"run_{spec.kind.value}"
    )
    import torch  # loaded by the job module already

    # OMP_NUM_THREADS set it on load (k12ai_worker.cpu_share); said here, not left to chance.
    torch.set_num_threads(spec.cpu_threads)
    runner(spec, events)
