"""Learning-rate schedulers a trainer config may name (``trainer.learning_rate_scheduler``).

As in AllenNLP, a scheduler steps once per epoch; ``reduce_on_plateau`` is
given that epoch's validation metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry

if TYPE_CHECKING:
    import torch

# Called at the end of each epoch with the validation metric (None without validation data).
EpochStep = Callable[[float | None], None]


@dataclass(frozen=True, kw_only=True)
class SchedulerSpec:
    registry: ClassVar[Registry[SchedulerSpec]]
    needs_validation_metric: ClassVar[bool] = False

    def build(self, optimizer: torch.optim.Optimizer) -> EpochStep:
        raise NotImplementedError


SchedulerSpec.registry = Registry("learning rate scheduler")


def _ignore_metric(scheduler: torch.optim.lr_scheduler.LRScheduler) -> EpochStep:
    def step(metric: float | None) -> None:
        scheduler.step()

    return step


@SchedulerSpec.registry.register("step")
@dataclass(frozen=True, kw_only=True)
class StepSpec(SchedulerSpec):
    step_size: int
    gamma: float = 0.1

    def check(self, path: str) -> None:
        if self.step_size < 1:
            raise ConfigError(join(path, "step_size"), f"must be at least 1, got {self.step_size}")

    def build(self, optimizer: torch.optim.Optimizer) -> EpochStep:
        import torch

        return _ignore_metric(torch.optim.lr_scheduler.StepLR(optimizer, self.step_size, gamma=self.gamma))


@SchedulerSpec.registry.register("multi_step")
@dataclass(frozen=True, kw_only=True)
class MultiStepSpec(SchedulerSpec):
    milestones: list[int]
    gamma: float = 0.1

    def build(self, optimizer: torch.optim.Optimizer) -> EpochStep:
        import torch

        return _ignore_metric(
            torch.optim.lr_scheduler.MultiStepLR(optimizer, self.milestones, gamma=self.gamma)
        )


@SchedulerSpec.registry.register("exponential")
@dataclass(frozen=True, kw_only=True)
class ExponentialSpec(SchedulerSpec):
    gamma: float

    def build(self, optimizer: torch.optim.Optimizer) -> EpochStep:
        import torch

        return _ignore_metric(torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.gamma))


@SchedulerSpec.registry.register("reduce_on_plateau")
@dataclass(frozen=True, kw_only=True)
class ReduceOnPlateauSpec(SchedulerSpec):
    needs_validation_metric: ClassVar[bool] = True

    mode: Literal["min", "max"] = "min"
    factor: float = 0.1
    patience: int = 10
    # Accepted for AllenNLP configs; the job's events already report each epoch.
    verbose: bool = False
    threshold_mode: Literal["rel", "abs"] = "rel"
    threshold: float = 1e-4
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8

    def check(self, path: str) -> None:
        if not 0.0 < self.factor < 1.0:
            raise ConfigError(join(path, "factor"), f"must lie in (0, 1), got {self.factor}")

    def build(self, optimizer: torch.optim.Optimizer) -> EpochStep:
        import torch

        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=self.mode,
            factor=self.factor,
            patience=self.patience,
            threshold=self.threshold,
            threshold_mode=self.threshold_mode,
            cooldown=self.cooldown,
            min_lr=self.min_lr,
            eps=self.eps,
        )

        def step(metric: float | None) -> None:
            if metric is not None:
                scheduler.step(metric)

        return step
