"""Fixtures for the Docker runner's tests: a real engine, the real worker image, a real server.

Skipped, with the reason, only when no Docker engine answers; when one does, the k12ml worker
image is built (offline, cached by the hash of its inputs) by scripts/build_images.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_server.app import Server
from k12ai_server.config import DockerConfig
from tests.conftest import ROOT, ServerProcess, server_config, start_server_process

WORKER_IMAGE = "k12ai-worker:ml"


def _engine_error() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return f"no Docker engine reachable ({type(exc).__name__}: {exc}); start dockerd to run these tests"
    return None


@pytest.fixture(scope="session")
def worker_image() -> str:
    reason = _engine_error()
    if reason:
        pytest.skip(reason)
    subprocess.run([str(ROOT / "scripts" / "build_images"), "--frameworks", "ml"], check=True)
    return WORKER_IMAGE


def docker_config(**overrides: Any) -> DockerConfig:
    return DockerConfig(**{"image": WORKER_IMAGE, **overrides})


async def start_docker_server(tmp_path: Path, **docker: Any) -> Server:
    """An in-process server on the Docker runner; ``docker`` overrides its DockerConfig."""
    return await Server.start(server_config(tmp_path, runner="docker", docker=docker_config(**docker)))


@pytest.fixture(autouse=True)
def remove_test_containers(tmp_path: Path) -> Iterator[None]:
    """Containers outlive servers on purpose; this test's own (its tmp_path mounted) go after it."""
    yield
    if _engine_error():
        return
    import docker

    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": "k12ai.job_id"}):
        if any(m.get("Source", "").startswith(str(tmp_path)) for m in container.attrs.get("Mounts", [])):
            container.remove(force=True)


@pytest.fixture
async def docker_server(tmp_path: Path, worker_image: str) -> AsyncIterator[Server]:
    server = await start_docker_server(tmp_path)
    yield server
    await server.stop()


@pytest.fixture
async def docker_client(docker_server: Server) -> AsyncIterator[AsyncK12AIClient]:
    config = ClientConfig(target=f"127.0.0.1:{docker_server.grpc_port}", user="test")
    async with AsyncK12AIClient(config) as client:
        yield client


@pytest.fixture
def docker_server_process(tmp_path: Path, worker_image: str) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*extra: str) -> ServerProcess:
        sp = start_server_process(tmp_path, "--runner", "docker", "--docker-image", worker_image, *extra)
        started.append(sp)
        return sp

    yield start
    for sp in started:
        sp.stop()
