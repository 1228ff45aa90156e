"""How long the REST port waits: for a request's headers, for a call's deadline, at shutdown.

- **Headers.** A connection that has not sent a whole request's headers within
  ``header_timeout_s`` of opening (or of its previous response) is closed, so connections
  that trickle their headers (slowloris) cannot pile up. aiohttp's ``keepalive_timeout`` is
  that timer: it starts when a connection opens and closes the connection if no complete
  request has arrived by then (an idle keep-alive connection is closed the same way).
- **Deadlines.** ``Grpc-Timeout`` bounds the whole call, a stream included: at the deadline
  a unary call answers DEADLINE_EXCEEDED (504) and a stream ends with that error as its last
  line, as a gRPC client's deadline would.
- **Shutdown.** At stop the gateway waits at most ``shutdown_timeout_s`` for calls in
  flight, then cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from k12ai_server.gateway.status import GatewayError

DEADLINE_EXCEEDED = "Deadline Exceeded"


@dataclass(frozen=True, kw_only=True)
class HttpTimeouts:
    header_timeout_s: float = 20.0
    shutdown_timeout_s: float = 5.0

    def runner_args(self) -> dict[str, Any]:
        """aiohttp AppRunner's knobs for these timeouts."""
        return {"keepalive_timeout": self.header_timeout_s, "shutdown_timeout": self.shutdown_timeout_s}


DEFAULT_TIMEOUTS = HttpTimeouts()


class DeadlineExceededError(GatewayError):
    """A call past its ``Grpc-Timeout``: answered like any other failed call."""

    def __init__(self) -> None:
        super().__init__(grpc.StatusCode.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED)


@contextlib.asynccontextmanager
async def deadline_of(deadline: float | None) -> AsyncIterator[None]:
    """End the block at ``deadline`` (``time.monotonic()``, the loop's clock): DeadlineExceededError."""
    if deadline is None:
        yield
        return
    scope = asyncio.timeout_at(deadline)
    try:
        async with scope:
            yield
    except TimeoutError:
        if scope.expired():
            raise DeadlineExceededError from None
        raise
