"""Results read from the server's own event stream (``GET /k12ai/framework/events``) when there is no Consul.

The stream holds the same events the mirror writes to Consul; the latest of each key is what
Consul would hold. Each read takes the stored history and stops once the stream goes quiet.
"""

from __future__ import annotations

import time
from typing import Any

from k12ai_client.notebook.rest import Gateway
from k12ai_contract.events import envelope

EVENTS_PATH = "k12ai/framework/events"
# How long the server's history takes to arrive at most before "nothing stored" is believed.
HISTORY_WAIT_S = 0.5
# After the last event arrived, how long to wait for more before the latest is taken as final.
SETTLE_S = 0.2


def latest_events(
    gateway: Gateway, prefix: str, *, wait_s: float, hidden_through: int = 0
) -> list[dict[str, Any]]:
    """``[{'key', 'value', 'seq'}]``: each key's latest event under ``prefix``, after ``hidden_through``."""
    parts = prefix.split("/")
    if len(parts) < 3:
        raise ValueError(f"key {prefix!r}: expected tag/user/service_uuid[/op[/type]]")
    tag, user, uuid, *rest = parts
    query = [("user", user), ("service_uuid", uuid)]
    if rest:
        query.append(("op", rest[0]))
    if len(rest) > 1:
        query.append(("types", rest[1]))
    latest: dict[str, dict[str, Any]] = {}
    for event in _history(gateway, query, time.monotonic() + max(wait_s, HISTORY_WAIT_S)):
        value = rest_envelope(event)
        key = "/".join((tag, user, uuid, value["op"], value["type"]))
        seq = int(event["seq"])
        if value["tag"] == tag and key.startswith(prefix) and seq > hidden_through:
            latest[key] = {"key": key, "value": value, "seq": seq}
    return sorted(latest.values(), key=lambda found: str(found["key"]))


def rest_envelope(event: dict[str, Any]) -> dict[str, Any]:
    """The seed's envelope of a Watch event as REST prints it."""
    return envelope(
        type=event["type"],
        tag=event["tag"],
        op=event["op"],
        user=event["user"],
        service_uuid=event["service_uuid"],
        timestamp=int(event["timestamp"]),
        payload=event.get("payload"),
        datetime=event["datetime"],
    )


def _history(gateway: Gateway, query: list[tuple[str, str]], deadline: float) -> list[dict[str, Any]]:
    """The stream's events until ``deadline`` passes with none, or it goes quiet after some."""
    # The gateway answers a stream only with its first message, so even opening it may wait.
    lines = gateway.stream(EVENTS_PATH, query, timeout_s=max(0.0, deadline - time.monotonic()) + 1.0)
    events: list[dict[str, Any]] = []
    try:
        while True:
            message = lines.get(SETTLE_S if events else deadline - time.monotonic())
            if message is None:
                return events
            events += message.get("events", [])
    finally:
        lines.close()
