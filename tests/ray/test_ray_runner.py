"""k12ai on a real Ray cluster: GPU placement and queueing, events over the network, cuts, kills.

Every job runs on a worker node in its own network namespace; its events reach the
server only through the shipper's RPC (the server's run directory never holds an
events file), and each test compares what Watch returns with the worker's spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from ray.job_submission import JobSubmissionClient

from k12ai_client import AsyncK12AIClient, ClientConfig, Event, reply_message, to_envelope
from k12ai_server.app import Server
from k12ai_server.config import IngestConfig
from k12ai_server.runners.ray_status import node_of
from tests.conftest import ServerProcess, assert_eventually, example, server_config
from tests.jobs import events_of, run_to_end, slow_training, states
from tests.k12nlp_requests import seed_train_request
from tests.platform_requests import stats_request
from tests.ray.cluster import RayCluster
from tests.ray.conftest import ray_config
from tests.spool import spool_events, worker_events

# The first test also waits for the session's cluster to start (a minute or more on a loaded machine).
pytestmark = [pytest.mark.ray, pytest.mark.timeout(1200)]

# A hang guard only: on a loaded 2-core machine a small training can take minutes.
JOB_TIMEOUT_S = 480.0


def node_of_job(cluster: RayCluster, job_id: str) -> str:
    return node_of(JobSubmissionClient(cluster.dashboard_url).get_job_info(job_id))


def spool_of(tmp_path: Path, job_id: str) -> Path:
    return tmp_path / "spool" / job_id / "events.jsonl"


def gpu_training(data: Path, uuid: str) -> dict[str, Any]:
    body = seed_train_request(data)
    body["service_uuid"] = uuid
    body["service_params"]["overrides"] = {
        "trainer.num_epochs": 1,
        "iterator.batch_size": 32,
        "trainer.cuda_device": 0,
    }
    return body


def long_training(data: Path, uuid: str, epochs: int) -> dict[str, Any]:
    """k12nlp on the small fixtures for many epochs: a metrics event every fraction of a second."""
    body = seed_train_request(data)
    body["service_uuid"] = uuid
    body["service_params"]["overrides"] = {
        "trainer.num_epochs": epochs,
        "trainer.patience": epochs,
        "iterator.batch_size": 8,
    }
    return body


def stop_request(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "op": "train.stop", "service_params": {}}


def running_at(events: list[Event]) -> int:
    return next(e.timestamp for e in events if e.type == "status" and _state(e) == "running")


def last_worker_event_at(events: list[Event]) -> int:
    return max(timestamp for _, timestamp in worker_events(events))


def _state(event: Event) -> str:
    return str(to_envelope(event)["status"]["state"])


async def wait_running(client: AsyncK12AIClient, job_id: str) -> None:
    async def running() -> bool:
        return (await client.get_job(job_id)).state == "running"

    await assert_eventually(running, JOB_TIMEOUT_S)


async def test_three_gpu_jobs_on_two_gpus_take_turns_on_different_nodes(
    ray_client: AsyncK12AIClient, ray_server: Server, ray_cluster: RayCluster
) -> None:
    data = ray_server.config.data_root / "datasets" / "nlp"
    replies = [await ray_client.train(gpu_training(data, f"gpu{i}")) for i in range(3)]
    ended = await asyncio.wait_for(
        asyncio.gather(*(events_of(ray_client, r.job_id) for r in replies)), JOB_TIMEOUT_S
    )
    assert [end.state for _, end in ended] == ["finished"] * 3, ended
    # (worker's running, its last event, node, events) of each job, in the order they started.
    runs = sorted(
        (running_at(events), last_worker_event_at(events), node_of_job(ray_cluster, reply.job_id), events)
        for reply, (events, _) in zip(replies, ended, strict=True)
    )
    first, second, third = runs
    assert first[2] != second[2], "the first two GPU jobs ran at once, so on different nodes"
    assert {first[2], second[2]} == {n.address for n in ray_cluster.nodes[:2]}
    # The third waited for a GPU: held by Ray after k12ai started it, until one of the others ended.
    held_then = states(third[3])
    assert held_then[:3] == ["queued", "starting", "queued"]
    # It leaves the hold with Ray's placement (`starting`), or with the job's own `running` when
    # that comes before the runner's next look at the cluster (every 0.25 s).
    assert held_then[3] in ("starting", "running"), held_then
    assert "running" in held_then[3:]
    held = [to_envelope(e)["status"] for e in third[3] if e.type == "status"][2]
    assert "waiting in the Ray cluster for a node with 1 GPU" in held["reason"]
    assert third[0] >= min(first[1], second[1])
    # No node ever ran two GPU jobs at once.
    for i, earlier in enumerate(runs):
        for later in runs[i + 1 :]:
            if earlier[2] == later[2]:
                assert later[0] >= earlier[1]


async def test_train_evaluate_predict_on_the_cluster_ship_every_event_once(
    ray_client: AsyncK12AIClient, ray_server: Server, tmp_path: Path
) -> None:
    events, end = await asyncio.wait_for(
        run_to_end(ray_client, ray_client.train, example("k12ml", "train_iris")), JOB_TIMEOUT_S
    )
    assert end.state == "finished", end
    job = ray_server.jobs.get(end.job_id)
    assert job is not None
    assert not job.events_path.exists(), "the server's run dir holds no events file: they came by network"
    # Its end is Ray's end_time (ms): after its start, and no later than now.
    assert job.started_at <= job.ended_at <= time.time_ns() // 1_000_000
    assert worker_events(events) == spool_events(spool_of(tmp_path, end.job_id))
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert (ray_server.config.data_root / "users" / "test" / "123456" / "model.tar.gz").is_file()

    for call, name in ((ray_client.evaluate, "evaluate_iris"), (ray_client.predict, "predict_iris")):
        events, end = await asyncio.wait_for(
            run_to_end(ray_client, call, example("k12ml", name)), JOB_TIMEOUT_S
        )
        assert end.state == "finished", (name, end)
        assert worker_events(events) == spool_events(spool_of(tmp_path, end.job_id))
    assert any(e.type == "predict" for e in events)


async def test_a_cut_link_loses_and_repeats_nothing(
    ray_client: AsyncK12AIClient, ray_server: Server, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    body = long_training(ray_server.config.data_root / "datasets" / "nlp", "cut", epochs=1000)
    reply = await ray_client.train(body)
    await wait_running(ray_client, reply.job_id)
    address = node_of_job(ray_cluster, reply.job_id)
    stats = reply_message(await ray_client.stats(stats_request(False, containers=True)))
    assert any(c["id"] == reply.job_id[:12] and c["node"] == address for c in stats["containers"])
    (node,) = [n for n in ray_cluster.nodes if n.address == address]
    spool = spool_of(tmp_path, reply.job_id)

    def stored() -> int:
        job = ray_server.jobs.get(reply.job_id)
        assert job is not None
        return job.events_offset

    ray_cluster.cut(node)
    try:
        cut_at = stored()

        async def piled_up() -> bool:
            # Events written during the cut wait in the spool (kept short: Ray too sees the node gone).
            return spool.stat().st_size > cut_at

        await assert_eventually(piled_up, JOB_TIMEOUT_S)
        assert stored() == cut_at
    finally:
        ray_cluster.restore(node)

    async def caught_up() -> bool:
        return stored() == spool.stat().st_size and stored() > cut_at

    await assert_eventually(caught_up, JOB_TIMEOUT_S)
    await ray_client.train(stop_request(body))
    events, end = await asyncio.wait_for(events_of(ray_client, reply.job_id), JOB_TIMEOUT_S)
    assert end.state == "stopped"
    assert worker_events(events) == spool_events(spool)


async def test_server_killed_and_restarted_re_adopts_its_ray_jobs(
    ray_server_process: Callable[[], ServerProcess], tmp_path: Path
) -> None:
    server = ray_server_process()
    config = ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
    data = tmp_path / "data" / "datasets" / "nlp"
    finishing, stopping = (
        long_training(data, "finishes", epochs=5),
        long_training(data, "stops", epochs=1000),
    )
    async with AsyncK12AIClient(config) as client:
        done = await client.train(finishing)
        stopped = await client.train(stopping)
        await wait_running(client, done.job_id)
        await wait_running(client, stopped.job_id)
    spools = {job_id: spool_of(tmp_path, job_id) for job_id in (done.job_id, stopped.job_id)}
    sizes = {job_id: path.stat().st_size for job_id, path in spools.items()}
    server.kill()

    async def written_while_down() -> bool:
        return all(path.stat().st_size > sizes[job_id] for job_id, path in spools.items())

    await assert_eventually(written_while_down, JOB_TIMEOUT_S)
    server = ray_server_process()
    config = ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
    async with AsyncK12AIClient(config) as client:
        events, end = await asyncio.wait_for(events_of(client, done.job_id), JOB_TIMEOUT_S)
        assert end.state == "finished", end
        assert worker_events(events) == spool_events(spools[done.job_id])
        await client.train(stop_request(stopping))
        events, end = await asyncio.wait_for(events_of(client, stopped.job_id), JOB_TIMEOUT_S)
        assert end.state == "stopped", end
        assert worker_events(events) == spool_events(spools[stopped.job_id])


@contextlib.asynccontextmanager
async def client_of_server_asking(
    cluster: RayCluster, tmp_path: Path, cpus_per_job: float
) -> AsyncIterator[AsyncK12AIClient]:
    """A client of a server of its own whose jobs each ask Ray for ``cpus_per_job`` CPUs."""
    config = server_config(
        tmp_path,
        runner="ray",
        ray=dataclasses.replace(ray_config(cluster, tmp_path), cpus_per_job=cpus_per_job),
        ingest=IngestConfig(host=cluster.head_address, port=0),
    )
    server = await Server.start(config)
    try:
        target = f"127.0.0.1:{server.grpc_port}"
        async with AsyncK12AIClient(ClientConfig(target=target, user="test")) as client:
            yield client
    finally:
        await server.stop()


async def test_a_lost_node_fails_its_job_naming_the_node(ray_cluster: RayCluster, tmp_path: Path) -> None:
    # A node of its own for this test: only it has the 3 CPUs each job of this server asks for.
    doomed = await asyncio.to_thread(ray_cluster.add_node, cpus=3)
    async with client_of_server_asking(ray_cluster, tmp_path, cpus_per_job=3) as client:
        reply = await client.train(slow_training())
        await wait_running(client, reply.job_id)
        assert node_of_job(ray_cluster, reply.job_id) == doomed.address
        ray_cluster.kill_node(doomed)
        _, end = await asyncio.wait_for(events_of(client, reply.job_id), JOB_TIMEOUT_S)
        assert end.state == "failed"
        reason = (await client.get_job(reply.job_id)).reason
        assert f"Ray node {doomed.address} was lost" in reason


async def held_by_ray(client: AsyncK12AIClient, job_id: str) -> str:
    """The reason of the job's `queued` status once Ray holds it (after k12ai started it)."""
    async for item in client.watch(job_id=job_id, types=["status"]):
        if isinstance(item, Event):
            status = to_envelope(item)["status"]
            if status["state"] == "queued" and "Ray cluster" in status.get("reason", ""):
                return str(status["reason"])
    raise AssertionError("the job ended before Ray held it")


async def test_a_job_ray_holds_pending_is_stopped_at_once(ray_cluster: RayCluster, tmp_path: Path) -> None:
    # More CPUs a job than any node has: Ray holds this server's jobs PENDING for good.
    async with client_of_server_asking(ray_cluster, tmp_path, cpus_per_job=1000) as client:
        body = example("k12ml", "train_iris")
        reply = await client.train(body)
        reason = await asyncio.wait_for(held_by_ray(client, reply.job_id), JOB_TIMEOUT_S)
        assert "1000 CPU" in reason
        stopped = await client.train(stop_request(body))
        assert stopped.code == 100000, stopped
        events, end = await asyncio.wait_for(events_of(client, reply.job_id), JOB_TIMEOUT_S)
        assert end.state == "stopped", end
        assert "running" not in states(events)
        # Ray still holds the submission (it stops only placed jobs); nothing of it ran.
        ray = JobSubmissionClient(ray_cluster.dashboard_url)
        assert ray.get_job_status(reply.job_id).value == "PENDING"
        assert not spool_of(tmp_path, reply.job_id).exists()
        # The project is free: its next job is admitted.
        again = await client.train(body)
        assert again.code == 100000, again
        await client.train(stop_request(body))
