"""RPC latency histograms per transport, method and status code; the wrapper that times a call.

gRPC calls are timed by :class:`RpcMetricsInterceptor`; the REST gateway, which calls the
servicers in-process past it, times its own with :func:`timed` (see gateway/call_metrics.py).
"""

from __future__ import annotations

import inspect
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

# The code a call ended with, from its context and the exception it raised (None: it returned).
CodeOf = Callable[[Any, Exception | None], grpc.StatusCode]
Observe = Callable[[grpc.StatusCode, float], None]


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
        if handler is None or handler.request_streaming:
            return handler  # client-streaming calls (reflection's): not measured

        def observe(code: grpc.StatusCode, seconds: float) -> None:
            self._metrics.observe("grpc", details.method, code, seconds)

        if handler.response_streaming:
            return handler._replace(unary_stream=timed(handler.unary_stream, observe, _grpc_code))
        return handler._replace(unary_unary=timed(handler.unary_unary, observe, _grpc_code))


def timed(behavior: Callable[..., Any], observe: Observe, code_of: CodeOf) -> Callable[..., Any]:
    """``behavior`` (a coroutine or an async generator of replies), observed once it ends.

    A call that neither returns nor raises an Exception was cancelled: its client went away.
    """
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            started, code = time.perf_counter(), grpc.StatusCode.CANCELLED
            try:
                async for reply in behavior(request, context):
                    yield reply
                code = code_of(context, None)
            except Exception as exc:
                code = code_of(context, exc)
                raise
            finally:
                observe(code, time.perf_counter() - started)

        return stream

    async def unary(request: Any, context: Any) -> Any:
        started, code = time.perf_counter(), grpc.StatusCode.CANCELLED
        try:
            reply = await behavior(request, context)
            code = code_of(context, None)
            return reply
        except Exception as exc:
            code = code_of(context, exc)
            raise
        finally:
            observe(code, time.perf_counter() - started)

    return unary


def _grpc_code(context: grpc.aio.ServicerContext[Any, Any], failure: Exception | None) -> grpc.StatusCode:
    """The code the servicer set or aborted with; else OK, or UNKNOWN for an exception."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if failure is None else grpc.StatusCode.UNKNOWN
