"""Whatever fails inside the server, a call ends with a documented status and an audit line.

Two layers, both at the edge of the servicers:

- ``guard_servicer`` wraps every RPC method of a servicer object, so the gRPC server and the
  REST gateway (which calls the same objects) share it. An exception a servicer did not turn
  into an answer becomes INTERNAL with a fixed message (RESOURCE_EXHAUSTED when the server's
  disk is full), its traceback goes to the server log only, and ``k12ai.audit`` gets a
  ``failure`` line. A status the servicer chose (``context.abort``) passes untouched.
- ``UndecodableRequestInterceptor`` answers INVALID_ARGUMENT for a gRPC request that protobuf
  cannot decode (e.g. a Struct nested past protobuf's depth limit), which would otherwise end
  as UNKNOWN with the parser's exception text, before any servicer runs.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf import descriptor
from google.protobuf.message import DecodeError

from k12ai_server.security import audit

log = logging.getLogger(__name__)

FAILURE_MESSAGE = "internal error (see the server log)"
STORAGE_FULL_MESSAGE = "the server's storage is full; try again later"

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


def guard_servicer(servicer: object, service: descriptor.ServiceDescriptor) -> None:
    """Replace each of ``service``'s methods on ``servicer`` by its guarded form."""
    for method in service.methods:
        rpc = f"{service.name}.{method.name}"
        behaviour = getattr(servicer, method.name)
        guarded = _guard_stream(rpc, behaviour) if method.server_streaming else _guard_unary(rpc, behaviour)
        setattr(servicer, method.name, guarded)


def _guard_unary(
    rpc: str, behaviour: Callable[[Any, Context], Awaitable[Any]]
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def call(request: Any, context: Context) -> Any:
        try:
            return await behaviour(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(rpc, request, context, exc)

    return call


def _guard_stream(
    rpc: str, behaviour: Callable[[Any, Context], AsyncIterator[Any]]
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def call(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            async with contextlib.aclosing(behaviour(request, context)) as replies:  # type: ignore[type-var]
                async for reply in replies:
                    yield reply
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(rpc, request, context, exc)

    return call


async def _fail(rpc: str, request: Any, context: Context, exc: Exception) -> None:
    if context.done():
        # The call has ended under us (its client went, or the server's stop ended it while the
        # behaviour still wrote to it): there is nobody to answer, and nothing failed here.
        log.info("%s ended before it could answer (%s)", rpc, type(exc).__name__)
        return
    status, message = (
        (grpc.StatusCode.RESOURCE_EXHAUSTED, STORAGE_FULL_MESSAGE)
        if storage_full(exc)
        else (grpc.StatusCode.INTERNAL, FAILURE_MESSAGE)
    )
    log.error("%s failed: answered %s", rpc, status.name, exc_info=exc)
    audit.failure(context.peer(), rpc, request, status=status.name, error=type(exc).__name__)
    await context.abort(status, message)


def storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or quota, from the OS or from SQLite."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _Undecodable:
    def __init__(self, rpc: str, reason: str) -> None:
        self.rpc = rpc
        self.message = f"the request could not be decoded: {reason}"


class UndecodableRequestInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None or handler.request_streaming:
            return handler
        deserialize = handler.request_deserializer
        rpc = handler_call_details.method

        def decode(data: bytes) -> Any:
            try:
                return deserialize(data)
            except DecodeError as exc:
                # protobuf's reason names the message type and the rule, never the bytes.
                return _Undecodable(rpc, str(exc))

        if handler.response_streaming:
            return handler._replace(
                request_deserializer=decode, unary_stream=_refusing_stream(handler.unary_stream)
            )
        return handler._replace(request_deserializer=decode, unary_unary=_refusing_unary(handler.unary_unary))


def _refusing_unary(
    behaviour: Callable[[Any, Context], Awaitable[Any]],
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def call(request: Any, context: Context) -> Any:
        if isinstance(request, _Undecodable):
            await _refuse(request, context)
        return await behaviour(request, context)

    return call


def _refusing_stream(
    behaviour: Callable[[Any, Context], AsyncIterator[Any]],
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def call(request: Any, context: Context) -> AsyncIterator[Any]:
        if isinstance(request, _Undecodable):
            await _refuse(request, context)
        async for reply in behaviour(request, context):
            yield reply

    return call


async def _refuse(request: _Undecodable, context: Context) -> None:
    audit.failure(context.peer(), request.rpc, request, status="INVALID_ARGUMENT", error="DecodeError")
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
