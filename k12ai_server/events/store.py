"""Durable event storage: every event is committed here before anyone sees it.

The store writes events and nothing else; ``insert`` runs inside a transaction of the
database's writer (see ``EventLog.append``), reads run on the event loop's connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from k12ai_contract.events import EventType
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord

# How many of a finished job's last events are searched for its result.
RESULT_WINDOW = 64


class EventStore:
    def __init__(self, reader: sqlite3.Connection) -> None:
        self._reader = reader

    @staticmethod
    def insert(conn: sqlite3.Connection, events: Sequence[EventRecord]) -> list[EventRecord]:
        """Store events in the caller's transaction; each comes back with its seq."""
        if not events:
            return []
        conn.executemany(
            "INSERT INTO events (job_id, type, tag, op, user, service_uuid, timestamp, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (e.job_id, e.type, e.tag, e.op, e.user, e.service_uuid, e.timestamp, e.payload_json())
                for e in events
            ],
        )
        # One writer, inside one transaction: the rows took consecutive seqs, ending at the last one.
        last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
        first = last - len(events) + 1
        return [event.with_seq(first + i) for i, event in enumerate(events)]

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
        rows = self._reader.execute(
            f"SELECT * FROM {table} WHERE seq > ?{clause} ORDER BY seq LIMIT ?",
            [after_seq, *args, limit],
        ).fetchall()
        return [_record(row) for row in rows]

    def result_of(self, job_id: str) -> Any:
        """The payload of a finished job's ``result`` event, or None.

        It is among the job's last events (the worker's last lines and the server's final
        status come after it), so only those are read: an index range, however long the job's log.
        """
        rows = self._reader.execute(
            "SELECT type, payload FROM events WHERE job_id = ? ORDER BY seq DESC LIMIT ?",
            (job_id, RESULT_WINDOW),
        )
        for row in rows:
            if row["type"] == EventType.RESULT:
                return json.loads(row["payload"])
        return None

    def last_seq(self, job_id: str | None = None) -> int:
        if job_id is None:
            row = self._reader.execute("SELECT MAX(seq) FROM events").fetchone()
        else:
            row = self._reader.execute("SELECT MAX(seq) FROM events WHERE job_id = ?", (job_id,)).fetchone()
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
