"""The one ingest path: a job's events-file bytes in, stored events and an acknowledged offset out.

Every feeder calls ``EventIngest.ingest(job_id, offset, data)``: the server's tail of a
local events file (``events_tail.py``: local and Docker jobs) and a network shipper's RPC
(a job on another node) alike. ``data`` is the file's bytes from byte ``offset`` on.

- What lies below the job's stored offset is skipped (a resend after a lost reply
  stores nothing twice); ``data`` that starts beyond it is refused (OffsetGapError: the
  bytes in between are missing; resend from the acknowledged offset).
- Only complete lines count; a partial last line waits for the next call (the server
  keeps nothing of it, so a feeder resends it with the rest of its line).
- Lines are parsed off the event loop and stored in bounded chunks (``CHUNK_BYTES``),
  each chunk's events and the new offset in ONE SQLite transaction (through
  ``EventLog.append``; the offset is a compare-and-set, so two feeders or a retry
  never store an event twice), then published. Other users' calls are served between
  chunks, however large the backlog.
- The return value is the acknowledged offset: every byte before it is stored. A
  feeder drops its bytes up to there and sends the rest from it next time.
- A line the server cannot store (not JSON, no event, NaN, Infinity, a number out of
  range, invalid UTF-8, too deep, longer than ``MAX_LINE_BYTES``) stores the events
  before it, then fails the job through ``on_invalid`` and raises InvalidEventsError;
  the acknowledged offset stays in front of the line.
- A job that is not live (ended, or unknown) takes no events: JobNotIngestingError.

A feeder of a job on another node must have delivered everything before the job's
RunHandle reports the exit: the supervisor settles the job once ``wait()`` returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from k12ai_contract.events import (
    MAX_LINE_BYTES,
    EventType,
    InvalidEventLineError,
    WorkerEvent,
    parse_event_line,
)
from k12ai_contract.jobs import JobState
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.jobs.job_events import worker_events
from k12ai_server.jobs.model import Job
from k12ai_server.jobs.store import JobStore, OffsetMovedError

log = logging.getLogger(__name__)

# Bytes of lines parsed and stored per transaction: a few hundred events, milliseconds of work.
CHUNK_BYTES = 64 * 1024

# Called with (job_id, reason) when a job wrote a line the server cannot store.
InvalidListener = Callable[[str, str], None]


class InvalidEventsError(Exception):
    """A job wrote a line the server cannot store; the job is being failed."""


class JobNotIngestingError(Exception):
    """The job is unknown or no longer live: it takes no more events."""


class OffsetGapError(Exception):
    """``data`` starts after the acknowledged offset: the bytes in between are missing."""


@dataclass
class _Feed:
    job: Job
    # Bytes of the events file stored as events (the acknowledged offset).
    offset: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The message of the last `error` event, for the failed job's reason.
    last_error: str = ""


@dataclass(frozen=True)
class _Chunk:
    records: list[EventRecord]
    # Offset in the file just after the last line taken (before the invalid one, if any).
    end: int
    invalid: str = ""
    # When the worker said it runs (0: not in this chunk), and its last error's message.
    running_at: int = 0
    last_error: str = ""


class EventIngest:
    def __init__(self, *, events: EventLog, jobs: JobStore, on_invalid: InvalidListener) -> None:
        self._events = events
        self._jobs = jobs
        self._on_invalid = on_invalid
        self._feeds: dict[str, _Feed] = {}

    async def ingest(self, job_id: str, offset: int, data: bytes) -> int:
        """Store the complete lines of ``data`` (the events file from ``offset``); the acknowledged offset."""
        feed = self._feed(job_id)
        async with feed.lock:
            while True:
                start = feed.offset - offset
                if start < 0:
                    raise OffsetGapError(
                        f"job {job_id}: data starts at byte {offset}, but only {feed.offset} are stored"
                    )
                chunk = await asyncio.to_thread(_parse_chunk, feed.job, data, start, feed.offset)
                progressed = chunk.end > feed.offset
                if progressed and not await self._store(feed, chunk):
                    continue  # another feeder stored this part: go on from where it got
                if chunk.invalid:
                    self._fail(feed, f"the worker wrote an invalid event: {chunk.invalid}")
                if not progressed:
                    break
            if len(data) - (feed.offset - offset) > MAX_LINE_BYTES:
                self._fail(feed, f"the worker wrote an event line longer than {MAX_LINE_BYTES} bytes")
            return feed.offset

    def acked(self, job_id: str) -> int:
        """The job's acknowledged offset: every byte before it is stored."""
        return self._feed(job_id).offset

    def last_error(self, job_id: str) -> str:
        feed = self._feeds.get(job_id)
        return feed.last_error if feed else ""

    def forget(self, job_id: str) -> None:
        """The job ended: drop what is held for it."""
        self._feeds.pop(job_id, None)

    def _feed(self, job_id: str) -> _Feed:
        feed = self._feeds.get(job_id)
        if feed is None:
            job = self._jobs.get(job_id)
            if job is None or job.state.is_terminal():
                raise JobNotIngestingError(f"job {job_id} is {'unknown' if job is None else job.state.value}")
            feed = self._feeds[job_id] = _Feed(job, job.events_offset)
        return feed

    async def _store(self, feed: _Feed, chunk: _Chunk) -> bool:
        """Store the chunk; False if the stored offset had moved (the feed now has the new one)."""
        job_id = feed.job.job_id
        offset = JobStore.ingested(job_id, before=feed.offset, after=chunk.end, running_at=chunk.running_at)
        try:
            await self._events.append(chunk.records, alongside=offset)
        except OffsetMovedError:
            # Another feeder (or a cancelled call whose commit went through) got there first.
            current = self._jobs.get(job_id)
            if current is None or current.state.is_terminal():
                self.forget(job_id)
                raise JobNotIngestingError(f"job {job_id} ended; it takes no more events") from None
            feed.offset = current.events_offset
            return False
        feed.offset = chunk.end
        feed.last_error = chunk.last_error or feed.last_error
        return True

    def _fail(self, feed: _Feed, reason: str) -> None:
        log.error("job %s: %s", feed.job.job_id, reason)
        self._on_invalid(feed.job.job_id, reason)
        raise InvalidEventsError(reason)


def _parse_chunk(job: Job, data: bytes, start: int, offset: int) -> _Chunk:
    """Complete lines of ``data`` from ``start`` (at ``offset`` in the file), about CHUNK_BYTES of them."""
    if start >= len(data):
        return _Chunk([], offset)
    cut = data.rfind(b"\n", start, start + CHUNK_BYTES)
    if cut < 0:
        # One line longer than a chunk (or a partial line): take it whole if it is complete.
        cut = data.find(b"\n", start + CHUNK_BYTES)
        if cut < 0:
            return _Chunk([], offset)
    events: list[WorkerEvent] = []
    end = offset
    invalid = ""
    for line in data[start:cut].split(b"\n"):
        if line.strip():
            try:
                events.append(parse_event_line(line))
            except InvalidEventLineError as exc:
                invalid = str(exc)
                break
        end += len(line) + 1
    running_at = next(
        (e.timestamp for e in events if e.type == EventType.STATUS and _state(e) == JobState.RUNNING), 0
    )
    errors = [e.payload for e in events if e.type == EventType.ERROR and isinstance(e.payload, dict)]
    last_error = str(errors[-1].get("message", "")) if errors else ""
    return _Chunk(worker_events(job, events), end, invalid, running_at, last_error)


def _state(event: WorkerEvent) -> object:
    return event.payload.get("state") if isinstance(event.payload, dict) else None
