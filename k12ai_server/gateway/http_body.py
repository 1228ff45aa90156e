"""Server streams of ``google.api.HttpBody``: a plain file download, as grpc-gateway and Envoy serve them.

The body is the messages' ``data`` back to back, unwrapped; ``Content-Type`` is the first
message's ``content_type``. Initial metadata named like an entity header
(``content-disposition``) becomes that header, as Envoy passes a gRPC response's headers
through and as grpc-gateway does with an outgoing header matcher; the rest stays
``Grpc-Metadata-*``. A failure before the first message is an ordinary error answer; after
it, the connection is dropped without the closing chunk, so a client sees a cut-off
transfer and never a file with an error message inside.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Mapping

from aiohttp import web
from google.protobuf import message

from k12ai_server.gateway.context import Metadata
from k12ai_server.gateway.headers import response_headers
from k12ai_server.gateway.limits import deadline_of
from k12ai_server.gateway.routes import Route
from k12ai_server.gateway.status import GatewayError
from k12ai_server.gateway.streaming import next_reply

log = logging.getLogger(__name__)

HTTP_BODY = "google.api.HttpBody"
DEFAULT_TYPE = "application/octet-stream"
# Response metadata that is an HTTP header of the file itself.
ENTITY_HEADERS = ("content-disposition",)


def returns_http_body(route: Route) -> bool:
    return route.server_streaming and route.method.output_type.full_name == HTTP_BODY


async def download_reply(
    request: web.BaseRequest,
    replies: AsyncGenerator[message.Message, None],
    error_response: Callable[[GatewayError], web.Response],
    initial_metadata: Callable[[], Metadata],
    *,
    deadline: float | None = None,
) -> web.StreamResponse:
    try:
        async with deadline_of(deadline):
            reply = await next_reply(replies)
    except GatewayError as error:
        await replies.aclose()
        return error_response(error)
    response = web.StreamResponse(headers=_headers(initial_metadata()))
    response.content_type = getattr(reply, "content_type", "") or DEFAULT_TYPE
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async with deadline_of(deadline):
            while reply is not None:
                await response.write(reply.data)  # type: ignore[attr-defined]
                reply = await next_reply(replies)
    except GatewayError as error:
        log.warning("download %s cut off: %s", request.path, error.body())
        if request.transport is not None:
            request.transport.abort()
        return response
    finally:
        await replies.aclose()
    await response.write_eof()
    return response


def _headers(metadata: Metadata) -> Mapping[str, str]:
    entity = {key: value for key, value in metadata if key in ENTITY_HEADERS and isinstance(value, str)}
    rest = tuple((key, value) for key, value in metadata if key not in entity)
    return {**response_headers(rest, ()), **entity}
