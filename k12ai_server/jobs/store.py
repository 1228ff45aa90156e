"""Jobs in SQLite; the store refuses to move a job out of a terminal state.

Reads run on the event loop's connection. Writes run on the database's writer thread:
``insert`` and ``update`` on their own, or ``updating``/``ingested`` inside the
transaction that stores the job's events (``EventLog.append(..., alongside=...)``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from k12ai_contract.jobs import LIVE_STATES, JobKind, JobState
from k12ai_server.jobs.model import InputPath, Job, JobIdentity
from k12ai_server.state.db import Alongside, Database

Columns = dict[str, Any]


class JobAlreadyLiveError(Exception):
    def __init__(self, existing: Job) -> None:
        super().__init__(existing.job_id)
        self.existing = existing


class JobEndedError(ValueError):
    """A terminal job's state never changes again."""


class OffsetMovedError(Exception):
    """The stored events offset is not the one the ingest started from (or the job ended)."""


class JobStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._reader = db.reader

    @staticmethod
    def inserting(job: Job) -> Alongside:
        """A new job's row, to write with its first event; sqlite3.IntegrityError if its identity is live."""
        return lambda conn: _insert(conn, job)

    def already_live(self, job: Job) -> JobAlreadyLiveError | None:
        """After ``inserting`` failed: the live job that holds ``job``'s identity, if that is why."""
        existing = self.find_live(job.identity)
        return JobAlreadyLiveError(existing) if existing else None

    async def update(self, job_id: str, **fields: Any) -> Job:
        """Set columns; a terminal job's state never changes again."""
        await self._db.write(self.updating(job_id, **fields))
        updated = self.get(job_id)
        assert updated is not None
        return updated

    @staticmethod
    def updating(job_id: str, **fields: Any) -> Alongside:
        """``update`` as a write to run in another write's transaction (``EventLog.append``)."""
        return lambda conn: _update(conn, job_id, fields)

    @staticmethod
    def ingested(job_id: str, *, before: int, after: int, running_at: int = 0) -> Alongside:
        """The events file stored from ``before`` to ``after``; OffsetMovedError unless live at ``before``."""
        return lambda conn: _ingested(conn, job_id, before, after, running_at)

    def get(self, job_id: str) -> Job | None:
        row = self._reader.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def find_live(self, ident: JobIdentity) -> Job | None:
        row = self._reader.execute(
            "SELECT * FROM jobs WHERE user = ? AND service_name = ? AND service_uuid = ? AND kind = ?"
            f" AND state IN ({_marks(LIVE_STATES)})",
            (ident.user, ident.service_name, ident.service_uuid, ident.kind.value, *_values(LIVE_STATES)),
        ).fetchone()
        return _job(row) if row else None

    def find_by_prefix(self, prefix: str) -> list[Job]:
        """Jobs whose id or runner ref starts with ``prefix``, compared character for character.

        No LIKE: its ``%`` and ``_`` would make an id a pattern, and its case-insensitivity
        would let answers to guesses spell out other users' ids.
        """
        if not prefix:
            return []
        length = len(prefix)
        rows = self._reader.execute(
            "SELECT * FROM jobs WHERE substr(job_id, 1, ?) = ? OR substr(runner_ref, 1, ?) = ?",
            (length, prefix, length, prefix),
        ).fetchall()
        return [_job(row) for row in rows]

    def query(
        self,
        *,
        user: str = "",
        service_uuid: str = "",
        states: tuple[JobState, ...] = (),
        limit: int = 100,
    ) -> list[Job]:
        sql = "SELECT * FROM jobs WHERE 1 = 1"
        args: list[Any] = []
        if user:
            sql += " AND user = ?"
            args.append(user)
        if service_uuid:
            sql += " AND service_uuid = ?"
            args.append(service_uuid)
        if states:
            sql += f" AND state IN ({_marks(states)})"
            args.extend(_values(states))
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [_job(row) for row in self._reader.execute(sql, args).fetchall()]

    def count_by_framework_and_state(self) -> dict[tuple[str, str], int]:
        rows = self._reader.execute(
            "SELECT service_name, state, COUNT(*) FROM jobs GROUP BY service_name, state"
        )
        return {(name, state): count for name, state, count in rows.fetchall()}

    def live(self) -> list[Job]:
        # Oldest first: recovery re-queues them in the order they were admitted.
        return list(reversed(self.query(states=LIVE_STATES, limit=1_000_000)))

    def known_ids(self) -> set[str]:
        return {row[0] for row in self._reader.execute("SELECT job_id FROM jobs")}


def _insert(conn: sqlite3.Connection, job: Job) -> None:
    ident = job.identity
    conn.execute(
        "INSERT INTO jobs (job_id, user, service_name, service_uuid, kind, op, state, cache_dir, run_dir,"
        " params, gpus_wanted, devices, runner_ref, created_at, started_at, inputs)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            job.job_id,
            ident.user,
            ident.service_name,
            ident.service_uuid,
            ident.kind.value,
            job.op,
            job.state.value,
            str(job.cache_dir),
            str(job.run_dir),
            json.dumps(job.params),
            job.gpus_wanted,
            json.dumps(list(job.devices)),
            job.runner_ref,
            job.created_at,
            job.started_at,
            json.dumps([[i.key, i.given, i.resolved] for i in job.inputs]),
        ),
    )


def _update(conn: sqlite3.Connection, job_id: str, fields: Columns) -> None:
    row = conn.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise KeyError(job_id)
    current = JobState(row[0])
    new_state = fields.get("state")
    if new_state is not None and current.is_terminal() and new_state != current:
        raise JobEndedError(f"job {job_id} is {current.value}; refusing {new_state.value}")
    columns = {k: _column_value(v) for k, v in fields.items()}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*columns.values(), job_id))


def _ingested(conn: sqlite3.Connection, job_id: str, before: int, after: int, running_at: int) -> None:
    # Compare-and-set: events are stored exactly once even if two feeders race or an
    # ingest was cancelled after its commit; and never after the job's end.
    moved = conn.execute(
        f"UPDATE jobs SET events_offset = ? WHERE job_id = ? AND events_offset = ?"
        f" AND state IN ({_marks(LIVE_STATES)})",
        (after, job_id, before, *_values(LIVE_STATES)),
    )
    if moved.rowcount != 1:
        raise OffsetMovedError(job_id)
    if running_at:
        # From `queued` too: a cluster (Ray) may have held a started job back and let it run
        # before the server heard of it.
        conn.execute(
            "UPDATE jobs SET state = ?, started_at = ? WHERE job_id = ? AND state IN (?, ?, ?)",
            (
                JobState.RUNNING.value,
                running_at,
                job_id,
                JobState.QUEUED.value,
                JobState.STARTING.value,
                JobState.RUNNING.value,
            ),
        )


def _column_value(value: Any) -> Any:
    if isinstance(value, JobState):
        return value.value
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, Path):
        return str(value)
    return value


def _marks(states: tuple[JobState, ...]) -> str:
    return ", ".join("?" for _ in states)


def _values(states: tuple[JobState, ...]) -> list[str]:
    return [s.value for s in states]


def _job(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        identity=JobIdentity(
            user=row["user"],
            service_name=row["service_name"],
            service_uuid=row["service_uuid"],
            kind=JobKind(row["kind"]),
        ),
        state=JobState(row["state"]),
        params=json.loads(row["params"]),
        cache_dir=Path(row["cache_dir"]),
        run_dir=Path(row["run_dir"]),
        created_at=row["created_at"],
        gpus_wanted=row["gpus_wanted"],
        devices=tuple(json.loads(row["devices"])),
        runner_ref=row["runner_ref"],
        reason=row["reason"],
        exit_code=row["exit_code"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        events_offset=row["events_offset"],
        inputs=tuple(InputPath(*entry) for entry in json.loads(row["inputs"])),
    )
