"""How a worker is started, what it is handed, and what its exit status means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

WORKER_MODULE = "k12ai_worker"
# The worker's exit status: 0 finished, EXIT_BAD_INPUT the user's input was wrong (an
# ``error`` event says which key), anything else a crash.
EXIT_BAD_INPUT = 2
# The GPUs a runner hands a worker, as CUDA numbers them for it: the host's ids for a local
# process, 0..n-1 inside a container that was given n. Empty hides every GPU (a CPU job).
GPU_ENV = "CUDA_VISIBLE_DEVICES"


def worker_command(spec_path: Path, *, python: str = "python") -> list[str]:
    """The command line that runs the job described by ``spec_path``."""
    return [python, "-m", WORKER_MODULE, str(spec_path)]


def spec_of_command(argv: Sequence[str]) -> Path | None:
    """The spec path of a worker's command line (``worker_command``); None for any other command."""
    if len(argv) >= 4 and list(argv[-3:-1]) == ["-m", WORKER_MODULE]:
        return Path(argv[-1])
    return None


def gpu_environment(devices: Sequence[int]) -> dict[str, str]:
    return {GPU_ENV: ",".join(str(d) for d in devices)}


def given_gpus(environ: Mapping[str, str]) -> list[int]:
    """The GPUs this worker was handed ([] when none, or when no runner set the variable)."""
    return [int(part) for part in environ.get(GPU_ENV, "").split(",") if part.strip().isdigit()]
