"""Per-job limits on model size and training length (README, "Limits").

A request asking for more is refused when it is validated, before any job starts,
with code 100103 naming the key: ``n_estimators: 10**15`` must not become a job that
runs until someone stops it. The bounds are generous for the hardware a k12ai host
has; the wall-clock limit per job (a server setting) bounds what they still allow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from k12ai_contract.errors import ConfigError


@dataclass(frozen=True)
class Limit:
    """The most a key may ask for; too small a value is the framework's own check."""

    high: int

    def check(self, key: str, value: object) -> None:
        """Each integer of ``value`` (an int or a list of ints) at most ``high``; other values pass."""
        for number in value if isinstance(value, list) else [value]:
            if isinstance(number, int) and not isinstance(number, bool) and number > self.high:
                raise ConfigError(key, f"{number} is above the limit of {self.high} per job")


EPOCHS = Limit(1_000)
BATCH_SIZE = Limit(65_536)
# Hidden sizes, embedding dimensions, filters, channels.
WIDTH = Limit(16_384)
LAYERS = Limit(64)
# k12ml: trees of a forest, stages of boosting.
ESTIMATORS = Limit(10_000)
TREE_DEPTH = Limit(1_000)
LEAF_NODES = Limit(1_000_000)
SOLVER_ITERATIONS = Limit(1_000_000)
NEIGHBOURS = Limit(100_000)
POLY_DEGREE = Limit(10)

LIMIT_KEY = "k12ai.limit"


def limited(limit: Limit, **field_options: Any) -> Any:
    """A config dataclass field whose integers ``training.params.parse`` holds to ``limit``."""
    return dataclasses.field(metadata={LIMIT_KEY: limit}, **field_options)
