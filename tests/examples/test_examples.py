"""Every request under ``examples/`` runs as written, through the ``k12ai`` CLI, against a real
server whose data root holds what ``k12ai examples data`` writes (README, "First job")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from k12ai_contract.jobs import JobKind
from tests.conftest import EXAMPLES, ServerProcess, start_server_process

KIND_ORDER = {kind.start_op: number for number, kind in enumerate(JobKind)}


def examples_in_order() -> list[Path]:
    """Each framework's files, its training first: its evaluate and predict read that model."""

    def order(file: Path) -> tuple[str, int, str]:
        return file.parent.name, KIND_ORDER[json.loads(file.read_text())["op"]], file.name

    return sorted(EXAMPLES.glob("*/*.json"), key=order)


def k12ai(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "k12ai_client", *args], capture_output=True, text=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("examples")
    written = k12ai("examples", "data", env={**os.environ, "K12AI_DATA_ROOT": str(folder / "data")})
    assert written.returncode == 0, written.stderr
    with pytest.MonkeyPatch.context() as patch:
        # One torch thread per job: the CI machine's two cores are shared with the other tests.
        patch.setenv("OMP_NUM_THREADS", "1")
        server = start_server_process(folder)
    yield server
    server.stop()


@pytest.mark.parametrize("file", examples_in_order(), ids=lambda f: f"{f.parent.name}/{f.name}")
def test_example_runs_as_written(served: ServerProcess, file: Path) -> None:
    kind = json.loads(file.read_text())["op"].split(".")[0]
    run = k12ai("--target", f"127.0.0.1:{served.grpc_port}", kind, "start", "--config", str(file), "--watch")
    assert run.returncode == 0, run.stdout + run.stderr
