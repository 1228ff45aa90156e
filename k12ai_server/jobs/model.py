"""What a job is to the server: its identity and its row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k12ai_contract.jobs import JobKind, JobState
from k12ai_contract.rundir import RunDir


@dataclass(frozen=True, kw_only=True)
class JobIdentity:
    """At most one live job per identity."""

    user: str
    service_name: str
    service_uuid: str
    kind: JobKind

    @property
    def name(self) -> str:
        # The seed's container name, e.g. "evaluate-test-123456".
        return f"{self.kind.value}-{self.user}-{self.service_uuid}"


@dataclass(frozen=True)
class InputPath:
    """A file a job reads, as checked at admission."""

    # Its key path in service_params, e.g. "dataset.path".
    key: str
    # As the user wrote it: what the worker opens (a container mounts it at this path).
    given: str
    # Symlinks resolved: what lies under a data root.
    resolved: str


@dataclass(frozen=True, kw_only=True)
class Job:
    job_id: str
    identity: JobIdentity
    state: JobState
    params: dict[str, Any]
    cache_dir: Path
    # Server-side files of the job (see k12ai_contract.rundir).
    run_dir: Path
    created_at: int
    gpus_wanted: int = 0
    devices: tuple[int, ...] = ()
    runner_ref: str = ""
    reason: str = ""
    exit_code: int | None = None
    started_at: int = 0
    ended_at: int = 0
    events_offset: int = 0
    inputs: tuple[InputPath, ...] = ()

    @property
    def op(self) -> str:
        return self.identity.kind.start_op

    @property
    def files(self) -> RunDir:
        return RunDir(self.run_dir)

    @property
    def events_path(self) -> Path:
        return self.files.events

    @property
    def spec_path(self) -> Path:
        return self.files.spec

    @property
    def stderr_path(self) -> Path:
        return self.files.stderr

    @property
    def exit_path(self) -> Path:
        return self.files.exit_code
