"""Where a job's events go, and how often live metrics are sent there."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

# Often enough for a live chart, rare enough that the host sync it costs is noise.
METRICS_INTERVAL_S = 0.5


class EventSink(Protocol):
    """What a job reports to; ``k12ai_worker.events.EventWriter`` is one."""

    def emit(self, type: str, payload: dict[str, Any]) -> None: ...


class MetricsThrottle:
    """Lets through at most one live ``metrics`` event per interval; forced ones always pass."""

    def __init__(
        self,
        sink: EventSink,
        *,
        interval_s: float = METRICS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._interval_s = interval_s
        self._clock = clock
        self._last = clock()

    def due(self) -> bool:
        return self._clock() - self._last >= self._interval_s

    def emit(self, payload: dict[str, Any]) -> None:
        self._sink.emit("metrics", payload)
        self._last = self._clock()
