"""The servicer context of a call the gateway dispatches in-process.

The gateway calls the same servicer objects the gRPC server serves, without a socket in
between; this context gives them what a ``grpc.aio.ServicerContext`` would: the request's
metadata (``Authorization``, ``Grpc-Metadata-*``), the peer address, ``abort`` that ends
the call with a status, and the response metadata they set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc

from k12ai_server.gateway.status import GatewayError

Metadata = tuple[tuple[str, str | bytes], ...]


class AbortedCall(grpc.aio.AbortError):  # type: ignore[misc]
    """Raised by ``abort``: the same exception class a servicer sees under grpc.aio."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.error = GatewayError(code, details)


class GatewayContext:
    def __init__(self, *, metadata: Metadata, peer: str, deadline: float | None) -> None:
        self._metadata = metadata
        self._peer = peer
        self._deadline = deadline
        self._code = grpc.StatusCode.OK
        self._details = ""
        self._cancelled = False
        self.initial_metadata: Metadata = ()
        self.trailing: Metadata = ()

    def invocation_metadata(self) -> Metadata:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()
    ) -> NoReturn:
        self.trailing = trailing_metadata
        raise AbortedCall(code, details)

    async def abort_with_status(self, status: Any) -> NoReturn:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def error(self) -> GatewayError | None:
        """The status a servicer set without aborting, if not OK."""
        if self._code is grpc.StatusCode.OK:
            return None
        return GatewayError(self._code, self._details)

    async def send_initial_metadata(self, metadata: Metadata) -> None:
        self.initial_metadata = tuple(metadata)

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        self.trailing = tuple(metadata)

    def trailing_metadata(self) -> Metadata:
        return self.trailing

    @property
    def deadline(self) -> float | None:
        """When the call must be over (``time.monotonic()``), from ``Grpc-Timeout``; None: never."""
        return self._deadline

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        return self._cancelled

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        # Nothing the servicers use; calls here end when their handler returns.
        del callback

    def auth_context(self) -> dict[str, Sequence[bytes]]:
        return {}

    def peer_identities(self) -> None:
        return None

    def peer_identity_key(self) -> None:
        return None

    def set_compression(self, compression: Any) -> None:
        del compression

    def disable_next_message_compression(self) -> None:
        pass
