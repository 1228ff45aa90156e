"""The one way events enter the server: stored durably, then fanned out."""

from __future__ import annotations

from collections.abc import Sequence

from k12ai_server.events.bus import EventBus
from k12ai_server.events.record import EventRecord
from k12ai_server.events.store import EventStore


class EventLog:
    def __init__(self, store: EventStore, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    def append(
        self, events: Sequence[EventRecord], *, job_offset: tuple[str, int] | None = None
    ) -> list[EventRecord]:
        stored = self.store.append(events, job_offset=job_offset)
        self.bus.publish(stored)
        return stored
