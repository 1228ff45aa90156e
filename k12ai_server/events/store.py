"""Durable event storage: every event is committed here before anyone sees it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord
from k12ai_server.events.series import MetricSeriesIndex
from k12ai_server.state.db import transaction


class EventStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # Filled in the same transaction as the events, so it never lags or leads them.
        self.series = MetricSeriesIndex(conn)

    def append(
        self, events: Sequence[EventRecord], *, job_offset: tuple[str, int] | None = None
    ) -> list[EventRecord]:
        """Store events (and how far a job's events file was read) in one transaction."""
        stored: list[EventRecord] = []
        with transaction(self._conn):
            for event in events:
                cursor = self._conn.execute(
                    "INSERT INTO events (job_id, type, tag, op, user, service_uuid, timestamp, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.job_id,
                        event.type,
                        event.tag,
                        event.op,
                        event.user,
                        event.service_uuid,
                        event.timestamp,
                        event.payload_json(),
                    ),
                )
                assert cursor.lastrowid is not None
                stored.append(event.with_seq(cursor.lastrowid))
            self.series.add(stored)
            if job_offset is not None:
                job_id, offset = job_offset
                self._conn.execute("UPDATE jobs SET events_offset = ? WHERE job_id = ?", (offset, job_id))
        return stored

    def read(
        self, *, after_seq: int, where: EventFilter, limit: int, types: frozenset[str] = frozenset()
    ) -> list[EventRecord]:
        """Events after ``after_seq`` matching ``where`` and, when given, of these ``types``.

        The types are filtered here, by the ``events_by_job_type`` index for a job: a watch of a
        job's status and log events must not read (and parse) its million metrics events.
        """
        clause, args = where.sql()
        table = "events"
        if types:
            clause += f" AND type IN ({', '.join('?' * len(types))})"
            args = [*args, *sorted(types)]
            if where.job_id:
                # SQLite would rather walk events_by_job in seq order, through every other type.
                table = "events INDEXED BY events_by_job_type"
        rows = self._conn.execute(
            f"SELECT * FROM {table} WHERE seq > ?{clause} ORDER BY seq LIMIT ?",
            [after_seq, *args, limit],
        ).fetchall()
        return [_record(row) for row in rows]

    def last_seq(self, job_id: str | None = None) -> int:
        if job_id is None:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        else:
            row = self._conn.execute("SELECT MAX(seq) FROM events WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0] or 0)


def _record(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        seq=row["seq"],
        job_id=row["job_id"],
        type=row["type"],
        tag=row["tag"],
        op=row["op"],
        user=row["user"],
        service_uuid=row["service_uuid"],
        timestamp=row["timestamp"],
        payload=json.loads(row["payload"]),
    )
