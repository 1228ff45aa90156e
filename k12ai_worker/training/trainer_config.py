"""The ``trainer`` section of a config: how long and how to train."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.limits import EPOCHS, limited
from k12ai_worker.training.optimizers import OptimizerSpec
from k12ai_worker.training.params import join
from k12ai_worker.training.schedulers import SchedulerSpec


@dataclass(frozen=True, kw_only=True)
class TrainerSpec:
    optimizer: OptimizerSpec
    num_epochs: int = limited(EPOCHS, default=20)
    patience: int | None = None
    # "+name" when higher is better, "-name" when lower is; AllenNLP's default.
    validation_metric: str = "-loss"
    shuffle: bool = True
    # -1 is CPU; any GPU id asks the runner for one GPU (which one is the runner's choice).
    cuda_device: int = -1
    grad_norm: float | None = None
    grad_clipping: float | None = None
    learning_rate_scheduler: SchedulerSpec | None = None
    # AllenNLP keys accepted so its configs run; the archive keeps the best model only.
    type: Literal["default"] = "default"
    num_serialized_models_to_keep: int = 20

    @property
    def metric_name(self) -> str:
        return self.validation_metric[1:]

    @property
    def higher_is_better(self) -> bool:
        return self.validation_metric.startswith("+")

    def check(self, path: str) -> None:
        if self.num_epochs < 1:
            raise ConfigError(join(path, "num_epochs"), f"must be at least 1, got {self.num_epochs}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(
                join(path, "patience"), f"must be a positive integer or null, got {self.patience}"
            )
        if len(self.validation_metric) < 2 or self.validation_metric[0] not in "+-":
            raise ConfigError(
                join(path, "validation_metric"),
                f"must be '+name' or '-name' (e.g. '+accuracy', '-loss'), got {self.validation_metric!r}",
            )
        for key, value in (("grad_norm", self.grad_norm), ("grad_clipping", self.grad_clipping)):
            if value is not None and value <= 0:
                raise ConfigError(join(path, key), f"must be positive, got {value}")
