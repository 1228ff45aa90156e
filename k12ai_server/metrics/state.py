"""The server's state as Prometheus metrics, read when scraped (nothing to keep in step with the jobs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from k12ai_contract.jobs import JobState
from k12ai_server.events.log import EventLog
from k12ai_server.jobs.gpus import GpuAllocator
from k12ai_server.jobs.store import JobStore
from k12ai_server.mirror.mirror import MirrorHealth
from k12ai_worker import frameworks


class ServerStateCollector(Collector):
    def __init__(self, *, jobs: JobStore, gpus: GpuAllocator, events: EventLog) -> None:
        self._jobs = jobs
        self._gpus = gpus
        self._events = events
        self._mirror: Callable[[], MirrorHealth] | None = None

    def attach_mirror(self, health: Callable[[], MirrorHealth]) -> None:
        """The Consul mirror, once it runs (it starts after the HTTP port)."""
        self._mirror = health

    def collect(self) -> Iterator[Metric]:
        yield from self._job_metrics()
        gpus = GaugeMetricFamily(
            "k12ai_gpus", "GPUs this server allocates to jobs, by state", labels=["state"]
        )
        gpus.add_metric(["allocated"], self._gpus.allocated)
        gpus.add_metric(["free"], self._gpus.total - self._gpus.allocated)
        yield gpus
        # The seq is server-wide and counts every stored event: rate() of it is events stored per second.
        yield CounterMetricFamily(
            "k12ai_events_stored", "Events stored (the server-wide seq)", value=self._events.last_seq()
        )
        yield GaugeMetricFamily(
            "k12ai_watchers",
            "Live event subscribers: Watch streams (gRPC and REST) and the Consul mirror",
            value=self._events.subscriber_count,
        )
        if self._mirror is not None:
            yield from _mirror_metrics(self._mirror())

    def _job_metrics(self) -> Iterator[Metric]:
        counts = self._jobs.count_by_framework_and_state()
        jobs = GaugeMetricFamily("k12ai_jobs", "Jobs by framework and state", labels=["framework", "state"])
        for framework in sorted({*frameworks.names(), *(f for f, _ in counts)}):
            for state in JobState:
                jobs.add_metric([framework, state.value], counts.get((framework, state.value), 0))
        yield jobs
        queued = sum(n for (_, state), n in counts.items() if state == JobState.QUEUED.value)
        yield GaugeMetricFamily(
            "k12ai_job_queue_length", "Jobs waiting for a job slot or a GPU", value=queued
        )


def _mirror_metrics(health: MirrorHealth) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "k12ai_consul_mirror_connected", "1 while writes to Consul succeed", value=int(health.connected)
    )
    yield GaugeMetricFamily(
        "k12ai_consul_mirror_lag_events", "Stored events not yet written to Consul", value=health.lag_events
    )
    yield GaugeMetricFamily(
        "k12ai_consul_mirror_lag_seconds",
        "Age of the oldest event not yet written to Consul",
        value=health.lag_s,
    )
