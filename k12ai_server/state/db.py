"""The SQLite database that holds jobs and events across restarts.

One connection, used from the event loop's thread only. Writes are small
(an event row is well under a millisecond with WAL and synchronous=NORMAL),
so they run inline rather than through a thread pool whose hand-off would
cost more than the write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id        TEXT PRIMARY KEY,
    user          TEXT NOT NULL,
    service_name  TEXT NOT NULL,
    service_uuid  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    op            TEXT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    exit_code     INTEGER,
    cache_dir     TEXT NOT NULL,
    run_dir       TEXT NOT NULL,
    params        TEXT NOT NULL,
    gpus_wanted   INTEGER NOT NULL DEFAULT 0,
    devices       TEXT NOT NULL DEFAULT '[]',
    runner_ref    TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    started_at    INTEGER NOT NULL DEFAULT 0,
    ended_at      INTEGER NOT NULL DEFAULT 0,
    -- bytes of the job's events file already stored as events
    events_offset INTEGER NOT NULL DEFAULT 0
);
-- One live job per identity, enforced where races cannot slip past it.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_live_identity
    ON jobs (user, service_name, service_uuid, kind)
    WHERE state IN ('queued', 'starting', 'running');
CREATE INDEX IF NOT EXISTS jobs_by_project ON jobs (user, service_uuid, created_at);

CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       TEXT NOT NULL,
    type         TEXT NOT NULL,
    tag          TEXT NOT NULL,
    op           TEXT NOT NULL,
    user         TEXT NOT NULL,
    service_uuid TEXT NOT NULL,
    timestamp    INTEGER NOT NULL,
    payload      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id, seq);
-- A watch of some types of a job's events (the console's log pane) skips the others.
CREATE INDEX IF NOT EXISTS events_by_job_type ON events (job_id, type, seq);
"""


def open_database(state_dir: Path) -> sqlite3.Connection:
    state_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(state_dir / "k12ai.sqlite3", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash (the server's kill -9);
    # only a power loss can drop the last transactions.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
