"""The files of a job's run directory, which the server and the worker both use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# What training leaves in the project's cache directory and evaluate/predict read (the seed's name).
MODEL_ARCHIVE = "model.tar.gz"


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


def server_owned(relative: Path) -> str | None:
    """What a job's output at ``relative`` (a path inside a project's cache directory) would
    overwrite of what training keeps there, in words; None when it overwrites nothing of it."""
    name = relative.as_posix()
    if name == ".":
        return "the cache directory itself"
    # The archive, and the temporary files it is written through (".model.tar.gz.<n>.tmp").
    if name == MODEL_ARCHIVE or (name.startswith(f".{MODEL_ARCHIVE}.") and name.endswith(".tmp")):
        return f"the trained model ({MODEL_ARCHIVE})"
    return None
