"""The network event channel's client: a job's events file sent to the server's EventIngestService.

Each call carries the bytes from the offset the server last acknowledged, and the server
answers how far it has stored; the shipper always continues from that answer, so a lost
answer, a cut link, a restarted server or a restarted shipper neither loses nor repeats an
event. See ``k12ai_worker.shipping`` for the process that runs the job under it.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import grpc

from k12ai_api.internal.v1 import ingest_pb2, ingest_pb2_grpc
from k12ai_contract.events import MAX_LINE_BYTES

# How often the spool is checked for new lines: one fstat when nothing is new.
POLL_S = 0.005
CALL_TIMEOUT_S = 5.0
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0
# How long a job that has ended keeps offering its last events to a server that is down.
DRAIN_TIMEOUT_S = 900.0
# One call carries at most this much, except that a single line always goes whole.
BATCH_BYTES = 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_LINE_BYTES + BATCH_BYTES),
    # Reconnect quickly once a cut link is back; gRPC's default waits up to two minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", int(BACKOFF_MAX_S * 1000)),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
]
# Answers after which shipping more is pointless: the server does not know the job, refuses
# its secret, has settled it, or found a line that is no event (and fails the job itself).
FINAL_CODES = frozenset(
    {
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
    }
)


class ShippingRefusedError(Exception):
    """The server will take no more of this job's events."""


class EventShipper:
    """Sends a job's events file to the server from the offset the server acknowledged."""

    def __init__(self, *, spool: Path, target: str, job_id: str, secret: str, ca_pem: str = "") -> None:
        """``ca_pem``: verify the server's TLS certificate with it; "" speaks plain gRPC."""
        self._spool = spool
        self._job_id = job_id
        self._secret = secret
        if ca_pem:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem.encode())
            self._channel = grpc.secure_channel(target, credentials, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = ingest_pb2_grpc.EventIngestServiceStub(self._channel)
        self._fd: int | None = None
        # None until the server has answered once (a restarted shipper asks first).
        self.acked: int | None = None

    def ship(self) -> bool:
        """Send every complete line not yet acknowledged; True once the server has them all."""
        if self.acked is None:
            self.acked = self._append(0, b"")
        while True:
            data = self._complete_lines(self.acked)
            if not data:
                return True
            self.acked = self._append(self.acked, data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._channel.close()

    def _append(self, offset: int, data: bytes) -> int:
        request = ingest_pb2.AppendRequest(job_id=self._job_id, secret=self._secret, offset=offset, data=data)
        try:
            reply = self._stub.Append(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            if exc.code() in FINAL_CODES:
                raise ShippingRefusedError(f"{exc.code().name}: {exc.details()}") from exc
            raise
        return int(reply.acked_offset)

    def _complete_lines(self, offset: int) -> bytes:
        """The whole lines from ``offset`` on (a batch); a runaway line as far as the limit."""
        if self._fd is None:
            try:
                self._fd = os.open(self._spool, os.O_RDONLY)
            except FileNotFoundError:
                return b""
        size = os.fstat(self._fd).st_size
        if size <= offset:
            return b""
        data = os.pread(self._fd, BATCH_BYTES, offset)
        end = data.rfind(b"\n")
        if end < 0 and size - offset > len(data):
            # One line longer than a batch: all of it, or enough of it for the server to refuse.
            data = os.pread(self._fd, MAX_LINE_BYTES + 1, offset)
            end = data.rfind(b"\n")
            if end < 0 and len(data) > MAX_LINE_BYTES:
                return data
        return data[: end + 1]


def follow(shipper: EventShipper, child: subprocess.Popen[bytes]) -> None:
    """Ships while the child runs, then until the server has every line (or DRAIN_TIMEOUT_S)."""
    backoff = BACKOFF_MIN_S
    drain_deadline: float | None = None
    failing = False
    while True:
        ended = child.poll() is not None
        if ended and drain_deadline is None:
            drain_deadline = time.monotonic() + DRAIN_TIMEOUT_S
        try:
            caught_up = shipper.ship()
        except ShippingRefusedError as exc:
            print(f"k12ai shipper: the server takes no more events of this job: {exc}", file=sys.stderr)
            return
        except grpc.RpcError as exc:
            if not failing:
                print(f"k12ai shipper: cannot reach the server, retrying: {exc.code().name}", file=sys.stderr)
            failing = True
            if drain_deadline is not None and time.monotonic() > drain_deadline:
                print(
                    f"k12ai shipper: gave up after {DRAIN_TIMEOUT_S:.0f} s; events stay in the spool",
                    file=sys.stderr,
                )
                return
            time.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            continue
        if failing:
            print("k12ai shipper: reconnected", file=sys.stderr)
        failing, backoff = False, BACKOFF_MIN_S
        if ended and caught_up:
            return
        time.sleep(POLL_S)
