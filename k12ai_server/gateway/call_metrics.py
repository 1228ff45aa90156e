"""REST calls timed like gRPC ones: each servicer method the gateway dispatches, wrapped.

The gateway calls servicers in-process, past the gRPC interceptor, so it measures its own
calls with the same histogram (``transport="rest"``) and the gRPC code each ended with.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import grpc

from k12ai_server.gateway.context import AbortedCall, GatewayContext

# The full method name, the code it ended with, seconds.
Observe = Callable[[str, grpc.StatusCode, float], None]
METRICS_PATH = "/metrics"


class GatewayMetrics(Protocol):
    """What the gateway needs of a metrics registry: to record its calls, and a scrape's answer."""

    def observe_rest(self, full_method: str, code: grpc.StatusCode, seconds: float) -> None: ...

    def exposition(self, accept: str) -> tuple[bytes, str]: ...


def instrument(handlers: Mapping[str, Callable[..., Any]], observe: Observe) -> dict[str, Callable[..., Any]]:
    """The handlers, each timed; keys are full method names (``k12ai.v1.Framework.GetJob``)."""
    return {name: _timed(name, handler, observe) for name, handler in handlers.items()}


def _timed(name: str, handler: Callable[..., Any], observe: Observe) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(handler):

        async def stream(request: Any, context: GatewayContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            code = grpc.StatusCode.CANCELLED  # unless it ends: the client hung up
            try:
                async for reply in handler(request, context):
                    yield reply
                code = _ended(context)
            except Exception as exc:
                code = _failed(exc)
                raise
            finally:
                observe(name, code, time.perf_counter() - started)

        return stream

    async def unary(request: Any, context: GatewayContext) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.CANCELLED
        try:
            reply = await handler(request, context)
            code = _ended(context)
            return reply
        except Exception as exc:
            code = _failed(exc)
            raise
        finally:
            observe(name, code, time.perf_counter() - started)

    return unary


def _ended(context: GatewayContext) -> grpc.StatusCode:
    error = context.error()
    return error.code if error is not None else grpc.StatusCode.OK


def _failed(exc: Exception) -> grpc.StatusCode:
    return exc.error.code if isinstance(exc, AbortedCall) else grpc.StatusCode.UNKNOWN
