"""The event path on its own: durable store, bounded fan-out, history-then-live follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from k12ai_server.events.bus import EventBus
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.events.watch import JobEnd, WatchBatch, WatchRequest
from k12ai_server.state.db import Database


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EventLog]:
    db = Database.open(tmp_path)
    yield EventLog(db, EventBus(queue_size=4))
    db.close()


def metric(i: int, job_id: str = "j1") -> EventRecord:
    return EventRecord(
        job_id=job_id,
        type="metrics",
        tag="framework",
        op="train.start",
        user="u",
        service_uuid="p",
        payload={"step": i},
    )


def end(job_id: str = "j1") -> EventRecord:
    return EventRecord(
        job_id=job_id,
        type="status",
        tag="framework",
        op="train.start",
        user="u",
        service_uuid="p",
        payload={"state": "finished", "job_id": job_id},
    )


def watch(
    log: EventLog,
    *,
    after_seq: int = 0,
    types: frozenset[str] = frozenset(),
    ended: str | None = None,
    where: EventFilter | None = None,
    heartbeat_s: float = 0.2,
) -> AsyncIterator[WatchBatch]:
    request = WatchRequest(
        where=where or EventFilter(job_id="j1"), types=types, after_seq=after_seq, heartbeat_s=heartbeat_s
    )
    return log.follow(request, lambda _: ended)


async def flatten(batches: AsyncIterator[WatchBatch]) -> tuple[list[int], list[JobEnd]]:
    seqs: list[int] = []
    ends: list[JobEnd] = []
    async for batch in batches:
        seqs += [e.seq for e in batch.events]
        ends += [batch.end] if batch.end else []
    return seqs, ends


async def test_events_are_stored_with_increasing_seq_before_fan_out(log: EventLog) -> None:
    stored = await log.append([metric(i) for i in range(3)])
    assert [e.seq for e in stored] == [1, 2, 3]
    assert [e.payload for e in log.read(after_seq=0, where=EventFilter(job_id="j1"), limit=10)] == [
        {"step": 0},
        {"step": 1},
        {"step": 2},
    ]


async def test_follow_gives_history_then_live_then_end(log: EventLog) -> None:
    await log.append([metric(0), metric(1)])
    batches = watch(log)
    history = await anext(batches)  # the stored events came: the watcher is subscribed
    await log.append([metric(2)])
    await log.append([end()])
    seqs, ends = await asyncio.wait_for(flatten(batches), 5)
    assert [e.seq for e in history.events] + seqs == [1, 2, 3, 4]
    assert ends == [JobEnd("j1", "finished")]


async def test_resume_after_seq_has_no_gap_and_no_duplicate(log: EventLog) -> None:
    for i in range(10):
        await log.append([metric(i)])
    await log.append([end()])
    first = (await anext(watch(log))).events[:4]  # the client went away after 4 events
    rest, _ = await flatten(watch(log, after_seq=first[-1].seq))
    assert [e.seq for e in first] + rest == list(range(1, 12))


async def test_a_slow_subscriber_loses_nothing_and_blocks_no_one(log: EventLog) -> None:
    """Queue size is 4: a watcher that does not read while 200 events pass must still get all."""
    slow, fast = watch(log), watch(log)
    await log.append([metric(-1)])
    first = await anext(slow)  # subscribed and positioned, then stalls
    fast_first = await anext(fast)  # subscribed too, then reads along
    fast_task = asyncio.create_task(flatten(fast))
    for i in range(200):
        await log.append([metric(i)])  # never awaits a subscriber
        if i % 20 == 0:
            await asyncio.sleep(0)  # lets the fast watcher drain its queue
    await log.append([end()])
    fast_rest, _ = await asyncio.wait_for(fast_task, 5)
    rest, ends = await asyncio.wait_for(flatten(slow), 5)
    expected = list(range(1, 203))
    assert [e.seq for e in first.events] + rest == [e.seq for e in fast_first.events] + fast_rest == expected
    assert ends == [JobEnd("j1", "finished")]


async def test_type_filter_still_ends_on_terminal_status(log: EventLog) -> None:
    await log.append([metric(0), end()])
    batches = [b async for b in watch(log, types=frozenset({"metrics"}))]
    assert [e.type for b in batches for e in b.events] == ["metrics"]
    assert batches[-1].end == JobEnd("j1", "finished")


async def test_watch_of_an_ended_job_after_its_last_event_ends_at_once(log: EventLog) -> None:
    await log.append([metric(0), end()])
    batches = [b async for b in watch(log, after_seq=2, ended="finished")]
    assert [(b.events, b.end) for b in batches] == [([], JobEnd("j1", "finished"))]


async def test_an_open_watch_reports_each_job_end_and_goes_on(log: EventLog) -> None:
    stream = watch(log, where=EventFilter(user="u"))
    await log.append([metric(0, "a"), end("a"), metric(0, "b")])
    first, second = await anext(stream), await anext(stream)
    assert (len(first.events), first.end) == (2, JobEnd("a", "finished"))
    assert (len(second.events), second.end) == (1, None)
    await stream.aclose()  # type: ignore[attr-defined]


async def test_idle_watch_sends_heartbeats(log: EventLog) -> None:
    stream = watch(log, where=EventFilter(user="nobody"), heartbeat_s=0.05)
    batch = await asyncio.wait_for(anext(stream), 2)
    assert batch.heartbeat is not None and not batch.events
    await stream.aclose()  # type: ignore[attr-defined]
