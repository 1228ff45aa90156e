"""The interface every runner implements: local processes now, Docker next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from k12ai_server.jobs.model import Job

STDERR_TAIL_LINES = 20


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


class Runner(Protocol):
    async def launch(self, job: Job) -> RunHandle:
        """Start the worker on ``job.spec_path``; it writes ``job.events_path``."""
        ...

    async def adopt(self, job: Job) -> RunHandle | None:
        """Re-attach to a job started before a server restart; None if it is gone."""
        ...

    def running(self) -> list[RunningJob]: ...

    async def close(self) -> None: ...
