"""Follow events: stored history first, then live, with no gap and no duplicate.

The subscription is opened *before* history is read, so an event stored while
history is being sent waits in the queue; seq numbers drop the overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from k12ai_server.events.bus import OVERFLOW, EventBus, Subscription
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord, now_ms
from k12ai_server.events.store import EventStore

HISTORY_PAGE = 500
TERMINAL_STATES = frozenset({"finished", "failed", "stopped"})


@dataclass(frozen=True)
class Heartbeat:
    last_seq: int
    timestamp: int


@dataclass(frozen=True)
class JobEnd:
    job_id: str
    state: str


WatchItem = EventRecord | Heartbeat | JobEnd
# Answers whether a job is over (and how), for a watch that started after it.
JobStateLookup = Callable[[str], str | None]


@dataclass(frozen=True, kw_only=True)
class WatchRequest:
    where: EventFilter
    types: frozenset[str] = frozenset()
    after_seq: int = 0
    heartbeat_s: float = 5.0


async def follow(
    store: EventStore, bus: EventBus, request: WatchRequest, terminal_state: JobStateLookup
) -> AsyncIterator[WatchItem]:
    """Yield matching events; for a single-job watch, end with ``JobEnd``."""
    sub = bus.subscribe(request.where)
    cursor = _Cursor(request)
    try:
        while True:
            while True:
                page = store.read(after_seq=cursor.last_seq, where=request.where, limit=HISTORY_PAGE)
                for event in page:
                    for item in cursor.take(event):
                        yield item
                    if cursor.done:
                        return
                if len(page) < HISTORY_PAGE:
                    break
            job_id = request.where.job_id
            state = terminal_state(job_id) if job_id else None
            if state is not None:
                # The job ended and every event it had is behind the cursor.
                yield JobEnd(job_id, state)
                return
            async for item in _live(sub, cursor, store):
                yield item
            if cursor.done:
                return
    finally:
        sub.close()


class _Cursor:
    def __init__(self, request: WatchRequest) -> None:
        self.request = request
        self.last_seq = request.after_seq
        self.done = False

    def take(self, event: EventRecord) -> list[WatchItem]:
        if event.seq <= self.last_seq:
            return []
        self.last_seq = event.seq
        items: list[WatchItem] = []
        if not self.request.types or event.type in self.request.types:
            items.append(event)
        ended = _terminal_state(event)
        if ended is not None:
            items.append(JobEnd(event.job_id, ended))
            self.done = bool(self.request.where.job_id)
        return items


async def _live(sub: Subscription, cursor: _Cursor, store: EventStore) -> AsyncIterator[WatchItem]:
    """Yield from the queue until the job ends or the queue overflowed."""
    while True:
        try:
            item = await asyncio.wait_for(sub.queue.get(), cursor.request.heartbeat_s)
        except TimeoutError:
            yield Heartbeat(store.last_seq(), now_ms())
            continue
        if item is OVERFLOW:
            return  # back to reading the store from the cursor
        assert isinstance(item, EventRecord)
        for out in cursor.take(item):
            yield out
        if cursor.done:
            return


def _terminal_state(event: EventRecord) -> str | None:
    if event.type != "status" or not event.job_id or not isinstance(event.payload, dict):
        return None
    state = event.payload.get("state")
    return state if state in TERMINAL_STATES else None
