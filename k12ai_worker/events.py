"""The worker's side of the event channel: each event appended to the job's events file.

The server tails this file and records how far it has read in the same SQLite
transaction that stores the events, so neither a server restart nor a container
re-attach loses or repeats an event. The line format is the contract's
(``k12ai_contract.events``).

Two processes append to the file: the job (its events) and its supervisor (the job's
output as ``log`` events). Each line goes out in one ``write`` on a descriptor opened
with ``O_APPEND``, so lines of the two never interleave.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from k12ai_contract.events import encode_event_line


class EventWriter:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # Frameworks may report from a background thread too.
        self._lock = threading.Lock()

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        data = memoryview(encode_event_line(type, payload).encode("utf-8"))
        with self._lock:
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        os.close(self._fd)
