"""In-memory fan-out of stored events to live subscribers.

Each subscriber has a bounded queue. A subscriber that falls behind by a full
queue is not waited for: its queue is cleared and replaced by one ``OVERFLOW``
marker, and the subscriber re-reads what it missed from the ``EventStore``
(every event is stored before it is published). So a slow watcher costs the
job and the other watchers nothing, and loses nothing either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord


class _Overflow:
    pass


OVERFLOW: Final = _Overflow()
QueueItem = EventRecord | _Overflow


class Subscription:
    def __init__(self, bus: EventBus, where: EventFilter, maxsize: int) -> None:
        self.where = where
        self.queue: asyncio.Queue[QueueItem] = asyncio.Queue(maxsize)
        self.overflows = 0
        self._bus = bus

    def offer(self, event: EventRecord) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self._mark_overflow()

    def _mark_overflow(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(OVERFLOW)
        self.overflows += 1

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self, *, queue_size: int = 1024) -> None:
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, where: EventFilter) -> Subscription:
        sub = Subscription(self, where, self._queue_size)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def publish(self, events: Sequence[EventRecord]) -> None:
        for sub in tuple(self._subscriptions):
            for event in events:
                if sub.where.matches(event):
                    sub.offer(event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
