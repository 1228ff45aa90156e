"""One server's metrics: its registry, the RPC histograms and the state collector, and their exposition."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from k12ai_server.events.log import EventLog
from k12ai_server.jobs.gpus import GpuAllocator
from k12ai_server.jobs.store import JobStore
from k12ai_server.metrics.rpc import RpcMetrics, RpcMetricsInterceptor
from k12ai_server.metrics.state import ServerStateCollector
from k12ai_server.mirror.mirror import MirrorHealth


class ServerMetrics:
    def __init__(self, *, jobs: JobStore, gpus: GpuAllocator, events: EventLog) -> None:
        self.registry = CollectorRegistry()
        self._rpc = RpcMetrics(self.registry)
        self._state = ServerStateCollector(jobs=jobs, gpus=gpus, events=events)
        self.registry.register(self._state)
        self.interceptor = RpcMetricsInterceptor(self._rpc)

    def attach_mirror(self, health: Callable[[], MirrorHealth]) -> None:
        self._state.attach_mirror(health)

    def observe_rest(self, full_method: str, code: grpc.StatusCode, seconds: float) -> None:
        self._rpc.observe("rest", full_method, code, seconds)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The scrape's body and Content-Type: OpenMetrics when the scraper asks for it, else text 0.0.4."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
