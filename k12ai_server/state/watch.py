"""Notices the state database deleted, replaced or damaged while the server runs.

Writing on would be silent loss: SQLite keeps writing to a deleted file's open inode,
and a replaced file is another database. So the first sign stops intake: every later
write is refused (``Database.mark_lost``), gRPC health turns NOT_SERVING, new starts
are refused with a clear code, and one log line says what happened and what to do.
Running workers are left alone; the next server adopts them (``jobs.recovery``),
from their run directories if the database it opens does not know them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from k12ai_server.state.db import Database

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0
LostListener = Callable[[str], Awaitable[None]]


class DatabaseWatch:
    def __init__(self, db: Database, *, on_lost: LostListener, interval_s: float = WATCH_INTERVAL_S) -> None:
        self._db = db
        self._on_lost = on_lost
        self._interval_s = interval_s
        stat = db.path.stat()
        self._identity = (stat.st_dev, stat.st_ino)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="state-database-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def check(self) -> str:
        """Why the database is no longer usable; "" while it is."""
        if self._db.lost:
            return self._db.lost
        try:
            stat = self._db.path.stat()
        except FileNotFoundError:
            return f"{self._db.path} was deleted"
        if (stat.st_dev, stat.st_ino) != self._identity:
            return f"{self._db.path} was replaced by another file"
        return ""

    async def _run(self) -> None:
        while True:
            why = self.check()
            if why:
                self._db.mark_lost(why)
                log.error(
                    "state database lost: %s. No more writes: new jobs are refused (code 100503, health "
                    "NOT_SERVING); running jobs go on. Restore the file or move it aside, then restart "
                    "the server: it adopts the running jobs again from their run directories",
                    why,
                )
                await self._on_lost(why)
                return
            await asyncio.sleep(self._interval_s)
