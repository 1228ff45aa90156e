"""A stand-in for a model whose code prints (and may raise), pickled into a real k12ml archive.

k12ml's own code prints nothing; a user's model, a library's progress bar or a crash do. A
predict job with this model in its project's ``model.tar.gz`` is a real job through the real
server and worker, whose output is this model's. The worker imports this module to unpickle
it, so the server that runs such jobs gets the repository root on ``PYTHONPATH``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from k12ai_contract.jobs import JobKind
from k12ai_contract.spec import JobSpec
from k12ai_worker.k12ml import archive


@dataclass
class NoisyModel:
    # Lines printed to stdout, then to stderr, by each predict_proba call; a pause after each.
    stdout_lines: int = 0
    stderr_lines: int = 0
    pause_s: float = 0.0
    # Raised (a RuntimeError) after printing, when set.
    crash: str = ""
    # Each stdout line ends with when it was written (time.time_ns()), for scripts/bench_logs.py.
    stamped: bool = False

    def predict_proba(self, features: Any) -> Any:
        for number in range(self.stdout_lines):
            print(f"stdout line {number}" + (f" {time.time_ns()}" if self.stamped else ""))
            if self.pause_s:
                time.sleep(self.pause_s)
        for number in range(self.stderr_lines):
            print(f"stderr line {number}", file=sys.stderr)
        if self.crash:
            raise RuntimeError(self.crash)
        return np.full((len(features), 2), 0.5)


def install(cache_dir: Path, model: NoisyModel) -> None:
    """Makes ``model`` the project's latest k12ml model (an archive as a training writes it)."""
    spec = JobSpec(
        job_id="noisy", service_name="k12ml", kind=JobKind.TRAIN, user="test", service_uuid=cache_dir.name,
        params={}, cache_dir=cache_dir, events_path=cache_dir / "unused-events.jsonl",
    )  # fmt: skip
    trained = archive.TrainedModel(
        pipeline=model,
        classes=("a", "b"),
        feature_names=("x", "y"),
        label_column=None,
        params={},
        metrics={},
        validation_rows=(),
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive.save(trained, spec)
