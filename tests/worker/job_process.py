"""Running one job in a real worker process (``python -m k12ai_worker spec.json``), as the server does."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k12ai_contract.jobs import JobKind
from k12ai_contract.spec import JobSpec

ROOT = Path(__file__).resolve().parents[2]
# Where worker tests keep their data: pytest's temporary directories and the committed fixtures.
# Jobs (and in-process readers, see conftest.py) may read there and nowhere else.
TEST_DATA_ROOTS = (Path(tempfile.gettempdir()), ROOT / "tests" / "fixtures")

# Job ids and folders unique within the test session.
_job_numbers = itertools.count(1)


def example(service: str, name: str) -> dict[str, Any]:
    """The ``service_params`` of ``examples/<service>/<name>.json``."""
    params: dict[str, Any] = json.loads((ROOT / "examples" / service / f"{name}.json").read_text())[
        "service_params"
    ]
    return params


@dataclass
class Job:
    code: int
    events: list[dict[str, Any]]
    stderr: str

    def of(self, type: str) -> list[dict[str, Any]]:
        return [e["payload"] for e in self.events if e["type"] == type]

    @property
    def error(self) -> str:
        errors = self.of("error")
        assert errors, f"no error event (exit {self.code}): {self.stderr}"
        message: str = errors[-1]["message"]
        return message


def run_job(
    service: str,
    work: Path,
    cache: Path,
    kind: str,
    params: dict[str, Any],
    *,
    cwd: Path | None = None,
    timeout_s: float = 300,
    env: Mapping[str, str] | None = None,
    cpu_threads: int = 1,
    data_roots: tuple[Path, ...] = TEST_DATA_ROOTS,
) -> Job:
    """Runs the job to its end in ``work/job<N>`` (also its cwd unless ``cwd`` is given)."""
    number = next(_job_numbers)
    job_dir = work / f"job{number}"
    job_dir.mkdir(parents=True)
    cache.mkdir(parents=True, exist_ok=True)  # as the server does before a start
    spec = JobSpec(
        job_id=f"job{number}", service_name=service, kind=JobKind(kind), user="test",
        service_uuid="123456", params=params, cache_dir=cache, events_path=job_dir / "events.jsonl",
        cpu_threads=cpu_threads, data_roots=data_roots,
    )  # fmt: skip
    spec.dump(job_dir / "spec.json")
    proc = subprocess.run(
        [sys.executable, "-m", "k12ai_worker", str(job_dir / "spec.json")],
        cwd=cwd or job_dir, capture_output=True, text=True, timeout=timeout_s, env=env,
    )  # fmt: skip
    lines = spec.events_path.read_text().splitlines()
    # The file a restarted server reads instead of the process status.
    assert (job_dir / "exit_code").read_text() == str(proc.returncode)
    return Job(proc.returncode, [json.loads(line) for line in lines], proc.stderr)
