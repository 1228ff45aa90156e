"""Optimizers a trainer config may name (``trainer.optimizer.type``).

The classes are torch-free config readers; ``build`` imports torch only when a
job runs, so the server can validate configs without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec:
    registry: ClassVar[Registry[OptimizerSpec]]

    def build(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        raise NotImplementedError


OptimizerSpec.registry = Registry("optimizer")


def _check_positive(path: str, key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(join(path, key), f"must be positive, got {value}")


def _check_betas(path: str, betas: tuple[float, ...]) -> None:
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ConfigError(join(path, "betas"), f"must be two numbers in [0, 1), got {list(betas)}")


@OptimizerSpec.registry.register("adam")
@dataclass(frozen=True, kw_only=True)
class AdamSpec(OptimizerSpec):
    lr: float = 0.001
    betas: tuple[float, ...] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False

    def check(self, path: str) -> None:
        _check_positive(path, "lr", self.lr)
        _check_betas(path, self.betas)

    def build(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return self._optimizer_class()(
            parameters,
            lr=self.lr,
            betas=(self.betas[0], self.betas[1]),
            eps=self.eps,
            weight_decay=self.weight_decay,
            amsgrad=self.amsgrad,
        )

    def _optimizer_class(self) -> type[torch.optim.Adam]:
        import torch

        return torch.optim.Adam


@OptimizerSpec.registry.register("adamw")
@dataclass(frozen=True, kw_only=True)
class AdamWSpec(AdamSpec):
    """Adam's keys; the weight decay is decoupled from the gradient, and on by default (torch's 0.01)."""

    weight_decay: float = 0.01

    def _optimizer_class(self) -> type[torch.optim.Adam]:
        import torch

        return torch.optim.AdamW


@OptimizerSpec.registry.register("sgd")
@dataclass(frozen=True, kw_only=True)
class SgdSpec(OptimizerSpec):
    # Required, as in AllenNLP: plain SGD has no learning rate that suits most models.
    lr: float
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False

    def check(self, path: str) -> None:
        _check_positive(path, "lr", self.lr)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ConfigError(join(path, "nesterov"), "needs momentum > 0 and dampening 0")

    def build(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.SGD(
            parameters,
            lr=self.lr,
            momentum=self.momentum,
            dampening=self.dampening,
            weight_decay=self.weight_decay,
            nesterov=self.nesterov,
        )


@OptimizerSpec.registry.register("adagrad")
@dataclass(frozen=True, kw_only=True)
class AdagradSpec(OptimizerSpec):
    lr: float = 0.01
    lr_decay: float = 0.0
    weight_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10

    def check(self, path: str) -> None:
        _check_positive(path, "lr", self.lr)

    def build(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.Adagrad(
            parameters,
            lr=self.lr,
            lr_decay=self.lr_decay,
            weight_decay=self.weight_decay,
            initial_accumulator_value=self.initial_accumulator_value,
            eps=self.eps,
        )
