"""The state database damaged, deleted or replaced: never a silent loss, never a second worker.

A damaged file stops the start with a message naming it and what to do. A file deleted or
replaced under a running server stops intake: health NOT_SERVING, new starts refused with
100503, running jobs left alone; the next server takes them back from their run directories.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, ReplyError, to_envelope
from k12ai_server.app import Server
from k12ai_server.state.db import DB_FILE
from tests.conftest import assert_eventually, example, server_config
from tests.jobs import events_of, slow_training, state_is, workers_of

Code = common_pb2.ReplyCode


def client_of(server: Server) -> AsyncK12AIClient:
    return AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test"))


async def health(server: Server) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    status: int = reply.status
    return status


def start_command(tmp_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
        "--data-root", str(tmp_path / "data"), "--state-dir", str(tmp_path / "state"),
    ]  # fmt: skip


async def a_database_with_jobs(tmp_path: Path) -> Path:
    server = await Server.start(server_config(tmp_path))
    try:
        async with client_of(server) as client:
            for uuid in ("a", "b", "c"):
                reply = await client.train({**example("k12ml", "train_iris"), "service_uuid": uuid})
                await asyncio.wait_for(events_of(client, reply.job_id), 120)
    finally:
        await server.stop()
    return tmp_path / "state" / DB_FILE


@pytest.mark.parametrize("damage", ["a damaged page", "not a database"])
async def test_a_damaged_database_stops_the_start_and_says_what_to_do(tmp_path: Path, damage: str) -> None:
    path = await a_database_with_jobs(tmp_path)
    with path.open("r+b") as f:
        f.seek(0 if damage == "not a database" else path.stat().st_size // 2)
        f.write(os.urandom(8192))
    started = await asyncio.to_thread(
        subprocess.run, start_command(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert started.returncode != 0
    assert "listening" not in started.stdout
    assert f"state database {path} is damaged" in started.stderr
    assert "move the file aside" in started.stderr
    assert "Traceback" not in started.stderr


@pytest.fixture
async def running_job(tmp_path: Path) -> AsyncIterator[tuple[Server, str]]:
    server = await Server.start(server_config(tmp_path))
    async with client_of(server) as client:
        reply = await client.train(slow_training("db"))
        await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
    yield server, reply.job_id
    await server.stop()
    for proc in workers_of(reply.job_id):
        proc.kill()


async def assert_intake_stopped(server: Server) -> None:
    async def not_serving() -> bool:
        return bool(await health(server) == health_pb2.HealthCheckResponse.NOT_SERVING)

    await assert_eventually(not_serving, 10)
    async with client_of(server) as client:
        with pytest.raises(ReplyError) as refused:
            await client.train({**example("k12ml", "train_iris"), "service_uuid": "after"})
    assert refused.value.code == Code.REPLY_CODE_UNAVAILABLE
    assert "state database is lost" in refused.value.message


async def test_a_deleted_database_stops_intake_and_the_next_server_takes_the_job_back(
    running_job: tuple[Server, str], tmp_path: Path
) -> None:
    server, job_id = running_job
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "state" / f"{DB_FILE}{suffix}").unlink(missing_ok=True)
    await assert_intake_stopped(server)
    assert len(workers_of(job_id)) == 1  # the job runs on
    await server.stop()

    restarted = await Server.start(server_config(tmp_path))
    try:
        async with client_of(restarted) as client:
            await assert_eventually(lambda: state_is(client, job_id, "running"), 30)
            with pytest.raises(ReplyError) as refused:
                await client.train(slow_training("db"))
            assert refused.value.code == Code.REPLY_CODE_JOB_ALREADY_RUNNING
            assert len(workers_of(job_id)) == 1
            await client.train({**slow_training("db"), "op": "train.stop", "service_params": {}})
            events, end = await asyncio.wait_for(events_of(client, job_id), 60)
        assert end.state == "stopped"
        assert any(e.type == "info" and "taken back from its run directory" in str(e.payload) for e in events)
        # What the worker wrote while the first server ran, stored again.
        assert [to_envelope(e)["status"]["state"] for e in events if e.type == "status"] == [
            "running",
            "stopped",
        ]
    finally:
        await restarted.stop()


async def test_a_replaced_database_stops_intake(running_job: tuple[Server, str], tmp_path: Path) -> None:
    server, job_id = running_job
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    other.replace(tmp_path / "state" / DB_FILE)
    await assert_intake_stopped(server)
    assert len(workers_of(job_id)) == 1
