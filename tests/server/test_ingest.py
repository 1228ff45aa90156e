"""The one ingest path: a job's events-file bytes in, each event stored exactly once, the offset acknowledged.

The first tests call ``EventIngest`` as a network shipper would, on a real SQLite database; the
last floods a job of a real server with 100,000 events while another user's calls are answered.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_contract.events import encode_event_line
from k12ai_contract.jobs import JobKind, JobState
from k12ai_server.app import Server
from k12ai_server.events.bus import EventBus
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.jobs.ingest import (
    CHUNK_BYTES,
    EventIngest,
    InvalidEventsError,
    JobNotIngestingError,
    OffsetGapError,
)
from k12ai_server.jobs.model import Job, JobIdentity
from k12ai_server.jobs.store import JobStore
from k12ai_server.state.db import Database
from tests.conftest import assert_eventually
from tests.jobs import events_of, slow_training, state_is, worker_of


@dataclass
class Fixture:
    events: EventLog
    store: JobStore
    ingest: EventIngest
    invalid: list[tuple[str, str]] = field(default_factory=list)

    def stored(self) -> list[EventRecord]:
        return self.events.read(after_seq=0, where=EventFilter(job_id="j1"), limit=1_000_000)


@pytest.fixture
async def feed(tmp_path: Path) -> AsyncIterator[Fixture]:
    db = Database.open(tmp_path)
    events = EventLog(db, EventBus())
    store = JobStore(db)
    job = Job(
        job_id="j1",
        identity=JobIdentity(user="u", service_name="k12ml", service_uuid="p", kind=JobKind.TRAIN),
        state=JobState.RUNNING,
        params={},
        cache_dir=tmp_path / "cache",
        run_dir=tmp_path / "run",
        created_at=0,
    )
    await events.append([], alongside=JobStore.inserting(job))
    invalid: list[tuple[str, str]] = []
    ingest = EventIngest(
        events=events, jobs=store, on_invalid=lambda job_id, why: invalid.append((job_id, why))
    )
    yield Fixture(events, store, ingest, invalid)
    db.close()


def lines(start: int, stop: int) -> bytes:
    return b"".join(encode_event_line("metrics", {"i": i}, timestamp=i).encode() for i in range(start, stop))


def steps(fixture: Fixture) -> list[int]:
    return [e.payload["i"] for e in fixture.stored()]


async def test_complete_lines_are_stored_and_a_partial_one_waits(feed: Fixture) -> None:
    data = lines(0, 3)
    partial = lines(3, 4)[:-5]
    acked = await feed.ingest.ingest("j1", 0, data + partial)
    assert acked == len(data)
    assert steps(feed) == [0, 1, 2]
    # The feeder sends the rest of the line from the acknowledged offset.
    rest = lines(3, 4)
    assert await feed.ingest.ingest("j1", acked, rest) == len(data) + len(rest)
    assert steps(feed) == [0, 1, 2, 3]
    job = feed.store.get("j1")
    assert job is not None and job.events_offset == len(data) + len(rest)


async def test_bytes_already_stored_are_not_stored_again(feed: Fixture) -> None:
    data = lines(0, 5)
    first = await feed.ingest.ingest("j1", 0, data[:200])
    # A shipper whose acknowledgement was lost resends from 0, with more.
    assert await feed.ingest.ingest("j1", 0, data) == len(data)
    assert await feed.ingest.ingest("j1", first, data[first:]) == len(data)
    assert steps(feed) == [0, 1, 2, 3, 4]


async def test_data_after_a_gap_is_refused(feed: Fixture) -> None:
    with pytest.raises(OffsetGapError, match="only 0 are stored"):
        await feed.ingest.ingest("j1", 10, lines(0, 1))
    assert feed.stored() == []


async def test_a_backlog_is_stored_in_bounded_transactions_exactly_once(feed: Fixture) -> None:
    data = lines(0, 20_000)
    assert len(data) > 10 * CHUNK_BYTES
    acked = await feed.ingest.ingest("j1", 0, data)
    assert acked == len(data)
    stored = feed.stored()
    seqs = [e.seq for e in stored]
    assert [e.payload["i"] for e in stored] == list(range(20_000))
    assert seqs == sorted(set(seqs))


async def test_two_feeders_racing_store_each_event_once(feed: Fixture) -> None:
    data = lines(0, 5_000)
    await asyncio.gather(*(feed.ingest.ingest("j1", 0, data) for _ in range(3)))
    assert steps(feed) == list(range(5_000))


async def test_an_invalid_line_stores_what_precedes_it_and_fails_the_job(feed: Fixture) -> None:
    good = lines(0, 2)
    bad = b'{"type":"metrics","timestamp":1,"payload":{"loss":NaN}}\n'
    with pytest.raises(InvalidEventsError, match="NaN"):
        await feed.ingest.ingest("j1", 0, good + bad + lines(2, 3))
    assert steps(feed) == [0, 1]
    assert feed.ingest.acked("j1") == len(good)
    assert [job_id for job_id, _ in feed.invalid] == ["j1"]


async def test_an_ended_job_takes_no_more_events(feed: Fixture) -> None:
    await feed.ingest.ingest("j1", 0, lines(0, 1))
    await feed.events.append([], alongside=JobStore.updating("j1", state=JobState.FINISHED))
    with pytest.raises(JobNotIngestingError, match="ended"):
        await feed.ingest.ingest("j1", feed.ingest.acked("j1"), lines(1, 2))
    with pytest.raises(JobNotIngestingError, match="unknown"):
        await feed.ingest.ingest("nope", 0, lines(0, 1))


FLOOD = 100_000


async def test_a_flood_of_events_is_stored_once_while_another_user_is_answered(server: Server) -> None:
    """A job writes 100,000 events at once; another user's calls are answered while they are ingested."""
    config = ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
    async with (
        AsyncK12AIClient(config) as client,
        AsyncK12AIClient(dataclasses.replace(config, user="other")) as other,
    ):
        reply = await client.train(slow_training("flood"))
        await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
        worker = worker_of(reply.job_id)
        worker.suspend()  # the flood alone in the file while it is ingested
        events_file = server.config.state_dir / "jobs" / reply.job_id / "events.jsonl"
        flood = b"".join(encode_event_line("info", {"flood": i}).encode() for i in range(FLOOD))
        before = server.events.last_seq(reply.job_id)
        with events_file.open("ab") as channel:
            channel.write(flood)
        answered_during_flood = 0
        stats = {"op": "query", "user": "other", "service_name": "k12platform", "service_uuid": "o"}
        while server.events.last_seq(reply.job_id) < before + FLOOD:
            assert (await other.stats(stats)).code == 100000
            assert await other.list_jobs(user="other") == []
            if server.events.last_seq(reply.job_id) < before + FLOOD:
                answered_during_flood += 1
        worker.resume()
        await client.train({**slow_training("flood"), "op": "train.stop", "service_params": {}})
        _, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
    assert end.state == "stopped"
    assert answered_during_flood > 0
    flooded = [
        e.payload["flood"]
        for e in server.events.read(
            after_seq=before, where=EventFilter(job_id=reply.job_id), limit=10 * FLOOD
        )
        if e.type == "info" and isinstance(e.payload, dict) and "flood" in e.payload
    ]
    assert flooded == list(range(FLOOD))
    print(
        f"{answered_during_flood} pairs of another user's calls answered while {FLOOD} events were ingested"
    )
