"""RPC latency histograms per transport, method and status code, and the gRPC interceptor that feeds them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Histogram

# Unary calls here take a fraction of a millisecond; streams (Watch, downloads) minutes.
LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


class RpcMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._latency = Histogram(
            "k12ai_rpc_duration_seconds",
            "Time from an RPC's arrival to its status (a stream: to its end), by transport, method and code",
            ("transport", "service", "method", "code"),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )

    def observe(self, transport: str, full_method: str, code: grpc.StatusCode, seconds: float) -> None:
        """``full_method``: ``/k12ai.v1.Framework/GetJob`` (gRPC's form) or ``k12ai.v1.Framework.GetJob``."""
        service, _, method = full_method.lstrip("/").replace("/", ".").rpartition(".")
        self._latency.labels(transport, service, method, code.name).observe(seconds)


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Times every unary and server-streaming gRPC call; the code is the one the call ended with."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        observe = self._observer(details.method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _timed_unary(handler.unary_unary, observe),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _timed_stream(handler.unary_stream, observe),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming calls (reflection's): not measured

    def _observer(self, method: str) -> Callable[[grpc.StatusCode, float], None]:
        return lambda code, seconds: self._metrics.observe("grpc", method, code, seconds)


Observe = Callable[[grpc.StatusCode, float], None]


def _timed_unary(behavior: Callable[..., Awaitable[Any]], observe: Observe) -> Callable[..., Awaitable[Any]]:
    async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.CANCELLED  # unless it ends: the client went away
        try:
            reply = await behavior(request, context)
            code = _code(context, grpc.StatusCode.OK)
            return reply
        except Exception:
            code = _code(context, grpc.StatusCode.UNKNOWN)
            raise
        finally:
            observe(code, time.perf_counter() - started)

    return timed


def _timed_stream(
    behavior: Callable[..., AsyncIterator[Any]], observe: Observe
) -> Callable[..., AsyncIterator[Any]]:
    async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started = time.perf_counter()
        code = grpc.StatusCode.CANCELLED
        try:
            async for reply in behavior(request, context):
                yield reply
            code = _code(context, grpc.StatusCode.OK)
        except Exception:
            code = _code(context, grpc.StatusCode.UNKNOWN)
            raise
        finally:
            observe(code, time.perf_counter() - started)

    return timed


def _code(context: grpc.aio.ServicerContext[Any, Any], otherwise: grpc.StatusCode) -> grpc.StatusCode:
    """The code the servicer set or aborted with, else ``otherwise``."""
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else otherwise
