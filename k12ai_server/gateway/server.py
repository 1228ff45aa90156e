"""The REST gateway: an aiohttp server that transcodes each request and calls the servicer in-process.

Routes come from the descriptor set (see ``routes``); the servicers are the very objects the
gRPC server serves, called with a :class:`GatewayContext` instead of through a socket, so a
REST call costs one HTTP parse, one JSON conversion each way and the servicer itself.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import descriptor_pool, message

from k12ai_server.console import ConsoleSite
from k12ai_server.gateway import headers as http_headers
from k12ai_server.gateway.call_metrics import METRICS_PATH, GatewayMetrics, instrument
from k12ai_server.gateway.context import AbortedCall, GatewayContext
from k12ai_server.gateway.cors import CorsPolicy
from k12ai_server.gateway.http_body import download_reply, returns_http_body
from k12ai_server.gateway.limits import DEFAULT_TIMEOUTS, DeadlineExceededError, HttpTimeouts, deadline_of
from k12ai_server.gateway.openapi import openapi_document
from k12ai_server.gateway.resume import K12AI_RESUMABLE, SseResume, event_id
from k12ai_server.gateway.routes import MethodNotAllowedError, Route, RouteNotFoundError, load_routes
from k12ai_server.gateway.status import GatewayError
from k12ai_server.gateway.streaming import UNEXPECTED, stream_reply, wants_event_stream
from k12ai_server.gateway.transcode import build_request, dumps, render, set_field

log = logging.getLogger(__name__)

OPENAPI_PATH = "/openapi.json"
JSON = "application/json"

UnaryHandler = Callable[[message.Message, GatewayContext], Awaitable[message.Message]]


@dataclass(frozen=True, kw_only=True)
class GatewayTls:
    cert: Path
    key: Path
    # With it, clients must present a certificate this CA signed (mutual TLS).
    client_ca: Path | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        if self.client_ca is not None:
            context.load_verify_locations(cafile=self.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


class RestGateway:
    def __init__(
        self,
        servicers: Mapping[str, object],
        *,
        max_body_bytes: int,
        descriptor_set: bytes | None = None,
        pool: descriptor_pool.DescriptorPool | None = None,
        cors_origins: Sequence[str] = (),
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        console: ConsoleSite | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        """``servicers``: each served service's servicer object, by full name (``k12ai.v1.Framework``).

        ``descriptor_set`` and ``pool`` default to k12ai's committed descriptor set and the
        generated modules' pool. ``console`` answers the GET paths no route matches (the web page).
        """
        self._timeouts = timeouts
        self.routes = load_routes(servicers, descriptor_set=descriptor_set, pool=pool)
        self._handlers: dict[str, Callable[..., Any]] = {
            route.method.full_name: getattr(servicers[route.service], route.method.name)
            for route in self.routes.routes
        }
        if metrics is not None:
            self._handlers = instrument(self._handlers, metrics)
        self._metrics = metrics
        self._openapi = dumps(openapi_document(self.routes))
        self._max_body_bytes = max_body_bytes
        self._cors = CorsPolicy(cors_origins)
        self._resumable: Mapping[str, SseResume] = K12AI_RESUMABLE
        self._console = console
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str, port: int, *, tls: GatewayTls | None = None) -> int:
        app = web.Application(client_max_size=self._max_body_bytes)
        # Every path reaches handle(), newlines included ("." would leave those to aiohttp's text 404).
        app.router.add_route("*", r"/{path:[\s\S]*}", self.handle)
        if self._cors:
            app.on_response_prepare.append(self._cors.on_response_prepare)
        # handler_cancellation: a client that hangs up cancels its call, streams included.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, **self._timeouts.runner_args()
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=tls.context() if tls else None)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except GatewayError as error:
            return error_response(error)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:
            # A status body all the same; the traceback goes to the log, never to the caller.
            log.exception("REST %s %s failed", request.method, request.path)
            return error_response(GatewayError(grpc.StatusCode.UNKNOWN, UNEXPECTED))

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raw_path = request.raw_path.partition("?")[0]
        if raw_path == OPENAPI_PATH and request.method == "GET":
            return web.Response(body=self._openapi, content_type=JSON)
        if raw_path == METRICS_PATH and request.method == "GET" and self._metrics is not None:
            body, content_type = self._metrics.exposition(request.headers.get("Accept", ""))
            return web.Response(body=body, headers={"Content-Type": content_type})
        preflight = self._cors.preflight(request, self.routes.methods(raw_path)) if self._cors else None
        if preflight is not None:
            return preflight
        try:
            route, path_values = self.routes.resolve(request.method, raw_path)
        except RouteNotFoundError:
            page = self._console.response(request.method, raw_path) if self._console else None
            if page is not None:
                return page
            # grpc-gateway's routing errors: NotFound for an unknown path, Unimplemented for a wrong method.
            return error_response(GatewayError(grpc.StatusCode.NOT_FOUND, "Not Found"))
        except MethodNotAllowedError:
            return error_response(GatewayError(grpc.StatusCode.UNIMPLEMENTED, "Method Not Allowed"))
        try:
            call = await self._prepare(request, route, path_values)
        except GatewayError as error:
            return error_response(error)
        if route.server_streaming:
            return await self._stream(request, route, *call)
        return await self._unary(route, *call)

    async def _prepare(
        self, request: web.BaseRequest, route: Route, path_values: dict[str, str]
    ) -> tuple[message.Message, GatewayContext]:
        body = await _read_body(request) if route.body else b""
        proto = build_request(route, path_values, request.query.items(), body)
        resume = self._resumable.get(route.method.full_name)
        last_event_id = request.headers.get("Last-Event-ID")
        if resume is not None and last_event_id and wants_event_stream(request.headers.get("Accept", "")):
            # An EventSource reconnecting: it continues after the last message it got.
            set_field(proto, resume.request_field, last_event_id)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        context = GatewayContext(
            metadata=http_headers.request_metadata(request.headers, peer[0] if peer else ""),
            peer=_grpc_peer(peer),
            deadline=http_headers.deadline(request.headers),
        )
        return proto, context

    async def _unary(self, route: Route, proto: message.Message, context: GatewayContext) -> web.Response:
        try:
            async with deadline_of(context.deadline):
                reply = await self._handlers[route.method.full_name](proto, context)
        except AbortedCall as exc:
            return error_response(exc.error, context)
        except DeadlineExceededError as exc:
            return error_response(exc, context)
        except Exception:
            log.exception("%s failed", route.method.full_name)
            return error_response(GatewayError(grpc.StatusCode.UNKNOWN, UNEXPECTED), context)
        error = context.error()
        if error is not None:
            return error_response(error, context)
        return web.Response(
            body=dumps(render(route, reply)),
            content_type=JSON,
            headers=http_headers.response_headers(context.initial_metadata, context.trailing),
        )

    async def _stream(
        self, request: web.BaseRequest, route: Route, proto: message.Message, context: GatewayContext
    ) -> web.StreamResponse:
        replies = self._handlers[route.method.full_name](proto, context)
        try:
            if returns_http_body(route):
                return await download_reply(
                    request,
                    replies,
                    lambda error: error_response(error, context),
                    lambda: context.initial_metadata,
                    deadline=context.deadline,
                )
            return await stream_reply(
                request,
                replies,
                lambda reply: render(route, reply),
                lambda error: error_response(error, context),
                # Read once the first message is in: the servicer may have sent metadata by then.
                lambda: http_headers.response_headers(context.initial_metadata, ()),
                lambda reply: event_id(self._resumable.get(route.method.full_name), reply),
                deadline=context.deadline,
            )
        finally:
            context.cancel()


def error_response(error: GatewayError, context: GatewayContext | None = None) -> web.Response:
    headers = http_headers.response_headers(context.initial_metadata, context.trailing) if context else {}
    return web.Response(
        status=error.http_status, body=dumps(error.body()), content_type=JSON, headers=headers
    )


async def _read_body(request: web.BaseRequest) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise GatewayError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"request body larger than {request.client_max_size} bytes",
            http_status=413,
        ) from None


def _grpc_peer(peername: Any) -> str:
    """The address in grpc's ``context.peer()`` form, which the audit log records."""
    if not peername:
        return "unknown"
    host, port = peername[0], peername[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"
