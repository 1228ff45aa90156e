"""How a worker is started, and what its exit status means."""

from __future__ import annotations

from pathlib import Path

WORKER_MODULE = "k12ai_worker"
# The worker's exit status: 0 finished, EXIT_BAD_INPUT the user's input was wrong (an
# ``error`` event says which key), anything else a crash.
EXIT_BAD_INPUT = 2


def worker_command(spec_path: Path, *, python: str = "python") -> list[str]:
    """The command line that runs the job described by ``spec_path``."""
    return [python, "-m", WORKER_MODULE, str(spec_path)]
