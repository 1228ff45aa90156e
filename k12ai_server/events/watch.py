"""Follow events: stored history first, then live, with no gap and no duplicate.

The subscription is opened *before* history is read, so an event stored while
history is being sent waits in the queue; seq numbers drop the overlap.
Events go out in batches (everything the watcher is behind by, up to
``BATCH_MAX``) because one stream write per event is what limits fan-out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from k12ai_contract.events import EventType, now_ms
from k12ai_contract.jobs import TERMINAL_STATES
from k12ai_server.events.bus import OVERFLOW, EventBus, QueueItem, Subscription
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord
from k12ai_server.events.store import EventStore

BATCH_MAX = 256
# At most one write per watcher per this interval while events pour in: a
# stream write costs tens of microseconds in grpc.aio, so 100 watchers of a
# job logging 1000 events/s would otherwise need 100k writes a second. A
# quiet watcher is not delayed: the wait applies only right after a write.
WRITE_INTERVAL_S = 0.01


@dataclass(frozen=True)
class Heartbeat:
    last_seq: int
    timestamp: int


@dataclass(frozen=True)
class JobEnd:
    job_id: str
    state: str


@dataclass
class WatchBatch:
    events: list[EventRecord] = field(default_factory=list)
    heartbeat: Heartbeat | None = None
    # Set on the last batch of a single-job watch, and whenever a job ends.
    end: JobEnd | None = None


# Answers whether a job is over (and how), for a watch that started after it.
JobStateLookup = Callable[[str], str | None]


@dataclass(frozen=True, kw_only=True)
class WatchRequest:
    where: EventFilter
    types: frozenset[str] = frozenset()
    after_seq: int = 0
    heartbeat_s: float = 5.0
    write_interval_s: float = WRITE_INTERVAL_S


async def follow(
    store: EventStore, bus: EventBus, request: WatchRequest, terminal_state: JobStateLookup
) -> AsyncIterator[WatchBatch]:
    """Yield batches of matching events; a single-job watch ends with ``end`` set."""
    sub = bus.subscribe(request.where)
    cursor = _Cursor(request)
    try:
        while not cursor.done:
            async for batch in _history(store, cursor):
                yield batch
            if cursor.done:
                return
            job_id = request.where.job_id
            state = terminal_state(job_id) if job_id else None
            if state is not None:
                # The job ended and every event it had is behind the cursor.
                yield WatchBatch(end=JobEnd(job_id, state))
                return
            async for batch in _live(sub, cursor, store):
                yield batch
    finally:
        sub.close()


class _Cursor:
    def __init__(self, request: WatchRequest) -> None:
        self.request = request
        self.last_seq = request.after_seq
        self.done = False

    def batch(self, events: list[EventRecord]) -> list[WatchBatch]:
        """Split at job ends, so each JobEnd follows that job's last event."""
        out: list[WatchBatch] = []
        current = WatchBatch()
        for event in events:
            if event.seq <= self.last_seq:
                continue
            self.last_seq = event.seq
            if not self.request.types or event.type in self.request.types:
                current.events.append(event)
            ended = _terminal_state(event)
            if ended is not None:
                current.end = JobEnd(event.job_id, ended)
                out.append(current)
                current = WatchBatch()
                if self.request.where.job_id:
                    self.done = True
                    return out
        if current.events:
            out.append(current)
        return out


async def _history(store: EventStore, cursor: _Cursor) -> AsyncIterator[WatchBatch]:
    # Status events too, whatever the watcher wants: a job's end is read from them.
    types = cursor.request.types | {EventType.STATUS} if cursor.request.types else frozenset()
    while not cursor.done:
        page = store.read(after_seq=cursor.last_seq, where=cursor.request.where, limit=BATCH_MAX, types=types)
        for batch in cursor.batch(page):
            yield batch
        if len(page) < BATCH_MAX:
            return


async def _live(sub: Subscription, cursor: _Cursor, store: EventStore) -> AsyncIterator[WatchBatch]:
    """Yield from the queue until the job ends or the queue overflowed."""
    last_write = 0.0
    loop = asyncio.get_running_loop()
    while not cursor.done:
        try:
            first = await asyncio.wait_for(sub.queue.get(), cursor.request.heartbeat_s)
        except TimeoutError:
            yield WatchBatch(heartbeat=Heartbeat(store.last_seq(), now_ms()))
            continue
        wait = last_write + cursor.request.write_interval_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        last_write = loop.time()
        items = [first, *_drain(sub, BATCH_MAX - 1)]
        overflowed = OVERFLOW in items
        if overflowed:
            # Events queued after the marker would jump the gap it stands for.
            items = items[: items.index(OVERFLOW)]
        events = [i for i in items if isinstance(i, EventRecord)]
        for batch in cursor.batch(events):
            yield batch
        if overflowed:
            return  # back to reading the store from the cursor


def _drain(sub: Subscription, limit: int) -> list[QueueItem]:
    items: list[QueueItem] = []
    while len(items) < limit and not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    return items


def _terminal_state(event: EventRecord) -> str | None:
    if event.type != EventType.STATUS or not event.job_id or not isinstance(event.payload, dict):
        return None
    state = event.payload.get("state")
    return state if state in TERMINAL_STATES else None
