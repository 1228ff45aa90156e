"""How a worker is started, and what its exit status means."""

from __future__ import annotations

from pathlib import Path

WORKER_MODULE = "k12ai_worker"
# Runs the worker as its child and ships its events file to the spec's ``ship_to``.
SHIPPER_MODULE = "k12ai_worker.shipping"
# The spec argument that means "the spec's JSON is in the SPEC_ENV variable" (a job on a
# cluster node, where no file of the server's can be read).
SPEC_FROM_ENV = "-"
SPEC_ENV = "K12AI_JOB_SPEC"
# The worker's exit status: 0 finished, EXIT_BAD_INPUT the user's input was wrong (an
# ``error`` event says which key), anything else a crash.
EXIT_BAD_INPUT = 2


def worker_command(spec_path: Path | str, *, python: str = "python", shipped: bool = False) -> list[str]:
    """The command line that runs the job described by ``spec_path`` (or SPEC_FROM_ENV).

    ``shipped``: through the shipper, which sends the events to the spec's ``ship_to``.
    """
    return [python, "-m", SHIPPER_MODULE if shipped else WORKER_MODULE, str(spec_path)]
