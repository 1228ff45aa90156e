"""Event types, the line a worker appends for each event, and the seed's envelope.

A worker appends one JSON object a line to its events file,
``{"type": ..., "timestamp": <ms>, "payload": {...}}``; a line is complete only once
its newline is written, and nothing reads a partial line.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass
from typing import Any

# The seed envelope's `version`.
ENVELOPE_VERSION = "0.1.0"
# A longer line is not an event but a runaway worker.
MAX_LINE_BYTES = 4 * 1024 * 1024


class EventType(enum.StrEnum):
    METRICS = "metrics"
    STATUS = "status"
    ERROR = "error"
    PREDICT = "predict"
    RESULT = "result"
    INFO = "info"
    LOG = "log"


EVENT_TYPES = frozenset(t.value for t in EventType)


class InvalidEventLineError(Exception):
    pass


@dataclass(frozen=True)
class WorkerEvent:
    type: str
    timestamp: int
    payload: Any


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_event_line(type: str, payload: Any, *, timestamp: int | None = None) -> str:
    """One event as its line, newline included; JSON without NaN or Infinity."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event = {"type": type, "timestamp": now_ms() if timestamp is None else timestamp, "payload": payload}
    return json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n"


def parse_event_line(line: bytes) -> WorkerEvent:
    """The event of one complete line; InvalidEventLineError naming what is wrong with it."""
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise InvalidEventLineError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(raw, dict) or raw.get("type") not in EVENT_TYPES or "payload" not in raw:
        raise InvalidEventLineError(f"not an event: {line[:200]!r}")
    timestamp = raw.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise InvalidEventLineError(f"event without an integer timestamp: {line[:200]!r}")
    return WorkerEvent(raw["type"], timestamp, raw["payload"])


def datetime_text(timestamp_ms: int) -> str:
    # The seed shows local time without a zone, e.g. "2019-11-22 21:20:43".
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp_ms / 1000))


def envelope(
    *,
    type: str,
    tag: str,
    op: str,
    user: str,
    service_uuid: str,
    timestamp: int,
    payload: Any,
    datetime: str | None = None,
) -> dict[str, Any]:
    """The seed's JSON shape of an event: the payload sits under the key named by ``type``.

    ``datetime`` defaults to ``timestamp`` in this machine's local time; a client passes the
    server's text, so the envelope reads the same wherever it is rebuilt.
    """
    return {
        "version": ENVELOPE_VERSION,
        "type": type,
        "tag": tag,
        "op": op,
        "user": user,
        "service_uuid": service_uuid,
        "timestamp": timestamp,
        "datetime": datetime_text(timestamp) if datetime is None else datetime,
        type: payload,
    }
