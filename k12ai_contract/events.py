"""Event types, the line a worker appends for each event, and the seed's envelope.

A worker appends one JSON object a line to its events file,
``{"type": ..., "timestamp": <ms>, "payload": {...}}``; a line is complete only once
its newline is written, and nothing reads a partial line.
"""

from __future__ import annotations

import enum
import json
import re
import time
from dataclasses import dataclass
from typing import Any

# The seed envelope's `version`.
ENVELOPE_VERSION = "0.1.0"
# A longer line is not an event but a runaway worker.
MAX_LINE_BYTES = 4 * 1024 * 1024
# SQLite's INTEGER, and what every reader can hold: a timestamp or an integer in a payload
# beyond it is refused rather than failing later in the store or in a reader.
_INT_LIMIT = 2**63
# Nesting of a payload: each level is two protobuf messages (Value, then Struct or ListValue),
# and protobuf parses at most 100 levels of an Event inside a WatchResponse.
MAX_PAYLOAD_DEPTH = 32
_LONG_DIGITS = re.compile(rb"\d{19}")


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
    # ``payload`` as stored (see ``payload_text``), made once while the line is checked.
    payload_json: str = ""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_event_line(type: str, payload: Any, *, timestamp: int | None = None) -> str:
    """One event as its line, newline included; JSON without NaN or Infinity."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event = {"type": type, "timestamp": now_ms() if timestamp is None else timestamp, "payload": payload}
    return json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n"


def parse_event_line(line: bytes) -> WorkerEvent:
    """The event of one complete line; InvalidEventLineError naming what is wrong with it.

    Refuses everything the server could not store or send on: besides lines that are not
    JSON or not an event, the constants ``NaN`` and ``Infinity`` (Python's json accepts
    them, JSON does not), numbers that overflow a double, integers beyond 64 bits,
    strings with lone surrogates (not UTF-8), payloads nested deeper than
    ``MAX_PAYLOAD_DEPTH`` and lines longer than ``MAX_LINE_BYTES``.
    """
    if len(line) > MAX_LINE_BYTES:
        raise InvalidEventLineError(f"event line of {len(line)} bytes, longer than {MAX_LINE_BYTES}")
    try:
        # A number of 19 digits or more may not fit in 64 bits: only such lines pay for the check.
        decoder = _CHECK_INTS if _LONG_DIGITS.search(line) else _DECODER
        raw = decoder.decode(line.decode("utf-8"))
    except _OutOfRangeError as exc:
        raise InvalidEventLineError(f"{exc}: {line[:200]!r}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidEventLineError(f"not JSON ({type(exc).__name__}): {line[:200]!r}") from None
    if not isinstance(raw, dict) or raw.get("type") not in EVENT_TYPES or "payload" not in raw:
        raise InvalidEventLineError(f"not an event: {line[:200]!r}")
    timestamp = raw.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise InvalidEventLineError(f"event without a non-negative integer timestamp: {line[:200]!r}")
    payload = raw["payload"]
    # Nesting needs an opening bracket a level: a line with few cannot be too deep.
    if line.count(b"[") + line.count(b"{") > MAX_PAYLOAD_DEPTH and _depth(payload) > MAX_PAYLOAD_DEPTH:
        raise InvalidEventLineError(f"payload nested deeper than {MAX_PAYLOAD_DEPTH} levels: {line[:200]!r}")
    try:
        text = payload_text(payload)
        if not text.isascii():
            # A lone surrogate ("\ud800") parses, but is no UTF-8 text.
            text.encode("utf-8")
    except ValueError as exc:
        # 1e400 parses as infinity, which JSON cannot write back.
        raise InvalidEventLineError(f"payload cannot be stored as JSON ({exc}): {line[:200]!r}") from None
    return WorkerEvent(raw["type"], timestamp, payload, text)


def payload_text(payload: Any) -> str:
    """A worker's payload as the server stores it: compact JSON text, no NaN or Infinity."""
    return _ENCODER.encode(payload)


def _depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (0 for a scalar)."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


class _OutOfRangeError(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _OutOfRangeError(f"{name} is not a JSON number")


def _int64(text: str) -> int:
    value = int(text)
    if not -_INT_LIMIT <= value < _INT_LIMIT:
        raise _OutOfRangeError(f"integer {text[:40]} does not fit in 64 bits")
    return value


# Made once: json.loads and json.dumps with options build a new coder every call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_CHECK_INTS = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_int64)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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
