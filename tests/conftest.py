"""Fixtures that start a real k12ai server on a real port (port 0) with real job processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_server.app import Server
from k12ai_server.config import ServerConfig
from k12ai_server.security.tokens import hash_token

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def example(service: str, name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / service / f"{name}.json").read_text())  # type: ignore[no-any-return]


def server_config(tmp_path: Path, **overrides: Any) -> ServerConfig:
    values: dict[str, Any] = {
        "grpc_port": 0,
        "http_port": 0,
        "data_root": tmp_path / "data",
        "state_dir": tmp_path / "state",
        "heartbeat_s": 0.5,
        "stop_grace_s": 3.0,
        **overrides,
    }
    return ServerConfig(**values)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = await Server.start(server_config(tmp_path))
    yield srv
    await srv.stop()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[AsyncK12AIClient]:
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")) as c:
        yield c


async def assert_eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.05)


@dataclass
class ServerProcess:
    """``k12ai-server`` as a child process, for restart and kill tests."""

    proc: subprocess.Popen[str]
    grpc_port: int
    http_port: int

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=20)


def start_server_process(tmp_path: Path, *extra: str, env: Mapping[str, str] | None = None) -> ServerProcess:
    cmd = [
        sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
        "--data-root", str(tmp_path / "data"), "--state-dir", str(tmp_path / "state"),
        "--heartbeat-s", "0.5", *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"grpc=[^ ]+:(\d+) http=[^ ]+:(\d+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return ServerProcess(proc, int(match.group(1)), int(match.group(2)))


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*extra: str, env: Mapping[str, str] | None = None) -> ServerProcess:
        sp = start_server_process(tmp_path, *extra, env=env)
        started.append(sp)
        return sp

    yield start
    for sp in started:
        sp.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on, held so that nothing else takes it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA with a server (localhost) and a client certificate, for the TLS tests."""
    from tests.pki import make_pki  # imported late: tests.pki imports this module

    return make_pki(tmp_path / "pki")


# API tokens of the secured server: alice and bob are users, root an admin.
TOKENS = {"alice": "k12ai_alice-secret", "bob": "k12ai_bob-secret", "root": "k12ai_root-secret"}


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Server]:
    """A server that requires the TOKENS (stored hashed, as `k12ai-server token create` does)."""
    tokens = tmp_path / "tokens.json"
    entries = [{"user": u, "sha256": hash_token(t), "admin": u == "root"} for u, t in TOKENS.items()]
    tokens.write_text(json.dumps({"tokens": entries}))
    srv = await Server.start(server_config(tmp_path, tokens_file=tokens))
    yield srv
    await srv.stop()
