"""Reads what a worker appended to its events file since the last read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k12ai_server.events.record import TYPES

# A line longer than this is not an event but a runaway worker.
MAX_LINE_BYTES = 4 * 1024 * 1024


class InvalidEventLineError(Exception):
    pass


@dataclass(frozen=True)
class WorkerEvent:
    type: str
    timestamp: int
    payload: Any


class EventsFileReader:
    def __init__(self, path: Path, offset: int) -> None:
        self._path = path
        self.offset = offset

    def read_new(self) -> list[WorkerEvent]:
        """Complete new lines only; a partial last line waits for its newline."""
        try:
            with self._path.open("rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            if len(chunk) > MAX_LINE_BYTES:
                raise InvalidEventLineError(f"event line longer than {MAX_LINE_BYTES} bytes")
            return []
        events = [_parse(line) for line in chunk[:end].split(b"\n") if line.strip()]
        self.offset += end + 1
        return events


def _parse(line: bytes) -> WorkerEvent:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise InvalidEventLineError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(raw, dict) or raw.get("type") not in TYPES or "payload" not in raw:
        raise InvalidEventLineError(f"not an event: {line[:200]!r}")
    timestamp = raw.get("timestamp")
    if not isinstance(timestamp, int):
        raise InvalidEventLineError(f"event without an integer timestamp: {line[:200]!r}")
    return WorkerEvent(raw["type"], timestamp, raw["payload"])
