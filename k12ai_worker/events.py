"""The worker's side of the event channel: one JSON object a line, appended.

The server tails this file and records how far it has read in the same SQLite
transaction that stores the events, so neither a server restart nor a
container re-attach loses or repeats an event. A line is only complete once
its newline is written; the server never ingests a partial line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

EVENT_TYPES = frozenset({"metrics", "status", "error", "predict", "result", "info", "log"})


class EventWriter:
    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        line = json.dumps(
            {"type": type, "timestamp": int(time.time() * 1000), "payload": payload},
            separators=(",", ":"),
            allow_nan=False,
        )
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
