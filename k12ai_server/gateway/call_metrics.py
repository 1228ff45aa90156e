"""REST calls timed like gRPC ones: each servicer method the gateway dispatches, wrapped.

The gateway calls servicers in-process, past the gRPC interceptor, so it measures its own
calls with the same histogram (``transport="rest"``) and the gRPC code each ended with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import grpc

from k12ai_server.gateway.context import AbortedCall, GatewayContext
from k12ai_server.metrics.rpc import timed

METRICS_PATH = "/metrics"


class GatewayMetrics(Protocol):
    """What the gateway needs of a metrics registry: to record its calls, and a scrape's answer."""

    def observe_rest(self, full_method: str, code: grpc.StatusCode, seconds: float) -> None: ...

    def exposition(self, accept: str) -> tuple[bytes, str]: ...


def instrument(
    handlers: Mapping[str, Callable[..., Any]], metrics: GatewayMetrics
) -> dict[str, Callable[..., Any]]:
    """The handlers, each timed; keys are full method names (``k12ai.v1.Framework.GetJob``)."""
    return {
        name: timed(handler, _observer(name, metrics), _gateway_code) for name, handler in handlers.items()
    }


def _observer(name: str, metrics: GatewayMetrics) -> Callable[[grpc.StatusCode, float], None]:
    return lambda code, seconds: metrics.observe_rest(name, code, seconds)


def _gateway_code(context: GatewayContext, failure: Exception | None) -> grpc.StatusCode:
    if isinstance(failure, AbortedCall):
        return failure.error.code
    if failure is not None:
        return grpc.StatusCode.UNKNOWN
    error = context.error()
    return error.code if error is not None else grpc.StatusCode.OK
