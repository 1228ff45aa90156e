"""The one way events enter, are followed and are counted: stored durably, then fanned out.

``append`` stores events in one transaction of the database's writer (off the event
loop) and publishes them once committed, so a watcher never sees an event a crash could
take back. ``alongside`` lets the caller write its own rows in that same transaction:
the jobs side keeps a job's events-file offset and state there (see
``k12ai_server.jobs.ingest``), so events and offset are committed together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

from k12ai_server.events.bus import EventBus
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord
from k12ai_server.events.series import MetricSeriesIndex, Series
from k12ai_server.events.store import EventStore
from k12ai_server.events.watch import JobStateLookup, WatchBatch, WatchRequest, follow
from k12ai_server.state.db import Alongside, Database


class EventLog:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._store = EventStore(db.reader)
        self._series = MetricSeriesIndex()
        self._bus = bus

    async def append(
        self, events: Sequence[EventRecord], *, alongside: Alongside | None = None
    ) -> list[EventRecord]:
        """Store ``events`` (and whatever ``alongside`` writes) in one transaction, then publish."""

        def store(conn: sqlite3.Connection) -> list[EventRecord]:
            stored = EventStore.insert(conn, events)
            self._series.add(conn, stored)
            if alongside is not None:
                alongside(conn)
            return stored

        stored = await self._db.write(store)
        self._bus.publish(stored)
        return stored

    def follow(self, request: WatchRequest, terminal_state: JobStateLookup) -> AsyncIterator[WatchBatch]:
        """Stored history after ``request.after_seq``, then live (see ``events.watch``)."""
        return follow(self._store, self._bus, request, terminal_state)

    def read(self, *, after_seq: int, where: EventFilter, limit: int) -> list[EventRecord]:
        return self._store.read(after_seq=after_seq, where=where, limit=limit)

    def last_seq(self, job_id: str | None = None) -> int:
        return self._store.last_seq(job_id)

    def metric_series(self, job_id: str, *, max_points: int, latest_only: bool) -> tuple[int, list[Series]]:
        """The job's metric series downsampled to ``max_points``, and the seq of the last event in them.

        Both are read in one snapshot, so a watch from that seq continues the series with no
        point missing or drawn twice.
        """
        with self._db.snapshot() as conn:
            last_seq = self._store.last_seq(job_id)
            return last_seq, self._series.read(conn, job_id, max_points=max_points, latest_only=latest_only)

    def result_of(self, job_id: str) -> Any:
        """A finished job's ``result`` payload, or None (see ``EventStore.result_of``)."""
        return self._store.result_of(job_id)

    @property
    def subscriber_count(self) -> int:
        return self._bus.subscriber_count
