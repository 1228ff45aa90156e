"""Durable event storage: every event is committed here before anyone sees it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from k12ai_contract.events import EventType
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.record import EventRecord
from k12ai_server.state.db import transaction

# How many of a finished job's last events are searched for its result.
RESULT_WINDOW = 64


class EventStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

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
            if job_offset is not None:
                job_id, offset = job_offset
                self._conn.execute("UPDATE jobs SET events_offset = ? WHERE job_id = ?", (offset, job_id))
        return stored

    def read(self, *, after_seq: int, where: EventFilter, limit: int) -> list[EventRecord]:
        clause, args = where.sql()
        rows = self._conn.execute(
            f"SELECT * FROM events WHERE seq > ?{clause} ORDER BY seq LIMIT ?",
            [after_seq, *args, limit],
        ).fetchall()
        return [_record(row) for row in rows]

    def result_of(self, job_id: str) -> Any:
        """The payload of a finished job's ``result`` event, or None.

        It is among the job's last events (the worker's last lines and the server's final
        status come after it), so only those are read: an index range, however long the job's log.
        """
        rows = self._conn.execute(
            "SELECT type, payload FROM events WHERE job_id = ? ORDER BY seq DESC LIMIT ?",
            (job_id, RESULT_WINDOW),
        )
        for row in rows:
            if row["type"] == EventType.RESULT:
                return json.loads(row["payload"])
        return None

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
