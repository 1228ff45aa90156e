"""Jobs as real containers on a real Docker engine, through a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import pytest
from sklearn.datasets import load_iris

from k12ai_client import AsyncK12AIClient, ClientConfig, reply_message, to_envelope
from k12ai_server.app import Server
from tests.conftest import ServerProcess, assert_eventually, example
from tests.docker.conftest import start_docker_server
from tests.jobs import events_of, run_to_end, running_then_server_killed, slow_training, state_is, states

pytestmark = pytest.mark.docker


def write_iris_csv(path: Path) -> Path:
    iris = load_iris()
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [",".join(["a", "b", "c", "d", "target"])]
    rows += [",".join([*(str(v) for v in x), str(y)]) for x, y in zip(iris.data, iris.target, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def container_of(job_id: str) -> Any:
    [container] = docker.from_env().containers.list(all=True, filters={"label": f"k12ai.job_id={job_id}"})
    return container


async def test_training_runs_in_a_named_labelled_confined_container(
    docker_client: AsyncK12AIClient, docker_server: Server
) -> None:
    csv = write_iris_csv(docker_server.config.data_root / "sets" / "iris.csv")
    body = {**slow_training("confined")}
    body["service_params"] = {**body["service_params"], "dataset": {"type": "csv", "path": str(csv)}}
    body["service_params"]["dataset"]["label_column"] = "target"
    reply = await docker_client.train(body)
    await assert_eventually(lambda: state_is(docker_client, reply.job_id, "running"), 120)

    attrs = container_of(reply.job_id).attrs
    config, host = attrs["Config"], attrs["HostConfig"]
    assert attrs["Name"] == "/train-test-confined"
    assert (
        config["Labels"].items()
        >= {
            "k12ai.service.name": "k12ml",
            "k12ai.user": "test",
            "k12ai.service_uuid": "confined",
            "k12ai.op": "train.start",
            "k12ai.job_id": reply.job_id,
        }.items()
    )
    assert config["User"] and not config["User"].startswith("0:")
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == 8 * 2**30 and host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == 1024 and host["NanoCpus"] > 0
    assert host["ReadonlyRootfs"] and not host["Privileged"]
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts[str(csv)]["RW"] is False
    cache_dir = docker_server.config.data_root / "users" / "test" / "confined"
    assert mounts[str(cache_dir)]["RW"] is True

    await docker_client.train({**body, "op": "train.stop"})
    _, end = await asyncio.wait_for(events_of(docker_client, reply.job_id), 60)
    assert end.state == "stopped"


async def test_train_evaluate_predict_in_containers(
    docker_client: AsyncK12AIClient, docker_server: Server
) -> None:
    events, end = await run_to_end(docker_client, docker_client.train, example("k12ml", "train_iris"))
    assert end.state == "finished"
    metrics = [to_envelope(e)["metrics"] for e in events if e.type == "metrics"]
    assert metrics and metrics[-1]["accuracy"] > 0.8
    cache_dir = docker_server.config.data_root / "users" / "test" / "123456"
    assert (cache_dir / "model.tar.gz").is_file()
    for call, name in ((docker_client.evaluate, "evaluate_iris"), (docker_client.predict, "predict_iris")):
        _, end = await run_to_end(docker_client, call, example("k12ml", name))
        assert end.state == "finished"
    # Finished containers are removed unless configured to be kept.
    assert not docker.from_env().containers.list(all=True, filters={"label": "k12ai.service_uuid=123456"})


async def test_a_container_killed_from_outside_fails_the_job(docker_client: AsyncK12AIClient) -> None:
    reply = await docker_client.train(slow_training("killed"))
    await assert_eventually(lambda: state_is(docker_client, reply.job_id, "running"), 120)
    container_of(reply.job_id).kill()
    _, end = await asyncio.wait_for(events_of(docker_client, reply.job_id), 60)
    assert end.state == "failed"
    assert "killed by SIGKILL" in (await docker_client.get_job(reply.job_id)).reason


async def test_a_job_over_its_memory_limit_fails_with_oom(tmp_path: Path, worker_image: str) -> None:
    server = await start_docker_server(tmp_path, memory="40m")
    try:
        async with AsyncK12AIClient(
            ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
        ) as client:
            _, end = await run_to_end(client, client.train, example("k12ml", "train_iris"))
            job = await client.get_job(end.job_id)
    finally:
        await server.stop()
    assert end.state == "failed"
    assert "memory limit 40m exceeded" in job.reason


async def test_kill_9_of_the_server_loses_and_repeats_no_event(
    docker_server_process: Callable[..., ServerProcess],
) -> None:
    body = slow_training("reattach")
    body["service_params"]["model"]["params"]["n_estimators"] = 60
    job_id = await running_then_server_killed(docker_server_process, body)
    second = docker_server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}", user="test")) as client:
        events, end = await asyncio.wait_for(events_of(client, job_id), 300)
    assert end.state == "finished"
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)), "an event was repeated or out of order"
    assert states(events) == ["queued", "starting", "running", "finished"]
    assert [e.type for e in events].count("metrics") >= 1


async def test_a_job_that_ended_while_the_server_was_down_is_settled(
    docker_server_process: Callable[..., ServerProcess],
) -> None:
    job_id = await running_then_server_killed(docker_server_process, example("k12ml", "train_iris"))
    container = container_of(job_id)
    assert container.wait(timeout=120)["StatusCode"] == 0
    container.reload()
    finished_at = datetime.fromisoformat(container.attrs["State"]["FinishedAt"])
    restarted_ms = time.time_ns() // 1_000_000
    second = docker_server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}", user="test")) as client:
        events, end = await asyncio.wait_for(events_of(client, job_id), 60)
        job = await client.get_job(job_id)
    assert end.state == "finished"
    assert "model saved" in " ".join(str(to_envelope(e)) for e in events)
    # Ended when the container did (Docker's FinishedAt), not when the restarted server saw it.
    assert job.ended_at == int(finished_at.timestamp() * 1000) <= restarted_ms
    assert events[-1].timestamp == job.ended_at


async def test_stats_lists_the_container_and_control_stops_it(docker_client: AsyncK12AIClient) -> None:
    reply = await docker_client.train(slow_training("stats"))
    await assert_eventually(lambda: state_is(docker_client, reply.job_id, "running"), 120)
    query = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "s"}

    async def sampled() -> bool:
        stats = reply_message(await docker_client.stats(query))
        return any(c["cpu_memory_usage"] > 0 for c in stats["containers"])

    await assert_eventually(sampled, 30)
    [row] = reply_message(await docker_client.stats(query))["containers"]
    assert row["id"] == container_of(reply.job_id).id[:12]
    assert (row["op"], row["user"], row["service_uuid"]) == ("train.start", "test", "stats")
    assert row["cpu_memory_total"] > 0 and 0 <= row["cpu_memory_percent"] <= 100
    stop = {**query, "op": "container.stop", "service_params": {"id": row["id"]}}
    await docker_client.control(stop)
    _, end = await asyncio.wait_for(events_of(docker_client, reply.job_id), 60)
    assert end.state == "stopped"


async def test_a_readopted_container_can_be_stopped(
    docker_server_process: Callable[..., ServerProcess],
) -> None:
    body = slow_training("readopt-stop")
    job_id = await running_then_server_killed(docker_server_process, body)
    second = docker_server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}", user="test")) as client:
        assert container_of(job_id).status == "running"
        await client.train({**body, "op": "train.stop"})
        events, end = await asyncio.wait_for(events_of(client, job_id), 60)
    assert end.state == "stopped"
    assert states(events) == ["queued", "starting", "running", "stopped"]
    assert not docker.from_env().containers.list(all=True, filters={"label": f"k12ai.job_id={job_id}"})


async def test_finished_containers_are_kept_when_configured(tmp_path: Path, worker_image: str) -> None:
    server = await start_docker_server(tmp_path, keep_containers=True)
    try:
        async with AsyncK12AIClient(
            ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
        ) as client:
            _, end = await run_to_end(client, client.train, example("k12ml", "train_iris"))
    finally:
        await server.stop()
    assert end.state == "finished"
    kept = container_of(end.job_id)
    assert kept.status == "exited" and kept.attrs["State"]["ExitCode"] == 0
