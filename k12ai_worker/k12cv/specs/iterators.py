"""``iterator`` / ``validation_iterator``: batch size and how batches are loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.limits import BATCH_SIZE, limited
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry


@dataclass(frozen=True, kw_only=True)
class IteratorSpec:
    registry: ClassVar[Registry[IteratorSpec]]
    batch_size: int = limited(BATCH_SIZE, default=32)
    # Drops a last batch smaller than batch_size.
    skip_smaller_batches: bool = False
    # DataLoader workers decoding images that are not cached; null picks one
    # per CPU core, up to 8. Cached images need none.
    num_workers: int | None = None

    def check(self, path: str) -> None:
        if self.batch_size < 1:
            raise ConfigError(join(path, "batch_size"), f"must be at least 1, got {self.batch_size}")
        if self.num_workers is not None and self.num_workers < 0:
            raise ConfigError(join(path, "num_workers"), f"must not be negative, got {self.num_workers}")


IteratorSpec.registry = Registry("iterator", default="basic")


# Images have no length to bucket by, so "basic" (shuffled when training) is the one iterator.
@IteratorSpec.registry.register("basic")
@dataclass(frozen=True, kw_only=True)
class BasicIteratorSpec(IteratorSpec):
    pass
