"""A Ray head that does not answer at start: a clear error and exit, no job touched (no cluster needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_server_refuses_to_start_without_its_ray_head(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    cmd = [
        sys.executable, "-m", "k12ai_server", "--runner", "ray", "--ray-address", "http://127.0.0.1:1",
        "--grpc-port", "0", "--http-port", "0", "--state-dir", str(tmp_path / "state"),
        "--data-root", str(tmp_path / "data"),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "the Ray cluster at 'http://127.0.0.1:1' does not answer" in done.stderr
    assert "--ray-address" in done.stderr and "Traceback" not in done.stderr
    assert "listening" not in done.stdout


def test_ray_runner_without_an_address_is_refused(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "k12ai_server", "--runner", "ray", "--grpc-port", "0", "--http-port", "0",
        "--state-dir", str(tmp_path / "state"), "--data-root", str(tmp_path / "data"),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_without_ray_address())
    assert done.returncode == 2, done.stderr
    assert "--runner ray needs --ray-address (K12AI_RAY_ADDRESS)" in done.stderr


def _without_ray_address() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "K12AI_RAY_ADDRESS"}
