"""Reads what a worker appended to its events file since the last read."""

from __future__ import annotations

from pathlib import Path

from k12ai_contract.events import MAX_LINE_BYTES, InvalidEventLineError, WorkerEvent, parse_event_line


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
        events = [parse_event_line(line) for line in chunk[:end].split(b"\n") if line.strip()]
        self.offset += end + 1
        return events
