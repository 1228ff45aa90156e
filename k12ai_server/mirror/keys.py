"""Where an event lands in Consul KV, and what is stored there: the seeds' layout and envelope.

``{tag}/{user}/{service_uuid}/{op}/{type}``, e.g. ``framework/test/123456/train.start/metrics``
or ``platform/test/uuid/query/result``; each key holds the latest event of its type. The value
is the event's JSON envelope, indented as the seed notebooks print the raw value.
"""

from __future__ import annotations

import json

from k12ai_server.events.record import EventRecord


def kv_key(event: EventRecord) -> str | None:
    """The event's key, or None when a part of it is empty (no key the seeds' readers could name)."""
    parts = (event.tag, event.user, event.service_uuid, event.op, event.type)
    if not all(parts):
        return None
    return "/".join(parts)


def kv_value(event: EventRecord) -> bytes:
    return json.dumps(event.to_envelope(), indent=4).encode()
