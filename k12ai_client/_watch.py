"""What both clients' ``watch`` share: where to resume, whether and when to, and when it is over.

The sync and asyncio clients each drive one loop, the same way::

    while not state.ended:
        try:
            for response in Watch(state.request()):     # resumes after the last seq delivered
                reconnects.received()
                yield state.take(response)               # ... and return once state.ended
            delay = reconnects.after_close(state)        # None: an open-ended watch is over
        except grpc.RpcError as exc:
            delay = reconnects.after_error(exc)          # raises WatchError when it is over
        sleep(delay)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from k12ai_api.v1 import common_pb2, framework_pb2
from k12ai_client._errors import WatchError, from_rpc_error

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


@dataclass
class Reconnects:
    """One watch's reconnect policy.

    A stream that drops (``UNAVAILABLE``), or a job's stream that closes before the job's end,
    is resumed after ``backoff_s`` times the number of failures in a row; after ``retries``
    failures with no message in between, the watch fails with ``WatchError``. Any other
    status (not found, permission denied, ...) fails it at once: retrying cannot help.
    """

    retries: int
    backoff_s: float
    failures: int = 0

    def received(self) -> None:
        self.failures = 0

    def after_error(self, exc: grpc.RpcError) -> float:
        """How long to wait before resuming after the stream failed; WatchError if not to."""
        err = from_rpc_error(exc)
        if err.status != grpc.StatusCode.UNAVAILABLE:
            raise WatchError(err.status, err.details) from exc
        return self._next_delay(err.details, exc)

    def after_close(self, state: WatchState) -> float | None:
        """How long to wait before resuming after the server closed the stream; None: it is over."""
        if not state.job_id:
            return None  # an open-ended watch ends when the server ends it
        return self._next_delay("watch closed before the job ended")

    def _next_delay(self, details: str, cause: grpc.RpcError | None = None) -> float:
        self.failures += 1
        if self.failures > self.retries:
            raise WatchError(grpc.StatusCode.UNAVAILABLE, details) from cause
        return self.backoff_s * self.failures
