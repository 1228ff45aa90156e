"""Server-streaming RPCs over HTTP/1.1 chunked responses, one flushed write per message.

Newline-delimited JSON, as grpc-gateway writes it: ``{"result": <message>}`` per line, and
``{"error": <status>}`` as the last line when the stream fails after it started. With
``Accept: text/event-stream`` the same objects go out as server-sent events (``data: ...``
and, for the failure, ``event: error``), so a browser ``EventSource`` can follow a job.

``Grpc-Timeout`` bounds the stream: at its deadline the stream ends with DEADLINE_EXCEEDED as
its last line. A stream that fails before its first message is answered like a unary call (the error's
HTTP status, the status body), as both reference transcoders do for a trailers-only reply.
When the client goes away, the handler is cancelled (``handler_cancellation``) and the
servicer's generator is closed, which ends the server side of the stream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import message

from k12ai_server.gateway.context import AbortedCall
from k12ai_server.gateway.limits import deadline_of
from k12ai_server.gateway.status import GatewayError
from k12ai_server.gateway.transcode import dumps

log = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
# What a caller learns of a servicer's crash; the traceback goes to the server log only.
UNEXPECTED = "unexpected server error (see the server log)"


def wants_event_stream(accept: str) -> bool:
    return EVENT_STREAM in accept


class _Frames:
    def __init__(self, event_stream: bool) -> None:
        self.event_stream = event_stream

    def result(self, document: Any, event_id: str | None) -> bytes:
        body = dumps({"result": document})
        if not self.event_stream:
            return body + b"\n"
        prefix = f"id: {event_id}\n".encode() if event_id else b""
        return prefix + b"data: " + body + b"\n\n"

    def error(self, error: GatewayError) -> bytes:
        body = dumps({"error": error.body()})
        return b"event: error\ndata: " + body + b"\n\n" if self.event_stream else body + b"\n"


async def stream_reply(
    request: web.BaseRequest,
    replies: AsyncGenerator[message.Message, None],
    render: Callable[[message.Message], Any],
    error_response: Callable[[GatewayError], web.Response],
    headers: Callable[[], Mapping[str, str]],
    event_id: Callable[[message.Message], str | None],
    *,
    deadline: float | None = None,
) -> web.StreamResponse:
    frames = _Frames(wants_event_stream(request.headers.get("Accept", "")))
    try:
        async with deadline_of(deadline):
            first = await next_reply(replies)
    except GatewayError as error:
        await replies.aclose()
        return error_response(error)
    response = web.StreamResponse(
        headers={**headers(), "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    response.content_type = EVENT_STREAM if frames.event_stream else "application/json"
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async with deadline_of(deadline):
            reply = first
            while reply is not None:
                await response.write(frames.result(render(reply), event_id(reply)))
                reply = await next_reply(replies)
    except GatewayError as error:
        await response.write(frames.error(error))
    finally:
        await replies.aclose()
    await response.write_eof()
    return response


async def next_reply(replies: AsyncGenerator[message.Message, None]) -> message.Message | None:
    """The next reply, None at the end; every failure as a GatewayError."""
    try:
        return await anext(replies)
    except StopAsyncIteration:
        return None
    except AbortedCall as exc:
        raise exc.error from None
    except GatewayError:
        raise
    except Exception:
        log.exception("server stream failed")
        raise GatewayError(grpc.StatusCode.UNKNOWN, UNEXPECTED) from None
