"""The server's tail of a job's events file on this host: what the worker appended, fed to the ingest."""

from __future__ import annotations

import asyncio
from pathlib import Path

from k12ai_contract.events import MAX_LINE_BYTES
from k12ai_server.jobs.ingest import EventIngest

# One read holds any complete line (and shows a longer one as too long); the ingest stores
# it in chunks.
READ_BYTES = MAX_LINE_BYTES + 1


class EventsFileTail:
    def __init__(self, path: Path, job_id: str, ingest: EventIngest) -> None:
        self._path = path
        self._job_id = job_id
        self._ingest = ingest
        # File size when the last read found only a partial line: no new read until it grows.
        self._partial_at = -1

    async def drain(self) -> None:
        """Feed the ingest every complete line the file holds now (InvalidEventsError on a bad one)."""
        while True:
            offset = self._ingest.acked(self._job_id)
            try:
                size = self._path.stat().st_size
            except FileNotFoundError:
                return
            if size <= max(offset, self._partial_at):
                return
            data = await asyncio.to_thread(_read, self._path, offset, READ_BYTES)
            if await self._ingest.ingest(self._job_id, offset, data) == offset:
                self._partial_at = offset + len(data)
                return


def _read(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(size)
