"""The interface every runner implements: local processes, Docker containers, Ray jobs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
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
    # When the worker ended (ms since the epoch), where the runner knows it: a job that ended while
    # no server watched it ends then, not when a later server noticed. None: at settling.
    ended_at: int | None = None


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


@dataclass(frozen=True, kw_only=True)
class FoundWorker:
    """A job's worker found by what it carries (its spec path, its job-id label), not by a saved ref."""

    # The pid or container id.
    ref: str
    # The GPUs it was handed, where the runner can tell.
    devices: tuple[int, ...] = ()
    # False for a container that ended but is not removed yet: it still holds the exit status.
    running: bool = True


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
        """Start the worker on ``job.spec_path`` with ``job.devices``; it writes ``job.events_path``.

        The spec was written at admission; a runner reads what it needs from ``job`` and
        rewrites nothing.
        """
        ...

    async def find_workers(self, runs_root: Path) -> dict[str, FoundWorker]:
        """Every worker this runner still has of a job in ``runs_root`` (``<runs_root>/<job_id>``), by job id.

        Found by what each worker carries, so a worker whose ref was never saved (the
        server died right after starting it) is found too; workers of other servers'
        state directories are not.
        """
        ...

    async def adopt(self, job: Job, found: FoundWorker) -> RunHandle | None:
        """Re-attach to a worker ``find_workers`` found; None if it is gone meanwhile."""
        ...

    def running(self) -> list[RunningJob]: ...

    async def close(self) -> None: ...
