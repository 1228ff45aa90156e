"""The interface every runner implements: local processes, Docker containers, Ray jobs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from k12ai_server.jobs.model import Job

STDERR_TAIL_LINES = 20


class RunnerUnavailableError(Exception):
    """The runner's engine (a Ray head, ...) cannot be reached at start; the message says how to fix it."""


class EventChannel(enum.StrEnum):
    """How a job's events reach the server; both feed the one ingest path."""

    # The server tails the job's events file in its run directory.
    FILE = "file"
    # A shipper beside the job sends the file's lines to the internal EventIngestService.
    NETWORK = "network"


@dataclass(frozen=True, kw_only=True)
class ExitStatus:
    # None when the job ran while the server was down and left no exit file.
    exit_code: int | None
    # Why it ended, in words, when not a clean exit (signal, OOM, stderr tail).
    reason: str = ""
    oom_killed: bool = False


@dataclass(frozen=True, kw_only=True)
class RunningJob:
    """What Platform.Stats shows of a running job, in the seed's `containers` shape."""

    id: str
    cpu_percent: float
    cpu_memory_total: int
    cpu_memory_usage: int
    cpu_memory_percent: float
    op: str
    user: str
    service_uuid: str
    job_id: str
    # The cluster node it runs on (Ray); "" on a single host.
    node: str = ""


class RunHandle(Protocol):
    """A launched job."""

    @property
    def ref(self) -> str:
        """The pid or container id, as stored in the job row."""
        ...

    async def wait(self) -> ExitStatus: ...

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, then SIGKILL once ``grace_s`` has passed."""
        ...


class PlacementListener(Protocol):
    """Told by a runner whose cluster places jobs (Ray) where a job stands."""

    def waiting(self, job_id: str, reason: str) -> None:
        """Submitted, but the cluster holds it back (no free GPU, ...): queued, with ``reason``."""
        ...

    def placed(self, job_id: str, node: str) -> None:
        """The cluster has started it on ``node``."""
        ...


class Runner(Protocol):
    event_channel: EventChannel

    def listen(self, listener: PlacementListener) -> None:
        """Where to report placement; a runner that places jobs at once never calls it."""
        ...

    async def launch(self, job: Job) -> RunHandle:
        """Start the worker on ``job.spec_path``; it writes ``job.events_path``."""
        ...

    async def adopt(self, job: Job) -> RunHandle | None:
        """Re-attach to a job started before a server restart; None if it is gone."""
        ...

    def running(self) -> list[RunningJob]: ...

    async def close(self) -> None: ...
