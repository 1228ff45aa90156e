"""What a job is: its identity, its states, its row."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class JobKind(enum.StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"
    PREDICT = "predict"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"

    def is_terminal(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED, JobState.STOPPED)


LIVE_STATES = (JobState.QUEUED, JobState.STARTING, JobState.RUNNING)


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


@dataclass(frozen=True, kw_only=True)
class Job:
    job_id: str
    identity: JobIdentity
    state: JobState
    params: dict[str, Any]
    cache_dir: Path
    # Server-side files of the job: spec.json, events.jsonl, stderr.log.
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

    @property
    def op(self) -> str:
        return f"{self.identity.kind.value}.start"

    @property
    def events_path(self) -> Path:
        return self.run_dir / "events.jsonl"

    @property
    def spec_path(self) -> Path:
        return self.run_dir / "spec.json"

    @property
    def stderr_path(self) -> Path:
        return self.run_dir / "stderr.log"

    @property
    def exit_path(self) -> Path:
        # Written by the worker as it exits, read when the server was not its parent.
        return self.run_dir / "exit_code"
