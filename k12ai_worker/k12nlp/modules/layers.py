"""Feed-forward and maxout layer stacks."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "linear": nn.Identity,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "prelu": nn.PReLU,
    "leaky_relu": nn.LeakyReLU,
    "hardtanh": nn.Hardtanh,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "log_sigmoid": nn.LogSigmoid,
    "softplus": nn.Softplus,
    "softshrink": nn.Softshrink,
    "softsign": nn.Softsign,
    "tanhshrink": nn.Tanhshrink,
}


def activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


class FeedForward(nn.Module):
    """Linear -> activation -> dropout, per layer."""

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int],
        activations: Sequence[str],
        dropouts: Sequence[float],
    ) -> None:
        super().__init__()
        dims = [input_dim, *hidden_dims]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in itertools.pairwise(dims))
        self.activations = nn.ModuleList(activation(a) for a in activations)
        self.dropouts = nn.ModuleList(nn.Dropout(p) for p in dropouts)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        output = inputs
        for layer, act, dropout in zip(self.layers, self.activations, self.dropouts, strict=True):
            output = dropout(act(layer(output)))
        return output


class Maxout(nn.Module):
    """Per layer: a linear map to ``output_dim * pool_size`` units, the max of each pool, dropout."""

    def __init__(
        self, input_dim: int, output_dims: Sequence[int], pool_sizes: Sequence[int], dropouts: Sequence[float]
    ) -> None:
        super().__init__()
        dims = [input_dim, *output_dims]
        self.output_dims = list(output_dims)
        self.pool_sizes = list(pool_sizes)
        self.layers = nn.ModuleList(
            nn.Linear(i, o * p) for i, o, p in zip(dims[:-1], output_dims, pool_sizes, strict=True)
        )
        self.dropouts = nn.ModuleList(nn.Dropout(p) for p in dropouts)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        output = inputs
        for layer, dim, pool, dropout in zip(
            self.layers, self.output_dims, self.pool_sizes, self.dropouts, strict=True
        ):
            affine = layer(output)
            output = dropout(affine.view(*affine.shape[:-1], dim, pool).amax(dim=-1))
        return output
