"""``FeedForward`` and ``Maxout`` layer stacks, and the activations they may name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.limits import LAYERS, WIDTH, limited
from k12ai_worker.training.params import join

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "prelu",
    "leaky_relu",
    "hardtanh",
    "sigmoid",
    "tanh",
    "log_sigmoid",
    "softplus",
    "softshrink",
    "softsign",
    "tanhshrink",
)


def per_layer(path: str, key: str, value: T | list[T], num_layers: int) -> list[T]:
    """A per-layer setting given once for all layers or as a list of one per layer."""
    if isinstance(value, list):
        if len(value) != num_layers:
            raise ConfigError(join(path, key), f"has {len(value)} entries but num_layers is {num_layers}")
        return list(value)
    return [value] * num_layers


def _check_dropouts(path: str, dropouts: list[float]) -> None:
    for d in dropouts:
        if not 0.0 <= d < 1.0:
            raise ConfigError(join(path, "dropout"), f"must lie in [0, 1), got {d}")


@dataclass(frozen=True, kw_only=True)
class FeedForwardSpec:
    input_dim: int
    num_layers: int = limited(LAYERS)
    hidden_dims: int | list[int] = limited(WIDTH)
    activations: str | list[str]
    dropout: float | list[float] = 0.0

    def check(self, path: str) -> None:
        if self.num_layers < 1:
            raise ConfigError(join(path, "num_layers"), "must be at least 1")
        per_layer(path, "hidden_dims", self.hidden_dims, self.num_layers)
        for name in per_layer(path, "activations", self.activations, self.num_layers):
            if name not in ACTIVATIONS:
                raise ConfigError(
                    join(path, "activations"),
                    f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}",
                )
        _check_dropouts(path, per_layer(path, "dropout", self.dropout, self.num_layers))

    @property
    def dims(self) -> list[int]:
        return per_layer("", "hidden_dims", self.hidden_dims, self.num_layers)

    def get_input_dim(self) -> int:
        return self.input_dim

    def get_output_dim(self) -> int:
        return self.dims[-1]

    def build(self) -> torch.nn.Module:
        from k12ai_worker.k12nlp.modules.layers import FeedForward

        return FeedForward(
            self.input_dim,
            self.dims,
            per_layer("", "activations", self.activations, self.num_layers),
            per_layer("", "dropout", self.dropout, self.num_layers),
        )


@dataclass(frozen=True, kw_only=True)
class MaxoutSpec:
    input_dim: int
    num_layers: int = limited(LAYERS)
    output_dims: int | list[int] = limited(WIDTH)
    pool_sizes: int | list[int]
    dropout: float | list[float] = 0.0

    def check(self, path: str) -> None:
        if self.num_layers < 1:
            raise ConfigError(join(path, "num_layers"), "must be at least 1")
        per_layer(path, "output_dims", self.output_dims, self.num_layers)
        for size in per_layer(path, "pool_sizes", self.pool_sizes, self.num_layers):
            if size < 1:
                raise ConfigError(join(path, "pool_sizes"), f"must be at least 1, got {size}")
        _check_dropouts(path, per_layer(path, "dropout", self.dropout, self.num_layers))

    @property
    def dims(self) -> list[int]:
        return per_layer("", "output_dims", self.output_dims, self.num_layers)

    def get_input_dim(self) -> int:
        return self.input_dim

    def get_output_dim(self) -> int:
        return self.dims[-1]

    def build(self) -> torch.nn.Module:
        from k12ai_worker.k12nlp.modules.layers import Maxout

        return Maxout(
            self.input_dim,
            self.dims,
            per_layer("", "pool_sizes", self.pool_sizes, self.num_layers),
            per_layer("", "dropout", self.dropout, self.num_layers),
        )
