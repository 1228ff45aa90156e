"""Token indexers: how a token becomes an id in a vocabulary namespace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry


@dataclass(frozen=True, kw_only=True)
class TokenIndexerSpec:
    registry: ClassVar[Registry[TokenIndexerSpec]]
    namespace: str = "tokens"
    # Batches are padded to at least this many tokens (a CNN encoder needs its widest filter).
    token_min_padding_length: int = 0

    def normalize(self, token: str) -> str:
        raise NotImplementedError


TokenIndexerSpec.registry = Registry("token indexer", default="single_id")


@TokenIndexerSpec.registry.register("single_id")
@dataclass(frozen=True, kw_only=True)
class SingleIdIndexerSpec(TokenIndexerSpec):
    lowercase_tokens: bool = False

    def check(self, path: str) -> None:
        if self.token_min_padding_length < 0:
            raise ConfigError(join(path, "token_min_padding_length"), "must not be negative")

    def normalize(self, token: str) -> str:
        return token.lower() if self.lowercase_tokens else token
