"""Events as a worker wrote them to its spool file, and as a watcher saw them, for comparing the two."""

from __future__ import annotations

from pathlib import Path

from k12ai_client import Event, to_envelope
from k12ai_contract.events import parse_event_line


def worker_events(events: list[Event]) -> list[tuple[str, int]]:
    # The server's own status events (queued, starting, the end) are not in the worker's file.
    return [(e.type, e.timestamp) for e in events if e.tag == "framework" and not _server_status(e)]


def _server_status(event: Event) -> bool:
    # The worker's only status event is its `running`.
    return event.type == "status" and to_envelope(event)["status"]["state"] != "running"


def spool_events(path: Path) -> list[tuple[str, int]]:
    lines = path.read_bytes().splitlines()
    return [(e.type, e.timestamp) for e in map(parse_event_line, lines)]
