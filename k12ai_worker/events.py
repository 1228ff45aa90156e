"""The worker's side of the event channel: each event appended to the job's events file.

The server tails this file and records how far it has read in the same SQLite
transaction that stores the events, so neither a server restart nor a container
re-attach loses or repeats an event. The line format is the contract's
(``k12ai_contract.events``).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from k12ai_contract.events import encode_event_line


class EventWriter:
    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        self._file.write(encode_event_line(type, payload))
        self._file.flush()

    def close(self) -> None:
        self._file.close()
