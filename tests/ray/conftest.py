"""The Ray cluster (started once per test session) and k12ai servers on the Ray runner.

The cluster's worker nodes live in their own network namespaces (tests/ray/cluster.py);
the servers bind their ingest service to the bridge address the nodes reach, while
their public API stays on loopback.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_server.app import Server
from k12ai_server.config import IngestConfig, RayConfig
from tests.conftest import ServerProcess, server_config, start_server_process
from tests.ray.cluster import RayCluster, missing_requirements, start_cluster

# A fixed ingest port for servers that restart: the jobs' specs name it. Only this
# session's bridge address is bound, which nothing else on the host uses.
RESTART_INGEST_PORT = 8120


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    reason = missing_requirements()
    if reason:
        pytest.skip(f"no Ray test cluster: {reason}")
    cluster = start_cluster(workers=2, gpus_per_worker=1)
    print(f"Ray test cluster of {len(cluster.nodes) + 1} nodes started in {cluster.start_s:.1f} s")
    yield cluster
    cluster.close()


def ray_config(cluster: RayCluster, tmp_path: Path) -> RayConfig:
    return RayConfig(address=cluster.dashboard_url, python=sys.executable, spool_dir=tmp_path / "spool")


@pytest.fixture
async def ray_server(ray_cluster: RayCluster, tmp_path: Path) -> AsyncIterator[Server]:
    config = server_config(
        tmp_path,
        runner="ray",
        ray=ray_config(ray_cluster, tmp_path),
        ingest=IngestConfig(host=ray_cluster.head_address, port=0),
        max_running_jobs=16,
    )
    server = await Server.start(config)
    yield server
    await server.stop()


@pytest.fixture
async def ray_client(ray_server: Server) -> AsyncIterator[AsyncK12AIClient]:
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{ray_server.grpc_port}", user="test")) as c:
        yield c


@pytest.fixture
def ray_server_process(ray_cluster: RayCluster, tmp_path: Path) -> Iterator[Callable[[], ServerProcess]]:
    """Starts ``k12ai-server --runner ray`` as a process (for kill -9), the same state each time."""
    started: list[ServerProcess] = []
    config = ray_config(ray_cluster, tmp_path)

    def start() -> ServerProcess:
        sp = start_server_process(
            tmp_path,
            "--runner", "ray", "--ray-address", config.address, "--ray-python", config.python,
            "--ray-spool-dir", str(config.spool_dir), "--ingest-host", ray_cluster.head_address,
            "--ingest-port", str(RESTART_INGEST_PORT), "--max-running-jobs", "16", "--stop-grace-s", "3",
        )  # fmt: skip
        started.append(sp)
        return sp

    yield start
    for sp in started:
        sp.stop()
