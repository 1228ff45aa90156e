"""The event path on its own: durable store, bounded fan-out, history-then-live follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from k12ai_server.events.bus import EventBus
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.events.store import EventStore
from k12ai_server.events.watch import Heartbeat, JobEnd, WatchItem, WatchRequest, follow
from k12ai_server.state.db import open_database


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(EventStore(open_database(tmp_path)), EventBus(queue_size=4))


def metric(i: int, job_id: str = "j1") -> EventRecord:
    return EventRecord(
        job_id=job_id, type="metrics", tag="framework", op="train.start", user="u", service_uuid="p",
        payload={"step": i},
    )  # fmt: skip


def end(job_id: str = "j1") -> EventRecord:
    return EventRecord(
        job_id=job_id, type="status", tag="framework", op="train.start", user="u", service_uuid="p",
        payload={"state": "finished", "job_id": job_id},
    )  # fmt: skip


async def collect(items: AsyncIterator[WatchItem]) -> list[WatchItem]:
    return [item async for item in items if not isinstance(item, Heartbeat)]


def follow_job(log: EventLog, after_seq: int = 0, *, job_id: str = "j1") -> AsyncIterator[WatchItem]:
    request = WatchRequest(where=EventFilter(job_id=job_id), after_seq=after_seq, heartbeat_s=0.2)
    return follow(log.store, log.bus, request, lambda _: None)


async def test_events_are_stored_with_increasing_seq_before_fan_out(log: EventLog) -> None:
    stored = log.append([metric(i) for i in range(3)])
    assert [e.seq for e in stored] == [1, 2, 3]
    assert [e.payload for e in log.store.read(after_seq=0, where=EventFilter(job_id="j1"), limit=10)] == [
        {"step": 0},
        {"step": 1},
        {"step": 2},
    ]


async def test_follow_gives_history_then_live_then_end(log: EventLog) -> None:
    log.append([metric(0), metric(1)])
    task = asyncio.create_task(collect(follow_job(log)))
    await asyncio.sleep(0.05)
    log.append([metric(2)])
    log.append([end()])
    items = await asyncio.wait_for(task, 5)
    events = [i for i in items if isinstance(i, EventRecord)]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert items[-1] == JobEnd("j1", "finished")


async def test_resume_after_seq_has_no_gap_and_no_duplicate(log: EventLog) -> None:
    log.append([metric(i) for i in range(10)] + [end()])
    first: list[EventRecord] = []
    async for item in follow_job(log):
        assert isinstance(item, EventRecord)
        first.append(item)
        if len(first) == 4:
            break  # the client went away after seq 4
    rest = await collect(follow_job(log, after_seq=first[-1].seq))
    seqs = [e.seq for e in first] + [e.seq for e in rest if isinstance(e, EventRecord)]
    assert seqs == list(range(1, 12))


async def test_a_slow_subscriber_loses_nothing_and_blocks_no_one(log: EventLog) -> None:
    """Queue size is 4: a watcher that does not read while 200 events pass must still get all."""
    slow = follow_job(log)
    fast_task = asyncio.create_task(collect(follow_job(log)))
    first = await anext(slow)  # subscribed and positioned, then stalls
    await asyncio.sleep(0.05)
    for i in range(200):
        log.append([metric(i)])  # never awaits a subscriber
        if i % 20 == 0:
            await asyncio.sleep(0)  # lets the fast watcher drain its queue
    log.append([end()])
    fast = await asyncio.wait_for(fast_task, 5)
    rest = await asyncio.wait_for(collect(slow), 5)
    slow_seqs = [e.seq for e in [first, *rest] if isinstance(e, EventRecord)]
    fast_seqs = [e.seq for e in fast if isinstance(e, EventRecord)]
    assert slow_seqs == fast_seqs == list(range(1, 202))
    assert rest[-1] == JobEnd("j1", "finished")


async def test_type_filter_still_ends_on_terminal_status(log: EventLog) -> None:
    log.append([metric(0), end()])
    request = WatchRequest(where=EventFilter(job_id="j1"), types=frozenset({"metrics"}), heartbeat_s=0.2)
    items = await collect(follow(log.store, log.bus, request, lambda _: None))
    assert [type(i).__name__ for i in items] == ["EventRecord", "JobEnd"]


async def test_watch_of_an_ended_job_after_its_last_event_ends_at_once(log: EventLog) -> None:
    log.append([metric(0), end()])
    request = WatchRequest(where=EventFilter(job_id="j1"), after_seq=2, heartbeat_s=0.2)
    items = await collect(follow(log.store, log.bus, request, lambda _: "finished"))
    assert items == [JobEnd("j1", "finished")]


async def test_idle_watch_sends_heartbeats(log: EventLog) -> None:
    request = WatchRequest(where=EventFilter(user="nobody"), heartbeat_s=0.05)
    stream = follow(log.store, log.bus, request, lambda _: None)
    item = await asyncio.wait_for(anext(stream), 2)
    assert isinstance(item, Heartbeat)
    await stream.aclose()  # type: ignore[attr-defined]
