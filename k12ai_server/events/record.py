"""The server's event record: a stored event with its seq, job and audience."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from k12ai_contract.events import envelope, now_ms


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    type: str
    tag: str
    op: str
    user: str
    service_uuid: str
    payload: Any
    job_id: str = ""
    timestamp: int = field(default_factory=now_ms)
    # 0 until the store assigns it.
    seq: int = 0
    # ``payload`` as stored, when the worker's line was checked already (k12ai_contract.events).
    stored_payload: str = field(default="", compare=False, repr=False)

    def with_seq(self, seq: int) -> EventRecord:
        # Stored now: the text is not needed any more.
        return replace(self, seq=seq, stored_payload="")

    def to_envelope(self) -> dict[str, Any]:
        """The seed's shape: the payload sits under the key named by ``type``."""
        return envelope(
            type=self.type,
            tag=self.tag,
            op=self.op,
            user=self.user,
            service_uuid=self.service_uuid,
            timestamp=self.timestamp,
            payload=self.payload,
        )

    def payload_json(self) -> str:
        # ASCII (escaped) for the server's own events: a stray surrogate in, say, a file name
        # of a reason must not make the event unstorable.
        return self.stored_payload or json.dumps(self.payload, separators=(",", ":"), allow_nan=False)
