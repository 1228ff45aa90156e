"""The files of a job's run directory and of a project's cache directory (server and worker)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# What training leaves in the project's cache directory and evaluate/predict read (the seed's name).
MODEL_ARCHIVE = "model.tar.gz"
# Under the cache directory: one folder per training, named by its job id, holding that run's archive.
RUNS_DIR = "runs"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def spec(self) -> Path:
        """The job spec the server writes before the worker starts."""
        return self.path / "spec.json"

    @property
    def events(self) -> Path:
        """Event lines the worker appends (its durable spool) and the server ingests."""
        return self.path / "events.jsonl"

    @property
    def stderr(self) -> Path:
        """The worker's stdout and stderr."""
        return self.path / "stderr.log"

    @property
    def exit_code(self) -> Path:
        """Written by the worker as it exits, read by a server that was not its parent."""
        return self.path / "exit_code"


@dataclass(frozen=True)
class ProjectDir:
    """A project's cache directory: the latest model as in the seed, and every training's own.

    A training writes ``runs/{job_id}/model.tar.gz`` and then makes that file the project's
    ``model.tar.gz`` (a hard link swapped in by one rename), so the seed's path always holds
    the latest model while each run's stays addressable by its job id.
    """

    path: Path

    @property
    def latest_archive(self) -> Path:
        return self.path / MODEL_ARCHIVE

    @property
    def runs(self) -> Path:
        return self.path / RUNS_DIR

    def run(self, job_id: str) -> Path:
        return self.runs / job_id

    def run_archive(self, job_id: str) -> Path:
        return self.run(job_id) / MODEL_ARCHIVE

    def output_file(self, value: str) -> Path:
        """Where an evaluate/predict job's ``output_file`` goes: a relative path lands here."""
        return self.path / value

    def resolved_output_file(self, value: str) -> Path | None:
        """``output_file`` with its symlinks resolved; None when it leads out of this directory."""
        resolved = Path(os.path.realpath(self.output_file(value)))
        return resolved if resolved.is_relative_to(os.path.realpath(self.path)) else None


def server_owned(relative: Path) -> str | None:
    """What a job's output at ``relative`` (a path inside a project's cache directory) would
    overwrite of what training keeps there, in words; None when it overwrites nothing of it."""
    name = relative.as_posix()
    if name == ".":
        return "the cache directory itself"
    # The archive, and the temporary files it is written through (".model.tar.gz.<n>.tmp").
    if name == MODEL_ARCHIVE or (name.startswith(f".{MODEL_ARCHIVE}.") and name.endswith(".tmp")):
        return f"the trained model ({MODEL_ARCHIVE})"
    if name == RUNS_DIR or name.startswith(f"{RUNS_DIR}/"):
        return f"the models of earlier trainings ({RUNS_DIR}/)"
    return None
