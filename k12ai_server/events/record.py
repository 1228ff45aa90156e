"""The event record and its rendering as the seed's JSON envelope."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

VERSION = "0.1.0"
TYPES = frozenset({"metrics", "status", "error", "predict", "result", "info", "log"})


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    type: str
    tag: str
    op: str
    user: str
    service_uuid: str
    payload: Any
    job_id: str = ""
    timestamp: int = field(default_factory=lambda: now_ms())
    # 0 until the store assigns it.
    seq: int = 0

    def with_seq(self, seq: int) -> EventRecord:
        return replace(self, seq=seq)

    def to_envelope(self) -> dict[str, Any]:
        """The seed's shape: the payload sits under the key named by ``type``."""
        return {
            "version": VERSION,
            "type": self.type,
            "tag": self.tag,
            "op": self.op,
            "user": self.user,
            "service_uuid": self.service_uuid,
            "timestamp": self.timestamp,
            "datetime": datetime_text(self.timestamp),
            self.type: self.payload,
        }

    def payload_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), allow_nan=False)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def datetime_text(timestamp_ms: int) -> str:
    # The seed shows local time without a zone, e.g. "2019-11-22 21:20:43".
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp_ms / 1000))
