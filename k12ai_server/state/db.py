"""The SQLite database that holds jobs and events across restarts.

Reads run on the event loop's connection: in WAL mode a reader never waits for the
writer, and a read is a B-tree lookup. Every write runs on one writer thread with its
own connection, as a function of that connection inside one transaction, so a commit,
a checkpoint's fsync or a busy disk never holds the event loop, and writes keep their
order.

The file is checked when it is opened (``PRAGMA quick_check``): a corrupt database
stops the start with a message naming the file and what to do, rather than a server
that reports SERVING and then fails every call. ``mark_lost`` (see
``k12ai_server.state.watch``) refuses every later write: nothing is written to a file
that is no longer the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

DB_FILE = "k12ai.sqlite3"
T = TypeVar("T")
# A write: a function of the writer's connection, run inside one transaction.
Write = Callable[[sqlite3.Connection], T]
# Rows written inside another write's transaction (see EventLog.append); raising rolls it all back.
Alongside = Callable[[sqlite3.Connection], None]

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
    events_offset INTEGER NOT NULL DEFAULT 0,
    -- [[key, path as given, resolved path], ...]: the inputs checked at admission
    inputs        TEXT NOT NULL DEFAULT '[]'
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
"""
# Columns added after the first release, for databases made before them.
ADDED_COLUMNS = {"jobs": {"inputs": "TEXT NOT NULL DEFAULT '[]'"}}
CORRUPT_ERRORS = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


class DatabaseCorruptError(Exception):
    """The database file is damaged; the server does not start on it."""


class DatabaseLostError(Exception):
    """The database file was deleted, replaced or damaged while the server ran."""


class Database:
    def __init__(self, path: Path, reader: sqlite3.Connection, writer: sqlite3.Connection) -> None:
        self.path = path
        # The event loop's connection: reads only.
        self.reader = reader
        self._writer = writer
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="k12ai-sqlite-writer")
        self._lost = ""

    @classmethod
    def open(cls, state_dir: Path) -> Database:
        """Open (or create) the state database; DatabaseCorruptError if it is damaged."""
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / DB_FILE
        try:
            writer = _connect(path)
            _check_integrity(writer, path)
            writer.executescript(SCHEMA)
            _add_columns(writer)
            reader = _connect(path)
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorname not in CORRUPT_ERRORS:
                raise
            raise DatabaseCorruptError(_corrupt_message(path, str(exc))) from None
        return cls(path, reader, writer)

    @property
    def lost(self) -> str:
        """Why the database is no longer usable; "" while it is."""
        return self._lost

    def mark_lost(self, why: str) -> None:
        """Refuse every later write (``state.watch`` says so in the log and the health status)."""
        if not self._lost:
            self._lost = why

    async def write(self, fn: Write[T]) -> T:
        """``fn(conn)`` in one transaction on the writer thread; its result, or its error."""
        if self._lost:
            raise DatabaseLostError(self._lost)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transact, fn)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._writer.close()
        self.reader.close()

    def _transact(self, fn: Write[T]) -> T:
        if self._lost:
            raise DatabaseLostError(self._lost)
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            finally:
                # A failed COMMIT (a full disk) can leave the transaction open.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorname in CORRUPT_ERRORS:
                self.mark_lost(f"the file is damaged ({exc})")
                raise DatabaseLostError(self._lost) from exc
            raise
        return result


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread off: the writer connection is made here and used on the writer thread only.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash (the server's kill -9);
    # only a power loss can drop the last transactions.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    # At most 3 problems: one is reason enough, and a damaged page yields hundreds of lines.
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
    if problems != ["ok"]:
        lines = [line for problem in problems for line in problem.splitlines() if not line.startswith("***")]
        raise DatabaseCorruptError(_corrupt_message(path, "; ".join(lines[:3])[:300]))


def _corrupt_message(path: Path, detail: str) -> str:
    return (
        f"state database {path} is damaged ({detail}). The server does not start on it. "
        f"Stop every k12ai-server using it, move the file aside (with its -wal and -shm files) to "
        f"start with an empty database, or salvage what it holds with `sqlite3 {path} .recover`; "
        f"jobs still running are adopted again from their run directories at the next start"
    )


def _add_columns(conn: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns.items():
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
