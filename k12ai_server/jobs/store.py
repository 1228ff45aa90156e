"""Jobs in SQLite; the store refuses to move a job out of a terminal state."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from k12ai_contract.jobs import LIVE_STATES, JobKind, JobState
from k12ai_server.jobs.model import Job, JobIdentity


class JobAlreadyLiveError(Exception):
    def __init__(self, existing: Job) -> None:
        super().__init__(existing.job_id)
        self.existing = existing


class JobStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def insert(self, job: Job) -> None:
        ident = job.identity
        try:
            self._conn.execute(
                "INSERT INTO jobs (job_id, user, service_name, service_uuid, kind, op, state, cache_dir,"
                " run_dir, params, gpus_wanted, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    job.created_at,
                ),
            )
        except sqlite3.IntegrityError:
            existing = self.find_live(ident)
            if existing is None:
                raise
            raise JobAlreadyLiveError(existing) from None

    def get(self, job_id: str) -> Job | None:
        row = self._conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def find_live(self, ident: JobIdentity) -> Job | None:
        row = self._conn.execute(
            "SELECT * FROM jobs WHERE user = ? AND service_name = ? AND service_uuid = ? AND kind = ?"
            f" AND state IN ({_marks(LIVE_STATES)})",
            (ident.user, ident.service_name, ident.service_uuid, ident.kind.value, *_values(LIVE_STATES)),
        ).fetchone()
        return _job(row) if row else None

    def find_by_prefix(self, prefix: str) -> list[Job]:
        rows = self._conn.execute(
            "SELECT * FROM jobs WHERE job_id LIKE ? || '%' OR runner_ref LIKE ? || '%'", (prefix, prefix)
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
        return [_job(row) for row in self._conn.execute(sql, args).fetchall()]

    def count_by_framework_and_state(self) -> dict[tuple[str, str], int]:
        rows = self._conn.execute(
            "SELECT service_name, state, COUNT(*) FROM jobs GROUP BY service_name, state"
        )
        return {(name, state): count for name, state, count in rows.fetchall()}

    def live(self) -> list[Job]:
        return self.query(states=LIVE_STATES, limit=1_000_000)

    def update(self, job_id: str, **fields: Any) -> Job:
        """Set columns; a terminal job's state never changes again."""
        current = self.get(job_id)
        if current is None:
            raise KeyError(job_id)
        new_state = fields.get("state")
        if new_state is not None and current.state.is_terminal() and new_state != current.state:
            raise ValueError(f"job {job_id} is {current.state.value}; refusing {new_state.value}")
        columns = {k: _column_value(v) for k, v in fields.items()}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self._conn.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*columns.values(), job_id))
        updated = self.get(job_id)
        assert updated is not None
        return updated


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
    )
