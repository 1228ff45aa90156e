"""Server-sent events a browser's ``EventSource`` resumes after a dropped connection.

Each SSE message of a resumable stream carries an ``id:``; on reconnecting, the browser sends
it back as ``Last-Event-ID``, and the gateway puts it into the request field that says where
the stream starts. For ``Watch`` that is ``after_seq`` and the id is the last ``seq`` the
message carries (or, for a heartbeat, the last seq the server had stored), so a page that
lost its connection gets no gap and no duplicate, as the gRPC client's own resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import message


@dataclass(frozen=True)
class SseResume:
    # The request field Last-Event-ID sets.
    request_field: str
    # The id a reply message ends at, if it has one.
    last_id: Callable[[Any], str | None]


def _watch_last_seq(reply: Any) -> str | None:
    if reply.events:
        return str(reply.events[-1].seq)
    if reply.HasField("heartbeat"):
        return str(reply.heartbeat.last_seq)
    return None


# By the RPC's full name.
K12AI_RESUMABLE: dict[str, SseResume] = {
    "k12ai.v1.Framework.Watch": SseResume(request_field="after_seq", last_id=_watch_last_seq),
}


def event_id(resume: SseResume | None, reply: message.Message) -> str | None:
    return resume.last_id(reply) if resume is not None else None
