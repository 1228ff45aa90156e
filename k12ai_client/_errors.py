"""One exception root for everything the client raises."""

from __future__ import annotations

import grpc

from k12ai_api.v1 import common_pb2


class K12AIError(Exception):
    """Root of every k12ai client error."""


class ReplyError(K12AIError):
    """The server answered with a reply code other than success (or queued)."""

    def __init__(self, code: int, descr: str, message: str) -> None:
        super().__init__(f"{code} {descr}: {message}")
        self.code = code
        self.descr = descr
        self.message = message

    @property
    def code_name(self) -> str:
        try:
            return common_pb2.ReplyCode.Name(self.code)  # type: ignore[arg-type]
        except ValueError:
            return str(self.code)


class RPCError(K12AIError):
    """The call itself failed (unreachable server, permission, cancelled, ...)."""

    def __init__(self, status: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{status.name}: {details}")
        self.status = status
        self.details = details


class WatchError(RPCError):
    """A watch stream failed and could not be resumed."""


class UnreachableError(K12AIError):
    """Nothing answered at an address: no server there, or the wrong host or port."""

    def __init__(self, address: str, reason: str, setting: str) -> None:
        super().__init__(f"nothing answers at {address} ({reason}); set {setting} to where it runs")
        self.address = address
        self.reason = reason


class LocalFileError(K12AIError):
    """A file on the client's side cannot be written where it was asked for; the message names it."""


class HTTPStatusError(K12AIError):
    """An HTTP service (the REST gateway, Consul) answered with an error status.

    ``code`` is the gRPC status code of the gateway's status body, when it sent one.
    """

    def __init__(self, url: str, status: int | None, message: str, code: int | None = None) -> None:
        super().__init__(f"{url}: HTTP {status if status is not None else 'error'}: {message}")
        self.url = url
        self.status = status
        self.message = message
        self.code = code


def status_code(number: int) -> grpc.StatusCode:
    """The gRPC status of a number from a JSON status body (``{"code": 16, ...}``)."""
    return next((s for s in grpc.StatusCode if s.value[0] == number), grpc.StatusCode.UNKNOWN)


def from_rpc_error(exc: grpc.RpcError) -> RPCError:
    status = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return RPCError(status, details or "")
