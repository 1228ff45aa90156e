"""Iterators: which instances go together in a batch, and in what order.

``bucket`` sorts instances by length (blurred by ``padding_noise``) so a batch
holds texts of similar length and little padding, then shuffles the batches;
``basic`` takes instances in (shuffled) order. numpy is imported only when a
job plans its batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.limits import BATCH_SIZE, limited
from k12ai_worker.training.params import join
from k12ai_worker.training.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True, kw_only=True)
class IteratorSpec:
    registry: ClassVar[Registry[IteratorSpec]]
    batch_size: int = limited(BATCH_SIZE, default=32)
    # Drops a last batch smaller than batch_size.
    skip_smaller_batches: bool = False

    def check(self, path: str) -> None:
        if self.batch_size < 1:
            raise ConfigError(join(path, "batch_size"), f"must be at least 1, got {self.batch_size}")

    def plan(
        self, lengths: npt.NDArray[np.int64], rng: np.random.Generator, *, shuffle: bool
    ) -> list[npt.NDArray[np.int64]]:
        """Instance indices of each batch of one pass."""
        raise NotImplementedError

    def _chunks(self, order: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.skip_smaller_batches and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches


IteratorSpec.registry = Registry("iterator")


@IteratorSpec.registry.register("basic")
@dataclass(frozen=True, kw_only=True)
class BasicIteratorSpec(IteratorSpec):
    def plan(
        self, lengths: npt.NDArray[np.int64], rng: np.random.Generator, *, shuffle: bool
    ) -> list[npt.NDArray[np.int64]]:
        import numpy as np

        order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
        return self._chunks(order.astype(np.int64))


@IteratorSpec.registry.register("bucket")
@dataclass(frozen=True, kw_only=True)
class BucketIteratorSpec(IteratorSpec):
    # [[field, padding key]]; text classification has one text field, "tokens",
    # whose padding keys ("num_tokens", "<indexer>_length") are all its length.
    sorting_keys: list[list[str]]
    padding_noise: float = 0.1
    biggest_batch_first: bool = False

    def check(self, path: str) -> None:
        super().check(path)
        if not self.sorting_keys:
            raise ConfigError(join(path, "sorting_keys"), "must name at least one [field, padding key]")
        for i, key in enumerate(self.sorting_keys):
            where = join(join(path, "sorting_keys"), i)
            if len(key) != 2:
                raise ConfigError(where, f"must be a [field, padding key] pair, got {key}")
            if key[0] != "tokens":
                raise ConfigError(
                    join(where, 0), f"unknown field {key[0]!r}; text classification has 'tokens'"
                )
            if key[1] != "num_tokens" and not key[1].endswith("_length"):
                raise ConfigError(join(where, 1), f"unknown padding key {key[1]!r}; expected 'num_tokens'")
        if not 0.0 <= self.padding_noise < 1.0:
            raise ConfigError(join(path, "padding_noise"), f"must lie in [0, 1), got {self.padding_noise}")

    def plan(
        self, lengths: npt.NDArray[np.int64], rng: np.random.Generator, *, shuffle: bool
    ) -> list[npt.NDArray[np.int64]]:
        import numpy as np

        keys = lengths.astype(np.float64)
        if shuffle and self.padding_noise > 0:
            # Noise proportional to the length, as AllenNLP adds it: batches differ
            # from epoch to epoch while staying of similar length.
            keys = keys * (1.0 + rng.uniform(-self.padding_noise, self.padding_noise, size=len(keys)))
        batches = self._chunks(np.argsort(keys, kind="stable").astype(np.int64))
        biggest = batches.pop() if self.biggest_batch_first and len(batches) > 1 else None
        if shuffle:
            rng.shuffle(batches)
        if biggest is not None:
            batches.insert(0, biggest)
        return batches
