"""Watch bookkeeping both clients share: where to resume, when the stream is over."""

from __future__ import annotations

from dataclasses import dataclass, field

from k12ai_api.v1 import common_pb2, framework_pb2

WatchItem = common_pb2.Event | framework_pb2.JobEnd | framework_pb2.Heartbeat


@dataclass(kw_only=True)
class WatchState:
    job_id: str = ""
    user: str = ""
    service_uuid: str = ""
    op: str = ""
    types: list[str] = field(default_factory=list)
    last_seq: int = 0
    heartbeats: bool = False
    ended: bool = False

    def request(self) -> framework_pb2.WatchRequest:
        """The request that resumes right after the last event delivered."""
        return framework_pb2.WatchRequest(
            job_id=self.job_id,
            user=self.user,
            service_uuid=self.service_uuid,
            op=self.op,
            types=self.types,
            after_seq=self.last_seq,
        )

    def take(self, response: framework_pb2.WatchResponse) -> list[WatchItem]:
        """What to hand the caller for one response, updating the resume point."""
        items: list[WatchItem] = []
        for event in response.events:
            if event.seq > self.last_seq:  # never a duplicate, whatever the server did
                self.last_seq = event.seq
                items.append(event)
        if response.HasField("end"):
            items.append(response.end)
            self.ended = bool(self.job_id)
        if self.heartbeats and response.HasField("heartbeat"):
            items.append(response.heartbeat)
        return items
